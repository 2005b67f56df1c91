/**
 * Persistent RPC on real brokers (aedes and Mosquitto) with the core MQTT nodes and a real Node-RED: a call to a
 * device that is offline waits in the device store until the device's next uplink, then goes down through the
 * integration once; every status change leaves the rpc request node's Status output once, in order. Also: a
 * call sent at once to an online device, expiry, retries, a Redis store, and bad msg.rpc values.
 */
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { DeviceStore, keyValueBackend, MemoryKeyValueStore } from '../nodes/lib/device-store';
import { PersistentRpcRunner, PersistentRpcs, persistentRpcs } from '../nodes/lib/persistent-rpc';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import {
  type DeviceRequest,
  integrationFlow,
  integrationNodes,
  loadConnected,
  simulatedDevices,
  waitForSubscription,
  withEachBroker,
} from './rpc-devices';
import { type AnyMsg, collect, delay, deviceStoreOf, helper, inTab, waitFor } from './support';
import { type RedisProcess, startRedis, storedRpc } from './toolkit';

/** The device gets `{requestUUID, method, params}`; a value "fail" is refused by the encoder (a downlink error). */
const ENCODER = `if (msg.params === '"fail"') throw new Error('refused by the encoder');
return {
  contentType: 'JSON',
  data: {requestUUID: metadata.requestUUID, method: msg.method, params: JSON.parse(msg.params)},
  metadata: {topic: 'devices/' + metadata.deviceName + '/rpc/request'}
};`;
/** Telemetry on devices/{name}/telemetry (the device is seen), answers on devices/{name}/rpc/response. */
const DECODER = `var parts = metadata.topic.split('/');
var body = decodeToJson(payload);
if (parts[2] === 'telemetry') return {deviceName: parts[1], deviceType: 'sim', telemetry: body};
return {deviceName: parts[1], rpcResponse: {requestUUID: body.requestUUID, response: body.result}};`;

const TIMEOUT_MS = 800;

function flow(port: number, store: Record<string, unknown> = {}) {
  const rpc = { type: 'rule-rpc-request', deviceStore: 'store1', getValueMethod: '', persistent: true };
  const options = { port, decoder: DECODER, encoder: ENCODER, allowCreateDevices: true, store };
  return integrationFlow({ ...options, topics: ['devices/+/telemetry', 'devices/+/rpc/response'] }, [
    // One-way set-points, and two-way calls that may be sent again twice.
    {
      ...rpc,
      id: 'rpc1',
      method: 'setValue',
      oneway: true,
      timeout: TIMEOUT_MS,
      wires: [['down1'], ['reply1'], ['status1']],
    },
    {
      ...rpc,
      id: 'rpc2',
      method: 'getState',
      oneway: false,
      retries: 2,
      timeout: TIMEOUT_MS,
      wires: [['down1'], ['reply2'], ['status2']],
    },
    { id: 'reply1', type: 'helper' },
    { id: 'status1', type: 'helper' },
    { id: 'reply2', type: 'helper' },
    { id: 'status2', type: 'helper' },
  ]);
}

/** A two-way call delivered twice, before its end. */
const TWO_ATTEMPTS = ['queued', 'sent', 'delivered', 'queued', 'sent', 'delivered'];
const statuses = (msgs: AnyMsg[]) => msgs.map((m) => (m.rpc as { status: string }).status);
const rpcOf = (m: AnyMsg | undefined) => m?.rpc as { status: string; error?: string; requestUUID: string };

