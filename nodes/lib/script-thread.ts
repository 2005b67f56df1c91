/**
 * Runs every deployed script (the script node's, the converters') in a worker_thread, called synchronously:
 * the event loop hands one call over through shared memory (script-channel.ts) and waits for the answer with
 * the call's deadline. That keeps the per-message semantics of a call on the event loop (one message at a
 * time, in order, no promise) and adds a bound that does not depend on QuickJS: QuickJS checks its time limit
 * between bytecodes, so one slow built-in call (a naive `indexOf` over long strings, a sort of long strings)
 * could run for minutes. When the answer is not there at the time limit plus GRACE_MS, the thread is ended
 * (V8 stops WebAssembly at its next loop iteration or call) and a spare thread, started and warmed up in
 * advance, takes over. Only one call is ever in a thread, so ending it fails no other script's call; the
 * scripts it held are compiled again in the new thread on their next call.
 *
 * While it waits, the event loop spins for a moment before it sleeps, and the thread spins for a moment after
 * each answer: a call then crosses in about a microsecond each way instead of the tens of microseconds that
 * waking a sleeping thread takes here (bench/README.md).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  Channel,
  type Described,
  ID,
  LENGTH,
  newChannelBuffers,
  OP,
  OP_CALL,
  OP_COMPILE,
  OP_DISPOSE,
  REPLY,
  REQUEST,
  STATE,
  STATE_READY,
  STATUS,
  STATUS_OK,
} from './script-channel';
import {
  type CompileOptions,
  parseResult,
  resolveLimits,
  ScriptError,
  type ScriptErrorKind,
  type ScriptLimits,
  serializeArgs,
} from './script-runtime';
import type { WorkerSettings } from './script-worker';

/** A compiled script. */
export interface ThreadedScript {
  /** Runs the script; resolves with its result or rejects with ScriptError (see CompiledScript.invoke). */
  invoke(args: unknown[]): Promise<unknown>;
  /** The same call without a promise; present while a script thread is ready to take it. */
  readonly invokeSync?: (args: unknown[]) => unknown;
  dispose(): void;
}

const WORKER_FILE = path.join(__dirname, 'script-worker.js');
/** How far past a call's time limit the event loop waits before it ends the thread. */
export const GRACE_MS = 15;
/** Setting up a sandbox is allowed at least this long (script-runtime's MIN_SETUP_TIMEOUT_MS and more). */
const COMPILE_BUDGET_MS = 5_000;
/** How long the event loop spins for an answer before it sleeps in Atomics.wait. */
const MAIN_SPIN_MS = 1;

function spinMicros(): number {
  const v = Number(process.env.RULE_ENGINE_SCRIPT_SPIN_US);
  return Number.isFinite(v) && v >= 0 ? v : 200;
}

function errorFrom(d: Described): ScriptError {
  return new ScriptError(d[0] as ScriptErrorKind, d[1], d[2] ?? undefined);
}

/** One worker thread and its channel. */
class ScriptWorker {
  readonly channel: Channel;
  readonly worker: Worker;
  private sequence = 0;
  dead = false;
  /** Why it was ended, for errors. */
  endedBecause = '';

  constructor(workerFile: string) {
    const buffers = newChannelBuffers();
    const settings: WorkerSettings = { ...buffers, spinMicros: spinMicros() };
    this.channel = new Channel(buffers);
    const worker = new Worker(workerFile, { workerData: settings });
    this.worker = worker;
    // Kept referenced while it starts, so that a process waiting for it does not exit; idle, it never keeps
    // Node-RED from exiting.
    this.booted = new Promise<boolean>((resolve) => {
      worker.on('message', (m) => {
        if (m === 'ready') {
          worker.unref();
          resolve(true);
        }
      });
      worker.on('exit', () => resolve(false));
    });
    worker.on('error', (err) => this.end(`it failed: ${err.message}`));
    worker.on('exit', (code) => this.end(`it exited with code ${code}`));
  }

  private readonly booted: Promise<boolean>;

  get ready(): boolean {
    return !this.dead && Atomics.load(this.channel.control, STATE) === STATE_READY;
  }

  /** Resolves once ready, false if it died first. */
  whenReady(): Promise<boolean> {
    return this.booted;
  }

