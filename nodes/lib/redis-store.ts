/**
 * The device store's data in Redis (or Valkey), through the official client's core, @redis/client. Several
 * Node-RED instances can share it: every update that depends on what is stored runs as a Lua script on the
 * server, so it is atomic (a device created once, keeping its first type and creation time; a latest value
 * replaced only by one with a newer or equal timestamp; an attribute saved only if its value changed). Other attribute
 * saves are plain writes (last write wins, with the message's lastUpdateTs) and a read is one MGET: one round trip for the device, its attributes and its latest
 * values. Keys follow device-store.ts's layout under a prefix, so that several flows or tenants share a server.
 *
 * The offline queue is off: while Redis is down, calls fail at once instead of piling up in this process; the
 * client reconnects by itself with a capped backoff. Pure: no Node-RED imports.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { createClient } from '@redis/client';
import {
  type AttributeEntry,
  type ConnectionState,
  DEFAULT_KEY_PREFIX,
  type Device,
  type DeviceStoreBackend,
  encodeKeyPart,
  isDevice,
  isStoredRpc,
  type KeyLayout,
  keyLayout,
  type LookupResult,
  type ReadRequest,
  readKeys,
  readResult,
  type Scope,
  type StoreConnection,
  type StoredRpc,
  type TelemetryEntry,
} from './device-store';

export interface RedisStoreOptions {
  /** redis://host:port or rediss://host:port (TLS); a password in it is refused. */
  url: string;
  database?: number;
  prefix?: string;
  password?: string;
  /** TLS even with a redis:// URL. */
  tls?: boolean;
  /** PEM certificate(s) of the authority the server's certificate is checked against (default: Node's). */
  ca?: string;
  /** How long a connection attempt (TCP, TLS and AUTH) may take. */
  connectTimeoutMs?: number;
  /** The longest wait between two reconnection attempts. */
  maxReconnectDelayMs?: number;
}

export interface RedisServer {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
}

/** The server a URL names; an error that says what is wrong, and never repeats a password. */
export function parseRedisUrl(url: string): RedisServer {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new Error('the Redis URL is not a URL (expected redis://host:port)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`the Redis URL must start with redis:// or rediss://, not ${u.protocol}//`);
  }
  if (u.password) {
    throw new Error('the Redis URL must not hold a password: put it in the Password field, which is kept secret');
  }
  if (u.pathname !== '' && u.pathname !== '/') {
    throw new Error('the Redis URL must not name a database: set it in the Database field');
  }
  if (!u.hostname) throw new Error('the Redis URL names no host (expected redis://host:port)');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    tls: u.protocol === 'rediss:',
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
  };
}

