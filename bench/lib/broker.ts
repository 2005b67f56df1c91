/**
 * The benchmark's MQTT broker, always in a process of its own on 127.0.0.1: Debian's mosquitto
 * (/usr/sbin/mosquitto, or $MOSQUITTO_PATH) when it is installed, else aedes in a child Node.js process
 * (bench/lib/aedes-child.ts). `BENCH_BROKER=aedes` forces aedes.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface BenchBroker {
  kind: 'mosquitto' | 'aedes';
  version: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const MOSQUITTO = process.env.MOSQUITTO_PATH ?? '/usr/sbin/mosquitto';

function mosquittoInstalled(): boolean {
  try {
    fs.accessSync(MOSQUITTO, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function mosquittoVersion(): string {
  try {
    // `mosquitto -h` prints its version on the first line and exits with status 3.
    execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '');
    const m = /mosquitto version (\S+)/.exec(out);
    if (m) return m[1];
  }
  return 'unknown';
}

export function aedesVersion(): string {
  try {
    // aedes' package.json is not in its "exports": find it from the entry point.
    let dir = path.dirname(require.resolve('aedes'));
    for (let i = 0; i < 4; i++) {
      const p = path.join(dir, 'package.json');
      if (fs.existsSync(p)) {
        const pkg = JSON.parse(fs.readFileSync(p, 'utf8'));
        if (pkg.name === 'aedes') return pkg.version;
      }
      dir = path.dirname(dir);
    }
  } catch {}
  return 'unknown';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number, dead: () => string | undefined): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const why = dead();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function killAndWait(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        if (c.pid) process.kill(c.pid, 'SIGKILL');
      } catch {}
    }, 3000);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      if (c.pid) process.kill(c.pid, signal);
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

async function startMosquitto(): Promise<BenchBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-bench-mosquitto-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // As root, mosquitto would switch to the `mosquitto` user; keep the current one.
      `user ${os.userInfo().username}`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // Defaults otherwise (max_inflight_messages 20); a deep queue so that a burst is never dropped.
      'max_queued_messages 100000',
      '',
    ].join('\n'),
  );
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let exited: string | undefined;
  child.stderr?.on('data', (d) => {
    log += d;
  });
  child.on('exit', (code, sig) => {
    exited = `mosquitto exited (code ${code}, signal ${sig}): ${log}`;
  });
  child.on('error', (err) => {
    exited = `mosquitto failed to start: ${err.message}`;
  });
  await waitForPort(port, 10000, () => exited);
  return {
    kind: 'mosquitto',
    version: mosquittoVersion(),
    port,
    pid: child.pid ?? 0,
    stop: async () => {
      await killAndWait(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startAedes(): Promise<BenchBroker> {
  const child = fork(path.join(__dirname, 'aedes-child.js'), ['0'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { type?: string; port?: number }) => {
      if (m?.type === 'listening' && m.port) resolve(m.port);
    });
    child.once('exit', (code) => reject(new Error(`aedes child exited (code ${code})`)));
  });
  return {
    kind: 'aedes',
    version: aedesVersion(),
    port,
    pid: child.pid ?? 0,
    stop: async () => {
      if (child.connected) child.send({ type: 'stop' });
      await Promise.race([
        new Promise<void>((r) => child.once('exit', () => r())),
        new Promise<void>((r) => setTimeout(r, 3000)),
      ]);
      await killAndWait(child);
    },
  };
}

export function startBenchBroker(): Promise<BenchBroker> {
  const want = process.env.BENCH_BROKER;
  if (want === 'aedes' || (want !== 'mosquitto' && !mosquittoInstalled())) return startAedes();
  return startMosquitto();
}
