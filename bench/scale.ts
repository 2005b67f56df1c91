/**
 * Benchmark (not a test) of the scale-out recipe, `npm run bench -- --scale` (`--quick` for a shorter run): the
 * tutorial's uplink (examples/07-scale-out.json) with
 *   - memory-1: one Node-RED instance, the device store on Node-RED's context (memory),
 *   - redis-1:  one instance, the device store on Redis,
 *   - redis-2:  two instances on Redis, sharing the readings through a `$share` subscription,
 * all on one mosquitto and one redis-server, all started once and side by side (each set-up has its own topics
 * and share group, so it gets only its own readings). One run, interleaved rounds (each round visits every
 * set-up, in a rotated order), medians with min and max. A pass publishes a batch of readings at QoS 1 and
 * counts readings per second from the first publish to the last reading reported saved by the set-up's Success
 * output. Then the latency of one device-store lookup (device, a client attribute, the latest value) through
 * Redis from this process, sequential calls. Writes bench/results/scale.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { DeviceStore } from '../nodes/lib/device-store';
import { RedisBackend } from '../nodes/lib/redis-store';
import { startTestBroker } from '../test/mqtt-broker';
import { type Reading, ScaleCounter, ScaleFeeder, scaleFlow, shuffledReadings } from '../test/scale-out';
import {
  freePort,
  makeUserDir,
  NodeRedProcess,
  type RedisProcess,
  startRedis,
  waitFor,
  writeSettings,
} from '../test/toolkit';
import { percentile, type Spread, spread } from './lib/stats';

const SETUPS = {
  'memory-1': { instances: ['memory-1'], redis: false },
  'redis-1': { instances: ['redis-1'], redis: true },
  'redis-2': { instances: ['redis-2a', 'redis-2b'], redis: true },
} as const;
type Setup = keyof typeof SETUPS;
const NAMES = Object.keys(SETUPS) as Setup[];
const DEVICES = 100;
/** A set-up that reports nothing new for this long has lost the rest of the batch. */
const STALL_MS = 10000;

export interface ScaleOptions {
  quick: boolean;
  /** Writes the results (bench/run.ts's writeJson); returns the file's path. */
  write(name: string, data: unknown): string;
  /** Date, machine, versions and load, as every result file records them. */
  context(): Record<string, unknown>;
}

interface Pass {
  per_s: number;
  lost: number;
  /** CPU seconds each process spent during the pass, by role, and the pass's wall time in seconds. */
  cpu: Record<Role, number>;
  wall_s: number;
}

type Role = 'node_red' | 'mosquitto' | 'redis' | 'runner';
const ROLES: Role[] = ['node_red', 'mosquitto', 'redis', 'runner'];

let clockTicks: number | undefined;
/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return Number.NaN;
  }
}

