/**
 * The integration's converters on the real Node-RED runtime, without a broker (messages are handed to the
 * uplink and downlink nodes directly): the maximum time limit at deploy, blocking rules for data-caused errors,
 * and the decoder/encoder Test routes' bounds, per-node block and one-at-a-time gate.
 */
import assert from 'node:assert/strict';
import { delay, errorCalls, helper, inTab, sendAndWait, statusCalls, waitFor } from './support';

const deviceStoreNode = require('../nodes/device-store/device-store');
const integrationNode = require('../nodes/integration/integration');
const uplinkNode = require('../nodes/integration-uplink/integration-uplink');
const downlinkNode = require('../nodes/integration-downlink/integration-downlink');

const NODES = [deviceStoreNode, integrationNode, uplinkNode, downlinkNode];
const DECODER = 'var d = decodeToJson(payload); return {deviceName: d.deviceName, attributes: {a: d.a}};';
const ENCODER = 'return {contentType: "JSON", data: msg, metadata: {topic: "devices/x"}};';

function flow(integration: Record<string, unknown> = {}) {
  return inTab([
    { id: 'store1', type: 'rule-device-store', store: '', timeout: 5000 },
    {
      id: 'integ1',
      type: 'rule-integration',
      name: 'guard',
      decoder: DECODER,
      encoder: ENCODER,
      metadata: [],
      deviceStore: 'store1',
      allowCreateDevices: true,
      timeout: 1000,
      ...integration,
    },
    { id: 'up1', type: 'rule-integration-uplink', integration: 'integ1', wires: [['upOk'], ['upFail']] },
    { id: 'down1', type: 'rule-integration-downlink', integration: 'integ1', wires: [['downOk'], ['downFail']] },
    { id: 'upOk', type: 'helper' },
    { id: 'upFail', type: 'helper' },
    { id: 'downOk', type: 'helper' },
    { id: 'downFail', type: 'helper' },
  ]);
}

const uplink = (payload: string | Buffer) =>
  sendAndWait('up1', { payload: Buffer.from(payload), topic: 'devices/A/up' }, ['upOk', 'upFail'], 8000);
