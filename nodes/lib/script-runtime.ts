/**
 * Script runtime: runs untrusted flow-author JavaScript (ThingsBoard rule-engine style: the body of
 * `function (msg, metadata, msgType) { ... }`) with JSON in and JSON out, isolated from the host.
 *
 * Engine: QuickJS compiled to WebAssembly (quickjs-emscripten, synchronous release build). Chosen by
 * measurement (bench/script-runtime.bench.ts, 2-core machine, ~150-byte message, µs per call, median on a
 * quiet machine; bench/README.md has the last run): QuickJS with time and memory limits ~16; node:vm with its
 * `timeout` option ~74 (it starts a watchdog thread on every call) and it is not an isolation boundary;
 * node:vm inside a worker_thread, called synchronously through Atomics.wait, ~34-69 (two thread hand-offs per
 * call, and much worse when the machine is loaded); node:vm with no time limit at all ~5. QuickJS is a
 * separate heap and interpreter: nothing of the host exists inside it, and a call can be stopped,
 * synchronously, without stopping a thread. Most of its cost is JSON.parse/JSON.stringify inside QuickJS.
 *
 * Design:
 *  - one QuickJS runtime + context per compiled script (script-sandbox.ts), in a WebAssembly instance of the
 *    script's own (script-engine.ts), created once and reused for every call;
 *  - the script is compiled once into a function; a small trusted wrapper (sandbox/prelude.js, evaluated
 *    before any user code, holding its own references to JSON.parse/JSON.stringify/Promise) parses the JSON of
 *    the arguments inside the sandbox, calls the function and returns one tagged string: the JSON of the result
 *    or a description of the failure. A call is one string in, one string out: no per-property marshalling
 *    (script-direct-call.ts);
 *  - time limit: an interrupt handler stops a call at its deadline, promise jobs it queued included. A body
 *    that uses `await` is compiled as an async function;
 *  - memory limit and stack limit per runtime; size limits on the script, the input JSON and the result JSON;
 *  - after a timeout or an out-of-memory error the runtime is thrown away and rebuilt on the next call;
 *  - `eval` and the Function constructors are disabled inside the sandbox (see sandbox/prelude.js), so source
 *    is only parsed at compile time, where it is first checked in a separate probe engine (see `probeCompile`).
 */
import type { QuickJSContext } from 'quickjs-emscripten-core';
import { jsonDeeperThan, MAX_DEPTH } from './message';
import { atCap, createEngine, type Engine, engineMemoryCap, probeEngine, usable } from './script-engine';
import {
  compileError,
  type ErrorInfo,
  fatal,
  formatError,
  isFatal,
  isOutOfMemory,
  readVmError,
  SCRIPT_FILE,
  ScriptError,
  scriptLine,
  truncate,
} from './script-errors';
import { functionSource, Sandbox, type ScriptSpec } from './script-sandbox';

export { ScriptError, type ScriptErrorKind } from './script-errors';

export interface ScriptLimits {
  /** Wall-clock time limit of one call (including the promise jobs it queues), in milliseconds. */
  timeoutMs: number;
  /** Memory limit of the script's QuickJS runtime (its whole heap), in bytes. */
  memoryBytes: number;
  /** Longest script body accepted, in characters. */
  maxScriptChars: number;
  /** Longest JSON of the call's arguments accepted, in characters. */
  maxInputChars: number;
  /** Longest JSON of the script's result accepted, in characters. */
  maxResultChars: number;
  /** Stack limit inside the sandbox, in bytes (QuickJS's own accounting). See DEFAULT_LIMITS. */
  maxStackBytes?: number;
}

/**
 * Defaults follow ThingsBoard's TBEL settings (thingsboard.yml `tbel.*`): max_requests_timeout 500 ms,
 * max_memory_limit_mb 8, max_script_body_size 50000, max_total_args_size 100000, max_result_size 300000.
 * (ThingsBoard's legacy JS sandbox, `js.local.max_cpu_time`, defaults to 8000 ms; 500 ms is the tighter
 * TBEL figure, which suits a synchronous call that holds the Node-RED event loop while it runs.)
 *
 * maxStackBytes 32 KiB: QuickJS only counts its own (shadow) stack, while WebAssembly frames also use the
 * host thread's native stack, which V8 limits to about 1 MB. Measured on this build: at 32 KiB the worst
 * built-in (JSON.stringify of a deep structure) uses about 37% of V8's default stack before QuickJS reports
 * "stack overflow"; script recursion reaches about 165 frames and JSON nesting about 1,900 levels.
 * Raising it trades recursion depth for the risk of overflowing the host stack (which the runtime detects and
 * recovers from by restarting the engine, failing calls for a moment).
 */
