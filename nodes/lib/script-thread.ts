/**
 * Runs every deployed script (the script node's, the converters') in a worker_thread, called synchronously:
 * the event loop hands one call over through shared memory (script-channel.ts) and waits for the answer with
 * the call's deadline. That keeps the per-message semantics of a call on the event loop (one message at a
 * time, in order, no promise) and adds a bound that does not depend on QuickJS: QuickJS checks its time limit
 * between bytecodes, so one slow built-in call (a naive `indexOf` over long strings, a sort of long strings)
 * could run for minutes. When the answer is not there at the time limit plus GRACE_MS, the thread is ended
 * (V8 stops WebAssembly at its next loop iteration or call) and a spare thread takes over at once: it was
 * started in advance and holds a copy of every script, compiled while it waited. Only one call is ever in a
 * thread, so ending it fails no other script's call; a script the spare lacks is compiled before its next call,
 * without holding the event loop.
 *
 * While it waits, the event loop spins for a moment before it sleeps, and the thread spins for a moment after
 * each answer: a call then crosses in about a microsecond each way instead of the tens of microseconds that
 * waking a sleeping thread takes here (bench/README.md). Either side stops spinning for a while when it finds
 * the cores shared (spin-policy.ts).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type Answer,
  Channel,
  type Described,
  isReadyMessage,
  OP_CALL,
  OP_COMPILE,
  OP_DISPOSE,
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
import { SpinPolicy, spin } from './spin-policy';

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
export const GRACE_MS = 10;
/** Setting up a sandbox is allowed at least this long (script-runtime's MIN_SETUP_TIMEOUT_MS and more). */
const COMPILE_BUDGET_MS = 5_000;
/** A call that held the event loop this long defers the calls after it to the next turn (see heldThisTurn). */
const LONG_CALL_MS = 20;
/** How long the event loop spins for an answer before it sleeps in Atomics.wait (one policy per process). */
const mainSpin = new SpinPolicy({ spinMs: 1 });

function spinMicros(): number {
  const v = Number(process.env.RULE_ENGINE_SCRIPT_SPIN_US);
  return Number.isFinite(v) && v >= 0 ? v : 200;
}

function errorFrom(d: Described): ScriptError {
  return new ScriptError(d[0] as ScriptErrorKind, d[1], d[2] ?? undefined);
}

/** One worker thread and its channel. */
class ScriptWorker {
  /** Set once the thread is ready (it allocates the shared memory itself: see ReadyMessage). */
  private channel: Channel | undefined;
  readonly worker: Worker;
  /** The request sent without waiting for it (see send()), until its answer is read. */
  private inFlight:
    | { request: number; budgetMs: number; sentAt: number; settle(a: Answer | undefined): void }
    | undefined;
  /** Requests sent without waiting, in order. */
  private queue: Promise<unknown> = Promise.resolve();
  dead = false;
  private readonly booted: Promise<boolean>;

  constructor(workerFile: string) {
    const settings: WorkerSettings = { spinMicros: spinMicros() };
    const worker = new Worker(workerFile, { workerData: settings });
    this.worker = worker;
    // Kept referenced while it starts, so that a process waiting for it does not exit; idle, it never keeps
    // Node-RED from exiting.
    this.booted = new Promise<boolean>((resolve) => {
      worker.on('message', (m: unknown) => {
        if (isReadyMessage(m) && !this.channel) {
          this.channel = new Channel(m.ready);
          worker.unref();
          resolve(true);
        }
      });
      worker.on('exit', () => resolve(false));
    });
    worker.on('error', () => this.end());
    worker.on('exit', () => this.end());
  }

  get ready(): boolean {
    return !this.dead && this.channel?.ready === true;
  }

  /** Resolves once ready, false if it died first. */
  whenReady(): Promise<boolean> {
    return this.booted;
  }

  /** True while a request sent without waiting (send()) is not answered: a call would wait for it. */
  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Resolves once every request sent without waiting has its answer. */
  async drained(): Promise<void> {
    let q: Promise<unknown>;
    do {
      q = this.queue;
      await q;
    } while (q !== this.queue);
  }

  end(): void {
    if (this.dead) return;
    this.dead = true;
    this.worker.terminate().catch(() => {});
    const pending = this.inFlight;
    this.inFlight = undefined;
    pending?.settle(undefined);
  }

