/**
 * "save attributes" and "save time series": ThingsBoard's two persistence nodes as pure functions over a
 * DeviceStore (no Node-RED imports). Each call checks the message, works out scope and timestamps, creates
 * the device on first sight and saves; every problem is a MessageError whose text says what was wrong.
 */
import type { Device, DeviceStore, Scope, TelemetryBatch } from './device-store';
import { parseScope, SCOPES } from './device-store';
import { cloneMessage, MessageError, MsgType, type RuleMsg, requireOriginator, setOwn, typeOf } from './message';

/** The only message type a node accepts, as ThingsBoard's nodes do ("Unsupported msg type" otherwise). */
export function requireMsgType(msg: { msgType?: unknown }, expected: string): void {
  const t = msg.msgType;
  if (t === expected) return;
  const what = t === undefined || t === null || t === '' ? 'message type missing:' : `message type "${String(t)}"`;
  throw new MessageError(`${what} is not ${expected}`, 'wrong-msgtype', { msgType: t ?? '', expected });
}

/**
 * The timestamp of a message: `metadata.ts` (milliseconds, a decimal number as a string; fractions are
 * dropped) or, when it is absent or empty, `now`. Anything else is an error.
 */
export function messageTs(metadata: Record<string, string>, now: number): number {
  const raw = Object.hasOwn(metadata, 'ts') ? metadata.ts : undefined;
  if (raw === undefined || raw.trim() === '') return now;
  const s = raw.trim();
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isFinite(n)) {
    throw new MessageError(`metadata.ts "${raw}" is not a number of milliseconds`, 'bad-ts', { ts: raw });
  }
  return Math.trunc(n);
}

/** The scope to save in: `metadata.scope` (client / CLIENT_SCOPE, ...) when present, else the configured one. */
export function effectiveScope(metadata: Record<string, string>, configured: Scope): Scope {
  const raw = Object.hasOwn(metadata, 'scope') ? metadata.scope : undefined;
  if (raw === undefined || raw.trim() === '') return configured;
  const s = parseScope(raw);
  if (!s) {
    throw new MessageError(
      `metadata.scope "${raw}" is not a scope: use ${SCOPES.join(', ')} or ${SCOPES.map((x) => `${x.toUpperCase()}_SCOPE`).join(', ')}`,
      'bad-scope',
      { scope: raw },
    );
  }
  return s;
}

/** typeOf, naming the class of objects that are not plain (Date, Map, ...). */
function kindOf(v: unknown): string {
  const t = typeOf(v);
  if (t !== 'object') return t;
  const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return isPlainObject(v) || typeof ctor !== 'string' || ctor === '' ? t : ctor;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A value the store can keep (JSON): not undefined, a function, a symbol, a bigint or a non-finite number. */
function checkValue(where: string, key: string, v: unknown): void {
  if (key === '') throw new MessageError(`${where} with an empty name`, 'bad-key');
  const bad =
    v === undefined ||
    typeof v === 'function' ||
    typeof v === 'symbol' ||
    typeof v === 'bigint' ||
    (typeof v === 'number' && !Number.isFinite(v));
  if (bad) {
    const shown = typeof v === 'number' ? String(v) : kindOf(v);
    throw new MessageError(`${where} "${key}" has a value that cannot be stored (${shown})`, 'bad-value', { key });
  }
}

/**
 * A string ThingsBoard's type cast (JSON_TYPE_CAST_ENABLED) turns into a number: an optional "-", digits and at
 * most one "." that does not end it (".5" counts; "+1", "1e3", " 1" and "1." do not).
 */
const CASTABLE = /^-?(\d+(\.\d+)?|\.\d+)$/;

/**
 * The number a string value is saved as with type cast on, or the string itself. ThingsBoard keeps a string
 * that its number types cannot hold (a whole number beyond a long, more than 16 decimals); here, where a number
 * is a double, a whole number beyond 2^53 stays a string too, since it would lose digits.
 */
export function castNumericString(s: string): unknown {
  if (!CASTABLE.test(s)) return s;
  const dot = s.indexOf('.');
  if (dot < 0) {
    const n = Number(s);
    // "-0" is the long 0 in ThingsBoard, not a negative zero.
    return Number.isSafeInteger(n) ? n + 0 : s;
  }
  return s.length - dot - 1 <= 16 ? Number(s) : s;
}

/** `values` with each top-level string cast as castNumericString does (ThingsBoard casts no nested value). */
function castValues(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(values)) {
    const v = values[k];
    setOwn(out, k, typeof v === 'string' ? castNumericString(v) : v);
  }
  return out;
}

/** How the save nodes read a payload's values. */
export interface ParseOptions {
  /** Numeric strings saved as numbers (ThingsBoard's JSON_TYPE_CAST_ENABLED). */
  typeCast?: boolean;
}