  end(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.endedBecause = reason;
    this.worker.terminate().catch(() => {});
  }

  /**
   * Sends one request and waits for its answer, at most `budgetMs`. Returns the answer's status and text, or
   * undefined when the thread did not answer in time or died (it has been ended then).
   */
  request(op: number, id: number, text: string, budgetMs: number): { status: number; text: string } | undefined {
    const control = this.channel.control;
    const length = this.channel.write(text);
    if (length < 0) throw new ScriptError('size', 'Script input does not fit the script thread');
    control[OP] = op;
    control[ID] = id;
    control[LENGTH] = length;
    const request = ++this.sequence;
    Atomics.store(control, REQUEST, request);
    Atomics.notify(control, REQUEST);
    const start = performance.now();
    const deadline = start + budgetMs;
    const spinUntil = start + MAIN_SPIN_MS;
    for (;;) {
      if (Atomics.load(control, REPLY) === request) break;
      const now = performance.now();
      if (now >= deadline) {
        this.end(`it did not answer within ${budgetMs} ms`);
        return undefined;
      }
      if (now >= spinUntil) {
        if (Atomics.load(control, STATE) !== STATE_READY) {
          this.end('its loop stopped');
          return undefined;
        }
        Atomics.wait(control, REPLY, request - 1, Math.min(deadline - now, 100));
      }
    }
    return { status: control[STATUS] as number, text: this.channel.read(control[LENGTH] as number) };
  }
}

class HostedScript implements ThreadedScript {
  /** The worker this script is compiled in. */
  worker: ScriptWorker | undefined;
  disposed = false;
  readonly text: string;

  constructor(
    readonly id: number,
    opts: CompileOptions,
    readonly limits: Required<ScriptLimits>,
    private readonly host: ScriptHost,
  ) {
    this.text = JSON.stringify({ ...opts, limits });
  }

  readonly call = (args: unknown[]): unknown => {
    if (this.disposed) throw new ScriptError('runtime', 'Script has been disposed');
    return this.host.call(this, serializeArgs(args, this.limits));
  };

  get invokeSync(): ((args: unknown[]) => unknown) | undefined {
    return this.host.loadedIn(this) ? this.call : undefined;
  }

  async invoke(args: unknown[]): Promise<unknown> {
    if (this.disposed) throw new ScriptError('runtime', 'Script has been disposed');
    if (!this.host.loadedIn(this)) {
      await this.host.whenReady();
      this.host.reload(this);
      // The call in a turn of the event loop of its own: compiling and calling are never held back to back.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return this.call(args);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.host.release(this);
  }
}

export interface ScriptHostOptions {
  /** The worker's script (tests use one that never answers). */
  workerFile?: string;
}

export class ScriptHost {
  private readonly workerFile: string;
  private active: ScriptWorker | undefined;
  private spare: ScriptWorker | undefined;
  private nextId = 1;
  private readonly live = new Set<HostedScript>();
  /** Threads ended because a call or a compilation overran its deadline (or the thread died). */
  restarts = 0;

  constructor(options: ScriptHostOptions = {}) {
    this.workerFile = options.workerFile ?? WORKER_FILE;
  }

  /** True when a thread is ready to take a call now. */
  get ready(): boolean {
    return this.current()?.ready === true;
  }

  /** Resolves once a thread is ready (starting one if needed). Rejects if threads keep dying while starting. */
  async whenReady(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const w = this.current() ?? this.promote();
      if (await w.whenReady()) return;
    }
    throw new ScriptError('runtime', 'The script thread cannot start');
  }

  async compile(opts: CompileOptions): Promise<ThreadedScript> {
    const limits = resolveLimits(opts.limits);
    const script = new HostedScript(this.nextId++, opts, limits, this);
    await this.whenReady();
    this.load(script, limits);
    this.live.add(script);
    return script;
  }

  /** True when the script is compiled in the thread that is ready for calls now. */
  loadedIn(script: HostedScript): boolean {
    const w = this.active;
    return w !== undefined && script.worker === w && w.ready;
  }

