/**
 * Saved attributes across a restart of a real Node-RED process with the `localfilesystem` context store:
 * a graceful stop flushes them, a SIGKILL before the store's 30 s flush loses what came
 * after the last flush. The package is installed into the user directory as a link, as `npm start` does.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { freePort, makeUserDir, NodeRedProcess, nodeRedDir, writeSettings } from './toolkit';

/** A change node on the test tab that sets each [property, value, value type] of msg, then sends to `to`. */
function change(id: string, sets: Array<[string, string, string]>, to: string) {
  const rules = sets.map(([p, value, tot]) => ({ t: 'set', p, pt: 'msg', to: value, tot }));
  return { id, type: 'change', z: 'ptab', rules, wires: [[to]] };
}

const flows = [
  { id: 'ptab', type: 'tab', label: 'persistence' },
  { id: 'pstore', type: 'rule-device-store', name: 'devices', store: '', timeout: 5000 },
  { id: 'in1', type: 'http in', z: 'ptab', url: '/attributes', method: 'post', wires: [['prep1']] },
  change(
    'prep1',
    [
      ['msgType', 'POST_ATTRIBUTES_REQUEST', 'str'],
      ['originator', 'Thermostat-A', 'str'],
      ['metadata', '{"deviceType":"thermostat"}', 'json'],
    ],
    'save1',
  ),
  {
    id: 'save1',
    type: 'rule-save-attributes',
    z: 'ptab',
    deviceStore: 'pstore',
    scope: 'client',
    wires: [['ok1'], ['bad1']],
  },
  change('ok1', [['payload', 'saved', 'str']], 'res'),
  change(
    'bad1',
    [
      ['payload', 'error', 'msg'],
      ['statusCode', '500', 'num'],
    ],
    'res',
  ),
  { id: 'in2', type: 'http in', z: 'ptab', url: '/attributes', method: 'get', wires: [['prep2']] },
  change(
    'prep2',
    [
      ['msgType', 'RPC_CALL_FROM_SERVER_TO_DEVICE', 'str'],
      ['originator', 'Thermostat-A', 'str'],
      ['metadata', '{}', 'json'],
      ['payload', '{}', 'json'],
    ],
    'enrich',
  ),
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

describe('persistence with the localfilesystem context store (real Node-RED process)', function () {
  this.timeout(120000);
  let userDir: string;
  let red: NodeRedProcess;

  before(async () => {
    userDir = makeUserDir('rule-engine-persist-', { dashboard: false });
    writeSettings(userDir, flows, { contextStorage: { default: { module: 'localfilesystem' } } });
    red = new NodeRedProcess(userDir, await freePort(), { nodeRed: nodeRedDir() });
  });

  afterEach(async () => {
    await red.stop('SIGKILL');
  });

  after(() => {
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** Starts Node-RED and waits for its flows: the port can be open before the http in routes are. */
  async function start(): Promise<void> {
    await red.start();
    await red.waitForLog(/Started flows/, 30000);
  }

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
    await start();
    let r = await read();
    assert.equal(r.status, 500, 'nothing saved yet: Failure');
    await save({ deviceName: 'Thermostat-A', firmware: '1.0.0' });
    r = await read();
    assert.equal(r.status, 200);
    assert.equal(r.body.cs_deviceName, 'Thermostat-A');

    const code = await red.stop('SIGINT');
    assert.equal(code, 0, red.output);
    await start();
    r = await read();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.cs_deviceName, 'Thermostat-A');
    assert.equal(r.body.cs_firmware, '1.0.0');
  });

  it('loses a write made less than the flush interval (30 s) before a SIGKILL, and keeps the earlier ones', async () => {
    await start();
    await save({ firmware: '1.0.0' });
    assert.equal(await red.stop('SIGINT'), 0, red.output);
    await start();
    let r = await read();
    assert.equal(r.body.cs_firmware, '1.0.0', 'flushed by the graceful stop');
    await save({ firmware: '2.0.0' });
    r = await read();
    assert.equal(r.body.cs_firmware, '2.0.0', 'visible while running');
    await red.stop('SIGKILL');
    await start();
    r = await read();
    assert.equal(r.body.cs_firmware, '1.0.0', 'the unflushed write is gone after SIGKILL');
  });
});
