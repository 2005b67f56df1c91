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
 *  - one QuickJS runtime + context per compiled script, created once and reused for every call;
 *  - the script is compiled once into a function; a small trusted wrapper (compiled before any user code,
 *    holding its own references to JSON.parse/JSON.stringify/Promise) parses the JSON of the arguments inside
 *    the sandbox, calls the function and returns one tagged string: the JSON of the result or a description of
 *    the failure. A call is one string in, one string out: no per-property marshalling;
 *  - time limit: an interrupt handler compares the clock with the call's deadline (QuickJS polls it every few
 *    thousand bytecodes and inside regular-expression matching); pending promise jobs are run before the call
 *    returns, still under the same deadline, so `await null; while (true) {}` and
 *    `Promise.resolve().then(loop)` are stopped too. A body that uses `await` is compiled as an async function;
 *  - memory limit and stack limit per runtime; size limits on the script, the input JSON and the result JSON;
 *  - after a timeout or an out-of-memory error the runtime is thrown away and rebuilt on the next call;
 *  - `eval` and the Function constructors are disabled inside the sandbox (see `PRELUDE`), so source is only
 *    parsed at compile time, where it is first checked in a separate probe engine (see `probeCompile`).
 */
import { readFile } from 'node:fs/promises';
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import { jsonDeeperThan, MAX_DEPTH } from './message';

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

export type ScriptErrorKind = 'compile' | 'timeout' | 'runtime' | 'size' | 'memory' | 'result';

export class ScriptError extends Error {
  readonly kind: ScriptErrorKind;
  /** Line in the script body (1-based) where the error was raised, when known. */
  readonly lineNumber?: number;

  constructor(kind: ScriptErrorKind, message: string, lineNumber?: number) {
    super(message);
    this.name = 'ScriptError';
    this.kind = kind;
    if (lineNumber !== undefined) this.lineNumber = lineNumber;
  }
}

export interface CompiledScript {
  /**
   * Runs the script with `args` (plain JSON-compatible values; Buffers/Uint8Arrays must be passed as arrays of
   * numbers) and returns its JSON-compatible result (undefined allowed). Synchronous. Throws ScriptError.
   */
  invoke(args: unknown[]): unknown;
  /**
   * invoke() on the JSON of the arguments (see serializeArgs): returns `u` (undefined) or `v` + the result's
   * JSON, for parseResult(). Throws ScriptError. What the script thread runs, so that only strings cross it.
   */
  invokeJson(json: string): string;
  /** True when the engine failed and the next call needs prepare() first (otherwise it fails at once). */
  readonly needsEngine: boolean;
  /** Loads a new engine after a failure (the script thread does it between calls). */
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

// ---------------------------------------------------------------------------------------------------------
// Engines: every compiled script has a WebAssembly instance of QuickJS of its own, with a WebAssembly memory
// whose maximum is the hard memory cap (see engineMemoryCap): QuickJS's own accounting does not see every
// allocation (measured: forty 4 MB ArrayBuffers or strings passed an 8 MB limit), but nothing inside an
// instance can grow its memory past the maximum, and one script exhausting its memory touches no other
// script. One more instance per thread, the probe, only try-compiles untrusted source.
//
// If an exception ever leaves the WebAssembly code itself (the host stack overflowed inside it, or the module
// aborted), that instance's memory can no longer be trusted (its own stack pointer, for one, is not restored):
// it is dropped and the script gets a fresh one. Detecting that must work even when the host stack is so
// exhausted that no catch handler can run, so every entry into the engine sets `busy` and only a normal
// return clears it: an engine found busy between calls was left in the middle of one.

interface Engine {
  readonly module: QuickJSWASMModule;
  readonly memory: WebAssembly.Memory;
  /** The memory's maximum, in bytes. */
  readonly capBytes: number;
  dead: boolean;
  busy: boolean;
  /** Whether DirectCall passed its self-test on this engine (undefined: not tried yet). */
  directOk?: boolean;
  /** Scratch memory inside the WebAssembly heap used by DirectCall (calls never overlap, so one per engine). */
  scratch?: { ptr: number; cap: number; argv: number };
}

function usable(engine: Engine): boolean {
  return !engine.dead && !engine.busy;
}

const WASM_PAGE = 65_536;
/** The QuickJS module declares 16 MiB of memory as its minimum: no instance can have less. */
const MIN_ENGINE_PAGES = 256;
/**
 * What an instance's memory holds besides the heap (static data and the C stack): measured, a new instance
 * fits about 10 MiB of 1 MiB ArrayBuffers in its 16 MiB.
 */
const ENGINE_OVERHEAD_BYTES = 6 * 1024 * 1024;

/**
 * Bytes of WebAssembly memory an engine may ever have: room for a heap of twice the memory limit, and never
 * below the module's minimum.
 */
export function engineMemoryCap(memoryBytes: number): number {
  const pages = Math.ceil((ENGINE_OVERHEAD_BYTES + 2 * memoryBytes) / WASM_PAGE);
  return Math.max(MIN_ENGINE_PAGES, pages) * WASM_PAGE;
}

/**
 * True once the engine's memory has grown to (nearly) its maximum. A growth that does not fit is refused
 * whole, so a full heap can stop short of the maximum by one request.
 */
function atCap(engine: Engine): boolean {
  return engine.memory.buffer.byteLength + NEAR_CAP_BYTES >= engine.capBytes;
}
const NEAR_CAP_BYTES = 2 * 1024 * 1024;

/** A new QuickJS instance whose memory cannot grow past capBytes. */
async function createEngine(capBytes: number): Promise<Engine> {
  const wasmModule = await compiledWasm();
  const wasmMemory = new WebAssembly.Memory({ initial: MIN_ENGINE_PAGES, maximum: capBytes / WASM_PAGE });
  // Instantiated synchronously: the asynchronous path was measured waiting about 300 ms for V8's background
  // compilation on the second instance of a thread.
  const instantiateWasm = (
    imports: WebAssembly.Imports,
    done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ) => {
    const instance = new WebAssembly.Instance(wasmModule, imports);
    done(instance, wasmModule);
    return instance.exports;
  };
  const module = await newQuickJSWASMModuleFromVariant(
    newVariant(releaseSyncVariant, { wasmMemory, emscriptenModule: { instantiateWasm } }),
  );
  return { module, memory: wasmMemory, capBytes, dead: false, busy: false };
}

let wasmModulePromise: Promise<WebAssembly.Module> | undefined;

/** QuickJS's WebAssembly code, compiled once per thread and instantiated per engine. */
function compiledWasm(): Promise<WebAssembly.Module> {
  if (!wasmModulePromise) {
    const file = require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    wasmModulePromise = readFile(file).then((bytes) => WebAssembly.compile(bytes));
    wasmModulePromise.catch(() => {
      wasmModulePromise = undefined; // the next engine tries again
    });
  }
  return wasmModulePromise;
}

/** The probe engine: one per thread, replaced when a probe breaks it. */
class EngineSlot {
  private current: Engine | undefined;
  private loading: Promise<Engine> | undefined;

