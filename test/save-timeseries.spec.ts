import assert from 'node:assert/strict';
import type { TelemetryEntry } from '../nodes/lib/device-store';
import {
  type AnyMsg,
  assertOriginatorMissing,
  deviceStoreOf,
  errorCalls,
  flowAround,
  helper,
  nextMessage,
  outcomeOf,
  statusCalls,
  waitFor,
} from './support';

const deviceStoreNode = require('../nodes/device-store/device-store');
const saveTimeseriesNode = require('../nodes/save-timeseries/save-timeseries');
const nodes = [deviceStoreNode, saveTimeseriesNode];

function flow(st: Record<string, unknown> = {}) {
  return flowAround({ id: 'st', type: 'rule-save-timeseries', ...st }, { deviceStore: {} });
}

const store = () => deviceStoreOf();

const input = (extra: Partial<AnyMsg> = {}): AnyMsg => ({
  payload: { temperature: 25.3 },
  metadata: { deviceType: 'thermostat', ts: '1700000000000' },
  msgType: 'POST_TELEMETRY_REQUEST',
  originator: 'Thermostat-A',
  ...extra,
});

async function latest(...ks: string[]): Promise<Record<string, TelemetryEntry>> {
  return Object.fromEntries(await store().getLatest('Thermostat-A', ks));
}

async function save(m: AnyMsg): Promise<{ port: string; msg: AnyMsg }> {
  return outcomeOf('st', m);
}