  /** Runs one call synchronously; returns the result or throws ScriptError. */
  call(script: HostedScript, json: string): unknown {
    const w = this.current();
    if (!w?.ready) throw new ScriptError('runtime', 'The script thread is restarting; try again shortly');
    if (script.worker !== w) this.reload(script);
    const answer = w.request(OP_CALL, script.id, json, script.limits.timeoutMs + GRACE_MS);
    if (!answer) {
      this.lost(w);
      throw new ScriptError('timeout', `Script timed out after ${script.limits.timeoutMs} ms (its thread was ended)`);
    }
    if (answer.status !== STATUS_OK) throw errorFrom(JSON.parse(answer.text) as Described);
    return parseResult(answer.text);
  }

  release(script: HostedScript): void {
    this.live.delete(script);
    const w = script.worker;
    script.worker = undefined;
    if (w && w === this.active && w.ready) {
      if (!w.request(OP_DISPOSE, script.id, '', COMPILE_BUDGET_MS)) this.lost(w);
    }
  }

  /** Ends both threads (tests; a host used after close() starts new ones). */
  close(): void {
    for (const w of [this.active, this.spare]) w?.end('the host was closed');
    this.active = undefined;
    this.spare = undefined;
  }

  /** Ends the current thread, as an overrun would (tests). */
  endThread(reason: string): void {
    const w = this.active;
    if (w) {
      w.end(reason);
      this.lost(w);
    }
  }

  /** The thread calls go to, promoting the spare when the active one died. */
  private current(): ScriptWorker | undefined {
    if (this.active && !this.active.dead) return this.active;
    return this.promote();
  }

  private promote(): ScriptWorker {
    const w = this.spare && !this.spare.dead ? this.spare : new ScriptWorker(this.workerFile);
    this.active = w;
    this.spare = undefined;
    // Starting a thread costs the event loop a few milliseconds: not in the call that ended the last one.
    setImmediate(() => {
      if (this.active === w && !this.spare) this.spare = new ScriptWorker(this.workerFile);
    });
    return w;
  }

  private lost(w: ScriptWorker): void {
    if (this.active !== w) return;
    this.restarts++;
    const next = this.promote();
    setImmediate(() => {
      this.reloadAll(next).catch(() => {});
    });
  }

  /** Compiles the script in the current thread (synchronously: the caller waits for it). */
  private load(script: HostedScript, limits: Required<ScriptLimits>): void {
    const w = this.current();
    if (!w?.ready) throw new ScriptError('runtime', 'The script thread is restarting; try again shortly');
    const budget = COMPILE_BUDGET_MS + 2 * Math.max(limits.timeoutMs, 1000);
    const answer = w.request(OP_COMPILE, script.id, script.text, budget);
    if (!answer) {
      this.lost(w);
      throw new ScriptError('timeout', `Script setup did not finish within ${budget} ms (its thread was ended)`);
    }
    if (answer.status !== STATUS_OK) throw errorFrom(JSON.parse(answer.text) as Described);
    script.worker = w;
  }

  /**
   * After a thread restart: compiles the script again in the current thread (synchronously). It compiled
   * before, so a failure here is the engine's, reported as such and never counted against the script.
   */
  reload(script: HostedScript): void {
    if (script.disposed || this.loadedIn(script)) return;
    try {
      this.load(script, script.limits);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ScriptError('runtime', `Script could not be loaded again after the script thread restarted: ${why}`);
    }
  }

  /** Compiles every live script in a new thread, one per turn of the event loop, before their next call. */
  private async reloadAll(w: ScriptWorker): Promise<void> {
    if (!(await w.whenReady())) return;
    for (const script of [...this.live]) {
      if (this.active !== w) return;
      await new Promise((resolve) => setImmediate(resolve));
      try {
        this.reload(script);
      } catch {
        // Its next call reports it.
      }
    }
  }
}

let shared: ScriptHost | undefined;

/** The host all deployed scripts share (its threads start on first use). */
export function scriptHost(): ScriptHost {
  shared ??= new ScriptHost();
  return shared;
}

/** Compiles a script in the script thread. Rejects like compileScript(). */
export function compileThreadedScript(opts: CompileOptions): Promise<ThreadedScript> {
  return scriptHost().compile(opts);
}
