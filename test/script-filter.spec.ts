/**
 * The script filter and the script switch: how their results are read (nodes/lib/script-filter.ts), both nodes on
 * the real Node-RED runtime (True / False / Failure, relations, copies, TBEL, the Test routes), and the sandbox's
 * guarantees through both of them: time-outs, memory, blocking, no state between calls, and results that are
 * objects with getters or Proxies.
 */
import assert from 'node:assert/strict';
import { filterOutcome, relationNames, switchPorts, switchRelations } from '../nodes/lib/script-filter';
import {
  type AnyMsg,
  collect,
  delay,
  errorCalls,
  helper,
  inTab,
  nextMessage,
  sendAndWait,
  statusCalls,
} from './support';

const nodes = [require('../nodes/script-filter/script-filter'), require('../nodes/script-switch/script-switch')];

const RELATIONS = ['High', 'Normal', 'Low'];
/** The helper nodes each node under test is wired to, in output order (Failure last). */
const FILTER_OUTS = ['yes', 'no', 'fail'];
const SWITCH_OUTS = ['high', 'normal', 'low', 'fail'];

function filterFlow(script: string, extra: Record<string, unknown> = {}) {
  return nodeFlow({ id: 'fn', type: 'rule-script-filter', script, timeout: 300, ...extra }, FILTER_OUTS);
}

function switchFlow(script: string, extra: Record<string, unknown> = {}) {
  return nodeFlow(
    { id: 'sw', type: 'rule-script-switch', script, timeout: 300, relations: RELATIONS, ...extra },
    SWITCH_OUTS,
  );
}

