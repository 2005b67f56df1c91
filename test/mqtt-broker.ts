/**
 * A test MQTT broker of either kind on a loopback port, for the suites that run the same cases against both:
 *  - `aedes`: embedded in the test process (aedes 1.x, `Aedes.createBroker()`), served by a net server;
 *  - `mosquitto`: Debian's broker (/usr/sbin/mosquitto) as a child process with a generated config file.
 * `restart()` stops the broker and starts it again on the SAME port, so clients can reconnect to it.
 *
 * With `persistent: true` the broker keeps sessions (subscriptions of clean: false clients and their queued
 * QoS 1/2 messages) across `restart()`: mosquitto with `persistence true` in a temp directory (saved on SIGTERM,
 * read back at start), aedes by handing the same persistence object to the new broker instance (as a broker on
 * a durable store such as aedes-persistence-redis would find it). Without it, a restart loses every session.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';
import { freePort, spawnCollecting, stopChild, waitForPort } from './toolkit';

export type BrokerKind = 'aedes' | 'mosquitto';

export interface TestBrokerOptions {
  /** Keep sessions and queued messages across restart() (see the file comment). */
  persistent?: boolean;
  /** mosquitto logs errors and warnings only, not every connection (for a busy benchmark). */
  quiet?: boolean;
}

export interface TestMqttBroker {
  kind: BrokerKind;
  port: number;
  url: string;
  /** The broker's process: mosquitto's, or this one for aedes. */
  pid: number;
  /** Stops the broker and drops every connection; resolves when the port is closed. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops (if running) and starts again on the same port; resolves when the port accepts connections. */
  restart(): Promise<void>;
  /** Broker log (mosquitto's output; empty for aedes), for failure messages. */
  log(): string;
}

export const MOSQUITTO_PATH = process.env.MOSQUITTO_PATH ?? '/usr/sbin/mosquitto';

/** Whether Debian's mosquitto binary is installed (CI's .ci/run installs it). */
export function mosquittoAvailable(): boolean {
  try {
    fs.accessSync(MOSQUITTO_PATH, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// The temp directories of mosquitto (config, persistence file) go when the test process exits.
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

export async function startTestBroker(
  kind: BrokerKind,
  port?: number,
  opts: TestBrokerOptions = {},
): Promise<TestMqttBroker> {
  if (kind === 'aedes') return startAedes(port ?? 0, opts);
  if (kind === 'mosquitto') return startMosquitto(port, opts);
  throw new Error(`unknown broker kind ${String(kind)}`);
}

// ---------------------------------------------------------------------------------------------------- aedes

async function startAedes(wanted: number, opts: TestBrokerOptions): Promise<TestMqttBroker> {
  let port = wanted;
  let persistence: unknown;
  let running: { broker: Aedes; server: net.Server; sockets: Set<net.Socket> } | undefined;

  const start = async () => {
    const broker = await Aedes.createBroker(opts.persistent && persistence ? { persistence } : {});
    if (opts.persistent) persistence = (broker as unknown as { persistence: unknown }).persistence;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      broker.handle(s);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
    } catch (err) {
      await new Promise<void>((r) => broker.close(() => r()));
      throw err;
    }
    port = (server.address() as net.AddressInfo).port;
    running = { broker, server, sockets };
  };

  const stop = async () => {
    const r = running;
    running = undefined;
    if (!r) return;
    // Stop accepting first, then close the broker (its clients get a clean close, sessions stay in the
    // persistence), then destroy whatever socket is left so that clients see the connection drop at once.
    const closed = new Promise<void>((resolve) => r.server.close(() => resolve()));
    await Promise.race([
      new Promise<void>((resolve) => r.broker.close(() => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, 3000)),
    ]);
    for (const s of r.sockets) s.destroy();
    await closed;
  };

  await start();
  return {
    kind: 'aedes',
    get port() {
      return port;
    },
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    pid: process.pid,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    log: () => '',
  };
}

// ------------------------------------------------------------------------------------------------ mosquitto

async function startMosquitto(wanted: number | undefined, opts: TestBrokerOptions): Promise<TestMqttBroker> {
  if (!mosquittoAvailable()) {
    throw new Error(`mosquitto is not installed at ${MOSQUITTO_PATH} (apt-get install -y mosquitto)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-mosquitto-'));
  tempDirs.add(dir);
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  let port = wanted ?? 0;
  let child: ChildProcess | undefined;
  let output = () => '';

  const writeConfig = () => {
    const lines = [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // Started as root, mosquitto would drop to the `mosquitto` user and could not write the temp
      // directory; naming the current user keeps it (and has no effect for a non-root user).
      `user ${os.userInfo().username}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(opts.quiet ? [] : ['log_type notice', 'log_type information']),
      // A deep queue, so that a burst is never dropped.
      'max_queued_messages 100000',
    ];
    if (opts.persistent) {
      lines.push('persistence true', `persistence_location ${dataDir}${path.sep}`, 'autosave_interval 0');
    } else {
      lines.push('persistence false');
    }
    const conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(conf, `${lines.join('\n')}\n`);
    return conf;
  };

  const startOnce = async () => {
    const conf = writeConfig();
    const run = spawnCollecting(MOSQUITTO_PATH, ['-c', conf]);
    const c = run.child;
    child = c;
    const earlier = output();
    output = () => earlier + run.output();
    let exit: string | undefined;
    c.on('error', (err) => {
      exit = `mosquitto failed to start: ${err.message}`;
    });
    c.on('exit', (code, signal) => {
      exit ??= `mosquitto exited (code ${code}, signal ${signal}) on port ${port}:\n${output()}`;
    });
    try {
      await waitForPort(port, 10000, () => exit);
    } catch (err) {
      await stopMosquitto(c);
      throw err;
    }
  };

  const start = async () => {
    // A port picked here could be taken by someone else before mosquitto binds it: pick again (only when
    // no port was asked for and this is the first start; a restart must keep its port).
    for (let attempt = 1; ; attempt++) {
      const pick = port === 0;
      if (pick) port = await freePort();
      try {
        await startOnce();
        return;
      } catch (err) {
        if (!pick || attempt >= 3) throw err;
        port = 0;
      }
    }
  };

  const stop = async () => {
    const c = child;
    child = undefined;
    if (c) await stopMosquitto(c);
  };

  await start();
  return {
    kind: 'mosquitto',
    get port() {
      return port;
    },
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get pid() {
      return child?.pid ?? 0;
    },
    stop: async () => {
      await stop();
    },
    restart: async () => {
      await stop();
      await startOnce();
    },
    log: () => output(),
  };
}

/** SIGTERM (mosquitto saves its persistence file then), SIGKILL after 5 s; resolves on exit. */
async function stopMosquitto(c: ChildProcess): Promise<void> {
  await stopChild(c, 'SIGTERM', 5000);
}