export const DEFAULT_LIMITS: ScriptLimits = Object.freeze({
  timeoutMs: 500,
  memoryBytes: 8 * 1024 * 1024,
  maxScriptChars: 50_000,
  maxInputChars: 100_000,
  maxResultChars: 300_000,
  maxStackBytes: 32 * 1024,
});

/**
 * Deepest nesting of arrays/objects accepted in the call's arguments (checked before the engine sees them): the
 * message model's one depth limit.
 */
export const MAX_INPUT_DEPTH = MAX_DEPTH;

export interface CompiledScript {
  /**
   * Runs the script with `args` (plain JSON-compatible values; Buffers/Uint8Arrays must be passed as arrays of
   * numbers) and returns its JSON-compatible result (undefined allowed). Synchronous. Throws ScriptError.
   */
  invoke(args: unknown[]): unknown;
  /**
   * invoke() on the JSON of the arguments (see serializeArgs): returns `u` (undefined) or `v` + the result's
   * JSON, for parseResult(). Throws ScriptError. What the script thread runs, so that only strings cross it.
   * The time limit counts from `since` (a Date.now() time; the call's start by default).
   */
  invokeJson(json: string, since?: number): string;
  /**
   * True when the next call would first have to rebuild the sandbox (after a time-out, for one) or load a new
   * engine (after a failure; a call fails at once until one is loaded). prepare() does it between calls.
   */
  readonly needsPrepare: boolean;
  /** Rebuilds what the last call lost (the script thread does it between calls, so no call waits for it). */
  prepare(): Promise<void>;
  dispose(): void;
}

