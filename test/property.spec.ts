/**
 * Robustness under random input: 10,000 random and hostile inputs (random bytes, non-UTF-8, random JSON, deep nesting,
 * `__proto__` keys, oversized payloads) through the uplink converter and a script: never an uncaught error,
 * never a hang, and for every input exactly one outcome: Success or Failure, never both, never neither.
 * Inputs come from a seeded generator, so a failure can be replayed (the seed is in the test name).
 */
import assert from 'node:assert/strict';
import { helper, inTab, onMessage, uplinkFlow, waitFor } from './support';
import { tbUplinkDecoder } from './tb-fixtures';

const SEED = 20261125;
const COUNT = 10_000;

/** mulberry32: small, fast, good enough to spread inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed: number) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: T[]) => xs[int(xs.length)];
  const str = () => {
    const chars = ['a', 'Z', '"', '\\', '\u0000', '\u00e9', '\ud83d\ude00', '{', '}', ' ', '__proto__', '\ud800'];
    let s = '';
    for (let i = int(12); i > 0; i--) s += pick(chars);
    return s;
  };
  const json = (depth: number): unknown => {
    const k = int(depth > 4 ? 5 : 9);
    switch (k) {
      case 0:
        return null;
      case 1:
        return r() < 0.5;
      case 2:
        return pick([0, -1, 1e308, -1e-308, 25.3, Number.MAX_SAFE_INTEGER]);
      case 3:
      case 4:
        return str();
      case 5:
      case 6: {
        const a: unknown[] = [];
        for (let i = int(4); i > 0; i--) a.push(json(depth + 1));
        return a;
      }
      default: {
        const o: Record<string, unknown> = {};
        for (let i = int(5); i > 0; i--) {
          const key = pick(['deviceName', 'deviceType', 'temperature', 'timestamp', '__proto__', 'constructor', str()]);
          Object.defineProperty(o, key, {
            value: json(depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return o;
      }
    }
  };
  /** One hostile input: Buffer, string or object, chosen among several shapes. */
  return (): unknown => {
    switch (int(10)) {
      case 0: {
        const b = Buffer.alloc(int(64));
        for (let i = 0; i < b.length; i++) b[i] = int(256);
        return b;
      }
      case 1:
        return Buffer.from([0xff, 0xfe, 0x7b, 0x22]);
      case 2:
        return '['.repeat(2000 + int(10_000)) + ']'.repeat(2000);
      case 3:
        // Over the uplink's 64 KB always; as JSON (3 characters a byte) under or over the script's 1,000,000.
        return Buffer.alloc(70_000 + int(400_000), 0x61);
      case 4:
        return JSON.stringify({
          deviceName: str() || 'x',
          deviceType: 't',
          temperature: r() * 100,
          timestamp: int(1e13),
        });
      case 5:
        return `{"__proto__": {"isAdmin": true}, "deviceName": "D${int(100)}", "temperature": 1, "timestamp": 1}`;
      case 6:
        return JSON.stringify(json(0));
      case 7:
        return json(0);
      case 8:
        return str();
      default:
        return Buffer.from(JSON.stringify(json(0)) ?? 'null');
    }
  };
}

const decoder = tbUplinkDecoder();
const nodes = [
  require('../nodes/device-store/device-store'),
  require('../nodes/integration/integration'),
  require('../nodes/integration-uplink/integration-uplink'),
  require('../nodes/script/script'),
];

describe(`property: ${COUNT} random and hostile inputs (seed ${SEED})`, function () {
  this.timeout(300_000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  /** Sends every input, tagged, and tallies per tag which outputs it reached. */
  async function drive(
    entry: string,
    make: (i: number) => Record<string, unknown>,
    tagOf: (m: Record<string, unknown>) => string,
  ) {
    const seen = new Map<string, { ok: number; fail: number }>();
    const tally = (port: 'ok' | 'fail') => (m: Record<string, unknown>) => {
      const t = tagOf(m);
      const e = seen.get(t) ?? { ok: 0, fail: 0 };
      e[port]++;
      seen.set(t, e);
    };
    const stops = [onMessage('ok', tally('ok')), onMessage('fail', tally('fail'))];
    let uncaught = 0;
    const onUncaught = () => {
      uncaught++;
    };
    process.on('uncaughtException', onUncaught);
    try {
      const node = helper.getNode(entry);
      for (let i = 0; i < COUNT; i++) {
        node.receive(make(i));
        // Let the runtime deliver in batches so the test measures outcomes, not an ever-growing queue.
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
      }
      // On a timeout the assertions below say what is missing.
      await waitFor(() => seen.size >= COUNT, 120_000, `${COUNT} outcomes`).catch(() => {});
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      for (const stop of stops) stop();
    }
    assert.equal(uncaught, 0, 'uncaught exceptions');
    const missing = [];
    for (let i = 0; i < COUNT; i++) if (!seen.has(String(i))) missing.push(i);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} inputs got no outcome (hang or silent drop)`);
    const both = [...seen.entries()].filter(([, v]) => v.ok > 0 && v.fail > 0).map(([k]) => k);
    assert.deepEqual(both.slice(0, 10), [], `${both.length} inputs reached both Success and Failure`);
    const multiFail = [...seen.entries()].filter(([, v]) => v.fail > 1).map(([k]) => k);
    assert.deepEqual(multiFail.slice(0, 10), [], `${multiFail.length} inputs failed more than once`);
    return seen;
  }

  it('uplink converter (the tutorial decoder): exactly one outcome per input, no crash, no hang', async () => {
    await helper.load(nodes, uplinkFlow('fuzz', decoder, 200));
    const next = generator(SEED);
    const seen = await drive(
      'up',
      (i) => ({ topic: String(i), payload: next() }),
      (m) => String(m.topic),
    );
    const ok = [...seen.values()].filter((v) => v.ok > 0).length;
    assert.ok(ok > 0 && ok < COUNT, `a mix of outcomes expected, got ${ok} successes`);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined, 'no prototype was polluted');
  });

  it('script (the tutorial script): exactly one outcome per input, no crash, no hang', async () => {
    await helper.load(
      nodes,
      inTab([
        {
          id: 'sn',
          type: 'rule-script',
          script: 'msg.deviceName = metadata.cs_deviceName;\nreturn {msg: msg, metadata: metadata, msgType: msgType};',
          timeout: 200,
          wires: [['ok'], ['fail']],
        },
        { id: 'ok', type: 'helper' },
        { id: 'fail', type: 'helper' },
      ]),
    );
    const next = generator(SEED + 1);
    const seen = await drive(
      'sn',
      (i) => ({ fuzzId: String(i), payload: next(), metadata: { cs_deviceName: 'Thermostat-A' }, msgType: 'X' }),
      (m) => String(m.fuzzId),
    );
    const ok = [...seen.values()].filter((v) => v.ok > 0).length;
    assert.ok(ok > 0 && ok < COUNT, `a mix of outcomes expected, got ${ok} successes`);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined, 'no prototype was polluted');
  });
});
