/**
 * The integration nodes (uplink, downlink) and the RPC request node with the core `mqtt in` / `mqtt out` nodes
 * on a real broker: the same suite against aedes (embedded) and Debian's mosquitto (a child process).
 * A separate mqtt.js client plays the device and the subscriber.
 *
 * Covers the tutorial's path with the fixture converters unchanged (uplink to the device store; the knob's
 * setValue/getValue RPC down to the device), hostile uplink payloads (non-UTF-8, deeply nested, `__proto__`
 * keys, oversized), broker trouble (broker down, broker restart during a QoS 1 stream, invalid downlink
 * topics), plus the content types.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  type BrokerKind,
  MOSQUITTO_PATH,
  mosquittoAvailable,
  startTestBroker,
  type TestMqttBroker,
} from './mqtt-broker';
import {
  type AnyMsg,
  collect,
  delay,
  deviceStoreOf,
  helper,
  inTab,
  nextMessage,
  nodeRedDir,
  statusCalls,
  waitFor,
} from './support';
import { tbDownlinkEncoder, tbTutorialScript, tbUplinkDecoder } from './tb-fixtures';
import { listening, mqttBrokerNode } from './toolkit';

const deviceStoreNode = require('../nodes/device-store/device-store');
const integrationNode = require('../nodes/integration/integration');
const uplinkNode = require('../nodes/integration-uplink/integration-uplink');
const downlinkNode = require('../nodes/integration-downlink/integration-downlink');
const rpcRequestNode = require('../nodes/rpc-request/rpc-request');
const msgTypeSwitchNode = require('../nodes/msg-type-switch/msg-type-switch');
const saveAttributesNode = require('../nodes/save-attributes/save-attributes');
const saveTimeseriesNode = require('../nodes/save-timeseries/save-timeseries');
const originatorAttributesNode = require('../nodes/originator-attributes/originator-attributes');
const scriptNode = require('../nodes/script/script');

/** Node-RED's core MQTT nodes (mqtt-broker, mqtt in, mqtt out) from the Node-RED under test. */
const coreMqttNodes = require(
  path.join(
    path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [nodeRedDir()] })),
    'core/network/10-mqtt.js',
  ),
);

const nodes = [
  coreMqttNodes,
  deviceStoreNode,
  integrationNode,
  uplinkNode,
  downlinkNode,
  rpcRequestNode,
  msgTypeSwitchNode,
  saveAttributesNode,
  saveTimeseriesNode,
  originatorAttributesNode,
  scriptNode,
];

// ------------------------------------------------------------------------------------------------ fixtures

const FIXTURE_DECODER = tbUplinkDecoder();
const FIXTURE_ENCODER = tbDownlinkEncoder();
const TUTORIAL_SCRIPT = tbTutorialScript();

/** A decoder that hands the parsed JSON back as the result, as a careless converter would. */
const PASS_THROUGH_DECODER = 'return decodeToJson(payload);';

const INTEGRATION_NAME = 'MQTT integration';
const UPLINK_TOPIC = 'devices/Thermostat-A/temperature/latest';
const SETTINGS_TOPIC = 'devices/Thermostat-A/temperature/settings';

function thermostatJson(extra: Record<string, unknown> = {}, ts = Date.now()): string {
  return JSON.stringify({
    temperature: 25.3,
    deviceName: 'Thermostat-A',
    deviceType: 'thermostat',
    timestamp: ts,
    ...extra,
  });
}

// --------------------------------------------------------------------------------------------- test flows

type NodeDef = Record<string, unknown>;

const mqttBrokerConfig = (port: number): NodeDef => mqttBrokerNode('conn1', port);

function integrationConfig(over: NodeDef = {}): NodeDef {
  return {
    id: 'integ1',
    type: 'rule-integration',
    name: INTEGRATION_NAME,
    decoder: FIXTURE_DECODER,
    encoder: FIXTURE_ENCODER,
    metadata: [],
    deviceStore: 'store1',
    allowCreateDevices: true,
    topicPattern: '${topic}',
    qos: 1,
    retain: false,
    maxPayloadBytes: 65536,
    // Generous: other suites run in parallel on 2 cores.
    timeout: 3000,
    broker: 'conn1',
    // The downlink queue is off here: these tests hold that a downlink the broker cannot take goes to Failure at
    // once; test/downlink-queue.spec.ts tests the queue.
    queueSize: 0,
    ...over,
  };
}

const storeConfig: NodeDef = { id: 'store1', type: 'rule-device-store', store: '', timeout: 5000 };

/** An `mqtt in` node of broker `conn1` (QoS 1, payloads as buffers) on `topic`, sending to `to`. */
const mqttIn = (id: string, topic: string, to: string): NodeDef => ({
  id,
  type: 'mqtt in',
  topic,
  qos: '1',
  datatype: 'buffer',
  broker: 'conn1',
  nl: false,
  rap: true,
  rh: 0,
  inputs: 0,
  wires: [[to]],
});

/** An `mqtt in` that the test's client publishes to until it answers: then Node-RED's subscriptions are live. */
const probeNodes: NodeDef[] = [mqttIn('probeIn', 'probe/ready', 'probeTap'), { id: 'probeTap', type: 'helper' }];