export interface CompileOptions {
  /** Argument names, e.g. ['msg', 'metadata', 'msgType']. */
  params: string[];
  /** The function body. */
  body: string;
  limits?: Partial<ScriptLimits>;
  /** Trusted JS source evaluated once (as global code) in the sandbox before the body, e.g. helper functions. */
  helpers?: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** Host frames burnt before the probe compile, so the real compile has that much more native stack to spare. */
const PROBE_STACK_MARGIN_FRAMES = 3000;

export function resolveLimits(partial: Partial<ScriptLimits> | undefined): Required<ScriptLimits> {
  const l = { ...DEFAULT_LIMITS } as Required<ScriptLimits>;
  if (partial) {
    for (const [key, value] of Object.entries(partial)) {
      if (value !== undefined && key in l) (l as unknown as Record<string, number>)[key] = value;
    }
  }
  for (const key of ['timeoutMs', 'memoryBytes', 'maxScriptChars', 'maxInputChars', 'maxResultChars'] as const) {
    const v = l[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new TypeError(`script limit ${key} must be a positive number, got ${String(v)}`);
    }
  }
  if (l.maxStackBytes === undefined) l.maxStackBytes = DEFAULT_LIMITS.maxStackBytes as number;
  if (!Number.isFinite(l.maxStackBytes) || l.maxStackBytes <= 0) {
    throw new TypeError(`script limit maxStackBytes must be a positive number, got ${String(l.maxStackBytes)}`);
  }
  return l;
}

/** How many values jsonLengthAtLeast looks at before it stops: it must cost next to nothing per call. */
const LOWER_BOUND_VALUES = 64;

/** Whether JSON.stringify writes `v` through a toJSON of its own (which may write anything, or leave it out). */
function hasOwnJson(v: object): boolean {
  return 'toJSON' in v && !(Buffer.isBuffer(v) && v.toJSON === Buffer.prototype.toJSON);
}

/**
 * A number of characters that the JSON of `value` has at least, counted over its first values and three levels
 * down (strings, Buffers, plain objects and arrays; anything else counts as nothing), stopping once past `limit`.
 * It lets an input far over the limit (a Buffer of megabytes) be refused before JSON.stringify spends tens of ms
 * on it.
 */
export function jsonLengthAtLeast(value: unknown, limit: number): number {
  let budget = LOWER_BOUND_VALUES;
  const visit = (v: unknown, depth: number): number => {
    if (budget-- <= 0) return 0;
    if (typeof v === 'string') return v.length + 2;
    if (typeof v === 'number' || typeof v === 'boolean') return 1;
    if (v === null) return 4;
    if (typeof v !== 'object' || hasOwnJson(v)) return 0;
    // {"type":"Buffer","data":[...]}: a digit for each byte at least, and a comma between two.
    if (Buffer.isBuffer(v)) return 2 * v.length;
    if (depth === 0) return 0;
    if (Array.isArray(v)) {
      // "[]" and the commas between the elements.
      let n = Math.max(2, v.length + 1);
      for (let i = 0; i < v.length && budget > 0 && n <= limit; i++) n += visit(v[i], depth - 1);
      return n;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return 0;
    let n = 2;
    for (const k of Object.keys(v)) {
      if (budget <= 0 || n > limit) break;
      const item = (v as Record<string, unknown>)[k];
      // JSON leaves such a property out: undefined, a function, a symbol, or what a toJSON may leave out.
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      if (typeof item === 'object' && item !== null && hasOwnJson(item)) continue;
      n += k.length + 3 + visit(item, depth - 1);
    }
    return n;
  };
  try {
    return visit(value, 3);
  } catch {
    // A getter or a proxy that throws: JSON.stringify will meet it too, and say so.
    return 0;
  }
}

/** The JSON of a call's arguments, checked against the size and nesting limits. Throws ScriptError. */
export function serializeArgs(args: unknown[], limits: Required<ScriptLimits>): string {
  if (!Array.isArray(args)) throw new TypeError('invoke() takes an array of arguments');
  const atLeast = jsonLengthAtLeast(args, limits.maxInputChars);
  if (atLeast > limits.maxInputChars) {
    throw new ScriptError(
      'size',
      `Script input is at least ${atLeast} characters of JSON; the limit is ${limits.maxInputChars}`,
    );
  }
  let json: string;
  try {
    json = JSON.stringify(args);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new ScriptError('size', `Script input is nested too deeply (more than ${MAX_INPUT_DEPTH} levels)`);
    }
    throw new ScriptError('runtime', `Script input cannot be converted to JSON: ${(err as Error).message}`);
  }
  if (json.length > limits.maxInputChars) {
    throw new ScriptError(
      'size',
      `Script input is ${json.length} characters of JSON; the limit is ${limits.maxInputChars}`,
    );
  }
  // Nesting deeper than MAX_INPUT_DEPTH needs at least 2 * MAX_INPUT_DEPTH characters.
  if (json.length > 2 * MAX_INPUT_DEPTH && jsonDeeperThan(json, MAX_INPUT_DEPTH)) {
    throw new ScriptError('size', `Script input is nested too deeply (more than ${MAX_INPUT_DEPTH} levels)`);
  }
  return json;
}

/** Calls fn after `frames` extra host stack frames. */
function withStackMargin<T>(frames: number, fn: () => T): T {
  return frames <= 0 ? fn() : withStackMargin(frames - 1, fn);
}

async function loadEngine(load: () => Promise<Engine>): Promise<Engine> {
  try {
    return await load();
  } catch (err) {
    throw new ScriptError('compile', `Could not load the script engine: ${err instanceof Error ? err.message : err}`);
  }
}

/**
 * Try-compiles the function source in the probe engine (compile only, nothing runs), with part of the host
 * stack already used, and decides sync vs async. Source nested so deeply that QuickJS's parser would overflow
 * the host stack is rejected here, where breaking the probe engine costs nothing.
 */
async function probeCompile(params: string[], body: string, limits: Required<ScriptLimits>): Promise<boolean> {
  const engine = await loadEngine(() => probeEngine.get());
  engine.busy = true;
  const rt = engine.module.newRuntime();
  let ctx: QuickJSContext | undefined;
  try {
    rt.setMemoryLimit(limits.memoryBytes);
    rt.setMaxStackSize(limits.maxStackBytes);
    ctx = rt.newContext();
    const c = ctx;
    const tryCompile = (isAsync: boolean): ErrorInfo | undefined => {
      const r = withStackMargin(PROBE_STACK_MARGIN_FRAMES, () =>
        c.evalCode(functionSource(params, body, isAsync), SCRIPT_FILE, { type: 'global', compileOnly: true }),
      );
      if (r.error) return readVmError(c, r.error);
      r.value.dispose();
      return undefined;
    };
    const syncError = tryCompile(false);
    if (!syncError) return false;
    if (syncError.name === 'SyntaxError' && /\bawait\b/.test(body)) {
      const asyncError = tryCompile(true);
      if (!asyncError) return true;
      throw compileError(asyncError);
    }
    throw compileError(syncError);
  } catch (err) {
    if (err instanceof ScriptError) throw err;
    probeEngine.fail(engine);
    throw new ScriptError('compile', 'Script is nested too deeply to compile');
  } finally {
    if (!engine.dead) {
      try {
        ctx?.dispose();
        rt.dispose();
        engine.busy = false;
      } catch {
        probeEngine.fail(engine);
      }
    }
  }
}

/** The wrapper's description of `throw null`, which is also what QuickJS throws when it has no memory left. */
const NULL_THROWN = 'e["","null",""]';

function nothingThrown(outcome: string | ScriptError): boolean {
  return outcome === NULL_THROWN || (outcome instanceof ScriptError && outcome.message === 'null');
}

/** Reads the wrapper's [name, message, stack] description of an error. */
function readDescription(json: string): ErrorInfo {
  try {
    const [name, message, stack] = JSON.parse(json) as [unknown, unknown, unknown];
    const st = typeof stack === 'string' ? stack : '';
    return { name: String(name), message: String(message), stack: st, lineNumber: scriptLine(st) };
  } catch {
    return { name: '', message: 'unreadable error', stack: '' };
  }
}

/** The value of a successful call's outcome (see CompiledScript.invokeJson). */
export function parseResult(out: string): unknown {
  if (out === 'u') return undefined;
  if (out.charCodeAt(0) !== 118 /* v */) throw new ScriptError('runtime', 'Script runtime protocol error');
  try {
    return JSON.parse(out.slice(1));
  } catch (err) {
    throw new ScriptError('result', `Script result is not valid JSON: ${(err as Error).message}`);
  }
}

/** Throws the ScriptError that a failed call's outcome describes. */
function decodeOutcome(out: string, limits: Required<ScriptLimits>): never {
  switch (out.charCodeAt(0)) {
    case 101 /* e */:
      return throwScriptError(readDescription(out.slice(1)), limits);
    case 114 /* r */:
      {
        const why = formatError({ ...readDescription(out.slice(1)), lineNumber: undefined });
        throw new ScriptError('result', `Script result cannot be converted to JSON: ${why}`);
      }
    case 115 /* s */:
      throw new ScriptError(
        'size',
        `Script result is ${out.slice(1)} characters of JSON; the limit is ${limits.maxResultChars}`,
      );
    case 110 /* n */:
      throw new ScriptError('runtime', 'Script returned a promise that never settles');
    default:
      throw new ScriptError('runtime', 'Script runtime protocol error');
  }
}

function throwScriptError(info: ErrorInfo, limits: Required<ScriptLimits>): never {
  if (isOutOfMemory(info)) throw fatal(new ScriptError('memory', 'Script exceeded the memory limit'));
  if (info.name === 'InternalError' && info.message === 'stack overflow') {
    info.message = `stack overflow (the sandbox stack is limited to ${limits.maxStackBytes} bytes)`;
  }
  throw new ScriptError('runtime', formatError(info), info.lineNumber);
}

class QuickJSScript implements CompiledScript {
  private sandbox: Sandbox | undefined;
  private engine: Engine | undefined;
  private preparing: Promise<void> | undefined;
  private lastEngineError: unknown;
  private disposed = false;

