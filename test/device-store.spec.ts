// The device store's guard around its backing store (RELIABILITY case 19): a per-call time limit, a cap on
// calls outstanding, backend errors named as such. The backing stores here are small real implementations of
// the KeyValueStore contract: one that never answers and one that fails.
import assert from 'node:assert/strict';
import { DeviceStore, type KeyValueStore, MemoryKeyValueStore, StoreError } from '../nodes/lib/device-store';

/** Answers nothing until release() is called; then answers every read made so far, late. */
class StuckStore implements KeyValueStore {
  private waiting: Array<() => void> = [];
  get(keys: string[]): Promise<unknown[]> {
    return new Promise((resolve) => this.waiting.push(() => resolve(keys.map(() => undefined))));
  }
  async set(): Promise<void> {}
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

const failing: KeyValueStore = {
  get: async () => {
    throw new Error('disk on fire');
  },
  set: async () => {},
};

async function rejection(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StoreError, `a StoreError, got ${err}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('device store limits', () => {
  it('fails a call the backing store never answers, after the time limit and not long after', async () => {
    const kv = new StuckStore();
    const store = new DeviceStore(kv, { callTimeoutMs: 100 });
    const t0 = Date.now();
    const err = await rejection(store.getDevice('Thermostat-A'));
    const took = Date.now() - t0;
    assert.equal(err.code, 'timeout');
    assert.match(err.message, /did not answer within 100 ms/);
    assert.ok(took >= 95 && took < 1000, `failed after ${took} ms`);
    assert.equal(store.pendingCalls, 0);
    kv.release(); // the late answer changes nothing
    await new Promise((r) => setImmediate(r));
    assert.equal(store.pendingCalls, 0);
  });

  it('refuses calls beyond the cap at once with "busy", and takes calls again once the stuck ones expired', async () => {
    const kv = new StuckStore();
    const store = new DeviceStore(kv, { callTimeoutMs: 150, maxPending: 3 });
    const stuck = [store.getDevice('a'), store.getDevice('b'), store.getDevice('c')].map((p) => rejection(p));
    assert.equal(store.pendingCalls, 3);
    const t0 = Date.now();
    const busy = await rejection(store.getDevice('d'));
    assert.equal(busy.code, 'busy');
    assert.match(busy.message, /3 calls pending \(limit 3\)/);
    assert.ok(Date.now() - t0 < 50, 'refused at once');
    for (const e of await Promise.all(stuck)) assert.equal(e.code, 'timeout');
    assert.equal(store.pendingCalls, 0);
    // The same store answers again once its backend does.
    kv.release();
    const later = store.getDevice('a');
    kv.release();
    assert.equal(await later, undefined);
  });

  it('names a backend failure as such, and answers calls made with a working backend normally', async () => {
    const err = await rejection(new DeviceStore(failing).getAttributes('a', 'client', ['deviceName']));
    assert.equal(err.code, 'backend');
    assert.match(err.message, /device store error: disk on fire/);
    const store = new DeviceStore(new MemoryKeyValueStore(), { callTimeoutMs: 50 });
    await store.ensureDevice('Thermostat-A', 'thermostat');
    await store.saveAttributes('Thermostat-A', 'client', { deviceName: 'Thermostat-A' }, 7);
    const attrs = await store.getAttributes('Thermostat-A', 'client', ['deviceName', 'missing']);
    assert.deepEqual(attrs.get('deviceName'), { value: 'Thermostat-A', lastUpdateTs: 7 });
    assert.equal(attrs.has('missing'), false);
    // Well past the limit: answered calls leave no timer to fire.
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(store.pendingCalls, 0);
  });
});