/** A device simulator and a loaded flow on `broker`: what each test needs. */
function rig(getBroker: () => TestMqttBroker, store: () => Record<string, unknown> = () => ({})) {
  let device: MqttClient | undefined;
  const requests: Array<{ device: string; request: DeviceRequest }> = [];
  /** From which attempt (1, 2, ...) a device answers two-way calls; absent: never. */
  const answersFrom = new Map<string, number>();

  beforeEach(async () => {
    requests.length = 0;
    answersFrom.clear();
    persistentRpcs.clear();
    await loadConnected(flow(getBroker().port, store()));
    device = await simulatedDevices(getBroker().url, (name, request, client) => {
      requests.push({ device: name, request });
      const from = answersFrom.get(name);
      const attempt = requests.filter((r) => r.request.requestUUID === request.requestUUID).length;
      if (from === undefined || attempt < from) return;
      client.publish(
        `devices/${name}/rpc/response`,
        JSON.stringify({ requestUUID: request.requestUUID, result: { attempt, echo: request.params } }),
        { qos: 1 },
      );
    });
    // Node-RED's own subscription is live once an uplink from a probe device reaches the uplink's Success.
    await waitForSubscription(() => see('probe'), 'upOk');
  });
  afterEach(async () => {
    await device?.endAsync(true);
    await helper.unload();
  });

  /** An uplink from `dev`: it is seen (and created when new). */
  async function see(dev: string): Promise<void> {
    await device!.publishAsync(`devices/${dev}/telemetry`, JSON.stringify({ temperature: 20 }), { qos: 1 });
  }
  /** `dev` sends an uplink and Node-RED has taken it. */
  async function seen(dev: string): Promise<void> {
    const upOk = collect('upOk');
    await see(dev);
    await waitFor(() => upOk.msgs.some((m) => m.originator === dev), 10_000, `the uplink of ${dev}`);
    upOk.stop();
  }
  function ask(node: 'rpc1' | 'rpc2', dev: string, payload: unknown, rpc?: unknown): void {
    helper.getNode(node).receive({ payload, originator: dev, ...(rpc === undefined ? {} : { rpc }) } as AnyMsg);
  }
  const requestsTo = (dev: string) => requests.filter((r) => r.device === dev).map((r) => r.request);
  return { see, seen, ask, requestsTo, answersFrom };
}

/** The one-way case every store must pass: offline, then seen; delivered once, statuses in order. */
async function offlineThenOnline(t: ReturnType<typeof rig>, dev: string): Promise<void> {
  await t.seen(dev); // created; made offline again below
  persistentRpcs.clear();
  const status = collect('status1');
  const reply = collect('reply1');
  t.ask('rpc1', dev, 21);
  await waitFor(() => status.msgs.length === 1, 10_000, 'queued');
  assert.equal(rpcOf(status.msgs[0]).status, 'queued');
  const stored = await deviceStoreOf('store1').listRpcs(dev);
  assert.equal(stored.length, 1, 'stored with its device');
  assert.equal(stored[0]?.requestUUID, rpcOf(status.msgs[0]).requestUUID);
  await delay(600);
  assert.equal(t.requestsTo(dev).length, 0, 'nothing sent while the device is offline');
  assert.equal(reply.msgs.length, 0);

  await t.see(dev);
  await waitFor(() => reply.msgs.length === 1, 10_000, 'the Reply');
  await delay(1200); // longer than the look-up interval: a second uplink must not send it again
  await t.seen(dev);
  await delay(500);
  assert.deepEqual(statuses(status.msgs), ['queued', 'sent', 'delivered', 'successful']);
  assert.ok(status.msgs.every((m) => rpcOf(m).requestUUID === rpcOf(status.msgs[0]).requestUUID));
  assert.equal(t.requestsTo(dev).length, 1, 'delivered once');
  assert.deepEqual(t.requestsTo(dev)[0]?.params, 21);
  assert.equal(reply.msgs.length, 1);
  assert.equal(rpcOf(reply.msgs[0]).status, 'ok');
  assert.equal(reply.msgs[0]?.payload, 21);
  assert.deepEqual(await deviceStoreOf('store1').listRpcs(dev), [], 'removed from the store at its end');
}

