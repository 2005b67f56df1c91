/**
 * Support for the tests that run real processes: an embedded MQTT broker (aedes) on a free loopback port, free
 * ports, a Node-RED user directory with this package and Dashboard 2.0 linked in, and headless Chromium.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';

export const root = path.resolve(__dirname, '../..');
export const artifacts = path.join(root, 'test-artifacts');

export interface TestBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** An aedes broker on 127.0.0.1 (port 0: a free one); close() also drops its open connections. */
export async function startBroker(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => broker.close(() => resolve()));
      }),
  };
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

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Links an installed package from the project's node_modules (or the project itself) into `userDir`. */
export function linkPackage(userDir: string, name: string, target: string): void {
  const dir = path.join(userDir, 'node_modules', ...name.split('/'));
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.symlinkSync(target, dir, 'dir');
}

/** A temp Node-RED user directory with this package and Dashboard 2.0 installed (as links), as a user has them. */
export function makeUserDir(prefix: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  linkPackage(userDir, pkg.name, root);
  linkPackage(
    userDir,
    '@flowfuse/node-red-dashboard',
    path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json')),
  );
  return userDir;
}

/** The Chromium that Debian's `chromium` package installs; the tests never download a browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function assertChromium(): void {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's package (apt-get install -y chromium)`);
  }
}

export function screenshotPath(name: string): string {
  fs.mkdirSync(artifacts, { recursive: true });
  return path.join(artifacts, `${name}.png`);
}

/** A Node-RED process on `port` with `userDir`, its console output collected. */
export class NodeRedProcess {
  child?: ChildProcess;
  output = '';
  constructor(
    readonly userDir: string,
    readonly port: number,
  ) {}

  /** Starts Node-RED and waits until it serves HTTP (flows may still be waiting for missing types). */
  async start(): Promise<void> {
    const red = require.resolve('node-red/red.js', { paths: [root] });
    this.output = '';
    const child = spawn(process.execPath, [red, '--userDir', this.userDir, '--port', String(this.port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d) => {
      this.output += d;
    });
    child.stderr?.on('data', (d) => {
      this.output += d;
    });
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`Node-RED exited at start:\n${this.output}`);
        return /Server now running/.test(this.output);
      },
      30000,
      'Node-RED to start',
    );
  }

  stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
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

/** Settings for a test user directory: loopback only, no credential encryption prompt, quiet. */
export function writeSettings(userDir: string, flows: unknown[] = []): void {
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  credentialSecret: false,
  telemetry: { enabled: false },
  // No welcome tour: it would cover the workspace, and dismissing it early throws in Node-RED's tour code.
  editorTheme: { tours: false },
  logging: { console: { level: 'info' } },
};
`,
  );
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
}

/** The examples the package ships, as a user finds them under Import > Examples. */
export function readExamples(): Array<{ file: string; nodes: Array<Record<string, unknown>> }> {
  const dir = path.join(root, 'examples');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, nodes: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) }));
}