export async function scaleBench(o: ScaleOptions): Promise<void> {
  const rounds = o.quick ? 3 : 5;
  const perDevice = o.quick ? 20 : 50;
  const lookups = o.quick ? 2000 : 10000;
  console.log(
    `scale-out benchmark (${o.quick ? 'quick' : 'full'}): ${rounds} rounds of ${DEVICES * perDevice} readings per set-up`,
  );
  const broker = await startTestBroker('mosquitto', undefined, { quiet: true });
  let redis: RedisProcess | undefined;
  const reds: NodeRedProcess[] = [];
  const userDirs: string[] = [];
  let counter: ScaleCounter | undefined;
  let feeder: ScaleFeeder | undefined;
  try {
    redis = await startRedis();
    const url = redis.url;
    counter = await ScaleCounter.connect(broker.url);
    feeder = await ScaleFeeder.connect(broker.url);
    const setupOf = new Map<string, Setup>();
    for (const s of NAMES) {
      for (const instance of SETUPS[s].instances) {
        setupOf.set(instance, s);
        const userDir = makeUserDir(`rule-engine-bench-scale-${instance}-`, { dashboard: false });
        userDirs.push(userDir);
        const flow = scaleFlow({
          brokerPort: broker.port,
          instance,
          counters: true,
          topicPrefix: s,
          ...(SETUPS[s].redis ? { redisUrl: url, redisPrefix: `bench-${s}` } : {}),
        });
        writeSettings(userDir, flow, { logging: { console: { level: 'info' } } });
        const red = new NodeRedProcess(userDir, await freePort());
        reds.push(red);
      }
    }
    await Promise.all(reds.map((r) => r.start()));
    await Promise.all(reds.map((r) => r.waitForLog(/Connected to broker/, 20000)));
    console.log(`mosquitto on ${broker.port}, redis-server on ${redis.port}, ${reds.length} Node-RED instances`);

    const reported = new Map<Setup, number>(NAMES.map((s) => [s, 0]));
    let wake = () => {};
    counter.onReport = (instance) => {
      const s = setupOf.get(instance);
      if (s) reported.set(s, (reported.get(s) ?? 0) + 1);
      wake();
    };
    let seq = 0;
    const pidsOf: Record<Role, () => (number | undefined)[]> = {
      node_red: () => reds.map((r) => r.child?.pid),
      mosquitto: () => [broker.pid],
      redis: () => [redis?.child.pid],
      runner: () => [process.pid],
    };
    const cpuNow = () =>
      Object.fromEntries(
        ROLES.map((role) => [role, pidsOf[role]().reduce<number>((a, pid) => a + cpuSeconds(pid), 0)]),
      ) as Record<Role, number>;
    const pass = async (s: Setup, seed: number): Promise<Pass> => {
      const readings: Reading[] = shuffledReadings(DEVICES, perDevice, seq, seed);
      const cpu0 = cpuNow();
      seq += readings.length;
      const from = reported.get(s) ?? 0;
      const done = () => (reported.get(s) ?? 0) - from;
      const t0 = performance.now();
      const publishing = (feeder as ScaleFeeder).publish(readings, 100, undefined, s);
      let last = t0;
      let seen = 0;
      while (done() < readings.length && performance.now() - last < STALL_MS) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
        if (done() !== seen) {
          seen = done();
          last = performance.now();
        }
      }
      await publishing;
      const cpu1 = cpuNow();
      return {
        per_s: (done() / (last - t0)) * 1000,
        lost: readings.length - done(),
        cpu: Object.fromEntries(ROLES.map((role) => [role, cpu1[role] - cpu0[role]])) as Record<Role, number>,
        wall_s: (performance.now() - t0) / 1000,
      };
    };

    // Warm-up (JIT, script threads, Redis scripts, devices created), not recorded.
    for (const s of NAMES) await pass(s, 1);
    const results = new Map<Setup, Pass[]>(NAMES.map((s) => [s, []]));
    for (let r = 0; r < rounds; r++) {
      const order = NAMES.map((_, i) => NAMES[(i + r) % NAMES.length]);
      const line: string[] = [];
      for (const s of order) {
        const p = await pass(s, 100 + r);
        results.get(s)?.push(p);
        line.push(`${s} ${Math.round(p.per_s)}/s${p.lost ? ` (${p.lost} lost)` : ''}`);
      }
      console.log(`round ${r + 1}/${rounds}: ${line.join(', ')}`);
    }

    // One lookup as originator attributes makes it: device, a client attribute and a latest value.
    const backend = new RedisBackend({ url, prefix: 'bench-redis-1' });
    const store = new DeviceStore(backend);
    await waitFor(() => backend.current.state === 'ready', 10000, 'the lookup client to connect');
    const samples: number[] = [];
    for (let i = 0; i < lookups; i++) {
      const device = `Thermostat-${String(i % DEVICES).padStart(3, '0')}`;
      const t = performance.now();
      await store.lookup(device, { client: ['deviceName'] }, ['temperature']);
      samples.push(performance.now() - t);
    }
    await backend.close();
    samples.sort((a, b) => a - b);

    const rate = (s: Setup): Spread => spread((results.get(s) ?? []).map((p) => p.per_s));
    const m = (s: Setup) => rate(s).median;
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    // Where the machine's time went: CPU per reading by process, and how many cores were busy on average.
    const cpuOf = (s: Setup) => {
      const passes = results.get(s) ?? [];
      const readings = passes.reduce((a, p) => a + (DEVICES * perDevice - p.lost), 0);
      const wall = passes.reduce((a, p) => a + p.wall_s, 0);
      const sum = (role: Role) => passes.reduce((a, p) => a + p.cpu[role], 0);
      const total = ROLES.reduce((a, role) => a + sum(role), 0);
      if (!Number.isFinite(total) || readings === 0) return null;
      const us = (sec: number) => Math.round((sec / readings) * 1e6);
      return {
        us_per_reading: { ...Object.fromEntries(ROLES.map((role) => [role, us(sum(role))])), total: us(total) },
        cores_busy: Math.round((total / wall) * 100) / 100,
      };
    };
    const figures = {
      ...o.context(),
      quick: o.quick,
      rounds,
      readings_per_pass: DEVICES * perDevice,
      devices: DEVICES,
      qos: 1,
      readings_per_s: Object.fromEntries(NAMES.map((s) => [s, rate(s)])),
      lost: Object.fromEntries(NAMES.map((s) => [s, (results.get(s) ?? []).reduce((a, p) => a + p.lost, 0)])),
      scale_2_over_1: ratio(m('redis-2'), m('redis-1')),
      redis_over_memory: ratio(m('redis-1'), m('memory-1')),
      cpu: Object.fromEntries(NAMES.map((s) => [s, cpuOf(s)])),
      lookup_redis_ms: {
        p50: Math.round(percentile(samples, 50) * 1000) / 1000,
        p99: Math.round(percentile(samples, 99) * 1000) / 1000,
        samples: samples.length,
      },
    };
    console.log(
      `readings/s (median [min..max]): ${NAMES.map((s) => `${s} ${rate(s).median} [${rate(s).min}..${rate(s).max}]`).join(', ')}\n` +
        `scale_2_over_1 ${figures.scale_2_over_1}, redis_over_memory ${figures.redis_over_memory}, ` +
        `lookup through Redis p50 ${figures.lookup_redis_ms.p50} ms, p99 ${figures.lookup_redis_ms.p99} ms`,
    );
    for (const s of NAMES) {
      const c = figures.cpu[s];
      if (c) {
        const parts = Object.entries(c.us_per_reading).map(([k, v]) => `${k} ${v}`);
        console.log(`CPU µs per reading, ${s}: ${parts.join(', ')}; cores busy ${c.cores_busy} of ${os.cpus().length}`);
      }
    }
    console.log(`wrote ${o.write('scale.json', figures)}`);
  } finally {
    await Promise.all(reds.map((r) => r.stop()));
    await feeder?.close();
    await counter?.close();
    await redis?.stop();
    await broker.stop();
    for (const d of userDirs) fs.rmSync(d, { recursive: true, force: true });
  }
}