describe('persistent RPC through the integration', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());

  withEachBroker((_kind, broker) => {
    const t = rig(broker);

    it('a call to an offline device waits for its next uplink, is delivered once, statuses in order', async () => {
      await offlineThenOnline(t, 'dev-off');
    });

    it('a call to an online device (an uplink within the online window) goes out at once', async () => {
      await t.seen('dev-on');
      const status = collect('status1');
      const reply = collect('reply1');
      t.ask('rpc1', 'dev-on', 19.5);
      await waitFor(() => reply.msgs.length === 1, 10_000, 'the Reply');
      assert.deepEqual(statuses(status.msgs), ['queued', 'sent', 'delivered', 'successful']);
      assert.deepEqual(
        t.requestsTo('dev-on').map((r) => r.params),
        [19.5],
      );
    });

    it('expires at its expirationTime when the device is not seen, and is not sent afterwards', async () => {
      await t.seen('dev-exp');
      persistentRpcs.clear();
      const status = collect('status1');
      const reply = collect('reply1');
      const asked = Date.now();
      t.ask('rpc1', 'dev-exp', 5, { expirationTime: asked + 700 });
      await waitFor(() => reply.msgs.length === 1, 10_000, 'the Reply');
      assert.ok(Date.now() - asked >= 650, 'not before its time');
      assert.deepEqual(statuses(status.msgs), ['queued', 'expired']);
      assert.equal(rpcOf(reply.msgs[0]).status, 'timeout');
      assert.match(String(rpcOf(reply.msgs[0]).error), /expired/);
      await t.seen('dev-exp');
      await delay(500);
      assert.equal(t.requestsTo('dev-exp').length, 0);
      assert.equal(status.msgs.length, 2);
    });

    it('a two-way call without an answer is sent again, and the answer to the retry ends it', async () => {
      await t.seen('dev-retry');
      t.answersFrom.set('dev-retry', 2);
      const status = collect('status2');
      const reply = collect('reply2');
      t.ask('rpc2', 'dev-retry', { n: 1 });
      await waitFor(() => reply.msgs.length === 1, 15_000, 'the Reply');
      await delay(300);
      assert.deepEqual(statuses(status.msgs), [...TWO_ATTEMPTS, 'successful']);
      assert.match(String(rpcOf(status.msgs[3]).error), /no reply from the device/);
      const sent = t.requestsTo('dev-retry');
      assert.equal(sent.length, 2, 'sent twice');
      assert.equal(sent[0]?.requestUUID, sent[1]?.requestUUID, 'the same request');
      assert.equal(rpcOf(reply.msgs[0]).status, 'ok');
      assert.deepEqual(reply.msgs[0]?.payload, { attempt: 2, echo: { n: 1 } });
    });

    it('retries run out: a two-way call ends as timeout, a one-way call the downlink refuses as failed', async () => {
      await t.seen('dev-mute');
      const status2 = collect('status2');
      const reply2 = collect('reply2');
      t.ask('rpc2', 'dev-mute', 1, { retries: 1 });
      const status1 = collect('status1');
      const reply1 = collect('reply1');
      const dlFail = collect('dlFail');
      t.ask('rpc1', 'dev-mute', 'fail', { retries: '1' });
      await waitFor(() => reply1.msgs.length === 1 && reply2.msgs.length === 1, 15_000, 'both Replies');
      await delay(300);
      assert.deepEqual(statuses(status2.msgs), [...TWO_ATTEMPTS, 'timeout']);
      assert.equal(rpcOf(reply2.msgs[0]).status, 'timeout');
      assert.equal(t.requestsTo('dev-mute').filter((r) => r.method === 'getState').length, 2);
      assert.deepEqual(statuses(status1.msgs), ['queued', 'sent', 'queued', 'sent', 'failed']);
      assert.match(String(rpcOf(status1.msgs[4]).error), /refused by the encoder/);
      assert.equal(rpcOf(reply1.msgs[0]).status, 'error');
      assert.equal(dlFail.msgs.length, 2, 'each attempt at the downlink Failure');
      assert.deepEqual(await deviceStoreOf('store1').listRpcs('dev-mute'), []);
    });
  });

  describe('with a Redis device store', function () {
    this.timeout(60_000);
    let broker: TestMqttBroker | undefined;
    let redis: RedisProcess | undefined;
    before(async () => {
      redis = await startRedis();
      broker = await startTestBroker('aedes');
    });
    after(async () => {
      await broker?.stop();
      await redis?.stop();
    });
    const t = rig(
      () => broker!,
      () => ({ backend: 'redis', redisUrl: redis!.url, redisDb: 0, redisPrefix: 'prpc', redisTls: false }),
    );

    it('a call to an offline device waits in Redis for its next uplink, is delivered once, statuses in order', async () => {
      await waitFor(() => deviceStoreOf('store1').connection?.current.state === 'ready', 10_000, 'Redis');
      await offlineThenOnline(t, 'dev-redis');
    });
  });

  describe('bad msg.rpc values', () => {
    const bad: Array<[string, unknown, RegExp]> = [
      ['msg.rpc not an object', 5, /msg\.rpc must be an object/],
      ['persistent of an unknown value', { persistent: 'yes' }, /persistent must be true or false/],
      ['persistent a number', { persistent: 1 }, /persistent must be true or false, got number/],
      ['retries negative', { retries: -1 }, /retries must be a whole number from 0 to 100/],
      ['retries a fraction', { retries: 1.5 }, /retries must be a whole number/],
      ['retries text', { retries: 'many' }, /retries must be a whole number/],
      ['expirationTime negative', { expirationTime: -5 }, /must not be negative/],
      ['expirationTime in the past', { expirationTime: 1_000_000 }, /is in the past/],
      ['expirationTime not a number', { expirationTime: 'soon' }, /must be a time in ms since the epoch/],
    ];
    before(async () => {
      await helper.load(
        integrationNodes,
        inTab([
          { id: 'store1', type: 'rule-device-store', store: '' },
          {
            id: 'rpc1',
            type: 'rule-rpc-request',
            deviceStore: 'store1',
            persistent: true,
            wires: [['req'], ['reply'], ['status']],
          },
          { id: 'req', type: 'helper' },
          { id: 'reply', type: 'helper' },
          { id: 'status', type: 'helper' },
        ]),
      );
      await deviceStoreOf('store1').ensureDevice('dev-bad', 'sim');
    });
    after(() => helper.unload());

    for (const [what, rpc, error] of bad) {
      it(`${what}: Reply with status error and the reason; nothing stored or sent`, async () => {
        const req = collect('req');
        const reply = collect('reply');
        const status = collect('status');
        helper.getNode('rpc1').receive({ payload: 1, originator: 'dev-bad', rpc } as AnyMsg);
        await waitFor(() => reply.msgs.length === 1, 5000, 'the Reply');
        await delay(100);
        assert.equal(rpcOf(reply.msgs[0]).status, 'error');
        assert.match(String(rpcOf(reply.msgs[0]).error), error);
        assert.equal(req.msgs.length + status.msgs.length, 0);
        assert.deepEqual(await deviceStoreOf('store1').rpcDevices(), []);
      });
    }

    it('good values are taken as given: queued with its retries and expirationTime', async () => {
      const status = collect('status');
      const expirationTime = Date.now() + 60_000;
      helper.getNode('rpc1').receive({
        payload: 1,
        originator: 'dev-bad',
        rpc: { persistent: 'true', retries: '3', expirationTime: String(expirationTime) },
      } as AnyMsg);
      await waitFor(() => status.msgs.length === 1, 5000, 'queued');
      assert.deepEqual(
        { ...(status.msgs[0]?.rpc as object), requestUUID: undefined },
        {
          requestUUID: undefined,
          method: 'setValue',
          status: 'queued',
          persistent: true,
          attempts: 0,
          retries: 3,
          expirationTime,
        },
      );
      assert.deepEqual(await deviceStoreOf('store1').rpcDevices(), ['dev-bad']);
    });
  });
});

