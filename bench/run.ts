/**
 * Benchmark (not a test): the knob-to-device path side by side with Node-RED's core nodes, Node-RED's own ceiling
 * and bare MQTT, in ONE run: interleaved rounds, medians with min and max, all traffic on 127.0.0.1.
 *
 *   npm run bench                 full run (about 7 minutes), writes bench/results/latest.json + throughput.svg
 *   npm run bench -- --quick      under 3 minutes, same outputs
 *   npm run bench -- --memory     RSS of Node-RED with 100,000 devices, then after 1,000,000 messages
 *                                 through our path (bench/results/memory.json)
 *   npm run bench -- --scale [--quick]
 *                                 the scale-out recipe: the uplink on one instance with the context store, one
 *                                 on Redis, two on Redis (bench/scale.ts; bench/results/scale.json)
 *   npm run bench -- --profile[=ours,uplink]
 *                                 CPU profile of the Node-RED process under full load on each listed set-up
 *                                 (bench/results/profile-<setup>.json; the .cpuprofile goes to the temp dir)
 *
 * Processes: the broker (Debian's mosquitto when installed, else aedes in a child process), Node-RED (a child
 * process with this package linked into a temp user dir, bench/lib/node-red-child.ts) and this runner (an
 * mqtt.js feeder and an mqtt.js subscriber). The set-ups and their flows: bench/lib/flows.ts.
 *
 * For each set-up, at QoS 0 and at QoS 1: messages per second delivered to the subscriber while the feeder
 * publishes as fast as the pipeline accepts them (at most MAX_OUTSTANDING published and not yet delivered),
 * counted over a fixed window after a ramp-up; and p50 / p99 latency from publish to delivery at a fixed
 * 1,000 msg/s. Rounds are interleaved (each round visits every set-up, in a rotated order) so that a slow
 * moment of the machine spreads over all of them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BenchBroker, startBenchBroker } from './lib/broker';
import { buildFlow, DEVICE, loadFixtures, type Qos, SETUP_LABELS, SETUPS, type Setup, STORE_ID } from './lib/flows';
import { type LatencyResult, MqttLoad, sleep, type ThroughputResult } from './lib/mqtt-load';
import { type NodeRedProcess, startNodeRedProcess } from './lib/node-red-process';
import { printProfile, summariseProfile } from './lib/profile';
import { type Spread, spread } from './lib/stats';
import { barChartSvg } from './lib/svg';
import { scaleBench } from './scale';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const memoryMode = args.includes('--memory');
const scaleMode = args.includes('--scale');
const profileArg = args.find((a) => a.startsWith('--profile'));
const numArg = (name: string, dflt: number) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
};

const ROUNDS = numArg('rounds', quick ? 3 : 5);
const WINDOW_MS = numArg('window-ms', quick ? 1000 : 2500);
const RAMP_MS = quick ? 300 : 500;
const MAX_OUTSTANDING = numArg('outstanding', 1000);
const LATENCY_RATE = 1000;
const LATENCY_MS = numArg('latency-ms', quick ? 1500 : 3000);
const LATENCY_WARM_MS = quick ? 300 : 500;
const QOS: Qos[] = [0, 1];

const resultsDir = path.resolve(__dirname, '../../bench/results');
const root = path.resolve(__dirname, '../..');

function machine() {
  const cpus = os.cpus();
  return {
    cpu_model: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    total_mem_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

function load(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    try {
      return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'unknown';
    }
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

interface Env {
  broker: BenchBroker;
  red: NodeRedProcess;
  mqtt: MqttLoad;
}

async function startAll(setups: readonly Setup[], qos: readonly Qos[], execArgv: string[] = []): Promise<Env> {
  const broker = await startBenchBroker();
  console.log(`broker: ${broker.kind} ${broker.version} on 127.0.0.1:${broker.port} (pid ${broker.pid})`);
  const fixtures = loadFixtures();
  const flows = buildFlow({ brokerPort: broker.port, fixtures, setups, qos });
  const t0 = Date.now();
  const red = await startNodeRedProcess(flows, { execArgv });
  console.log(
    `Node-RED ${red.versions.nodeRed} on Node ${red.versions.node} (pid ${red.pid}), ${flows.length} flow nodes, started in ${Date.now() - t0} ms; fixtures from ${fixtures.source}`,
  );
  const mqtt = await MqttLoad.connect(broker.port);
  // The device must be known before the RPC path can work: the tutorial's uplink creates Thermostat-A and saves
  // its deviceName as a client attribute.
  const pipelines = setups.filter((s) => s !== 'raw');
  if (setups.includes('uplink')) {
    const q = qos[qos.length - 1];
    if (!(await mqtt.probe('uplink', q))) throw new Error('the uplink path delivered nothing within 30 s');
    console.log(`seeded ${DEVICE} (client attribute deviceName) through the uplink path`);
  }
  for (const s of pipelines) {
    for (const q of qos) {
      if (!(await mqtt.probe(s, q))) throw new Error(`set-up ${s} at QoS ${q} delivered nothing within 30 s`);
    }
  }
  console.log(`all ${pipelines.length * qos.length} pipelines deliver`);
  return { broker, red, mqtt };
}

async function stopAll(env: Env): Promise<void> {
  await env.mqtt.close().catch(() => {});
  await env.red.stop();
  await env.broker.stop();
}

function writeJson(name: string, data: unknown): string {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, name);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

const splitKey = (key: string): [Setup, Qos] => {
  const [s, q] = key.split('/q');
  return [s as Setup, Number(q) as Qos];
};
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fmtMs = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

// ------------------------------------------------------------------------------------------ side by side

async function sideBySide() {
  const started = Date.now();
  const loadStart = load();
  console.log(
    `side-by-side benchmark (${quick ? 'quick' : 'full'}): ${ROUNDS} rounds, window ${WINDOW_MS} ms after ${RAMP_MS} ms ramp, ` +
      `at most ${MAX_OUTSTANDING} outstanding; latency at ${LATENCY_RATE} msg/s for ${LATENCY_MS} ms; load average ${loadStart.join(' ')}`,
  );
  const env = await startAll(SETUPS, QOS);
  const { mqtt, red } = env;
  const tput: Record<string, ThroughputResult[]> = {};
  const lat: Record<string, LatencyResult[]> = {};
  const k = (s: Setup, q: Qos) => `${s}/q${q}`;
  for (const s of SETUPS) {
    for (const q of QOS) {
      tput[k(s, q)] = [];
      lat[k(s, q)] = [];
    }
  }

  // Warm-up: every path once (JIT, pools, caches), not recorded.
  for (const s of SETUPS) {
    for (const q of QOS) {
      await mqtt.quiet();
      await mqtt.throughput(s, q, { windowMs: 500, rampMs: 200, window: MAX_OUTSTANDING });
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    const order = SETUPS.map((_, i) => SETUPS[(i + r) % SETUPS.length]);
    const line: string[] = [];
    for (const s of order) {
      const qs = r % 2 === 0 ? QOS : [...QOS].reverse();
      for (const q of qs) {
        await mqtt.quiet();
        const t = await mqtt.throughput(s, q, { windowMs: WINDOW_MS, rampMs: RAMP_MS, window: MAX_OUTSTANDING });
        tput[k(s, q)].push(t);
      }
      for (const q of qs) {
        await mqtt.quiet();
        lat[k(s, q)].push(
          await mqtt.latency(s, q, { rate: LATENCY_RATE, durationMs: LATENCY_MS, warmMs: LATENCY_WARM_MS }),
        );
      }
      line.push(`${s} ${fmt(tput[k(s, 0)].at(-1)!.msgs_per_s)}/${fmt(tput[k(s, 1)].at(-1)!.msgs_per_s)}`);
    }
    console.log(`round ${r + 1}/${ROUNDS} (msg/s QoS 0/1): ${line.join(', ')}  [load ${load().join(' ')}]`);
  }
  const mem = await red.cmd<NodeJS.MemoryUsage>('memory');
  const loadEnd = load();
  const nodeRedLog = red.log.slice();
  const stray = mqtt.stray;
  await stopAll(env);

  // ------------------------------------------------------------------------------------------- figures
  const tp = (s: Setup, q: Qos): Spread => spread(tput[k(s, q)].map((t) => t.msgs_per_s));
  const lost = (s: Setup, q: Qos) => tput[k(s, q)].reduce((a, t) => a + t.lost, 0);
  const latS = (s: Setup, q: Qos, f: 'p50_ms' | 'p99_ms' | 'max_ms') =>
    spread(
      lat[k(s, q)].map((l) => l[f]),
      3,
    );
  const latLost = (s: Setup, q: Qos) => lat[k(s, q)].reduce((a, l) => a + l.lost, 0);
  /** Per-round ratio ours / other, so that the spread reflects rounds run close together. */
  const roundRatios = (other: Setup, q: Qos) =>
    tput[k('ours', q)].map((t, i) => t.msgs_per_s / tput[k(other, q)][i].msgs_per_s);
  const ratio = (other: Setup, q: Qos) => Math.round((tp('ours', q).median / tp(other, q).median) * 1000) / 1000;

  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    commit: gitCommit(),
    duration_s: Math.round((Date.now() - started) / 1000),
    machine: { ...machine(), load_avg_start: loadStart, load_avg_end: loadEnd },
    versions: {
      node: red.versions.node,
      node_red: red.versions.nodeRed,
      broker: `${env.broker.kind} ${env.broker.version}`,
      [env.broker.kind]: env.broker.version,
      mqtt_js: packageVersion('mqtt'),
    },
    settings: {
      rounds: ROUNDS,
      window_ms: WINDOW_MS,
      ramp_ms: RAMP_MS,
      max_outstanding: MAX_OUTSTANDING,
      latency_rate_msgs_per_s: LATENCY_RATE,
      latency_duration_ms: LATENCY_MS,
      latency_warmup_ms: LATENCY_WARM_MS,
    },
  };
  const names: Record<Setup, string> = {
    raw: 'raw',
    passthrough: 'passthrough',
    core_timed: 'core_timed',
    core: 'core',
    ours: 'ours',
    uplink: 'uplink',
  };
  for (const q of QOS) {
    const sfx = q === 1 ? '_qos1' : '';
    for (const s of SETUPS) {
      const v = tp(s, q);
      out[`${names[s]}_msgs_per_s${sfx}`] = v.median;
      out[`${names[s]}_msgs_per_s${sfx}_min`] = v.min;
      out[`${names[s]}_msgs_per_s${sfx}_max`] = v.max;
    }
    for (const [key, other] of [
      ['ratio_vs_core_timed', 'core_timed'],
      ['ratio_vs_core', 'core'],
      ['ratio_vs_passthrough', 'passthrough'],
    ] as const) {
      out[`${key}${sfx}`] = ratio(other, q);
      const rr = spread(roundRatios(other, q), 3);
      out[`${key}${sfx}_min`] = rr.min;
      out[`${key}${sfx}_max`] = rr.max;
    }
    const p99 = latS('ours', q, 'p99_ms');
    const p50 = latS('ours', q, 'p50_ms');
    out[`p99_ms_at_1000${sfx}`] = p99.median;
    out[`p99_ms_at_1000${sfx}_min`] = p99.min;
    out[`p99_ms_at_1000${sfx}_max`] = p99.max;
    out[`p50_ms_at_1000${sfx}`] = p50.median;
  }
  out.throughput = Object.fromEntries(
    SETUPS.map((s) => [
      s,
      {
        label: SETUP_LABELS[s],
        qos0: { ...tp(s, 0), lost: lost(s, 0), rounds: tput[k(s, 0)].map((t) => Math.round(t.msgs_per_s)) },
        qos1: { ...tp(s, 1), lost: lost(s, 1), rounds: tput[k(s, 1)].map((t) => Math.round(t.msgs_per_s)) },
      },
    ]),
  );
  out.latency_at_1000 = Object.fromEntries(
    SETUPS.map((s) => [
      s,
      Object.fromEntries(
        QOS.map((q) => [
          `qos${q}`,
          {
            p50_ms: latS(s, q, 'p50_ms'),
            p99_ms: latS(s, q, 'p99_ms'),
            max_ms: latS(s, q, 'max_ms'),
            lost: latLost(s, q),
          },
        ]),
      ),
    ]),
  );
  const goals = {
    ratio_vs_core_timed: {
      goal: '>= 5',
      value: out.ratio_vs_core_timed,
      met: (out.ratio_vs_core_timed as number) >= 5,
    },
    ratio_vs_core: { goal: '>= 1.0', value: out.ratio_vs_core, met: (out.ratio_vs_core as number) >= 1 },
    ratio_vs_passthrough: {
      goal: '>= 0.5',
      value: out.ratio_vs_passthrough,
      met: (out.ratio_vs_passthrough as number) >= 0.5,
    },
    p99_ms_at_1000: { goal: '< 5', value: out.p99_ms_at_1000, met: (out.p99_ms_at_1000 as number) < 5 },
  };
  out.goals = goals;
  out.node_red_process = {
    rss_mb_at_end: Math.round(mem.rss / 1e6),
    heap_used_mb_at_end: Math.round(mem.heapUsed / 1e6),
    log_lines: nodeRedLog.length,
    first_log_lines: nodeRedLog.slice(0, 10),
  };
  out.stray_deliveries = stray;

  // ------------------------------------------------------------------------------------------- report
  console.log('');
  console.log(
    `${'set-up'.padEnd(44)} | ${'QoS 0 msg/s median [min..max]'.padEnd(30)} | ${'QoS 1 msg/s median [min..max]'.padEnd(30)} | p50 / p99 ms @1000 (QoS 0) | QoS 1`,
  );
  console.log('-'.repeat(44 + 3 + 30 + 3 + 30 + 3 + 26 + 3 + 14));
  for (const s of SETUPS) {
    const a = tp(s, 0);
    const b = tp(s, 1);
    const l0 = `${fmtMs(latS(s, 0, 'p50_ms').median)} / ${fmtMs(latS(s, 0, 'p99_ms').median)}`;
    const l1 = `${fmtMs(latS(s, 1, 'p50_ms').median)} / ${fmtMs(latS(s, 1, 'p99_ms').median)}`;
    console.log(
      `${SETUP_LABELS[s].padEnd(44)} | ${`${fmt(a.median)} [${fmt(a.min)}..${fmt(a.max)}]`.padEnd(30)} | ${`${fmt(b.median)} [${fmt(b.min)}..${fmt(b.max)}]`.padEnd(30)} | ${l0.padEnd(26)} | ${l1}`,
    );
  }
  console.log('');
  for (const q of QOS) {
    const sfx = q === 1 ? '_qos1' : '';
    console.log(
      `QoS ${q}: ours / core timed ${out[`ratio_vs_core_timed${sfx}`]} (goal >= 5), ours / core ${out[`ratio_vs_core${sfx}`]} (goal >= 1.0), ours / pass-through ${out[`ratio_vs_passthrough${sfx}`]} (goal >= 0.5), ours p99 at 1,000 msg/s ${out[`p99_ms_at_1000${sfx}`]} ms (goal < 5, QoS 0)`,
    );
  }
  const lostAll = SETUPS.flatMap((s) =>
    QOS.map((q) => [`${s}/q${q}`, `${lost(s, q)} in throughput runs, ${latLost(s, q)} in latency runs`] as const),
  ).filter(([n]) => lost(...splitKey(n)) + latLost(...splitKey(n)) > 0);
  if (lostAll.length) console.log(`undelivered (counted as lost): ${lostAll.map(([n, c]) => `${n}: ${c}`).join('; ')}`);
  if (nodeRedLog.length) console.log(`Node-RED logged ${nodeRedLog.length} warning/error lines (first shown above)`);
  console.log(
    `goals: ${Object.entries(goals)
      .map(([n, g]) => `${n} ${g.value} ${g.goal}: ${g.met ? 'met' : 'MISSED'}`)
      .join('; ')}`,
  );
  console.log(`duration ${out.duration_s} s, load average at the end ${loadEnd.join(' ')}`);

  const file = writeJson('latest.json', out);
  const svg = barChartSvg(
    'Knob-to-device path side by side (messages per second)',
    `${machine().cpu_model}, ${machine().cores} cores; Node ${red.versions.node}, Node-RED ${red.versions.nodeRed}, ${env.broker.kind} ${env.broker.version}; ${out.date}`,
    SETUPS.map((s) => ({ label: SETUP_LABELS[s], qos0: tp(s, 0), qos1: tp(s, 1), highlight: s === 'ours' })),
  );
  fs.writeFileSync(path.join(resultsDir, 'throughput.svg'), svg);
  console.log(`wrote ${path.relative(root, file)} and bench/results/throughput.svg`);
}

