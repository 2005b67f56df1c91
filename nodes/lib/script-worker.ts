/**
 * The script thread's side (see script-thread.ts): a worker_thread that holds the QuickJS sandbox of every
 * deployed script and answers one request at a time through the shared memory of script-channel.ts. Isolation,
 * limits, error descriptions and recovery are script-runtime's own; this file keeps the scripts by id.
 *
 * Between requests it spins for a moment (a request that follows soon is picked up without waking a sleeping
 * thread, which costs tens of microseconds here), then sleeps in Atomics.wait; it stops spinning for a while
 * when it finds the cores shared (spin-policy.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  Channel,
  type Described,
  OP_CALL,
  OP_COMPILE,
  OP_DISPOSE,
  STATE_FAILED,
  STATUS_ERROR,
  STATUS_OK,
} from './script-channel';
import { type CompiledScript, type CompileOptions, compileScript, ScriptError } from './script-runtime';
import { SpinPolicy } from './spin-policy';

export interface WorkerSettings {
  /** How long the thread spins for the next request before it sleeps, in microseconds. */
  spinMicros: number;
}

function describe(err: unknown): Described {
  if (err instanceof ScriptError) return [err.kind, err.message, err.lineNumber ?? null];
  return ['runtime', `Script thread failure: ${err instanceof Error ? err.message : String(err)}`, null];
}

const settings = workerData as WorkerSettings;
const channel = new Channel();
const spinPolicy = new SpinPolicy({ spinMs: settings.spinMicros / 1000 });
const scripts = new Map<number, CompiledScript>();

/** Handles one request; returns the script that may need a new engine before the next one. */
async function handle(request: number): Promise<CompiledScript | undefined> {
  const { op, id, text, postedAt } = channel.request();
  const answer = (status: number, reply: string) => channel.reply(request, status, reply);
  try {
    if (op === OP_CALL) {
      const script = scripts.get(id);
      if (!script) throw new ScriptError('runtime', 'Script is not loaded in the script thread');
      if (script.needsPrepare) await script.prepare();
      try {
        // The main thread ends the thread at its own deadline, counted from the post: the script's deadline is
        // counted from there too, so that a loop QuickJS can interrupt is stopped before, even when this
        // thread woke late.
        answer(STATUS_OK, script.invokeJson(text, postedAt));
      } catch (err) {
        answer(STATUS_ERROR, JSON.stringify(describe(err)));
      }
      return script;
    }
    if (op === OP_COMPILE) {
      scripts.get(id)?.dispose();
      scripts.delete(id);
      scripts.set(id, await compileScript(JSON.parse(text) as CompileOptions));
      answer(STATUS_OK, 'u');
      return undefined;
    }
    if (op === OP_DISPOSE) {
      scripts.get(id)?.dispose();
      scripts.delete(id);
      answer(STATUS_OK, 'u');
      return undefined;
    }
    throw new ScriptError('runtime', `Script thread protocol error (operation ${op})`);
  } catch (err) {
    answer(STATUS_ERROR, JSON.stringify(describe(err)));
    return undefined;
  }
}

async function serve(): Promise<void> {
  // The first engine of a thread compiles much of QuickJS's code lazily (about 100 ms): done before any
  // request, so that no call waits for it.
  const warm = await compileScript({ params: ['m'], body: 'return m;' });
  warm.invoke([1]);
  warm.dispose();
  // The main thread gets the channel with this message: no request came before.
  let seen = 0;
  parentPort?.postMessage(channel.announceReady());
  for (;;) {
    seen = channel.nextRequest(seen, spinPolicy);
    const called = await handle(seen);
    // What the call lost (its sandbox after a time-out, its engine after a failure) is rebuilt now, not at the
    // start of the next call, where it would count against that call's time limit.
    if (called?.needsPrepare) await called.prepare();
  }
}

serve().catch(() => channel.setState(STATE_FAILED));