const downlink = () =>
  sendAndWait(
    'down1',
    { payload: { v: 1 }, metadata: {}, msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE' },
    ['downOk', 'downFail'],
    8000,
  );

describe('integration converters: limits on every path', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    await helper.unload();
    helper.settings({ ruleEngine: undefined });
  });

  describe('maximum time limit at deploy', () => {
    it('refuses a converter time limit over 10 s: error at deploy, red status on uplink and downlink, Failure', async () => {
      await helper.load(NODES, flow({ timeout: 15_000 }));
      await waitFor(
        () => errorCalls('integ1').some((e) => /time limit of 15000 ms is over the maximum of 10000 ms/.test(e)),
        5000,
        'the integration to report it at deploy',
      );
      await waitFor(() => ['up1', 'down1'].every((id) => statusCalls(id).at(-1)?.fill === 'red'), 5000, 'red statuses');
      for (const id of ['up1', 'down1']) {
        const st = statusCalls(id).at(-1);
        assert.equal(st?.fill, 'red', id);
        assert.match(String(st?.text), /time limit of 15000 ms is over the maximum/, id);
      }
      for (let i = 0; i < 4; i++) {
        const up = await uplink('{"deviceName":"A","a":1}');
        assert.equal(up.port, 'upFail');
        assert.equal((up.msg.error as { code?: string }).code, 'time-limit-over-max');
      }
      const down = await downlink();
      assert.equal(down.port, 'downFail');
      assert.match(String(down.msg.error?.message), /over the maximum of 10000 ms/);
    });

    it('takes the maximum from settings.js (ruleEngine.maxScriptTimeout)', async () => {
      helper.settings({ ruleEngine: { maxScriptTimeout: 500 } });
      await helper.load(NODES, flow({ timeout: 600 }));
      const refused = await uplink('{"deviceName":"A","a":1}');
      assert.equal(refused.port, 'upFail');
      assert.match(String(refused.msg.error?.message), /time limit of 600 ms is over the maximum of 500 ms/);
      await helper.unload();
      await helper.load(NODES, flow({ timeout: 500 }));
      const ok = await uplink('{"deviceName":"A","a":1}');
      assert.equal(ok.port, 'upOk', String(ok.msg.error?.message));
    });
  });

  describe('blocking', () => {
    it('a device cannot block the decoder: results made too large by its payloads are not counted', async () => {
      // decodeToString of control bytes: JSON writes each as \u00XX, six characters a byte.
      await helper.load(
        NODES,
        flow({ decoder: 'return {deviceName: "A", attributes: {raw: decodeToString(payload)}};' }),
      );
      const bytes = Buffer.alloc(60_000, 1);
      for (let i = 0; i < 4; i++) {
        const r = await uplink(bytes);
        assert.equal(r.port, 'upFail');
        assert.equal(r.msg.error?.kind, 'size', String(r.msg.error?.message));
        assert.match(String(r.msg.error?.message), /Script result is \d+ characters of JSON; the limit is 300000/);
      }
      const next = await uplink('{"deviceName":"A"}');
      assert.equal(next.port, 'upOk', String(next.msg.error?.message));
    });

    it('a decoder that times out 3 times is blocked', async () => {
      await helper.load(NODES, flow({ decoder: 'while (true) {}', timeout: 50 }));
      for (let i = 0; i < 3; i++) {
        const r = await uplink('{"deviceName":"A"}');
        assert.equal(r.msg.error?.kind, 'timeout');
      }
      const blocked = await uplink('{"deviceName":"A"}');
      assert.equal(blocked.msg.error?.kind, 'blocked');
    });
  });

  describe('Test routes', () => {
    const decoderTest = (body: Record<string, unknown>) =>
      helper
        .request()
        .post('/rule-engine/integration/test-decoder')
        .send({ payload: '{"deviceName":"A","a":1}', payloadFormat: 'json', metadata: {}, ...body });
    const encoderTest = (body: Record<string, unknown>) =>
      helper
        .request()
        .post('/rule-engine/integration/test-encoder')
        .send({ encoder: ENCODER, msg: { v: 1 }, metadata: {}, msgType: 'X', ...body });

    it('decoder and encoder Tests refuse a time limit over the maximum with 400', async () => {
      await helper.load(NODES, flow());
      const d = await decoderTest({ id: 'integ1', decoder: DECODER, timeout: 10_001 });
      assert.equal(d.status, 400);
      assert.equal(d.body.error.kind, 'config');
      assert.match(d.body.error.message, /over the maximum of 10000 ms/);
      const e = await encoderTest({ id: 'integ1', timeout: 20_000 });
      assert.equal(e.status, 400);
      assert.equal(e.body.error.kind, 'config');
      const ok = await decoderTest({ id: 'integ1', decoder: DECODER, timeout: 10_000 });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { ok: true, output: { deviceName: 'A', attributes: { a: 1 } } });
    });

    it('the decoder Test applies the deployed limits: payload size, payload depth, result depth', async () => {
      await helper.load(NODES, flow());
      const big = await decoderTest({
        id: 'integ1',
        decoder: DECODER,
        payload: 'x'.repeat(2000),
        payloadFormat: 'text',
        maxPayloadBytes: 1000,
      });
      assert.equal(big.body.ok, false);
      assert.match(big.body.error.message, /payload of 2,000 bytes is over the integration's limit of 1,000 bytes/);
      const deepText = `${'['.repeat(1001)}${']'.repeat(1001)}`;
      const deep = await decoderTest({ id: 'integ1', decoder: DECODER, payload: deepText });
      assert.equal(deep.body.ok, false);
      assert.equal(deep.body.error.kind, 'input');
      assert.match(deep.body.error.message, /nested deeper than 1000 levels/);
      const deepResult = await decoderTest({
        id: 'integ1',
        decoder: 'var o = 1; for (var i = 0; i < 1005; i++) o = [o]; return {deviceName: "A", attributes: {o: o}};',
      });
      assert.equal(deepResult.body.ok, false);
      assert.match(deepResult.body.error.message, /the decoder result is nested deeper than 1000 levels/);
      const proto = await decoderTest({
        id: 'integ1',
        decoder: 'return JSON.parse(\'{"deviceName": "A", "__proto__": {"x": 1}}\');',
      });
      assert.deepEqual(proto.body, { ok: true, output: { deviceName: 'A' } });
    });

    it('3 time-outs through the Test routes block Test runs of that integration for 60 s', async () => {
      await helper.load(NODES, flow());
      for (let i = 0; i < 2; i++) {
        const r = await decoderTest({ id: 'integ1', decoder: 'while (true) {}', timeout: 50 });
        assert.equal(r.body.error.kind, 'timeout');
      }
      const third = await encoderTest({ id: 'integ1', encoder: 'while (true) {}', timeout: 50 });
      assert.equal(third.body.error.kind, 'timeout');
      for (const r of [await decoderTest({ id: 'integ1', decoder: DECODER }), await encoderTest({ id: 'integ1' })]) {
        assert.equal(r.status, 429);
        assert.equal(r.body.error.kind, 'blocked');
        assert.match(r.body.error.message, /Test runs of this node blocked for 6\d s/);
      }
      const other = await decoderTest({ id: 'integ2', decoder: DECODER });
      assert.equal(other.status, 200);
      assert.equal(other.body.ok, true);
      // The deployed integration is not blocked by its Test runs.
      assert.equal((await uplink('{"deviceName":"A","a":1}')).port, 'upOk');
    });

    it('runs one Test at a time per integration: a second one while the first runs gets 409', async () => {
      // A running Test leaves the event loop free to take the second request.
      {
        await helper.load(NODES, flow());
        const slow = 'var t = Date.now(); while (Date.now() - t < 1500) {} return {deviceName: "A"};';
        const first = Promise.resolve(decoderTest({ id: 'integ1', decoder: slow, timeout: 5000 }));
        // Nothing outside shows that the first Test has started, and a probe of this node could take the
        // Test slot before it: the second comes 400 ms into the first one's 1.5 s.
        await delay(400);
        const second = await encoderTest({ id: 'integ1' });
        assert.equal(second.status, 409);
        assert.equal(second.body.error.kind, 'busy');
        const done = await first;
        assert.equal(done.status, 200);
        assert.deepEqual(done.body.output, { deviceName: 'A' });
        assert.equal((await encoderTest({ id: 'integ1' })).status, 200);
      }
    });
  });
});
