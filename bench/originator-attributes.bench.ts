/**
 * Benchmark (not a test): originator-attributes lookups per second with 100, 10,000 and 100,000 devices in the
 * store, on a real Node-RED runtime (embedded, no editor) and its memory context store.
 *
 *   npm run build && node dist/bench/originator-attributes.bench.js [--quick] [--same-heap]
 *
 * Four figures per store size, several rounds (median, min, max):
 *  - node: messages per second through the deployed node to a counter on its Success output, IN_FLIGHT
 *    messages outstanding (Node-RED's message passing included);
 *  - lookup: enrichMessage() alone on the same store, awaited one after another;
 * each message asking for another device (a stride through all of them, so nothing is served from a warm
 * spot), and the same two with only ACTIVE devices asked for, spread through the store: then the store's size
 * changes but the set of devices the traffic touches does not.
 * By default one store grows to each size in turn (the heap grows with it); --same-heap holds one store per
 * size in one heap and interleaves the rounds over the sizes. Writes bench/results/originator-attributes.json
 * (--same-heap: originator-attributes-same-heap.json).
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
const sameHeap = process.argv.includes('--same-heap');
const SIZES = [100, 10_000, 100_000];
const ROUNDS = quick ? 3 : 7;
const WINDOW_MS = quick ? 500 : 2000;
const IN_FLIGHT = 100;
/** The second pair of figures looks up only this many devices (spread through the store), whatever its size. */
const ACTIVE = 100;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function throughputThroughNode(
  oa: { receive(m: object): void },
  devices: number,
  active = devices,
): Promise<number> {
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
    const name = deviceFor(sent % active, devices);
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

async function lookupsAlone(store: DeviceStore, devices: number, active = devices): Promise<number> {
  const cfg = enrichConfigFrom(LOOKUP_CONFIG);
  let n = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < WINDOW_MS) {
    const name = deviceFor(n % active, devices);
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

interface Row {
  devices: number;
  node_msgs_per_s: ReturnType<typeof stat>;
  lookups_per_s: ReturnType<typeof stat>;
  node_active_msgs_per_s: ReturnType<typeof stat>;
  lookups_active_per_s: ReturnType<typeof stat>;
  rss_mb: number;
  fill_s: number;
}

interface Target {
  size: number;
  store: DeviceStore;
  oa: { receive(m: object): void };
  node: number[];
  lookup: number[];
  nodeActive: number[];
  lookupActive: number[];
  fillSecs: number;
}

/** One round at one size: the four figures one after another, so a slow moment of the machine hits all. */
async function measureRound(t: Target): Promise<void> {
  t.node.push(await throughputThroughNode(t.oa, t.size));
  t.lookup.push(await lookupsAlone(t.store, t.size));
  t.nodeActive.push(await throughputThroughNode(t.oa, t.size, ACTIVE));
  t.lookupActive.push(await lookupsAlone(t.store, t.size, ACTIVE));
}

function rowOf(t: Target, rssMb: number): Row {
  return {
    devices: t.size,
    node_msgs_per_s: stat(t.node),
    lookups_per_s: stat(t.lookup),
    node_active_msgs_per_s: stat(t.nodeActive),
    lookups_active_per_s: stat(t.lookupActive),
    rss_mb: rssMb,
    fill_s: Number(t.fillSecs.toFixed(1)),
  };
}

async function main() {
  // Default: one store that grows to each size (what a user's store does); the heap grows with it.
  // --same-heap: one memory context store per size, all filled first, rounds interleaved over the sizes: every
  // size sees the same heap and the same moments of the machine, so only the size of the store asked differs.
  const storeNames = sameHeap ? SIZES.map((n) => `s${n}`) : [''];
  const flow: object[] = [{ id: 'tab', type: 'tab', label: 'bench' }];
  storeNames.forEach((store, i) => {
    flow.push(
      { id: `s${i}`, type: 'rule-device-store', store },
      {
        id: `oa${i}`,
        type: 'rule-originator-attributes',
        z: 'tab',
        x: 1,
        y: 3 + i,
        deviceStore: `s${i}`,
        ...LOOKUP_CONFIG,
        wires: [['okCounter'], ['failCounter']],
      },
    );
  });
  // Node-RED treats a node without x/y as a config node: a property equal to its own id would look circular.
  flow.push(
    { id: 'okCounter', type: 'bench-counter', z: 'tab', name: 'ok', x: 1, y: 1, wires: [] },
    { id: 'failCounter', type: 'bench-counter', z: 'tab', name: 'fail', x: 1, y: 2, wires: [] },
  );
  const contextStorage: Record<string, object> = { default: { module: 'memory' } };
  for (const name of storeNames) if (name) contextStorage[name] = { module: 'memory' };
  const red = await startNodeRed(flow, { contextStorage });
  const targetAt = (i: number, size: number): Target => ({
    size,
    store: (red.getNode(`s${i}`) as unknown as { deviceStore: DeviceStore }).deviceStore,
    oa: red.getNode(`oa${i}`)!,
    node: [],
    lookup: [],
    nodeActive: [],
    lookupActive: [],
    fillSecs: 0,
  });
  const rows: Row[] = [];
  if (sameHeap) {
    const targets = SIZES.map((size, i) => targetAt(i, size));
    for (const t of targets) {
      const t0 = Date.now();
      await populate(t.store, 0, t.size);
      t.fillSecs = (Date.now() - t0) / 1000;
    }
    for (const t of targets) await throughputThroughNode(t.oa, t.size); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Each round visits every size, starting at another one.
      for (let k = 0; k < targets.length; k++) await measureRound(targets[(r + k) % targets.length]);
    }
    const rss = Math.round(process.memoryUsage().rss / 1e6);
    for (const t of targets) rows.push(rowOf(t, rss));
  } else {
    let populated = 0;
    // The store only grows: fill it to each size, then measure every round there.
    for (const size of SIZES) {
      const t = targetAt(0, size);
      const t0 = Date.now();
      await populate(t.store, populated, size);
      populated = size;
      t.fillSecs = (Date.now() - t0) / 1000;
      await throughputThroughNode(t.oa, size); // warm-up
      for (let r = 0; r < ROUNDS; r++) await measureRound(t);
      rows.push(rowOf(t, Math.round(process.memoryUsage().rss / 1e6)));
    }
  }
  await red.stop();

  const cell = (x: ReturnType<typeof stat>) => `${x.median} [${x.min}..${x.max}]`.padEnd(26);
  console.log(`devices  | each message another device (stride through all) | ${ACTIVE} devices asked for`);
  console.log(
    '         | node, msg/s                | alone, /s                  | node, msg/s                | alone, /s                  | RSS MB',
  );
  for (const r of rows) {
    console.log(
      `${String(r.devices).padStart(8)} | ${cell(r.node_msgs_per_s)} | ${cell(r.lookups_per_s)} | ${cell(r.node_active_msgs_per_s)} | ${cell(r.lookups_active_per_s)} | ${r.rss_mb}`,
    );
  }
  type RateKey = 'node_msgs_per_s' | 'lookups_per_s' | 'node_active_msgs_per_s' | 'lookups_active_per_s';
  const ratio = (k: RateKey) => Number((rows[2][k].median / rows[0][k].median).toFixed(3));
  console.log(`100,000 vs 100 devices: through the node ${ratio('node_msgs_per_s')}, alone ${ratio('lookups_per_s')}`);
  console.log(
    `  with ${ACTIVE} devices asked for: through the node ${ratio('node_active_msgs_per_s')}, alone ${ratio('lookups_active_per_s')}`,
  );
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    mode: sameHeap ? 'same-heap' : 'growing',
    rounds: ROUNDS,
    window_ms: WINDOW_MS,
    in_flight: IN_FLIGHT,
    rows,
    ratio_100k_vs_100_node: ratio('node_msgs_per_s'),
    ratio_100k_vs_100_lookup: ratio('lookups_per_s'),
    active_devices: ACTIVE,
    ratio_100k_vs_100_node_active: ratio('node_active_msgs_per_s'),
    ratio_100k_vs_100_lookup_active: ratio('lookups_active_per_s'),
  };
  const dir = path.join(__dirname, '../../bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, sameHeap ? 'originator-attributes-same-heap.json' : 'originator-attributes.json'),
    `${JSON.stringify(out, null, 2)}\n`,
  );
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
