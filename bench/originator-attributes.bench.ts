/**
 * Benchmark (not a test): originator-attributes lookups per second with 100, 10,000 and 100,000 devices in the
 * store, on a real Node-RED runtime (embedded, no editor) and its memory context store.
 *
 *   npm run build && node dist/bench/originator-attributes.bench.js [--quick]
 *
 * Two figures per store size, several rounds (median, min, max):
 *  - node: messages per second through the deployed node to a counter on its Success output, IN_FLIGHT
 *    messages outstanding (Node-RED's message passing included);
 *  - lookup: enrichMessage() alone on the same store, awaited one after another.
 * Each message asks for a different device (a stride through all of them), so nothing is served from a
 * warm spot. Writes bench/results/originator-attributes.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeviceStore } from '../nodes/lib/device-store';
import { enrichConfigFrom, enrichMessage } from '../nodes/lib/enrich';
import type { RuleMsg } from '../nodes/lib/message';
import { counters, startNodeRed } from './lib/embedded-node-red';
import { deviceFor, LOOKUP_CONFIG, populate } from './lib/lookup-fixture';

const quick = process.argv.includes('--quick');
const SIZES = [100, 10_000, 100_000];
const ROUNDS = quick ? 3 : 7;
const WINDOW_MS = quick ? 500 : 2000;
const IN_FLIGHT = 100;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function throughputThroughNode(oa: { receive(m: object): void }, devices: number): Promise<number> {
  const ok = counters.ok;
  const fail = counters.fail;
  const failedBefore = fail.count;
  let sent = 0;
  let done = 0;
  let stopAt = 0;
  let resolveEnd: () => void = () => {};
  const end = new Promise<void>((r) => {
    resolveEnd = r;
  });
  const sendOne = () => {
    const name = deviceFor(sent, devices);
    sent++;
    oa.receive({ payload: { method: 'setValue', params: '42' }, metadata: {}, msgType: 'RPC', originator: name });
  };
  const next = () => {
    done++;
    if (Date.now() < stopAt) sendOne();
    else if (done === sent) resolveEnd();
  };
  ok.onMessage = next;
  fail.onMessage = next;
  const t0 = Date.now();
  stopAt = t0 + WINDOW_MS;
  for (let i = 0; i < IN_FLIGHT; i++) sendOne();
  await end;
  const secs = (Date.now() - t0) / 1000;
  if (fail.count > failedBefore) throw new Error(`${fail.count - failedBefore} lookups failed`);
  return done / secs;
}

async function lookupsAlone(store: DeviceStore, devices: number): Promise<number> {
  const cfg = enrichConfigFrom(LOOKUP_CONFIG);
  let n = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < WINDOW_MS) {
    const name = deviceFor(n, devices);
    const msg: RuleMsg = { payload: {}, metadata: {}, msgType: 'RPC' };
    const r = await enrichMessage(store, name, msg, cfg);
    if (r.missing.length > 0) throw new Error(`missing for ${name}`);
    n++;
  }
  return n / ((Date.now() - t0) / 1000);
}

const stat = (xs: number[]) => ({
  median: Math.round(median(xs)),
  min: Math.round(Math.min(...xs)),
  max: Math.round(Math.max(...xs)),
});

async function main() {
  const red = await startNodeRed([
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 's1', type: 'rule-device-store', store: '' },
    {
      id: 'oa',
      type: 'rule-originator-attributes',
      z: 'tab',
      x: 1,
      y: 3,
      deviceStore: 's1',
      ...LOOKUP_CONFIG,
      wires: [['okCounter'], ['failCounter']],
    },
    // Node-RED treats a node without x/y as a config node: a property equal to its own id would look circular.
    { id: 'okCounter', type: 'bench-counter', z: 'tab', name: 'ok', x: 1, y: 1, wires: [] },
    { id: 'failCounter', type: 'bench-counter', z: 'tab', name: 'fail', x: 1, y: 2, wires: [] },
  ]);
  const store = (red.getNode('s1') as unknown as { deviceStore: DeviceStore }).deviceStore;
  const oa = red.getNode('oa')!;
  const rows: Array<{
    devices: number;
    node_msgs_per_s: ReturnType<typeof stat>;
    lookups_per_s: ReturnType<typeof stat>;
    rss_mb: number;
    fill_s: number;
  }> = [];
  let populated = 0;
  // The store only grows: fill it to each size, then measure every round there. The two figures alternate
  // within a size, so a slow moment of the machine hits both.
  for (const size of SIZES) {
    const t0 = Date.now();
    await populate(store, populated, size);
    populated = size;
    const fillSecs = (Date.now() - t0) / 1000;
    const node: number[] = [];
    const lookup: number[] = [];
    await throughputThroughNode(oa, size); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      node.push(await throughputThroughNode(oa, size));
      lookup.push(await lookupsAlone(store, size));
    }
    rows.push({
      devices: size,
      node_msgs_per_s: stat(node),
      lookups_per_s: stat(lookup),
      rss_mb: Math.round(process.memoryUsage().rss / 1e6),
      fill_s: Number(fillSecs.toFixed(1)),
    });
  }
  await red.stop();

  console.log('devices  | through the node, msg/s      | enrichMessage alone, /s      | RSS MB');
  for (const r of rows) {
    const a = r.node_msgs_per_s;
    const b = r.lookups_per_s;
    console.log(
      `${String(r.devices).padStart(8)} | ${`${a.median} [${a.min}..${a.max}]`.padEnd(28)} | ${`${b.median} [${b.min}..${b.max}]`.padEnd(28)} | ${r.rss_mb}`,
    );
  }
  const ratio = (k: 'node_msgs_per_s' | 'lookups_per_s') => Number((rows[2][k].median / rows[0][k].median).toFixed(3));
  console.log(`100,000 vs 100 devices: through the node ${ratio('node_msgs_per_s')}, alone ${ratio('lookups_per_s')}`);
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    rounds: ROUNDS,
    window_ms: WINDOW_MS,
    in_flight: IN_FLIGHT,
    rows,
    ratio_100k_vs_100_node: ratio('node_msgs_per_s'),
    ratio_100k_vs_100_lookup: ratio('lookups_per_s'),
  };
  const dir = path.join(__dirname, '../../bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'originator-attributes.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
