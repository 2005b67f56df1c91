/**
 * Runs deployed scripts (the script node's, the converters') in one worker_thread beside Node-RED's event loop
 * instead of on it. Measured on the 2-core bench machine: a QuickJS call is about 16-20 µs, two per message on
 * the knob-to-device path, about a third of the Node-RED process's time (bench/README.md); through the thread
 * the event loop keeps only the JSON of the arguments, a string per call each way, and the parse of the result.
 *
 * Calls made in one turn of the event loop go over as one batch (flushed on setImmediate), so under load a
 * hand-off carries many calls and costs about a microsecond each; the thread answers every batch in order.
 * Isolation, limits, error descriptions and recovery are script-runtime's, unchanged, inside the thread.
 *
 * Beyond that the thread can be stopped from outside: a watchdog ends it if a batch is not answered within
 * twice the sum of its calls' time limits plus 10 s (it cannot happen while QuickJS's own interrupt works; it
 * is the backstop). A thread that ended for any reason fails the calls it held, with an error, and the next
 * call starts a new one, which compiles every live script again before running it.
 *
 * It is off by default: set RULE_ENGINE_SCRIPT_THREAD=on in Node-RED's environment to use it. Measured on the
 * 2-vCPU bench machine (bench/README.md) it raises throughput (knob-to-device path 0.25 → 0.30 of Node-RED's
 * pass-through, uplink about +45%) but each hand-off can wait for the other thread to be woken, and the p99
 * latency of the two-script path at 1,000 msg/s went from about 3 ms to about 14 ms. Scripts also run on the
 * event loop when a worker cannot be started.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type CompiledScript,
  type CompileOptions,
  compileScript,
  parseResult,
  resolveLimits,
  ScriptError,
  type ScriptErrorKind,
  type ScriptLimits,
  serializeArgs,
} from './script-runtime';
import type { Described, ThreadReply, ThreadRequest } from './script-worker';

/** A compiled script whose calls answer asynchronously. */
export interface ThreadedScript {
  /** Runs the script; resolves with its result or rejects with ScriptError (see CompiledScript.invoke). */
  invoke(args: unknown[]): Promise<unknown>;
  /** Only when the script runs on the event loop: CompiledScript.invoke itself. */
  invokeSync?(args: unknown[]): unknown;
  dispose(): void;
}

const WORKER_FILE = path.join(__dirname, 'script-worker.js');
/**
 * The watchdog allows a batch twice the sum of its calls' time limits plus this. QuickJS checks its interrupt
 * between bytecodes, so one long built-in call can overrun a limit: a memory bomb with a 2 s limit was seen
 * stopping after 4.7 s on the event loop and 6.5 s in the thread. The watchdog is for a thread that hangs.
 */
const GRACE_MS = 10_000;
const WATCHDOG_EVERY_MS = 250;

interface Call {
  script: RemoteScript;
  json: string;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Batch {
  calls: Call[];
  budgetMs: number;
}

function errorFrom(d: Described): ScriptError {
  return new ScriptError(d[0] as ScriptErrorKind, d[1], d[2] ?? undefined);
}

class RemoteScript implements ThreadedScript {
  /** The thread generation this script was last compiled in. */
  generation = -1;
  disposed = false;

  constructor(
    readonly id: number,
    readonly opts: CompileOptions,
    readonly limits: Required<ScriptLimits>,
    private readonly thread: ScriptThread,
  ) {}