  get(): Promise<Engine> {
    const c = this.current;
    if (c && usable(c)) return Promise.resolve(c);
    this.current = undefined;
    this.loading ??= createEngine(MIN_ENGINE_PAGES * WASM_PAGE).then(
      (engine) => {
        this.current = engine;
        this.loading = undefined;
        return engine;
      },
      (err: unknown) => {
        this.loading = undefined;
        throw err;
      },
    );
    return this.loading;
  }

  fail(engine: Engine): void {
    engine.dead = true;
    if (this.current === engine) this.current = undefined;
  }
}

const probeEngine = new EngineSlot();

// ---------------------------------------------------------------------------------------------------------
// The trusted code evaluated first in every sandbox. It keeps private references to the built-ins it relies
// on (user code may replace the globals), disables run-time code generation (eval, Function and the async/
// generator function constructors: besides being unneeded, QuickJS's parser uses much more of the host's
// native stack than its stack accounting sees, so parsing is kept to compile time where it is probed first),
// and returns `install(userFunction, maxResultChars, expectedSource)` which builds the per-script `run` and
// `settle`.
//
// Protocol: `run(json)` and `settle()` return one string whose first character tells what follows:
//   v<json>  the result's JSON                 u  the result is undefined
//   e<json>  [name, message, stack] of a thrown error
//   r<json>  [name, message, stack] of why the result cannot be converted to JSON
//   s<n>     the result's JSON is n characters, over the limit
//   p        the result is a promise: run the pending jobs, then call settle()
//   n        (settle only) the promise is still pending and nothing is left to run
// Whenever jobs are pending after run() or settle(), the host runs them and calls settle() again: jobs run
// after the call's own clean-up, and settle() cleans up after them (returning the same outcome).
const PRELUDE = `(function () {
  'use strict';
  const G = globalThis;
  const parse = JSON.parse, stringify = JSON.stringify, apply = Reflect.apply;
  const PromiseCtor = Promise, promiseThen = Promise.prototype.then, fnToString = Function.prototype.toString;
  const ErrorCtor = Error, StringCtor = String, EvalErrorCtor = EvalError, TypeErrorCtor = TypeError;
  const defineProperty = Object.defineProperty, getPrototypeOf = Object.getPrototypeOf;
  const getOwnPropertySymbols = Object.getOwnPropertySymbols, isExtensible = Object.isExtensible;

  const disabled = (what) => function () { throw new EvalErrorCtor(what + ' is not available in scripts'); };
  const lock = (proto, what) => {
    const stub = disabled(what);
    defineProperty(stub, 'prototype', { value: proto, writable: false, enumerable: false, configurable: false });
    defineProperty(proto, 'constructor', { value: stub, writable: false, enumerable: false, configurable: false });
    return stub;
  };
  const FunctionStub = lock(Function.prototype, 'Function()');
  lock(getPrototypeOf(async function () {}), 'AsyncFunction()');
  lock(getPrototypeOf(function* () {}), 'GeneratorFunction()');
  lock(getPrototypeOf(async function* () {}), 'AsyncGeneratorFunction()');
  defineProperty(G, 'Function', { value: FunctionStub, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'eval', { value: disabled('eval()'), writable: true, enumerable: false, configurable: true });
  // A finalization callback runs whenever the collector finds its target dead, which may be during a later
  // call, with the closure of the call that registered it.
  delete G.FinalizationRegistry;

  // Math.random: QuickJS draws from one generator per context, so how many numbers a call drew would show in
  // the numbers of the next call. Each call gets a generator of its own (sfc32), seeded from one number of the
  // engine's generator: the engine's stream then moves by exactly one number per call, whatever the call does.
  const engineRandom = Math.random;
  let seed = 0, seeded = false, ra = 0, rb = 0, rc = 0, rd = 0;
  const next32 = () => {
    const t = (((ra + rb) | 0) + rd) | 0;
    rd = (rd + 1) | 0;
    ra = rb ^ (rb >>> 9);
    rb = (rc + (rc << 3)) | 0;
    rc = (rc << 21) | (rc >>> 11);
    rc = (rc + t) | 0;
    return t >>> 0;
  };
  const random = {
    random() {
      if (!seeded) {
        seeded = true;
        ra = (seed * 4294967296) | 0;
        rb = (seed * 4503599627370496) % 4294967296 | 0;
        rc = 0x9e3779b9 | 0;
        rd = 1;
        for (let i = 0; i < 12; i++) next32();
      }
      return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
    },
  }.random;
  defineProperty(Math, 'random', { value: random, writable: true, enumerable: false, configurable: true });

  const describe = (e) => {
    try {
      if (e instanceof ErrorCtor) {
        const stack = e.stack;
        return stringify([StringCtor(e.name), StringCtor(e.message), typeof stack === 'string' ? stack : '']);
      }
      return stringify(['', StringCtor(e), '']);
    } catch (e2) {
      if (e2 instanceof ErrorCtor && e2.message === 'out of memory') throw e2;
      return stringify(['', 'a value that cannot be converted to a string was thrown', '']);
    }
  };

  // State kept by one call must not reach the next: every object reachable from the
  // globals (built-ins, their prototypes, the helpers), from the intrinsics no global names (iterator and
  // generator prototypes...) and from the script's own function is frozen once, the existing globals become
  // read-only, and any global a call adds is deleted when it returns. A change to the global object that
  // cannot be undone escapes the wrapper as an error, which makes the host throw this sandbox away.
  // (Helpers must declare only functions and vars: a top-level let/const/class of theirs is not a property
  // of the global object, so it would stay writable.)
  const ownKeys = Reflect.ownKeys, freeze = Object.freeze, isFrozen = Object.isFrozen;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const unnamedIntrinsics = () => {
    const list = [
      getPrototypeOf(async function () {}),
      getPrototypeOf(function* () {}),
      getPrototypeOf(async function* () {}),
      getPrototypeOf([][Symbol.iterator]()),
      getPrototypeOf(new Map().entries()),
      getPrototypeOf(new Set().values()),
      getPrototypeOf(''[Symbol.iterator]()),
      getPrototypeOf(/a/g[Symbol.matchAll]('')),
    ];
    const it = [].values();
    if (typeof it.map === 'function') list.push(getPrototypeOf(it.map((x) => x)));
    if (typeof Iterator === 'function' && typeof Iterator.from === 'function') {
      list.push(getPrototypeOf(Iterator.from({ next: () => ({ done: true }) })));
    }
    return list;
  };
  const harden = (roots) => {
    const seen = new Set();
    const todo = roots;
    while (todo.length > 0) {
      const o = todo.pop();
      if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
      seen.add(o);
      const proto = getPrototypeOf(o);
      if (proto) todo.push(proto);
      for (const k of ownKeys(o)) {
        const d = getOwnPropertyDescriptor(o, k);
        if (!d) continue;
        if ('value' in d) todo.push(d.value);
        if (d.get) todo.push(d.get);
        if (d.set) todo.push(d.set);
      }
      if (o !== G && !isFrozen(o)) freeze(o);
    }
    // Existing globals become read-only and non-enumerable, so that after a call, enumerating the global
    // object finds exactly the globals the call added (a plain assignment creates an enumerable property; the
    // ways to create a non-enumerable one are closed below). Much cheaper per call than listing every key.
    for (const k of ownKeys(G)) {
      const d = getOwnPropertyDescriptor(G, k);
      if (d && d.configurable) {
        if ('value' in d) d.writable = false;
        d.configurable = false;
        d.enumerable = false;
        defineProperty(G, k, d);
      } else if (d && d.writable) {
        // The helpers' function and var declarations cannot be reconfigured, but can still become read-only.
        defineProperty(G, k, { writable: false });
      }
    }
    // Those stay enumerable: remembered instead.
    for (const k in G) fixedGlobals.add(k);
    for (const s of getOwnPropertySymbols(G)) fixedSymbols.add(s);
  };
  const fixedGlobals = new Set();
  const fixedSymbols = new Set();
  // Defining a property on the global object directly could make it non-enumerable and non-configurable, or
  // an accessor (which clean() would run): refused, before the built-ins are frozen. The same through a Proxy
  // of the global object: no such Proxy.
  const refuseGlobal = (holder, name, targetOf) => {
    const original = holder[name];
    defineProperty(holder, name, {
      value: function () {
        if (targetOf(this, arguments) === G) {
          throw new TypeErrorCtor('scripts cannot define properties on the global object');
        }
        return apply(original, this, arguments);
      },
      writable: false,
      enumerable: false,
      configurable: false,
    });
  };
  const firstArgument = (self, args) => args[0];
  const receiver = (self) => self;
  refuseGlobal(Object, 'defineProperty', firstArgument);
  refuseGlobal(Object, 'defineProperties', firstArgument);
  refuseGlobal(Reflect, 'defineProperty', firstArgument);
  refuseGlobal(Object.prototype, '__defineGetter__', receiver);
  refuseGlobal(Object.prototype, '__defineSetter__', receiver);
  const ProxyCtor = Proxy, proxyRevocable = Proxy.revocable;
  const noGlobalTarget = (target) => {
    if (target === G) throw new TypeErrorCtor('scripts cannot wrap the global object in a Proxy');
  };
  const ProxyGuard = function Proxy(target, handler) {
    if (new.target === undefined) throw new TypeErrorCtor("Proxy constructor requires 'new'");
    noGlobalTarget(target);
    return new ProxyCtor(target, handler);
  };
  defineProperty(ProxyGuard, 'revocable', {
    value: { revocable(target, handler) { noGlobalTarget(target); return proxyRevocable(target, handler); } }.revocable,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  defineProperty(G, 'Proxy', { value: ProxyGuard, writable: true, enumerable: false, configurable: true });
  const globalProto = getPrototypeOf(G);
  const assign = Object.assign, create = Object.create;
  const clean = () => {
    if (getPrototypeOf(G) !== globalProto) throw new ErrorCtor('the script changed the prototype of the global object');
    if (!isExtensible(G)) throw new ErrorCtor('the script made the global object non-extensible');
    // The globals the call added are the enumerable own properties, string- or Symbol-keyed, but the helpers'.
    // One Object.assign copies exactly those, in a third of the time of a for-in plus a Symbol listing. It
    // would run a getter, but none can be defined on the global object; were one there, it could add globals
    // while being copied: so copy again until nothing is left (or the call's deadline stops it).
    for (;;) {
      const added = assign(create(null), G);
      let removed = false;
      for (const k in added) {
        if (fixedGlobals.has(k)) continue;
        if (!delete G[k]) throw new ErrorCtor('the script left a global that cannot be removed');
        removed = true;
      }
      for (const s of getOwnPropertySymbols(added)) {
        if (fixedSymbols.has(s)) continue;
        if (!delete G[s]) throw new ErrorCtor('the script left a global that cannot be removed');
        removed = true;
      }
      if (!removed) return;
    }
  };

  return function install(user, maxResult, expectedSource) {
    // A body that closes the function early ('}); ...; (function () {') would leave another function here.
    if (typeof user !== 'function' || apply(fnToString, user, []) !== expectedSource) {
      throw new SyntaxError('the script must be a function body (check for unbalanced braces)');
    }
    harden([G, user, ...unnamedIntrinsics()]);
    let token = 0, state = 0, outcome, last = 'u';

    const finish = (r) => {
      if (r === undefined) return 'u';
      let s;
      try {
        s = stringify(r);
      } catch (e) {
        // Out of memory / stack overflow / interrupted are engine conditions, not properties of the value.
        if (e instanceof ErrorCtor && e.name === 'InternalError') return 'e' + describe(e);
        return 'r' + describe(e);
      }
      if (s === undefined) return 'r' + stringify(['', 'a ' + typeof r + ' cannot be converted to JSON', '']);
      if (s.length > maxResult) return 's' + s.length;
      return 'v' + s;
    };

    const run = function (json) {
      seed = engineRandom();
      seeded = false;
      const out = runOnce(json);
      last = out;
      if (out !== 'p') clean();
      return out;
    };

    const runOnce = function (json) {
      let r;
      try {
        r = apply(user, undefined, parse(json));
      } catch (e) {
        return 'e' + describe(e);
      }
      if (r instanceof PromiseCtor) {
        const mine = ++token;
        state = 0;
        outcome = undefined;
        apply(promiseThen, r, [
          (v) => { if (mine === token) { state = 1; outcome = v; } },
          (e) => { if (mine === token) { state = 2; outcome = e; } },
        ]);
        return 'p';
      }
      return finish(r);
    };

    const settle = function () {
      let out = last;
      if (out === 'p') {
        const st = state, v = outcome;
        token++;
        state = 0;
        outcome = undefined;
        out = st === 1 ? finish(v) : st === 2 ? 'e' + describe(v) : 'n';
        last = out;
      }
      clean();
      return out;
    };

    return [run, settle];
  };
})()`;

const SCRIPT_FILE = 'script.js';
const HELPERS_FILE = 'helpers.js';
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** Promise jobs run per executePendingJobs() call between two host-side deadline checks. */
const JOB_BATCH = 1000;
/** Host frames burnt before the probe compile, so the real compile has that much more native stack to spare. */
const PROBE_STACK_MARGIN_FRAMES = 3000;
const MAX_MESSAGE_CHARS = 1000;
/** Least time allowed for setting a sandbox up (prelude, helpers, the body's top level), in milliseconds. */
const MIN_SETUP_TIMEOUT_MS = 1000;

function functionSource(params: string[], body: string, isAsync: boolean): string {
  // The body starts on line 2, so a line reported in script.js is the body's line + 1.
  return `(${isAsync ? 'async ' : ''}function (${params.join(', ')}) {\n${body}\n})`;
}

interface ErrorInfo {
  name: string;
  message: string;
  stack: string;
  lineNumber?: number;
}

function truncate(s: string): string {
  return s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS)}…` : s;
}

// No regular expressions on the call path: V8 compiles (and re-compiles) them lazily, and doing that with
// the host stack nearly exhausted aborts the process instead of throwing.
function scriptLine(stack: string): number | undefined {
  const marker = `${SCRIPT_FILE}:`;
  const at = stack.indexOf(marker);
  if (at < 0) return undefined;
  let line = 0;
  for (let i = at + marker.length; i < stack.length; i++) {
    const d = stack.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    line = line * 10 + d;
  }
  return line - 1 >= 1 ? line - 1 : undefined;
}

function formatError(info: ErrorInfo): string {
  const head = info.name ? `${info.name}: ${info.message}` : info.message;
  return info.lineNumber !== undefined ? `${truncate(head)} (line ${info.lineNumber})` : truncate(head);
}

/**
 * Reads an error value handed out by QuickJS (disposes the handle). Only getters on a thrown object can run
 * script code here, and they run under the deadline that is still armed.
 */
function readVmError(ctx: QuickJSContext, handle: QuickJSHandle): ErrorInfo {
  try {
    const dumped: unknown = ctx.dump(handle);
    if (dumped !== null && typeof dumped === 'object') {
      const o = dumped as { name?: unknown; message?: unknown; stack?: unknown; lineNumber?: unknown };
      const stack = typeof o.stack === 'string' ? o.stack : '';
      const lineFromProp = typeof o.lineNumber === 'number' ? o.lineNumber - 1 : undefined;
      return {
        name: typeof o.name === 'string' ? o.name : '',
        message: typeof o.message === 'string' ? o.message : String(o.message),
        stack,
        lineNumber: lineFromProp !== undefined && lineFromProp >= 1 ? lineFromProp : scriptLine(stack),
      };
    }
    return { name: '', message: String(dumped), stack: '' };
  } catch {
    return { name: '', message: 'unreadable error', stack: '' };
  } finally {
    if (handle.alive) handle.dispose();
  }
}

function isOutOfMemory(info: ErrorInfo): boolean {
  return info.name === 'InternalError' && info.message === 'out of memory';
}

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

/** The JSON of a call's arguments, checked against the size and nesting limits. Throws ScriptError. */
export function serializeArgs(args: unknown[], limits: Required<ScriptLimits>): string {
  if (!Array.isArray(args)) throw new TypeError('invoke() takes an array of arguments');
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

/** Errors after which the sandbox is thrown away and rebuilt on the next call (timeout, out of memory...). */
const fatalErrors = new WeakSet<ScriptError>();

function fatal(err: ScriptError): ScriptError {
  fatalErrors.add(err);
  return err;
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

function compileError(info: ErrorInfo): ScriptError {
  if (isOutOfMemory(info)) return new ScriptError('memory', 'Script ran out of memory while compiling');
  return new ScriptError('compile', formatError(info), info.lineNumber);
}

interface ScriptSpec {
  params: string[];
  body: string;
  helpers: string | undefined;
  isAsync: boolean;
  limits: Required<ScriptLimits>;
}

// ---------------------------------------------------------------------------------------------------------
// Per-call fast path. quickjs-emscripten's public API wraps every value in a Lifetime object and allocates
// (and frees) a C string and an argument array per call: about 2.2 µs for one string in and one string out.
// DirectCall does the same work straight on the FFI functions the library itself uses, with one reusable
// buffer: about 0.6 µs. It relies on internals of quickjs-emscripten-core 0.32 (context.ffi, context.module,
// context.ctx, handle.value), so it is feature-detected, and the public API is used when they are missing.

interface RawFfi {
  QTS_NewString(ctx: number, str: number): number;
  QTS_Call(ctx: number, fn: number, thisVal: number, argc: number, argv: number): number;
  QTS_ResolveException(ctx: number, value: number): number;
  QTS_GetString(ctx: number, value: number): number;
  QTS_FreeCString(ctx: number, str: number): void;
  QTS_FreeValuePointer(ctx: number, value: number): void;
}

interface RawModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

class DirectCall {
  /** Message of the exception of the last call() that returned undefined. */
  errorMessage = '';

  private constructor(
    private readonly engine: Engine,
    private readonly ffi: RawFfi,
    private readonly mod: RawModule,
    private readonly ctxPtr: number,
    private readonly fnPtr: number,
    private readonly undefinedPtr: number,
  ) {}

  static create(engine: Engine, ctx: QuickJSContext, fn: QuickJSHandle): DirectCall | undefined {
    const inner = ctx as unknown as { ffi?: Partial<RawFfi>; module?: Partial<RawModule>; ctx?: { value?: unknown } };
    const ffi = inner.ffi;
    const mod = inner.module;
    const ctxPtr = inner.ctx?.value;
    const fnPtr = (fn as unknown as { value?: unknown }).value;
    const undefinedPtr = (ctx.undefined as unknown as { value?: unknown }).value;
    if (!ffi || !mod || typeof ctxPtr !== 'number' || typeof fnPtr !== 'number' || typeof undefinedPtr !== 'number') {
      return undefined;
    }
    const names = [
      'QTS_NewString',
      'QTS_Call',
      'QTS_ResolveException',
      'QTS_GetString',
      'QTS_FreeCString',
      'QTS_FreeValuePointer',
    ] as const;
    if (names.some((n) => typeof ffi[n] !== 'function')) return undefined;
    if (!(mod.HEAPU8 instanceof Uint8Array) || typeof mod._malloc !== 'function' || typeof mod._free !== 'function') {
      return undefined;
    }
    return new DirectCall(engine, ffi as RawFfi, mod as RawModule, ctxPtr, fnPtr, undefinedPtr);
  }

  /** Checks, once per engine, that the internals behave as expected: a round trip through a tiny function. */
  static selfTest(engine: Engine, ctx: QuickJSContext): boolean {
    const r = ctx.evalCode("(function (s) { return s + '|' + s.length; })", 'selftest.js', { type: 'global' });
    if (r.error) {
      r.error.dispose();
      return false;
    }
    const fn = r.value;
    try {
      const probe = 'h\u00e9llo \u2713 {"a":[1]}';
      return DirectCall.create(engine, ctx, fn)?.call(probe) === `${probe}|${probe.length}`;
    } catch {
      return false;
    } finally {
      fn.dispose();
    }
  }

  private scratch(bytes: number): { ptr: number; cap: number; argv: number } {
    let s = this.engine.scratch;
    if (!s) {
      const argv = this.mod._malloc(4);
      if (!argv) throw new Error('WebAssembly heap exhausted');
      s = { ptr: 0, cap: 0, argv };
      this.engine.scratch = s;
    }
    if (s.cap < bytes) {
      if (s.ptr) this.mod._free(s.ptr);
      const cap = Math.max(bytes, 4096, s.cap * 2);
      s.ptr = this.mod._malloc(cap);
      s.cap = s.ptr ? cap : 0;
      if (!s.ptr) throw new Error('WebAssembly heap exhausted');
    }
    return s;
  }

  /** Calls the function with one string argument; returns its string result, or undefined if it threw. */
  call(arg: string): string | undefined {
    const { ffi, mod, ctxPtr } = this;
    const s = this.scratch(arg.length * 3 + 1);
    let heap = mod.HEAPU8;
    const written = utf8Encoder.encodeInto(arg, heap.subarray(s.ptr, s.ptr + s.cap - 1)).written;
    heap[s.ptr + written] = 0;
    const argPtr = ffi.QTS_NewString(ctxPtr, s.ptr);
    const argError = ffi.QTS_ResolveException(ctxPtr, argPtr);
    if (argError) {
      ffi.QTS_FreeValuePointer(ctxPtr, argPtr);
      this.errorMessage = this.readString(argError);
      ffi.QTS_FreeValuePointer(ctxPtr, argError);
      return undefined;
    }
    heap = mod.HEAPU8; // the heap may have grown (new buffer)
    heap[s.argv] = argPtr & 255;
    heap[s.argv + 1] = (argPtr >>> 8) & 255;
    heap[s.argv + 2] = (argPtr >>> 16) & 255;
    heap[s.argv + 3] = argPtr >>> 24;
    const resultPtr = ffi.QTS_Call(ctxPtr, this.fnPtr, this.undefinedPtr, 1, s.argv);
    ffi.QTS_FreeValuePointer(ctxPtr, argPtr);
    const errorPtr = ffi.QTS_ResolveException(ctxPtr, resultPtr);
    if (errorPtr) {
      ffi.QTS_FreeValuePointer(ctxPtr, resultPtr);
      this.errorMessage = this.readString(errorPtr);
      ffi.QTS_FreeValuePointer(ctxPtr, errorPtr);
      return undefined;
    }
    const out = this.readString(resultPtr);
    ffi.QTS_FreeValuePointer(ctxPtr, resultPtr);
    return out;
  }

  private readString(valuePtr: number): string {
    const { ffi, mod, ctxPtr } = this;
    const cstr = ffi.QTS_GetString(ctxPtr, valuePtr);
    if (!cstr) return '';
    const heap = mod.HEAPU8;
    const end = heap.indexOf(0, cstr);
    const text = utf8Decoder.decode(heap.subarray(cstr, end < 0 ? heap.length : end));
    ffi.QTS_FreeCString(ctxPtr, cstr);
    return text;
  }
}

/** One QuickJS runtime + context holding a compiled script. */
class Sandbox {
  readonly rt: QuickJSRuntime;
  readonly ctx: QuickJSContext;
  private run: QuickJSHandle | undefined;
  private settle: QuickJSHandle | undefined;
  private direct: DirectCall | undefined;
  private deadline = 0;
  private interrupted = false;
  private readonly timeoutMs: number;
  /** Setup (prelude, helpers, compile) is mostly trusted work: it is not held to a very short call limit. */
  private readonly setupTimeoutMs: number;

  constructor(
    readonly engine: Engine,
    spec: ScriptSpec,
  ) {
    this.timeoutMs = spec.limits.timeoutMs;
    this.setupTimeoutMs = Math.max(spec.limits.timeoutMs, MIN_SETUP_TIMEOUT_MS);
    engine.busy = true;
    this.rt = engine.module.newRuntime();
    try {
      this.rt.setMemoryLimit(spec.limits.memoryBytes);
      this.rt.setMaxStackSize(spec.limits.maxStackBytes);
      this.rt.setInterruptHandler(() => {
        if (Date.now() > this.deadline) {
          this.interrupted = true;
          return true;
        }
        return false;
      });
      this.ctx = this.rt.newContext();
    } catch (err) {
      this.rt.dispose();
      engine.busy = false;
      throw err;
    }
    try {
      this.setup(spec);
    } catch (err) {
      // After a ScriptError QuickJS is intact and can free the runtime; after anything else, leave it alone.
      if (err instanceof ScriptError) {
        this.dispose();
        engine.busy = false;
      }
      throw err;
    }
    engine.busy = false;
  }

  private arm(ms = this.timeoutMs): void {
    this.deadline = Date.now() + ms;
    this.interrupted = false;
  }

  private setup(spec: ScriptSpec): void {
    const { ctx } = this;
    this.arm(this.setupTimeoutMs);
    const install = this.evalSetup(PRELUDE, 'prelude.js');
    try {
      if (spec.helpers) this.evalSetup(spec.helpers, HELPERS_FILE).dispose();
      const source = functionSource(spec.params, spec.body, spec.isAsync);
      const fn = this.evalSetup(source, SCRIPT_FILE);
      const max = ctx.newNumber(spec.limits.maxResultChars);
      const expected = ctx.newString(source.slice(1, -1));
      const pair = ctx.callFunction(install, ctx.undefined, fn, max, expected);
      fn.dispose();
      max.dispose();
      expected.dispose();
      if (pair.error) throw this.setupError(pair.error, 'prelude.js');
      this.run = ctx.getProp(pair.value, 0);
      this.settle = ctx.getProp(pair.value, 1);
      pair.value.dispose();
      const engine = this.engine;
      if (engine.directOk === undefined) engine.directOk = DirectCall.selfTest(engine, ctx);
      if (engine.directOk) this.direct = DirectCall.create(engine, ctx, this.run);
    } finally {
      install.dispose();
    }
  }

  private evalSetup(source: string, file: string): QuickJSHandle {
    const r = this.ctx.evalCode(source, file, { type: 'global' });
    if (r.error) throw this.setupError(r.error, file);
    return r.value;
  }

  private setupError(handle: QuickJSHandle, file: string): ScriptError {
    const info = readVmError(this.ctx, handle);
    if (this.interrupted) {
      return new ScriptError('timeout', `Script setup timed out after ${this.setupTimeoutMs} ms`);
    }
    if (isOutOfMemory(info)) return new ScriptError('memory', 'Script ran out of memory during setup');
    if (file === HELPERS_FILE) return new ScriptError('compile', `Script helpers failed: ${formatError(info)}`);
    return compileError(info);
  }

  /**
   * Runs one call: returns the wrapper's tagged outcome string, or a ScriptError to throw (fatal ones are in
   * `fatalErrors`). Any exception thrown from here came out of the engine itself: `engine.busy` stays set.
   */
  call(json: string): string | ScriptError {
    const engine = this.engine;
    engine.busy = true;
    const outcome = this.callInEngine(json);
    engine.busy = false;
    return outcome;
  }

  private callInEngine(json: string): string | ScriptError {
    const { ctx, rt } = this;
    this.arm();
    let out: string;
    if (this.direct) {
      const o = this.direct.call(json);
      if (o === undefined) return this.escapedMessage(this.direct.errorMessage);
      out = o;
    } else {
      const arg = ctx.newString(json);
      const r = ctx.callFunction(this.run as QuickJSHandle, ctx.undefined, arg);
      arg.dispose();
      if (r.error) return this.escaped(r.error);
      out = ctx.getString(r.value);
      r.value.dispose();
    }
    // Jobs run after the wrapper cleaned up: settle() cleans up after them (and reads a promise's outcome).
    // Converting that outcome may queue jobs again, hence the loop; settle() never returns 'p'.
    while (out === 'p' || rt.hasPendingJob()) {
      const failed = this.drainJobs();
      if (failed) return failed;
      const s = ctx.callFunction(this.settle as QuickJSHandle, ctx.undefined);
      if (s.error) return this.escaped(s.error);
      out = ctx.getString(s.value);
      s.value.dispose();
    }
    if (this.interrupted) return this.timedOut();
    return out;
  }

  /** Runs queued promise jobs until none is left, under the call's deadline. */
  private drainJobs(): ScriptError | undefined {
    const { rt } = this;
    for (;;) {
      const r = rt.executePendingJobs(JOB_BATCH);
      if (r.error) return this.escaped(r.error);
      if (this.interrupted) return this.timedOut();
      if (!rt.hasPendingJob()) return undefined;
      if (Date.now() > this.deadline) return this.timedOut();
    }
  }

  private timedOut(): ScriptError {
    return fatal(new ScriptError('timeout', `Script timed out after ${this.timeoutMs} ms`));
  }

  /** An exception that got past the wrapper: an interrupt, or a failure while handling another failure. */
  private escaped(handle: QuickJSHandle): ScriptError {
    if (this.interrupted) {
      handle.dispose();
      return this.timedOut();
    }
    const info = readVmError(this.ctx, handle);
    if (isOutOfMemory(info)) return fatal(new ScriptError('memory', 'Script exceeded the memory limit'));
    return fatal(new ScriptError('runtime', formatError(info), info.lineNumber));
  }

  /** Same as escaped(), from the exception's string form (DirectCall). */
  private escapedMessage(message: string): ScriptError {
    if (this.interrupted) return this.timedOut();
    if (message.includes('out of memory')) {
      return fatal(new ScriptError('memory', 'Script exceeded the memory limit'));
    }
    return fatal(new ScriptError('runtime', truncate(message || 'unknown error')));
  }

  dispose(): void {
    const engine = this.engine;
    engine.busy = true;
    this.direct = undefined;
    this.run?.dispose();
    this.settle?.dispose();
    this.run = undefined;
    this.settle = undefined;
    this.ctx.dispose();
    this.rt.dispose();
    engine.busy = false;
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

  invokeJson(json: string): string {
    if (this.disposed) throw new ScriptError('runtime', 'Script has been disposed');
    const limits = this.spec.limits;
    // Never enter a sandbox whose engine failed or was left in the middle of a call.
    const current = this.sandbox;
    const sandbox = current && usable(current.engine) ? current : this.rebuild();
    let outcome: string | ScriptError;
    try {
      outcome = sandbox.call(json);
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
      if (err instanceof ScriptError && fatalErrors.has(err)) this.discardSandbox();
      throw err;
    }
  }

  /** True when the next call needs a new engine first (see prepare()). */
  get needsEngine(): boolean {
    return !this.disposed && (this.engine === undefined || !usable(this.engine));
  }

  /** Loads a new engine for a script whose engine failed; calls made before it is ready fail at once. */
  prepare(): Promise<void> {
    if (!this.needsEngine) return Promise.resolve();
    this.preparing ??= createEngine(engineMemoryCap(this.spec.limits.memoryBytes)).then(
      (engine) => {
        this.preparing = undefined;
        if (!this.disposed) this.engine = engine;
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
