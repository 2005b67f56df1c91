/**
 * The rule-engine message model (see README "Message model").
 *
 * A rule-engine message is an ordinary Node-RED `msg` with four agreed properties:
 *  - `payload`    the message data: an object, or `[{ts, values}]` for telemetry
 *  - `metadata`   string keys to string values, as in ThingsBoard
 *  - `msgType`    e.g. POST_TELEMETRY_REQUEST
 *  - `originator` the device name the message is about
 * Anything else on `msg` is left alone and passes through.
 */

export const MsgType = {
  POST_ATTRIBUTES_REQUEST: 'POST_ATTRIBUTES_REQUEST',
  POST_TELEMETRY_REQUEST: 'POST_TELEMETRY_REQUEST',
  TO_SERVER_RPC_REQUEST: 'TO_SERVER_RPC_REQUEST',
  RPC_CALL_FROM_SERVER_TO_DEVICE: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
  ATTRIBUTES_UPDATED: 'ATTRIBUTES_UPDATED',
  ATTRIBUTES_DELETED: 'ATTRIBUTES_DELETED',
  TIMESERIES_UPDATED: 'TIMESERIES_UPDATED',
} as const;

export type Metadata = Record<string, string>;

export interface RuleMsg {
  payload?: unknown;
  metadata: Metadata;
  msgType: string;
  originator?: string;
  error?: unknown;
  [key: string]: unknown;
}

/**
 * The one depth limit: the deepest nesting of arrays and objects (the outermost counts as 1) accepted in a
 * script's or decoder's input and result, in a device's JSON payload, and in what this package clones. Deeper
 * data is refused with an error before it reaches a clone (ours, or Node-RED's for a second wire), rather than
 * risking a stack overflow there or a `__proto__` key below the depth that was checked.
 */
export const MAX_DEPTH = 1000;

export class MessageError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MessageError';
  }
}

/** Metadata values are strings in ThingsBoard: objects become JSON, null/undefined become "". */
export function toMetadataValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * How a number becomes a metadata string: 'javascript' as JavaScript writes it (this package's behaviour before
 * the option existed), 'thingsboard' as ThingsBoard's Java writes a number it holds (javaNumberString).
 */
export type DoubleFormat = 'javascript' | 'thingsboard';

export function doubleFormatOf(v: unknown): DoubleFormat {
  return v === 'thingsboard' ? 'thingsboard' : 'javascript';
}

/**
 * A number as ThingsBoard writes it: a whole number that fits a Java long as its digits (ThingsBoard keeps it as
 * a long), any other as Java's Double.toString (Java 19 and later): at least one decimal, and the form
 * "1.2345678E7" / "1.0E-4" outside 0.001 to 10,000,000 ("25.5", "1.0E-4", "1.23456789E7").
 */
