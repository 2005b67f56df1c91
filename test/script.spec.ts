/**
 * The script node on the real Node-RED runtime: ThingsBoard's contract; isolation of each script from Node.js,
 * from other scripts and from its own earlier calls; time limits and blocking; size limits and syntax errors;
 * the tutorial's script, and the Test route's permissions.
 */
import assert from 'node:assert/strict';
import {
  type AnyMsg,
  collect,
  delay,
  errorCalls,
  flowAround,
  helper,
  nextMessage,
  sendAndWait,
  statusCalls,
  waitFor,
} from './support';
import { tbTutorialScript } from './tb-fixtures';

const scriptNode = require('../nodes/script/script');

function flow(script: string, extra: Record<string, unknown> = {}) {
  return flowAround(
    { id: 'sn', type: 'rule-script', script, timeout: 200, ...extra, wires: [['ok', 'ok2'], ['fail']] },
    { extra: [{ id: 'ok2', type: 'helper' }] },
  );
}

const input = (extra: Partial<AnyMsg> = {}): AnyMsg => ({
  payload: { temperature: 22.5 },
  metadata: { deviceName: 'Thermostat-A', cs_deviceName: 'Thermostat-A' },
  msgType: 'POST_TELEMETRY_REQUEST',
  originator: 'Thermostat-A',
  ...extra,
});

async function run(script: string, msg: AnyMsg = input(), extra: Record<string, unknown> = {}, waitMs = 5000) {
  await helper.load(scriptNode, flow(script, extra));
  return sendAndWait('sn', msg, ['ok', 'fail'], waitMs);
}