/** `node` wired output by output to helper nodes `outs`, with a Catch and a Complete node scoped to it. */
function nodeFlow(node: Record<string, unknown>, outs: string[]) {
  return inTab([
    { ...node, wires: outs.map((o) => [o]) },
    ...outs.map((id) => ({ id, type: 'helper' })),
    { id: 'catcher', type: 'catch', scope: [node.id], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
    { id: 'completer', type: 'complete', scope: [node.id], uncaught: false, wires: [['completed']] },
    { id: 'completed', type: 'helper' },
  ]);
}

const input = (payload: unknown = { temperature: 22.5 }, metadata: Record<string, string> = {}): AnyMsg => ({
  payload,
  metadata: { deviceName: 'Thermostat-A', ...metadata },
  msgType: 'POST_TELEMETRY_REQUEST',
  originator: 'Thermostat-A',
});

/** Sends `msg` into node `id` and collects what reaches each of `outs` until the node has ended the message. */
async function outcome(id: string, msg: AnyMsg, outs: string[], ms = 5000): Promise<Record<string, AnyMsg[]>> {
  const seen = outs.map((o) => collect(o));
  const done = sendAndWait(id, msg, ['completed', 'fail'], ms);
  await done;
  // Messages on the other outputs were sent before the node ended the message; one turn for their delivery.
  await delay(20);
  for (const s of seen) s.stop();
  return Object.fromEntries(outs.map((o, i) => [o, seen[i].msgs]));
}

/** The one output that got a message (and that one message), asserting that no other output got any. */
function onlyOne(got: Record<string, AnyMsg[]>): { port: string; msg: AnyMsg } {
  const ports = Object.entries(got).filter(([, msgs]) => msgs.length > 0);
  assert.equal(ports.length, 1, `outputs reached: ${ports.map(([p]) => p).join(', ')}`);
  assert.equal(ports[0][1].length, 1);
  return { port: ports[0][0], msg: ports[0][1][0] };
}

describe('script filter and script switch: reading the result', () => {
  it('filter: a boolean is the outcome; anything else is a result error naming its type', () => {
    assert.equal(filterOutcome(true), true);
    assert.equal(filterOutcome(false), false);
    for (const [value, type] of [
      [1, 'number'],
      ['true', 'string'],
      [null, 'null'],
      [undefined, 'undefined'],
      [{}, 'object'],
      [[true], 'array'],
    ] as const) {
      assert.throws(
        () => filterOutcome(value),
        (err: Error & { kind?: string }) =>
          err.kind === 'result' && err.message.endsWith(`must return a boolean (true or false), got ${type}`),
        String(value),
      );
    }
  });

  it('switch: a name or an array of names, each once in the order given; an empty array is none', () => {
    assert.deepEqual(switchRelations('High'), ['High']);
    assert.deepEqual(switchRelations(['Low', 'High', 'Low']), ['Low', 'High']);
    assert.deepEqual(switchRelations([]), []);
    assert.throws(() => switchRelations(true), /relation name or an array of them, got boolean/);
    assert.throws(() => switchRelations({ 0: 'High' }), /got object/);
    assert.throws(() => switchRelations(['High', 2]), /at index 1: a relation name must be a string, got number/);
  });

  it('switch: the outputs of the names, or an error naming every name no output has', () => {
    assert.deepEqual(switchPorts(['Low', 'High'], RELATIONS), [2, 0]);
    assert.deepEqual(switchPorts([], RELATIONS), []);
    assert.throws(
      () => switchPorts(['High', 'Hot', 'high'], RELATIONS),
      (err: Error & { kind?: string }) =>
        err.kind === 'result' &&
        err.message === 'no output for relation "Hot", "high": the relations are "High", "Normal", "Low"',
    );
    // A relation entry that is not a name holds its output's place and is never matched, not even by "".
    const relations = relationNames(['A', 7, 'B']);
    assert.deepEqual(relations, ['A', '', 'B']);
    assert.deepEqual(switchPorts('B', relations), [2]);
    assert.throws(() => switchPorts('', relations), /no output for relation ""/);
    assert.deepEqual(relationNames(undefined), []);
    // A long name, which the script may have taken from a device, is cut short in the error.
    assert.throws(
      () => switchPorts('x'.repeat(5000), []),
      (err: Error) => err.message.length < 200,
    );
  });
});

describe('script filter and script switch on Node-RED', function () {
  this.timeout(60_000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  describe('script filter', () => {
    it('sends the message unchanged to True or False as the script returns, and shows which', async () => {
      await helper.load(nodes, filterFlow('var hot = msg.temperature > 20; msg.temperature = 0; return hot;'));
      // The script's own change to msg does not reach the message: the result is only the boolean.
      const hot = onlyOne(await outcome('fn', input({ temperature: 22.5 }), FILTER_OUTS));
      assert.equal(hot.port, 'yes');
      assert.deepEqual(hot.msg.payload, { temperature: 22.5 });
      assert.equal(hot.msg.originator, 'Thermostat-A');
      assert.equal(statusCalls('fn').at(-1)?.text, 'true');
      const cold = onlyOne(await outcome('fn', input({ temperature: 12 }), FILTER_OUTS));
      assert.equal(cold.port, 'no');
      assert.deepEqual(cold.msg.payload, { temperature: 12 });
      assert.equal(statusCalls('fn').at(-1)?.text, 'false');
    });

    it('reads metadata and msgType as ThingsBoard passes them', async () => {
      await helper.load(
        nodes,
        filterFlow("return metadata.deviceType === 'thermostat' && msgType === 'POST_TELEMETRY_REQUEST';"),
      );
      assert.equal(onlyOne(await outcome('fn', input({}, { deviceType: 'thermostat' }), FILTER_OUTS)).port, 'yes');
      assert.equal(onlyOne(await outcome('fn', input({}, { deviceType: 'meter' }), FILTER_OUTS)).port, 'no');
    });

    const wrong: Record<string, [string, string]> = {
      'a number (truthy, still not true)': ['return 1;', 'number'],
      'the string "true"': ["return 'true';", 'string'],
      null: ['return null;', 'null'],
      'nothing (no return)': ['msg.x = 1;', 'undefined'],
      'an object': ['return {result: true};', 'object'],
      'an array': ['return [true];', 'array'],
    };
    for (const [what, [script, type]] of Object.entries(wrong)) {
      it(`a result that is ${what}: Failure, kind result, naming the type (${type})`, async () => {
        await helper.load(nodes, filterFlow(script));
        const { port, msg } = onlyOne(await outcome('fn', input(), FILTER_OUTS));
        assert.equal(port, 'fail');
        assert.equal(msg.error?.kind, 'result');
        assert.match(String(msg.error?.message), new RegExp(`must return a boolean \\(true or false\\), got ${type}$`));
        assert.deepEqual(msg.payload, { temperature: 22.5 }, 'the message as it arrived');
        assert.ok(errorCalls('fn').some((e) => e.endsWith(`got ${type}`)));
      });
    }

    it('an error the script throws: Failure with kind runtime, and Catch nodes see it', async () => {
      await helper.load(nodes, filterFlow('throw new Error("no temperature");'));
      const caught = nextMessage('caught', 5000);
      const { port, msg } = onlyOne(await outcome('fn', input(), FILTER_OUTS));
      assert.equal(port, 'fail');
      assert.equal(msg.error?.kind, 'runtime');
      assert.match(String(msg.error?.message), /no temperature/);
      assert.match(String((await caught).error?.message), /no temperature/);
    });

    it('TBEL: the last expression is the result; a TBEL result of another type fails the same way', async () => {
      await helper.load(
        nodes,
        filterFlow('msg.temperature > 20 && metadata.deviceName == "Thermostat-A"', { language: 'tbel' }),
      );
      assert.equal(onlyOne(await outcome('fn', input({ temperature: 25 }), FILTER_OUTS)).port, 'yes');
      assert.equal(onlyOne(await outcome('fn', input({ temperature: 15 }), FILTER_OUTS)).port, 'no');
      await helper.unload();
      await helper.load(nodes, filterFlow('var t = msg.temperature;\nt * 2', { language: 'tbel' }));
      const { port, msg } = onlyOne(await outcome('fn', input({ temperature: 25 }), FILTER_OUTS));
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), /got number$/);
    });

    it('a script that does not compile: the status says so at deploy, every message to Failure', async () => {
      await helper.load(nodes, filterFlow('return msg.temperature >;'));
      const { port, msg } = onlyOne(await outcome('fn', input(), FILTER_OUTS));
      assert.equal(port, 'fail');
      assert.equal(msg.error?.kind, 'compile');
      assert.ok(statusCalls('fn').some((s) => s.fill === 'red' && /^compile error: /.test(String(s.text))));
    });
  });

  describe('script switch', () => {
    it('has one output per relation, in order, then Failure', async () => {
      await helper.load(nodes, switchFlow("return 'Low';"));
      const got = onlyOne(await outcome('sw', input(), SWITCH_OUTS));
      assert.equal(got.port, 'low');
      assert.deepEqual(got.msg.payload, { temperature: 22.5 });
      assert.equal(statusCalls('sw').at(-1)?.text, 'Low');
    });

    it('sends to every relation of an array, each once, a copy of its own on each output after the first', async () => {
      await helper.load(nodes, switchFlow("return ['High', 'Low', 'High'];"));
      const sent = input({ temperature: 31, nested: { list: [1, 2] } });
      const got = await outcome('sw', sent, SWITCH_OUTS);
      assert.deepEqual(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v.length])), {
        high: 1,
        normal: 0,
        low: 1,
        fail: 0,
      });
      const [high, low] = [got.high[0], got.low[0]];
      assert.notEqual(high, low);
      assert.deepEqual(low.payload, high.payload);
      assert.deepEqual(low.metadata, high.metadata);
      assert.equal(low.originator, 'Thermostat-A');
      // Changing one copy, however deep, leaves the other as it was.
      (high.payload as { nested: { list: number[] } }).nested.list.push(3);
      (high.metadata as Record<string, string>).deviceName = 'changed';
      assert.deepEqual(low.payload, { temperature: 31, nested: { list: [1, 2] } });
      assert.equal(low.metadata?.deviceName, 'Thermostat-A');
      assert.equal(statusCalls('sw').at(-1)?.text, 'High, Low');
    });

    it('an empty array: the message goes to no output and is done, as ThingsBoard acknowledges it', async () => {
      await helper.load(nodes, switchFlow('return [];'));
      const seen = SWITCH_OUTS.map((o) => collect(o));
      const done = await sendAndWait('sw', input(), ['completed', 'fail']);
      assert.equal(done.port, 'completed');
      await delay(50);
      assert.deepEqual(
        seen.map((s) => s.msgs.length),
        [0, 0, 0, 0],
      );
      assert.equal(statusCalls('sw').at(-1)?.text, 'no relation');
    });

    it('a name no output has: Failure naming it, and nothing on the other outputs', async () => {
      await helper.load(nodes, switchFlow("return ['High', 'Critical'];"));
      const { port, msg } = onlyOne(await outcome('sw', input(), SWITCH_OUTS));
      assert.equal(port, 'fail');
      assert.equal(msg.error?.kind, 'result');
      assert.match(String(msg.error?.message), /no output for relation "Critical": the relations are "High"/);
    });

    const wrong: Record<string, [string, RegExp]> = {
      'a boolean': ['return true;', /a relation name or an array of them, got boolean$/],
      'an array holding a number': ["return ['High', 1];", /at index 1: a relation name must be a string, got number$/],
      'nothing (no return)': ['msg.x = 1;', /got undefined$/],
    };
    for (const [what, [script, message]] of Object.entries(wrong)) {
      it(`a result that is ${what}: Failure, kind result`, async () => {
        await helper.load(nodes, switchFlow(script));
        const { port, msg } = onlyOne(await outcome('sw', input(), SWITCH_OUTS));
        assert.equal(port, 'fail');
        assert.equal(msg.error?.kind, 'result');
        assert.match(String(msg.error?.message), message);
      });
    }

    it('TBEL: a name, or a list of names, as the last expression or returned', async () => {
      await helper.load(
        nodes,
        switchFlow(
          'if (msg.temperature > 25) {\n  return ["High", "Normal"];\n}\nmsg.temperature < 15 ? "Low" : "Normal"',
          {
            language: 'tbel',
          },
        ),
      );
      const hot = await outcome('sw', input({ temperature: 30 }), SWITCH_OUTS);
      assert.deepEqual([hot.high.length, hot.normal.length, hot.low.length], [1, 1, 0]);
      assert.equal(onlyOne(await outcome('sw', input({ temperature: 10 }), SWITCH_OUTS)).port, 'low');
      assert.equal(onlyOne(await outcome('sw', input({ temperature: 20 }), SWITCH_OUTS)).port, 'normal');
    });

    it('relations that are not names keep their outputs’ places', async () => {
      await helper.load(nodes, switchFlow("return 'Low';", { relations: ['High', null, 'Low'] }));
      assert.equal(onlyOne(await outcome('sw', input(), SWITCH_OUTS)).port, 'low');
    });
  });

  describe('the sandbox, through both nodes', () => {
    const both: Array<{
      type: string;
      id: string;
      outs: string[];
      flow: (script: string, extra?: Record<string, unknown>) => Array<Record<string, unknown>>;
      /** A script that ends with the result standing for "yes" when `expr` is true. */
      yesIf: (expr: string) => string;
      yes: string;
    }> = [
      {
        type: 'script filter',
        id: 'fn',
        outs: FILTER_OUTS,
        flow: filterFlow,
        yesIf: (e) => `return ${e};`,
        yes: 'yes',
      },
      {
        type: 'script switch',
        id: 'sw',
        outs: SWITCH_OUTS,
        flow: switchFlow,
        yesIf: (e) => `return (${e}) ? 'High' : 'Low';`,
        yes: 'high',
      },
    ];

    /** Ways a call could leave something for the next one, each with what the next call checks. */
    const ROUTES: Array<{ label: string; leave: string; clean: string }> = [
      { label: 'an implicit global', leave: 'mark = 1;', clean: "typeof mark === 'undefined'" },
      {
        label: 'a global set by a promise job after the call returned',
        leave: 'Promise.resolve().then(function () { globalThis.mark = 1; });',
        clean: "typeof mark === 'undefined'",
      },
      {
        label: 'Array.prototype.push replaced',
        leave: 'Array.prototype.push = function () { return -1; };',
        clean: '[].push(1) === 1',
      },
      {
        label: 'a property on Object.prototype',
        leave: 'Object.prototype.mark = 1;',
        clean: '({}).mark === undefined',
      },
      {
        label: 'a property on the script’s own function',
        leave: 'arguments.callee.kept = 1;',
        clean: 'arguments.callee.kept === undefined',
      },
    ];

    for (const n of both) {
      describe(n.type, () => {
        it('a loop without end: Failure with kind timeout, and the node goes on working', async () => {
          await helper.load(nodes, n.flow(`if (msg.loop) { while (true) {} }\n${n.yesIf('true')}`));
          const { port, msg } = onlyOne(await outcome(n.id, input({ loop: true }), n.outs, 10_000));
          assert.equal(port, 'fail');
          assert.equal(msg.error?.kind, 'timeout', String(msg.error?.message));
          assert.equal(onlyOne(await outcome(n.id, input({ loop: false }), n.outs)).port, n.yes);
        });

        it('a loop without end in TBEL: the same', async () => {
          await helper.load(nodes, n.flow('while (true) { }', { language: 'tbel' }));
          const { port, msg } = onlyOne(await outcome(n.id, input(), n.outs, 10_000));
          assert.equal(port, 'fail');
          assert.equal(msg.error?.kind, 'timeout', String(msg.error?.message));
        });

        it('memory without end: Failure with kind memory', async () => {
          // A generous time limit: what stops it must be the memory cap.
          await helper.load(nodes, n.flow('var a = []; for (;;) a.push({i: a.length});', { timeout: 5000 }));
          const { port, msg } = onlyOne(await outcome(n.id, input(), n.outs, 15_000));
          assert.equal(port, 'fail');
          assert.equal(msg.error?.kind, 'memory', String(msg.error?.message));
        });

        it('3 time-outs block the script: the next message fails at once as blocked, the status says so', async () => {
          await helper.load(nodes, n.flow('while (true) {}', { timeout: 100 }));
          for (let i = 0; i < 3; i++) {
            const { msg } = onlyOne(await outcome(n.id, input(), n.outs, 10_000));
            assert.equal(msg.error?.kind, 'timeout');
          }
          const { port, msg } = onlyOne(await outcome(n.id, input(), n.outs));
          assert.equal(port, 'fail');
          assert.equal(msg.error?.kind, 'blocked');
          assert.ok(statusCalls(n.id).some((s) => s.fill === 'red' && /blocked/.test(String(s.text))));
        });

        it('results of the wrong type never block the script: a device must not be able to', async () => {
          await helper.load(nodes, n.flow(`if (msg.bad) return 42;\n${n.yesIf('true')}`));
          for (let i = 0; i < 4; i++) {
            const { msg } = onlyOne(await outcome(n.id, input({ bad: true }), n.outs));
            assert.equal(msg.error?.kind, 'result');
          }
          assert.equal(onlyOne(await outcome(n.id, input({ bad: false }), n.outs)).port, n.yes);
        });

        for (const r of ROUTES) {
          it(`no state between calls: nothing left through ${r.label}`, async () => {
            const body = `if (metadata.phase === 'leave') {\ntry {\n${r.leave}\n} catch (e) {}\n}\n${n.yesIf(r.clean)}`;
            await helper.load(nodes, n.flow(body));
            const look = () => outcome(n.id, input({}, { phase: 'look' }), n.outs);
            assert.equal(onlyOne(await look()).port, n.yes, 'before');
            await outcome(n.id, input({}, { phase: 'leave' }), n.outs);
            for (let i = 0; i < 2; i++) assert.equal(onlyOne(await look()).port, n.yes, `call ${i + 2} after`);
          });
        }

        it('a result with getters, toString, valueOf or a Proxy arrives as plain data: no code of it runs on the host', async () => {
          // Each would pass for the right result if the host called it: it arrives as JSON data, an object.
          const results = [
            "{ get result() { return 'High'; }, valueOf: function () { return true; } }",
            "{ toString: function () { return 'High'; }, toJSON: function () { return { x: 1 }; } }",
            "new Proxy({}, { get: function () { return 'High'; }, ownKeys: function () { return []; } })",
          ];
          await helper.load(nodes, n.flow(`var r = [${results.join(', ')}][msg.i];\nreturn r;`));
          for (let i = 0; i < results.length; i++) {
            const { port, msg } = onlyOne(await outcome(n.id, input({ i }), n.outs));
            assert.equal(port, 'fail', results[i]);
            assert.equal(msg.error?.kind, 'result', String(msg.error?.message));
            assert.match(String(msg.error?.message), /got object$/);
          }
          // In an array, each element likewise.
          await helper.unload();
          await helper.load(nodes, n.flow("return [{ toString: function () { return 'High'; } }];"));
          const { msg } = onlyOne(await outcome(n.id, input(), n.outs));
          assert.match(String(msg.error?.message), /got (array|object)$/);
        });
      });
    }
  });

  describe('Test routes', () => {
    it('filter: shows the boolean, or the error a message would get', async () => {
      await helper.load(nodes, filterFlow('return true;'));
      const post = (body: Record<string, unknown>) =>
        helper.request().post('/rule-engine/script-filter/test').send(body).expect(200);
      const base = { msg: { temperature: 25 }, metadata: {}, msgType: 'POST_TELEMETRY_REQUEST' };
      assert.deepEqual((await post({ ...base, script: 'return msg.temperature > 20;' })).body, {
        ok: true,
        output: true,
      });
      assert.deepEqual((await post({ ...base, script: 'msg.temperature < 20', language: 'tbel' })).body, {
        ok: true,
        output: false,
      });
      const bad = (await post({ ...base, script: 'return "yes";' })).body;
      assert.equal(bad.ok, false);
      assert.equal(bad.error.kind, 'result');
      assert.match(bad.error.message, /got string$/);
    });

    it('switch: shows the relations, checked against the relations the dialog sends', async () => {
      await helper.load(nodes, switchFlow("return 'High';"));
      const post = (body: Record<string, unknown>) =>
        helper.request().post('/rule-engine/script-switch/test').send(body).expect(200);
      const base = { msg: { temperature: 25 }, metadata: {}, msgType: 'X', relations: ['A', 'B'] };
      assert.deepEqual((await post({ ...base, script: "return ['B', 'A', 'B'];" })).body, {
        ok: true,
        output: ['B', 'A'],
      });
      assert.deepEqual((await post({ ...base, script: 'return [];' })).body, { ok: true, output: [] });
      const bad = (await post({ ...base, script: "return 'High';" })).body;
      assert.equal(bad.ok, false);
      assert.match(bad.error.message, /no output for relation "High": the relations are "A", "B"/);
    });

    it('offers the last message each deployed node saw as its sample', async () => {
      const sample = async (path: string) => (await helper.request().get(path).expect(200)).body;
      await helper.load(nodes, filterFlow('return true;'));
      assert.equal((await sample('/rule-engine/script-filter/sample/fn')).source, 'default');
      await outcome('fn', input({ temperature: 23 }), FILTER_OUTS);
      const f = await sample('/rule-engine/script-filter/sample/fn');
      assert.equal(f.source, 'last');
      assert.deepEqual(f.sample.msg, { temperature: 23 });
      await helper.unload();
      await helper.load(nodes, switchFlow("return 'High';"));
      await outcome('sw', input({ temperature: 24 }), SWITCH_OUTS);
      assert.deepEqual((await sample('/rule-engine/script-switch/sample/sw')).sample.msg, { temperature: 24 });
    });
  });
});
