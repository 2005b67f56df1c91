/**
 * The benchmark's MQTT broker, always in a process of its own on 127.0.0.1: Debian's mosquitto
 * (/usr/sbin/mosquitto, or $MOSQUITTO_PATH) when it is installed, else aedes in a child Node.js process
 * (bench/lib/aedes-child.ts). `BENCH_BROKER=aedes` forces aedes.
 */
import { execFileSync, fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MOSQUITTO_PATH, mosquittoAvailable, startTestBroker } from '../../test/mqtt-broker';
import { stopChild } from '../../test/toolkit';

export interface BenchBroker {
  kind: 'mosquitto' | 'aedes';
  version: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export function mosquittoVersion(): string {
  try {
    // `mosquitto -h` prints its version on the first line and exits with status 3.
    execFileSync(MOSQUITTO_PATH, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
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

async function startMosquitto(): Promise<BenchBroker> {
  // Errors and warnings only: logging every connection of the load would cost the broker time.
  const broker = await startTestBroker('mosquitto', undefined, { quiet: true });
  return { kind: 'mosquitto', version: mosquittoVersion(), port: broker.port, pid: broker.pid, stop: broker.stop };
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
      await stopChild(child, undefined, 3000);
    },
  };
}

export function startBenchBroker(): Promise<BenchBroker> {
  const want = process.env.BENCH_BROKER;
  if (want === 'aedes' || (want !== 'mosquitto' && !mosquittoAvailable())) return startAedes();
  return startMosquitto();
}
