/**
 * A compiled script guarded as ThingsBoard guards its scripts (see GuardedScript), and the bound on every
 * script's time limit. Shared by the script node and the integration's converters; no Node-RED imports.
 */
import { MessageError } from './message';
import { ScriptError } from './script-runtime';
import { ErrorBlocker } from './transform';

/**
 * The longest time limit a script (the script node's, a converter's, a Test run's) may be given, unless
 * Node-RED's settings.js says otherwise with `ruleEngine: { maxScriptTimeout: ms }`. A call holds the event
 * loop (or the script thread) for up to its time limit, so the limit itself is bounded.
 */
export const DEFAULT_MAX_SCRIPT_TIMEOUT_MS = 10_000;

/** A setting a script cannot run with (a time limit over the maximum): messages fail with it, uncounted. */
export class ScriptConfigError extends MessageError {
  readonly kind = 'config';
  constructor(message: string, code: string, details: Record<string, unknown> = {}) {
    super(message, code, details);
    this.name = 'ScriptConfigError';
  }
}

/** The error refusing `timeoutMs`, or undefined when it is within `maxMs`. */
export function timeLimitError(timeoutMs: number, maxMs: number): ScriptConfigError | undefined {
  if (timeoutMs <= maxMs) return undefined;
  return new ScriptConfigError(
    `time limit of ${timeoutMs} ms is over the maximum of ${maxMs} ms (ruleEngine.maxScriptTimeout in Node-RED's settings)`,
    'time-limit-over-max',
    { timeoutMs, maxTimeoutMs: maxMs },
  );
}

/** A script refused because it is blocked; not itself counted towards another block. */
export class ScriptBlockedError extends Error {
  readonly kind = 'blocked';
  readonly code = 'script-blocked';
  constructor(message: string) {
    super(message);
    this.name = 'ScriptBlockedError';
  }
}

/**
 * Errors of a call that say the script itself is broken or dangerous; ThingsBoard counts these towards a block.
 * Size errors are not among them: the size and depth of a call's input are the data's, and so is the size of
 * the result of any script that passes its input on (a decoder's text can be six times the bytes it came from,
 * once JSON escapes control characters), so counting them would let a device block a script. Each such call
 * still fails. A script that cannot be compiled (a syntax error, a body over the size limit, setup that loops)
 * counts on every message it fails.
 */
const COUNTED = new Set(['timeout', 'compile', 'memory']);

/** What GuardedScript runs: a threaded script, or a compiled one called in-process. */
export interface RunnableScript {
  invoke(args: unknown[]): unknown;
  /** Present while the call can be made synchronously: the same call without a promise. */
  readonly invokeSync?: (args: unknown[]) => unknown;
  dispose(): void;
}

/**
 * A compiled script guarded as ThingsBoard guards its scripts: compiled once, refused while blocked, and
 * blocked after too many time-out, memory or compile errors (see COUNTED). Shared by the script node and the
 * integration's converters.
 */
export class GuardedScript {
  private script?: RunnableScript;
  private compileError?: Error;
  private readonly ready: Promise<void>;
  private readonly blocker = new ErrorBlocker();
  private disposed = false;
  /** Calls waiting for the script thread, in order (see run()). */
  private line: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(compile: Promise<RunnableScript>, onCompileError?: (err: Error) => void) {
    this.ready = compile.then(
      (s) => {
        if (this.disposed) s.dispose();
        else this.script = s;
      },
      (err: Error) => {
        this.compileError = err;
        onCompileError?.(err);
      },
    );
  }

  /** Resolves once compilation has finished, either way. */
  whenReady(): Promise<void> {
    return this.ready;
  }
  get compileFailure(): Error | undefined {
    return this.compileError;
  }
  blockedNow(): boolean {
    return this.blocker.remaining() > 0;
  }
  blockedText(): string {
    return this.blocker.describe();
  }

  /**
   * True when runSync() may be used: compiled, the script thread ready for a synchronous call, and no call
   * waiting in line for it (a synchronous call would overtake those).
   */
  get syncReady(): boolean {
    return this.waiting === 0 && this.script?.invokeSync !== undefined;
  }

  async run(args: unknown[]): Promise<unknown> {
    if (!this.script && !this.compileError) await this.ready;
    if (this.syncReady) return this.runSync(args);
    // The script thread is restarting: calls wait in line, in order, and the block is checked when their
    // turn comes, so that a burst queued behind a time-out is refused once the script is blocked.
    this.waiting++;
    const turn = this.line.then(() => this.runInTurn(args));
    this.line = turn.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await turn;
    } finally {
      this.waiting--;
    }
  }

  private async runInTurn(args: unknown[]): Promise<unknown> {
    // Each call in its own turn of the event loop, as messages arrive: two calls never hold it back to back.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.blocker.remaining() > 0) throw new ScriptBlockedError(this.blocker.describe());
    try {
      if (this.compileError || !this.script) throw this.compileError ?? new Error('script not compiled yet');
      return await this.script.invoke(args);
    } catch (err) {
      this.count(err, err === this.compileError);
      throw err;
    }
  }

  /** run() without a promise: only when syncReady (a promise per message costs about 5 µs of 25). */
  runSync(args: unknown[]): unknown {
    if (this.blocker.remaining() > 0) throw new ScriptBlockedError(this.blocker.describe());
    const script = this.script;
    try {
      if (!script?.invokeSync) throw new Error('script not compiled to run synchronously');
      return script.invokeSync(args);
    } catch (err) {
      this.count(err, false);
      throw err;
    }
  }

  private count(err: unknown, compiling: boolean): void {
    const kind = (err as ScriptError).kind;
    if (compiling ? err instanceof ScriptError : COUNTED.has(kind)) {
      this.blocker.record(`${kind}: ${(err as Error).message}`);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.script?.dispose();
    this.script = undefined;
  }
}