describe('devices seen, per device store (pure)', () => {
  const memoryStore = () => new DeviceStore(keyValueBackend(new MemoryKeyValueStore()));

  /** A runner of node n1 on `store` that records the devices it sends to. */
  function runner(registry: PersistentRpcs, store: DeviceStore, sent: string[]): PersistentRpcRunner {
    return new PersistentRpcRunner(
      'n1',
      store,
      { timeoutMs: 1000, onlineMs: 60_000 },
      {
        send: (_request, rpc) => sent.push(rpc.deviceName),
        status: () => {},
        error: (err) => assert.fail(err),
      },
      registry,
    );
  }

  it('a device seen through one store is neither online nor looked up for another store of the same name', async () => {
    const registry = new PersistentRpcs();
    const a = memoryStore();
    const b = memoryStore();
    const sentA: string[] = [];
    const sentB: string[] = [];
    const ra = runner(registry, a, sentA);
    const rb = runner(registry, b, sentB);
    try {
      await b.addRpc(storedRpc('r-b', 'dev'));
      registry.seen('dev', a);
      assert.equal(registry.online('dev', a, 60_000), true);
      assert.equal(registry.online('dev', b, 60_000), false, 'seen through store a only');
      // Within the once-a-second lookup interval: store b's requests must still be looked up.
      registry.seen('dev', b);
      await waitFor(() => sentB.length === 1, 2000, 'the request stored in b was sent');
      assert.deepEqual(sentA, []);
      assert.equal(registry.online('dev', b, 60_000), true);
    } finally {
      ra.close();
      rb.close();
    }
  });
});