export function javaNumberString(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  const a = Math.abs(n);
  if (Number.isInteger(n) && a < 2 ** 63) return String(n);
  const sign = n < 0 ? '-' : '';
  if (a >= 1e-3 && a < 1e7) {
    const s = String(a);
    return sign + (s.includes('.') ? s : `${s}.0`);
  }
  // toExponential() without digits gives the shortest digits that read back as the same double, as Java does.
  const [mantissa, exponent] = a.toExponential().split('e') as [string, string];
  return `${sign}${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

/** toMetadataValue, with numbers written as `format` says. */
export function metadataValueAs(value: unknown, format: DoubleFormat): string {
  return format === 'thingsboard' && typeof value === 'number' ? javaNumberString(value) : toMetadataValue(value);
}

/** A fresh metadata object with every value coerced to a string; rejects non-objects. */
export function normaliseMetadata(input: unknown): Metadata {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new MessageError('msg.metadata must be an object of string values', 'bad-metadata');
  }
  const out: Metadata = {};
  for (const key of Object.keys(input)) {
    setOwn(out, key, toMetadataValue((input as Record<string, unknown>)[key]));
  }
  return out;
}

/** A new rule-engine message; metadata values become strings (see normaliseMetadata). */
export function createMessage(parts: {
  payload?: unknown;
  metadata?: Record<string, unknown>;
  msgType: string;
  originator?: string;
}): RuleMsg {
  const msg: RuleMsg = {
    payload: parts.payload,
    metadata: normaliseMetadata(parts.metadata),
    msgType: parts.msgType,
  };
  if (parts.originator !== undefined) msg.originator = parts.originator;
  return msg;
}

/**
 * The originator as a non-empty string, or a MessageError("originator missing"): a message about no device is
 * refused, never saved under a made-up name.
 */
export function requireOriginator(msg: { originator?: unknown }): string {
  const o = msg.originator;
  if (typeof o !== 'string' || o.length === 0) {
    const what = o === undefined ? 'missing' : typeof o !== 'string' ? `not a string (${typeOf(o)})` : 'empty';
    throw new MessageError(`originator missing: msg.originator is ${what}`, 'originator-missing');
  }
  return o;
}

/**
 * Checks the rule-engine properties of a Node-RED msg in place: metadata becomes a string map (created
 * when absent), msgType must be a string when present. Returns the same msg, typed as what it now is: a
 * RuleMsg as well as whatever type it came with, so callers need no cast of their own.
 */
export function validateMessage<T extends Record<string, unknown>>(
  msg: T,
  opts: { requireMsgType?: boolean } = {},
): T & RuleMsg {
  const m: Record<string, unknown> = msg;
  m.metadata = normaliseMetadata(m.metadata);
  if (m.msgType === undefined || m.msgType === null || m.msgType === '') {
    if (opts.requireMsgType) throw new MessageError('msg.msgType missing', 'msgtype-missing');
    m.msgType = '';
  } else if (typeof m.msgType !== 'string') {
    throw new MessageError(`msg.msgType must be a string, got ${typeOf(m.msgType)}`, 'bad-msgtype');
  }
  // Checked just above: metadata is a Metadata and msgType a string.
  return msg as T & RuleMsg;
}

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Buffer.isBuffer(v)) return 'buffer';
  return typeof v;
}

/** Sets an own property, even for keys such as `__proto__` that plain assignment would treat specially. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * Deep copy of a message or a part of one. Unlike a naive clone, keys named `__proto__` are left out, at any
 * depth: copied as plain data they would still become a prototype in the next clone that assigns keys, as
 * Node-RED's for a second wire does. Nesting beyond `maxDepth` is an error rather than a stack overflow, and
 * Buffers are copied as Buffers. Functions and class instances other than
 * Date/Buffer/typed arrays are kept by reference (like Node-RED's own clone does for req/res objects).
 */
export function cloneMessage<T>(value: T, maxDepth = MAX_DEPTH): T {
  return cloneValue(value, 1, maxDepth) as T;
}

function cloneValue(value: unknown, depth: number, maxDepth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > maxDepth) {
    throw new MessageError(`message nested deeper than ${maxDepth} levels`, 'too-deep', { maxDepth });
  }
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneValue(value[i], depth + 1, maxDepth);
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice(): unknown }).slice();
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key !== '__proto__') out[key] = cloneValue((value as Record<string, unknown>)[key], depth + 1, maxDepth);
  }
  return out;
}

/** Reads `a.b[0].c` from an object without evaluating anything; undefined when any step is missing. */
export function getPath(root: unknown, path: string): unknown {
  const parts = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p.length > 0);
  let cur: unknown = root;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.hasOwn(cur as object, p)) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/**
 * True when JSON text nests arrays/objects deeper than `max` levels; brackets inside strings do not count. Takes
 * the text or its UTF-8 bytes: every character that matters is ASCII, and no byte of a multi-byte UTF-8 sequence
 * is. Does not check that the text is valid JSON.
 */
export function jsonDeeperThan(json: string | Uint8Array, max = MAX_DEPTH): boolean {
  const text = typeof json === 'string';
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = text ? (json as string).charCodeAt(i) : (json as Uint8Array)[i];
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--;
    }
  }
  return false;
}

/**
 * Checks, in place, a value freshly parsed from JSON (a script's or a decoder's result) before it becomes part
 * of a message: nested deeper than MAX_DEPTH, it is refused (MessageError "too-deep", naming `what`); otherwise
 * every own key named `__proto__` is deleted, at any depth. JSON.parse keeps such a key as plain data, but
 * Node-RED's clone for a second output wire assigns it and so turns it into the copy's prototype. Returns how
 * many keys were dropped.
 */
export function checkParsed(value: unknown, what: string, maxDepth = MAX_DEPTH): number {
  let dropped = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) continue;
    if (d > maxDepth) {
      throw new MessageError(`${what} is nested deeper than ${maxDepth} levels`, 'too-deep', { limit: maxDepth });
    }
    if (!Array.isArray(v) && Object.hasOwn(v, '__proto__')) {
      Reflect.deleteProperty(v, '__proto__');
      dropped++;
    }
    for (const c of Array.isArray(v) ? v : Object.values(v as object)) {
      if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
    }
  }
  return dropped;
}
