import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OTHER_PORT, portFor, SWITCH_PORTS } from '../nodes/lib/msg-types';
import { type AnyMsg, collect, delay, helper, inTab, sendAndWait, waitFor } from './support';

const msgTypeSwitchNode = require('../nodes/msg-type-switch/msg-type-switch');

const OUTS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
const EXPECTED = [
  ['Post attributes', 'POST_ATTRIBUTES_REQUEST'],
  ['Post telemetry', 'POST_TELEMETRY_REQUEST'],
  ['RPC Request from Device', 'TO_SERVER_RPC_REQUEST'],
  ['RPC Request to Device', 'RPC_CALL_FROM_SERVER_TO_DEVICE'],
  ['Attributes Updated', 'ATTRIBUTES_UPDATED'],
  ['Attributes Deleted', 'ATTRIBUTES_DELETED'],
  ['Timeseries Updated', 'TIMESERIES_UPDATED'],
  ['Other', undefined],
] as const;

function flow() {
  return inTab([
    { id: 'sw', type: 'rule-msg-type-switch', wires: OUTS.map((o) => [o]) },
    ...OUTS.map((id) => ({ id, type: 'helper' })),
  ]);
}

/** Sends one message and checks it reaches output `port` only, unchanged. */
async function routesTo(msg: AnyMsg, port: number): Promise<void> {
  const all = OUTS.map((o) => collect(o));
  const original = structuredClone(msg);
  const r = await sendAndWait('sw', msg, OUTS);
  await delay(20); // a quiet stretch: a stray copy to another output would arrive in it
  for (const c of all) c.stop();
  assert.equal(r.port, OUTS[port], `msgType ${JSON.stringify(msg.msgType)}`);
  assert.deepEqual(
    all.map((c) => c.msgs.length),
    OUTS.map((_, i) => (i === port ? 1 : 0)),
    'exactly one output',
  );
  for (const k of Object.keys(original)) assert.deepEqual(r.msg[k], original[k], `msg.${k}`);
}

describe('message type switch node', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('has the eight outputs its help lists, in order, in the library', () => {
    assert.deepEqual(
      SWITCH_PORTS.map((p) => [p.label, p.msgType]),
      EXPECTED.map(([l, t]) => [l, t]),
    );
    assert.equal(OTHER_PORT, 7);
  });

  EXPECTED.forEach(([label, msgType], port) => {
    if (!msgType) return;
    it(`sends ${msgType} to output ${port + 1} (${label}) only`, async () => {
      await helper.load(msgTypeSwitchNode, flow());
      await routesTo(
        { payload: { a: 1 }, metadata: { deviceName: 'Thermostat-A' }, msgType, originator: 'Thermostat-A' },
        port,
      );
    });
  });

  for (const [label, msgType] of [
    ['an unknown type', 'CONNECT_EVENT'],
    ['a lower-case known type', 'post_telemetry_request'],
    ['an empty type', ''],
    ['a number', 42],
    ['null', null],
    ['an object', { type: 'POST_TELEMETRY_REQUEST' }],
  ] as const) {
    it(`sends ${label} to Other`, async () => {
      await helper.load(msgTypeSwitchNode, flow());
      await routesTo({ payload: 1, msgType: msgType as unknown as string }, 7);
    });
  }

  it('sends a message without msgType (or metadata) to Other', async () => {
    await helper.load(msgTypeSwitchNode, flow());
    await routesTo({ payload: 'plain Node-RED message', topic: 't' }, 7);
  });

  it('routes a stream of mixed messages, each to exactly one output', async () => {
    await helper.load(msgTypeSwitchNode, flow());
    const all = OUTS.map((o) => collect(o));
    const types = [...EXPECTED.map(([, t]) => t), 'X', undefined, 'POST_TELEMETRY_REQUEST'];
    for (const [i, t] of types.entries()) helper.getNode('sw').receive({ payload: i, msgType: t } as AnyMsg);
    const count = () => all.reduce((n, c) => n + c.msgs.length, 0);
    await waitFor(() => count() >= types.length, 1000, `${types.length} messages out`);
    await delay(20); // a quiet stretch: a stray copy would arrive in it
    for (const c of all) c.stop();
    assert.deepEqual(
      all.map((c) => c.msgs.map((m) => m.payload)),
      [[0], [1, 10], [2], [3], [4], [5], [6], [7, 8, 9]],
    );
  });

  it('portFor maps every listed type to its port and anything else to Other', () => {
    SWITCH_PORTS.forEach((p, i) => {
      if (p.msgType) assert.equal(portFor(p.msgType), i);
    });
    for (const t of [undefined, null, 0, '', 'Other', 'constructor', '__proto__', 'toString']) {
      assert.equal(portFor(t), OTHER_PORT, String(t));
    }
  });

  it('labels each port from the locale catalog, in the order of the outputs', () => {
    const dir = path.join(__dirname, '../nodes/msg-type-switch');
    const catalog = JSON.parse(readFileSync(path.join(dir, 'locales/en-US/msg-type-switch.json'), 'utf8'));
    const outputs = catalog['msg-type-switch'].outputs as Record<string, string>;
    assert.equal(Object.keys(outputs).length, 8);
    assert.deepEqual(
      SWITCH_PORTS.map((p) => outputs[p.key]),
      EXPECTED.map(([l]) => l),
    );
    // The editor's port list (in the node's HTML) names the same catalog keys in the same order.
    const html = readFileSync(path.join(dir, 'msg-type-switch.html'), 'utf8');
    const list = /const PORTS = \[([^\]]*)\]/.exec(html)?.[1] ?? '';
    const keys = [...list.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]);
    assert.deepEqual(
      keys,
      SWITCH_PORTS.map((p) => p.key),
    );
    assert.match(html, /outputs: 8,/);
    assert.match(
      html,
      /outputLabels: function \(i\) \{\s*return this\._\('msg-type-switch\.outputs\.' \+ PORTS\[i\]\);/,
    );
  });
});
