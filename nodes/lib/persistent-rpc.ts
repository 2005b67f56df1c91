/**
 * Persistent RPC, as ThingsBoard's: a request stored with its device in the device store, sent at once when the
 * device is online or else when it is next seen, sent again after a failed attempt while it has retries left,
 * and expired at its expirationTime. Every status change is reported once, in order. Pure: no Node-RED imports.
 *
 * Statuses (ThingsBoard's, in lower case like the rest of msg.rpc.status):
 *  - queued: stored, waiting for the device (again after a failed attempt that has a retry left);
 *  - sent: the request left the rpc request node for the downlink;
 *  - delivered: the integration downlink handed it to MQTT;
 *  - successful: a one-way call was delivered, or a two-way call got the device's reply;
 *  - timeout: a two-way call was delivered but no reply came within the time limit, and no retry is left;
 *  - expired: its expirationTime came before it ended;
 *  - failed: it could not be sent (downlink error, nothing handed to MQTT in time) and no retry is left.
 *
 * "Online": the device sent an uplink through an integration of this Node-RED within the node's online window.
 */
import type { DeviceStore, StoredRpc } from './device-store';
import { MessageError, type RuleMsg, typeOf } from './message';
import { type PendingRpcs, pendingRpcs, type RpcOutcome, rpcRequestMessage } from './rpc';
import { numberSetting } from './settings';

export type PersistentStatus = 'queued' | 'sent' | 'delivered' | 'successful' | 'timeout' | 'expired' | 'failed';

/** Past a day, a set-point is more likely to surprise than to help; a device that wakes hourly is still reached. */
export const DEFAULT_EXPIRATION_S = 86_400;
/** A device that reports once a minute counts as online. */
export const DEFAULT_ONLINE_WINDOW_S = 60;
/** More would only hide a device that never takes the command. */
export const MAX_RETRIES = 100;

export interface PersistentDefaults {
  persistent: boolean;
  retries: number;
  expirationMs: number;
  /** How long after its last uplink a device counts as online. */
  onlineMs: number;
}

/** The rpc request node's persistent settings, as the editor stores them. */
export interface PersistentNodeDef {
  persistent?: boolean | string;
  retries?: string | number;
  expiration?: string | number;
  onlineWindow?: string | number;
}

export function persistentDefaults(def: PersistentNodeDef): PersistentDefaults {
  return {
    persistent: def.persistent === true || def.persistent === 'true',
    retries: Math.min(MAX_RETRIES, Math.floor(numberSetting(def.retries, 0, 0))),
    expirationMs: numberSetting(def.expiration, DEFAULT_EXPIRATION_S, 1) * 1000,
    onlineMs: numberSetting(def.onlineWindow, DEFAULT_ONLINE_WINDOW_S, 1) * 1000,
  };
}

export interface PersistentOptions {
  persistent: boolean;
  retries: number;
  expirationTime: number;
}

const bad = (text: string) => new MessageError(text, 'bad-rpc-option');

/**
 * The options of one call: msg.rpc's `persistent`, `retries` and `expirationTime` (ms since the epoch) over the
 * node's. Throws a MessageError naming what is wrong; checked even when the call is not persistent, so that a
 * mistake shows at once.
 */
export function persistentOptions(rpc: unknown, d: PersistentDefaults, now: number): PersistentOptions {
  if (rpc === undefined || rpc === null) return { ...d, expirationTime: now + d.expirationMs };
  if (typeof rpc !== 'object' || Array.isArray(rpc)) {
    throw bad(`msg.rpc must be an object {persistent, retries, expirationTime}, got ${typeOf(rpc)}`);
  }
  const r = rpc as Record<string, unknown>;
  let persistent = d.persistent;
  if (r.persistent === true || r.persistent === 'true') persistent = true;
  else if (r.persistent === false || r.persistent === 'false') persistent = false;
  else if (r.persistent !== undefined) {
    throw bad(`msg.rpc.persistent must be true or false, got ${typeOf(r.persistent)} ${JSON.stringify(r.persistent)}`);
  }
  let retries = d.retries;
  if (r.retries !== undefined) {
    const n = typeof r.retries === 'string' && /^\s*\d+\s*$/.test(r.retries) ? Number(r.retries) : r.retries;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_RETRIES) {
      throw bad(`msg.rpc.retries must be a whole number from 0 to ${MAX_RETRIES}, got ${JSON.stringify(r.retries)}`);
    }
    retries = n;
  }
  let expirationTime = now + d.expirationMs;
  if (r.expirationTime !== undefined) {
    const e = r.expirationTime;
    const n = typeof e === 'string' && e.trim() !== '' ? Number(e) : e;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw bad(`msg.rpc.expirationTime must be a time in ms since the epoch, got ${typeOf(e)}`);
    }
    if (n < 0) throw bad(`msg.rpc.expirationTime must not be negative, got ${n}`);
    if (n <= now) throw bad(`msg.rpc.expirationTime ${new Date(n).toISOString()} is in the past`);
    expirationTime = n;
  }
  return { persistent, retries, expirationTime };
}