  /**
   * Sends one request and waits for its answer, at most `budgetMs`. Returns the answer, or undefined when the
   * thread did not answer in time or died (it has been ended then). A request sent earlier without waiting is
   * waited for first, within its own budget.
   */
  request(op: number, id: number, text: string, budgetMs: number): Answer | undefined {
    const earlier = this.inFlight;
    if (earlier) {
      const a = this.wait(earlier.request, earlier.sentAt + earlier.budgetMs);
      this.inFlight = undefined;
      earlier.settle(a);
      // Not this request's fault: not a time-out of its script.
      if (!a) throw new ScriptError('runtime', 'The script thread was ended while it compiled another script');
    }
    return this.wait(this.post(op, id, text), performance.now() + budgetMs);
  }

  /**
   * Sends one request without holding the event loop for it: requests sent so are answered in order, each
   * within its budget; a synchronous request() first waits for the one the thread is working on.
   */
  send(op: number, id: number, text: string, budgetMs: number): Promise<Answer | undefined> {
    const turn = this.queue
      .then(() => this.booted)
      .then(
        (booted) =>
          new Promise<Answer | undefined>((settle) => {
            if (!booted || this.dead) return settle(undefined);
            let request: number;
            try {
              request = this.post(op, id, text);
            } catch {
              return settle(undefined);
            }
            this.inFlight = { request, budgetMs, sentAt: performance.now(), settle };
            this.poll(request);
          }),
      );
    this.queue = turn;
    return turn;
  }

  /** Checks, every millisecond, whether the request sent by send() has its answer. */
  private poll(request: number): void {
    const f = this.inFlight;
    if (!f || f.request !== request) return; // answered through request(), or the thread ended
    const channel = this.open;
    if (channel.answered(request)) {
      this.inFlight = undefined;
      f.settle(channel.answer());
    } else if (performance.now() > f.sentAt + f.budgetMs || !this.ready) {
      this.end();
    } else {
      setTimeout(() => this.poll(request), 1);
    }
  }

  /** The channel of a thread that is ready (requests go to no other). */
  private get open(): Channel {
    if (!this.channel) throw new ScriptError('runtime', 'The script thread is still starting');
    return this.channel;
  }

  private post(op: number, id: number, text: string): number {
    const request = this.open.post(op, id, text);
    if (request < 0) throw new ScriptError('size', 'Script input does not fit the script thread');
    return request;
  }

  /** Waits for the answer to `request` until `deadline` (performance.now() time). */
  private wait(request: number, deadline: number): Answer | undefined {
    const channel = this.open;
    if (spin(mainSpin, () => channel.answered(request))) return channel.answer();
    for (;;) {
      if (channel.answered(request)) return channel.answer();
      const now = performance.now();
      if (now >= deadline || this.dead || !channel.ready) {
        this.end();
        return undefined;
      }
      channel.sleepForAnswer(request, Math.min(deadline - now, 100));
    }
  }
}

class HostedScript implements ThreadedScript {
  /** The threads this script is compiled in. */
  readonly loaded = new Set<ScriptWorker>();
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
    return !this.host.detached && this.host.loadedIn(this) && !this.host.heldThisTurn ? this.call : undefined;
  }

  async invoke(args: unknown[]): Promise<unknown> {
    if (this.disposed) throw new ScriptError('runtime', 'Script has been disposed');
    if (this.host.detached) return this.host.callDetached(this, serializeArgs(args, this.limits));
    while (!this.host.loadedIn(this) || this.host.heldThisTurn) await this.host.prepare(this);
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
  /**
   * Calls do not hold the event loop: invoke() resolves when the thread answers (ended at the time limit
   * plus GRACE_MS as well). No spare thread. For the editor's Test buttons.
   */
  detached?: boolean;
}

/**
 * The two threads: the active one takes the calls; the spare holds a copy of every script, compiled without
 * holding the event loop, so that it takes over at once when the active one is ended.
 */
export class ScriptHost {
  private readonly workerFile: string;
  private active: ScriptWorker | undefined;
  private spare: ScriptWorker | undefined;
  private nextId = 1;
  private readonly live = new Set<HostedScript>();
  /** Copies being compiled in a thread: script -> promise of whether it compiled. */
  private readonly copies = new Map<ScriptWorker, Map<HostedScript, Promise<boolean>>>();
  /** Threads ended because a call or a compilation overran its deadline (or the thread died). */
  restarts = 0;
  /**
   * Set when a call held the event loop for long in this turn of it: later calls wait for the next turn, so
   * that messages queued together never add their calls' time limits up before other flows get a turn.
   */
  heldThisTurn = false;