/** host:port as a user reads it. */
export function serverName(s: RedisServer): string {
  return `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;
}

// KEYS[1]: the device's key; ARGV[1]: the device as JSON. Answers {1, stored} when it stored it, {0, stored}
// when a device of that name was there already.
const CREATE_DEVICE = `local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
redis.call('SET', KEYS[1], ARGV[1])
return {1, ARGV[1]}`;

// KEYS: latest-value keys; ARGV: for each, its timestamp then the entry as JSON. A stored entry with a newer
// timestamp stays; anything else there (nothing, or not an entry) is replaced.
const SAVE_LATEST = `for i, key in ipairs(KEYS) do
  local ts = tonumber(ARGV[2 * i - 1])
  local cur = redis.call('GET', key)
  local keep = false
  if cur then
    local ok, old = pcall(cjson.decode, cur)
    keep = ok and type(old) == 'table' and type(old.ts) == 'number' and old.ts > ts
  end
  if not keep then redis.call('SET', key, ARGV[2 * i]) end
end
return 0`;

// KEYS: attribute keys; ARGV: for each, the start of its new entry's JSON up to the value's end, then the whole
// entry. An entry stored with that same start holds the same value (JSON text ends where it ends) and stays;
// any other is replaced. Answers the positions (from 1) of the keys written.
const SAVE_CHANGED_ATTRIBUTES = `local written = {}
for i, key in ipairs(KEYS) do
  local head = ARGV[2 * i - 1]
  local cur = redis.call('GET', key)
  if not cur or string.sub(cur, 1, #head) ~= head then
    redis.call('SET', key, ARGV[2 * i])
    written[#written + 1] = i
  end
end
return written`;

// Persistent RPC requests: a hash per device (field: requestUUID, value: the request as JSON) and a set of the
// devices that have any. KEYS[1]: the device's hash, KEYS[2]: the set; ARGV[1]: requestUUID; ADD: ARGV[2] the
// request as JSON, ARGV[3] the device name; REMOVE: ARGV[2] the device name.
const ADD_RPC = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`;
const REMOVE_RPC = `local n = redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return n`;
// KEYS[1]: the device's hash; ARGV[1]: requestUUID, ARGV[2]: the new request as JSON, ARGV[3...]: the statuses
// it may replace. Answers 1 when it replaced the stored one, 0 when that is gone or in another status.
const UPDATE_RPC = `local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local ok, old = pcall(cjson.decode, cur)
if not ok or type(old) ~= 'table' then return 0 end
for i = 3, #ARGV do
  if old.status == ARGV[i] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    return 1
  end
end
return 0`;

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

type Client = ReturnType<typeof createClient>;

/** A Redis error, in words a user can act on, with the password (if any) taken out. */
export function describeRedisError(err: unknown, opts: { password?: string; tls?: boolean } = {}): string {
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const name = typeof e?.name === 'string' ? e.name : '';
  let text: string;
  if (code === 'ECONNREFUSED') text = 'connection refused';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') text = 'host not found';
  else if (/^WRONGPASS/.test(message)) text = 'wrong password';
  else if (/^NOAUTH/.test(message)) text = 'the server wants a password';
  else if (/without any password configured/.test(message)) text = 'a password was given but the server has none';
  else if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /\b(TLS|SSL)\b|certificate/i.test(message)) {
    text = `TLS error: ${message}`;
  } else if (/Timeout/.test(name) || /timeout/i.test(message)) {
    text = opts.tls ? 'no TLS handshake in time (does the server speak TLS?)' : 'no answer in time';
  } else if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    /SocketClosedUnexpectedly/.test(name) ||
    /closed unexpectedly/i.test(message)
  ) {
    text = 'connection lost';
  } else text = message;
  return opts.password ? text.split(opts.password).join('***') : text;
}

/** A DeviceStoreBackend in Redis; close() it when the flow stops. */
export class RedisBackend implements DeviceStoreBackend, StoreConnection {
  readonly server: RedisServer;
  private readonly client: Client;
  private readonly layout: KeyLayout;
  private readonly listeners = new Set<(s: ConnectionState) => void>();
  private state: ConnectionState;
  private closed = false;
  private readonly createDeviceScript = new Script(CREATE_DEVICE);
  private readonly saveLatestScript = new Script(SAVE_LATEST);
  private readonly saveChangedAttributesScript = new Script(SAVE_CHANGED_ATTRIBUTES);
  private readonly addRpcScript = new Script(ADD_RPC);
  private readonly removeRpcScript = new Script(REMOVE_RPC);
  private readonly updateRpcScript = new Script(UPDATE_RPC);

  constructor(private readonly opts: RedisStoreOptions) {
    this.server = parseRedisUrl(opts.url);
    const tls = opts.tls === true || this.server.tls;
    this.layout = keyLayout(opts.prefix?.trim() || DEFAULT_KEY_PREFIX);
    this.state = { state: 'connecting', server: `Redis ${serverName(this.server)}` };
    const maxDelay = opts.maxReconnectDelayMs ?? 2000;
    const socket = {
      host: this.server.host,
      port: this.server.port,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      // Always retry (the default gives up after a timeout), 100 ms doubling up to maxDelay.
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 16), maxDelay),
      ...(tls
        ? {
            tls: true as const,
            // SNI takes host names only.
            ...(isIP(this.server.host) ? {} : { servername: this.server.host }),
            ...(opts.ca ? { ca: opts.ca } : {}),
          }
        : {}),
    };
    this.client = createClient({
      socket,
      ...(this.server.username ? { username: this.server.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
      database: opts.database ?? 0,
      disableOfflineQueue: true,
    });
    this.client.on('ready', () => this.setState({ state: 'ready', server: this.state.server }));
    this.client.on('error', (err: unknown) => {
      const reason = describeRedisError(err, { password: opts.password, tls });
      this.setState({ state: 'down', server: this.state.server, reason });
    });
    // Resolves once connected, however many attempts that takes; rejects only when closed before.
    this.client.connect().catch(() => undefined);
  }

  get connection(): StoreConnection {
    return this;
  }

  get current(): ConnectionState {
    return this.state;
  }

  watch(fn: (s: ConnectionState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private setState(next: ConnectionState): void {
    if (this.closed) return;
    const same = next.state === this.state.state && next.reason === this.state.reason;
    this.state = next;
    if (same) return;
    for (const fn of this.listeners) fn(next);
  }

  /** Stops reconnecting and closes the connection; calls in flight fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    try {
      this.client.destroy();
    } catch {
      // already closed
    }
  }

  /** One command; while the connection is down, an error that says so at once (nothing queues). */
  private command<T>(args: string[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${this.state.server}: the device store was closed`));
    if (this.state.state !== 'ready' || !this.client.isReady) {
      const why = this.state.reason ? `: ${this.state.reason}` : '';
      const what = this.state.state === 'connecting' ? 'still connecting' : 'down';
      return Promise.reject(new Error(`${this.state.server} ${what}${why}`));
    }
    return this.client.sendCommand<T>(args).catch((err: unknown) => {
      throw new Error(`${this.state.server}: ${describeRedisError(err, this.opts)}`);
    });
  }

  /** Runs a script by its SHA, loading it first when the server does not have it (new, restarted or flushed). */
  private async run<T>(script: Script, keys: string[], args: string[]): Promise<T> {
    const call = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args];
    try {
      return await this.command<T>(call);
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      await this.command(['SCRIPT', 'LOAD', script.source]);
      return this.command<T>(call);
    }
  }

  async read(name: string, what: ReadRequest): Promise<LookupResult> {
    const ks = readKeys(this.layout, name, what);
    const vals = ks.length === 0 ? [] : await this.command<Array<string | null>>(['MGET', ...ks]);
    return readResult(what, vals.map(parseJson));
  }

  async createDevice(device: Device): Promise<{ device: Device; created: boolean }> {
    const key = this.layout.device(encodeKeyPart(device.name));
    const [created, stored] = await this.run<[number, string]>(
      this.createDeviceScript,
      [key],
      [JSON.stringify(device)],
    );
    const kept = parseJson(stored);
    // Something at the key that is not a device (written by hand, say) is kept, and this device answered.
    return { device: isDevice(kept) ? kept : device, created: created === 1 };
  }

  async saveAttributes(name: string, scope: Scope, entries: Map<string, AttributeEntry>): Promise<void> {
    const dev = encodeKeyPart(name);
    const args: string[] = ['MSET'];
    for (const [k, e] of entries) {
      args.push(this.layout.attribute(dev, scope, k), JSON.stringify({ value: e.value, lastUpdateTs: e.lastUpdateTs }));
    }
    await this.command(args);
  }

  /** Atomic: the comparison and the write of every key run in one script on the server. */
  async saveChangedAttributes(name: string, scope: Scope, entries: Map<string, AttributeEntry>): Promise<string[]> {
    const dev = encodeKeyPart(name);
    const names = [...entries.keys()];
    const ks: string[] = [];
    const args: string[] = [];
    for (const [k, e] of entries) {
      ks.push(this.layout.attribute(dev, scope, k));
      // The entry is {"value":...,"lastUpdateTs":...} in that order, as saveAttributes writes it too.
      const entry = JSON.stringify({ value: e.value, lastUpdateTs: e.lastUpdateTs });
      args.push(`{"value":${JSON.stringify(e.value)},"lastUpdateTs":`, entry);
    }
    const written = await this.run<number[]>(this.saveChangedAttributesScript, ks, args);
    return written.map((i) => names[i - 1] as string);
  }

  async saveLatest(name: string, entries: Map<string, TelemetryEntry>): Promise<void> {
    const dev = encodeKeyPart(name);
    const ks: string[] = [];
    const args: string[] = [];
    for (const [k, e] of entries) {
      ks.push(this.layout.latest(dev, k));
      args.push(String(e.ts), JSON.stringify(e));
    }
    await this.run(this.saveLatestScript, ks, args);
  }

  async addRpc(name: string, rpc: StoredRpc): Promise<void> {
    const ks = [this.layout.rpcs(encodeKeyPart(name)), this.layout.rpcDevices()];
    await this.run(this.addRpcScript, ks, [rpc.requestUUID, JSON.stringify(rpc), name]);
  }

  async listRpcs(name: string): Promise<StoredRpc[]> {
    const vals = await this.command<string[]>(['HVALS', this.layout.rpcs(encodeKeyPart(name))]);
    return vals.map(parseJson).filter(isStoredRpc);
  }

  async updateRpc(name: string, rpc: StoredRpc, from: readonly string[]): Promise<boolean> {
    const key = this.layout.rpcs(encodeKeyPart(name));
    const done = await this.run<number>(this.updateRpcScript, [key], [rpc.requestUUID, JSON.stringify(rpc), ...from]);
    return done === 1;
  }

  async removeRpc(name: string, requestUUID: string): Promise<boolean> {
    const ks = [this.layout.rpcs(encodeKeyPart(name)), this.layout.rpcDevices()];
    return (await this.run<number>(this.removeRpcScript, ks, [requestUUID, name])) === 1;
  }

  rpcDevices(): Promise<string[]> {
    return this.command<string[]>(['SMEMBERS', this.layout.rpcDevices()]);
  }
}

function parseJson(s: string | null | undefined): unknown {
  if (typeof s !== 'string') return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
