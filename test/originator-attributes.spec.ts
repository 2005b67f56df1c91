import assert from 'node:assert/strict';
import {
  type AnyMsg,
  assertOriginatorMissing,
  deviceStoreOf,
  flowAround,
  helper,
  nextMessage,
  sendAndWait,
  statusCalls,
} from './support';
import { tbRuleNode } from './tb-fixtures';

const deviceStoreNode = require('../nodes/device-store/device-store');
const originatorAttributesNode = require('../nodes/originator-attributes/originator-attributes');
const nodes = [deviceStoreNode, originatorAttributesNode];

function flow(oa: Record<string, unknown>, store: Record<string, unknown> = {}) {
  return flowAround(
    {
      id: 'oa',
      type: 'rule-originator-attributes',
      clientAttributeNames: [],
      sharedAttributeNames: [],
      serverAttributeNames: [],
      latestTsKeyNames: [],
      fetchTo: 'metadata',
      ...oa,
    },
    { deviceStore: store },
  );
}

const store = () => deviceStoreOf();

/** A device with one attribute in each scope and two telemetry keys. */
async function seedThermostat() {
  const s = store();
  await s.ensureDevice('Thermostat-A', 'thermostat');
  await s.saveAttributes('Thermostat-A', 'client', { deviceName: 'Thermostat-A', firmware: { v: 2 } }, 1000);
  await s.saveAttributes('Thermostat-A', 'shared', { targetTemperature: 21.5 }, 1000);
  await s.saveAttributes('Thermostat-A', 'server', { active: true, deviceName: 'server-side-name' }, 1000);
  await s.saveTelemetry('Thermostat-A', [
    { ts: 2000, values: { temperature: 25.3, humidity: 40 } },
    { ts: 1000, values: { temperature: 19 } },
  ]);
}

const input = (extra: Partial<AnyMsg> = {}): AnyMsg => ({
  payload: { method: 'setValue', params: '42' },
  metadata: { requestUUID: 'r-1' },
  msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
  originator: 'Thermostat-A',
  ...extra,
});

