/**
 * The script thread's side (see script-thread.ts): a worker_thread holding the QuickJS sandboxes of every
 * deployed script, so that running them costs Node-RED's event loop only the JSON in and out. The sandboxes,
 * limits and recovery are script-runtime's own; this file only keeps them by id and answers in order.
 *
 * Messages from the main thread, handled strictly in the order they arrive:
 *   { op: 'compile', id, opts }   answered { op: 'compiled', id, error? }
 *   { op: 'run', ids, jsons }     answered { op: 'results', outs }: per call `u`, `v` + the result's JSON, or
 *                                 `x` + the JSON of [kind, message, lineNumber] of the ScriptError it threw
 *   { op: 'dispose', id }         not answered
 */
import { parentPort } from 'node:worker_threads';
import { type CompiledScript, type CompileOptions, compileScript, ScriptError } from './script-runtime';

export type ThreadRequest =
  | { op: 'compile'; id: number; opts: CompileOptions }
  | { op: 'run'; ids: number[]; jsons: string[] }
  | { op: 'dispose'; id: number };

export type ThreadReply = { op: 'compiled'; id: number; error?: Described } | { op: 'results'; outs: string[] };

export type Described = [kind: string, message: string, lineNumber: number | null];

function describeError(err: unknown): Described {
  if (err instanceof ScriptError) return [err.kind, err.message, err.lineNumber ?? null];
  return ['runtime', `Script thread failure: ${err instanceof Error ? err.message : String(err)}`, null];
}

const ready = new Map<number, CompiledScript>();
const compiling = new Map<number, Promise<void>>();
const failed = new Map<number, Described>();
/** Requests that arrived while an earlier one waited for a compilation: run after it, in order. */
let waiting = 0;
let tail: Promise<void> = Promise.resolve();

function compile(id: number, opts: CompileOptions, reply: (r: ThreadReply) => void): void {
  const done = compileScript(opts).then(
    (script) => {
      ready.set(id, script);
      reply({ op: 'compiled', id });
    },
    (err: unknown) => {
      failed.set(id, describeError(err));
      reply({ op: 'compiled', id, error: describeError(err) });
    },
  );
  compiling.set(
    id,
    done.finally(() => compiling.delete(id)),
  );
}

function runBatch(ids: number[], jsons: string[]): string[] {
  const outs = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    const script = ready.get(id);
    if (!script) {
      outs[i] = `x${JSON.stringify(failed.get(id) ?? ['runtime', 'Script is not loaded in the script thread', null])}`;
      continue;
    }
    try {
      outs[i] = script.invokeJson(jsons[i] as string);
    } catch (err) {
      outs[i] = `x${JSON.stringify(describeError(err))}`;
    }
  }
  return outs;
}

function dispose(id: number): void {
  ready.get(id)?.dispose();
  ready.delete(id);
  failed.delete(id);
}

/** Handles one request: at once, or after the compilations it needs and the requests before it. */
function handle(req: ThreadRequest, reply: (r: ThreadReply) => void): void {
  if (req.op === 'compile') {
    compile(req.id, req.opts, reply);
    return;
  }
  const pending = req.op === 'run' ? req.ids.filter((id) => compiling.has(id)) : compiling.has(req.id) ? [req.id] : [];
  const act = () => {
    if (req.op === 'run') reply({ op: 'results', outs: runBatch(req.ids, req.jsons) });
    else dispose(req.id);
  };
  if (waiting === 0 && pending.length === 0) {
    act();
    return;
  }
  waiting++;
  tail = tail
    .then(() => Promise.all(pending.map((id) => compiling.get(id))))
    .then(act)
    .catch(() => {
      // Nothing in act() throws but a failed postMessage, which the main thread's watchdog catches.
    })
    .finally(() => {
      waiting--;
    });
}

if (parentPort) {
  const port = parentPort;
  const reply = (r: ThreadReply) => port.postMessage(r);
  port.on('message', (req: ThreadRequest) => handle(req, reply));
}
