/**
 * A persistent RPC call across a restart of a real Node-RED process with the `localfilesystem` context store: a
 * call queued for an offline device before a graceful stop is sent, once, at the device's first uplink after
 * the start, and its remaining statuses follow in order; one whose expirationTime comes first expires. The device receives it over a real broker (aedes).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { connect, type MqttClient } from 'mqtt';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import {
  delay,
  freePort,
  makeUserDir,
  mqttBrokerNode,
  NodeRedProcess,
  nodeRedDir,
  waitFor,
  writeSettings,
} from './toolkit';

const DEVICE = 'Thermo-R';

/** A function node on the test tab. */
function fn(id: string, func: string, wires: string[][] = []) {
  return { id, type: 'function', z: 'rtab', func, outputs: 1, wires };
}

/** Everything the flow reports goes to a list in memory context, served on GET /log. */
const LOG = `var l = flow.get('log', 'memory') || [];
l.push(msg.rpc ? (msg.rpc.persistent ? 'status:' : 'reply:') + msg.rpc.status : 'uplink:' + msg.originator);
flow.set('log', l, 'memory');
return null;`;

function flows(port: number) {
  return [
    { id: 'rtab', type: 'tab', label: 'persistent rpc' },
    mqttBrokerNode('conn', port),
    { id: 'store', type: 'rule-device-store', name: 'devices', store: '', timeout: 5000 },
    {
      id: 'integ',
      type: 'rule-integration',
      name: 'devices',
      decoder: `return {deviceName: metadata.topic.split('/')[1], deviceType: 'thermostat', telemetry: decodeToJson(payload)};`,
      encoder: `return {contentType: 'JSON', data: {method: msg.method, params: JSON.parse(msg.params)},
        metadata: {topic: 'devices/' + metadata.deviceName + '/rpc/request'}};`,
      metadata: [],
      deviceStore: 'store',
      allowCreateDevices: true,
      topicPattern: '${topic}',
      qos: 1,
      timeout: 3000,
      broker: 'conn',
    },
    // POST /uplink?device=...: an uplink from the device, as the integration's mqtt in would hand it over.
    { id: 'upIn', type: 'http in', z: 'rtab', url: '/uplink', method: 'post', wires: [['upPrep', 'res']] },
    fn('upPrep', `msg.topic = 'devices/' + msg.req.query.device + '/telemetry'; return msg;`, [['up']]),
    { id: 'up', type: 'rule-integration-uplink', z: 'rtab', integration: 'integ', wires: [['log'], []] },
    // POST /rpc: a set-point for the device, persistent; online means an uplink within the last second.
    { id: 'rpcIn', type: 'http in', z: 'rtab', url: '/rpc', method: 'post', wires: [['rpc', 'res']] },
    // POST /rpc?expireIn=ms: the same with its own expirationTime.
    { id: 'soonIn', type: 'http in', z: 'rtab', url: '/rpc-soon', method: 'post', wires: [['soon', 'res']] },
    fn('soon', `msg.rpc = {expirationTime: Date.now() + Number(msg.req.query.ms)}; return msg;`, [['rpc']]),
    {
      id: 'rpc',
      type: 'rule-rpc-request',
      z: 'rtab',
      deviceStore: 'store',
      device: DEVICE,
      method: 'setValue',
      getValueMethod: '',
      timeout: 3000,
      oneway: true,
      persistent: true,
      onlineWindow: 1,
      wires: [['down'], ['log'], ['log']],
    },
    { id: 'down', type: 'rule-integration-downlink', z: 'rtab', integration: 'integ', wires: [['out'], []] },
    { id: 'out', type: 'mqtt out', z: 'rtab', topic: '', qos: '', retain: '', broker: 'conn' },
    fn('log', LOG),
    { id: 'logIn', type: 'http in', z: 'rtab', url: '/log', method: 'get', wires: [['logRead']] },
    fn('logRead', `msg.payload = flow.get('log', 'memory') || []; return msg;`, [['res']]),
    { id: 'res', type: 'http response', z: 'rtab', statusCode: '', headers: {}, wires: [] },
  ];
}

describe('persistent RPC across a restart with the localfilesystem context store (real Node-RED process)', function () {
  this.timeout(120_000);
  let userDir: string;
  let red: NodeRedProcess;
  let broker: TestMqttBroker;
  let device: MqttClient;
  const received: unknown[] = [];

  before(async () => {
    broker = await startTestBroker('aedes');
    userDir = makeUserDir('rule-engine-prpc-', { dashboard: false });
    writeSettings(userDir, flows(broker.port), {
      contextStorage: { default: { module: 'localfilesystem' }, memory: { module: 'memory' } },
    });
    red = new NodeRedProcess(userDir, await freePort(), { nodeRed: nodeRedDir() });
    device = connect(broker.url, { reconnectPeriod: 200 });
    await new Promise((resolve) => device.once('connect', resolve));
    device.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString())));
    await device.subscribeAsync(`devices/${DEVICE}/rpc/request`, { qos: 1 });
  });

  after(async () => {
    await red.stop('SIGKILL');
    await device?.endAsync(true);
    await broker?.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function post(p: string, body: unknown): Promise<void> {
    const res = await fetch(red.url(p), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  }
  async function log(): Promise<string[]> {
    return (await (await fetch(red.url('/log'))).json()) as string[];
  }
  async function uplink(): Promise<void> {
    const before = (await log()).length;
    await post(`/uplink?device=${DEVICE}`, { temperature: 20 });
    await waitFor(async () => (await log()).length > before, 10_000, 'the uplink');
  }

  it('calls queued before a graceful stop: one expires at its time, the other is delivered once at the next uplink', async () => {
    await red.start();
    await uplink(); // the device exists now
    await delay(1200); // and is offline again
    await post('/rpc', { setpoint: 21 });
    await post('/rpc-soon?ms=8000', { setpoint: 5 });
    const queued = async () => (await log()).filter((e) => e === 'status:queued').length;
    await waitFor(async () => (await queued()) === 2, 10_000, 'both queued');
    await delay(500);
    assert.deepEqual(await log(), [`uplink:${DEVICE}`, 'status:queued', 'status:queued']);
    assert.equal(received.length, 0, 'not sent to the offline device');

    assert.equal(await red.stop('SIGINT'), 0, red.output);
    await red.start();
    assert.deepEqual(await log(), [], 'a new process');
    // The device is not seen: the second call expires in this process, at its time (or at once if that passed).
    await waitFor(async () => (await log()).includes('reply:timeout'), 20_000, 'the expiry');
    await uplink();
    await waitFor(async () => (await log()).includes('reply:ok'), 15_000, 'the Reply');
    await delay(1200);
    await uplink(); // seen again: nothing is sent again
    await delay(500);
    assert.deepEqual(received, [{ method: 'setValue', params: { setpoint: 21 } }], 'delivered once');
    const statuses = (await log()).filter((e) => !e.startsWith('uplink:'));
    assert.deepEqual(statuses, [
      'status:expired',
      'reply:timeout',
      'status:sent',
      'status:delivered',
      'status:successful',
      'reply:ok',
    ]);
  });
});
