/**
 * Two-way RPC through the integration, on real brokers (aedes and Mosquitto) with the core MQTT nodes: the RPC
 * request node's command goes down through the encoder to a simulated device, the device answers on its own
 * topic, the decoder turns the answer into an `rpcResponse` item, and the waiting request gets it on Reply.
 */
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import {
  type DeviceRequest,
  integrationFlow,
  loadConnected,
  simulatedDevices,
  waitForSubscription,
  withEachBroker,
} from './rpc-devices';
import { type AnyMsg, collect, delay, deviceStoreOf, helper, waitFor } from './support';

/** The device gets `{requestUUID, method, params}`; it answers on .../rpc/response with the same requestUUID. */
const ENCODER = `return {
  contentType: 'JSON',
  data: {requestUUID: metadata.requestUUID, method: msg.method, params: JSON.parse(msg.params)},
  metadata: {topic: 'devices/' + metadata.deviceName + '/rpc/request'}
};`;
const DECODER = `var m = /^devices\\/([^/]+)\\/rpc\\/response$/.exec(metadata.topic);
var body = decodeToJson(payload);
return {deviceName: m[1], rpcResponse: body.bad ? body.bad : {requestUUID: body.requestUUID, response: body.result}};`;

const TIMEOUT_MS = 1500;

function flow(port: number) {
  const options = { port, decoder: DECODER, encoder: ENCODER, allowCreateDevices: false };
  return integrationFlow({ ...options, topics: ['devices/+/rpc/response'] }, [
    {
      id: 'rpc1',
      type: 'rule-rpc-request',
      deviceStore: 'store1',
      method: 'getState',
      getValueMethod: '',
      oneway: false,
      timeout: TIMEOUT_MS,
      wires: [['down1'], ['reply']],
    },
    { id: 'reply', type: 'helper' },
  ]);
}

describe('two-way RPC through the integration', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());

  withEachBroker((_kind, broker) => {
    let device: MqttClient | undefined;
    /** How long each device takes to answer, in ms (absent: it does not answer). */
    const answerAfter = new Map<string, number>();
    const requests: Array<{ device: string; request: DeviceRequest }> = [];

    beforeEach(async () => {
      answerAfter.clear();
      requests.length = 0;
      await loadConnected(flow(broker().port));
      const store = deviceStoreOf('store1');
      for (const d of ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'slow']) await store.ensureDevice(d, 'sim');
      // The simulated device: answers each request with what it got, after its own delay.
      device = await simulatedDevices(broker().url, (name, request, client) => {
        requests.push({ device: name, request });
        const after = answerAfter.get(name);
        if (after === undefined) return;
        setTimeout(() => {
          const result = { device: name, method: request.method, echo: request.params };
          client.publish(`devices/${name}/rpc/response`, JSON.stringify({ requestUUID: request.requestUUID, result }), {
            qos: 1,
          });
        }, after);
      });
      // Node-RED's own subscription is live once a reply for nobody reaches the uplink's Failure.
      await waitForSubscription(
        () => device!.publishAsync('devices/dev-1/rpc/response', JSON.stringify({ requestUUID: 'probe' }), { qos: 1 }),
        'upFail',
      );
    });
    afterEach(async () => {
      await device?.endAsync(true);
      await helper.unload();
    });

    const ask = (dev: string, params: unknown) =>
      helper.getNode('rpc1').receive({ payload: params, originator: dev } as unknown as AnyMsg);

    it('concurrent calls to five devices, answered in the reverse order: each Reply gets its own device answer', async () => {
      const reply = collect('reply');
      for (let i = 1; i <= 5; i++) answerAfter.set(`dev-${i}`, 600 - i * 100);
      for (let i = 1; i <= 5; i++) {
        ask(`dev-${i}`, { n: i });
        ask(`dev-${i}`, { n: i * 10 });
      }
      await waitFor(() => reply.msgs.length >= 10, 10_000, '10 replies');
      await delay(300);
      assert.equal(reply.msgs.length, 10, 'one Reply per call');
      for (const m of reply.msgs) {
        const rpc = m.rpc as { status: string; requestUUID: string };
        assert.equal(rpc.status, 'ok', JSON.stringify(m.rpc));
        const answer = m.payload as { device: string; method: string; echo: { n: number } };
        assert.equal(answer.device, m.originator, 'the answer of the device asked');
        assert.equal(answer.method, 'getState');
        const asked = requests.find((r) => r.request.requestUUID === rpc.requestUUID);
        assert.deepEqual(answer.echo, asked?.request.params, 'the answer to this very request');
      }
      // The last device asked answers first.
      assert.equal((reply.msgs[0]?.payload as { device?: string } | undefined)?.device, 'dev-5');
    });

    it('a reply after the time-out: Reply says timeout once, the late answer goes to the uplink Failure once', async () => {
      const reply = collect('reply');
      const upFail = collect('upFail');
      answerAfter.set('slow', TIMEOUT_MS + 700);
      ask('slow', 1);
      await waitFor(() => reply.msgs.length === 1, 10_000, 'the time-out');
      const rpc = reply.msgs[0]?.rpc as { status: string; error: string };
      assert.equal(rpc.status, 'timeout');
      assert.match(rpc.error, /no reply from the device/);
      await waitFor(() => upFail.msgs.length === 1, 10_000, 'the late reply at the uplink');
      await delay(300);
      assert.equal(reply.msgs.length, 1, 'no second Reply');
      assert.equal(upFail.msgs.length, 1);
      const err = upFail.msgs[0]?.error as { code: string; message: string };
      assert.equal(err.code, 'rpc-reply-late');
      assert.match(err.message, /after the request timed out/);
    });

    it('a reply for no request, and a reply of the wrong shape, go to the uplink Failure with the reason', async () => {
      const upFail = collect('upFail');
      const upOk = collect('upOk');
      await device!.publishAsync('devices/dev-2/rpc/response', JSON.stringify({ requestUUID: 'nobody', result: 1 }));
      await device!.publishAsync('devices/dev-2/rpc/response', JSON.stringify({ bad: 5 }));
      await device!.publishAsync('devices/dev-2/rpc/response', JSON.stringify({ bad: { response: 1 } }));
      await waitFor(() => upFail.msgs.length === 3, 10_000, 'three failures');
      const codes = upFail.msgs.map((m) => (m.error as { code: string }).code);
      assert.deepEqual(codes, ['rpc-reply-unknown', 'bad-rpc-reply', 'bad-rpc-reply']);
      assert.match(
        String((upFail.msgs[0]?.error as { message?: string } | undefined)?.message),
        /no such request is waiting/,
      );
      assert.equal(upOk.msgs.length, 0);
    });

    it('a one-way call still ends when the command is handed to MQTT, without waiting for an answer', async () => {
      await helper.unload();
      await loadConnected(
        flow(broker().port).map((n) => (n.id === 'rpc1' ? { ...n, oneway: true, method: 'setValue' } : n)),
      );
      await deviceStoreOf('store1').ensureDevice('dev-3', 'sim');
      const reply = collect('reply');
      ask('dev-3', 21);
      await waitFor(() => reply.msgs.length === 1, 10_000, 'the reply');
      assert.equal(
        (reply.msgs[0]?.rpc as { status?: string } | undefined)?.status,
        'ok',
        JSON.stringify(reply.msgs[0]?.rpc),
      );
      assert.equal(reply.msgs[0]?.payload, 21, 'the value sent, as before');
    });
  });
});
