/**
 * ThingsBoard's script-transformation contract, without the engine: how a script's return value becomes
 * output messages, and when a failing script is blocked.
 */
import { normaliseMetadata } from './message';

export interface ScriptMessage {
  msg: unknown;
  metadata: Record<string, string>;
  msgType: string;
}

export class ResultError extends Error {
  readonly kind = 'result';
  constructor(message: string) {
    super(message);
    this.name = 'ResultError';
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function one(input: ScriptMessage, r: unknown, where: string): ScriptMessage {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) {
    throw new ResultError(
      `wrong result type${where}: expected {msg, metadata, msgType} or an array of them, got ${describe(r)}`,
    );
  }
  const o = r as Record<string, unknown>;
  const out: ScriptMessage = { msg: input.msg, metadata: input.metadata, msgType: input.msgType };
  if (Object.hasOwn(o, 'msg') && o.msg !== undefined) out.msg = o.msg;
  if (Object.hasOwn(o, 'metadata') && o.metadata !== undefined) {
    if (o.metadata === null || typeof o.metadata !== 'object' || Array.isArray(o.metadata)) {
      throw new ResultError(`wrong result type${where}: metadata must be an object, got ${describe(o.metadata)}`);
    }
    out.metadata = normaliseMetadata(o.metadata);
  }
  if (Object.hasOwn(o, 'msgType') && o.msgType !== undefined) {
    if (typeof o.msgType !== 'string' || o.msgType === '') {
      throw new ResultError(
        `wrong result type${where}: msgType must be a non-empty string, got ${describe(o.msgType)}`,
      );
    }
    out.msgType = o.msgType;
  }
  return out;
}

/**
 * The messages a script result stands for: an object gives one (each of msg / metadata / msgType that it
 * lacks is kept from the input), an array gives one per element; an empty array or any other value is an error.
 */
export function messagesFromResult(input: ScriptMessage, result: unknown): ScriptMessage[] {
  if (Array.isArray(result)) {
    if (result.length === 0) throw new ResultError('empty result: the script returned an empty array');
    return result.map((r, i) => one(input, r, ` at index ${i}`));
  }
  return [one(input, result, '')];
}

export interface BlockPolicy {
  maxErrors: number;
  windowMs: number;
  blockMs: number;
}
/** ThingsBoard's max_errors = 3 and max_black_list_duration_sec = 60. */
export const DEFAULT_BLOCK_POLICY: BlockPolicy = { maxErrors: 3, windowMs: 60_000, blockMs: 60_000 };

/**
 * Counts the errors that say the script itself is broken or dangerous (its callers decide which: time-outs,
 * memory and compile errors; not exceptions the script throws, nor errors about the data) and blocks it for a
 * while once there are too many.
 */
export class ErrorBlocker {
  private errors: number[] = [];
  private blockedUntil = 0;
  private lastReason = '';

  constructor(
    readonly policy: BlockPolicy = DEFAULT_BLOCK_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records an error; returns true when this error starts a block. */
  record(reason: string): boolean {
    const t = this.now();
    this.errors = this.errors.filter((e) => t - e < this.policy.windowMs);
    this.errors.push(t);
    this.lastReason = reason;
    if (this.errors.length >= this.policy.maxErrors && t >= this.blockedUntil) {
      this.blockedUntil = t + this.policy.blockMs;
      this.errors = [];
      return true;
    }
    return false;
  }

  /** Milliseconds of block left, 0 when the script may run. */
  remaining(): number {
    return Math.max(0, this.blockedUntil - this.now());
  }

  /** True when neither blocked nor holding an error that could still count: forgetting it changes nothing. */
  idle(): boolean {
    const t = this.now();
    return this.remaining() === 0 && this.errors.every((e) => t - e >= this.policy.windowMs);
  }

  describe(what = 'script'): string {
    const s = Math.ceil(this.remaining() / 1000);
    return `${what} blocked for ${s} s after ${this.policy.maxErrors} errors within ${this.policy.windowMs / 1000} s (last: ${this.lastReason})`;
  }
}