/** A status change, as the rpc request node reports it. */
export interface StatusChange {
  status: PersistentStatus;
  error?: string;
  /** A two-way call's reply from the device (status successful). */
  response?: unknown;
}

/** What a runner needs from its rpc request node. */
export interface RunnerHooks {
  /** Sends the request message on to the downlink. */
  send(request: RuleMsg, rpc: StoredRpc): void;
  /** One status change of `rpc` (as stored after it). */
  status(rpc: StoredRpc, change: StatusChange): void;
  /** A device store error that no request's status can carry (listing at start, say). */
  error(err: Error): void;
}

const FINAL: ReadonlySet<string> = new Set(['successful', 'timeout', 'expired', 'failed']);

/** An attempt in this process: its time limit, and whether the downlink has handed it to MQTT. */
interface Attempt {
  timer: NodeJS.Timeout | undefined;
  delivered: boolean;
}

/**
 * The persistent requests of one rpc request node. Its state is in the device store, so another process (or
 * this one after a restart) carries on: a request found sent but not ended within twice the time limit counts
 * as an attempt that was cut short, and is sent again. Work on one request is done in turn, so that its
 * statuses are reported in order.
 */
export class PersistentRpcRunner {
  private readonly attempts = new Map<string, Attempt>();
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private readonly turns = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    readonly nodeId: string,
    readonly store: DeviceStore,
    readonly settings: { timeoutMs: number; onlineMs: number },
    private readonly hooks: RunnerHooks,
    private readonly registry: PersistentRpcs = persistentRpcs,
    private readonly pending: PendingRpcs = pendingRpcs,
    private readonly now: () => number = Date.now,
  ) {
    registry.register(this);
  }

  /** Stores a new request and reports it queued; sends it at once when its device is online. */
  async start(rpc: StoredRpc): Promise<void> {
    await this.store.addRpc(rpc);
    this.turn(rpc.requestUUID, async () => {
      this.hooks.status(rpc, { status: 'queued' });
      this.armExpiry(rpc);
      if (this.registry.online(rpc.deviceName, this.store, this.settings.onlineMs, this.now()))
        await this.dispatch(rpc);
    });
  }

  /** Picks up this node's stored requests after a (re)start, so that each expires at its time. */
  async resume(): Promise<void> {
    try {
      for (const device of await this.store.rpcDevices()) {
        for (const rpc of await this.store.listRpcs(device)) if (rpc.node === this.nodeId) this.armExpiry(rpc);
      }
    } catch (err) {
      this.hooks.error(err as Error);
    }
  }

  /** The device of `rpc` was seen: sends the request if it waits for that. */
  offer(rpc: StoredRpc): void {
    if (this.closed || rpc.node !== this.nodeId || FINAL.has(rpc.status)) return;
    this.turn(rpc.requestUUID, async () => {
      if (this.attempts.has(rpc.requestUUID)) return;
      this.armExpiry(rpc);
      const cutShort =
        (rpc.status === 'sent' || rpc.status === 'delivered') &&
        (rpc.sentTime ?? 0) + 2 * this.settings.timeoutMs <= this.now();
      if (rpc.status === 'queued' || cutShort) await this.dispatch(rpc);
    });
  }

  /** A store error while looking up a seen device's requests: they are looked up again at its next uplink. */
  reportError(err: Error): void {
    this.hooks.error(err);
  }

  get active(): number {
    return this.attempts.size;
  }

  /** Stops timers and waits; what is stored stays for the next start. */
  close(): void {
    this.closed = true;
    this.registry.unregister(this);
    for (const [id, a] of this.attempts) {
      if (a.timer) clearTimeout(a.timer);
      this.pending.forget(id);
    }
    this.attempts.clear();
    for (const t of this.expiries.values()) clearTimeout(t);
    this.expiries.clear();
  }

  /** Runs `work` after the earlier work on the same request; its errors are reported, never thrown. */
  private turn(id: string, work: () => Promise<void>): void {
    const next = (this.turns.get(id) ?? Promise.resolve())
      .then(() => (this.closed ? undefined : work()))
      .catch((err: unknown) => this.hooks.error(err as Error));
    this.turns.set(id, next);
    void next.then(() => {
      if (this.turns.get(id) === next) this.turns.delete(id);
    });
  }

  private armExpiry(rpc: StoredRpc): void {
    if (this.expiries.has(rpc.requestUUID)) return;
    // setTimeout holds at most about 24.8 days; a later expiry is looked at again then.
    const wait = Math.min(Math.max(0, rpc.expirationTime - this.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      this.expiries.delete(rpc.requestUUID);
      if (rpc.expirationTime > this.now()) return this.armExpiry(rpc);
      this.turn(rpc.requestUUID, () => this.expire(rpc));
    }, wait);
    timer.unref();
    this.expiries.set(rpc.requestUUID, timer);
  }

  private async expire(rpc: StoredRpc): Promise<void> {
    const a = this.attempts.get(rpc.requestUUID);
    this.endAttempt(rpc.requestUUID);
    if (a?.delivered && !rpc.oneway) {
      return this.finish(rpc, { status: 'timeout', error: 'no reply from the device before the request expired' });
    }
    await this.finish(rpc, { status: 'expired', error: 'the request expired before it was delivered' });
  }

  /** Takes the request (it may be taken by another sender at the same time) and sends it. */
  private async dispatch(rpc: StoredRpc): Promise<void> {
    const now = this.now();
    if (rpc.expirationTime <= now) return this.expire(rpc);
    const sent: StoredRpc = { ...rpc, status: 'sent', attempts: rpc.attempts + 1, sentTime: now };
    if (!(await this.store.updateRpc(sent, [rpc.status]))) return;
    Object.assign(rpc, sent);
    const attempt: Attempt = { timer: undefined, delivered: false };
    this.attempts.set(rpc.requestUUID, attempt);
    this.hooks.status(rpc, { status: 'sent' });
    this.limit(rpc, attempt);
    this.pending.add(rpc.requestUUID, (o) => this.turn(rpc.requestUUID, () => this.outcome(rpc, o)), !rpc.oneway);
    this.hooks.send(
      rpcRequestMessage({
        method: rpc.method,
        value: rpc.value,
        deviceName: rpc.deviceName,
        deviceType: rpc.deviceType,
        oneway: rpc.oneway,
        timeoutMs: rpc.expirationTime - now,
        now,
        requestUUID: rpc.requestUUID,
      }),
      rpc,
    );
  }

  /** The attempt's time limit: for the downlink to hand it to MQTT, then for a two-way call's reply. */
  private limit(rpc: StoredRpc, attempt: Attempt): void {
    if (attempt.timer) clearTimeout(attempt.timer);
    const ms = this.settings.timeoutMs;
    attempt.timer = setTimeout(() => {
      attempt.timer = undefined;
      this.turn(rpc.requestUUID, async () => {
        if (this.attempts.get(rpc.requestUUID) !== attempt) return;
        this.endAttempt(rpc.requestUUID);
        const change: StatusChange = attempt.delivered
          ? { status: 'timeout', error: `no reply from the device within ${ms} ms` }
          : { status: 'failed', error: `no downlink within ${ms} ms` };
        await this.failed(rpc, change);
      });
    }, ms);
  }

  private async outcome(rpc: StoredRpc, o: RpcOutcome): Promise<void> {
    const attempt = this.attempts.get(rpc.requestUUID);
    if (!attempt) return;
    if (o.status === 'queued') {
      // Waiting in the downlink queue for the broker: the queue ends it (sent, or dropped with the reason).
      if (attempt.timer) clearTimeout(attempt.timer);
      attempt.timer = undefined;
      return;
    }
    if (o.status === 'sent' || (o.status === 'ok' && !attempt.delivered)) {
      attempt.delivered = true;
      const delivered: StoredRpc = { ...rpc, status: 'delivered' };
      if (await this.store.updateRpc(delivered, ['sent'])) {
        Object.assign(rpc, delivered);
        this.hooks.status(rpc, { status: 'delivered' });
      }
      if (o.status === 'sent') return this.limit(rpc, attempt);
    }
    this.endAttempt(rpc.requestUUID);
    if (o.status === 'ok') {
      return this.finish(rpc, { status: 'successful', ...(rpc.oneway ? {} : { response: o.response }) });
    }
    await this.failed(rpc, { status: 'failed', error: o.error ?? o.status });
  }

  private endAttempt(id: string): void {
    const a = this.attempts.get(id);
    if (!a) return;
    if (a.timer) clearTimeout(a.timer);
    this.attempts.delete(id);
    this.pending.forget(id);
  }

  /** A failed attempt: queued again while a retry is left (sent at once if the device is online), else `change`. */
  private async failed(rpc: StoredRpc, change: StatusChange): Promise<void> {
    if (rpc.attempts > rpc.retries || rpc.expirationTime <= this.now()) return this.finish(rpc, change);
    const queued: StoredRpc = { ...rpc, status: 'queued', lastError: change.error };
    delete queued.sentTime;
    if (!(await this.store.updateRpc(queued, ['sent', 'delivered']))) return;
    Object.assign(rpc, queued);
    delete rpc.sentTime;
    this.hooks.status(rpc, { status: 'queued', ...(change.error ? { error: change.error } : {}) });
    if (this.registry.online(rpc.deviceName, this.store, this.settings.onlineMs, this.now())) await this.dispatch(rpc);
  }

  /** The end: removed from the store, reported once (by whoever removed it). */
  private async finish(rpc: StoredRpc, change: StatusChange): Promise<void> {
    const t = this.expiries.get(rpc.requestUUID);
    if (t) clearTimeout(t);
    this.expiries.delete(rpc.requestUUID);
    if (!(await this.store.removeRpc(rpc.deviceName, rpc.requestUUID))) return;
    rpc.status = change.status;
    if (change.error) rpc.lastError = change.error;
    this.hooks.status(rpc, change);
  }
}

