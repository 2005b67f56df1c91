/**
 * The sandbox: one QuickJS runtime and context, in the script's own engine (script-engine.ts), holding one
 * compiled script. Setting it up evaluates the trusted prelude (sandbox/prelude.js), the helpers, then the
 * script's function, and keeps the prelude's `run` and `settle` for the calls. A call is one string in (the
 * JSON of the arguments) and one tagged string out (see the prelude's protocol), through DirectCall when the
 * engine allows it.
 *
 * Time limit: an interrupt handler compares the clock with the call's deadline (QuickJS polls it every few
 * thousand bytecodes and inside regular-expression matching); pending promise jobs are run before the call
 * returns, still under the same deadline, so `await null; while (true) {}` and `Promise.resolve().then(loop)`
 * are stopped too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten-core';
import { DirectCall } from './script-direct-call';
import type { Engine } from './script-engine';
import {
  compileError,
  fatal,
  formatError,
  isOutOfMemory,
  readVmError,
  SCRIPT_FILE,
  ScriptError,
  truncate,
} from './script-errors';
import type { ScriptLimits } from './script-runtime';

/**
 * The source of a file in sandbox/: JavaScript that runs inside the sandboxes, not in Node.js, kept as plain
 * files (linted as such) that the build copies beside this module.
 */
export function sandboxSource(file: string): string {
  return readFileSync(join(__dirname, 'sandbox', file), 'utf8');
}

const PRELUDE_FILE = 'prelude.js';
const PRELUDE = sandboxSource(PRELUDE_FILE);
const HELPERS_FILE = 'helpers.js';
/** Promise jobs run per executePendingJobs() call between two host-side deadline checks. */
const JOB_BATCH = 1000;
/** Least time allowed for setting a sandbox up (prelude, helpers, the body's top level), in milliseconds. */
const MIN_SETUP_TIMEOUT_MS = 1000;

/** What a sandbox is built from: the script as compiled, with its limits resolved. */
export interface ScriptSpec {
  params: string[];
  body: string;
  helpers: string | undefined;
  /** Whether the body is compiled as an async function (it uses `await`). */
  isAsync: boolean;
  limits: Required<ScriptLimits>;
}

/** The source of the script's function. */
export function functionSource(params: string[], body: string, isAsync: boolean): string {
  // The body starts on line 2, so a line reported in script.js is the body's line + 1.
  return `(${isAsync ? 'async ' : ''}function (${params.join(', ')}) {\n${body}\n})`;
}

/** One QuickJS runtime + context holding a compiled script. */
export class Sandbox {
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

  private arm(ms = this.timeoutMs, since = Date.now()): void {
    this.deadline = since + ms;
    this.interrupted = false;
  }

  private setup(spec: ScriptSpec): void {
    const { ctx } = this;
    this.arm(this.setupTimeoutMs);
    const install = this.evalSetup(PRELUDE, PRELUDE_FILE);
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
      if (pair.error) throw this.setupError(pair.error, PRELUDE_FILE);
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
   * Runs one call: returns the wrapper's tagged outcome string, or a ScriptError to throw (fatal ones are
   * marked: see isFatal). Any exception thrown from here came out of the engine itself: `engine.busy` stays set.
   */
  call(json: string, since = Date.now()): string | ScriptError {
    const engine = this.engine;
    engine.busy = true;
    const outcome = this.callInEngine(json, since);
    engine.busy = false;
    return outcome;
  }

  private callInEngine(json: string, since: number): string | ScriptError {
    const { ctx, rt } = this;
    this.arm(this.timeoutMs, since);
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
