/**
 * What the RPC suites share: the nodes of an integration flow with the core MQTT nodes, a describe block per
 * real broker, loading a flow once its broker is connected, and a simulated device that gets requests on
 * devices/{name}/rpc/request.
 */
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { type BrokerKind, mosquittoAvailable, startTestBroker, type TestMqttBroker } from './mqtt-broker';
import { collect, delay, helper, inTab, nodeRedDir, waitFor } from './support';
import { mqttBrokerNode } from './toolkit';

export const integrationNodes = [
  require(
    path.join(
      path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [nodeRedDir()] })),
      'core/network/10-mqtt.js',
    ),
  ),
  require('../nodes/device-store/device-store'),
  require('../nodes/integration/integration'),
  require('../nodes/integration-uplink/integration-uplink'),
  require('../nodes/integration-downlink/integration-downlink'),
  require('../nodes/rpc-request/rpc-request'),
];

export interface IntegrationFlowOptions {
  port: number;
  decoder: string;
  encoder: string;
  allowCreateDevices: boolean;
  /** What the uplink `up1` takes, from `mqtt in` nodes in1, in2, ... */
  topics: string[];
  /** Settings of the device store `store1` over the defaults. */
  store?: Record<string, unknown>;
}

/**
 * A flow with the broker `conn1`, the device store `store1`, the integration `integ1` and `nodes` (the rpc
 * request nodes and their helpers): Request into the downlink `down1` (to `mqtt out`, Failure to helper
 * `dlFail`); what the devices send through `mqtt in` to the uplink `up1` (Success to `upOk`, Failure to `upFail`).
 */
export function integrationFlow(o: IntegrationFlowOptions, nodes: Array<Record<string, unknown>>) {
  return inTab([
    mqttBrokerNode('conn1', o.port),
    { id: 'store1', type: 'rule-device-store', store: '', timeout: 5000, ...o.store },
    {
      id: 'integ1',
      type: 'rule-integration',
      name: 'devices',
      decoder: o.decoder,
      encoder: o.encoder,
      metadata: [],
      deviceStore: 'store1',
      allowCreateDevices: o.allowCreateDevices,
      topicPattern: '${topic}',
      qos: 1,
      timeout: 3000,
      broker: 'conn1',
    },
    ...nodes,
    { id: 'down1', type: 'rule-integration-downlink', integration: 'integ1', wires: [['out1'], ['dlFail']] },
    { id: 'out1', type: 'mqtt out', topic: '', qos: '', retain: '', broker: 'conn1' },
    { id: 'dlFail', type: 'helper' },
    ...o.topics.map((topic, i) => ({
      id: `in${i + 1}`,
      type: 'mqtt in',
      topic,
      qos: '1',
      datatype: 'buffer',
      broker: 'conn1',
      wires: [['up1']],
    })),
    { id: 'up1', type: 'rule-integration-uplink', integration: 'integ1', wires: [['upOk'], ['upFail']] },
    { id: 'upOk', type: 'helper' },
    { id: 'upFail', type: 'helper' },
  ]);
}

/** `body` in a describe block per broker kind (aedes, Mosquitto), its broker started before and stopped after. */
export function withEachBroker(body: (kind: BrokerKind, broker: () => TestMqttBroker) => void): void {
  for (const kind of ['aedes', 'mosquitto'] as BrokerKind[]) {
    describe(`with ${kind}`, function () {
      this.timeout(60_000);
      let broker: TestMqttBroker | undefined;
      before(async function () {
        if (kind === 'mosquitto' && !mosquittoAvailable()) {
          if (process.env.CI) throw new Error('mosquitto is not installed; CI must run the mosquitto leg');
          this.skip();
        }
        broker = await startTestBroker(kind);
      });
      after(async () => {
        await broker?.stop();
      });
      body(kind, () => broker as TestMqttBroker);
    });
  }
}

/** Loads `flow` (integrationNodes) and waits until its broker config node `conn1` is connected. */
export async function loadConnected(flow: Array<Record<string, unknown>>): Promise<void> {
  helper.settings({ mqttReconnectTime: 500 });
  await helper.load(integrationNodes, flow);
  await waitFor(
    () => (helper.getNode('conn1') as unknown as { connected?: boolean }).connected === true,
    15_000,
    'Node-RED to connect',
  );
}

export interface DeviceRequest {
  requestUUID: string;
  method: string;
  params: unknown;
}

/** A client on `url` for every simulated device: `onRequest` gets each request with the device's name. */
export async function simulatedDevices(
  url: string,
  onRequest: (device: string, request: DeviceRequest, client: MqttClient) => void,
): Promise<MqttClient> {
  const client = connect(url, { reconnectPeriod: 200 });
  await new Promise((resolve) => client.once('connect', resolve));
  client.on('message', (topic, payload) => {
    onRequest(topic.split('/')[1] as string, JSON.parse(payload.toString()) as DeviceRequest, client);
  });
  await client.subscribeAsync('devices/+/rpc/request', { qos: 1 });
  return client;
}

/** Waits until Node-RED's subscription is live: `probe` publishes something that reaches the helper `id`. */
export async function waitForSubscription(probe: () => Promise<unknown>, id: string): Promise<void> {
  const seen = collect(id);
  await waitFor(
    async () => {
      await probe();
      await delay(100);
      return seen.msgs.length > 0;
    },
    10_000,
    'the uplink subscription',
  );
  seen.stop();
}