  constructor(
    engine: Engine,
    private readonly spec: ScriptSpec,
    sandbox: Sandbox,
  ) {
    this.engine = engine;
    this.sandbox = sandbox;
  }

  invoke(args: unknown[]): unknown {
    if (this.disposed) throw new ScriptError('runtime', 'Script has been disposed');
    return parseResult(this.invokeJson(serializeArgs(args, this.spec.limits)));
  }

  invokeJson(json: string, since?: number): string {
    if (this.disposed) throw new ScriptError('runtime', 'Script has been disposed');
    const limits = this.spec.limits;
    // Never enter a sandbox whose engine failed or was left in the middle of a call.
    const current = this.sandbox;
    const sandbox = current && usable(current.engine) ? current : this.rebuild();
    let outcome: string | ScriptError;
    try {
      outcome = sandbox.call(json, since);
    } catch (err) {
      // The exception came out of the WebAssembly code: never touch that instance again (not even to dispose).
      this.dropEngine();
      const why = err instanceof Error ? truncate(err.message) : 'unknown error';
      throw new ScriptError('runtime', `Script engine failure (${why}); the engine is being restarted`);
    }
    if (atCap(sandbox.engine) && nothingThrown(outcome)) {
      // The heap filled its memory so far that QuickJS could not even build its out-of-memory error (it
      // throws null then). The sandbox is rebuilt; the engine's memory stays at its cap, never above it.
      throw this.discarding(fatal(new ScriptError('memory', 'Script exceeded the memory limit')));
    }
    try {
      if (typeof outcome !== 'string') throw outcome;
      const tag = outcome.charCodeAt(0);
      if (tag === 118 /* v */ || tag === 117 /* u */) return outcome;
      return decodeOutcome(outcome, limits); // throws for every other tag
    } catch (err) {
      if (err instanceof ScriptError && isFatal(err)) this.discardSandbox();
      throw err;
    }
  }

