/**
 * Shared test set-up: the real Node-RED runtime through node-red-node-test-helper, and small helpers to wait
 * for messages on helper nodes.
 */
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { DeviceStore } from '../nodes/lib/device-store';
import { nodeRedDir } from './toolkit';

helper.init(require.resolve(nodeRedDir()));

export { delay, nodeRedDir, waitFor } from './toolkit';
export { helper };

export type AnyMsg = Record<string, unknown> & {
  payload?: unknown;
  metadata?: Record<string, string>;
  msgType?: string;
  originator?: string;
  error?: Record<string, unknown> & { message?: string };
};

/** Puts every node of a test flow on one tab, as the editor would (Catch and Status nodes need a tab). */
export function inTab(nodes: Array<Record<string, unknown>>, tabId = 'tab1'): Array<Record<string, unknown>> {
  return [{ id: tabId, type: 'tab', label: 'test' }, ...nodes.map((n) => ({ z: tabId, ...n }))];
}

/**
 * A test flow around one node (`node` holds its id, type and settings): its first output wired to the helper
 * node `ok`, its second to `fail`, and a Catch node that hands what it catches to `caught`. With `deviceStore`
 * (that config node's settings) a device store `s1` comes first and the node uses it.
 */
export function flowAround(
  node: Record<string, unknown>,
  opts: { deviceStore?: Record<string, unknown>; extra?: Array<Record<string, unknown>> } = {},
): Array<Record<string, unknown>> {
  const store = opts.deviceStore ? [{ id: 's1', type: 'rule-device-store', store: '', ...opts.deviceStore }] : [];
  return inTab([
    ...store,
    { ...(opts.deviceStore ? { deviceStore: 's1' } : {}), wires: [['ok'], ['fail']], ...node },
    { id: 'ok', type: 'helper' },
    { id: 'fail', type: 'helper' },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
    ...(opts.extra ?? []),
  ]);
}

/**
 * An uplink node `up` whose integration `integ` runs `decoder` with time limit `timeout` (ms), Success to helper
 * `ok`, Failure to `fail`: for handing it payloads directly, without a broker.
 */
export function uplinkFlow(name: string, decoder: string, timeout: number): Array<Record<string, unknown>> {
  return inTab([
    { id: 'store', type: 'rule-device-store' },
    {
      id: 'integ',
      type: 'rule-integration',
      name,
      decoder,
      encoder: 'return {contentType: "TEXT", data: "", metadata: {topic: "x"}};',
      metadata: [],
      deviceStore: 'store',
      allowCreateDevices: true,
      topicPattern: '${topic}',
      maxPayloadBytes: 65536,
      timeout,
    },
    { id: 'up', type: 'rule-integration-uplink', integration: 'integ', wires: [['ok'], ['fail']] },
    { id: 'ok', type: 'helper' },
    { id: 'fail', type: 'helper' },
  ]);
}

/** The device store of the config node `id` in the loaded flow. */
export function deviceStoreOf(id = 's1'): DeviceStore {
  return (helper.getNode(id) as unknown as { deviceStore: DeviceStore }).deviceStore;
}

/**
 * Sends `msg` into `nodeId` with `originator` as its originator (undefined: none), which names no device:
 * Failure, Catch and node.error all say so.
 */
export async function assertOriginatorMissing(nodeId: string, input: AnyMsg, originator: unknown): Promise<void> {
  const msg = { ...input, originator } as AnyMsg;
  if (originator === undefined) delete msg.originator;
  const caught = nextMessage('caught');
  const { port, msg: out } = await outcomeOf(nodeId, msg);
  assert.equal(port, 'fail');
  assert.match(String(out.error?.message), /^originator missing/);
  assert.equal(out.error?.code, 'originator-missing');
  await caught;
  assert.ok(errorCalls(nodeId).some((e) => /originator missing/.test(e)));
}

/**
 * Node-RED's Node overrides on('input') and does not support once()/removeListener() for it, so each helper
 * node gets one permanent listener that hands messages to whoever is waiting.
 */