/** The attributes of a POST_ATTRIBUTES_REQUEST payload: a plain object of name to value. */
export function attributesFromPayload(payload: unknown, opts: ParseOptions = {}): Record<string, unknown> {
  if (!isPlainObject(payload)) {
    throw new MessageError(
      `msg.payload must be an object of attribute names to values, got ${kindOf(payload)}`,
      'bad-payload',
    );
  }
  for (const k of Object.keys(payload)) checkValue('attribute', k, payload[k]);
  return opts.typeCast ? castValues(payload) : payload;
}

/**
 * The `ts` of a `{ts, values}` item: a finite number (fractions dropped) or, as ThingsBoard reads it (a Java
 * long), a string of decimal digits with an optional sign.
 */
function itemTs(ts: unknown, where: string): number {
  if (typeof ts === 'number' && Number.isFinite(ts)) return Math.trunc(ts);
  if (typeof ts === 'string' && /^[+-]?\d+$/.test(ts) && Number.isSafeInteger(Number(ts))) return Number(ts) + 0;
  const shown = typeof ts === 'string' ? `"${ts}" (a string must be whole milliseconds in digits)` : kindOf(ts);
  throw new MessageError(`${where}.ts must be a finite number of milliseconds, got ${shown}`, 'bad-ts');
}

const TS_FORM_KEYS = new Set(['ts', 'values']);

/** One item of a telemetry payload: `{ts, values}`, `{values}` or a flat object of key to value. */
function batchFrom(item: unknown, defaultTs: number, where: string, opts: ParseOptions): TelemetryBatch {
  if (!isPlainObject(item)) {
    throw new MessageError(`${where} must be an object, got ${kindOf(item)}`, 'bad-payload');
  }
  const keys = Object.keys(item);
  if (Object.hasOwn(item, 'values')) {
    const extra = keys.filter((k) => !TS_FORM_KEYS.has(k));
    if (extra.length > 0) {
      throw new MessageError(
        `${where} has "values" and also ${extra.map((k) => `"${k}"`).join(', ')}: use {ts, values} or a flat object`,
        'bad-payload',
      );
    }
    const values = item.values;
    if (!isPlainObject(values)) {
      throw new MessageError(`${where}.values must be an object of key to value, got ${kindOf(values)}`, 'bad-payload');
    }
    const ts = Object.hasOwn(item, 'ts') ? itemTs(item.ts, where) : defaultTs;
    for (const k of Object.keys(values)) checkValue('telemetry key', k, values[k]);
    return { ts, values: opts.typeCast ? castValues(values) : values };
  }
  if (Object.hasOwn(item, 'ts')) {
    throw new MessageError(`${where} has "ts" but no "values": use {ts, values: {...}}`, 'bad-payload');
  }
  for (const k of keys) checkValue('telemetry key', k, item[k]);
  return { ts: defaultTs, values: opts.typeCast ? castValues(item) : item };
}

/**
 * The points of a POST_TELEMETRY_REQUEST payload: a flat object (one point at `defaultTs`), `{ts, values}`, or
 * an array of either. At least one value in all: an empty payload is an error, as in ThingsBoard.
 */
export function telemetryFromPayload(payload: unknown, defaultTs: number, opts: ParseOptions = {}): TelemetryBatch[] {
  let batches: TelemetryBatch[];
  if (Array.isArray(payload)) {
    if (payload.length === 0) throw new MessageError('msg.payload is an empty array: no telemetry', 'empty-payload');
    batches = payload.map((item, i) => batchFrom(item, defaultTs, `msg.payload[${i}]`, opts));
  } else if (isPlainObject(payload)) {
    batches = [batchFrom(payload, defaultTs, 'msg.payload', opts)];
  } else {
    throw new MessageError(
      `msg.payload must be an object, {ts, values} or an array of them, got ${kindOf(payload)}`,
      'bad-payload',
    );
  }
  if (batches.every((b) => Object.keys(b.values).length === 0)) {
    throw new MessageError('msg.payload holds no telemetry values', 'empty-payload');
  }
  return batches;
}

/**
 * ensureDevice, but one creation at a time per device and store: two messages for a new device that arrive
 * together (an uplink's attributes and telemetry) create it once, with the first one's type.
 */
const creating = new WeakMap<DeviceStore, Map<string, Promise<{ device: Device; created: boolean }>>>();
export function ensureDeviceOnce(
  store: DeviceStore,
  name: string,
  type: string,
): Promise<{ device: Device; created: boolean }> {
  let inFlight = creating.get(store);
  if (!inFlight) {
    inFlight = new Map();
    creating.set(store, inFlight);
  }
  const pending = inFlight.get(name);
  if (pending) return pending.then(({ device }) => ({ device, created: false }));
  const p = store.ensureDevice(name, type);
  inFlight.set(name, p);
  const forget = () => {
    if (inFlight.get(name) === p) inFlight.delete(name);
  };
  p.then(forget, forget);
  return p;
}