/** How many devices' last uplink is remembered (the oldest is forgotten first). */
const DEVICES_REMEMBERED = 100_000;
/** A device's stored requests are looked up at most this often, so an uplink costs a store call rarely. */
export const LOOKUP_INTERVAL_MS = 1000;

/** When each device of one store was seen, and when its stored requests were last looked up. */
interface StoreDevices {
  lastSeen: Map<string, number>;
  lastLookup: Map<string, number>;
}

/**
 * Which devices were seen (an uplink through an integration) and when, and the runners of this Node-RED: when a
 * device is seen, its stored requests go to the runners that send them. In-process, like the flows it serves.
 * Kept per device store: a name in one store is not the same device as that name in another.
 */
export class PersistentRpcs {
  private stores = new WeakMap<DeviceStore, StoreDevices>();
  private readonly runners = new Set<PersistentRpcRunner>();

  constructor(private readonly now: () => number = Date.now) {}

  register(r: PersistentRpcRunner): void {
    this.runners.add(r);
  }
  unregister(r: PersistentRpcRunner): void {
    this.runners.delete(r);
  }

  online(device: string, store: DeviceStore, windowMs: number, now = this.now()): boolean {
    const t = this.stores.get(store)?.lastSeen.get(device);
    return t !== undefined && now - t <= windowMs;
  }

