/**
 * Benchmark (not a test): where the time of one originator-attributes lookup goes at a given store size, from
 * V8's CPU profiler (100 µs sampling) over 200,000 lookups after 20,000 for warm-up, on a real Node-RED
 * runtime's memory context store. Run it at two sizes and compare:
 *
 *   npm run build && node dist/bench/lookup-profile.js 100 && node dist/bench/lookup-profile.js 100000
 *
 * A second argument asks for only that many of the devices (spread through the store), e.g. `100000 100`.
 *
 * Prints µs per lookup and the functions with the most self time, in µs per lookup.
 */
import inspector from 'node:inspector';
import type { DeviceStore } from '../nodes/lib/device-store';
import { enrichConfigFrom, enrichMessage } from '../nodes/lib/enrich';
import { startNodeRed } from './lib/embedded-node-red';
import { deviceFor, LOOKUP_CONFIG, populate } from './lib/lookup-fixture';

const devices = Number(process.argv[2] ?? 100);
const askedFor = Number(process.argv[3] ?? devices);
const LOOKUPS = 200_000;

function post<T>(s: inspector.Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, r) => (err ? reject(err) : resolve(r as T)));
  });
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

async function main() {
  const red = await startNodeRed([{ id: 's1', type: 'rule-device-store', store: '' }]);
  const store = (red.getNode('s1') as unknown as { deviceStore: DeviceStore }).deviceStore;
  await populate(store, 0, devices);
  const cfg = enrichConfigFrom(LOOKUP_CONFIG);
  const lookup = (n: number) =>
    enrichMessage(store, deviceFor(n % askedFor, devices), { payload: {}, metadata: {}, msgType: 'RPC' }, cfg);
  for (let n = 0; n < 20_000; n++) await lookup(n);

  const session = new inspector.Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 100 });
  await post(session, 'Profiler.start');
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < LOOKUPS; n++) await lookup(n);
  const usPerLookup = Number(process.hrtime.bigint() - t0) / 1e3 / LOOKUPS;
  const { profile } = await post<{ profile: { nodes: ProfileNode[]; samples: number[] } }>(session, 'Profiler.stop');

  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const where = `${f.url.split('/').slice(-3).join('/')}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  console.log(`${devices} devices, ${askedFor} asked for: ${usPerLookup.toFixed(2)} µs per lookup`);
  for (const [key, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${((count / profile.samples.length) * usPerLookup).toFixed(2).padStart(6)} µs  ${key}`);
  }
  await red.stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
