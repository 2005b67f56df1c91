/**
 * `__proto__` keys at any depth never become a prototype on any copy of a message: script results, decoder
 * output and the uplink's messages, including the copy Node-RED's clone makes for a second wire (its clone
 * assigns keys, which turns an own `__proto__` data property into the copy's prototype). One depth limit,
 * MAX_DEPTH, applies everywhere: deeper data is refused with a clear error before any clone sees it.
 */
import assert from 'node:assert/strict';
import { checkParsed, cloneMessage, jsonDeeperThan, MAX_DEPTH, MessageError } from '../nodes/lib/message';
import { MAX_INPUT_DEPTH } from '../nodes/lib/script-runtime';
import { type AnyMsg, collect, delay, deviceStoreOf, helper, inTab, nextMessage, waitFor } from './support';

const scriptNode = require('../nodes/script/script');
const deviceStoreNode = require('../nodes/device-store/device-store');
const integrationNode = require('../nodes/integration/integration');
const uplinkNode = require('../nodes/integration-uplink/integration-uplink');
const originatorAttributesNode = require('../nodes/originator-attributes/originator-attributes');

/** Every object in `root` (iteratively: it may be deep) with its path; fails on a crafted prototype. */
function assertPlainEverywhere(root: unknown, where: string): number {
  let count = 0;
  const stack: Array<[unknown, string]> = [[root, where]];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) continue;
    count++;
    const proto = Object.getPrototypeOf(v);
    assert.ok(
      proto === Object.prototype || proto === Array.prototype,
      `${path.slice(0, 80)}… at depth ${path.split('.').length}: a crafted prototype`,
    );
    assert.equal((v as { isAdmin?: unknown }).isAdmin, undefined, `${path.slice(0, 80)}…: inherited isAdmin`);
    assert.equal(Object.hasOwn(v, '__proto__'), false, `${path.slice(0, 80)}…: a __proto__ key is left`);
    for (const [k, c] of Object.entries(v)) stack.push([c, `${path}.${k}`]);
  }
  return count;
}

/** JSON text: `levels` nested objects {"a": ...} around {"__proto__": {"isAdmin": true}} (levels + 2 deep). */
function deepProtoJson(levels: number): string {
  return `${'{"a":'.repeat(levels)}{"__proto__":{"isAdmin":true}}${'}'.repeat(levels)}`;
}

