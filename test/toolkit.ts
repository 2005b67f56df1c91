/**
 * The one toolkit of the tests, the benchmarks and the scripts that run real processes: free loopback ports,
 * waiting for a condition, ending a child process, a Node-RED process on a temp user directory with this package
 * linked in, and headless Chromium. Compiled to dist/test/toolkit.js, which the plain-JS scripts require.
 * Nothing here loads node-red-node-test-helper (test/support.ts does), so a benchmark can use it too.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type { StoredRpc } from '../nodes/lib/device-store';

/** The project's root (this file runs from dist/test/). */
export const root = path.resolve(__dirname, '../..');
export const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  'node-red': { nodes: Record<string, string> };
  devDependencies: Record<string, string>;
};

/**
 * The Node-RED package directory the in-process tests run against: the devDependency, or another copy named by
 * NODE_RED_PATH (scripts/test-matrix.js points it at Node-RED 5 for the second leg).
 */
export function nodeRedDir(): string {
  return process.env.NODE_RED_PATH ?? path.dirname(require.resolve('node-red/package.json'));
}

/** The devDependency's Node-RED, whatever NODE_RED_PATH says. */
export const devNodeRedDir = path.dirname(require.resolve('node-red/package.json', { paths: [root] }));

// ------------------------------------------------------------------------------------------- time and ports

/**
 * Resolves after `ms`. Only for a stretch in which nothing should happen (to see that it does not); a wait
 * until something has happened is waitFor's.
 */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every `every` ms until it holds; rejects after `ms`, naming `what`. `cond` may throw to give up. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  every = 50,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(every);
  }
}

/** A loopback port nobody listens on right now. */
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

/** Whether 127.0.0.1:port can be listened on. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Whether a TCP connection to 127.0.0.1:port succeeds. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves once something listens on 127.0.0.1:port; `dead()` returning a reason gives up with it. */
export function waitForPort(port: number, ms: number, dead: () => string | undefined = () => undefined) {
  return waitFor(
    async () => {
      const why = dead();
      if (why) throw new Error(why);
      return listening(port);
    },
    ms,
    `something to listen on 127.0.0.1:${port}`,
  );
}

// -------------------------------------------------------------------------------------------- child processes

// Children still running when this process exits (mocha --exit, a failed after()) are ended by PID.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) killNow(c);
});

/** Ends `child` by PID when this process exits, if it is still running then. */
export function endOnExit(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** SIGKILL by PID, now; nothing if it has ended. */
export function killNow(c: ChildProcess): void {
  if (!running(c) || !c.pid) return;
  try {
    process.kill(c.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Sends `signal` (none: the child was asked some other way) and resolves with the exit code once the child has
 * ended; SIGKILL if it is still running after `killAfterMs`.
 */
export function stopChild(
  c: ChildProcess,
  signal: NodeJS.Signals | undefined = 'SIGTERM',
  killAfterMs = 10000,
): Promise<number | null> {
  if (!running(c)) return Promise.resolve(c.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => killNow(c), killAfterMs);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    if (!signal || !c.pid) return;
    try {
      process.kill(c.pid, signal);
    } catch {
      clearTimeout(timer);
      resolve(c.exitCode);
    }
  });
}

/** Spawns `cmd` with stdout and stderr gathered into `output()`, ended by PID if still running at exit. */
export function spawnCollecting(
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): { child: ChildProcess; output(): string } {
  let output = '';
  const child = endOnExit(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }));
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  return { child, output: () => output };
}

// ----------------------------------------------------------------------------------------------------- Redis

/** Debian's redis-server, or the one REDIS_SERVER_PATH names. */
export const redisServerPath = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';

export interface RedisProcess {
  port: number;
  /** redis://127.0.0.1:port (no password in it: the device store refuses one). */
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM (Redis shuts down cleanly), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * A redis-server on 127.0.0.1:`port` (default: a free one) that keeps nothing on disk, with `password` as
 * requirepass if given; resolves once it accepts connections. Ended by PID if still running at exit.
 */
export async function startRedis(opts: { port?: number; password?: string } = {}): Promise<RedisProcess> {
  if (!fs.existsSync(redisServerPath)) {
    throw new Error(
      `no redis-server at ${redisServerPath}: install Debian's package (apt-get install -y redis-server)`,
    );
  }
  const port = opts.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (opts.password) args.push('--requirepass', opts.password);
  const { child, output } = spawnCollecting(redisServerPath, args);
  await waitForPort(port, 10000, () =>
    running(child) ? undefined : `redis-server exited at start (code ${child.exitCode}):\n${output()}`,
  );
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child,
    output,
    stop: async () => {
      await stopChild(child, 'SIGTERM');
    },
  };
}

