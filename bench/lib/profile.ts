/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` or the inspector's Profiler writes) and sums it up: self time
 * per function (file:function:line), self time per area (our nodes by file, Node-RED, mqtt.js, QuickJS, Node
 * internals, GC, idle), and inclusive time of the functions in our own files.
 */
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  name: string;
  pct: number;
  ms: number;
}
export interface ProfileSummary {
  duration_ms: number;
  samples: number;
  /** Share of the samples in which the process was not idle. */
  busy_pct: number;
  top_self: ProfileRow[];
  by_area: ProfileRow[];
  ours_inclusive: ProfileRow[];
  /** Inclusive time of every function (what it and everything it calls took). */
  top_inclusive: ProfileRow[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length);
  const d = u.indexOf('/dist/');
  if (d >= 0) return u.slice(d + '/dist/'.length);
  return u;
}

export function areaOf(cf: CallFrame): string {
  const name = cf.functionName;
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return 'V8/native (program)';
  const u = cf.url;
  if (!u) return name.startsWith('(') ? name : 'V8 built-ins / native';
  if (u.startsWith('wasm://')) return 'QuickJS (WebAssembly)';
  if (u.startsWith('node:')) return 'Node.js internals';
  const s = shortUrl(u);
  if (u.includes('/dist/nodes/')) return `ours: ${s}`;
  if (u.includes('/dist/bench/')) return `bench harness: ${s}`;
  if (s.startsWith('@node-red/') || s.startsWith('node-red/')) return 'Node-RED runtime and core nodes';
  if (s.startsWith('mqtt') || s.startsWith('mqtt-packet') || s.startsWith('bl/') || s.startsWith('readable-stream'))
    return 'mqtt.js (client, packets, streams)';
  if (s.includes('quickjs')) return 'QuickJS (JS glue)';
  return `other: ${s.split('/')[0]}`;
}

export function summariseProfile(file: string, top = 40): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i: charge it to sample i.
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const key = (cf: CallFrame) =>
    `${shortUrl(cf.url) || '(native)'}:${cf.functionName || '(anonymous)'}:${cf.lineNumber + 1}`;

  const selfBy = new Map<string, number>();
  const areaBy = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    selfBy.set(key(cf), (selfBy.get(key(cf)) ?? 0) + us);
    const a = areaOf(cf);
    areaBy.set(a, (areaBy.get(a) ?? 0) + us);
    if (a === 'idle') idle += us;
  }

  // Inclusive time of our functions: each sample counts once for every distinct one of our functions on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclBy = new Map<string, number>();
  const inclAll = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      const k = key(cf);
      if (seen.has(k) || cf.functionName === '(root)') continue;
      seen.add(k);
      inclAll.set(k, (inclAll.get(k) ?? 0) + us);
      if (cf.url.includes('/dist/nodes/')) inclBy.set(k, (inclBy.get(k) ?? 0) + us);
    }
  }

  const rows = (m: Map<string, number>, n: number): ProfileRow[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, pct: Math.round((us / total) * 1000) / 10, ms: Math.round(us / 100) / 10 }));
  return {
    duration_ms: Math.round((p.endTime - p.startTime) / 1000),
    samples: p.samples.length,
    busy_pct: Math.round((1 - idle / total) * 1000) / 10,
    top_self: rows(selfBy, top),
    by_area: rows(areaBy, 40),
    ours_inclusive: rows(inclBy, top),
    top_inclusive: rows(inclAll, Math.max(80, top * 2)),
  };
}

export function printProfile(s: ProfileSummary, title: string): void {
  console.log(`\n${title}: ${s.duration_ms} ms, ${s.samples} samples, busy ${s.busy_pct}% (the rest idle)`);
  const show = (head: string, rows: ProfileRow[], n: number) => {
    console.log(`  ${head}`);
    for (const r of rows.slice(0, n)) console.log(`    ${r.pct.toFixed(1).padStart(5)}%  ${r.name}`);
  };
  show('self time by area (% of all samples):', s.by_area, 20);
  show('self time, top functions:', s.top_self, 30);
  show('inclusive time of functions in dist/nodes (our code and what it calls):', s.ours_inclusive, 25);
  show('inclusive time, all functions:', s.top_inclusive, 50);
}