describe('originator attributes node', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    helper.settings({});
    await helper.unload();
  });

  it('adds client, shared, server attributes and latest telemetry to metadata as prefixed strings', async () => {
    await helper.load(
      nodes,
      flow({
        clientAttributeNames: ['deviceName', 'firmware'],
        sharedAttributeNames: ['targetTemperature'],
        serverAttributeNames: ['active'],
        latestTsKeyNames: ['temperature', 'humidity'],
      }),
    );
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(port, 'ok');
    assert.deepEqual(msg.metadata, {
      requestUUID: 'r-1',
      cs_deviceName: 'Thermostat-A',
      cs_firmware: '{"v":2}',
      shared_targetTemperature: '21.5',
      ss_active: 'true',
      temperature: '25.3',
      humidity: '40',
    });
    assert.deepEqual(msg.payload, { method: 'setValue', params: '42' });
  });

  it('adds typed values to msg.payload when fetching to data', async () => {
    await helper.load(
      nodes,
      flow({
        fetchTo: 'data',
        clientAttributeNames: 'deviceName, firmware',
        serverAttributeNames: ['active'],
        latestTsKeyNames: ['temperature'],
      }),
    );
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(port, 'ok');
    assert.deepEqual(msg.payload, {
      method: 'setValue',
      params: '42',
      cs_deviceName: 'Thermostat-A',
      cs_firmware: { v: 2 },
      ss_active: true,
      temperature: 25.3,
    });
    assert.deepEqual(msg.metadata, { requestUUID: 'r-1' });
    // The values are copies: changing the output leaves the store as it was.
    (msg.payload as { cs_firmware: { v: number } }).cs_firmware.v = 99;
    const again = await store().getAttributes('Thermostat-A', 'client', ['firmware']);
    assert.deepEqual(again.get('firmware')?.value, { v: 2 });
  });

  it('fails when fetching to data and the payload is not an object', async () => {
    await helper.load(nodes, flow({ fetchTo: 'data', latestTsKeyNames: ['temperature'] }));
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input({ payload: 'text' }), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /payload must be an object/);
  });

  it('gives latest telemetry with its timestamp, as JSON in metadata and as an object in data', async () => {
    await helper.load(nodes, flow({ latestTsKeyNames: ['temperature'], getLatestValueWithTs: true }));
    await seedThermostat();
    let r = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(r.msg.metadata?.temperature, '{"ts":2000,"value":25.3}');
    await helper.unload();

    await helper.load(nodes, flow({ latestTsKeyNames: ['temperature'], getLatestValueWithTs: true, fetchTo: 'data' }));
    await seedThermostat();
    r = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.deepEqual((r.msg.payload as Record<string, unknown>).temperature, { ts: 2000, value: 25.3 });
  });

  it('puts a telemetry prefix in front of telemetry keys only', async () => {
    await helper.load(
      nodes,
      flow({ latestTsKeyNames: ['temperature'], clientAttributeNames: ['deviceName'], telemetryPrefix: 'tel_' }),
    );
    await seedThermostat();
    const { msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(msg.metadata?.tel_temperature, '25.3');
    assert.equal(msg.metadata?.temperature, undefined);
    assert.equal(msg.metadata?.cs_deviceName, 'Thermostat-A');
  });

  it('resolves ${metadataKey} and $[data.path] in key names', async () => {
    await helper.load(nodes, flow({ clientAttributeNames: ['${attrName}'], latestTsKeyNames: ['$[request.sensor]'] }));
    await seedThermostat();
    const { port, msg } = await sendAndWait(
      'oa',
      input({ metadata: { attrName: 'deviceName' }, payload: { request: { sensor: 'humidity' } } }),
      ['ok', 'fail'],
    );
    assert.equal(port, 'ok');
    assert.equal(msg.metadata?.cs_deviceName, 'Thermostat-A');
    assert.equal(msg.metadata?.humidity, '40');
  });

  it("numbers 'thingsboard': a double in metadata as Java writes it (1.0E-4, 1.23456789E7), a long as its digits (TB getValueAsString)", async () => {
    await helper.load(
      nodes,
      flow({ doubleFormat: 'thingsboard', latestTsKeyNames: ['small', 'big', 'temperature', 'count'] }),
    );
    await seedThermostat();
    await store().saveTelemetry('Thermostat-A', [{ ts: 3000, values: { small: 0.0001, big: 12345678.9, count: 7 } }]);
    const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(port, 'ok');
    assert.deepEqual(
      [msg.metadata?.small, msg.metadata?.big, msg.metadata?.temperature, msg.metadata?.count],
      ['1.0E-4', '1.23456789E7', '25.3', '7'],
    );
  });

  it('a flow saved before the number option keeps JavaScript number text in metadata', async () => {
    await helper.load(nodes, flow({ latestTsKeyNames: ['small', 'big'] }));
    await seedThermostat();
    await store().saveTelemetry('Thermostat-A', [{ ts: 3000, values: { small: 0.0001, big: 12345678.9 } }]);
    const { msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.deepEqual([msg.metadata?.small, msg.metadata?.big], ['0.0001', '12345678.9']);
  });

  it("$[path] on an object 'keep': the key name keeps the placeholder, as TB resolves only numbers, strings and booleans", async () => {
    await helper.load(
      nodes,
      flow({
        patternObjects: 'keep',
        tellFailureIfAbsent: false,
        latestTsKeyNames: ['$[request]', '$[request.sensor]'],
      }),
    );
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input({ payload: { request: { sensor: 'humidity' } } }), [
      'ok',
      'fail',
    ]);
    assert.equal(port, 'ok');
    assert.equal(msg.metadata?.humidity, '40');
    assert.ok(!Object.keys(msg.metadata ?? {}).some((k) => k.startsWith('{')), 'no key named after the JSON');
  });

  it('a flow saved before the object option puts the JSON into the key name, as before', async () => {
    await helper.load(nodes, flow({ latestTsKeyNames: ['$[request]'] }));
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input({ payload: { request: { sensor: 'humidity' } } }), [
      'ok',
      'fail',
    ]);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /latest telemetry "\{"sensor":"humidity"\}"/);
  });

  it('resolves ${*} in a key name to all the metadata as JSON (TB processPattern)', async () => {
    await helper.load(nodes, flow({ latestTsKeyNames: ['${*}'] }));
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /latest telemetry "\{"requestUUID":"r-1"\}"/);
  });

  it('sends the partly enriched message to Failure naming each missing key (default), and Catch sees it', async () => {
    await helper.load(
      nodes,
      flow({
        clientAttributeNames: ['deviceName', 'nope'],
        serverAttributeNames: ['gone'],
        latestTsKeyNames: ['pressure'],
      }),
    );
    await seedThermostat();
    const caught = nextMessage('caught');
    const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.equal(msg.metadata?.cs_deviceName, 'Thermostat-A', 'found values are kept');
    assert.deepEqual(msg.error?.missingKeys, ['cs_nope', 'ss_gone', 'pressure']);
    assert.equal(msg.error?.unknownDevice, false);
    const text = String(msg.error?.message);
    assert.match(text, /client attribute "nope"/);
    assert.match(text, /server attribute "gone"/);
    assert.match(text, /latest telemetry "pressure"/);
    const c = await caught;
    assert.match(String((c.error as { message: string }).message), /client attribute "nope"/);
    const st = statusCalls('oa').at(-1);
    assert.equal(st?.fill, 'red');
  });

  it('with fail-if-absent off, sends whatever was found to Success', async () => {
    await helper.load(nodes, flow({ clientAttributeNames: ['deviceName', 'nope'], tellFailureIfAbsent: false }));
    await seedThermostat();
    const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
    assert.equal(port, 'ok');
    assert.equal(msg.metadata?.cs_deviceName, 'Thermostat-A');
    assert.equal(Object.hasOwn(msg.metadata ?? {}, 'cs_nope'), false);
  });

  it('fails for an unknown device, listing the keys', async () => {
    await helper.load(nodes, flow({ serverAttributeNames: ['deviceName'] }));
    const { port, msg } = await sendAndWait('oa', input({ originator: 'Nobody' }), ['ok', 'fail']);
    assert.equal(port, 'fail');
    assert.equal(msg.error?.unknownDevice, true);
    assert.match(String(msg.error?.message), /unknown device "Nobody".*server attribute "deviceName"/);
  });

  for (const [label, originator] of [
    ['missing', undefined],
    ['empty', ''],
    ['a number', 42],
    ['an object', { name: 'Thermostat-A' }],
  ] as const) {
    it(`fails with "originator missing" when the originator is ${label}`, async () => {
      await helper.load(nodes, flow({ clientAttributeNames: ['deviceName'] }));
      await seedThermostat();
      await assertOriginatorMissing('oa', input(), originator);
    });
  }

  it('turns metadata values into strings and rejects metadata that is not an object', async () => {
    await helper.load(nodes, flow({ clientAttributeNames: ['deviceName'] }));
    await seedThermostat();
    let r = await sendAndWait('oa', input({ metadata: { n: 5 as unknown as string } }), ['ok', 'fail']);
    assert.equal(r.msg.metadata?.n, '5');
    r = await sendAndWait('oa', input({ metadata: 'x' as unknown as Record<string, string> }), ['ok', 'fail']);
    assert.equal(r.port, 'fail');
    assert.match(String(r.msg.error?.message), /metadata must be an object/);
  });

  describe('the tutorial rule chain settings', () => {
    const getAttrs = tbRuleNode('TbGetAttributesNode');
    const saveAttrs = tbRuleNode('TbMsgAttributesNode');

    it('saves deviceName in client scope and, fetched as a server attribute, writes ss_deviceName only', async () => {
      assert.equal(saveAttrs.configuration.scope, 'CLIENT_SCOPE');
      await helper.load(nodes, flow({ ...getAttrs.configuration }));
      // The uplink saved the attribute in client scope, as the tutorial's save-attributes node does.
      await store().saveAttributes('Thermostat-A', 'client', { deviceName: 'Thermostat-A' }, 1);
      await store().saveAttributes('Thermostat-A', 'server', { deviceName: 'Thermostat-A' }, 1);
      const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
      assert.equal(port, 'ok');
      assert.equal(msg.metadata?.ss_deviceName, 'Thermostat-A');
      assert.equal(msg.metadata?.cs_deviceName, undefined, 'the script would read cs_deviceName and find nothing');
    });

    it('as configured, fails when deviceName exists only in client scope (the tutorial mismatch)', async () => {
      await helper.load(nodes, flow({ ...getAttrs.configuration }));
      await store().saveAttributes('Thermostat-A', 'client', { deviceName: 'Thermostat-A' }, 1);
      const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
      assert.equal(port, 'fail');
      assert.deepEqual(msg.error?.missingKeys, ['ss_deviceName']);
    });

    it('fixed: clientAttributeNames ["deviceName"] writes cs_deviceName for the script', async () => {
      await helper.load(
        nodes,
        flow({ ...getAttrs.configuration, serverAttributeNames: [], clientAttributeNames: ['deviceName'] }),
      );
      await store().saveAttributes('Thermostat-A', 'client', { deviceName: 'Thermostat-A' }, 1);
      const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
      assert.equal(port, 'ok');
      assert.equal(msg.metadata?.cs_deviceName, 'Thermostat-A');
    });
  });

  describe('context stores', () => {
    afterEach(async () => {
      helper._context.init({});
      await helper._context.load();
    });

    it('shows a red status and fails every message for a store name Node-RED does not have', async () => {
      await helper.load(nodes, flow({ clientAttributeNames: ['deviceName'] }, { store: 'nosuchstore' }));
      const st = statusCalls('oa');
      assert.equal(st.at(-1)?.fill, 'red');
      assert.match(String(st.at(-1)?.text), /unknown context store "nosuchstore"/);
      const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail']);
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), /unknown context store "nosuchstore"/);
    });

    // node-red-node-test-helper never loads contextStorage itself: the tests load it after helper.load(),
    // which is safe because Node-RED resolves the store on every context call.
    it('reads from the named store only, never from the default one', async () => {
      const contextStorage = { default: { module: 'memory' }, other: { module: 'memory' } };
      helper.settings({ contextStorage });
      await helper.load(nodes, [
        ...flow({ clientAttributeNames: ['deviceName'] }, { store: 'other' }),
        { id: 's2', type: 'rule-device-store', store: '' },
      ]);
      await helper._context.load();
      const def = deviceStoreOf('s2');
      await def.saveAttributes('Thermostat-A', 'client', { deviceName: 'in-default-store' }, 1);
      let r = await sendAndWait('oa', input(), ['ok', 'fail']);
      assert.equal(r.port, 'fail', 'the attribute lives in the default store, not in "other"');
      await store().saveAttributes('Thermostat-A', 'client', { deviceName: 'in-other-store' }, 1);
      r = await sendAndWait('oa', input(), ['ok', 'fail']);
      assert.equal(r.msg.metadata?.cs_deviceName, 'in-other-store');
    });

    it('fails a message when the store never answers, within the configured time limit', async () => {
      // A context store plugin whose reads never call back.
      const stuck = () => ({
        open: async () => {},
        close: async () => {},
        get: () => {},
        set: (_s: string, _k: unknown, _v: unknown, cb: () => void) => cb(),
        keys: (_s: string, cb: (e: null, k: string[]) => void) => cb(null, []),
        delete: async () => {},
        clean: async () => {},
      });
      const contextStorage = { default: { module: 'memory' }, stuck: { module: stuck } };
      helper.settings({ contextStorage });
      await helper.load(nodes, flow({ clientAttributeNames: ['deviceName'] }, { store: 'stuck', timeout: 150 }));
      await helper._context.load();
      const { port, msg } = await sendAndWait('oa', input(), ['ok', 'fail'], 2000);
      assert.equal(port, 'fail');
      assert.match(String(msg.error?.message), /did not answer within 150 ms/);
    });
  });
});
