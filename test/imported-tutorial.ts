/**
 * Running the flow rule-engine-import makes of the tutorial's four exports, for the importer's spec and the
 * palette install's: the import itself (the command, as a user runs it), the flow made deployable against a
 * test broker, and a turn of the knob repeated until its set-point arrives.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { FlowNode } from '../nodes/lib/importer';
import { TB_FIXTURES_DIR } from './tb-fixtures';
import { delay, type NodeRedProcess, waitFor } from './toolkit';

export const TUTORIAL_EXPORTS = {
  chain: path.join(TB_FIXTURES_DIR, 'mqtt-downlink-root-rule-chain.json'),
  uplink: path.join(TB_FIXTURES_DIR, 'sensor_uplink_converter.json'),
  downlink: path.join(TB_FIXTURES_DIR, 'mqtt-downlink-downlink-converter.json'),
  dashboard: path.join(TB_FIXTURES_DIR, 'temperature_control_dashboard.json'),
};

/** Runs the command `cli` (a .js file) on the four exports into `dir`; the flow and the report it printed. */
export function importTutorial(cli: string, dir: string): { flow: FlowNode[]; report: string } {
  const out = path.join(dir, 'flow.json');
  const e = TUTORIAL_EXPORTS;
  const args = [
    cli,
    e.chain,
    '--converter',
    e.uplink,
    '--converter',
    e.downlink,
    '--dashboard',
    e.dashboard,
    '-o',
    out,
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { flow: JSON.parse(fs.readFileSync(out, 'utf8')), report: r.stderr };
}

/** The lines of the report's "Not mapped" section, without its heading. */
export function notMappedLines(report: string): string[] {
  const [heading, ...lines] = report.split('\nNotes')[0].trim().split('\n');
  assert.match(heading, /^Not mapped \(\d+\):$/);
  return lines;
}

const TURN_ID = 'testknobturn0001';

/**
 * The imported flow with its broker pointed at the test broker on `port` (as a user edits the broker node)
 * and an inject node standing for a turn of the knob to 42, wired as the knob is: into the rpc request.
 */
export function deployable(flow: FlowNode[], port: number): FlowNode[] {
  const rpc = flow.find((n) => n.type === 'rule-rpc-request');
  assert.ok(rpc, 'the dashboard import made an rpc request node');
  const turn: FlowNode = {
    id: TURN_ID,
    type: 'inject',
    z: rpc.z,
    name: 'knob turn',
    props: [{ p: 'payload' }],
    payload: '42',
    payloadType: 'num',
    repeat: '',
    once: false,
    x: 100,
    y: 40,
    wires: [[rpc.id]],
  };
  return [...flow.map((n) => (n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port } : n)), turn];
}

/** Turns the knob until `seen` holds: the rpc request knows the device once one of its readings is saved. */
export async function turnKnobUntil(red: NodeRedProcess, seen: () => boolean): Promise<void> {
  await waitFor(
    async () => {
      if (seen()) return true;
      const res = await fetch(red.url(`/inject/${TURN_ID}`), { method: 'POST' });
      assert.equal(res.status, 200);
      await delay(300);
      return seen();
    },
    20000,
    'the set-point to arrive',
  );
}

/** The flow with the tutorial's attribute scope fixed: deviceName read as the client attribute it is saved as. */
export function withClientDeviceName(flow: FlowNode[]): FlowNode[] {
  return flow.map((n) =>
    n.type === 'rule-originator-attributes'
      ? { ...n, clientAttributeNames: ['deviceName'], serverAttributeNames: [] }
      : n,
  );
}
