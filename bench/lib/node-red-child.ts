/**
 * Node-RED in a process of its own for the side-by-side benchmark (bench/run.ts): a real runtime with this
 * package linked into a temporary user directory (bench/lib/embedded-node-red.ts), the flows of argv[2]
 * deployed, no editor. Controlled over the IPC channel:
 *
 *   parent → child  { id, cmd: 'memory' | 'seed-devices' | 'profile-start' | 'profile-stop' | 'stop', ... }
 *   child → parent  { type: 'ready', versions } once the flows run; { id, ok, result | error } per command.
 *
 *  - memory: process.memoryUsage() after a full garbage collection (the child runs with --expose-gc);
 *  - seed-devices: { storeId, from, to } puts devices `device-<i>` (type thermostat, client attribute deviceName,
 *    latest temperature) into the device store of that config node, through its own API;
 *  - profile-start / profile-stop: { file } the V8 CPU profiler through node:inspector (what `--cpu-prof`
 *    records, but only for the stretch of the run the parent asks for), written as a .cpuprofile file.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { startNodeRed } from './embedded-node-red';

interface Command {
  id: number;
  cmd: string;
  [k: string]: unknown;
}

interface DeviceStoreApi {
  ensureDevice(name: string, type: string): Promise<unknown>;
  saveAttributes(name: string, scope: string, values: Record<string, unknown>, ts: number): Promise<void>;
  saveTelemetry(name: string, batches: Array<{ ts: number; values: Record<string, unknown> }>): Promise<void>;
}

async function main() {
  const flowsFile = process.argv[2];
  const flows = JSON.parse(fs.readFileSync(flowsFile, 'utf8')) as object[];
  const red = await startNodeRed(flows, { logging: { console: { level: process.env.BENCH_LOG ?? 'warn' } } });
  let session: inspector.Session | undefined;

  const post = <T>(s: inspector.Session, method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => {
      s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T)));
    });

  const handlers: Record<string, (c: Command) => Promise<unknown>> = {
    memory: async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc();
        gc();
      }
      return process.memoryUsage();
    },
    'seed-devices': async (c) => {
      const node = red.getNode(String(c.storeId)) as unknown as { deviceStore?: DeviceStoreApi } | null;
      const store = node?.deviceStore;
      if (!store) throw new Error(`no device store ${String(c.storeId)}`);
      const from = Number(c.from);
      const to = Number(c.to);
      const one = async (i: number) => {
        const name = `device-${i}`;
        await store.ensureDevice(name, 'thermostat');
        await store.saveAttributes(name, 'client', { deviceName: name, deviceType: 'thermostat' }, 1);
        await store.saveTelemetry(name, [{ ts: 1, values: { temperature: 20 + (i % 10) } }]);
      };
      const BATCH = 200;
      for (let i = from; i < to; i += BATCH) {
        const batch: Promise<void>[] = [];
        for (let j = i; j < Math.min(to, i + BATCH); j++) batch.push(one(j));
        await Promise.all(batch);
      }
      return { seeded: to - from };
    },
    'profile-start': async (c) => {
      session = new inspector.Session();
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.setSamplingInterval', { interval: Number(c.intervalUs ?? 200) });
      await post(session, 'Profiler.start');
      return {};
    },
    'profile-stop': async (c) => {
      if (!session) throw new Error('profiler not started');
      const { profile } = await post<{ profile: object }>(session, 'Profiler.stop');
      session.disconnect();
      session = undefined;
      const file = String(c.file);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(profile));
      return { file };
    },
    stop: async () => {
      await red.stop();
      setImmediate(() => process.exit(0));
      return {};
    },
  };

  process.on('message', (c: Command) => {
    const h = handlers[c?.cmd];
    if (!h) {
      process.send?.({ id: c?.id, ok: false, error: `unknown command ${String(c?.cmd)}` });
      return;
    }
    h(c).then(
      (result) => process.send?.({ id: c.id, ok: true, result }),
      (err) => process.send?.({ id: c.id, ok: false, error: String((err as Error)?.stack ?? err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));

  const nodeRedVersion = (require('node-red/package.json') as { version: string }).version;
  process.send?.({ type: 'ready', versions: { node: process.version, nodeRed: nodeRedVersion }, pid: process.pid });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