// -------------------------------------------------------------------------------------------------- Node-RED

/** Links a package (a folder) into `userDir`'s node_modules, as npm would install it. */
export function linkPackage(userDir: string, name: string, target: string): void {
  const dir = path.join(userDir, 'node_modules', ...name.split('/'));
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.symlinkSync(target, dir, 'dir');
}

/**
 * A temp Node-RED user directory with this package installed (as a link), and Dashboard 2.0 too unless
 * `dashboard` is false: what a user has after installing both.
 */
export function makeUserDir(prefix: string, { dashboard = true } = {}): string {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  linkPackage(userDir, pkg.name, root);
  if (dashboard) {
    const dir = path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json', { paths: [root] }));
    linkPackage(userDir, '@flowfuse/node-red-dashboard', dir);
  }
  return userDir;
}

/**
 * A test user directory's settings.js (loopback only, no credential encryption, no telemetry prompt, no welcome
 * tour, info log) with `extra` settings on top, and its flows.json.
 */
export function writeSettings(userDir: string, flows: unknown[] = [], extra: Record<string, unknown> = {}): void {
  const settings = {
    flowFile: 'flows.json',
    uiHost: '127.0.0.1',
    credentialSecret: false,
    telemetry: { enabled: false },
    // The welcome tour would cover the workspace, and dismissing it early throws in Node-RED's tour code.
    editorTheme: { tours: false },
    logging: { console: { level: 'info' } },
    ...extra,
  };
  fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
}

export interface NodeRedOptions {
  /** Node-RED's package directory (default: the devDependency). */
  nodeRed?: string;
  /**
   * When start() counts Node-RED as ready: `log` once it logs "Server now running" (after it has started the
   * flows), `http` once its admin API answers (a runtime that logs in another language).
   */
  ready?: 'log' | 'http';
  startTimeoutMs?: number;
}

/** A Node-RED process on `port` with `userDir`, its console output collected in `output`. */
export class NodeRedProcess {
  child?: ChildProcess;
  private collected: () => string = () => '';
  constructor(
    readonly userDir: string,
    readonly port: number,
    readonly opts: NodeRedOptions = {},
  ) {}

  /** Starts Node-RED and waits until it serves HTTP (flows may still be waiting for missing types). */
  async start(): Promise<void> {
    const red = path.join(this.opts.nodeRed ?? devNodeRedDir, 'red.js');
    const { child, output } = spawnCollecting(process.execPath, [
      red,
      '--userDir',
      this.userDir,
      '--port',
      String(this.port),
    ]);
    this.child = child;
    this.collected = output;
    const ms = this.opts.startTimeoutMs ?? 60000;
    if (this.opts.ready === 'http') {
      await waitFor(
        async () => {
          if (!running(child)) throw new Error(`Node-RED exited at start:\n${this.output}`);
          return (await fetch(this.url('/settings')).catch(() => undefined))?.ok === true;
        },
        ms,
        'Node-RED to answer',
      );
    } else {
      // Node-RED starts the flows first and listens afterwards: "Server now running" says the port is open.
      await this.waitForLog(/Server now running at/, ms);
    }
  }

  /** What the current (or last) run has logged. */
  get output(): string {
    return this.collected();
  }

  /** Waits until the output after offset `from` matches `re`; gives up if Node-RED exits. */
  async waitForLog(re: RegExp, ms: number, from = 0): Promise<void> {
    await waitFor(
      () => {
        if (re.test(this.output.slice(from))) return true;
        if (this.child && !running(this.child)) throw new Error(`Node-RED exited:\n${this.output}`);
        return false;
      },
      ms,
      `${re} in the Node-RED log`,
    ).catch((err: Error) => {
      throw err.message.startsWith('timed out') ? new Error(`${err.message}:\n${this.output}`) : err;
    });
  }

  /** Sends `signal` (SIGINT: Node-RED stops gracefully), SIGKILL after 10 s; resolves with the exit code. */
  stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    return this.child ? stopChild(this.child, signal) : Promise.resolve(null);
  }

  /** SIGKILL by PID, now: safe to call at any time. */
  kill(): void {
    if (this.child) killNow(this.child);
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  /** A full deploy through the admin API, as the editor's Deploy button does. */
  async deploy(flows: unknown[]): Promise<void> {
    const res = await fetch(this.url('/flows'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v2' },
      body: JSON.stringify({ flows }),
    });
    if (!res.ok) throw new Error(`deploy failed: HTTP ${res.status} ${await res.text()}`);
  }
}

