// The device store config node on Redis, in a real Node-RED runtime against a real redis-server: the status of a
// node that uses the store follows the connection (down at deploy, back without a restart), every message is
// saved or at Failure with the reason when Redis restarts mid-stream, the in-flight cap, a wrong password and a
// TLS error are clear statuses, and the password appears in no log, status, message or flow JSON.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from '@redis/client';
import { type AnyMsg, errorCalls, flowAround, helper, onMessage, outcomeOf, statusCalls, waitFor } from './support';
import { freePort, makeUserDir, NodeRedProcess, type RedisProcess, startRedis, writeSettings } from './toolkit';

const deviceStoreNode = require('../nodes/device-store/device-store');
const saveTimeseriesNode = require('../nodes/save-timeseries/save-timeseries');
const nodes = [deviceStoreNode, saveTimeseriesNode];

const PASSWORD = 'Pa55-never-shown';

function flow(url: string, store: Record<string, unknown> = {}) {
  return flowAround(
    { id: 'st', type: 'rule-save-timeseries' },
    {
      deviceStore: {
        backend: 'redis',
        redisUrl: url,
        redisDb: 0,
        redisPrefix: 'nr-test',
        redisTls: false,
        timeout: 1000,
        ...store,
      },
    },
  );
}

let seq = 0;
const reading = (device = 'Thermostat-A', value: unknown = 21.5): AnyMsg => ({
  payload: { temperature: value },
  metadata: { deviceType: 'thermostat', ts: String(1700000000000 + seq++) },
  msgType: 'POST_TELEMETRY_REQUEST',
  originator: device,
});

const lastStatus = (id = 'st') => statusCalls(id).at(-1) ?? {};

/** Everything Node-RED was told to log, as text. */
function logged(): string {
  const spy = helper.log() as unknown as { args: unknown[][] };
  return JSON.stringify(spy.args);
}

async function stored(port: number, key: string): Promise<unknown> {
  const c = createClient({ socket: { host: '127.0.0.1', port } });
  await c.connect();
  try {
    const v = await c.get(key);
    return v === null ? undefined : JSON.parse(v);
  } finally {
    c.destroy();
  }
}

