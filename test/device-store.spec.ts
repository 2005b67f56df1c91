// The device store's guard around its backing store, so that a slow or broken store fails messages instead
// of holding them: a per-call time limit, a cap on calls outstanding, backend errors named as such. The
// backing stores here are small real implementations of the KeyValueStore contract: one that never answers
// and one that fails.
import assert from 'node:assert/strict';
import {
  DeviceStore,
  type KeyValueStore,
  keyValueBackend,
  MemoryKeyValueStore,
  type StoredRpc,
  StoreError,
} from '../nodes/lib/device-store';
import { storedRpc } from './toolkit';

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
    const store = new DeviceStore(keyValueBackend(kv), { callTimeoutMs: 100 });
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
    const store = new DeviceStore(keyValueBackend(kv), { callTimeoutMs: 150, maxPending: 3 });
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
    const err = await rejection(new DeviceStore(keyValueBackend(failing)).getAttributes('a', 'client', ['deviceName']));
    assert.equal(err.code, 'backend');
    assert.match(err.message, /device store error: disk on fire/);
    const store = new DeviceStore(keyValueBackend(new MemoryKeyValueStore()), { callTimeoutMs: 50 });
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

/** A MemoryKeyValueStore that records the keys of every read. */
class CountingStore extends MemoryKeyValueStore {
  reads: string[][] = [];
  override async get(ks: string[]): Promise<unknown[]> {
    this.reads.push(ks);
    return super.get(ks);
  }
}

describe('device store lookup', () => {
  it('reads the device, its attributes of every scope and its latest values in one call to the backing store', async () => {
    const kv = new CountingStore();
    const store = new DeviceStore(keyValueBackend(kv));
    await store.ensureDevice('Thermostat-A', 'thermostat');
    await store.saveAttributes('Thermostat-A', 'client', { deviceName: 'A', firmware: '1.2' }, 3);
    await store.saveAttributes('Thermostat-A', 'shared', { targetTemperature: 21 }, 4);
    await store.saveAttributes('Thermostat-A', 'server', { active: true }, 5);
    await store.saveTelemetry('Thermostat-A', [{ ts: 9, values: { temperature: 22.5 } }]);
    kv.reads = [];
    const r = await store.lookup(
      'Thermostat-A',
      { client: ['deviceName', 'nope'], shared: ['targetTemperature'], server: ['active'] },
      ['temperature', 'humidity'],
    );
    assert.equal(kv.reads.length, 1, 'one read');
    assert.equal(kv.reads[0].length, 1 + 4 + 2, 'device + four attributes + two telemetry keys');
    assert.equal(r.device?.type, 'thermostat');
    assert.deepEqual([...r.attributes.client], [['deviceName', { value: 'A', lastUpdateTs: 3 }]]);
    assert.deepEqual([...r.attributes.shared], [['targetTemperature', { value: 21, lastUpdateTs: 4 }]]);
    assert.deepEqual([...r.attributes.server], [['active', { value: true, lastUpdateTs: 5 }]]);
    assert.deepEqual([...r.latest], [['temperature', { ts: 9, value: 22.5 }]]);
    // The same items as the one-kind readers find.
    assert.deepEqual(await store.getAttributes('Thermostat-A', 'client', ['deviceName', 'nope']), r.attributes.client);
    assert.deepEqual(await store.getLatest('Thermostat-A', ['temperature', 'humidity']), r.latest);
    assert.deepEqual(await store.getDevice('Thermostat-A'), r.device);
  });

  it('answers an unknown device with no device and nothing found', async () => {
    const r = await new DeviceStore(keyValueBackend(new MemoryKeyValueStore())).lookup('ghost', { server: ['x'] }, [
      't',
    ]);
    assert.equal(r.device, undefined);
    assert.equal(r.attributes.server.size, 0);
    assert.equal(r.latest.size, 0);
  });

  it('keeps names apart whatever they contain, and never puts a path character of Node-RED in a key', async () => {
    const kv = new CountingStore();
    const store = new DeviceStore(keyValueBackend(kv));
    const names = ['plain-Name_1', 'a.b', 'a%2Eb', 'a[0]', 'with space', 'Grüße', "it's(*)~!", ''];
    for (const [i, n] of names.entries()) {
      if (n) await store.ensureDevice(n, `type-${i}`);
      await store.saveAttributes(n || 'x', 'server', { [n || 'k']: i }, i);
    }
    const deviceKeys = new Set<string>();
    for (const [i, n] of names.entries()) {
      if (!n) continue;
      kv.reads = [];
      const r = await store.lookup(n, { server: [n] }, []);
      assert.equal(r.device?.type, `type-${i}`, `device ${JSON.stringify(n)}`);
      assert.equal(r.attributes.server.get(n)?.value, i, `attribute ${JSON.stringify(n)}`);
      for (const k of kv.reads[0]) assert.doesNotMatch(k, /[.[\]]/, `key ${k}`);
      deviceKeys.add(kv.reads[0][0]);
    }
    assert.equal(deviceKeys.size, names.length - 1, 'one key per device');
    // A plain name stays readable in the key.
    assert.ok([...deviceKeys].includes('rule-engine:dev:plain-Name_1'));
  });
});

