/**
 * Several Node-RED instances behind an MQTT shared subscription on one device store in Redis, as
 * docs/scale-out.md describes: Debian's mosquitto (it has `$share`), Debian's redis-server and two real Node-RED
 * processes running the scale-out example (examples/07-scale-out.json: mqtt in on
 * `$share/rule-engine/devices/+/temperature/latest`, the tutorial's uplink, save attributes and save time series,
 * the device store on Redis). Each instance's Success and Failure outputs publish every reading to a counting
 * subscriber in this process, so every reading is accounted for by number; what is stored is read from Redis.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createClient } from '@redis/client';
import { encodeKeyPart, keyLayout } from '../nodes/lib/device-store';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import {
  type Reading,
  ScaleCounter,
  ScaleFeeder,
  type ScaleFlowOptions,
  scaleFlow,
  shuffledReadings,
} from './scale-out';
import {
  freePort,
  makeUserDir,
  NodeRedProcess,
  nodeRedDir,
  type RedisProcess,
  startRedis,
  waitFor,
  writeSettings,
} from './toolkit';

const INSTANCES = ['a', 'b'];
const PREFIX = 'scale-test';
const layout = keyLayout(PREFIX);

describe('scale-out: two Node-RED instances on one shared subscription (mosquitto)', function () {
  // A minute a case on a quiet 2-core machine; room for a busy one.
  this.timeout(240000);
  let broker: TestMqttBroker;
  let redis: RedisProcess;
  let raw: ReturnType<typeof createClient>;
  let counter: ScaleCounter;
  let feeder: ScaleFeeder;
  const reds = new Map<string, NodeRedProcess>();
  const userDirs: string[] = [];
  /** Reading numbers already used: each case numbers its readings from here, so counts never mix. */
  let nextSeq = 0;

  async function startInstance(instance: string, extra: Partial<ScaleFlowOptions> = {}): Promise<NodeRedProcess> {
    let red = reds.get(instance);
    if (!red) {
      const userDir = makeUserDir(`rule-engine-scale-${instance}-`, { dashboard: false });
      userDirs.push(userDir);
      const flow = { brokerPort: broker.port, instance, counters: true, redisUrl: redis.url, redisPrefix: PREFIX };
      writeSettings(userDir, scaleFlow({ ...flow, ...extra }));
      red = new NodeRedProcess(userDir, await freePort(), { nodeRed: nodeRedDir() });
      reds.set(instance, red);
    }
    await red.start();
    await red.waitForLog(/Connected to broker/, 20000);
    return red;
  }

  /**
   * Publishes readings of a warm-up device until each of `instances` has reported one: then each holds its share
   * of the subscription (mosquitto hands shared messages round-robin).
   */
  async function untilEachReports(instances: string[]): Promise<void> {
    const before = new Map(instances.map((i) => [i, counter.byInstance.get(i) ?? 0]));
    await waitFor(
      async () => {
        const r = shuffledReadings(1, 1, take(1));
        await feeder.publish(r.map((x) => ({ ...x, device: 'Warm-up' })));
        return instances.every((i) => (counter.byInstance.get(i) ?? 0) > (before.get(i) ?? 0));
      },
      20000,
      `each of ${instances.join(', ')} to process a reading`,
      100,
    );
  }

  function take(n: number): number {
    const first = nextSeq;
    nextSeq += n;
    return first;
  }

  function seqs(readings: Reading[]): number[] {
    return readings.map((r) => r.seq);
  }

  /**
   * Waits until every reading has been reported, or nothing new was reported for `quietMs` (the readings left are
   * lost, or wait for an instance that is away).
   */
  async function settle(readings: Reading[], ms = 180000, quietMs = 10000): Promise<number> {
    let last = -1;
    let lastChange = Date.now();
    let n = 0;
    await waitFor(
      () => {
        n = counter.reported(seqs(readings));
        if (n !== last) {
          last = n;
          lastChange = Date.now();
        }
        return n === readings.length || Date.now() - lastChange > quietMs;
      },
      ms,
      'the readings to be reported',
      100,
    );
    return n;
  }

  async function stored<T>(key: string): Promise<T | undefined> {
    const v = await raw.get(key);
    return v === null ? undefined : (JSON.parse(v) as T);
  }
  const latestKey = (device: string) => layout.latest(encodeKeyPart(device), 'temperature');
  const deviceKey = (device: string) => layout.device(encodeKeyPart(device));

  before(async () => {
    broker = await startTestBroker('mosquitto', undefined, { quiet: true });
    redis = await startRedis();
    raw = createClient({ socket: { host: '127.0.0.1', port: redis.port, reconnectStrategy: 100 } });
    raw.on('error', () => {}); // the restart case stops the server under it
    await raw.connect();
    counter = await ScaleCounter.connect(broker.url);
    feeder = await ScaleFeeder.connect(broker.url);
    await Promise.all(INSTANCES.map((i) => startInstance(i)));
    await untilEachReports(INSTANCES);
  });

  after(async () => {
    await Promise.all([...reds.values()].map((r) => r.stop()));
    await feeder?.close();
    await counter?.close();
    if (raw?.isOpen) await raw.destroy();
    await redis?.stop();
    await broker?.stop();
    for (const d of userDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('processes 10,000 readings of 100 devices (QoS 1, timestamps shuffled) exactly once, shared by both', async () => {
    const readings = shuffledReadings(100, 100, take(10000));
    const shares = new Map(INSTANCES.map((i) => [i, counter.byInstance.get(i) ?? 0]));
    await feeder.publish(readings);
    const reported = await settle(readings);
    const twice = seqs(readings).filter((s) => (counter.ok.get(s) ?? 0) + (counter.failed.get(s) ?? 0) > 1);
    const failed = seqs(readings).filter((s) => counter.failed.has(s));
    assert.equal(reported, readings.length, 'every reading reported');
    assert.deepEqual(twice, [], 'no reading processed twice');
    assert.deepEqual(failed, [], 'no reading at Failure');
    for (const i of INSTANCES) {
      const share = (counter.byInstance.get(i) ?? 0) - (shares.get(i) ?? 0);
      // Round-robin: each gets about half; a third is far from it and still shows that both took part.
      assert.ok(share > readings.length / 3, `instance ${i} processed ${share} of ${readings.length}`);
    }
    // Whichever instance saved last, Redis holds each device's newest reading.
    const newest = new Map<string, Reading>();
    for (const r of readings) if ((newest.get(r.device)?.ts ?? -1) < r.ts) newest.set(r.device, r);
    assert.equal(newest.size, 100);
    const wrong: string[] = [];
    for (const [device, r] of newest) {
      const got = await stored<{ ts: number; value: unknown }>(latestKey(device));
      if (got?.ts !== r.ts || got?.value !== r.seq)
        wrong.push(`${device}: ${JSON.stringify(got)} not ${r.ts}/${r.seq}`);
    }
    assert.deepEqual(wrong, [], 'the newest value per device');
  });

  it('creates a device seen on both instances at once only once: one type, one creation time', async () => {
    // Redis reports every write of a device key: a device created once is written once.
    const writes = new Map<string, number>();
    const listener = raw.duplicate();
    await listener.connect();
    await raw.configSet('notify-keyspace-events', 'K$');
    await listener.pSubscribe(`__keyspace@0__:${layout.device('Twin-*')}`, (event, channel) => {
      if (event === 'set') writes.set(channel, (writes.get(channel) ?? 0) + 1);
    });
    try {
      const rounds = 200;
      const readings: Reading[] = [];
      const first = take(rounds * 2);
      for (let k = 0; k < rounds; k++) {
        // Two readings of a new device one after the other: mosquitto hands them to different instances.
        const device = `Twin-${first}-${k}`;
        readings.push({ seq: first + 2 * k, device, ts: 1000, type: 'thermostat-a' });
        readings.push({ seq: first + 2 * k + 1, device, ts: 2000, type: 'thermostat-b' });
      }
      await feeder.publish(readings);
      assert.equal(await settle(readings), readings.length, 'every reading reported');
      assert.deepEqual(
        readings.filter((r) => counter.failed.has(r.seq)).map((r) => r.seq),
        [],
        'none at Failure',
      );
      const bad: string[] = [];
      for (let k = 0; k < rounds; k++) {
        const device = `Twin-${first}-${k}`;
        const dev = await stored<{ name: string; type: string; createdTime: number }>(deviceKey(device));
        const n = writes.get(`__keyspace@0__:${deviceKey(device)}`) ?? 0;
        if (!dev || n !== 1 || !['thermostat-a', 'thermostat-b'].includes(dev.type) || !(dev.createdTime > 0)) {
          bad.push(`${device}: ${JSON.stringify(dev)}, written ${n} times`);
        }
      }
      assert.deepEqual(bad, [], 'each device created once');
    } finally {
      await listener.pUnsubscribe();
      listener.destroy();
    }
  });

  it('goes on after kill -9 of one instance mid-stream; only readings that instance held are lost', async () => {
    const [survivor, victim] = INSTANCES;
    const first = shuffledReadings(100, 50, take(5000), 7);
    const victimRed = reds.get(victim) as NodeRedProcess;
    const victimAtStart = counter.byInstance.get(victim) ?? 0;
    let killed = false;
    const firstSeqs = seqs(first);
    // An eighth of the way through the processing (not the publishing, which is faster on a quiet machine): the
    // victim is busy with its share.
    let reports = 0;
    counter.onReport = () => {
      reports++;
      if (killed || (counter.byInstance.get(victim) ?? 0) <= victimAtStart) return;
      if (reports < first.length / 8) return;
      killed = true;
      victimRed.kill();
    };
    try {
      await feeder.publish(first, 200);
      await waitFor(() => killed, 60000, 'the processing to reach an eighth of the stream');
    } finally {
      counter.onReport = () => {};
    }
    assert.ok(counter.reported(firstSeqs) < first.length, 'the victim was killed mid-stream');
    const reported = await settle(first);
    const lost = first.length - reported;
    const twice = seqs(first).filter((s) => (counter.ok.get(s) ?? 0) > 1);
    assert.deepEqual(twice, [], 'no reading processed twice');
    // Lost: what mosquitto had handed to the victim and the victim had not yet saved. Never more than the
    // victim's share of the stream after the kill's moment, and the survivor's share is all there.
    assert.ok(lost < first.length / 2, `lost ${lost} of ${first.length}`);
    console.log(`      kill -9 mid-stream: ${lost} of ${first.length} readings lost (clean sessions)`);

    // Once mosquitto has dropped the victim, the survivor takes every reading.
    const afterKill = shuffledReadings(100, 20, take(2000), 8);
    await feeder.publish(afterKill);
    assert.equal(await settle(afterKill), afterKill.length, 'every reading after the kill processed');
    assert.equal(
      afterKill.filter((r) => counter.ok.get(r.seq) === 1).length,
      afterKill.length,
      `all saved once, by ${survivor}`,
    );

    // Back to two instances for whatever runs next.
    await startInstance(victim);
    await untilEachReports(INSTANCES);
  });

  it('saves each reading or sends it to Failure while Redis restarts, and recovers without a restart', async () => {
    const readings = shuffledReadings(100, 50, take(5000), 9);
    let restarted: Promise<void> | undefined;
    // A tenth of the way through the processing (the publishing runs ahead of it on a quiet machine).
    let reports = 0;
    counter.onReport = () => {
      reports++;
      if (restarted || reports < readings.length / 10) return;
      // Down for half a second, then back on the same port, empty (no persistence): a crash and restart.
      restarted = (async () => {
        await redis.stop();
        await new Promise((r) => setTimeout(r, 500));
        redis = await startRedis({ port: redis.port });
      })();
    };
    try {
      await feeder.publish(readings, 200);
      await waitFor(() => restarted !== undefined, 60000, 'the processing to reach a tenth of the stream');
    } finally {
      counter.onReport = () => {};
    }
    await restarted;
    assert.equal(await settle(readings, 180000, 8000), readings.length, 'every reading saved or at Failure');
    const failed = readings.filter((r) => counter.failed.has(r.seq)).length;
    const saved = readings.filter((r) => counter.ok.has(r.seq)).length;
    assert.ok(failed > 0, 'some readings met Redis down');
    assert.equal(saved + failed, readings.length, 'each reading either saved or at Failure, not both');
    console.log(`      Redis restarted mid-stream: ${saved} saved, ${failed} at Failure`);

    // Both instances reconnect by themselves: every later reading is saved again.
    await untilEachReports(INSTANCES);
    const later = shuffledReadings(100, 10, take(1000), 10);
    await feeder.publish(later);
    assert.equal(await settle(later), later.length);
    assert.equal(later.filter((r) => counter.ok.get(r.seq) === 1).length, later.length, 'all saved, once');
    const r = later.find((x) => x.device === 'Thermostat-000') as Reading;
    assert.ok(await stored(latestKey(r.device)), 'stored in the restarted Redis');
  });

  it('with persistent sessions, keeps the readings of an instance that is down until it is back', async () => {
    // Clean session off and a fixed client id per instance, in place of the two instances so far.
    await Promise.all(INSTANCES.map((i) => reds.get(i)?.stop()));
    const [stays, away] = ['p1', 'p2'];
    await Promise.all([stays, away].map((i) => startInstance(i, { persistentSession: true })));
    await untilEachReports([stays, away]);
    const awayRed = reds.get(away) as NodeRedProcess;
    awayRed.kill();
    await waitFor(() => awayRed.child?.exitCode !== null || awayRed.child?.signalCode !== null, 10000, 'the kill');

    const readings = shuffledReadings(100, 10, take(1000), 11);
    await feeder.publish(readings);
    const whileAway = await settle(readings, 60000, 3000);
    // mosquitto keeps giving the absent member its turn and queues those readings in its session.
    assert.ok(whileAway < readings.length, `${whileAway} of ${readings.length} saved while ${away} was away`);
    assert.ok(whileAway > readings.length / 4, `${stays} went on (${whileAway} saved)`);

    await startInstance(away);
    assert.equal(await settle(readings), readings.length, 'the queued readings saved once it is back');
    const twice = seqs(readings).filter((x) => (counter.ok.get(x) ?? 0) > 1);
    assert.deepEqual(twice, [], 'none saved twice');
    console.log(`      persistent sessions: ${readings.length - whileAway} of ${readings.length} waited for ${away}`);
  });
});