const waiters = new WeakMap<object, Array<(m: AnyMsg) => void>>();
const collectors = new WeakMap<object, Array<(m: AnyMsg) => void>>();
function tap(id: string): object {
  const n = helper.getNode(id);
  if (!n) throw new Error(`no node ${id} in the test flow`);
  if (!waiters.has(n)) {
    waiters.set(n, []);
    collectors.set(n, []);
    n.on('input', (m: AnyMsg) => {
      for (const c of collectors.get(n) ?? []) c(m);
      const w = waiters.get(n)?.shift();
      if (w) w(m);
    });
  }
  return n;
}

/** Resolves with the next message that reaches the helper node `id`; rejects after `ms`. */
export function nextMessage(id: string, ms = 3000): Promise<AnyMsg> {
  return firstOf([id], ms).then((r) => r.msg);
}

/** Waits for the first message to reach any of `ids`; the others stop waiting at once. */
export function firstOf(ids: string[], ms = 3000): Promise<{ port: string; msg: AnyMsg }> {
  const entries = ids.map((id) => ({ id, list: waiters.get(tap(id))! }));
  return new Promise((resolve, reject) => {
    const fns: Array<(m: AnyMsg) => void> = [];
    const cleanup = () => {
      clearTimeout(timer);
      entries.forEach((e, i) => {
        const k = e.list.indexOf(fns[i]);
        if (k >= 0) e.list.splice(k, 1);
      });
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`nothing reached ${ids.join(' or ')} within ${ms} ms`));
    }, ms);
    for (const e of entries) {
      const fn = (m: AnyMsg) => {
        cleanup();
        resolve({ port: e.id, msg: m });
      };
      fns.push(fn);
      e.list.push(fn);
    }
  });
}

/**
 * Sends `msg` into node `inputId` and waits for the first message to reach any of `outputIds`; tells which one
 * it reached, so a test can assert that the others got nothing.
 */
export async function sendAndWait(
  inputId: string,
  msg: AnyMsg,
  outputIds: string[],
  ms = 3000,
): Promise<{ port: string; msg: AnyMsg }> {
  const wait = firstOf(outputIds, ms);
  helper.getNode(inputId).receive(msg);
  return wait;
}

/** Sends `msg` into node `id` of a flowAround() flow and waits for it on `ok` or on `fail`. */
export function outcomeOf(id: string, msg: AnyMsg, ms = 3000): Promise<{ port: string; msg: AnyMsg }> {
  return sendAndWait(id, msg, ['ok', 'fail'], ms);
}

/** Collects every message reaching `id` until `stop()` is called. */
export function collect(id: string): { msgs: AnyMsg[]; stop(): void } {
  const n = tap(id);
  const msgs: AnyMsg[] = [];
  const on = (m: AnyMsg) => msgs.push(m);
  const list = collectors.get(n)!;
  list.push(on);
  return { msgs, stop: () => list.splice(list.indexOf(on), 1) };
}

/** Calls `fn` for every message reaching `id` (keeps nothing); returns a function that stops it. */
export function onMessage(id: string, fn: (m: AnyMsg) => void): () => void {
  const n = tap(id);
  const list = collectors.get(n)!;
  list.push(fn);
  return () => list.splice(list.indexOf(fn), 1);
}

export interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}

/** The first argument of each call node `id` made to its own `method` (the helper records them). */
function firstArgs(id: string, method: 'status' | 'error'): unknown[] {
  const n = helper.getNode(id);
  const spy = n[method] as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy
    .getCalls()
    .filter((c) => c.thisValue === n)
    .map((c) => c.args[0]);
}

/** Status objects set on node `id` so far. */
export function statusCalls(id: string): StatusCall[] {
  return firstArgs(id, 'status') as StatusCall[];
}

/** The error messages node `id` reported through node.error / done(err). */
export function errorCalls(id: string): string[] {
  return firstArgs(id, 'error').map((a) => String((a as Error)?.message ?? a));
}
