/**
 * Benchmark (not a test): the script node against Node-RED's core function node running the same script, in
 * one embedded Node-RED runtime, interleaved rounds (median, min, max).
 *
 *   npm run build && node dist/bench/script-node.bench.js [--quick]
 *
 * Set-ups, each fed directly (node.receive) with IN_FLIGHT messages outstanding, counted at a counter node:
 *  - baseline: a counter alone (Node-RED's own cost of delivering a message);
 *  - script:   rule-script (QuickJS, time limit 500 ms, isolated) -> counter;
 *  - function (time limit): core function node with its timeout set (1 s) -> counter;
 *  - function (no limit):   core function node without a timeout -> counter.
 * Per-message cost of a node = 1 / throughput - 1 / baseline throughput. Writes bench/results/script-node.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { counters, startNodeRed } from './lib/embedded-node-red';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 9;
const WINDOW_MS = quick ? 500 : 1500;
const IN_FLIGHT = 100;

const SCRIPT = 'msg.deviceName = metadata.cs_deviceName;\nreturn {msg: msg, metadata: metadata, msgType: msgType};';
// The same work for the function node: msg.payload is ThingsBoard's msg.
const FUNCTION = 'msg.payload.deviceName = msg.metadata.cs_deviceName;\nreturn msg;';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const SETUPS = ['baseline', 'script', 'function_timed', 'function'] as const;
type Setup = (typeof SETUPS)[number];

function sample() {
  return {
    payload: { method: 'setValue', params: '42' },
    metadata: { requestUUID: 'r', deviceName: 'Thermostat-A', cs_deviceName: 'Thermostat-A' },
    msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
    originator: 'Thermostat-A',
  };
}

async function throughput(entry: { receive(m: object): void }, counter: string): Promise<number> {
  const c = counters[counter];
  let sent = 0;
  let got = 0;
  let stopAt = 0;
  let end: () => void = () => {};
  const finished = new Promise<void>((r) => {
    end = r;
  });
  c.onMessage = () => {
    got++;
    if (Date.now() < stopAt) {
      sent++;
      // Not from inside the counter's own input handler: the baseline would recurse.
      queueMicrotask(() => entry.receive(sample()));
    } else if (got === sent) end();
  };
  const t0 = Date.now();
  stopAt = t0 + WINDOW_MS;
  for (let i = 0; i < IN_FLIGHT; i++) {
    sent++;
    entry.receive(sample());
  }
  await finished;
  return got / ((Date.now() - t0) / 1000);
}

async function main() {
  const xy = (i: number) => ({ x: 100, y: 40 * (i + 1) });
  const red = await startNodeRed([
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'cBase', type: 'bench-counter', z: 'tab', name: 'baseline', ...xy(0), wires: [] },
    { id: 'sn', type: 'rule-script', z: 'tab', script: SCRIPT, timeout: 500, ...xy(1), wires: [['cScript'], []] },
    { id: 'cScript', type: 'bench-counter', z: 'tab', name: 'script', ...xy(2), wires: [] },
    { id: 'fnT', type: 'function', z: 'tab', func: FUNCTION, outputs: 1, timeout: 1, ...xy(3), wires: [['cFnT']] },
    { id: 'cFnT', type: 'bench-counter', z: 'tab', name: 'function_timed', ...xy(4), wires: [] },
    { id: 'fn', type: 'function', z: 'tab', func: FUNCTION, outputs: 1, timeout: 0, ...xy(5), wires: [['cFn']] },
    { id: 'cFn', type: 'bench-counter', z: 'tab', name: 'function', ...xy(6), wires: [] },
  ]);
  const entries: Record<Setup, { receive(m: object): void }> = {
    baseline: red.getNode('cBase')!,
    script: red.getNode('sn')!,
    function_timed: red.getNode('fnT')!,
    function: red.getNode('fn')!,
  };
  const results: Record<Setup, number[]> = { baseline: [], script: [], function_timed: [], function: [] };
  for (const s of SETUPS) await throughput(entries[s], s); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of SETUPS) results[s].push(await throughput(entries[s], s));
  }
  await red.stop();

  const base = median(results.baseline);
  const rows = SETUPS.map((s) => {
    const xs = results[s];
    const m = median(xs);
    return {
      setup: s,
      msgs_per_s: { median: Math.round(m), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) },
      us_per_msg: Number((1e6 / m).toFixed(2)),
      node_us_per_msg: s === 'baseline' ? 0 : Number((1e6 / m - 1e6 / base).toFixed(2)),
    };
  });
  const cost = (s: Setup) => rows.find((r) => r.setup === s)!.node_us_per_msg;
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    rounds: ROUNDS,
    window_ms: WINDOW_MS,
    in_flight: IN_FLIGHT,
    rows,
    script_vs_function_timed: Number((cost('script') / cost('function_timed')).toFixed(3)),
    script_vs_function: Number((cost('script') / cost('function')).toFixed(3)),
  };
  console.log('setup            | msg/s median [min..max]      | µs/msg | node µs/msg');
  for (const r of rows) {
    console.log(
      `${r.setup.padEnd(16)} | ${`${r.msgs_per_s.median} [${r.msgs_per_s.min}..${r.msgs_per_s.max}]`.padEnd(28)} | ${String(r.us_per_msg).padStart(6)} | ${r.node_us_per_msg}`,
    );
  }
  console.log(`script node cost / time-limited function node cost: ${out.script_vs_function_timed} (goal <= 0.25)`);
  console.log(`script node cost / function node cost without limit: ${out.script_vs_function}`);
  const dir = path.join(__dirname, '../../bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'script-node.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