  invoke(args: unknown[]): Promise<unknown> {
    if (this.disposed) return Promise.reject(new ScriptError('runtime', 'Script has been disposed'));
    let json: string;
    try {
      json = serializeArgs(args, this.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.thread.call(this, json);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.thread.release(this);
  }
}

export interface ScriptThreadOptions {
  /** The worker's script (tests use one that never answers). */
  workerFile?: string;
  /** See GRACE_MS. */
  graceMs?: number;
}

export class ScriptThread {
  private readonly workerFile: string;
  private readonly graceMs: number;
  private worker: Worker | undefined;
  private generation = 0;
  private nextId = 1;
  private queue: Call[] = [];
  private flushScheduled = false;
  private readonly inflight: Batch[] = [];
  /** When the oldest batch in flight became the one the thread works on. */
  private oldestSince = 0;
  private readonly compiles = new Map<number, { resolve(): void; reject(err: unknown): void }>();
  private watchdog: NodeJS.Timeout | undefined;
  private stopReason = '';
  private referenced = false;
  private readonly flushBound = () => this.flush();

  constructor(options: ScriptThreadOptions = {}) {
    this.workerFile = options.workerFile ?? WORKER_FILE;
    this.graceMs = options.graceMs ?? GRACE_MS;
  }

  async compile(opts: CompileOptions): Promise<ThreadedScript> {
    const limits = resolveLimits(opts.limits);
    const script = new RemoteScript(this.nextId++, { ...opts, limits }, limits, this);
    await new Promise<void>((resolve, reject) => {
      this.compiles.set(script.id, { resolve, reject });
      try {
        this.post(this.ensureWorker(), { op: 'compile', id: script.id, opts: script.opts });
        script.generation = this.generation;
      } catch (err) {
        this.compiles.delete(script.id);
        reject(err);
      }
      this.updateRef();
    });
    return script;
  }

  call(script: RemoteScript, json: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ script, json, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushBound);
      }
    });
  }

  release(script: RemoteScript): void {
    // Calls queued before the dispose go first: the thread handles requests in order.
    if (this.queue.length > 0) this.flush();
    if (this.worker && script.generation === this.generation) {
      this.post(this.worker, { op: 'dispose', id: script.id });
    }
  }

  /** Ends the thread as a crash would (tests, and the watchdog). */
  stop(reason: string): Promise<number> | undefined {
    const w = this.worker;
    if (!w) return undefined;
    this.stopReason = reason;
    return w.terminate();
  }

  private flush(): void {
    this.flushScheduled = false;
    const calls = this.queue;
    if (calls.length === 0) return;
    this.queue = [];
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (err) {
      const e = new ScriptError('runtime', `Script thread cannot start: ${(err as Error).message}`);
      for (const c of calls) c.reject(e);
      return;
    }
    const ids = new Array<number>(calls.length);
    const jsons = new Array<string>(calls.length);
    let budgetMs = this.graceMs;
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as Call;
      const s = c.script;
      if (s.generation !== this.generation) {
        // A new thread: compile again what the last one held (its answer is not awaited; the calls wait in it).
        this.post(worker, { op: 'compile', id: s.id, opts: s.opts });
        s.generation = this.generation;
      }
      ids[i] = s.id;
      jsons[i] = c.json;
      budgetMs += 2 * s.limits.timeoutMs;
    }
    this.post(worker, { op: 'run', ids, jsons });
    if (this.inflight.length === 0) this.oldestSince = Date.now();
    this.inflight.push({ calls, budgetMs });
    this.updateRef();
    if (!this.watchdog) {
      this.watchdog = setInterval(() => this.check(), WATCHDOG_EVERY_MS);
      this.watchdog.unref();
    }
  }

  private check(): void {
    const oldest = this.inflight[0];
    if (!oldest) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
      return;
    }
    if (Date.now() - this.oldestSince > oldest.budgetMs) {
      this.stop(`it did not answer within ${oldest.budgetMs} ms`);
    }
  }

  private onReply(worker: Worker, r: ThreadReply): void {
    if (worker !== this.worker) return;
    if (r.op === 'results') {
      const batch = this.inflight.shift();
      if (!batch) return;
      this.oldestSince = Date.now();
      const { calls } = batch;
      const { outs } = r;
      for (let i = 0; i < calls.length; i++) {
        const c = calls[i] as Call;
        const out = outs[i] ?? 'x["runtime","Script thread protocol error",null]';
        if (out.charCodeAt(0) === 120 /* x */) {
          c.reject(errorFrom(JSON.parse(out.slice(1)) as Described));
          continue;
        }
        let value: unknown;
        try {
          value = parseResult(out);
        } catch (err) {
          c.reject(err);
          continue;
        }
        c.resolve(value);
      }
    } else {
      const pending = this.compiles.get(r.id);
      if (!pending) return; // a compile again after a restart: its calls report any error
      this.compiles.delete(r.id);
      if (r.error) pending.reject(errorFrom(r.error));
      else pending.resolve();
    }
    this.updateRef();
  }

  private onExit(worker: Worker, code: number, error: unknown): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    this.generation++;
    const why = this.stopReason || (error instanceof Error ? error.message : `it exited with code ${code}`);
    this.stopReason = '';
    const err = new ScriptError('runtime', `Script engine failure (the script thread stopped: ${why}); restarting`);
    const batches = this.inflight.splice(0);
    for (const b of batches) for (const c of b.calls) c.reject(err);
    for (const p of this.compiles.values()) p.reject(err);
    this.compiles.clear();
    this.referenced = false;
    if (this.queue.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushBound);
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerFile);
    let error: unknown;
    worker.on('message', (r: ThreadReply) => this.onReply(worker, r));
    worker.on('error', (e) => {
      error = e;
    });
    worker.on('exit', (code) => this.onExit(worker, code, error));
    worker.unref();
    this.worker = worker;
    this.referenced = false;
    return worker;
  }

  private post(worker: Worker, req: ThreadRequest): void {
    worker.postMessage(req);
  }

  /** Keeps the process alive only while the thread holds work for it. */
  private updateRef(): void {
    const w = this.worker;
    if (!w) return;
    const busy = this.inflight.length > 0 || this.compiles.size > 0;
    if (busy !== this.referenced) {
      this.referenced = busy;
      if (busy) w.ref();
      else w.unref();
    }
  }
}

/** On the event loop: the same interface over script-runtime directly, plus the call without a promise. */
class LocalScript implements ThreadedScript {
  constructor(private readonly script: CompiledScript) {}
  invoke(args: unknown[]): Promise<unknown> {
    try {
      return Promise.resolve(this.script.invoke(args));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  invokeSync(args: unknown[]): unknown {
    return this.script.invoke(args);
  }
  dispose(): void {
    this.script.dispose();
  }
}

let shared: ScriptThread | undefined;

/** Off unless RULE_ENGINE_SCRIPT_THREAD is on / 1 / true / yes: see the file comment for why. */
export function threadEnabled(): boolean {
  const v = String(process.env.RULE_ENGINE_SCRIPT_THREAD ?? '')
    .trim()
    .toLowerCase();
  return v === 'on' || v === '1' || v === 'true' || v === 'yes';
}

/** The thread all deployed scripts share (started on first use), or undefined when scripts run in-process. */
export function scriptThread(): ScriptThread | undefined {
  if (!threadEnabled()) return undefined;
  shared ??= new ScriptThread();
  return shared;
}

/**
 * Compiles a script in the script thread (or in-process when the thread is off or cannot start). Rejects like
 * compileScript().
 */
export async function compileThreadedScript(opts: CompileOptions): Promise<ThreadedScript> {
  const thread = scriptThread();
  if (thread) {
    try {
      return await thread.compile(opts);
    } catch (err) {
      if (err instanceof ScriptError || err instanceof TypeError) throw err;
      // The worker itself could not be created: run on the event loop rather than not at all.
    }
  }
  return new LocalScript(await compileScript(opts));
}
