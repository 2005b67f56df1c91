/**
 * Shared test set-up: the real Node-RED runtime through node-red-node-test-helper, and small helpers to wait
 * for messages on helper nodes.
 */
import path from 'node:path';
import helper from 'node-red-node-test-helper';

/**
 * The Node-RED package directory the tests run against: the devDependency, or another copy named by
 * NODE_RED_PATH (scripts/test-matrix.js points it at Node-RED 5 for the second leg).
 */
export function nodeRedDir(): string {
  return process.env.NODE_RED_PATH ?? path.dirname(require.resolve('node-red/package.json'));
}

helper.init(require.resolve(nodeRedDir()));

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

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Status objects set on node `id` so far (node-red-node-test-helper records node.status calls). */
export interface StatusCall {
  fill?: string;
  shape?: string;
  text?: string;
}
export function statusCalls(id: string): StatusCall[] {
  const n = helper.getNode(id);
  const spy = n.status as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy
    .getCalls()
    .filter((c) => c.thisValue === n)
    .map((c) => c.args[0] as StatusCall);
}

/** The error messages node `id` reported through node.error / done(err). */
export function errorCalls(id: string): string[] {
  const n = helper.getNode(id);
  const spy = n.error as unknown as { getCalls(): Array<{ thisValue: unknown; args: unknown[] }> };
  return spy
    .getCalls()
    .filter((c) => c.thisValue === n)
    .map((c) => String((c.args[0] as Error)?.message ?? c.args[0]));
}
