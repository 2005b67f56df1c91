// The Redis backend of the device store against a real redis-server: its atomic rules under concurrent calls
// from many clients, one round trip per read, prefixes kept apart, scripts reloaded after a flush, and its
// connection state (down and why, back to ready) with no password in any text.
import assert from 'node:assert/strict';
import { createClient } from '@redis/client';
import { DeviceStore, type TelemetryEntry } from '../nodes/lib/device-store';
import { parseRedisUrl, RedisBackend, type RedisStoreOptions } from '../nodes/lib/redis-store';
import { freePort, type RedisProcess, startRedis, storedRpc, waitFor } from './toolkit';

type Raw = ReturnType<typeof createClient>;

describe('Redis device store backend', function () {
  this.timeout(30000);
  let redis: RedisProcess;
  let raw: Raw;
  const open: RedisBackend[] = [];

  /** A backend on the test server (closed after each test), once it is connected. */
  async function backend(opts: Partial<RedisStoreOptions> = {}): Promise<RedisBackend> {
    const b = new RedisBackend({ url: redis.url, maxReconnectDelayMs: 200, ...opts });
    open.push(b);
    await waitFor(() => b.current.state === 'ready', 5000, 'the backend to connect');
    return b;
  }

  before(async () => {
    redis = await startRedis();
    raw = createClient({ socket: { host: '127.0.0.1', port: redis.port } });
    await raw.connect();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
    await raw.sendCommand(['FLUSHALL']);
  });
  after(async () => {
    raw.destroy();
    await redis.stop();
  });

  it('creates a device once when 50 clients race to create it: one device, one type, one creation time', async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => backend()));
    for (let round = 0; round < 5; round++) {
      const name = `Thermostat-${round}`;
      const answers = await Promise.all(
        clients.map((c, i) => c.createDevice({ name, type: `type-${i}`, createdTime: 1000 + i })),
      );
      const created = answers.filter((a) => a.created);
      assert.equal(created.length, 1, 'exactly one client created it');
      const winner = created[0].device;
      for (const a of answers) assert.deepEqual(a.device, winner, 'every client got the stored device');
      const stored = JSON.parse(String(await raw.get(`rule-engine:dev:${name}`)));
      assert.deepEqual(stored, winner);
      // A later create changes nothing.
      const again = await clients[7].createDevice({ name, type: 'other', createdTime: 1 });
      assert.deepEqual(again, { device: winner, created: false });
    }
  });

  it('gives a persistent RPC request to one of 20 clients racing to take it, and keeps the index of devices', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => backend()));
    const rpc = (id: string, status = 'queued') => storedRpc(id, 'Valve.1', status);
    await Promise.all(['a', 'b', 'c'].map((id, i) => clients[i].addRpc('Valve.1', rpc(id))));
    assert.deepEqual(await clients[5].rpcDevices(), ['Valve.1']);
    assert.deepEqual((await clients[6].listRpcs('Valve.1')).map((r) => r.requestUUID).sort(), ['a', 'b', 'c']);
    const taken = await Promise.all(
      clients.map((c, i) => c.updateRpc('Valve.1', { ...rpc('b', 'sent'), attempts: 1, sentTime: i }, ['queued'])),
    );
    assert.equal(taken.filter(Boolean).length, 1, 'exactly one client took it');
    const stored = (await clients[0].listRpcs('Valve.1')).find((r) => r.requestUUID === 'b');
    assert.equal(stored?.status, 'sent');
    assert.equal(stored?.sentTime, taken.indexOf(true), 'the winner wrote it');
    const removed = await Promise.all(clients.map((c) => c.removeRpc('Valve.1', 'b')));
    assert.equal(removed.filter(Boolean).length, 1, 'removed once');
    await clients[1].removeRpc('Valve.1', 'a');
    assert.deepEqual(await clients[2].rpcDevices(), ['Valve.1'], 'one request left');
    await clients[3].removeRpc('Valve.1', 'c');
    assert.deepEqual(await clients[4].rpcDevices(), [], 'no request left: out of the index');
    assert.deepEqual(await clients[4].listRpcs('Valve.1'), []);
  });

  it('keeps the newest latest value when several clients write shuffled timestamps at once', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => backend()));
    const points: Array<{ key: string; ts: number }> = [];
    for (const key of ['temperature', 'humidity', 'a.b[0]']) {
      for (let ts = 1; ts <= 300; ts++) points.push({ key, ts });
    }
    for (let i = points.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [points[i], points[j]] = [points[j], points[i]];
    }
    await Promise.all(
      points.map((p, i) =>
        clients[i % clients.length].saveLatest('dev-1', new Map([[p.key, { ts: p.ts, value: `${p.key}@${p.ts}` }]])),
      ),
    );
    const r = await clients[0].read('dev-1', {
      device: false,
      attributes: {},
      latest: ['temperature', 'humidity', 'a.b[0]'],
    });
    for (const key of ['temperature', 'humidity', 'a.b[0]']) {
      assert.deepEqual(r.latest.get(key), { ts: 300, value: `${key}@300` });
    }
    // An older point never replaces a newer one; an equal timestamp does (the later write of that instant).
    await clients[1].saveLatest('dev-1', new Map([['temperature', { ts: 299, value: 'old' }]]));
    await clients[2].saveLatest('dev-1', new Map([['humidity', { ts: 300, value: 'same instant' }]]));
    const after = await clients[3].read('dev-1', {
      device: false,
      attributes: {},
      latest: ['temperature', 'humidity'],
    });
    assert.equal(after.latest.get('temperature')?.value, 'temperature@300');
    assert.deepEqual(after.latest.get('humidity'), { ts: 300, value: 'same instant' });
  });

  it('replaces attributes as written (last write wins) with the given lastUpdateTs', async () => {
    const [a, b] = await Promise.all([backend(), backend()]);
    await a.saveAttributes('dev', 'shared', new Map([['target', { value: 21, lastUpdateTs: 5 }]]));
    await b.saveAttributes('dev', 'shared', new Map([['target', { value: 19, lastUpdateTs: 3 }]]));
    const r = await a.read('dev', {
      device: false,
      attributes: { shared: ['target'], client: ['target'] },
      latest: [],
    });
    assert.deepEqual(r.attributes.shared.get('target'), { value: 19, lastUpdateTs: 3 });
    assert.equal(r.attributes.client.size, 0, 'scopes kept apart');
  });

  it('only if changed: of eight instances saving the same new value at once, exactly one writes it (compare and write are atomic)', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => backend()));
    await clients[0].saveAttributes('dev', 'server', new Map([['target', { value: 20, lastUpdateTs: 1 }]]));
    for (let round = 2; round <= 11; round++) {
      const results = await Promise.all(
        clients.map((c, i) =>
          c.saveChangedAttributes(
            'dev',
            'server',
            new Map([['target', { value: round, lastUpdateTs: round * 10 + i }]]),
          ),
        ),
      );
      assert.equal(results.filter((names) => names.includes('target')).length, 1, `round ${round}: one writer`);
    }
    const r = await clients[0].read('dev', { device: false, attributes: { server: ['target'] }, latest: [] });
    assert.equal(r.attributes.server.get('target')?.value, 11);
  });

  it('only if changed: the same JSON is unchanged and keeps its update time, 25 and "25" or a reordered object differ (TB compares value and type)', async () => {
    const b = await backend();
    const store = new DeviceStore(b);
    await store.saveAttributes('dev', 'shared', { n: 25, o: { a: 1, b: 2 }, s: 'x' }, 1);
    const changed = await store.saveAttributes('dev', 'shared', { n: '25', o: { a: 1, b: 2 }, s: 'x' }, 2, {
      onlyIfChanged: true,
    });
    assert.deepEqual(changed, ['n']);
    assert.deepEqual(
      await store.saveAttributes('dev', 'shared', { o: { b: 2, a: 1 } }, 3, { onlyIfChanged: true }),
      ['o'],
      'an object with its keys in another order is another JSON text',
    );
    const got = await store.getAttributes('dev', 'shared', ['n', 'o', 's']);
    assert.deepEqual(Object.fromEntries(got), {
      n: { value: '25', lastUpdateTs: 2 },
      o: { value: { b: 2, a: 1 }, lastUpdateTs: 3 },
      s: { value: 'x', lastUpdateTs: 1 },
    });
  });

  it('reads the device, attributes of every scope and latest values in one round trip', async () => {
    const b = await backend();
    const store = new DeviceStore(b);
    await store.ensureDevice('Thermostat-A', 'thermostat');
    await store.saveAttributes('Thermostat-A', 'client', { deviceName: 'A' }, 3);
    await store.saveAttributes('Thermostat-A', 'server', { active: true }, 4);
    await store.saveTelemetry('Thermostat-A', [{ ts: 9, values: { temperature: 22.5 } }]);
    await raw.sendCommand(['CONFIG', 'RESETSTAT']);
    const r = await store.lookup('Thermostat-A', { client: ['deviceName'], shared: ['x'], server: ['active'] }, [
      'temperature',
      'humidity',
    ]);
    const stats = String(await raw.sendCommand(['INFO', 'commandstats']));
    const calls = [...stats.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)]
      .filter((m) => m[1] !== 'info' && m[1] !== 'config|resetstat')
      .map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(calls, [['mget', 1]], 'one MGET and nothing else');
    assert.equal(r.device?.type, 'thermostat');
    assert.equal(r.attributes.client.get('deviceName')?.value, 'A');
    assert.equal(r.attributes.server.get('active')?.value, true);
    assert.deepEqual(r.latest.get('temperature'), { ts: 9, value: 22.5 });
    assert.equal(r.latest.has('humidity'), false);
  });

  it('keeps two prefixes apart on one server', async () => {
    const [a, b] = await Promise.all([backend({ prefix: 'tenant-a' }), backend({ prefix: 'tenant-b' })]);
    await a.createDevice({ name: 'dev', type: 'a-type', createdTime: 1 });
    const fromB = await b.createDevice({ name: 'dev', type: 'b-type', createdTime: 2 });
    assert.equal(fromB.created, true, 'tenant b does not see tenant a');
    await a.saveLatest('dev', new Map([['t', { ts: 5, value: 'a' }]]));
    await b.saveLatest('dev', new Map([['t', { ts: 1, value: 'b' }]]));
    const ra = await a.read('dev', { device: true, attributes: {}, latest: ['t'] });
    const rb = await b.read('dev', { device: true, attributes: {}, latest: ['t'] });
    assert.equal(ra.device?.type, 'a-type');
    assert.equal(rb.device?.type, 'b-type');
    assert.equal(ra.latest.get('t')?.value, 'a');
    assert.equal(rb.latest.get('t')?.value, 'b');
    const all = (await raw.sendCommand<string[]>(['KEYS', '*'])).sort();
    assert.deepEqual(all, ['tenant-a:dev:dev', 'tenant-a:ts:dev:t', 'tenant-b:dev:dev', 'tenant-b:ts:dev:t']);
  });

  it('loads its scripts again when the server has lost them (SCRIPT FLUSH, a restart)', async () => {
    const b = await backend();
    await b.saveLatest('dev', new Map([['t', { ts: 1, value: 1 }]]));
    await raw.sendCommand(['SCRIPT', 'FLUSH']);
    await b.saveLatest('dev', new Map([['t', { ts: 2, value: 2 }]]));
    const created = await b.createDevice({ name: 'dev', type: 'x', createdTime: 3 });
    assert.equal(created.created, true);
    const r = await b.read('dev', { device: false, attributes: {}, latest: ['t'] });
    assert.deepEqual(r.latest.get('t'), { ts: 2, value: 2 } satisfies TelemetryEntry);
  });
});

