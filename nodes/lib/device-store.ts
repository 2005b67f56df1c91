/**
 * Device store logic over a backend: DeviceStore checks and copies what it is given and bounds every call
 * (time limit, calls in flight); the backend keeps the data. Pure: no Node-RED imports, so it is tested and
 * benchmarked on its own.
 *
 * keyValueBackend() serves any asynchronous key/value store (in the package: Node-RED's global context, in the
 * store the user picked). Layout: one top-level key per device, per attribute and per latest-telemetry key, so that
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

/** What one read asks for: the device record, attributes of each scope, latest values. */
export interface ReadRequest {
  device: boolean;
  attributes: Partial<Record<Scope, string[]>>;
  latest: string[];
}

/**
 * Where the data lives. Each method is one call to the backing store (one round trip for a server). Where an
 * update depends on what is stored (a device created once, a latest value replaced only by a newer one), a
 * backend that several Node-RED instances share must make it atomic.
 */
export interface DeviceStoreBackend {
  /** What `what` asks for; what is not stored is left out (device undefined, no map entry). */
  read(name: string, what: ReadRequest): Promise<LookupResult>;
  /** Stores the device unless one of that name exists; returns the stored one and whether it is this one. */
  createDevice(device: Device): Promise<{ device: Device; created: boolean }>;
  /** Replaces the attributes given (last write wins, as in ThingsBoard). */
  saveAttributes(name: string, scope: Scope, entries: Map<string, AttributeEntry>): Promise<void>;
  /**
   * Replaces only the attributes whose stored value differs from the given one (see sameAttributeValue) and
   * returns their names; the others, their update time included, stay as they are.
   */
  saveChangedAttributes(name: string, scope: Scope, entries: Map<string, AttributeEntry>): Promise<string[]>;
  /** Replaces each latest value whose stored timestamp is not newer than the given one's. */
  saveLatest(name: string, entries: Map<string, TelemetryEntry>): Promise<void>;
  /** Stores a persistent RPC request with its device (replacing one with the same requestUUID). */
  addRpc(name: string, rpc: StoredRpc): Promise<void>;
  /** The persistent RPC requests stored with the device, in no particular order. */
  listRpcs(name: string): Promise<StoredRpc[]>;
  /**
   * Replaces a stored request with `rpc` only while its stored status is one of `from`; false when it is not
   * (gone, or moved on by someone else): the check that lets one sender, of several, take a request.
   */
  updateRpc(name: string, rpc: StoredRpc, from: readonly string[]): Promise<boolean>;
  /** Removes a stored request; false when it was not there (someone else ended it). */
  removeRpc(name: string, requestUUID: string): Promise<boolean>;
  /** The devices that have persistent RPC requests stored. */
  rpcDevices(): Promise<string[]>;
  /** Set by a backend with a connection to a server. */
  readonly connection?: StoreConnection;
}

/**
 * A persistent RPC request as it is stored with its device; persistent-rpc.ts gives it its meaning. JSON only,
 * so that every backend keeps it as it is.
 */
export interface StoredRpc {
  requestUUID: string;
  deviceName: string;
  deviceType: string;
  method: string;
  /** The value sent (the request's params before they are turned into JSON text). */
  value: unknown;
  oneway: boolean;
  /** When it expires, in ms since the epoch. */
  expirationTime: number;
  /** How many times it may be sent again after a failed attempt. */
  retries: number;
  /** How many times it was sent. */
  attempts: number;
  status: string;
  createdTime: number;
  /** When the current attempt was sent (ms), while its status is sent or delivered. */
  sentTime?: number;
  /** The id of the rpc request node that sends it. */
  node: string;
  lastError?: string;
}

export function isStoredRpc(v: unknown): v is StoredRpc {
  const r = v as StoredRpc | null;
  return (
    !!r &&
    typeof r === 'object' &&
    typeof r.requestUUID === 'string' &&
    typeof r.deviceName === 'string' &&
    typeof r.status === 'string' &&
    typeof r.expirationTime === 'number' &&
    typeof r.node === 'string'
  );
}

/** How a backend that talks to a server is connected, for the status of the nodes that use the store. */
export interface ConnectionState {
  state: 'connecting' | 'ready' | 'down';
  /** The server as a user recognises it, e.g. "Redis 127.0.0.1:6379" (never a password). */
  server: string;
  /** Why it is down (or why the last attempt failed while connecting). */
  reason?: string;
}