function deviceTypeOf(msg: RuleMsg): string {
  const t = Object.hasOwn(msg.metadata, 'deviceType') ? msg.metadata.deviceType : '';
  return t || 'default';
}

export interface SaveResult {
  device: Device;
  created: boolean;
}

/** A checkbox setting: true when ticked (a boolean, or "true" from a hand-written flow). */
function flag(v: unknown): boolean {
  return v === true || v === 'true';
}

/** What "save attributes" can do besides saving, as ThingsBoard's node of that name. */
export interface SaveAttributesOptions extends ParseOptions {
  /** Save (and report) only the attributes whose value differs from the stored one. */
  onlyIfChanged?: boolean;
  /** Make an ATTRIBUTES_UPDATED message of what was saved in shared or server scope. */
  sendAttributesUpdated?: boolean;
}

/**
 * The options from the node's settings. Each is off unless set: a flow saved before the options existed keeps
 * working as it did then (the editor ticks ThingsBoard's defaults for a new node).
 */
export function saveAttributesOptionsFrom(def: {
  onlyIfChanged?: unknown;
  sendAttributesUpdated?: unknown;
  typeCast?: unknown;
}): SaveAttributesOptions {
  return {
    onlyIfChanged: flag(def.onlyIfChanged),
    sendAttributesUpdated: flag(def.sendAttributesUpdated),
    typeCast: flag(def.typeCast),
  };
}

/** "save time series" options from the node's settings; off unless set, as for save attributes. */
export function saveTimeseriesOptionsFrom(def: { typeCast?: unknown }): ParseOptions {
  return { typeCast: flag(def.typeCast) };
}

/**
 * ThingsBoard's Attributes Updated event: the attributes saved, in `payload`, with the scope in
 * `metadata.scope` as ThingsBoard spells it (SERVER_SCOPE, SHARED_SCOPE).
 */
export function attributesUpdatedMessage(originator: string, scope: Scope, saved: Record<string, unknown>): RuleMsg {
  return {
    payload: cloneMessage(saved),
    metadata: { scope: `${scope.toUpperCase()}_SCOPE` },
    msgType: MsgType.ATTRIBUTES_UPDATED,
    originator,
  };
}

/**
 * Saves the attributes of a validated POST_ATTRIBUTES_REQUEST message (metadata already normalised). `saved`
 * holds what was written (every attribute, or with onlyIfChanged the changed ones); `updated` is the Attributes
 * Updated message when one is due: the option on, something saved, and a scope other than client (ThingsBoard
 * sends none for client attributes).
 */
export async function saveAttributesMessage(
  store: DeviceStore,
  msg: RuleMsg,
  configuredScope: Scope,
  now: number,
  opts: SaveAttributesOptions = {},
): Promise<
  SaveResult & { scope: Scope; ts: number; keys: string[]; saved: Record<string, unknown>; updated?: RuleMsg }
> {
  requireMsgType(msg, MsgType.POST_ATTRIBUTES_REQUEST);
  const originator = requireOriginator(msg);
  const values = attributesFromPayload(msg.payload, opts);
  const ts = messageTs(msg.metadata, now);
  const scope = effectiveScope(msg.metadata, configuredScope);
  const { device, created } = await ensureDeviceOnce(store, originator, deviceTypeOf(msg));
  const names = await store.saveAttributes(originator, scope, values, ts, { onlyIfChanged: opts.onlyIfChanged });
  const saved: Record<string, unknown> = {};
  for (const k of names) setOwn(saved, k, values[k]);
  const due = opts.sendAttributesUpdated === true && scope !== 'client' && names.length > 0;
  return {
    device,
    created,
    scope,
    ts,
    keys: Object.keys(values),
    saved,
    ...(due ? { updated: attributesUpdatedMessage(originator, scope, saved) } : {}),
  };
}

/** Saves the points of a validated POST_TELEMETRY_REQUEST message (metadata already normalised). */
export async function saveTelemetryMessage(
  store: DeviceStore,
  msg: RuleMsg,
  now: number,
  opts: ParseOptions = {},
): Promise<SaveResult & { points: number }> {
  requireMsgType(msg, MsgType.POST_TELEMETRY_REQUEST);
  const originator = requireOriginator(msg);
  const ts = messageTs(msg.metadata, now);
  const batches = telemetryFromPayload(msg.payload, ts, opts);
  const { device, created } = await ensureDeviceOnce(store, originator, deviceTypeOf(msg));
  await store.saveTelemetry(originator, batches);
  return { device, created, points: batches.length };
}