/** Node-RED started on a new user directory from makeUserDir(prefix), running `flows`. */
export async function startNodeRedWith(prefix: string, flows: unknown[]): Promise<NodeRedProcess> {
  const userDir = makeUserDir(prefix);
  writeSettings(userDir, flows);
  const red = new NodeRedProcess(userDir, await freePort());
  await red.start();
  return red;
}

// -------------------------------------------------------------------------------------------------- Chromium

/** The Chromium that Debian's `chromium` package installs; nothing here downloads a browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Headless Chromium; a clear error if Debian's package is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's package (apt-get install -y chromium)`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
}

/** Where the browser tests put their screenshots (test-artifacts/<name>.png). */
export function screenshotPath(name: string): string {
  const dir = path.join(root, 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

// -------------------------------------------------------------------------------------------------- examples

/** The examples the package ships, as a user finds them under Import > Examples. */
export function readExamples(): Array<{ file: string; nodes: Array<Record<string, unknown>> }> {
  const dir = path.join(root, 'examples');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  return files.sort().map((file) => ({ file, nodes: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) }));
}

/** Node-RED's MQTT broker config node for the broker on 127.0.0.1:`port` (MQTT 3.1.1, clean session). */
export function mqttBrokerNode(id: string, port: number, name = 'test broker'): Record<string, unknown> {
  return {
    id,
    type: 'mqtt-broker',
    name,
    broker: '127.0.0.1',
    port: String(port),
    clientid: '',
    autoConnect: true,
    usetls: false,
    protocolVersion: 4,
    keepalive: 60,
    cleansession: true,
  };
}

/**
 * Dashboard 2.0 config nodes for a test page at `path` with one group: a ui-base at /dashboard (none when
 * `base` names an existing one), a ui-theme (light unless `colors` says otherwise), the ui-page and the
 * ui-group, with ids `<prefix>base`, `<prefix>theme`, `<prefix>page` and `<prefix>group`.
 */
export function dashboardNodes(
  prefix: string,
  opts: { path: string; group: string; base?: string; colors?: Record<string, string> },
): Array<Record<string, unknown>> {
  const base = opts.base ?? `${prefix}base`;
  const nodes: Array<Record<string, unknown>> = [
    {
      id: `${prefix}theme`,
      type: 'ui-theme',
      name: `${opts.group} theme`,
      colors: opts.colors ?? {
        surface: '#ffffff',
        primary: '#0d74ce',
        bgPage: '#eeeeee',
        groupBg: '#ffffff',
        groupOutline: '#cccccc',
      },
      sizes: { density: 'default', pagePadding: '12px', groupGap: '12px', groupBorderRadius: '4px', widgetGap: '12px' },
    },
    {
      id: `${prefix}page`,
      type: 'ui-page',
      name: opts.group,
      ui: base,
      path: opts.path,
      icon: 'home',
      layout: 'grid',
      theme: `${prefix}theme`,
      order: 9,
      className: '',
      visible: 'true',
      disabled: 'false',
    },
    {
      id: `${prefix}group`,
      type: 'ui-group',
      name: opts.group,
      page: `${prefix}page`,
      width: '4',
      height: '1',
      order: 1,
      showTitle: true,
      className: '',
      visible: 'true',
      disabled: 'false',
      groupType: 'default',
    },
  ];
  if (!opts.base) {
    nodes.unshift({
      id: base,
      type: 'ui-base',
      name: 'dashboard',
      path: '/dashboard',
      includeClientData: true,
      acceptsClientConfig: ['ui-notification', 'ui-control'],
      headerContent: 'page',
      navigationStyle: 'default',
      titleBarStyle: 'default',
    });
  }
  return nodes;
}

// ------------------------------------------------------------------------------------------ persistent RPC

/** A persistent RPC request as a device store keeps it: a one-way setValue of node n1 that expires in 2033. */
export function storedRpc(requestUUID: string, deviceName: string, status = 'queued'): StoredRpc {
  return {
    requestUUID,
    deviceName,
    deviceType: 'valve',
    method: 'setValue',
    value: { open: 1 },
    oneway: true,
    expirationTime: 2_000_000_000_000,
    retries: 0,
    attempts: 0,
    status,
    createdTime: 1,
    node: 'n1',
  };
}