describe('save time series node', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  describe('payload forms', () => {
    it('a flat object is one point at metadata.ts', async () => {
      await helper.load(nodes, flow());
      const { port } = await save(input({ payload: { temperature: 25.3, humidity: 40, on: true } }));
      assert.equal(port, 'ok');
      assert.deepEqual(await latest('temperature', 'humidity', 'on'), {
        temperature: { ts: 1700000000000, value: 25.3 },
        humidity: { ts: 1700000000000, value: 40 },
        on: { ts: 1700000000000, value: true },
      });
    });

    it('{ts, values} is one point at its own ts', async () => {
      await helper.load(nodes, flow());
      const { port } = await save(input({ payload: { ts: 1600000000000, values: { temperature: 21 } } }));
      assert.equal(port, 'ok');
      assert.deepEqual(await latest('temperature'), { temperature: { ts: 1600000000000, value: 21 } });
    });

    it('{ts, values} with ts as a string of digits is read as TB reads it (a long)', async () => {
      await helper.load(nodes, flow());
      const { port } = await save(input({ payload: { ts: '1600000000000', values: { temperature: 21 } } }));
      assert.equal(port, 'ok');
      assert.deepEqual(await latest('temperature'), { temperature: { ts: 1600000000000, value: 21 } });
    });

    it('type cast: numeric strings are saved as numbers (TB JSON_TYPE_CAST_ENABLED); a flow saved before the option keeps strings', async () => {
      await helper.load(nodes, flow({ typeCast: true }));
      await save(input({ payload: { temperature: '25.3', label: 'hall', plus: '+1' } }));
      assert.deepEqual(await latest('temperature', 'label', 'plus'), {
        temperature: { ts: 1700000000000, value: 25.3 },
        label: { ts: 1700000000000, value: 'hall' },
        plus: { ts: 1700000000000, value: '+1' },
      });
      await helper.unload();
      await helper.load(nodes, flow());
      await save(input({ payload: { temperature: '25.3' }, metadata: { ts: '1700000001000' } }));
      assert.deepEqual(await latest('temperature'), { temperature: { ts: 1700000001000, value: '25.3' } });
    });

    it('{values} without ts takes metadata.ts', async () => {
      await helper.load(nodes, flow());
      await save(input({ payload: { values: { temperature: 22 } } }));
      assert.deepEqual(await latest('temperature'), { temperature: { ts: 1700000000000, value: 22 } });
    });

    it('an array of {ts, values} and flat objects keeps the newest value of each key', async () => {
      await helper.load(nodes, flow());
      const { port } = await save(
        input({
          payload: [
            { ts: 1700000005000, values: { temperature: 26, humidity: 41 } },
            { ts: 1700000009000, values: { temperature: 27 } },
            { ts: 1700000001000, values: { temperature: 20, pressure: 1013 } },
            { voltage: 3.3 },
          ],
        }),
      );
      assert.equal(port, 'ok');
      assert.deepEqual(await latest('temperature', 'humidity', 'pressure', 'voltage'), {
        temperature: { ts: 1700000009000, value: 27 },
        humidity: { ts: 1700000005000, value: 41 },
        pressure: { ts: 1700000001000, value: 1013 },
        voltage: { ts: 1700000000000, value: 3.3 },
      });
    });

    it('keeps object and string values as they are', async () => {
      await helper.load(nodes, flow());
      await save(input({ payload: { location: { lat: 1, lon: 2 }, mode: 'eco' } }));
      const l = await latest('location', 'mode');
      assert.deepEqual(l.location.value, { lat: 1, lon: 2 });
      assert.equal(l.mode.value, 'eco');
    });
  });

  describe('timestamps', () => {
    it('takes the item ts before metadata.ts, and metadata.ts before now', async () => {
      await helper.load(nodes, flow());
      await save(input({ metadata: { ts: '1500' }, payload: [{ ts: 1000, values: { a: 1 } }, { b: 2 }] }));
      assert.deepEqual(await latest('a', 'b'), { a: { ts: 1000, value: 1 }, b: { ts: 1500, value: 2 } });
    });

    it('uses the current time when neither the item nor the metadata has a ts', async () => {
      await helper.load(nodes, flow());
      const before = Date.now();
      const { port } = await save(input({ metadata: {}, payload: [{ values: { a: 1 } }, { b: 2 }] }));
      const after = Date.now();
      assert.equal(port, 'ok');
      for (const [k, e] of Object.entries(await latest('a', 'b'))) {
        assert.ok(e.ts >= before && e.ts <= after, `${k}: ts ${e.ts} not within [${before}, ${after}]`);
      }
    });

    it('treats an empty metadata.ts as absent', async () => {
      await helper.load(nodes, flow());
      const before = Date.now();
      await save(input({ metadata: { ts: '' } }));
      assert.ok((await latest('temperature')).temperature.ts >= before);
    });

    it('fails on a metadata.ts that is not a number, even when every point has its own ts', async () => {
      await helper.load(nodes, flow());
      const { port, msg } = await save(input({ metadata: { ts: 'soon' }, payload: { ts: 5, values: { a: 1 } } }));
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), /metadata\.ts "soon" is not a number of milliseconds/);
      assert.deepEqual(await latest('a'), {});
    });

    it('newest wins: an older point does not overwrite the latest value', async () => {
      await helper.load(nodes, flow());
      await save(input({ payload: { ts: 2000, values: { temperature: 30 } } }));
      const { port } = await save(input({ payload: { ts: 1000, values: { temperature: 10, humidity: 50 } } }));
      assert.equal(port, 'ok', 'an old point is not an error');
      assert.deepEqual(await latest('temperature', 'humidity'), {
        temperature: { ts: 2000, value: 30 },
        humidity: { ts: 1000, value: 50 },
      });
      await save(input({ payload: { ts: 3000, values: { temperature: 31 } } }));
      assert.deepEqual((await latest('temperature')).temperature, { ts: 3000, value: 31 });
    });
  });

  it('stores copies: changing the message afterwards leaves the store alone', async () => {
    await helper.load(nodes, flow());
    const { msg } = await save(input({ payload: { ts: 1, values: { location: { lat: 1 } } } }));
    ((msg.payload as { values: { location: { lat: number } } }).values.location as { lat: number }).lat = 99;
    assert.deepEqual((await latest('location')).location.value, { lat: 1 });
  });

  it('creates the device on first sight with metadata.deviceType, and never again', async () => {
    await helper.load(nodes, flow());
    assert.equal(await store().getDevice('Thermostat-A'), undefined);
    await save(input());
    const first = await store().getDevice('Thermostat-A');
    assert.equal(first?.type, 'thermostat');
    // A second creation would now show in createdTime.
    await waitFor(() => Date.now() > (first?.createdTime ?? 0), 1000, 'the clock to move on');
    const { port } = await save(input({ metadata: { deviceType: 'changed' }, payload: { humidity: 1 } }));
    assert.equal(port, 'ok');
    assert.deepEqual(await store().getDevice('Thermostat-A'), first, 'same type and createdTime');
  });

  it("gives a new device the type 'default' without metadata.deviceType", async () => {
    await helper.load(nodes, flow());
    await save(input({ originator: 'Sensor-9', metadata: {} }));
    assert.equal((await store().getDevice('Sensor-9'))?.type, 'default');
  });

  it('passes the input message unchanged to Success, with a green status', async () => {
    await helper.load(nodes, flow());
    const m = input({ topic: 'devices/Thermostat-A/temperature/latest', payload: [{ ts: 1, values: { a: 1 } }] });
    const original = structuredClone(m);
    const { port, msg } = await save(m);
    assert.equal(port, 'ok');
    for (const k of Object.keys(original)) assert.deepEqual(msg[k], original[k], `msg.${k}`);
    assert.equal(msg.error, undefined);
    assert.deepEqual(statusCalls('st').at(-1), { fill: 'green', shape: 'dot', text: 'ok' });
  });

  it('sends another message type to Failure, to Catch, with a red status', async () => {
    await helper.load(nodes, flow());
    const caught = nextMessage('caught');
    const { port, msg } = await save(input({ msgType: 'POST_ATTRIBUTES_REQUEST' }));
    assert.equal(port, 'fail');
    assert.equal(msg.error?.message, 'message type "POST_ATTRIBUTES_REQUEST" is not POST_TELEMETRY_REQUEST');
    const c = await caught;
    assert.match(String((c.error as { message: string }).message), /is not POST_TELEMETRY_REQUEST/);
    assert.equal(statusCalls('st').at(-1)?.fill, 'red');
    assert.ok(errorCalls('st').some((e) => /is not POST_TELEMETRY_REQUEST/.test(e)));
    assert.deepEqual(await latest('temperature'), {});
  });

  for (const [label, originator] of [
    ['missing', undefined],
    ['empty', ''],
    ['an object', { name: 'x' }],
  ] as const) {
    it(`fails with "originator missing" when the originator is ${label}`, async () => {
      await helper.load(nodes, flow());
      await assertOriginatorMissing('st', input(), originator);
    });
  }

  for (const [label, payload, pattern] of [
    ['a string', '{"temperature": 25}', /must be an object, \{ts, values\} or an array of them, got string/],
    ['null', null, /got null/],
    ['a Buffer', Buffer.from('{}'), /got buffer/],
    ['an empty array', [], /empty array/],
    ['an empty object', {}, /holds no telemetry values/],
    ['{ts, values: {}}', { ts: 1, values: {} }, /holds no telemetry values/],
    ['values that is an array', { ts: 1, values: [1, 2] }, /msg\.payload\.values must be an object .* got array/],
    ['values that is a number', { values: 5 }, /msg\.payload\.values must be an object .* got number/],
    [
      'ts that is a string with a fraction',
      { ts: '1700000000000.5', values: { a: 1 } },
      /msg\.payload\.ts .* in digits/,
    ],
    ['ts that is NaN', { ts: Number.NaN, values: { a: 1 } }, /msg\.payload\.ts must be a finite number/],
    ['ts that is null', { ts: null, values: { a: 1 } }, /ts must be a finite number of milliseconds, got null/],
    ['an array item that is a number', [{ a: 1 }, 7], /msg\.payload\[1\] must be an object, got number/],
    ['an array item with a bad ts', [{ ts: 'x', values: { a: 1 } }], /msg\.payload\[0\]\.ts must be a finite/],
    ['ts without values', { ts: 1, temperature: 25 }, /has "ts" but no "values"/],
    ['values next to other keys', { ts: 1, values: { a: 1 }, extra: 2 }, /has "values" and also "extra"/],
    ['an undefined value', { a: undefined }, /telemetry key "a" has a value that cannot be stored/],
    ['an infinite value', { values: { a: Number.POSITIVE_INFINITY } }, /telemetry key "a" .* \(Infinity\)/],
  ] as const) {
    it(`fails when the payload is ${label}, saving nothing`, async () => {
      await helper.load(nodes, flow());
      const { port, msg } = await save(input({ payload }));
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), pattern);
      assert.equal(await store().getDevice('Thermostat-A'), undefined);
      assert.deepEqual(await latest('a', 'temperature'), {});
    });
  }

  it('fails every message when the device store is missing', async () => {
    await helper.load(nodes, flow({ deviceStore: '' }));
    assert.match(String(statusCalls('st').at(-1)?.text), /no device store configured/);
    const { port, msg } = await save(input());
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /no device store configured/);
  });
});