  readonly detached: boolean;

  constructor(options: ScriptHostOptions = {}) {
    this.workerFile = options.workerFile ?? WORKER_FILE;
    this.detached = options.detached === true;
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
    const w = this.current();
    if (!w?.ready) throw new ScriptError('runtime', 'The script thread is restarting; try again shortly');
    const budget = compileBudget(limits);
    const answer = w.request(OP_COMPILE, script.id, script.text, budget);
    if (!answer) {
      this.lost(w);
      throw new ScriptError('timeout', `Script setup did not finish within ${budget} ms (its thread was ended)`);
    }
    if (answer.status !== STATUS_OK) throw errorFrom(JSON.parse(answer.text) as Described);
    script.loaded.add(w);
    this.live.add(script);
    if (this.spare) this.copy(script, this.spare);
    return script;
  }

  /**
   * True when the script can be called synchronously now: compiled in the thread that takes calls, which is
   * ready and not compiling anything else (a call would wait for that first).
   */
  loadedIn(script: HostedScript): boolean {
    const w = this.active;
    return w !== undefined && !w.dead && !w.busy && script.loaded.has(w) && w.ready;
  }

  /** Resolves once both threads are ready and hold every live script (tests). */
  async settled(): Promise<void> {
    await this.whenReady();
    for (let i = 0; i < 100; i++) {
      const workers = [this.active, this.spare].filter((w): w is ScriptWorker => w !== undefined && !w.dead);
      if (
        workers.length === 2 &&
        workers.every((w) => w.ready && !w.busy) &&
        [...this.live].every((s) => workers.every((w) => s.loaded.has(w)))
      )
        return;
      await Promise.all(workers.map(async (w) => (await w.whenReady()) && w.drained()));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Makes the script callable in the current thread: waits for its copy there, or compiles it (the scripts of
   * a thread that was ended before its spare had them). It compiled before, so a failure here is the
   * engine's, reported as such and never counted against the script.
   */
  async prepare(script: HostedScript): Promise<void> {
    await this.whenReady();
    const w = this.current();
    if (!w) return;
    if (!script.loaded.has(w)) {
      const ok = await this.copy(script, w);
      if (!ok && this.active === w && !w.dead) {
        throw new ScriptError('runtime', 'Script could not be loaded again after the script thread restarted');
      }
    }
    // Nor does it wait for another script's compilation in the thread.
    await w.drained();
    // The call in a turn of the event loop of its own.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Runs one call synchronously; returns the result or throws ScriptError. */
  call(script: HostedScript, json: string): unknown {
    const w = this.current();
    if (!w?.ready || !script.loaded.has(w)) {
      throw new ScriptError('runtime', 'The script thread is restarting; try again shortly');
    }
    let answer: Answer | undefined;
    const start = performance.now();
    try {
      answer = w.request(OP_CALL, script.id, json, script.limits.timeoutMs + GRACE_MS);
    } catch (err) {
      this.lost(w);
      throw err;
    } finally {
      if (!this.heldThisTurn && performance.now() - start > LONG_CALL_MS) {
        this.heldThisTurn = true;
        // A timer runs at the start of a later turn, before that turn's I/O and immediates.
        setTimeout(() => {
          this.heldThisTurn = false;
        }, 0);
      }
    }
    if (!answer) {
      this.lost(w);
      throw new ScriptError('timeout', `Script timed out after ${script.limits.timeoutMs} ms (its thread was ended)`);
    }
    if (answer.status !== STATUS_OK) throw errorFrom(JSON.parse(answer.text) as Described);
    return parseResult(answer.text);
  }

  /** A call that leaves the event loop free while the thread works (detached hosts). */
  async callDetached(script: HostedScript, json: string): Promise<unknown> {
    await this.prepare(script);
    const w = this.current();
    if (!w?.ready || !script.loaded.has(w)) {
      throw new ScriptError('runtime', 'The script thread is restarting; try again shortly');
    }
    const answer = await w.send(OP_CALL, script.id, json, script.limits.timeoutMs + GRACE_MS);
    if (!answer) {
      this.lost(w);
      throw new ScriptError('timeout', `Script timed out after ${script.limits.timeoutMs} ms (its thread was ended)`);
    }
    if (answer.status !== STATUS_OK) throw errorFrom(JSON.parse(answer.text) as Described);
    return parseResult(answer.text);
  }

  release(script: HostedScript): void {
    this.live.delete(script);
    for (const w of script.loaded) {
      if (w.dead) continue;
      if (w === this.active) {
        let answered = false;
        try {
          answered = w.request(OP_DISPOSE, script.id, '', COMPILE_BUDGET_MS) !== undefined;
        } catch {
          // The thread was ended meanwhile: nothing of the script is left in it.
        }
        if (!answered) this.lost(w);
      } else {
        w.send(OP_DISPOSE, script.id, '', COMPILE_BUDGET_MS).catch(() => {});
      }
    }
    script.loaded.clear();
  }

  /** Ends both threads (tests; a host used after close() starts new ones). */
  close(): void {
    for (const w of [this.active, this.spare]) w?.end();
    this.active = undefined;
    this.spare = undefined;
  }

  /** Ends the current thread, as an overrun would (tests). */
  endThread(): void {
    const w = this.active;
    if (w) {
      w.end();
      this.lost(w);
    }
  }

  /** Compiles a copy of the script in a thread without holding the event loop; resolves whether it did. */
  private copy(script: HostedScript, w: ScriptWorker): Promise<boolean> {
    let copies = this.copies.get(w);
    if (!copies) {
      copies = new Map();
      this.copies.set(w, copies);
    }
    const existing = copies.get(script);
    if (existing) return existing;
    const done = w
      .whenReady()
      .then((ready) =>
        ready && !script.disposed
          ? w.send(OP_COMPILE, script.id, script.text, compileBudget(script.limits))
          : undefined,
      )
      .then((answer) => {
        copies.delete(script);
        if (!answer || answer.status !== STATUS_OK) return false;
        if (script.disposed) {
          w.send(OP_DISPOSE, script.id, '', COMPILE_BUDGET_MS).catch(() => {});
          return false;
        }
        script.loaded.add(w);
        return true;
      });
    copies.set(script, done);
    return done;
  }

  /** The thread calls go to, promoting the spare when the active one died. */
  private current(): ScriptWorker | undefined {
    if (this.active && !this.active.dead) return this.active;
    return this.promote();
  }

  private promote(): ScriptWorker {
    if (this.active) this.copies.delete(this.active);
    // Nothing keeps an ended thread (and its 16 MB of shared memory) alive.
    for (const script of this.live) for (const w of script.loaded) if (w.dead) script.loaded.delete(w);
    const w = this.spare && !this.spare.dead ? this.spare : new ScriptWorker(this.workerFile);
    this.active = w;
    this.spare = undefined;
    // Starting a thread costs the event loop a few milliseconds: not in the call that ended the last one.
    setImmediate(() => {
      if (this.detached || this.active !== w || this.spare) return;
      const spare = new ScriptWorker(this.workerFile);
      this.spare = spare;
      for (const script of this.live) this.copy(script, spare);
    });
    return w;
  }

  private lost(w: ScriptWorker): void {
    if (this.active !== w) return;
    this.restarts++;
    const next = this.promote();
    // Scripts whose copy the spare did not have yet are compiled there now, without holding the event loop.
    for (const script of this.live) if (!script.loaded.has(next)) this.copy(script, next);
  }
}

function compileBudget(limits: Required<ScriptLimits>): number {
  return COMPILE_BUDGET_MS + 2 * Math.max(limits.timeoutMs, 1000);
}

let shared: ScriptHost | undefined;
let forTests: ScriptHost | undefined;

/** The host all deployed scripts share (its threads start on first use). */
export function scriptHost(): ScriptHost {
  shared ??= new ScriptHost();
  return shared;
}

/** The host of the editor's Test runs: a thread of its own, whose calls leave the event loop free. */
export function testScriptHost(): ScriptHost {
  forTests ??= new ScriptHost({ detached: true });
  return forTests;
}

/** Compiles a script in a script thread (the deployed scripts' by default). Rejects like compileScript(). */
export function compileThreadedScript(opts: CompileOptions, host: ScriptHost = scriptHost()): Promise<ThreadedScript> {
  return host.compile(opts);
}
