/**
 * Saved attributes across a restart of a real Node-RED process with the `localfilesystem` context store:
 * a graceful stop flushes them, a SIGKILL before the store's 30 s flush loses what came
 * after the last flush. The package is installed into the user directory as a link, as `npm start` does.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { nodeRedDir } from './support';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const flows = [
  { id: 'ptab', type: 'tab', label: 'persistence' },
  { id: 'pstore', type: 'rule-device-store', name: 'devices', store: '', timeout: 5000 },
  { id: 'in1', type: 'http in', z: 'ptab', url: '/attributes', method: 'post', wires: [['prep1']] },
  {
    id: 'prep1',
    type: 'change',
    z: 'ptab',
    rules: [
      { t: 'set', p: 'msgType', pt: 'msg', to: 'POST_ATTRIBUTES_REQUEST', tot: 'str' },
      { t: 'set', p: 'originator', pt: 'msg', to: 'Thermostat-A', tot: 'str' },
      { t: 'set', p: 'metadata', pt: 'msg', to: '{"deviceType":"thermostat"}', tot: 'json' },
    ],
    wires: [['save1']],
  },
  {
    id: 'save1',
    type: 'rule-save-attributes',
    z: 'ptab',
    deviceStore: 'pstore',
    scope: 'client',
    wires: [['ok1'], ['bad1']],
  },
  {
    id: 'ok1',
    type: 'change',
    z: 'ptab',
    rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'saved', tot: 'str' }],
    wires: [['res']],
  },
  {
    id: 'bad1',
    type: 'change',
    z: 'ptab',
    rules: [
      { t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' },
      { t: 'set', p: 'statusCode', pt: 'msg', to: '500', tot: 'num' },
    ],
    wires: [['res']],
  },
  { id: 'in2', type: 'http in', z: 'ptab', url: '/attributes', method: 'get', wires: [['prep2']] },
  {
    id: 'prep2',
    type: 'change',
    z: 'ptab',
    rules: [
      { t: 'set', p: 'msgType', pt: 'msg', to: 'RPC_CALL_FROM_SERVER_TO_DEVICE', tot: 'str' },
      { t: 'set', p: 'originator', pt: 'msg', to: 'Thermostat-A', tot: 'str' },
      { t: 'set', p: 'metadata', pt: 'msg', to: '{}', tot: 'json' },
      { t: 'set', p: 'payload', pt: 'msg', to: '{}', tot: 'json' },
    ],
    wires: [['enrich']],
  },
  {
    id: 'enrich',
    type: 'rule-originator-attributes',
    z: 'ptab',
    deviceStore: 'pstore',
    clientAttributeNames: ['deviceName', 'firmware'],
    sharedAttributeNames: [],
    serverAttributeNames: [],
    latestTsKeyNames: [],
    fetchTo: 'data',
    tellFailureIfAbsent: true,
    wires: [['res'], ['bad1']],
  },
  { id: 'res', type: 'http response', z: 'ptab', statusCode: '', headers: {}, wires: [] },
];

class NodeRedProcess {
  child?: ChildProcess;
  output = '';
  constructor(
    readonly userDir: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const red = path.join(nodeRedDir(), 'red.js');
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
    const deadline = Date.now() + 30000;
    // "Server now running" comes after "Started flows": the port is open only then.
    while (!/Started flows/.test(this.output) || !/Server now running at/.test(this.output)) {
      if (child.exitCode !== null) throw new Error(`Node-RED exited at start:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`Node-RED did not start in 30 s:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return Promise.resolve(child?.exitCode ?? null);
    return new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill(signal);
    });
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.port}${p}`;
  }
}

describe('persistence with the localfilesystem context store (real Node-RED process)', function () {
  this.timeout(120000);
  let userDir: string;
  let red: NodeRedProcess;

  before(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-persist-'));
    const modDir = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
    fs.mkdirSync(path.dirname(modDir), { recursive: true });
    fs.symlinkSync(root, modDir, 'dir');
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  credentialSecret: false,
  contextStorage: { default: { module: 'localfilesystem' } },
  logging: { console: { level: 'info' } },
};
`,
    );
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
    red = new NodeRedProcess(userDir, await freePort());
  });

  afterEach(async () => {
    await red.stop('SIGKILL');
  });

  after(() => {
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function save(body: Record<string, unknown>): Promise<void> {
    const res = await fetch(red.url('/attributes'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  }
  async function read(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(red.url('/attributes'));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('keeps attributes saved before a graceful stop', async () => {
    await red.start();
    let r = await read();
    assert.equal(r.status, 500, 'nothing saved yet: Failure');
    await save({ deviceName: 'Thermostat-A', firmware: '1.0.0' });
    r = await read();
    assert.equal(r.status, 200);
    assert.equal(r.body.cs_deviceName, 'Thermostat-A');

    const code = await red.stop('SIGINT');
    assert.equal(code, 0, red.output);
    await red.start();
    r = await read();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.cs_deviceName, 'Thermostat-A');
    assert.equal(r.body.cs_firmware, '1.0.0');
  });

  it('loses a write made less than the flush interval (30 s) before a SIGKILL, and keeps the earlier ones', async () => {
    await red.start();
    let r = await read();
    assert.equal(r.body.cs_firmware, '1.0.0', 'from the previous test, flushed by the graceful stop');
    await save({ firmware: '2.0.0' });
    r = await read();
    assert.equal(r.body.cs_firmware, '2.0.0', 'visible while running');
    await red.stop('SIGKILL');
    await red.start();
    r = await read();
    assert.equal(r.body.cs_firmware, '1.0.0', 'the unflushed write is gone after SIGKILL');
  });
});