/** mqtt in (buffer) → uplink; Success to `upOk` (+ extra), Failure to `upFail` (+ extra); a Catch node. */
function uplinkFlow(
  port: number,
  opts: { integration?: NodeDef; okWires?: string[]; failWires?: string[]; extra?: NodeDef[] } = {},
): NodeDef[] {
  return inTab([
    mqttBrokerConfig(port),
    storeConfig,
    integrationConfig(opts.integration),
    mqttIn('mqttIn1', 'devices/+/temperature/latest', 'up1'),
    {
      id: 'up1',
      type: 'rule-integration-uplink',
      integration: 'integ1',
      wires: [opts.okWires ?? ['upOk'], opts.failWires ?? ['upFail']],
    },
    { id: 'upOk', type: 'helper' },
    { id: 'upFail', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
    ...(opts.extra ?? []),
    ...probeNodes,
  ]);
}

/** The downlink node `down1` (integration `integ1`) → mqtt out; Success also to `dlOk`, Failure to `dlFail`. */
const downlinkNodes: NodeDef[] = [
  { id: 'down1', type: 'rule-integration-downlink', integration: 'integ1', wires: [['mqttOut1', 'dlOk'], ['dlFail']] },
  { id: 'mqttOut1', type: 'mqtt out', topic: '', qos: '', retain: '', broker: 'conn1' },
  { id: 'dlOk', type: 'helper' },
  { id: 'dlFail', type: 'helper' },
];

/** downlinkNodes on their own, with their config nodes. */
function downlinkFlow(port: number, integration: NodeDef = {}, extra: NodeDef[] = []): NodeDef[] {
  return inTab([
    mqttBrokerConfig(port),
    storeConfig,
    integrationConfig(integration),
    ...downlinkNodes,
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
    ...extra,
  ]);
}

/** The tutorial end to end: uplink → switch → save attributes (client) / save time series, and the knob's RPC
 * request → originator attributes → script → downlink → mqtt out. */
function tutorialFlow(port: number): NodeDef[] {
  return uplinkFlow(port, {
    okWires: ['switch1', 'upOk'],
    extra: [
      {
        id: 'switch1',
        type: 'rule-msg-type-switch',
        wires: [['saveAttr'], ['saveTs'], [], ['switchRpc'], [], [], [], ['switchOther']],
      },
      { id: 'switchRpc', type: 'helper' },
      { id: 'switchOther', type: 'helper' },
      {
        id: 'saveAttr',
        type: 'rule-save-attributes',
        deviceStore: 'store1',
        scope: 'client',
        wires: [['attrSaved'], ['attrFail']],
      },
      { id: 'saveTs', type: 'rule-save-timeseries', deviceStore: 'store1', wires: [['tsSaved'], ['tsFail']] },
      { id: 'attrSaved', type: 'helper' },
      { id: 'attrFail', type: 'helper' },
      { id: 'tsSaved', type: 'helper' },
      { id: 'tsFail', type: 'helper' },
      {
        id: 'rpc1',
        type: 'rule-rpc-request',
        deviceStore: 'store1',
        device: 'Thermostat-A',
        method: 'setValue',
        getValueMethod: 'getValue',
        valueKey: 'temperature',
        timeout: 3000,
        oneway: true,
        wires: [['oa1', 'reqTap'], ['replyTap']],
      },
      { id: 'reqTap', type: 'helper' },
      { id: 'replyTap', type: 'helper' },
      {
        id: 'oa1',
        type: 'rule-originator-attributes',
        deviceStore: 'store1',
        clientAttributeNames: ['deviceName'],
        sharedAttributeNames: [],
        serverAttributeNames: [],
        latestTsKeyNames: [],
        fetchTo: 'metadata',
        wires: [['script1'], ['oaFail']],
      },
      { id: 'oaFail', type: 'helper' },
      {
        id: 'script1',
        type: 'rule-script',
        script: TUTORIAL_SCRIPT,
        timeout: 3000,
        wires: [['down1'], ['scriptFail']],
      },
      { id: 'scriptFail', type: 'helper' },
      ...downlinkNodes,
    ],
  });
}

// ------------------------------------------------------------------------------------------------- helpers

const brokerNode = () => helper.getNode('conn1') as unknown as { connected?: boolean };

const store = () => deviceStoreOf('store1');

/** A rule-engine message into the downlink node `id`. */
function downlink(payload: unknown, id = 'down1', metadata: Record<string, string> = {}): void {
  helper.getNode(id).receive({
    payload,
    metadata,
    msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
    originator: 'Thermostat-A',
  } as unknown as AnyMsg);
}

/** Waits until `c.msgs` has `n` messages; a bounded wait, no timing assertion. */
async function atLeast(c: { msgs: AnyMsg[] }, n: number, ms: number, what: string): Promise<void> {
  await waitFor(() => c.msgs.length >= n, ms, `${n} message(s) on ${what} (got ${c.msgs.length})`);
}

/** Payloads starting with this are the tests' own probes, left out of what subscribers record. */
const PROBE = 'probe-marker-';

const errText = (m: AnyMsg) => String(m.error?.message ?? '');

interface Received {
  topic: string;
  payload: Buffer;
}

describe('MQTT test broker harness and integration nodes', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());

  for (const kind of ['aedes', 'mosquitto'] as BrokerKind[]) {
    describe(`integration over MQTT with ${kind}`, function () {
      this.timeout(60000);
      let broker: TestMqttBroker | undefined;
      const extraBrokers: TestMqttBroker[] = [];
      const clients: MqttClient[] = [];

      before(async function () {
        if (kind === 'mosquitto' && !mosquittoAvailable()) {
          const reason = `mosquitto is not installed (${MOSQUITTO_PATH}); install Debian's package: apt-get install -y mosquitto`;
          if (process.env.CI) throw new Error(`${reason} — CI must run the mosquitto leg`);
          console.log(`      skipping the mosquitto leg: ${reason}`);
          this.skip();
        }
        broker = await startTestBroker(kind);
      });
      after(async () => {
        await broker?.stop();
      });
      afterEach(async () => {
        // Clients first (they would reconnect), then the flow (Node-RED's broker connection), then brokers.
        await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
        await helper.unload();
        helper.settings({});
        await Promise.all(extraBrokers.splice(0).map((b) => b.stop()));
        // A test that stopped the shared broker and failed before starting it again leaves it down.
        if (broker) {
          const up = await listening(broker.port);
          if (!up) await broker.restart();
        }
      });

      /** An mqtt.js client (device or subscriber), ended after the test. */
      async function client(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
        const c = connect(url, { reconnectPeriod: 200, connectTimeout: 5000, ...opts });
        clients.push(c);
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`mqtt client could not connect to ${url}`)), 10000);
          c.once('connect', () => {
            clearTimeout(t);
            resolve();
          });
        });
        return c;
      }

      /** A subscriber on `filter` (QoS 1) recording what arrives; probe messages are left out. */
      async function subscriber(filter: string, opts: IClientOptions = {}) {
        const c = await client(broker!.url, opts);
        const got: Received[] = [];
        c.on('message', (topic, payload) => {
          if (!payload.toString().startsWith(PROBE)) got.push({ topic, payload: Buffer.from(payload) });
        });
        await c.subscribeAsync(filter, { qos: 1 });
        return { c, got };
      }

      /** Loads a flow and waits until Node-RED is connected and its `mqtt in` subscriptions work. */
      async function load(flow: NodeDef[], opts: { probe?: MqttClient; settings?: Record<string, unknown> } = {}) {
        helper.settings({ mqttReconnectTime: 500, ...opts.settings });
        await helper.load(nodes, flow);
        await waitFor(() => brokerNode().connected === true, 15000, `Node-RED to connect to ${kind}`);
        if (opts.probe) await probeNodeRed(opts.probe);
      }

      /** Publishes on probe/ready until Node-RED's probe `mqtt in` (subscribed last) receives it. */
      async function probeNodeRed(c: MqttClient) {
        for (let i = 0; i < 50; i++) {
          const seen = nextMessage('probeTap', 300).then(
            () => true,
            () => false,
          );
          await c.publishAsync('probe/ready', 'x', { qos: 1 });
          if (await seen) return;
        }
        throw new Error('Node-RED never received the probe message: its subscriptions are not live');
      }

      /** Publishes to the subscriber's own filter until it sees its probe (after a reconnect). */
      async function probeSubscriber(c: MqttClient, topic: string) {
        for (let i = 0; i < 100; i++) {
          const marker = `${PROBE}${i}-${Date.now()}`;
          const seen = new Promise<boolean>((resolve) => {
            const t = setTimeout(() => {
              c.off('message', on);
              resolve(false);
            }, 300);
            const on = (_t: string, p: Buffer) => {
              if (p.toString() === marker) {
                clearTimeout(t);
                c.off('message', on);
                resolve(true);
              }
            };
            c.on('message', on);
          });
          if (c.connected) c.publish(topic, marker, { qos: 1 });
          if (await seen) return;
        }
        throw new Error(`the subscriber never saw its probe on ${topic}`);
      }

      // ------------------------------------------------------------------------------------------ harness

      it('harness: the broker carries messages, restarts on the same port, and stops', async () => {
        const sub = await subscriber('harness/#');
        const pub = await client(broker!.url);
        await pub.publishAsync('harness/1', 'one', { qos: 1 });
        await waitFor(() => sub.got.length === 1, 5000, 'harness/1');
        const port = broker!.port;
        await broker!.restart();
        assert.equal(broker!.port, port, 'restart keeps the port');
        assert.equal(broker!.url, `mqtt://127.0.0.1:${port}`);
        await waitFor(() => sub.c.connected && pub.connected, 10000, 'clients to reconnect');
        await probeSubscriber(sub.c, 'harness/probe');
        await pub.publishAsync('harness/2', 'two', { qos: 1 });
        await waitFor(() => sub.got.length === 2, 5000, 'harness/2 after the restart');
        assert.deepEqual(
          sub.got.map((r) => r.payload.toString()),
          ['one', 'two'],
        );
        await broker!.stop();
        assert.equal(await listening(port), false, 'nothing listens after stop()');
        await broker!.stop(); // twice is fine
        await broker!.restart();
        assert.equal(await listening(port), true, 'listening again after restart()');
      });

      it('harness: a persistent broker keeps a clean: false session and its queued QoS 1 messages across restart', async () => {
        const b = await startTestBroker(kind, undefined, { persistent: true });
        extraBrokers.push(b);
        const clientId = `harness-${kind}-${process.pid}`;
        const s1 = connect(b.url, { clientId, clean: false, reconnectPeriod: 0 });
        clients.push(s1);
        await new Promise((r) => s1.once('connect', r));
        await s1.subscribeAsync('kept/#', { qos: 1 });
        await s1.endAsync();
        const pub = connect(b.url, { reconnectPeriod: 0 });
        clients.push(pub);
        await new Promise((r) => pub.once('connect', r));
        await pub.publishAsync('kept/1', 'queued while offline', { qos: 1 });
        await pub.endAsync();
        await b.restart();
        const got: string[] = [];
        const s2 = connect(b.url, { clientId, clean: false, reconnectPeriod: 0 });
        clients.push(s2);
        s2.on('message', (_t, p) => got.push(p.toString()));
        const connack = await new Promise<{ sessionPresent: boolean }>((r) => s2.once('connect', r));
        assert.equal(connack.sessionPresent, true, 'the session survived the restart');
        await waitFor(() => got.length === 1, 5000, 'the queued message');
        assert.deepEqual(got, ['queued while offline']);
      });

      // ---------------------------------------------------------------------------------------- a. tutorial

      it('a. tutorial uplink: the thermostat JSON through mqtt in and the fixture decoder creates the device and saves attributes and telemetry', async () => {
        const device = await client(broker!.url);
        await load(tutorialFlow(broker!.port), { probe: device });
        const ok = collect('upOk');
        const saved = Promise.all([nextMessage('attrSaved', 10000), nextMessage('tsSaved', 10000)]);
        const ts = 1_700_000_000_000;
        await device.publishAsync(UPLINK_TOPIC, thermostatJson({}, ts), { qos: 1 });
        await saved;
        ok.stop();

        const d = await store().getDevice('Thermostat-A');
        assert.equal(d?.name, 'Thermostat-A');
        assert.equal(d?.type, 'thermostat');
        const latest = await store().getLatest('Thermostat-A', ['temperature']);
        assert.deepEqual(latest.get('temperature'), { ts, value: 25.3 });
        const attrs = await store().getAttributes('Thermostat-A', 'client', [
          'deviceName',
          'deviceType',
          'integrationName',
        ]);
        assert.equal(attrs.get('deviceName')?.value, 'Thermostat-A');
        assert.equal(attrs.get('deviceType')?.value, 'thermostat');
        assert.equal(attrs.get('integrationName')?.value, INTEGRATION_NAME);

        // The uplink's Success messages: attributes then telemetry, for the device, with the topic.
        assert.equal(ok.msgs.length, 2);
        const [am, tm] = ok.msgs;
        assert.equal(am.msgType, 'POST_ATTRIBUTES_REQUEST');
        assert.deepEqual(am.payload, {
          integrationName: INTEGRATION_NAME,
          deviceName: 'Thermostat-A',
          deviceType: 'thermostat',
        });
        assert.equal(tm.msgType, 'POST_TELEMETRY_REQUEST');
        assert.deepEqual(tm.payload, [{ ts, values: { temperature: 25.3 } }]);
        for (const m of ok.msgs) {
          assert.equal(m.originator, 'Thermostat-A');
          assert.equal(m.metadata?.deviceName, 'Thermostat-A');
          assert.equal(m.metadata?.deviceType, 'thermostat');
          assert.equal(m.metadata?.topic, UPLINK_TOPIC);
          assert.equal(m.metadata?.integrationName, INTEGRATION_NAME);
          assert.equal(typeof m.metadata?.ts, 'string');
        }
      });

      // ------------------------------------------------------------------------------------------ b. RPC

      it('b. RPC setValue 42 goes through originator attributes, the tutorial script and the fixture encoder to the device; getValue is answered from the store', async () => {
        const device = await client(broker!.url);
        const settings = await subscriber(SETTINGS_TOPIC);
        await load(tutorialFlow(broker!.port), { probe: device });
        // The device reports first: this creates it and saves its client attribute deviceName.
        const saved = Promise.all([nextMessage('attrSaved', 10000), nextMessage('tsSaved', 10000)]);
        await device.publishAsync(UPLINK_TOPIC, thermostatJson({}, 1_700_000_000_000), { qos: 1 });
        await saved;

        const req = collect('reqTap');
        const dlFail = collect('dlFail');
        const stageFails = ['oaFail', 'scriptFail'].map((id) => collect(id));
        const reply = nextMessage('replyTap', 10000);
        helper.getNode('rpc1').receive({ payload: 42 });
        const r = await reply;
        await waitFor(() => settings.got.length >= 1, 10000, `the set-point on ${SETTINGS_TOPIC}`);
        await delay(300); // a quiet stretch: a second publish would arrive in it
        assert.deepEqual(
          settings.got.map((g) => [g.topic, g.payload.toString()]),
          [[SETTINGS_TOPIC, '42']],
          'exactly the bytes "42", once',
        );
        assert.deepEqual(
          stageFails.map((c) => c.msgs.map(errText)),
          [[], []],
        );
        assert.deepEqual(dlFail.msgs.map(errText), []);

        assert.equal(req.msgs.length, 1);
        const q = req.msgs[0];
        assert.equal(q.msgType, 'RPC_CALL_FROM_SERVER_TO_DEVICE');
        assert.equal(q.originator, 'Thermostat-A');
        assert.deepEqual(q.payload, { method: 'setValue', params: '42' });
        assert.equal(q.metadata?.oneway, 'true');
        assert.equal(q.metadata?.deviceName, 'Thermostat-A');
        assert.equal(q.metadata?.deviceType, 'thermostat');
        assert.ok(q.metadata?.requestUUID, 'a requestUUID');

        const rpc = r.rpc as { requestUUID?: string; method?: string; status?: string; error?: string };
        assert.equal(rpc.status, 'ok', `reply: ${JSON.stringify(rpc)}`);
        assert.equal(rpc.method, 'setValue');
        assert.equal(rpc.requestUUID, q.metadata?.requestUUID);
        assert.equal(r.payload, 42);

        // getValue: answered from the latest telemetry; nothing goes to the device.
        const before = settings.got.length;
        const req2 = collect('reqTap');
        const dlOk = collect('dlOk');
        const r2 = await (() => {
          const p = nextMessage('replyTap', 10000);
          helper.getNode('rpc1').receive({ method: 'getValue' });
          return p;
        })();
        await delay(500); // a quiet stretch: no request or downlink may follow the reply
        const rpc2 = r2.rpc as { method?: string; status?: string };
        assert.equal(rpc2.status, 'ok', `reply: ${JSON.stringify(rpc2)}`);
        assert.equal(rpc2.method, 'getValue');
        assert.equal(r2.payload, 25.3);
        assert.equal(req2.msgs.length, 0, 'no request message for getValue');
        assert.equal(dlOk.msgs.length, 0, 'no downlink for getValue');
        assert.equal(settings.got.length, before, 'nothing published for getValue');
      });

      it('b. RPC replies tell the truth: error when the downlink fails (broker down), timeout when nothing reached the downlink', async () => {
        await load(tutorialFlow(broker!.port));
        const s = store();
        await s.ensureDevice('Thermostat-A', 'thermostat');

        // No client attribute deviceName yet: originator attributes fails, the downlink never runs → timeout.
        const oaFail = nextMessage('oaFail', 10000);
        let reply = nextMessage('replyTap', 15000);
        helper.getNode('rpc1').receive({ payload: 7 });
        await oaFail;
        let r = await reply;
        let rpc = r.rpc as { status?: string; error?: string; method?: string };
        assert.equal(rpc.status, 'timeout', JSON.stringify(rpc));
        assert.equal(r.payload, 7);

        // With the attribute saved but the broker down: the downlink fails → error, never a false 'ok'.
        await s.saveAttributes('Thermostat-A', 'client', { deviceName: 'Thermostat-A' }, Date.now());
        await broker!.stop();
        await waitFor(() => brokerNode().connected === false, 15000, 'Node-RED to notice the broker is gone');
        const dlFail = nextMessage('dlFail', 10000);
        reply = nextMessage('replyTap', 10000);
        helper.getNode('rpc1').receive({ payload: 8 });
        const f = await dlFail;
        r = await reply;
        rpc = r.rpc as { status?: string; error?: string; method?: string };
        assert.equal(rpc.status, 'error', JSON.stringify(rpc));
        assert.equal(rpc.error, errText(f), 'the reply carries the downlink error');
        assert.match(String(rpc.error), /not connected|disconnected/i);
        assert.equal(r.payload, 8);
        await broker!.restart();
      });

      // -------------------------------------------------------------------------------------- non-UTF-8

      it('bytes FF FE 7B 22 go to Failure and Catch with the original bytes; the next good message succeeds', async () => {
        const device = await client(broker!.url);
        await load(uplinkFlow(broker!.port), { probe: device });
        const ok = collect('upOk');
        const bad = Buffer.from([0xff, 0xfe, 0x7b, 0x22]);
        const fail = nextMessage('upFail', 10000);
        const caught = nextMessage('caught', 10000);
        await device.publishAsync(UPLINK_TOPIC, bad, { qos: 1 });
        const f = await fail;
        const c = await caught;
        assert.ok(Buffer.isBuffer(f.payload), 'Failure payload is a Buffer');
        assert.ok(bad.equals(f.payload as Buffer), `Failure payload ${String((f.payload as Buffer)?.toString('hex'))}`);
        assert.ok(errText(f).length > 0, 'an error message');
        assert.ok(f.error?.code || f.error?.kind, 'an error code or kind');
        assert.ok(Buffer.isBuffer(c.payload) && bad.equals(c.payload as Buffer), 'Catch sees the original bytes');
        // Catch gets Node-RED's rendering of the same error (the error's name in front).
        assert.ok(String((c.error as { message?: string })?.message).endsWith(errText(f)), 'Catch sees the same error');
        assert.equal(ok.msgs.length, 0, 'nothing on Success for the bad bytes');

        await device.publishAsync(UPLINK_TOPIC, thermostatJson(), { qos: 1 });
        await atLeast(ok, 2, 10000, 'Success after the bad message');
        assert.deepEqual(
          ok.msgs.map((m) => m.msgType),
          ['POST_ATTRIBUTES_REQUEST', 'POST_TELEMETRY_REQUEST'],
        );
      });

      // -------------------------------------------------------------------------------- nested 10,000 deep

      for (const [label, body] of [
        [
          'arrays',
          `{"deviceName":"Deep","deviceType":"x","attributes":{"n":${'['.repeat(10000)}${']'.repeat(10000)}}}`,
        ],
        [
          'objects',
          `{"deviceName":"Deep","deviceType":"x","attributes":${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}}`,
        ],
      ] as const) {
        it(`a payload with ${label} nested 10,000 deep gives a depth error on Failure, the same on both wires`, async () => {
          const device = await client(broker!.url);
          await load(
            uplinkFlow(broker!.port, {
              integration: { decoder: PASS_THROUGH_DECODER },
              failWires: ['fail1', 'fail2'],
              extra: [
                { id: 'fail1', type: 'helper' },
                { id: 'fail2', type: 'helper' },
              ],
            }),
            { probe: device },
          );
          const ok = collect('upOk');
          const bytes = Buffer.from(body);
          assert.ok(bytes.length < 65536, `${bytes.length} bytes: under the size limit, so the depth is what fails`);
          const both = Promise.all([nextMessage('fail1', 15000), nextMessage('fail2', 15000)]);
          await device.publishAsync(UPLINK_TOPIC, bytes, { qos: 1 });
          const [f1, f2] = await both;
          for (const f of [f1, f2]) {
            assert.match(errText(f), /nested deeper than 1000 levels/);
            assert.equal((f.error as { code?: string }).code, 'too-deep');
            assert.ok(Buffer.isBuffer(f.payload) && bytes.equals(f.payload as Buffer), 'the original bytes');
          }
          assert.equal(errText(f1), errText(f2));
          assert.deepEqual(f1.error, f2.error);
          await delay(200); // a quiet stretch: nothing may reach Success
          assert.equal(ok.msgs.length, 0);

          // Still working: a flat message from the same decoder succeeds.
          await device.publishAsync(UPLINK_TOPIC, '{"deviceName":"Flat","attributes":{"a":1}}', { qos: 1 });
          await atLeast(ok, 1, 10000, 'Success after the deep message');
          assert.deepEqual(ok.msgs[0].payload, { a: 1 });
        });
      }

      // ----------------------------------------------------------------------------------- __proto__ keys

      const protoCases: Array<[string, string, string, number]> = [
        [
          'a decoder returning the parsed JSON',
          PASS_THROUGH_DECODER,
          '{"deviceName":"Evil","deviceType":"x","attributes":{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}},"ok":1},"telemetry":{"__proto__":{"isAdmin":true},"t":1}}',
          2,
        ],
        [
          'the fixture decoder',
          FIXTURE_DECODER,
          `{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}},${thermostatJson().slice(1)}`,
          2,
        ],
      ];
      for (const [label, decoder, text, count] of protoCases) {
        it(`__proto__ and constructor keys through ${label} pollute nothing on either Success wire`, async () => {
          const device = await client(broker!.url);
          await load(
            uplinkFlow(broker!.port, {
              integration: { decoder },
              okWires: ['ok1', 'ok2'],
              extra: [
                { id: 'ok1', type: 'helper' },
                { id: 'ok2', type: 'helper' },
              ],
            }),
            { probe: device },
          );
          const raw = text;
          assert.match(raw, /"__proto__"/);
          const o1 = collect('ok1');
          const o2 = collect('ok2');
          const fail = collect('upFail');
          await device.publishAsync(UPLINK_TOPIC, raw, { qos: 1 });
          await atLeast(o1, count, 10000, 'ok1');
          await atLeast(o2, count, 10000, 'ok2');
          assert.deepEqual(fail.msgs.map(errText), []);
          for (const m of [...o1.msgs, ...o2.msgs]) {
            const p = m.payload as Record<string, unknown> & Array<Record<string, unknown>>;
            assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined, 'Object.prototype untouched');
            assert.equal((p as { isAdmin?: unknown }).isAdmin, undefined, `${m.msgType}: payload.isAdmin`);
            assert.equal((m.metadata as { isAdmin?: unknown }).isAdmin, undefined, 'metadata.isAdmin');
            assert.equal((m as { isAdmin?: unknown }).isAdmin, undefined, 'msg.isAdmin');
            const proto = Object.getPrototypeOf(p);
            assert.ok(
              proto === Object.prototype || proto === Array.prototype || proto === null,
              'payload has a plain prototype',
            );
            assert.equal(Object.hasOwn(p, '__proto__'), false, 'the __proto__ key is dropped');
            if (Array.isArray(p)) {
              for (const b of p) {
                assert.equal((b as { isAdmin?: unknown }).isAdmin, undefined);
                assert.equal((b.values as { isAdmin?: unknown }).isAdmin, undefined, 'telemetry values.isAdmin');
                assert.equal(Object.hasOwn(b.values as object, '__proto__'), false);
              }
            }
          }
          assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined);
          if (label.startsWith('a decoder')) {
            assert.equal((o1.msgs[0].payload as Record<string, unknown>).ok, 1, 'the other keys arrive');
          }
        });
      }

      // ------------------------------------------------------------------------------------ 2 MB payload

      it('a 2 MB payload is rejected before the decoder runs, naming the 65,536-byte default limit', async () => {
        const device = await client(broker!.url);
        const integration = integrationConfig({
          decoder: "throw new Error('DECODER-RAN on ' + payload.length + ' bytes');",
        });
        delete integration.maxPayloadBytes; // the default
        await load(uplinkFlow(broker!.port, { integration }), { probe: device });
        const ok = collect('upOk');

        // Control: a small payload does reach this decoder, and its error would show.
        let fail = nextMessage('upFail', 10000);
        await device.publishAsync(UPLINK_TOPIC, '{}', { qos: 1 });
        assert.match(errText(await fail), /DECODER-RAN on 2 bytes/);

        const big = Buffer.alloc(2 * 1024 * 1024, 0x61);
        fail = nextMessage('upFail', 20000);
        const caught = nextMessage('caught', 20000).catch(() => undefined);
        await device.publishAsync(UPLINK_TOPIC, big, { qos: 1 });
        const f = await fail;
        assert.doesNotMatch(errText(f), /DECODER-RAN/, 'the decoder did not run');
        assert.match(errText(f), /65,?536/, `names the limit: ${errText(f)}`);
        assert.match(errText(f), /2,?097,?152/, 'names the size');
        assert.ok(f.error?.code || f.error?.kind, 'an error code or kind');
        assert.ok(Buffer.isBuffer(f.payload) && big.equals(f.payload as Buffer), 'the original bytes travel');
        assert.ok(await caught, 'Catch sees it too');
        assert.equal(ok.msgs.length, 0);
      });

      it('a configured limit is named, and a payload of exactly the limit reaches the decoder', async () => {
        const device = await client(broker!.url);
        await load(
          uplinkFlow(broker!.port, {
            integration: {
              decoder: "throw new Error('DECODER-RAN on ' + payload.length + ' bytes');",
              maxPayloadBytes: 1000,
            },
          }),
          { probe: device },
        );
        let fail = nextMessage('upFail', 10000);
        await device.publishAsync(UPLINK_TOPIC, Buffer.alloc(1001, 0x62), { qos: 1 });
        let f = await fail;
        assert.doesNotMatch(errText(f), /DECODER-RAN/);
        assert.match(errText(f), /1,?000 bytes/);
        fail = nextMessage('upFail', 10000);
        await device.publishAsync(UPLINK_TOPIC, Buffer.alloc(1000, 0x62), { qos: 1 });
        f = await fail;
        assert.match(errText(f), /DECODER-RAN on 1000 bytes/);
      });

      // ---------------------------------------------------------------------------------- broker down

      for (const coalesce of [true, false]) {
        it(`downlink queue: 1,000 commands to 50 devices while the broker is stopped; after it is back ${coalesce ? 'each device gets its newest set-point and the replaced ones are at Failure' : 'every command arrives, in order per device'}`, async () => {
          // The broker keeps the subscriber's session across the restart, so what Node-RED publishes on reconnect
          // reaches it even if it reconnects later.
          const b = await startTestBroker(kind, undefined, { persistent: true });
          extraBrokers.push(b);
          const clientId = `queue-${kind}-${coalesce}-${process.pid}-${Date.now() % 100000}`;
          const sub = connect(b.url, { clientId, clean: false, reconnectPeriod: 300, connectTimeout: 5000 });
          clients.push(sub);
          await new Promise((r) => sub.once('connect', r));
          const got = new Map<string, number[]>();
          sub.on('message', (topic, p) => {
            const dev = topic.split('/')[1] as string;
            got.set(dev, [...(got.get(dev) ?? []), Number(p.toString())]);
          });
          await sub.subscribeAsync('cmd/+', { qos: 1 });
          await load(
            downlinkFlow(b.port, {
              encoder:
                "return {contentType: 'TEXT', data: String(msg.params), metadata: {topic: 'cmd/' + metadata.deviceName}};",
              queueSize: 1000,
              queueMaxAge: 60,
              coalesce,
            }),
            { settings: { mqttReconnectTime: 300 } },
          );
          const ok = collect('dlOk');
          const fail = collect('dlFail');
          await b.stop();
          await waitFor(() => brokerNode().connected === false, 15000, 'Node-RED to notice the broker is gone');
          const N = 1000;
          const D = 50;
          const sent = new Map<string, number[]>();
          for (let i = 0; i < N; i++) {
            const dev = `dev-${i % D}`;
            sent.set(dev, [...(sent.get(dev) ?? []), i]);
            helper.getNode('down1').receive({
              payload: { method: 'setValue', params: i },
              metadata: { deviceName: dev, oneway: 'true', expirationTime: String(Date.now() + 60_000) },
              msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
              originator: dev,
            } as unknown as AnyMsg);
          }
          const replaced = coalesce ? N - D : 0;
          await atLeast(fail, replaced, 20000, 'dlFail');
          // Every command has reached the queue before the broker comes back.
          const waitingNow = coalesce ? D : N;
          await waitFor(
            () => statusCalls('down1').some((st) => String(st.text).startsWith(`${waitingNow} queued`)),
            20000,
            `a status of ${waitingNow} queued`,
          );
          assert.equal(ok.msgs.length, 0, 'nothing on Success while the broker is down');
          for (const m of fail.msgs) assert.equal(m.error?.code, 'downlink-superseded', errText(m));

          await b.restart();
          const expected = coalesce ? D : N;
          await waitFor(
            () => [...got.values()].reduce((n, l) => n + l.length, 0) >= expected,
            30000,
            `${expected} commands at the subscriber`,
          );
          await delay(500); // a quiet stretch in which extra publishes would arrive
          assert.equal(ok.msgs.length, expected, 'one Success per command sent');
          assert.equal(ok.msgs.length + fail.msgs.length, N, 'every command at Success or at Failure: none lost');
          // The order is ours to keep up to mqtt out; a broker resuming a persistent session may reorder its
          // own delivery (seen with mosquitto 2.0 here), so the subscriber is checked for exactly-once only.
          const published = new Map<string, number[]>();
          for (const m of ok.msgs) {
            const dev = String(m.originator);
            published.set(dev, [...(published.get(dev) ?? []), Number(m.payload)]);
          }
          for (const [dev, values] of sent) {
            const want = coalesce ? [values.at(-1)] : values;
            assert.deepEqual(published.get(dev), want, `what went to mqtt out for ${dev}, in order`);
            assert.deepEqual(
              [...(got.get(dev) ?? [])].sort((x, y) => x - y),
              want,
              `what ${dev} received, each once`,
            );
          }
        });
      }

      it('every downlink while the broker is down goes to Failure, counted on the status; after it is back they get through', async () => {
        const sub = await subscriber('cmd/#');
        await load(
          downlinkFlow(broker!.port, {
            encoder: "return {contentType: 'TEXT', data: String(msg.n), metadata: {topic: 'cmd/' + msg.n}};",
          }),
        );
        const ok = collect('dlOk');
        const fail = collect('dlFail');
        const caught = collect('caught');
        downlink({ n: 0 });
        await waitFor(() => sub.got.length === 1, 10000, 'cmd/0 while the broker is up');

        await broker!.stop();
        await waitFor(() => brokerNode().connected === false, 15000, 'Node-RED to notice the broker is gone');
        const K = 5;
        for (let n = 1; n <= K; n++) downlink({ n });
        await atLeast(fail, K, 10000, 'dlFail');
        await delay(300); // a quiet stretch: no extra Failure or Success may follow
        assert.equal(fail.msgs.length, K, 'one Failure per downlink');
        assert.equal(ok.msgs.length, 1, 'none on Success while the broker is down');
        assert.equal(caught.msgs.length, K, 'Catch sees each one');
        assert.deepEqual(
          fail.msgs.map((m) => (m.payload as { n: number }).n),
          [1, 2, 3, 4, 5],
          'the Failure messages carry what was not sent',
        );
        for (const m of fail.msgs) assert.match(errText(m), /not connected|disconnected/i);
        const st = statusCalls('down1').at(-1);
        assert.equal(st?.fill, 'red', `status ${JSON.stringify(st)}`);
        assert.match(String(st?.text), /\b5\b/, `the status counts the 5 not sent: ${JSON.stringify(st)}`);

        await broker!.restart();
        await waitFor(() => brokerNode().connected === true, 20000, 'Node-RED to reconnect');
        await waitFor(() => sub.c.connected, 20000, 'the subscriber to reconnect');
        await probeSubscriber(sub.c, 'cmd/probe');
        sub.got.length = 0;
        downlink({ n: 6 });
        await waitFor(() => sub.got.length === 1, 10000, 'cmd/6 after the broker is back');
        assert.deepEqual(
          sub.got.map((g) => [g.topic, g.payload.toString()]),
          [['cmd/6', '6']],
        );
        assert.equal(fail.msgs.length, K, 'no new failure');
        assert.notEqual(statusCalls('down1').at(-1)?.fill, 'red', 'the status recovers');
      });

      // -------------------------------------------------------------------------- restart mid QoS 1 stream

      /**
       * N downlinks at a steady rate (one per 10 ms) through downlink → mqtt out (QoS 1) to a subscriber with a
       * persistent session (clean: false, fixed clientId, QoS 1 subscription); the broker restarts after N/3.
       * Node-RED reconnects after 300 ms, the subscriber only after 1.5 s: what is published in between
       * reaches the subscriber only if the broker kept its session across the restart.
       */
      async function streamThroughRestart(persistent: boolean) {
        const b = await startTestBroker(kind, undefined, { persistent });
        extraBrokers.push(b);
        const N = 300;
        const clientId = `stream-${kind}-${process.pid}-${Date.now() % 100000}`;
        const sub = connect(b.url, { clientId, clean: false, reconnectPeriod: 1500, connectTimeout: 5000 });
        clients.push(sub);
        await new Promise((r) => sub.once('connect', r));
        const counts = new Map<number, number>();
        let lastReceipt = Date.now();
        sub.on('message', (topic, p) => {
          if (topic !== 'stream/seq') return;
          const seq = Number(p.toString());
          counts.set(seq, (counts.get(seq) ?? 0) + 1);
          lastReceipt = Date.now();
        });
        await sub.subscribeAsync('stream/seq', { qos: 1 });

        await load(
          downlinkFlow(b.port, {
            encoder: "return {contentType: 'TEXT', data: String(msg.seq), metadata: {topic: 'stream/seq'}};",
            qos: 1,
          }),
          { settings: { mqttReconnectTime: 300 } },
        );
        const ok = collect('dlOk');
        const fail = collect('dlFail');
        let sawDisconnect = false;
        let restart: Promise<void> | undefined;
        for (let seq = 0; seq < N; seq++) {
          if (seq === Math.floor(N / 3)) restart = b.restart();
          downlink({ seq });
          if (brokerNode().connected !== true) sawDisconnect = true;
          await delay(10); // spreads the stream over the restart
        }
        await restart;
        const failedSeqs = () => new Set(fail.msgs.map((m) => (m.payload as { seq: number }).seq));
        const accounted = () => {
          const f = failedSeqs();
          let n = f.size;
          for (const seq of counts.keys()) if (!f.has(seq)) n++;
          return n;
        };
        // Until everything is accounted for, or (for what a broker lost) nothing new arrived for 3 s after the
        // subscriber is back; bounded either way.
        await waitFor(
          () =>
            ok.msgs.length + fail.msgs.length >= N &&
            (accounted() >= N || (sub.connected && Date.now() - lastReceipt > 3000)),
          30000,
          'the stream to settle',
        ).catch(() => {});
        await delay(1000); // a quiet stretch in which late duplicates would arrive

        const failed = failedSeqs();
        const receivedUnique = counts.size;
        const duplicates = [...counts.values()].reduce((s, c) => s + c - 1, 0);
        const both = [...failed].filter((s) => counts.has(s)).length;
        const lost = [...Array(N).keys()].filter((s) => !failed.has(s) && !counts.has(s));
        const figures = {
          broker: kind,
          persistent,
          N,
          success: ok.msgs.length,
          failed: failed.size,
          receivedUnique,
          duplicates,
          receivedAndFailed: both,
          lost: lost.length,
        };
        console.log(`      [23] ${JSON.stringify(figures)}`);
        assert.ok(sawDisconnect, 'the restart really cut the connection mid-stream');
        assert.equal(ok.msgs.length + fail.msgs.length, N, 'exactly one of Success or Failure per downlink');
        assert.equal(fail.msgs.length, failed.size, 'no downlink failed twice');
        assert.equal(both, 0, 'a downlink on Failure was never published');
        assert.ok(
          [...counts.keys()].every((s) => Number.isInteger(s) && s >= 0 && s < N),
          'only what was sent',
        );
        assert.ok(counts.has(N - 1) || lost.includes(N - 1), 'the last one is accounted for');
        for (const m of fail.msgs) assert.match(errText(m), /not connected|disconnected/i);
        return { N, failed, receivedUnique, lost, counts };
      }

      it('broker restart during a QoS 1 stream (broker keeps sessions): zero loss, every downlink received or on Failure, duplicates counted', async () => {
        // Zero loss needs the broker to keep the subscriber's session (and messages queued for it) across
        // the restart: mosquitto with `persistence true`, aedes with its persistence handed to the new instance.
        const r = await streamThroughRestart(true);
        assert.deepEqual(r.lost.slice(0, 20), [], `lost (neither received nor failed): ${r.lost.length}`);
        assert.equal(r.receivedUnique + r.failed.size, r.N);
        assert.ok(r.counts.has(r.N - 1), 'the stream resumed after the restart');
      });

      it('control: without broker persistence the same restart loses what nobody can count: zero loss needs a persistent session', async () => {
        // The broker acknowledges (PUBACK) what Node-RED publishes while the subscriber's session is gone, and
        // drops it: neither Node-RED nor the package can see that loss. This proves the test above can fail.
        const r = await streamThroughRestart(false);
        assert.ok(r.lost.length > 0, 'a broker without persistence loses messages across the restart');
        assert.equal(r.receivedUnique + r.failed.size + r.lost.length, r.N);
      });

      // -------------------------------------------------------------------------------- invalid topics

      it('invalid and unresolved downlink topics go to Failure and nothing is published', async () => {
        const sub = await subscriber('#');
        const encoder = "return {contentType: 'TEXT', data: 'x', metadata: {topic: msg.topic}};";
        await load(
          downlinkFlow(broker!.port, { encoder }, [
            integrationConfig({ id: 'integNope', name: 'unresolved', encoder, topicPattern: 'devices/${nope}/cmd' }),
            {
              id: 'down2',
              type: 'rule-integration-downlink',
              integration: 'integNope',
              wires: [['mqttOut1', 'dlOk'], ['dlFail']],
            },
          ]),
        );
        const ok = collect('dlOk');
        const cases: Array<[string, string, RegExp]> = [
          ['a + wildcard', 'dev/+/cmd', /wildcard/i],
          ['a # wildcard', 'a#', /wildcard/i],
          ['a tab', 'a\tb', /control|invalid/i],
          ['the empty topic', '', /empty|unresolved/i],
          ['a NUL character', 'a\u0000b', /NUL|control/i],
          ['65,536 UTF-8 bytes in 32,768 characters', 'é'.repeat(32768), /65,?535/],
          ['65,536 ASCII bytes', 'a'.repeat(65536), /65,?535/],
        ];
        for (const [label, topic, re] of cases) {
          const f = nextMessage('dlFail', 10000);
          downlink({ topic });
          const m = await f;
          assert.match(errText(m), re, `${label}: ${errText(m).slice(0, 200)}`);
          assert.match(errText(m), /topic/i, `${label}: the message says it is about the topic`);
        }
        const f = nextMessage('dlFail', 10000);
        downlink({ topic: 'ignored' }, 'down2');
        const m = await f;
        assert.match(errText(m), /nope/);
        assert.match(errText(m), /unresolved/i);

        await delay(500); // a quiet stretch: nothing may reach Success or the broker
        assert.equal(ok.msgs.length, 0, 'nothing on Success');
        assert.deepEqual(
          sub.got.map((g) => g.topic),
          [],
          'nothing published',
        );
        // Control: the same path does publish a valid topic, so the subscriber would have seen the others.
        downlink({ topic: 'dev/1/cmd' });
        await waitFor(() => sub.got.length === 1, 10000, 'the valid topic');
        assert.equal(sub.got[0].topic, 'dev/1/cmd');
      });

      // --------------------------------------------------------------------------------- content types

      it('j. TEXT, BINARY (base64), JSON object data and an array of two results are published as such', async () => {
        const sub = await subscriber('ct/#');
        await load(
          downlinkFlow(broker!.port, {
            encoder: [
              "if (msg.kind === 'text') return {contentType: 'TEXT', data: 'hello, world', metadata: {topic: 'ct/text'}};",
              "if (msg.kind === 'binary') return {contentType: 'BINARY', data: 'AQID/w==', metadata: {topic: 'ct/binary'}};",
              "if (msg.kind === 'json') return {contentType: 'JSON', data: {a: 1, b: [2, 'x']}, metadata: {topic: 'ct/json'}};",
              "return [{contentType: 'TEXT', data: 'one', metadata: {topic: 'ct/two/1'}}, {contentType: 'TEXT', data: 'two', metadata: {topic: 'ct/two/2'}}];",
            ].join('\n'),
          }),
        );
        const ok = collect('dlOk');
        const fail = collect('dlFail');
        const expect = async (kindOf: string, want: Array<[string, Buffer]>) => {
          sub.got.length = 0;
          const before = ok.msgs.length;
          downlink({ kind: kindOf });
          await waitFor(() => sub.got.length >= want.length, 10000, `${kindOf} publish`);
          await waitFor(() => ok.msgs.length - before >= want.length, 10000, `${kindOf} Success`);
          await delay(200); // a quiet stretch: no extra publish or Success may follow
          assert.deepEqual(
            sub.got.map((g) => [g.topic, g.payload.toString('hex')]),
            want.map(([t, p]) => [t, p.toString('hex')]),
            kindOf,
          );
          assert.equal(ok.msgs.length - before, want.length, `${kindOf}: Success messages`);
          for (const m of ok.msgs.slice(before)) {
            assert.equal(m.qos, 1);
            assert.equal(m.retain, false);
            assert.equal(typeof m.contentType, 'string');
          }
        };
        await expect('text', [['ct/text', Buffer.from('hello, world')]]);
        await expect('binary', [['ct/binary', Buffer.from([1, 2, 3, 255])]]);
        await expect('json', [['ct/json', Buffer.from('{"a":1,"b":[2,"x"]}')]]);
        await expect('two', [
          ['ct/two/1', Buffer.from('one')],
          ['ct/two/2', Buffer.from('two')],
        ]);
        assert.deepEqual(fail.msgs.map(errText), []);
      });

      // ------------------------------------------------------------------ k. ThingsBoard's MQTT tutorial in TBEL

      // ThingsBoard's MQTT integration guide, in TBEL: the device's name is the fourth level of the topic, a reading
      // `{"value": t}` on .../temperature becomes telemetry `temperature`, a device's answer on .../rx/response is
      // saved as it is; the knob's set-point (a string, sometimes quoted) goes down as `{"value": n}` to .../rx, and
      // an attributes update goes down as JSON to <deviceType>/<deviceName>/upload. The scripts are our own, written
      // from that documented behaviour, with the constructs those guides use: block comments, JSON.parse, split and
      // endsWith, a variable declared without a value, `metadata['key']`, trailing commas in map literals, a
      // statement without its semicolon, replaceAll with a Java regex, parseInt, an empty map filled field by field.
      const TB_DECODER = [
        '/** The device is named by the topic: tb/<application>/sensors/<device>/... **/',
        'var text = decodeToString(payload);',
        'var reading = JSON.parse(text);',
        'var levels = metadata.topic.split("/");',
        'var telemetry;',
        "if (metadata.topic.endsWith('/temperature')) {",
        '    telemetry = {temperature: reading.value,};',
        "} else if (metadata.topic.endsWith('/rx/response')) {",
        '    telemetry = reading',
        '}',
        'return {',
        '    deviceName: levels[3],',
        "    deviceType: 'sensor',",
        "    attributes: {integrationName: metadata['integrationName'],},",
        '    telemetry: telemetry,',
        '};',
      ].join('\n');
      const TB_ENCODER = [
        '// The set-point from the knob is text, quoted or not; the device wants a number.',
        'if (msgType == "RPC_CALL_FROM_SERVER_TO_DEVICE") {',
        '    var setPoint = parseInt(msg.params.replaceAll("[\\"]", ""));',
        '    var body = {value: setPoint}',
        '    return {',
        '        contentType: "JSON",',
        '        data: JSON.stringify(body),',
        "        metadata: {topic: 'tb/mqtt-integration-tutorial/sensors/' + metadata['deviceName'] + '/rx'},",
        '    };',
        '}',
        '/** An attributes update: the upload periods and the serial number, to <type>/<name>/upload **/',
        'var settings = {};',
        'settings.tempFreq = msg.temperatureUploadFrequency;',
        'settings.humFreq = msg.humidityUploadFrequency;',
        "settings.devSerialNumber = metadata['ss_serialNumber'];",
        'return {',
        '    contentType: "JSON",',
        '    data: JSON.stringify(settings),',
        "    metadata: {topic: metadata['deviceType'] + '/' + metadata['deviceName'] + '/upload'},",
        '};',
      ].join('\n');

      it("k. ThingsBoard's MQTT integration tutorial in TBEL: readings and answers up by topic, the set-point and an attributes update down", async () => {
        const device = await client(broker!.url);
        const down = await subscriber('tb/mqtt-integration-tutorial/sensors/+/rx');
        const upload = await subscriber('sensor/+/upload');
        await load(
          inTab([
            mqttBrokerConfig(broker!.port),
            storeConfig,
            integrationConfig({
              decoder: TB_DECODER,
              decoderLanguage: 'tbel',
              encoder: TB_ENCODER,
              encoderLanguage: 'tbel',
            }),
            mqttIn('mqttInT', 'tb/mqtt-integration-tutorial/sensors/+/temperature', 'up1'),
            mqttIn('mqttInR', 'tb/mqtt-integration-tutorial/sensors/+/rx/response', 'up1'),
            { id: 'up1', type: 'rule-integration-uplink', integration: 'integ1', wires: [['upOk'], ['upFail']] },
            { id: 'upOk', type: 'helper' },
            { id: 'upFail', type: 'helper' },
            ...downlinkNodes,
            ...probeNodes,
          ]),
          { probe: device },
        );
        const ok = collect('upOk');
        const fail = collect('upFail');
        const dlFail = collect('dlFail');

        await device.publishAsync('tb/mqtt-integration-tutorial/sensors/SN-001/temperature', '{"value": 25.1}', {
          qos: 1,
        });
        await device.publishAsync('tb/mqtt-integration-tutorial/sensors/SN-001/rx/response', '{"rpcReceived":"OK"}', {
          qos: 1,
        });
        await atLeast(ok, 4, 10000, 'the uplink Success output');
        await delay(200); // a quiet stretch: nothing more may follow
        const byType = (type: string) => ok.msgs.filter((m) => m.msgType === type);
        for (const m of ok.msgs) {
          assert.equal(m.originator, 'SN-001');
          assert.equal(m.metadata?.deviceType, 'sensor');
        }
        assert.deepEqual(
          byType('POST_ATTRIBUTES_REQUEST').map((m) => m.payload),
          [{ integrationName: INTEGRATION_NAME }, { integrationName: INTEGRATION_NAME }],
        );
        const telemetry = byType('POST_TELEMETRY_REQUEST').map((m) => m.payload as { ts: number; values: unknown }[]);
        assert.deepEqual(
          telemetry.map((p) => p.map((point) => point.values)),
          [[{ temperature: 25.1 }], [{ rpcReceived: 'OK' }]],
        );
        for (const p of telemetry) assert.equal(typeof p[0]?.ts, 'number', 'the integration stamps the time');
        assert.deepEqual(fail.msgs.map(errText), []);

        // The knob's set-point, as ThingsBoard's knob sends it (a string), quoted once more by a careless widget.
        for (const params of ['32', '"33"']) {
          downlink({ method: 'setValue', params }, 'down1', { deviceName: 'SN-001', deviceType: 'sensor' });
        }
        await waitFor(() => down.got.length >= 2 || dlFail.msgs.length > 0, 10000, 'two set-points at the device');
        assert.deepEqual(dlFail.msgs.map(errText), []);
        assert.deepEqual(
          down.got.map((g) => [g.topic, g.payload.toString()]),
          [
            ['tb/mqtt-integration-tutorial/sensors/SN-001/rx', '{"value":32}'],
            ['tb/mqtt-integration-tutorial/sensors/SN-001/rx', '{"value":33}'],
          ],
        );

        helper.getNode('down1').receive({
          payload: { temperatureUploadFrequency: 60, humidityUploadFrequency: 30 },
          metadata: { deviceName: 'SN-001', deviceType: 'sensor', ss_serialNumber: 'SN-001' },
          msgType: 'ATTRIBUTES_UPDATED',
          originator: 'SN-001',
        } as unknown as AnyMsg);
        await waitFor(() => upload.got.length >= 1, 10000, 'the attributes update at the device');
        assert.deepEqual(
          upload.got.map((g) => [g.topic, JSON.parse(g.payload.toString())]),
          [['sensor/SN-001/upload', { tempFreq: 60, humFreq: 30, devSerialNumber: 'SN-001' }]],
        );
        assert.deepEqual(dlFail.msgs.map(errText), []);
      });
    });
  }
});