// ---------------------------------------------------------------------------------------------- profile

async function profile(setups: Setup[]) {
  const seconds = quick ? 5 : 10;
  const env = await startAll(['uplink', ...setups.filter((s) => s !== 'uplink')], [0]);
  const { mqtt, red } = env;
  for (const s of setups) {
    await mqtt.throughput(s, 0, { windowMs: 2000, rampMs: 500, window: MAX_OUTSTANDING });
    const file = path.join(os.tmpdir(), `rule-engine-bench-${s}-${Date.now()}.cpuprofile`);
    await red.cmd('profile-start', { intervalUs: 200 });
    const t = await mqtt.throughput(s, 0, { windowMs: seconds * 1000, rampMs: 0, window: MAX_OUTSTANDING });
    await red.cmd('profile-stop', { file });
    const summary = summariseProfile(file);
    printProfile(summary, `Node-RED process, ${s} at QoS 0, ${fmt(t.msgs_per_s)} msg/s under the profiler`);
    const out = writeJson(`profile-${s}.json`, {
      date: new Date().toISOString(),
      setup: s,
      qos: 0,
      msgs_per_s_while_profiling: Math.round(t.msgs_per_s),
      sampling_interval_us: 200,
      cpuprofile: file,
      machine: { ...machine(), load_avg: load() },
      ...summary,
    });
    console.log(`wrote ${path.relative(root, out)}; full profile in ${file} (open it in Chrome DevTools)`);
  }
  await stopAll(env);
}

