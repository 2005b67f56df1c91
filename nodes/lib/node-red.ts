/**
 * The thin glue every node shares: status that only changes when it has to (status updates are broadcast to
 * every open editor, so one per message would cost more than the work itself), texts from the message catalog,
 * finding the device store a node is configured with, settings from Node-RED's settings.js, and the permission
 * check of admin routes. How a node handles its input is in rule-node.ts.
 */
import type { Node, NodeAPI, NodeMessage, NodeStatus } from 'node-red';
import type { DeviceStore } from './device-store';
import { DEFAULT_MAX_SCRIPT_TIMEOUT_MS } from './guarded-script';
import { MessageError } from './message';
import { numberSetting } from './settings';

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

/** What a config node of type rule-device-store exposes to the nodes that use it. */
export interface DeviceStoreNode extends Node {
  deviceStore: DeviceStore;
  /** Set when the store cannot be used (e.g. a context store name Node-RED does not have). */
  storeError?: string;
}

const MAX_STATUS_TEXT = 64;

/** Shortest time between two status updates made with StatusTracker.soon (a knob turned fast, say). */
export const STATUS_INTERVAL_MS = 250;

export class StatusTracker {
  private last = '';
  private lastAt = 0;
  private pending: (() => NodeStatus) | undefined;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly node: Node) {}

  set(status: NodeStatus): void {
    this.cancel();
    this.show(status);
  }

  /**
   * A status that changes with every message (the value just sent): shown at most every STATUS_INTERVAL_MS,
   * the latest one last. `make` runs only when the status is shown, so a burst pays for one text, not one
   * per message. Call cancel() on close.
   */
  soon(make: () => NodeStatus): void {
    this.pending = make;
    if (this.timer) return;
    const wait = this.lastAt + STATUS_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  /** Drops a status waiting in soon(). */
  cancel(): void {
    this.pending = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    const make = this.pending;
    this.pending = undefined;
    if (make) this.show(make());
  }

  private show(status: NodeStatus): void {
    this.lastAt = Date.now();
    const text = typeof status.text === 'string' ? truncate(status.text) : status.text;
    const key = `${status.fill}|${status.shape}|${text}`;
    if (key === this.last) return;
    this.last = key;
    this.node.status({ ...status, text });
  }
  ok(text = 'ok'): void {
    this.set({ fill: 'green', shape: 'dot', text });
  }
  error(text: string): void {
    this.set({ fill: 'red', shape: 'ring', text });
  }
  warn(text: string): void {
    this.set({ fill: 'yellow', shape: 'ring', text });
  }
  clear(): void {
    this.cancel();
    this.last = '';
    this.node.status({});
  }
}

/**
 * A text from the node's message catalog: `key` (e.g. 'script.status.ok') resolves in the node set's own
 * namespace, in the runtime's language, with `__name__` replaced from `vars`. Falls back to `fallback` (the
 * English text, with the same replacements) when the runtime has no such text: node-red-node-test-helper's
 * RED._ gives back the key itself.
 */
export function t(RED: NodeAPI, key: string, fallback: string, vars: Record<string, string | number> = {}): string {
  let text: unknown;
  try {
    text = (RED as unknown as { _?: (k: string, v: object) => unknown })._?.(key, vars);
  } catch {
    text = undefined;
  }
  if (typeof text === 'string' && text !== '' && text !== key && !text.endsWith(`:${key}`)) return text;
  return fallback.replace(/__([A-Za-z0-9_]+)__/g, (m, name: string) =>
    Object.hasOwn(vars, name) ? String(vars[name]) : m,
  );
}

function truncate(s: string): string {
  return s.length > MAX_STATUS_TEXT ? `${s.slice(0, MAX_STATUS_TEXT - 1)}…` : s;
}

/** The configured device store, or an error saying what is wrong with the configuration. */
export function resolveDeviceStore(RED: NodeAPI, id: string | undefined): DeviceStoreNode {
  if (!id) throw new MessageError('no device store configured', 'no-store');
  const n = RED.nodes.getNode(id) as DeviceStoreNode | null;
  if (!n?.deviceStore) throw new MessageError('the configured device store is missing or disabled', 'no-store');
  if (n.storeError) throw new MessageError(n.storeError, 'bad-store');
  return n;
}

/** The longest time limit a script may be given (see DEFAULT_MAX_SCRIPT_TIMEOUT_MS), from Node-RED's settings. */
export function maxScriptTimeout(RED: NodeAPI): number {
  const engine = redSetting(RED, 'ruleEngine') as { maxScriptTimeout?: unknown } | undefined;
  return numberSetting(engine?.maxScriptTimeout, DEFAULT_MAX_SCRIPT_TIMEOUT_MS, 1);
}

/** A setting from Node-RED's settings.js that its types do not list (they list only some of Node-RED's own). */
export function redSetting(RED: NodeAPI, name: string): unknown {
  return (RED.settings as unknown as Record<string, unknown> | undefined)?.[name];
}

type Handler = (req: unknown, res: { status(code: number): { end(): void } }, next: () => void) => void;

/** Node-RED's own rule for whether a token scope grants a permission ("read" grants every "*.read"). */
export function scopeAllows(scope: unknown, permission: string): boolean {
  if (Array.isArray(scope)) return scope.some((s) => scopeAllows(s, permission));
  if (scope === '*' || scope === permission) return true;
  if (scope === 'read' || scope === '*.read') return permission.endsWith('.read');
  if (scope === 'write' || scope === '*.write') return permission.endsWith('.write');
  return false;
}

/**
 * Middleware for an admin route. Read routes use RED.auth.needsPermission as they are. Write routes first
 * require a signed-in user through it (401 without a valid token), then answer 403 to a user whose token does
 * not grant the permission: Node-RED itself answers 401 for both, which tells a read-only user to sign in again.
 */
export function adminPermission(RED: NodeAPI, permission: string): Handler[] {
  const auth = RED.auth.needsPermission.bind(RED.auth) as unknown as (p: string) => Handler;
  if (!permission.endsWith('.write')) return [auth(permission)];
  const read = permission.replace(/\.write$/, '.read');
  const secured = () => !!redSetting(RED, 'adminAuth');
  const forbid: Handler = (req, res, next) => {
    if (!secured()) return next();
    const scope = (req as { authInfo?: { scope?: unknown } }).authInfo?.scope;
    if (scopeAllows(scope, permission)) return next();
    res.status(403).end();
  };
  return [auth(read), forbid];
}