describe('device store on Redis (Node-RED)', function () {
  this.timeout(30000);
  const servers: RedisProcess[] = [];
  const redis = async (opts: { port?: number; password?: string } = {}) => {
    const r = await startRedis(opts);
    servers.push(r);
    return r;
  };
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    await helper.unload();
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it('shows Redis down at deploy naming the server, fails messages within the time limit, recovers when it starts', async () => {
    const port = await freePort();
    await helper.load(nodes, flow(`redis://127.0.0.1:${port}`));
    await waitFor(
      () => /^Redis 127\.0\.0\.1:\d+ down: connection refused$/.test(String(lastStatus().text)),
      5000,
      'a status',
    );
    assert.equal(lastStatus().fill, 'red');
    assert.match(String(lastStatus().text), new RegExp(`:${port} down`));
    const t0 = Date.now();
    const { port: out, msg } = await outcomeOf('st', reading());
    assert.equal(out, 'fail');
    assert.ok(Date.now() - t0 < 1500, 'at Failure within the time limit');
    assert.match(String(msg.error?.message), new RegExp(`Redis 127\\.0\\.0\\.1:${port} down: connection refused`));
    assert.ok(errorCalls('st').some((e) => /connection refused/.test(e)));
    // Redis comes up: the status turns green by itself and messages are saved, with no restart of Node-RED.
    await redis({ port });
    await waitFor(() => lastStatus().fill === 'green', 10000, 'the status back to green');
    const saved = await outcomeOf('st', reading('Thermostat-A', 23));
    assert.equal(saved.port, 'ok');
    assert.deepEqual(await stored(port, 'nr-test:ts:Thermostat-A:temperature'), {
      ts: 1700000000000 + seq - 1,
      value: 23,
    });
  });

  it('saves each message or sends it to Failure with the reason while Redis restarts mid-stream', async () => {
    const r = await redis();
    await helper.load(nodes, flow(r.url));
    await waitFor(() => lastStatus().fill === 'green', 5000, 'connected');
    const outcomes: Array<{ port: string; msg: AnyMsg }> = [];
    const stops = [
      onMessage('ok', (m) => outcomes.push({ port: 'ok', msg: m })),
      onMessage('fail', (m) => outcomes.push({ port: 'fail', msg: m })),
    ];
    const total = 400;
    const st = helper.getNode('st');
    let restarted: Promise<RedisProcess> | undefined;
    for (let i = 0; i < total; i++) {
      st.receive(reading(`dev-${i}`, i));
      if (i === 100) restarted = r.stop().then(() => redis({ port: r.port }));
      await new Promise((res) => setTimeout(res, 5));
    }
    await restarted;
    await waitFor(() => outcomes.length >= total, 10000, `${total} outcomes (${outcomes.length} so far)`);
    for (const s of stops) s();
    assert.equal(outcomes.length, total, 'each message exactly once');
    const failed = outcomes.filter((o) => o.port === 'fail');
    assert.ok(failed.length > 0, 'some messages met the restart');
    for (const f of failed) {
      assert.match(String(f.msg.error?.message), /^device store (error: Redis 127\.0\.0\.1:\d+|did not answer)/);
    }
    // Messages after the restart are saved again.
    await waitFor(() => lastStatus().fill === 'green', 10000, 'the status back to green');
    const after = await outcomeOf('st', reading('after-restart', 1));
    assert.equal(after.port, 'ok');
    assert.equal(((await stored(r.port, 'nr-test:ts:after-restart:temperature')) as { value: number }).value, 1);
  });

  it('fails messages over the in-flight cap at once with "device store busy"', async () => {
    const r = await redis();
    await helper.load(nodes, flow(r.url, { maxPending: 2, timeout: 3000 }));
    await waitFor(() => lastStatus().fill === 'green', 5000, 'connected');
    // Redis holds every client's commands for a while: two calls wait, the rest are over the cap.
    const admin = createClient({ socket: { host: '127.0.0.1', port: r.port } });
    await admin.connect();
    await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL']);
    admin.destroy();
    const outcomes: Array<{ port: string; msg: AnyMsg }> = [];
    const stops = [
      onMessage('ok', (m) => outcomes.push({ port: 'ok', msg: m })),
      onMessage('fail', (m) => outcomes.push({ port: 'fail', msg: m })),
    ];
    const st = helper.getNode('st');
    for (let i = 0; i < 5; i++) st.receive(reading(`busy-${i}`, i));
    await waitFor(() => outcomes.length >= 3, 500, 'three refused at once');
    assert.equal(outcomes.filter((o) => /device store busy/.test(String(o.msg.error?.message))).length, 3);
    await waitFor(() => outcomes.length >= 5, 5000, 'the two waiting calls to end');
    for (const s of stops) s();
    assert.equal(outcomes.filter((o) => o.port === 'ok').length, 2, 'the two waiting ones saved after the pause');
  });

  it('says "wrong password" on the status, and the password is in no log, status or message', async () => {
    const r = await redis({ password: 'the-right-one' });
    await helper.load(nodes, flow(r.url), { s1: { password: PASSWORD } });
    await waitFor(() => /down: wrong password/.test(String(lastStatus().text)), 5000, 'a wrong-password status');
    assert.equal(lastStatus().fill, 'red');
    const { port, msg } = await outcomeOf('st', reading());
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /wrong password/);
    for (const [what, text] of [
      ['log', logged()],
      ['status', JSON.stringify(statusCalls('st'))],
      ['errors', JSON.stringify(errorCalls('st'))],
      ['message', JSON.stringify(msg)],
    ]) {
      assert.ok(!text.includes(PASSWORD), `the password in the ${what}`);
    }
  });

  it('connects with the right password from the credentials', async () => {
    const r = await redis({ password: PASSWORD });
    await helper.load(nodes, flow(r.url), { s1: { password: PASSWORD } });
    await waitFor(() => lastStatus().fill === 'green', 5000, 'connected');
    assert.equal((await outcomeOf('st', reading())).port, 'ok');
  });

  it('shows a TLS error when TLS meets a plain server', async () => {
    const r = await redis();
    await helper.load(nodes, flow(r.url, { redisTls: true }));
    await waitFor(() => /down: .*TLS/.test(String(lastStatus().text)), 8000, 'a TLS status');
    assert.equal(lastStatus().fill, 'red');
  });

  it('refuses a URL holding a password with a clear status, without repeating the password', async () => {
    await helper.load(nodes, flow(`redis://user:${PASSWORD}@127.0.0.1:6379`));
    assert.equal(lastStatus().fill, 'red');
    assert.match(String(lastStatus().text), /must not hold a password/);
    const { port, msg } = await outcomeOf('st', reading());
    assert.equal(port, 'fail');
    assert.match(String(msg.error?.message), /must not hold a password/);
    assert.ok(!logged().includes(PASSWORD), 'the password in the log');
    assert.ok(!JSON.stringify(statusCalls('st')).includes(PASSWORD), 'the password in a status');
  });

  it('keeps the password out of the flow JSON a real Node-RED saves and serves, and out of its log', async () => {
    const r = await redis({ password: PASSWORD });
    const userDir = makeUserDir('rule-redis-', { dashboard: false });
    writeSettings(userDir);
    const red = new NodeRedProcess(userDir, await freePort());
    try {
      await red.start();
      // As the editor deploys it: credentials inline, debug nodes where the in-process tests have helper nodes.
      const flows = flow(r.url).map((n) =>
        n.id === 's1'
          ? { ...n, credentials: { password: PASSWORD } }
          : n.type === 'helper'
            ? { ...n, type: 'debug', active: false }
            : n,
      );
      await red.deploy(flows);
      await red.waitForLog(/device store: connected to Redis 127\.0\.0\.1:\d+/, 10000);
      const served = await (await fetch(red.url('/flows'))).text();
      assert.match(served, /"backend":"redis"/, 'the flow as the editor gets it');
      // The editor asks for a node's credentials apart: it learns that there is a password, not what it is.
      const creds = await (await fetch(red.url('/credentials/rule-device-store/s1'))).text();
      assert.equal((JSON.parse(creds) as { has_password?: boolean }).has_password, true);
      const saved = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
      assert.match(saved, /"redisUrl"/);
      for (const [what, text] of [
        ['served flow JSON', served],
        ['credentials served to the editor', creds],
        ['saved flow JSON', saved],
        ['log', red.output],
      ]) {
        assert.ok(!text.includes(PASSWORD), `the password in the ${what}`);
      }
    } finally {
      await red.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });
});