  get needsPrepare(): boolean {
    return !this.disposed && (this.needsEngine || this.sandbox === undefined);
  }

  private get needsEngine(): boolean {
    return this.engine === undefined || !usable(this.engine);
  }

  prepare(): Promise<void> {
    if (!this.needsPrepare) return Promise.resolve();
    if (!this.needsEngine) {
      // A failure here is the next call's to report (it rebuilds again).
      try {
        this.rebuild();
      } catch {
        // The next call rebuilds again and reports the failure.
      }
      return Promise.resolve();
    }
    this.preparing ??= createEngine(engineMemoryCap(this.spec.limits.memoryBytes)).then(
      (engine) => {
        this.preparing = undefined;
        if (this.disposed) return;
        this.engine = engine;
        try {
          this.rebuild();
        } catch {
          // As above.
        }
      },
      (err: unknown) => {
        this.preparing = undefined;
        this.lastEngineError = err;
      },
    );
    return this.preparing;
  }

  private dropEngine(): void {
    this.sandbox = undefined;
    if (this.engine) this.engine.dead = true;
    this.engine = undefined;
  }

  private discarding(err: ScriptError): ScriptError {
    this.discardSandbox();
    return err;
  }

  private discardSandbox(): void {
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    if (!sandbox || !usable(sandbox.engine)) return;
    try {
      sandbox.dispose();
    } catch {
      this.dropEngine();
    }
  }

  private rebuild(): Sandbox {
    this.sandbox = undefined;
    const engine = this.engine;
    if (!engine || !usable(engine)) {
      this.dropEngine();
      this.prepare().catch(() => {});
      const last = this.lastEngineError;
      const why = last ? ` (last attempt: ${truncate(String(last))})` : '';
      throw new ScriptError('runtime', `Script engine is restarting after a failure; try again shortly${why}`);
    }
    try {
      this.sandbox = new Sandbox(engine, this.spec);
    } catch (err) {
      if (err instanceof ScriptError) throw err;
      this.dropEngine();
      throw new ScriptError('runtime', `Script engine failure while rebuilding the sandbox: ${String(err)}`);
    }
    return this.sandbox;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.discardSandbox();
    this.engine = undefined;
  }
}

/**
 * Compiles a script once (per deploy). Rejects with ScriptError: 'size' (body too long), 'compile' (syntax
 * error, invalid parameter name, helpers that throw), 'timeout' / 'memory' (setup code that loops or allocates).
 */
export async function compileScript(opts: CompileOptions): Promise<CompiledScript> {
  const limits = resolveLimits(opts.limits);
  const params = opts.params;
  const body = opts.body;
  if (!Array.isArray(params) || typeof body !== 'string') {
    throw new TypeError('compileScript() needs params (string[]) and body (string)');
  }
  for (const p of params) {
    if (typeof p !== 'string' || !IDENTIFIER.test(p)) {
      throw new ScriptError('compile', `Invalid script parameter name: ${JSON.stringify(p)}`);
    }
  }
  if (body.length > limits.maxScriptChars) {
    throw new ScriptError('size', `Script is ${body.length} characters; the limit is ${limits.maxScriptChars}`);
  }
  const isAsync = await probeCompile(params, body, limits);
  const spec: ScriptSpec = { params: [...params], body, helpers: opts.helpers, isAsync, limits };
  const engine = await loadEngine(() => createEngine(engineMemoryCap(limits.memoryBytes)));
  let sandbox: Sandbox;
  try {
    sandbox = new Sandbox(engine, spec);
  } catch (err) {
    if (err instanceof ScriptError) throw err;
    engine.dead = true;
    throw new ScriptError('compile', `Script engine failure while compiling: ${String(err)}`);
  }
  return new QuickJSScript(engine, spec, sandbox);
}