  /**
   * `device` sent an uplink stored in `store`: the requests stored for it go to their runners. A request made
   * while the device is online is sent by its runner at once, so looking up at most once a second (shorter than
   * any online window) misses none.
   */
  seen(device: string, store: DeviceStore): void {
    const now = this.now();
    let devices = this.stores.get(store);
    if (!devices) {
      devices = { lastSeen: new Map(), lastLookup: new Map() };
      this.stores.set(store, devices);
    }
    remember(devices.lastSeen, device, now);
    // Every uplink passes here: nothing more to do (and nothing allocated) without an rpc request node.
    if (this.runners.size === 0) return;
    const runners = [...this.runners].filter((r) => r.store === store);
    if (runners.length === 0) return;
    const { lastLookup } = devices;
    const last = lastLookup.get(device);
    if (last !== undefined && now - last < LOOKUP_INTERVAL_MS) return;
    remember(lastLookup, device, now);
    store.listRpcs(device).then(
      (rpcs) => {
        for (const rpc of rpcs) for (const r of runners) if (r.nodeId === rpc.node) r.offer(rpc);
      },
      (err: unknown) => {
        lastLookup.delete(device);
        for (const r of runners) r.reportError(err as Error);
      },
    );
  }

  /** Forgets every device (for tests that start over). */
  clear(): void {
    this.stores = new WeakMap();
  }
}

function remember(m: Map<string, number>, key: string, t: number): void {
  m.delete(key);
  m.set(key, t);
  if (m.size > DEVICES_REMEMBERED) m.delete(m.keys().next().value as string);
}

export const persistentRpcs = new PersistentRpcs();
