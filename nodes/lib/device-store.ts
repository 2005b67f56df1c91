/**
 * Device store logic over any asynchronous key/value store (in the package: Node-RED's global context,
 * in the store the user picked). Pure: no Node-RED imports, so it is tested and benchmarked on its own.
 *
 * Layout: one top-level key per device, per attribute and per latest-telemetry key, so that
 *  - a lookup reads only the keys it needs (cost flat in the number of devices),
 *  - writers of different keys never overwrite each other's data, even from several Node-RED instances
 *    sharing one context store (no read-modify-write of a big per-device object).
 * Keys are `rule-engine:<kind>:...` with every user-supplied part percent-encoded, because Node-RED reads
 * `.` and `[` in a context key as a property path.
 */

import { cloneMessage } from './message';

export const SCOPES = ['client', 'shared', 'server'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(s: unknown): s is Scope {
  return typeof s === 'string' && (SCOPES as readonly string[]).includes(s);
}

/** ThingsBoard spells scopes CLIENT_SCOPE / SHARED_SCOPE / SERVER_SCOPE; accept both spellings. */
export function parseScope(s: unknown): Scope | undefined {
  if (typeof s !== 'string') return undefined;
  const v = s
    .trim()
    .toLowerCase()
    .replace(/_scope$/, '');
  return isScope(v) ? v : undefined;
}

export interface Device {
  name: string;
  type: string;
  createdTime: number;
}
export interface AttributeEntry {
  value: unknown;
  lastUpdateTs: number;
}
export interface TelemetryEntry {
  ts: number;
  value: unknown;
}
export interface TelemetryBatch {
  ts: number;
  values: Record<string, unknown>;
}

/** The minimum a backing store must do; values are stored as given and must be JSON-compatible. */
export interface KeyValueStore {
  get(keys: string[]): Promise<unknown[]>;
  set(keys: string[], values: unknown[]): Promise<void>;
}

export class StoreError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'busy' | 'backend' | 'bad-input',
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

const PREFIX = 'rule-engine';

/** What encodeKeyPart leaves as it is: checked first, because most device and key names are like this. */
const PLAIN_KEY_PART = /^[A-Za-z0-9_-]*$/;

export function encodeKeyPart(s: string): string {
  if (PLAIN_KEY_PART.test(s)) return s;
  return encodeURIComponent(s).replace(/[.!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
/** The keys, from a device name already encoded (a lookup encodes it once for all its keys). */
const keysOf = {
  device: (dev: string) => `${PREFIX}:dev:${dev}`,
  attribute: (dev: string, scope: Scope, key: string) => `${PREFIX}:attr:${scope}:${dev}:${encodeKeyPart(key)}`,
  latest: (dev: string, key: string) => `${PREFIX}:ts:${dev}:${encodeKeyPart(key)}`,
};
export const keys = {
  device: (name: string) => keysOf.device(encodeKeyPart(name)),
  attribute: (name: string, scope: Scope, key: string) => keysOf.attribute(encodeKeyPart(name), scope, key),
  latest: (name: string, key: string) => keysOf.latest(encodeKeyPart(name), key),
};

/** What DeviceStore.lookup returns: the device (if any), the attributes found per scope, the latest values. */
export interface LookupResult {
  device: Device | undefined;
  attributes: Record<Scope, Map<string, AttributeEntry>>;
  latest: Map<string, TelemetryEntry>;
}

export interface StoreLimits {
  /** How long one call to the backing store may take before it fails, so a hung store cannot hold messages. */
  callTimeoutMs: number;
  /** How many store calls may be outstanding at once; more fail at once with "busy". */
  maxPending: number;
}
export const DEFAULT_STORE_LIMITS: StoreLimits = { callTimeoutMs: 5000, maxPending: 10000 };

export class DeviceStore {
  private pending = 0;
  /** Calls in flight, oldest first. */
  private readonly inFlight = new Set<InFlight>();
  private watchdog: NodeJS.Timeout | undefined;
  readonly limits: StoreLimits;

  constructor(
    private readonly kv: KeyValueStore,
    limits: Partial<StoreLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits };
  }

  get pendingCalls(): number {
    return this.pending;
  }

  async getDevice(name: string): Promise<Device | undefined> {
    const [d] = await this.call(() => this.kv.get([keys.device(name)]));
    return isDevice(d) ? d : undefined;
  }

  /** Returns the device, creating it with `type` when it is new. */
  async ensureDevice(name: string, type: string): Promise<{ device: Device; created: boolean }> {
    checkName(name);
    const existing = await this.getDevice(name);
    if (existing) return { device: existing, created: false };
    const device: Device = { name, type: type || 'default', createdTime: this.now() };
    await this.call(() => this.kv.set([keys.device(name)], [device]));
    return { device, created: true };
  }

  async saveAttributes(name: string, scope: Scope, values: Record<string, unknown>, ts: number): Promise<void> {
    checkName(name);
    const names = Object.keys(values);
    if (names.length === 0) return;
    const ks = names.map((k) => keys.attribute(name, scope, k));
    // Copies, so that a later change to the message cannot reach into the store.
    const vs = names.map((k) => ({ value: cloneMessage(values[k]), lastUpdateTs: ts }) satisfies AttributeEntry);
    await this.call(() => this.kv.set(ks, vs));
  }

  async getAttributes(name: string, scope: Scope, attrNames: string[]): Promise<Map<string, AttributeEntry>> {
    const out = new Map<string, AttributeEntry>();
    if (attrNames.length === 0) return out;
    const vals = await this.call(() => this.kv.get(attrNames.map((k) => keys.attribute(name, scope, k))));
    attrNames.forEach((k, i) => {
      const v = vals[i];
      if (isAttributeEntry(v)) out.set(k, v);
    });
    return out;
  }

  /** Saves time-series points; the latest value of each key is kept, an older point never replaces a newer one. */
  async saveTelemetry(name: string, batches: TelemetryBatch[]): Promise<void> {
    checkName(name);
    const newest = new Map<string, TelemetryEntry>();
    for (const b of batches) {
      for (const k of Object.keys(b.values)) {
        const cur = newest.get(k);
        if (!cur || b.ts >= cur.ts) newest.set(k, { ts: b.ts, value: cloneMessage(b.values[k]) });
      }
    }
    if (newest.size === 0) return;
    const names = [...newest.keys()];
    const ks = names.map((k) => keys.latest(name, k));
    const stored = await this.call(() => this.kv.get(ks));
    const wk: string[] = [];
    const wv: TelemetryEntry[] = [];
    names.forEach((k, i) => {
      const old = stored[i] as TelemetryEntry | undefined;
      const next = newest.get(k)!;
      if (!old || typeof old.ts !== 'number' || next.ts >= old.ts) {
        wk.push(ks[i]);
        wv.push(next);
      }
    });
    if (wk.length > 0) await this.call(() => this.kv.set(wk, wv));
  }

  /**
   * The device record, attributes and latest values one message needs, read in one call to the backing store
   * (the same keys as getDevice / getAttributes / getLatest: one key per item, only read together).
   */
  async lookup(name: string, attrNames: Partial<Record<Scope, string[]>>, tsKeys: string[]): Promise<LookupResult> {
    const dev = encodeKeyPart(name);
    const ks = [keysOf.device(dev)];
    for (const scope of SCOPES) for (const k of attrNames[scope] ?? []) ks.push(keysOf.attribute(dev, scope, k));
    for (const k of tsKeys) ks.push(keysOf.latest(dev, k));
    const vals = await this.call(() => this.kv.get(ks));
    const result: LookupResult = {
      device: isDevice(vals[0]) ? vals[0] : undefined,
      attributes: { client: new Map(), shared: new Map(), server: new Map() },
      latest: new Map(),
    };
    let i = 1;
    for (const scope of SCOPES) {
      for (const k of attrNames[scope] ?? []) {
        const v = vals[i++];
        if (isAttributeEntry(v)) result.attributes[scope].set(k, v);
      }
    }
    for (const k of tsKeys) {
      const v = vals[i++];
      if (isTelemetryEntry(v)) result.latest.set(k, v);
    }
    return result;
  }

  async getLatest(name: string, tsKeys: string[]): Promise<Map<string, TelemetryEntry>> {
    const out = new Map<string, TelemetryEntry>();
    if (tsKeys.length === 0) return out;
    const vals = await this.call(() => this.kv.get(tsKeys.map((k) => keys.latest(name, k))));
    tsKeys.forEach((k, i) => {
      const v = vals[i];
      if (isTelemetryEntry(v)) out.set(k, v);
    });
    return out;
  }

  /**
   * Every store call goes through here: a per-call time limit and a cap on calls in flight. One watchdog
   * timer serves every call in flight (they all have the same limit, so they expire in the order they
   * started), instead of a timer and a Promise.race per call: a message makes two or three store calls.
   */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.pending >= this.limits.maxPending) {
      return Promise.reject(
        new StoreError(`device store busy: ${this.pending} calls pending (limit ${this.limits.maxPending})`, 'busy'),
      );
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        this.inFlight.delete(entry);
        this.pending--;
        return true;
      };
      const entry: InFlight = {
        deadline: Date.now() + this.limits.callTimeoutMs,
        expire: () => {
          if (settle()) {
            reject(new StoreError(`device store did not answer within ${this.limits.callTimeoutMs} ms`, 'timeout'));
          }
        },
      };
      this.pending++;
      this.inFlight.add(entry);
      this.armWatchdog();
      let p: Promise<T>;
      try {
        p = fn();
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (v) => {
          if (settle()) resolve(v);
        },
        (err) => {
          if (!settle()) return;
          reject(
            err instanceof StoreError
              ? err
              : new StoreError(`device store error: ${(err as Error)?.message ?? String(err)}`, 'backend'),
          );
        },
      );
    });
  }

  private armWatchdog(): void {
    if (this.watchdog) return;
    // Checked ten times per time limit (at least every 250 ms): a call expires at most a tenth of the limit,
    // and never more than 250 ms, after it is due. The timer runs only while calls are in flight.
    const every = Math.min(250, Math.max(5, Math.floor(this.limits.callTimeoutMs / 10)));
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const e of this.inFlight) {
        if (e.deadline > now) break; // later ones started later
        e.expire();
      }
      if (this.inFlight.size === 0 && this.watchdog) {
        clearInterval(this.watchdog);
        this.watchdog = undefined;
      }
    }, every);
    // A call that never answers must not keep Node-RED from exiting.
    this.watchdog.unref();
  }
}

interface InFlight {
  deadline: number;
  expire(): void;
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new StoreError('device name must be a non-empty string', 'bad-input');
  }
}

function isAttributeEntry(v: unknown): v is AttributeEntry {
  return !!v && typeof v === 'object' && 'value' in v;
}

function isTelemetryEntry(v: unknown): v is TelemetryEntry {
  return !!v && typeof v === 'object' && typeof (v as TelemetryEntry).ts === 'number';
}

function isDevice(d: unknown): d is Device {
  return !!d && typeof d === 'object' && typeof (d as Device).name === 'string';
}

/** An in-memory KeyValueStore, for tests and benchmarks of the logic without Node-RED. */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly map = new Map<string, unknown>();
  async get(ks: string[]): Promise<unknown[]> {
    return ks.map((k) => this.map.get(k));
  }
  async set(ks: string[], vs: unknown[]): Promise<void> {
    ks.forEach((k, i) => {
      this.map.set(k, vs[i]);
    });
  }
}