/** The status text of a connection that is not ready (English; the device store node gives its own language's). */
export function connectionText(s: ConnectionState): string {
  if (s.state === 'connecting') return `connecting to ${s.server}`;
  return `${s.server} down${s.reason ? `: ${s.reason}` : ''}`;
}

export interface StoreConnection {
  readonly current: ConnectionState;
  /** Calls `fn` with every change; returns a function that stops it. */
  watch(fn: (s: ConnectionState) => void): () => void;
}

/** The minimum a key/value backing store must do; values are stored as given and must be JSON-compatible. */
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

/** The prefix of every key unless the backend is given another (a Redis backend shared by several flows). */
export const DEFAULT_KEY_PREFIX = 'rule-engine';

/** What encodeKeyPart leaves as it is: checked first, because most device and key names are like this. */
const PLAIN_KEY_PART = /^[A-Za-z0-9_-]*$/;

export function encodeKeyPart(s: string): string {
  if (PLAIN_KEY_PART.test(s)) return s;
  return encodeURIComponent(s).replace(/[.!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The keys under `prefix`, from a device name already encoded (a lookup encodes it once for all its keys). */
export function keyLayout(prefix: string) {
  return {
    device: (dev: string) => `${prefix}:dev:${dev}`,
    attribute: (dev: string, scope: Scope, key: string) => `${prefix}:attr:${scope}:${dev}:${encodeKeyPart(key)}`,
    latest: (dev: string, key: string) => `${prefix}:ts:${dev}:${encodeKeyPart(key)}`,
    /** The device's persistent RPC requests, by requestUUID. */
    rpcs: (dev: string) => `${prefix}:rpc:${dev}`,
    /** The devices that have persistent RPC requests. */
    rpcDevices: () => `${prefix}:rpc-devices`,
  };
}
export type KeyLayout = ReturnType<typeof keyLayout>;

const keysOf = keyLayout(DEFAULT_KEY_PREFIX);
export const keys = {
  device: (name: string) => keysOf.device(encodeKeyPart(name)),
  attribute: (name: string, scope: Scope, key: string) => keysOf.attribute(encodeKeyPart(name), scope, key),
  latest: (name: string, key: string) => keysOf.latest(encodeKeyPart(name), key),
  rpcs: (name: string) => keysOf.rpcs(encodeKeyPart(name)),
};

/** Every key one read needs, in the order readResult expects its values. */
export function readKeys(layout: KeyLayout, name: string, what: ReadRequest): string[] {
  const dev = encodeKeyPart(name);
  const ks: string[] = [];
  if (what.device) ks.push(layout.device(dev));
  for (const scope of SCOPES) for (const k of what.attributes[scope] ?? []) ks.push(layout.attribute(dev, scope, k));
  for (const k of what.latest) ks.push(layout.latest(dev, k));
  return ks;
}

/** What a read found, from the values of readKeys' keys (undefined: not stored, or not what it should be). */
export function readResult(what: ReadRequest, vals: unknown[]): LookupResult {
  const result: LookupResult = {
    device: undefined,
    attributes: { client: new Map(), shared: new Map(), server: new Map() },
    latest: new Map(),
  };
  let i = 0;
  if (what.device) {
    const d = vals[i++];
    if (isDevice(d)) result.device = d;
  }
  for (const scope of SCOPES) {
    for (const k of what.attributes[scope] ?? []) {
      const v = vals[i++];
      if (isAttributeEntry(v)) result.attributes[scope].set(k, v);
    }
  }
  for (const k of what.latest) {
    const v = vals[i++];
    if (isTelemetryEntry(v)) result.latest.set(k, v);
  }
  return result;
}

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
  /** How the nodes using this store show its connection on their status, when it is not ready. */
  describeConnection: (s: ConnectionState) => string = connectionText;

  constructor(
    private readonly backend: DeviceStoreBackend,
    limits: Partial<StoreLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits };
  }

  /** The backend's connection to its server, if it has one. */
  get connection(): StoreConnection | undefined {
    return this.backend.connection;
  }

  get pendingCalls(): number {
    return this.pending;
  }

  async getDevice(name: string): Promise<Device | undefined> {
    const r = await this.call(() => this.backend.read(name, { device: true, attributes: {}, latest: [] }));
    return r.device;
  }

  /** Returns the device, creating it with `type` when it is new. */
  async ensureDevice(name: string, type: string): Promise<{ device: Device; created: boolean }> {
    checkName(name);
    const existing = await this.getDevice(name);
    if (existing) return { device: existing, created: false };
    const device: Device = { name, type: type || 'default', createdTime: this.now() };
    return this.call(() => this.backend.createDevice(device));
  }

  /**
   * Saves attributes and returns the names saved: all of them, or with `onlyIfChanged` those whose value
   * differs from the stored one (ThingsBoard's "save attributes only if the value changes").
   */
  async saveAttributes(
    name: string,
    scope: Scope,
    values: Record<string, unknown>,
    ts: number,
    opts: { onlyIfChanged?: boolean } = {},
  ): Promise<string[]> {
    checkName(name);
    const names = Object.keys(values);
    if (names.length === 0) return [];
    // Copies, so that a later change to the message cannot reach into the store.
    const entries = new Map(names.map((k) => [k, { value: cloneMessage(values[k]), lastUpdateTs: ts }] as const));
    if (opts.onlyIfChanged) return this.call(() => this.backend.saveChangedAttributes(name, scope, entries));
    await this.call(() => this.backend.saveAttributes(name, scope, entries));
    return names;
  }

  async getAttributes(name: string, scope: Scope, attrNames: string[]): Promise<Map<string, AttributeEntry>> {
    if (attrNames.length === 0) return new Map();
    const what: ReadRequest = { device: false, attributes: { [scope]: attrNames }, latest: [] };
    return (await this.call(() => this.backend.read(name, what))).attributes[scope];
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
    await this.call(() => this.backend.saveLatest(name, newest));
  }

  /** The device record, attributes and latest values one message needs, in one call to the backend. */
  lookup(name: string, attrNames: Partial<Record<Scope, string[]>>, tsKeys: string[]): Promise<LookupResult> {
    return this.call(() => this.backend.read(name, { device: true, attributes: attrNames, latest: tsKeys }));
  }

  async getLatest(name: string, tsKeys: string[]): Promise<Map<string, TelemetryEntry>> {
    if (tsKeys.length === 0) return new Map();
    return (await this.call(() => this.backend.read(name, { device: false, attributes: {}, latest: tsKeys }))).latest;
  }

  /** Stores a persistent RPC request (a copy) with its device. */
  async addRpc(rpc: StoredRpc): Promise<void> {
    checkName(rpc.deviceName);
    const copy = cloneMessage(rpc);
    await this.call(() => this.backend.addRpc(rpc.deviceName, copy));
  }

  /** Copies, as everything else the store answers, so that a caller cannot change what is stored. */
  async listRpcs(name: string): Promise<StoredRpc[]> {
    return (await this.call(() => this.backend.listRpcs(name))).map((r) => cloneMessage(r));
  }

  /** Replaces the stored request while its status is one of `from` (see DeviceStoreBackend.updateRpc). */
  updateRpc(rpc: StoredRpc, from: readonly string[]): Promise<boolean> {
    const copy = cloneMessage(rpc);
    return this.call(() => this.backend.updateRpc(rpc.deviceName, copy, from));
  }

  removeRpc(name: string, requestUUID: string): Promise<boolean> {
    return this.call(() => this.backend.removeRpc(name, requestUUID));
  }

  rpcDevices(): Promise<string[]> {
    return this.call(() => this.backend.rpcDevices());
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

/**
 * Whether a stored attribute already holds `value`: the same JSON text, so 25 and "25" differ (ThingsBoard
 * compares the value and its data type) and an object is the same only with its keys in the same order
 * (ThingsBoard compares a JSON value as text).
 */
export function sameAttributeValue(stored: unknown, value: unknown): boolean {
  return isAttributeEntry(stored) && JSON.stringify(stored.value) === JSON.stringify(value);
}

function isAttributeEntry(v: unknown): v is AttributeEntry {
  return !!v && typeof v === 'object' && 'value' in v;
}

function isTelemetryEntry(v: unknown): v is TelemetryEntry {
  return !!v && typeof v === 'object' && typeof (v as TelemetryEntry).ts === 'number';
}

export function isDevice(d: unknown): d is Device {
  return !!d && typeof d === 'object' && typeof (d as Device).name === 'string';
}

/**
 * A backend over a key/value store. Its updates that depend on what is stored read and then write: two Node-RED
 * instances sharing the store can both create a device, write an older latest value over a newer one, or, saving
 * only changed attributes, both see a value as changed (both write it, both report it) or one skip a value the
 * other has just replaced.
 */
export function keyValueBackend(kv: KeyValueStore): DeviceStoreBackend {
  // The RPC operations read and then write keys shared by several requests (the device's, the index): they run
  // one at a time, so that two in this process cannot lose each other's writes. They are few.
  let rpcTurn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = rpcTurn.then(fn);
    rpcTurn = p.catch(() => undefined);
    return p;
  };
  return {
    async read(name, what) {
      return readResult(what, await kv.get(readKeys(keysOf, name, what)));
    },
    async createDevice(device) {
      const key = keys.device(device.name);
      const [existing] = await kv.get([key]);
      if (isDevice(existing)) return { device: existing, created: false };
      await kv.set([key], [device]);
      return { device, created: true };
    },
    async saveAttributes(name, scope, entries) {
      const names = [...entries.keys()];
      await kv.set(
        names.map((k) => keys.attribute(name, scope, k)),
        names.map((k) => entries.get(k)),
      );
    },
    async saveChangedAttributes(name, scope, entries) {
      const names = [...entries.keys()];
      const ks = names.map((k) => keys.attribute(name, scope, k));
      const stored = await kv.get(ks);
      const changed = names.filter((k, i) => !sameAttributeValue(stored[i], entries.get(k)?.value));
      if (changed.length > 0) {
        await kv.set(
          changed.map((k) => keys.attribute(name, scope, k)),
          changed.map((k) => entries.get(k)),
        );
      }
      return changed;
    },
    async saveLatest(name, entries) {
      const names = [...entries.keys()];
      const ks = names.map((k) => keys.latest(name, k));
      const stored = await kv.get(ks);
      const wk: string[] = [];
      const wv: TelemetryEntry[] = [];
      names.forEach((k, i) => {
        const old = stored[i];
        const next = entries.get(k) as TelemetryEntry;
        if (!isTelemetryEntry(old) || next.ts >= old.ts) {
          wk.push(ks[i] as string);
          wv.push(next);
        }
      });
      if (wk.length > 0) await kv.set(wk, wv);
    },
    // One key per device holds its requests (few, and written rarely); the index lists the devices.
    addRpc(name, rpc) {
      return inTurn(async () => {
        const key = keys.rpcs(name);
        const [stored, index] = await kv.get([key, rpcIndexKey]);
        await kv.set(
          [key, rpcIndexKey],
          [
            { ...rpcMap(stored), [rpc.requestUUID]: rpc },
            { ...rpcMap(index), [name]: true },
          ],
        );
      });
    },
    async listRpcs(name) {
      const [stored] = await kv.get([keys.rpcs(name)]);
      return Object.values(rpcMap(stored)).filter(isStoredRpc);
    },
    updateRpc(name, rpc, from) {
      return inTurn(async () => {
        const key = keys.rpcs(name);
        const [stored] = await kv.get([key]);
        const all = rpcMap(stored);
        const cur = all[rpc.requestUUID];
        if (!isStoredRpc(cur) || !from.includes(cur.status)) return false;
        await kv.set([key], [{ ...all, [rpc.requestUUID]: rpc }]);
        return true;
      });
    },
    removeRpc(name, requestUUID) {
      return inTurn(async () => {
        const key = keys.rpcs(name);
        const [stored, index] = await kv.get([key, rpcIndexKey]);
        const all = rpcMap(stored);
        if (!Object.hasOwn(all, requestUUID)) return false;
        const { [requestUUID]: _gone, ...rest } = all;
        if (Object.keys(rest).length > 0) {
          await kv.set([key], [rest]);
          return true;
        }
        const { [name]: _done, ...devices } = rpcMap(index);
        await kv.set([key, rpcIndexKey], [undefined, devices]);
        return true;
      });
    },
    async rpcDevices() {
      const [index] = await kv.get([rpcIndexKey]);
      return Object.keys(rpcMap(index));
    },
  };
}

const rpcIndexKey = keysOf.rpcDevices();

/** A stored object of requests (or of device names), or an empty one for anything else. */
function rpcMap(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
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