// ----------------------------------------------------------------------------------------------- memory

async function memory() {
  const started = Date.now();
  const DEVICES = numArg('devices', 100_000);
  const MESSAGES = numArg('messages', 1_000_000);
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  const env = await startAll(['ours', 'uplink'], [0]);
  const { mqtt, red } = env;
  const sample = async (label: string) => {
    await sleep(700); // RPC time-out timers (500 ms) and in-flight messages gone
    const m = await red.cmd<NodeJS.MemoryUsage>('memory');
    const row = { at: label, rss_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), external_mb: mb(m.external) };
    console.log(`  ${label.padEnd(34)} RSS ${String(row.rss_mb).padStart(7)} MB   heap used ${row.heap_used_mb} MB`);
    return row;
  };
  const rows = [await sample('started, 1 device')];
  const tSeed = Date.now();
  for (let from = 0; from < DEVICES; from += 25_000) {
    await red.cmd('seed-devices', { storeId: STORE_ID, from, to: Math.min(DEVICES, from + 25_000) });
  }
  const seedS = (Date.now() - tSeed) / 1000;
  console.log(`  seeded ${DEVICES.toLocaleString('en-US')} devices in ${seedS.toFixed(1)} s`);
  rows.push(await sample(`${DEVICES.toLocaleString('en-US')} devices in the store`));
  const checkpoints = [10_000, 100_000, 250_000, 500_000, 750_000, MESSAGES].filter((n) => n <= MESSAGES);
  let done = 0;
  let lostTotal = 0;
  const tMsgs = Date.now();
  for (const cp of checkpoints) {
    const r = await mqtt.push('ours', 0, cp - done, MAX_OUTSTANDING);
    lostTotal += r.lost;
    done = cp;
    rows.push(await sample(`after ${cp.toLocaleString('en-US')} messages`));
  }
  const msgS = (Date.now() - tMsgs) / 1000;
  await stopAll(env);
  const base = rows[1];
  const last = rows[rows.length - 1];
  const after10k = rows[2];
  const out = {
    date: new Date().toISOString(),
    duration_s: Math.round((Date.now() - started) / 1000),
    machine: { ...machine(), load_avg_end: load() },
    devices: DEVICES,
    messages: MESSAGES,
    messages_lost: lostTotal,
    seed_s: Math.round(seedS * 10) / 10,
    messages_s: Math.round(msgS),
    msgs_per_s: Math.round(MESSAGES / msgS),
    rss_mb_start: rows[0].rss_mb,
    rss_mb_with_devices: base.rss_mb,
    store_mb: Math.round((base.rss_mb - rows[0].rss_mb) * 10) / 10,
    rss_mb_after_messages: last.rss_mb,
    /** RSS after all messages minus RSS after the first 10,000 (warm: JIT, pools); the figure for "no growth". */
    growth_mb_after_warmup: Math.round((last.rss_mb - after10k.rss_mb) * 10) / 10,
    heap_growth_mb_after_warmup: Math.round((last.heap_used_mb - after10k.heap_used_mb) * 10) / 10,
    samples: rows,
  };
  console.log(
    `store of ${DEVICES.toLocaleString('en-US')} devices: ${out.store_mb} MB RSS; after ${MESSAGES.toLocaleString('en-US')} messages (${out.msgs_per_s} msg/s, ${lostTotal} lost): RSS ${last.rss_mb} MB, growth since the first 10,000 ${out.growth_mb_after_warmup} MB RSS / ${out.heap_growth_mb_after_warmup} MB heap; ${out.duration_s} s in all`,
  );
  const file = writeJson('memory.json', out);
  console.log(`wrote ${path.relative(root, file)}`);
}

async function main() {
  if (memoryMode) await memory();
  else if (scaleMode) {
    const started = Date.now();
    const loadStart = load();
    await scaleBench({
      quick,
      write: (name, data) => path.relative(root, writeJson(name, data)),
      context: () => ({
        date: new Date().toISOString(),
        mode: quick ? 'quick' : 'full',
        commit: gitCommit(),
        duration_s: Math.round((Date.now() - started) / 1000),
        machine: { ...machine(), load_avg_start: loadStart, load_avg_end: load() },
        versions: {
          node: process.versions.node,
          node_red: packageVersion('node-red'),
          mqtt_js: packageVersion('mqtt'),
        },
      }),
    });
  } else if (profileArg) {
    const list = profileArg.includes('=') ? (profileArg.split('=')[1].split(',') as Setup[]) : (['ours'] as Setup[]);
    for (const s of list) if (!SETUPS.includes(s)) throw new Error(`unknown set-up ${s}`);
    await profile(list);
  } else await sideBySide();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