describe('__proto__ keys and one depth limit', () => {
  describe('the depth limit and its scanner (pure)', () => {
    it('is one constant: the script runtime’s input limit is the message limit', () => {
      assert.equal(MAX_INPUT_DEPTH, MAX_DEPTH);
      assert.equal(MAX_DEPTH, 1000);
    });

    it('scans JSON text and UTF-8 bytes alike, ignoring brackets inside strings', () => {
      const at = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
      assert.equal(jsonDeeperThan(at(MAX_DEPTH)), false);
      assert.equal(jsonDeeperThan(at(MAX_DEPTH + 1)), true);
      assert.equal(jsonDeeperThan(Buffer.from(at(MAX_DEPTH))), false);
      assert.equal(jsonDeeperThan(Buffer.from(at(MAX_DEPTH + 1))), true);
      const quoted = `{"s":"${'['.repeat(5000)}\\"${'{'.repeat(5000)}","é":[1]}`;
      assert.equal(jsonDeeperThan(quoted, 2), false);
      assert.equal(jsonDeeperThan(Buffer.from(quoted), 2), false);
      assert.equal(jsonDeeperThan('[[[]]]', 2), true);
    });

    it('drops __proto__ keys at any depth within the limit, and refuses deeper data', () => {
      const ok = JSON.parse(deepProtoJson(MAX_DEPTH - 2));
      assert.equal(checkParsed(ok, 'result'), 1);
      assertPlainEverywhere(cloneMessage(ok), 'clone');
      // The object holding the key one level beyond the limit (a dropped key's value is not looked into).
      assert.throws(
        () => checkParsed(JSON.parse(deepProtoJson(MAX_DEPTH)), 'the decoder result'),
        (err: unknown) =>
          err instanceof MessageError &&
          err.code === 'too-deep' &&
          /the decoder result is nested deeper than 1000 levels/.test(err.message),
      );
      // Arrays count as levels too.
      assert.throws(() => checkParsed(JSON.parse(`${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}`), 'x'));
      assert.equal(checkParsed(JSON.parse(`${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`), 'x'), 0);
    });

    it('clones up to the same limit, leaving __proto__ keys out', () => {
      assert.deepEqual(cloneMessage(JSON.parse('{"a": {"__proto__": {"isAdmin": true}, "b": [{"__proto__": 1}]}}')), {
        a: { b: [{}] },
      });
      const at = (n: number) => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`);
      assert.doesNotThrow(() => cloneMessage(at(MAX_DEPTH)));
      assert.throws(() => cloneMessage(at(MAX_DEPTH + 1)), /nested deeper than 1000 levels/);
    });
  });

  describe('on the real Node-RED runtime, with two wires from one output', () => {
    /** Sends, then collects what reaches ok1, ok2 (Success, two wires) and fail until both oks or a failure. */
    async function outcome(send: () => void) {
      const o1 = collect('ok1');
      const o2 = collect('ok2');
      let f: AnyMsg | undefined;
      const failed = nextMessage('fail', 10_000).then((m) => {
        f = m;
      });
      send();
      // On a timeout the caller's assertions say what is missing.
      await waitFor(() => f !== undefined || (o1.msgs.length > 0 && o2.msgs.length > 0), 10_000, 'an outcome').catch(
        () => {},
      );
      // A quiet stretch in which a Failure after the Success messages would arrive.
      await Promise.race([failed, delay(200)]).catch(() => {});
      o1.stop();
      o2.stop();
      return { o1, o2, f };
    }

    before(() => helper.startServer());
    after(() => helper.stopServer());
    afterEach(() => helper.unload());

    // The script builds the nesting itself (inputs are limited to the same depth), then returns it.
    const deepScript =
      'var o = JSON.parse(\'{"__proto__": {"isAdmin": true}}\'); for (var i = 0; i < msg.levels; i++) o = {a: o}; ' +
      'return {msg: {deep: o, n: msg.levels}};';

    for (const levels of [5, MAX_DEPTH - 5, MAX_DEPTH + 5]) {
      it(`script node: a result with __proto__ ${levels} levels down reaches neither copy as a prototype`, async () => {
        await helper.load(
          scriptNode,
          inTab([
            { id: 'sn', type: 'rule-script', script: deepScript, timeout: 2000, wires: [['ok1', 'ok2'], ['fail']] },
            { id: 'ok1', type: 'helper' },
            { id: 'ok2', type: 'helper' },
            { id: 'fail', type: 'helper' },
          ]),
        );
        const { o1, o2, f } = await outcome(() =>
          helper.getNode('sn').receive({ payload: { levels }, metadata: {}, msgType: 'POST_TELEMETRY_REQUEST' }),
        );
        for (const m of [...o2.msgs, ...o1.msgs]) assertPlainEverywhere(m, 'msg');
        assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined, 'Object.prototype untouched');
        if (levels + 4 <= MAX_DEPTH) {
          assert.equal(f, undefined, String((f as AnyMsg | undefined)?.error?.message));
          assert.equal(o1.msgs.length, 1);
          assert.equal(o2.msgs.length, 1);
          assert.notEqual(o1.msgs[0], o2.msgs[0], 'the second wire got a copy');
          assert.equal((o2.msgs[0].payload as { n: number }).n, levels);
        } else {
          assert.ok(f, 'a result deeper than the limit goes to Failure');
          assert.equal(f.error?.kind, 'result');
          assert.match(String(f.error?.message), /script result is nested deeper than 1000 levels/);
          assert.equal(o1.msgs.length + o2.msgs.length, 0);
        }
      });
    }

    // Stored values may hold own __proto__ keys when what was saved came from a JSON parse upstream (a core
    // mqtt in or json node), and key names may come from the message: fetched to data, neither reaches a copy.
    const NO_KEYS = {
      clientAttributeNames: [],
      sharedAttributeNames: [],
      serverAttributeNames: [],
      latestTsKeyNames: [],
    };
    for (const [label, oa, expectFailure] of [
      ['an attribute holding a __proto__ key', { clientAttributeNames: ['config'] }, false],
      ['a latest telemetry key named __proto__ (from the message)', { latestTsKeyNames: ['${key}'] }, true],
    ] as const) {
      it(`originator attributes fetched to data: ${label} gives no copy a crafted prototype`, async () => {
        await helper.load(
          [deviceStoreNode, originatorAttributesNode],
          inTab([
            { id: 'store1', type: 'rule-device-store', store: '' },
            {
              id: 'oa',
              type: 'rule-originator-attributes',
              deviceStore: 'store1',
              ...NO_KEYS,
              fetchTo: 'data',
              telemetryPrefix: '',
              ...oa,
              wires: [['ok1', 'ok2'], ['fail']],
            },
            { id: 'ok1', type: 'helper' },
            { id: 'ok2', type: 'helper' },
            { id: 'fail', type: 'helper' },
          ]),
        );
        const store = deviceStoreOf('store1');
        await store.ensureDevice('Evil', 'default');
        await store.saveAttributes(
          'Evil',
          'client',
          JSON.parse('{"config": {"a": {"__proto__": {"isAdmin": true}}}}'),
          1,
        );
        await store.saveTelemetry('Evil', [{ ts: 1, values: JSON.parse('{"__proto__": {"isAdmin": true}}') }]);
        const { o1, o2, f } = await outcome(() =>
          helper.getNode('oa').receive({
            payload: { p: 1 },
            metadata: { key: '__proto__' },
            msgType: 'POST_TELEMETRY_REQUEST',
            originator: 'Evil',
          }),
        );
        for (const m of [...o2.msgs, ...o1.msgs]) assertPlainEverywhere(m, 'msg');
        assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined, 'Object.prototype untouched');
        if (expectFailure) {
          assert.ok(f, 'fetching into msg.payload.__proto__ goes to Failure');
          assert.match(String(f.error?.message), /__proto__/);
        } else {
          assert.equal(f, undefined, String(f?.error?.message));
          assert.deepEqual(o2.msgs[0].payload, { p: 1, cs_config: { a: {} } });
        }
      });
    }

    // The tutorial's decoder puts payloadJson.temperature at telemetry[0].values.temperature: four levels
    // below the result, so a payload within the limit can give a result beyond it.
    const TUTORIAL_STYLE_DECODER =
      'var payloadJson = decodeToJson(payload); ' +
      'var result = { deviceName: payloadJson.deviceName, deviceType: "thermostat", attributes: {}, telemetry: [] }; ' +
      'result.telemetry.push({ ts: 1700000000000, values: { temperature: payloadJson.temperature } }); ' +
      'return result;';

    for (const payloadDepth of [20, MAX_DEPTH - 10, MAX_DEPTH]) {
      it(`integration uplink: a ${payloadDepth}-deep payload with __proto__ at the bottom gives no copy a crafted prototype`, async () => {
        await helper.load(
          [deviceStoreNode, integrationNode, uplinkNode],
          inTab([
            { id: 'store1', type: 'rule-device-store', store: '', timeout: 5000 },
            {
              id: 'integ1',
              type: 'rule-integration',
              name: 'deep',
              decoder: TUTORIAL_STYLE_DECODER,
              encoder: 'return {contentType: "TEXT", data: "x", metadata: {topic: "t"}};',
              metadata: [],
              deviceStore: 'store1',
              allowCreateDevices: true,
              timeout: 2000,
            },
            { id: 'up1', type: 'rule-integration-uplink', integration: 'integ1', wires: [['ok1', 'ok2'], ['fail']] },
            { id: 'ok1', type: 'helper' },
            { id: 'ok2', type: 'helper' },
            { id: 'fail', type: 'helper' },
          ]),
        );
        // {"deviceName":..,"temperature": <levels of {"a":..}> {"__proto__":{"isAdmin":true}}}
        const text = `{"deviceName":"Deep","temperature":${deepProtoJson(payloadDepth - 3)}}`;
        assert.equal(jsonDeeperThan(text), false, 'the payload itself is within the limit');
        assert.equal(jsonDeeperThan(text, payloadDepth - 1), true);
        const { o1, o2, f } = await outcome(() =>
          helper.getNode('up1').receive({ payload: Buffer.from(text), topic: 'devices/Deep/temperature/latest' }),
        );
        let objects = 0;
        for (const m of [...o2.msgs, ...o1.msgs]) objects += assertPlainEverywhere(m, 'msg');
        assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined, 'Object.prototype untouched');
        if (payloadDepth + 3 <= MAX_DEPTH) {
          assert.equal(f, undefined, String((f as AnyMsg | undefined)?.error?.message));
          assert.equal(o1.msgs.length, 1, 'the telemetry message on wire 1');
          assert.equal(o2.msgs.length, 1, 'and a copy on wire 2');
          assert.equal(o1.msgs[0].msgType, 'POST_TELEMETRY_REQUEST');
          assert.ok(objects > 2 * payloadDepth, 'the deep value arrived');
        } else {
          assert.ok(f, 'a decoder result deeper than the limit goes to Failure');
          assert.equal((f.error as { code?: string }).code, 'too-deep');
          assert.match(String(f.error?.message), /decoder result is nested deeper than 1000 levels/);
          assert.equal(o1.msgs.length + o2.msgs.length, 0);
        }
      });
    }
  });
});