describe('Redis device store connection', function () {
  this.timeout(30000);
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of open.splice(0).reverse()) await c.close();
  });
  function track<T extends { close(): Promise<void> }>(c: T): T {
    open.push(c);
    return c;
  }
  const stopOf = (r: RedisProcess) => ({ close: () => r.stop() });

  it('is down naming the server while nothing listens, fails calls at once, and recovers when Redis starts', async () => {
    const port = await freePort();
    const b = track(new RedisBackend({ url: `redis://127.0.0.1:${port}`, maxReconnectDelayMs: 200 }));
    await waitFor(() => b.current.state === 'down', 5000, 'the backend to be down');
    assert.equal(b.current.server, `Redis 127.0.0.1:${port}`);
    assert.equal(b.current.reason, 'connection refused');
    const t0 = Date.now();
    await assert.rejects(b.read('dev', { device: true, attributes: {}, latest: [] }), (err: Error) => {
      assert.match(err.message, new RegExp(`^Redis 127\\.0\\.0\\.1:${port} down: connection refused`));
      return true;
    });
    assert.ok(Date.now() - t0 < 100, 'refused at once, nothing queued');
    const seen: string[] = [];
    b.watch((s) => seen.push(s.state));
    track(stopOf(await startRedis({ port })));
    await waitFor(() => b.current.state === 'ready', 5000, 'the backend to reconnect');
    assert.deepEqual(seen.at(-1), 'ready');
    assert.equal((await b.createDevice({ name: 'd', type: 't', createdTime: 1 })).created, true);
  });

  it('fails each call under way when Redis stops, then works again once it is back', async () => {
    const redis = await startRedis();
    const b = track(new RedisBackend({ url: redis.url, maxReconnectDelayMs: 100 }));
    await waitFor(() => b.current.state === 'ready', 5000, 'the backend to connect');
    const outcomes = Array.from({ length: 200 }, (_, i) =>
      b.saveLatest(`dev-${i % 10}`, new Map([['t', { ts: i, value: i }]])).then(
        () => 'saved',
        (err: Error) => err.message,
      ),
    );
    const stopped = redis.stop();
    const results = await Promise.all(outcomes);
    await stopped;
    for (const r of results) assert.ok(r === 'saved' || /^Redis 127\.0\.0\.1:\d+/.test(r), `outcome ${r}`);
    await waitFor(() => b.current.state === 'down', 5000, 'the backend to see the server gone');
    track(stopOf(await startRedis({ port: redis.port })));
    await waitFor(() => b.current.state === 'ready', 5000, 'the backend to reconnect');
    await b.saveLatest('dev-0', new Map([['t', { ts: 1000, value: 'back' }]]));
    const r = await b.read('dev-0', { device: false, attributes: {}, latest: ['t'] });
    assert.equal(r.latest.get('t')?.value, 'back');
  });

  it('says "wrong password" for a wrong password, without the password, and connects with the right one', async () => {
    const redis = await startRedis({ password: 's3cret-Right' });
    track(stopOf(redis));
    const wrong = track(new RedisBackend({ url: redis.url, password: 'n0t-the-one', maxReconnectDelayMs: 200 }));
    const none = track(new RedisBackend({ url: redis.url, maxReconnectDelayMs: 200 }));
    const right = track(new RedisBackend({ url: redis.url, password: 's3cret-Right' }));
    await waitFor(() => wrong.current.state === 'down', 5000, 'the wrong password to be refused');
    await waitFor(() => none.current.state === 'down', 5000, 'no password to be refused');
    await waitFor(() => right.current.state === 'ready', 5000, 'the right password to connect');
    assert.equal(wrong.current.reason, 'wrong password');
    assert.equal(none.current.reason, 'the server wants a password');
    await assert.rejects(wrong.read('dev', { device: true, attributes: {}, latest: [] }), (err: Error) => {
      assert.match(err.message, /down: wrong password/);
      assert.ok(!err.message.includes('n0t-the-one'));
      return true;
    });
    assert.equal((await right.createDevice({ name: 'd', type: 't', createdTime: 1 })).created, true);
  });

  it('says it is a TLS error when TLS meets a plain server', async () => {
    const redis = await startRedis();
    track(stopOf(redis));
    const b = track(new RedisBackend({ url: redis.url, tls: true, connectTimeoutMs: 1000, maxReconnectDelayMs: 200 }));
    await waitFor(() => b.current.state === 'down', 5000, 'the TLS connection to fail');
    assert.match(String(b.current.reason), /TLS/);
  });

  it('refuses a URL that holds a password, without repeating it', () => {
    assert.throws(
      () => parseRedisUrl('redis://user:hunter2@127.0.0.1:6379'),
      (err: Error) => /must not hold a password/.test(err.message) && !err.message.includes('hunter2'),
    );
    assert.throws(() => parseRedisUrl('http://127.0.0.1:6379'), /must start with redis:\/\/ or rediss:\/\//);
    assert.throws(() => parseRedisUrl('redis://127.0.0.1:6379/2'), /Database field/);
    assert.deepEqual(parseRedisUrl('rediss://app@redis.example:6380'), {
      host: 'redis.example',
      port: 6380,
      tls: true,
      username: 'app',
    });
  });
});