describe('script node', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it("runs the tutorial's script unchanged", async () => {
    const script = tbTutorialScript();
    const { port, msg } = await run(script, input({ payload: { method: 'setValue', params: '42' } }));
    assert.equal(port, 'ok');
    assert.deepEqual(msg.payload, { method: 'setValue', params: '42', deviceName: 'Thermostat-A' });
    assert.equal(msg.msgType, 'POST_TELEMETRY_REQUEST');
    assert.equal(msg.originator, 'Thermostat-A', 'other msg properties pass through');
  });

  it('runs a TBEL script when its language is TBEL, with the same contract', async () => {
    const script = `var sum = 0;
foreach (v : msg.values) { sum += v; }
msg.average = sum / msg.values.size();
msg.deviceName = metadata.cs_deviceName;
return {msg: msg, metadata: metadata, msgType: msgType};`;
    const { port, msg } = await run(script, input({ payload: { values: [1, 2, 4] } }), { language: 'tbel' });
    assert.equal(port, 'ok');
    assert.deepEqual(msg.payload, { values: [1, 2, 4], average: 2, deviceName: 'Thermostat-A' });
    assert.equal(msg.originator, 'Thermostat-A');
    // The same text as JavaScript does not compile.
    await helper.unload();
    const js = await run(script, input({ payload: { values: [1] } }));
    assert.equal(js.port, 'fail');
    assert.equal(js.msg.error?.kind, 'compile');
  });

  it('keeps the parts a partial result leaves out, and turns metadata values into strings', async () => {
    const { port, msg } = await run('return {metadata: {n: 5, o: {a: 1}}};');
    assert.equal(port, 'ok');
    assert.deepEqual(msg.payload, { temperature: 22.5 });
    assert.equal(msg.msgType, 'POST_TELEMETRY_REQUEST');
    assert.deepEqual(msg.metadata, { n: '5', o: '{"a":1}' });
  });

  it('sends one message per element of an array result', async () => {
    await helper.load(scriptNode, flow('return [{msg: 1}, {msg: 2}, {msg: 3, msgType: "X"}];'));
    const c = collect('ok');
    helper.getNode('sn').receive(input());
    await waitFor(() => c.msgs.length >= 3, 3000, 'three messages');
    await delay(100); // a quiet stretch: a fourth message would arrive in it
    c.stop();
    assert.deepEqual(
      c.msgs.map((m) => [m.payload, m.msgType]),
      [
        [1, 'POST_TELEMETRY_REQUEST'],
        [2, 'POST_TELEMETRY_REQUEST'],
        [3, 'X'],
      ],
    );
  });

  for (const [label, ret] of [
    ['undefined', 'return undefined;'],
    ['null', 'return null;'],
    ['5', 'return 5;'],
    ['"x"', 'return "x";'],
  ]) {
    it(`sends a result of ${label} to Failure as a wrong result type`, async () => {
      const { port, msg } = await run(ret);
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), /wrong result type/);
      assert.equal(msg.error?.kind, 'result');
    });
  }

  it('sends an empty array result to Failure as empty', async () => {
    const { port, msg } = await run('return [];');
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /empty/);
  });

  describe('isolation', () => {
    const escapes: Array<[string, string]> = [
      ['msg.constructor.constructor', "return {msg: {r: typeof msg.constructor.constructor('return process')()}};"],
      [
        'metadata.constructor.constructor',
        "var p = metadata.constructor.constructor('return this')(); return {msg: {r: typeof p.process}};",
      ],
      ['the arguments object', "return {msg: {r: typeof arguments.callee.constructor('return process')()}};"],
      [
        'a thrown Error',
        "try { null.x } catch (e) { return {msg: {r: typeof e.constructor.constructor('return process')()}}; }",
      ],
      ['Buffer', 'return {msg: {r: typeof Buffer}};'],
      ['process', 'return {msg: {r: typeof process}};'],
      ['require', 'return {msg: {r: typeof require}};'],
      ['globalThis.process', 'return {msg: {r: typeof globalThis.process}};'],
    ];
    for (const [label, script] of escapes) {
      it(`reaches no host object through ${label}`, async () => {
        const { port, msg } = await run(script);
        if (port === 'ok') {
          const r = (msg.payload as { r: string }).r;
          assert.notEqual(r, 'object', `${label} gave an object`);
          assert.ok(r === 'undefined' || r === 'function' ? r === 'undefined' : true, `${label} gave ${r}`);
        } else {
          // An error is fine, as long as it is an error and not a host object.
          assert.ok(msg.error?.message);
        }
        assert.equal(typeof process.exit, 'function', 'the host is untouched');
      });
    }

    it('a script mutating msg and metadata changes only its own copies, on no other wire', async () => {
      await helper.load(
        scriptNode,
        flow('msg.temperature = -1; metadata.deviceName = "x"; return {msg: msg, metadata: metadata};'),
      );
      const original = input();
      const payloadSeen = original.payload as Record<string, unknown>;
      const metadataSeen = original.metadata as Record<string, string>;
      const a = nextMessage('ok');
      const b = nextMessage('ok2');
      helper.getNode('sn').receive(original);
      const [outA, outB] = await Promise.all([a, b]);
      assert.deepEqual(outA.payload, { temperature: -1 });
      assert.equal(outA.metadata?.deviceName, 'x');
      // JSON in, JSON out: the objects the node received were never touched by the script.
      assert.deepEqual(payloadSeen, { temperature: 22.5 });
      assert.equal(metadataSeen.deviceName, 'Thermostat-A');
      // The two output wires hold separate copies.
      (outA.payload as Record<string, unknown>).temperature = 99;
      assert.deepEqual(outB.payload, { temperature: -1 });
    });

    it('global state kept by a script does not reach the next message', async () => {
      await helper.load(
        scriptNode,
        flow(
          'var seen = typeof globalThis.counter === "number"; try { globalThis.counter = 1; } catch (e) {} ' +
            'try { Object.prototype.polluted = 1; } catch (e) {} ' +
            'return {msg: {seen: seen, polluted: ({}).polluted === 1}};',
        ),
      );
      const first = await sendAndWait('sn', input(), ['ok', 'fail']);
      const second = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(first.port, 'ok', JSON.stringify(first.msg.error));
      assert.equal(second.port, 'ok');
      assert.deepEqual(second.msg.payload, { seen: false, polluted: false });
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'the host prototype is untouched');
    });
  });

  it('no way of keeping state on the global object reaches the next message', async () => {
    const attempts = [
      'counter = 1',
      'globalThis.counter = 1',
      'Object.defineProperty(globalThis, "counter", {value: 1})',
      'Reflect.defineProperty(globalThis, "counter", {value: 1})',
      'Object.setPrototypeOf(globalThis, {counter: 1})',
      'globalThis.__defineGetter__("counter", function () { return 1; })',
      'Array.prototype.counter = 1',
      'JSON.counter = 1',
    ];
    await helper.load(
      scriptNode,
      flow(
        'var seen = typeof counter !== "undefined" || [].counter === 1 || JSON.counter === 1; ' +
          'try { eval(msg.attempt); } catch (e) {} ' +
          'try { (0, Function)(msg.attempt)(); } catch (e) {} ' +
          'var attempts = ' +
          JSON.stringify(attempts) +
          '; try { [' +
          attempts.map((a) => `function () { ${a}; }`).join(', ') +
          '][msg.i](); } catch (e) {} ' +
          'return {msg: {seen: seen}};',
      ),
    );
    for (let i = 0; i < attempts.length; i++) {
      const first = await sendAndWait('sn', input({ payload: { i } }), ['ok', 'fail']);
      const second = await sendAndWait('sn', input({ payload: { i: -1 } }), ['ok', 'fail']);
      assert.equal(second.port, 'ok', `${attempts[i]}: ${JSON.stringify(second.msg.error)}`);
      assert.deepEqual(second.msg.payload, { seen: false }, `${attempts[i]} reached the next message`);
      assert.ok(first.port === 'ok' || first.port === 'fail');
    }
  });

  describe('time limits', () => {
    for (const [label, script] of [
      ['while(true){}', 'while (true) {}'],
      ['await null; while(true){}', 'await null; while (true) {} return {msg: msg};'],
      ['Promise.resolve().then(loop)', 'Promise.resolve().then(function () { while (true) {} }); return {msg: msg};'],
    ]) {
      it(`stops ${label} at the limit while a timer elsewhere keeps firing, then runs the next message`, async () => {
        await helper.load(scriptNode, flow(`if (msg.loop) { ${script} } return {msg: {fine: true}};`));
        let ticks = 0;
        const timer = setInterval(() => ticks++, 20);
        const r = await sendAndWait('sn', input({ payload: { loop: true } }), ['ok', 'fail'], 5000);
        await waitFor(() => ticks >= 3, 1000, 'the host timer to fire three times').catch(() => {});
        clearInterval(timer);
        assert.equal(r.port, 'fail');
        assert.equal(r.msg.error?.kind, 'timeout', String(r.msg.error?.message));
        assert.ok(ticks >= 3, `the host timer fired ${ticks} times`);
        const next = await sendAndWait('sn', input({ payload: { loop: false } }), ['ok', 'fail']);
        assert.equal(next.port, 'ok');
        assert.deepEqual(next.msg.payload, { fine: true });
      });
    }
  });

  describe('blocking', () => {
    it('blocks the script after 3 time-outs within 60 s, with a red status; a redeploy clears it', async () => {
      await helper.load(
        scriptNode,
        flow('if (msg.loop) { while (true) {} } return {msg: {fine: true}};', { timeout: 50 }),
      );
      for (let i = 0; i < 3; i++) {
        const r = await sendAndWait('sn', input({ payload: { loop: true } }), ['ok', 'fail']);
        assert.equal(r.msg.error?.kind, 'timeout');
      }
      const blocked = await sendAndWait('sn', input({ payload: { loop: false } }), ['ok', 'fail']);
      assert.equal(blocked.port, 'fail', 'a good message is refused while blocked');
      assert.equal(blocked.msg.error?.kind, 'blocked');
      assert.match(String(blocked.msg.error?.message), /blocked for 6\d s after 3 errors within 60 s/);
      const st = statusCalls('sn').at(-1);
      assert.equal(st?.fill, 'red');
      assert.match(String(st?.text), /blocked/);
      await helper.unload();
      await helper.load(
        scriptNode,
        flow('if (msg.loop) { while (true) {} } return {msg: {fine: true}};', { timeout: 50 }),
      );
      const after = await sendAndWait('sn', input({ payload: { loop: false } }), ['ok', 'fail']);
      assert.equal(after.port, 'ok', 'redeploy cleared the block');
    });

    for (const [label, payload] of [
      ['an input over 100,000 characters', { big: 'y'.repeat(150_000) }],
      [
        'an input nested deeper than 1000 levels',
        JSON.parse(`${'{"a":'.repeat(1200)}1${'}'.repeat(1200)}`) as Record<string, unknown>,
      ],
      ['a result over 300,000 characters (the input repeated)', { rep: 'z'.repeat(60_000) }],
    ] as const) {
      it(`never blocks for data: ${label}, three times and more, and the next message runs`, async () => {
        // A device decides the size and depth of what it sends: it must not be able to block the script.
        await helper.load(
          scriptNode,
          flow(
            'if (msg.rep) return {msg: {r: [msg.rep, msg.rep, msg.rep, msg.rep, msg.rep, msg.rep]}}; return {msg: {fine: true}};',
            {
              timeout: 1000,
            },
          ),
        );
        for (let i = 0; i < 4; i++) {
          const r = await sendAndWait('sn', input({ payload }), ['ok', 'fail']);
          assert.equal(r.port, 'fail');
          assert.equal(r.msg.error?.kind, 'size', String(r.msg.error?.message));
        }
        const next = await sendAndWait('sn', input({ payload: { n: 1 } }), ['ok', 'fail']);
        assert.equal(next.port, 'ok', String(next.msg.error?.message));
        assert.deepEqual(next.msg.payload, { fine: true });
      });
    }

    it('never blocks a script that throws: every message goes to Failure with the error text', async () => {
      await helper.load(scriptNode, flow('throw new Error("bad input " + msg.n);'));
      for (let i = 0; i < 6; i++) {
        const r = await sendAndWait('sn', input({ payload: { n: i } }), ['ok', 'fail']);
        assert.equal(r.port, 'fail');
        assert.equal(r.msg.error?.kind, 'runtime');
        assert.match(String(r.msg.error?.message), new RegExp(`bad input ${i}`));
      }
      assert.ok(errorCalls('sn').length >= 6, 'each failure reached Catch nodes through node.error');
    });
  });

  describe('sizes and syntax', () => {
    it('rejects a 1 MB result with the result-size limit named', async () => {
      const r = await run('return {msg: "x".repeat(1000000)};');
      assert.equal(r.port, 'fail');
      assert.equal(r.msg.error?.kind, 'size');
      assert.match(String(r.msg.error?.message), /300,?000/);
    });

    it('rejects an input over the argument limit before the script runs', async () => {
      const r = await run('return {msg: {ran: true}};', input({ payload: { big: 'y'.repeat(200_000) } }));
      assert.equal(r.port, 'fail');
      assert.equal(r.msg.error?.kind, 'size');
      assert.match(String(r.msg.error?.message), /100,?000/);
    });

    it('stops an allocation bomb and keeps working', async function () {
      // The engine's memory cap stops it long before the time limit.
      this.timeout(40_000);
      const r = await run(
        'if (msg.bomb) { var a = []; while (true) a.push(new Array(100000).fill(1)); } return {msg: {ok: 1}};',
        input({ payload: { bomb: true } }),
        { timeout: 2000 },
        30_000,
      );
      assert.equal(r.port, 'fail');
      assert.ok(['memory', 'timeout'].includes(String(r.msg.error?.kind)), String(r.msg.error?.kind));
      const next = await sendAndWait('sn', input({ payload: { bomb: false } }), ['ok', 'fail']);
      assert.equal(next.port, 'ok');
    });

    it('shows a syntax error on the status at deploy and sends messages to Failure', async () => {
      await helper.load(scriptNode, flow('return {msg: msg;'));
      await waitFor(() => statusCalls('sn').at(-1)?.fill === 'red', 5000, 'a red status');
      const st = statusCalls('sn').at(-1);
      assert.equal(st?.fill, 'red');
      assert.match(String(st?.text), /compile error/);
      const r = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(r.port, 'fail');
      assert.equal(r.msg.error?.kind, 'compile');
    });

    it('shows a TBEL syntax error with its line and column on the status at deploy', async () => {
      await helper.load(scriptNode, flow('var a = 1;\nforeach (x in msg) {}', { language: 'tbel' }));
      await waitFor(() => statusCalls('sn').at(-1)?.fill === 'red', 5000, 'a red status');
      assert.match(String(statusCalls('sn').at(-1)?.text), /^compile error: TBEL syntax error: expected ':'/);
      const r = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(r.port, 'fail');
      assert.equal(r.msg.error?.kind, 'compile');
      assert.match(String(r.msg.error?.message), /TBEL syntax error: .* \(line 2, column 12\)$/);
    });

    it('refuses a script body over 50,000 characters at deploy', async () => {
      await helper.load(scriptNode, flow(`// ${'x'.repeat(50_001)}\nreturn {msg: msg};`));
      await waitFor(() => statusCalls('sn').at(-1)?.fill === 'red', 5000, 'a red status');
      const r = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(r.port, 'fail');
      assert.match(String(r.msg.error?.message), /50,?000/);
    });
  });

  describe('Test route', () => {
    it('runs a script on a sample and reports output or error', async () => {
      await helper.load(scriptNode, flow('return {msg: msg};'));
      const ok = await helper
        .request()
        .post('/rule-engine/script/test')
        .send({ script: 'msg.t = msg.t * 2; return {msg: msg};', msg: { t: 21 }, metadata: {}, msgType: 'X' })
        .expect(200);
      assert.deepEqual(ok.body, { ok: true, output: [{ msg: { t: 42 }, metadata: {}, msgType: 'X' }] });
      const bad = await helper.request().post('/rule-engine/script/test').send({ script: 'while(true){}', msg: {} });
      assert.equal(bad.body.ok, false);
      assert.equal(bad.body.error.kind, 'timeout');
    });

    it('offers the last message the deployed node saw as the sample, else the default', async () => {
      await helper.load(scriptNode, flow('return {msg: msg};'));
      let r = await helper.request().get('/rule-engine/script/sample/sn').expect(200);
      assert.equal(r.body.source, 'default');
      await sendAndWait('sn', input({ payload: { seen: 1 } }), ['ok', 'fail']);
      r = await helper.request().get('/rule-engine/script/sample/sn').expect(200);
      assert.equal(r.body.source, 'last');
      assert.deepEqual(r.body.sample.msg, { seen: 1 });
    });

    const test = (body: Record<string, unknown>) => helper.request().post('/rule-engine/script/test').send(body);

    it('refuses a time limit over the maximum (10 s, or ruleEngine.maxScriptTimeout) with 400', async () => {
      await helper.load(scriptNode, flow('return {msg: msg};'));
      const over = await test({ id: 'sn', script: 'return {msg: msg};', msg: {}, timeout: 10_001 });
      assert.equal(over.status, 400);
      assert.equal(over.body.ok, false);
      assert.equal(over.body.error.kind, 'config');
      assert.match(over.body.error.message, /time limit of 10001 ms is over the maximum of 10000 ms/);
      const atMax = await test({ id: 'sn', script: 'return {msg: msg};', msg: { a: 1 }, timeout: 10_000 });
      assert.equal(atMax.status, 200);
      assert.equal(atMax.body.ok, true);
      try {
        helper.settings({ ruleEngine: { maxScriptTimeout: 300 } });
        await helper.unload();
        await helper.load(scriptNode, flow('return {msg: msg};'));
        const r = await test({ id: 'sn', script: 'return {msg: msg};', msg: {}, timeout: 301 });
        assert.equal(r.status, 400);
        assert.match(r.body.error.message, /over the maximum of 300 ms/);
        assert.equal((await test({ id: 'sn', script: 'return {msg: msg};', msg: {}, timeout: 300 })).body.ok, true);
      } finally {
        helper.settings({ ruleEngine: undefined });
      }
    });

    it('blocks Test runs of a node for 60 s after 3 time-outs through the route; other nodes still test', async () => {
      await helper.load(scriptNode, flow('return {msg: msg};'));
      for (let i = 0; i < 3; i++) {
        const r = await test({ id: 'sn', script: 'while (true) {}', msg: {}, timeout: 50 });
        assert.equal(r.status, 200);
        assert.equal(r.body.error.kind, 'timeout');
      }
      const blocked = await test({ id: 'sn', script: 'return {msg: msg};', msg: { a: 1 }, timeout: 50 });
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.ok, false);
      assert.equal(blocked.body.error.kind, 'blocked');
      assert.match(blocked.body.error.message, /Test runs of this node blocked for 6\d s after 3 errors within 60 s/);
      assert.match(blocked.body.error.message, /timed out after 50 ms/);
      assert.ok(Number(blocked.headers['retry-after']) > 50);
      const other = await test({ id: 'other', script: 'return {msg: msg};', msg: { a: 1 } });
      assert.equal(other.status, 200);
      assert.equal(other.body.ok, true);
      // Errors the script throws, compile errors and size errors do not count.
      for (let i = 0; i < 4; i++) {
        const r = await test({ id: 'other', script: i % 2 ? 'throw new Error("x");' : 'return {msg: ;', msg: {} });
        assert.equal(r.status, 200);
      }
      assert.equal((await test({ id: 'other', script: 'return {msg: msg};', msg: {} })).status, 200);
      // The deployed node itself is not blocked by its Test runs.
      const deployed = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(deployed.port, 'ok');
    });

    it('runs one Test at a time per node: a second one while the first runs gets 409', async () => {
      // A running Test leaves the event loop free to take the second request.
      {
        await helper.load(scriptNode, flow('return {msg: msg};'));
        const slow = 'var t = Date.now(); while (Date.now() - t < 1500) {} return {msg: {slow: true}};';
        const first = Promise.resolve(test({ id: 'sn', script: slow, msg: {}, timeout: 5000 }));
        // Nothing outside shows that the first Test has started, and a probe of this node could take the
        // Test slot before it: the second comes 400 ms into the first one's 1.5 s.
        await delay(400);
        const second = await test({ id: 'sn', script: 'return {msg: msg};', msg: {} });
        assert.equal(second.status, 409);
        assert.equal(second.body.error.kind, 'busy');
        assert.match(second.body.error.message, /still running/);
        const elsewhere = await test({ id: 'other', script: 'return {msg: {b: 1}};', msg: {} });
        assert.equal(elsewhere.status, 200, 'another node tests meanwhile');
        const done = await first;
        assert.equal(done.status, 200);
        assert.deepEqual(done.body.output[0].msg, { slow: true });
        const after = await test({ id: 'sn', script: 'return {msg: msg};', msg: { c: 1 } });
        assert.equal(after.status, 200, 'the next one runs once the first is done');
      }
    });
  });

  describe('maximum time limit', () => {
    afterEach(() => helper.settings({ ruleEngine: undefined }));

    it('refuses a deployed time limit over 10 s: red status, node.error, every message to Failure, never blocked', async () => {
      await helper.load(scriptNode, flow('return {msg: msg};', { timeout: 20_000 }));
      await waitFor(() => statusCalls('sn').at(-1)?.fill === 'red', 5000, 'a red status');
      const st = statusCalls('sn').at(-1);
      assert.equal(st?.fill, 'red');
      assert.match(String(st?.text), /time limit of 20000 ms is over the maximum/);
      assert.ok(
        errorCalls('sn').some((e) => /time limit of 20000 ms is over the maximum of 10000 ms/.test(e)),
        'reported through node.error at deploy',
      );
      for (let i = 0; i < 4; i++) {
        const r = await sendAndWait('sn', input(), ['ok', 'fail']);
        assert.equal(r.port, 'fail');
        assert.equal(r.msg.error?.kind, 'config', String(r.msg.error?.message));
        assert.equal(r.msg.error?.code, 'time-limit-over-max');
        assert.match(String(r.msg.error?.message), /ruleEngine\.maxScriptTimeout/);
      }
    });

    it('takes the maximum from settings.js (ruleEngine.maxScriptTimeout)', async () => {
      helper.settings({ ruleEngine: { maxScriptTimeout: 300 } });
      await helper.load(scriptNode, flow('return {msg: {fine: true}};', { timeout: 400 }));
      const refused = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(refused.port, 'fail');
      assert.match(String(refused.msg.error?.message), /time limit of 400 ms is over the maximum of 300 ms/);
      await helper.unload();
      await helper.load(scriptNode, flow('return {msg: {fine: true}};', { timeout: 300 }));
      const ok = await sendAndWait('sn', input(), ['ok', 'fail']);
      assert.equal(ok.port, 'ok');
      helper.settings({ ruleEngine: { maxScriptTimeout: 60_000 } });
      await helper.unload();
      await helper.load(scriptNode, flow('return {msg: {fine: true}};', { timeout: 20_000 }));
      assert.equal((await sendAndWait('sn', input(), ['ok', 'fail'])).port, 'ok', 'a raised maximum allows more');
    });
  });
});