describe('device store: save attributes only if changed', () => {
  it('on a key/value store, writes and returns only the changed attributes; the same JSON keeps its update time, 25 and "25" differ (TB compares value and type)', async () => {
    const kv = new MemoryKeyValueStore();
    const store = new DeviceStore(keyValueBackend(kv));
    assert.deepEqual(
      await store.saveAttributes('dev', 'server', { n: 25, o: { a: 1 }, s: 'x' }, 1, { onlyIfChanged: true }),
      ['n', 'o', 's'],
    );
    const sets: string[][] = [];
    const set = kv.set.bind(kv);
    kv.set = async (ks, vs) => {
      sets.push(ks);
      return set(ks, vs);
    };
    const changed = await store.saveAttributes('dev', 'server', { n: '25', o: { a: 1 }, s: 'x' }, 2, {
      onlyIfChanged: true,
    });
    assert.deepEqual(changed, ['n']);
    assert.equal(sets.length, 1);
    assert.equal(sets[0].length, 1, 'one key written');
    const got = Object.fromEntries(await store.getAttributes('dev', 'server', ['n', 'o', 's']));
    assert.deepEqual(got, {
      n: { value: '25', lastUpdateTs: 2 },
      o: { value: { a: 1 }, lastUpdateTs: 1 },
      s: { value: 'x', lastUpdateTs: 1 },
    });
    assert.deepEqual(await store.saveAttributes('dev', 'server', { n: '25' }, 3, { onlyIfChanged: true }), []);
    assert.equal(sets.length, 1, 'nothing changed: nothing written');
  });
});

/** A memory store that answers each call a little later, so that calls made together interleave. */
class LaggingStore extends MemoryKeyValueStore {
  override async get(ks: string[]): Promise<unknown[]> {
    await new Promise((r) => setTimeout(r, 2));
    return super.get(ks);
  }
  override async set(ks: string[], vs: unknown[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 2));
    return super.set(ks, vs);
  }
}

describe('persistent RPC requests in a key/value store', () => {
  const rpc = storedRpc;

  it('loses none of the requests added at once, lets one caller take a request, and keeps the index', async () => {
    const store = new DeviceStore(keyValueBackend(new LaggingStore()));
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.addRpc(rpc(`r${i}`, i % 2 ? 'Valve.odd' : 'Valve.even'))),
    );
    assert.equal((await store.listRpcs('Valve.odd')).length, 5);
    assert.equal((await store.listRpcs('Valve.even')).length, 5);
    assert.deepEqual((await store.rpcDevices()).sort(), ['Valve.even', 'Valve.odd']);
    const taken = await Promise.all(
      Array.from({ length: 5 }, () => store.updateRpc(rpc('r1', 'Valve.odd', 'sent'), ['queued'])),
    );
    assert.equal(taken.filter(Boolean).length, 1, 'taken once');
    assert.equal(await store.updateRpc(rpc('nope', 'Valve.odd', 'sent'), ['queued']), false, 'an unknown request');
    const removed = await Promise.all(Array.from({ length: 3 }, () => store.removeRpc('Valve.odd', 'r1')));
    assert.equal(removed.filter(Boolean).length, 1, 'removed once');
    for (const id of ['r3', 'r5', 'r7', 'r9']) await store.removeRpc('Valve.odd', id);
    assert.deepEqual(await store.rpcDevices(), ['Valve.even'], 'a device without requests leaves the index');
    // What the store answers is a copy.
    const [first] = await store.listRpcs('Valve.even');
    (first as StoredRpc).status = 'changed';
    assert.ok((await store.listRpcs('Valve.even')).every((r) => r.status === 'queued'));
  });
});
