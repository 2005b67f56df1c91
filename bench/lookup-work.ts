/**
 * Benchmark (not a test): the WORK of one originator-attributes lookup, counted by the CPU simulator of
 * valgrind's cachegrind rather than timed, at 100 and at 100,000 devices. Instructions counted this way do
 * not depend on what else the machine does, and cachegrind also counts the data reads that miss its
 * simulated caches, which is where the wall-clock rate of the timed benchmark goes as the store grows.
 *
 *   npm run build && node dist/bench/lookup-work.js            (runs cachegrind itself; about 10 minutes)
 *
 * For each size it runs the same program twice under cachegrind, with N and 2N lookups on a real Node-RED
 * runtime's memory context store, and takes the difference, so that starting Node-RED and filling the store
 * cancel out: what is left is N lookups. Writes bench/results/lookup-work.json.
 *
 * A third case asks for only 100 of the 100,000 devices: the store's size stays, the devices touched shrink.
 *
 * Child mode (what cachegrind runs): node dist/bench/lookup-work.js --child <devices> <lookups> <asked for>
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeviceStore } from '../nodes/lib/device-store';
import { enrichConfigFrom, enrichMessage } from '../nodes/lib/enrich';
import type { RuleMsg } from '../nodes/lib/message';
import { startNodeRed } from './lib/embedded-node-red';
import { deviceFor, LOOKUP_CONFIG, populate } from './lib/lookup-fixture';

/** Store sizes, and how many of the devices the lookups ask for (a stride through all of them, or 100). */
const CASES = [
  { devices: 100, active: 100 },
  { devices: 100_000, active: 100_000 },
  { devices: 100_000, active: 100 },
];
const LOOKUPS = 20_000;

async function child(devices: number, lookups: number, active: number): Promise<void> {
  const red = await startNodeRed([{ id: 's1', type: 'rule-device-store', store: '' }]);
  const store = (red.getNode('s1') as unknown as { deviceStore: DeviceStore }).deviceStore;
  await populate(store, 0, devices);
  const cfg = enrichConfigFrom(LOOKUP_CONFIG);
  // The same warm-up in every run, so that the JIT's work cancels out too.
  for (let n = 0; n < 5000; n++) {
    const msg: RuleMsg = { payload: {}, metadata: {}, msgType: 'RPC' };
    await enrichMessage(store, deviceFor(n % active, devices), msg, cfg);
  }
  // Both runs of a pair start the lookups from the same heap: a major collection that one run makes during
  // the lookups and the other does not (it depends on timers too) would otherwise not cancel out.
  (globalThis as { gc?: () => void }).gc?.();
  for (let n = 0; n < lookups; n++) {
    const name = deviceFor(n % active, devices);
    const msg: RuleMsg = { payload: {}, metadata: {}, msgType: 'RPC' };
    const r = await enrichMessage(store, name, msg, cfg);
    if (r.missing.length > 0) throw new Error(`missing for ${name}`);
  }
  await red.stop();
  process.exit(0);
}

interface Counts {
  Ir: number;
  Dr: number;
  D1mr: number;
  DLmr: number;
}

function runCachegrind(devices: number, lookups: number, active: number): Promise<Counts> {
  const out = path.join(os.tmpdir(), `rule-engine-lookup-work-${devices}-${active}-${lookups}-${process.pid}.out`);
  return new Promise((resolve, reject) => {
    const p = spawn(
      'valgrind',
      [
        '--tool=cachegrind',
        '--cache-sim=yes',
        `--cachegrind-out-file=${out}`,
        '--smc-check=all',
        process.execPath,
        // One thread for everything: V8's helper threads would make the counts differ from run to run.
        '--single-threaded',
        '--expose-gc',
        __filename,
        '--child',
        String(devices),
        String(lookups),
        String(active),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`cachegrind exited with ${code}: ${err.slice(-2000)}`));
        return;
      }
      const text = fs.readFileSync(out, 'utf8');
      fs.rmSync(out, { force: true });
      const events = /^events: (.*)$/m.exec(text)?.[1].split(' ') ?? [];
      const summary = /^summary: (.*)$/m.exec(text)?.[1].split(' ').map(Number) ?? [];
      const get = (name: string) => summary[events.indexOf(name)] ?? Number.NaN;
      resolve({ Ir: get('Ir'), Dr: get('Dr'), D1mr: get('D1mr'), DLmr: get('DLmr') });
    });
  });
}

async function main() {
  const valgrind = execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim();
  const rows: Array<Record<string, number>> = [];
  for (const { devices, active } of CASES) {
    const t0 = Date.now();
    const [a, b] = await Promise.all([
      runCachegrind(devices, LOOKUPS, active),
      runCachegrind(devices, 2 * LOOKUPS, active),
    ]);
    const per = (k: keyof Counts) => Math.round((b[k] - a[k]) / LOOKUPS);
    const row = {
      devices,
      devices_asked_for: active,
      instructions_per_lookup: per('Ir'),
      data_reads_per_lookup: per('Dr'),
      l1_data_read_misses_per_lookup: per('D1mr'),
      last_level_data_read_misses_per_lookup: per('DLmr'),
    };
    rows.push(row);
    console.log(`${JSON.stringify(row)} (${Math.round((Date.now() - t0) / 1000)} s)`);
  }
  const ratio = (k: string, row = 1) => Number((rows[row][k] / rows[0][k]).toFixed(3));
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    valgrind,
    cpu_model: os.cpus()[0]?.model,
    lookups: LOOKUPS,
    keys_per_lookup: 'device record + client attribute + server attribute + latest telemetry value',
    rows,
    ratio_100k_vs_100: {
      instructions: ratio('instructions_per_lookup'),
      data_reads: ratio('data_reads_per_lookup'),
      l1_data_read_misses: ratio('l1_data_read_misses_per_lookup'),
      last_level_data_read_misses: ratio('last_level_data_read_misses_per_lookup'),
    },
    ratio_100k_asking_100_vs_100: {
      instructions: ratio('instructions_per_lookup', 2),
      data_reads: ratio('data_reads_per_lookup', 2),
      l1_data_read_misses: ratio('l1_data_read_misses_per_lookup', 2),
      last_level_data_read_misses: ratio('last_level_data_read_misses_per_lookup', 2),
    },
  };
  console.log(`100,000 vs 100 devices: ${JSON.stringify(out.ratio_100k_vs_100)}`);
  console.log(`100,000 devices, 100 asked for, vs 100: ${JSON.stringify(out.ratio_100k_asking_100_vs_100)}`);
  const dir = path.join(__dirname, '../../bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'lookup-work.json'), `${JSON.stringify(out, null, 2)}\n`);
}

if (process.argv[2] === '--child') {
  child(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
