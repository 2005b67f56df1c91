// The rpc request node's logic without Node-RED (nodes/lib/rpc.ts): its settings, the call a message asks for,
// getValue answered from the latest telemetry, the request message for a known device, the reply to the control,
// and the wait for the downlink that ends once, with its outcome or a time-out.
import assert from 'node:assert/strict';
import { DeviceStore, keyValueBackend, MemoryKeyValueStore } from '../nodes/lib/device-store';
import { MessageError, MsgType } from '../nodes/lib/message';
import { PendingRpcs, type RpcOutcome, RpcWaits, rpcCallOf, rpcReply, rpcSettings, startRpc } from '../nodes/lib/rpc';

async function thermostatStore(): Promise<DeviceStore> {
  const store = new DeviceStore(keyValueBackend(new MemoryKeyValueStore()));
  await store.ensureDevice('Thermostat-A', 'thermostat');
  await store.saveTelemetry('Thermostat-A', [{ ts: 1, values: { temperature: 21.5 } }]);
  return store;
}

async function refusal(p: Promise<unknown>): Promise<MessageError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MessageError, String(err));
    return err;
  }
  assert.fail('expected a MessageError');
}

describe('rpc request logic (nodes/lib/rpc.ts)', () => {
  const settings = rpcSettings({});

  it('takes the editor defaults: setValue, getValue from temperature, one-way, 500 ms', () => {
    assert.deepEqual(settings, {
      device: '',
      method: 'setValue',
      getValueMethod: 'getValue',
      valueKey: 'temperature',
      timeoutMs: 500,
      oneway: true,
    });
    assert.equal(rpcSettings({ oneway: 'false', timeout: '250', getValueMethod: '' }).oneway, false);
    assert.equal(rpcSettings({ timeout: '250' }).timeoutMs, 250);
  });

  it('takes the method and device from the msg, unless the node names the device', () => {
    const call = rpcCallOf({ payload: 42, method: 'setMode', originator: 'B' }, settings, 'id-1');
    assert.deepEqual(call, { requestUUID: 'id-1', method: 'setMode', device: 'B', value: 42 });
    assert.equal(rpcCallOf({ originator: 'B' }, { ...settings, device: 'A' }).device, 'A');
    assert.equal(rpcCallOf({ method: '' }, settings).method, 'setValue');
  });

  it('answers getValue from the latest telemetry, and says when there is none', async () => {
    const store = await thermostatStore();
    const call = rpcCallOf({ method: 'getValue', originator: 'Thermostat-A' }, settings);
    assert.deepEqual(await startRpc(store, call, settings, 0), { value: 21.5 });
    const err = await refusal(startRpc(store, { ...call, device: 'Other' }, settings, 0));
    assert.equal(err.code, 'no-value');
  });

  it('makes the request message for a known device, and refuses an unknown one or none', async () => {
    const store = await thermostatStore();
    const call = rpcCallOf({ payload: 42, originator: 'Thermostat-A' }, settings, 'id-2');
    const { request } = await startRpc(store, call, settings, 1000);
    assert.deepEqual(request, {
      payload: { method: 'setValue', params: '42' },
      metadata: {
        requestUUID: 'id-2',
        oneway: 'true',
        expirationTime: '1500',
        deviceName: 'Thermostat-A',
        deviceType: 'thermostat',
      },
      msgType: MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE,
      originator: 'Thermostat-A',
    });
    assert.equal((await refusal(startRpc(store, { ...call, device: 'Nobody' }, settings, 0))).code, 'unknown-device');
    assert.equal((await refusal(startRpc(store, { ...call, device: '' }, settings, 0))).code, 'originator-missing');
  });

  it('replies with the msg, the payload given and msg.rpc saying how it went', () => {
    const call = rpcCallOf({ payload: 7 }, settings, 'id-3');
    const reply = rpcReply({ payload: 7, topic: 't' }, call, 7, { status: 'error', error: 'boom' });
    assert.deepEqual(reply, {
      payload: 7,
      topic: 't',
      rpc: { requestUUID: 'id-3', method: 'setValue', status: 'error', error: 'boom' },
    });
  });

  it('ends each wait once: with the downlink outcome, or a time-out; close() drops the rest', async () => {
    const pending = new PendingRpcs();
    const waits = new RpcWaits(pending);
    const outcomes: Array<[string, RpcOutcome]> = [];
    waits.wait('a', 1000, (o) => outcomes.push(['a', o]));
    waits.wait('b', 20, (o) => outcomes.push(['b', o]));
    waits.wait('c', 1000, (o) => outcomes.push(['c', o]));
    assert.equal(pending.settle('a', { status: 'ok' }), true);
    assert.equal(pending.settle('a', { status: 'ok' }), false, 'settled once');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(pending.settle('b', { status: 'ok' }), false, 'timed out already');
    waits.close();
    assert.equal(pending.size, 0);
    assert.equal(waits.size, 0);
    assert.deepEqual(outcomes, [
      ['a', { status: 'ok' }],
      ['b', { status: 'timeout', error: 'no downlink within 20 ms' }],
    ]);
  });
});
