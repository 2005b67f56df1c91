/**
 * What the script node does besides Node-RED plumbing: compile once per deploy, run per message, count the
 * errors that block a script, remember the last input for the editor's Test button, and the Test route.
 */
import type { NodeAPI } from 'node-red';
import { checkParsed, cloneMessage, type Metadata } from './message';
import { adminPermission } from './node-red';
import { ScriptError, type ScriptLimits } from './script-runtime';
import { compileThreadedScript, type ThreadedScript } from './script-thread';
import { ErrorBlocker, messagesFromResult, ResultError, type ScriptMessage } from './transform';

export const SCRIPT_PARAMS = ['msg', 'metadata', 'msgType'];

/** ThingsBoard's default sample for its "Test script function" dialog. */
export const DEFAULT_SAMPLE: ScriptMessage = {
  msg: { temperature: 22.4, humidity: 78 },
  metadata: { deviceName: 'Test Device', deviceType: 'default', ts: '1700000000000' },
  msgType: 'POST_TELEMETRY_REQUEST',
};

export interface ScriptSettings {
  body: string;
  timeoutMs: number;
  limits?: Partial<ScriptLimits>;
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

const lastSamples = new Map<string, ScriptMessage>();
const MAX_SAMPLE_CHARS = 100_000;

/** What GuardedScript runs: a threaded script, or a compiled one called in-process. */
export interface RunnableScript {
  invoke(args: unknown[]): unknown;
  /** Present when the script runs on the event loop: the same call without a promise. */
  invokeSync?(args: unknown[]): unknown;
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

  /** True once compiled to a script that runs on the event loop: runSync() may then be used. */
  get syncReady(): boolean {
    return this.script?.invokeSync !== undefined;
  }

  async run(args: unknown[]): Promise<unknown> {
    if (!this.script && !this.compileError) await this.ready;
    if (this.syncReady) return this.runSync(args);
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

export class ScriptNodeRunner {
  private readonly guarded: GuardedScript;
  private nodeId?: string;

  constructor(settings: ScriptSettings, hooks: { onCompileError?: (err: Error) => void } = {}) {
    this.guarded = new GuardedScript(
      compileThreadedScript({
        params: SCRIPT_PARAMS,
        body: settings.body,
        limits: { ...settings.limits, timeoutMs: settings.timeoutMs },
      }),
      hooks.onCompileError,
    );
  }

  /** Keep the last input under this node id, for the editor's Test button. */
  remember(nodeId: string): void {
    this.nodeId = nodeId;
  }

  blockedNow(): boolean {
    return this.guarded.blockedNow();
  }
  blockedText(): string {
    return this.guarded.blockedText();
  }

  /** True once compiled to run on the event loop: runSync() may then be used. */
  get syncReady(): boolean {
    return this.guarded.syncReady;
  }

  /** Runs the script on a rule-engine msg; resolves with the output msgs (the first is `msg` itself). */
  async run(msg: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    const input = this.inputOf(msg);
    return this.outputs(msg, input, await this.guarded.run([input.msg, input.metadata, input.msgType]));
  }

  /** run() without the promise, once syncReady: the per-message path of a deployed node. */
  runSync(msg: Record<string, unknown>): Record<string, unknown>[] {
    const input = this.inputOf(msg);
    return this.outputs(msg, input, this.guarded.runSync([input.msg, input.metadata, input.msgType]));
  }

  private inputOf(msg: Record<string, unknown>): ScriptMessage {
    const input: ScriptMessage = {
      msg: msg.payload,
      metadata: msg.metadata as Metadata,
      msgType: msg.msgType as string,
    };
    // Kept by reference and serialised only when the editor asks for it.
    if (this.nodeId) lastSamples.set(this.nodeId, input);
    return input;
  }

  private outputs(msg: Record<string, unknown>, input: ScriptMessage, result: unknown): Record<string, unknown>[] {
    const outs = resultMessages(input, result);
    return outs.map((o, i) => {
      const m = i === 0 ? msg : { ...msg };
      m.payload = o.msg;
      m.metadata = o.metadata;
      m.msgType = o.msgType;
      return m;
    });
  }

  dispose(): void {
    this.guarded.dispose();
    if (this.nodeId) lastSamples.delete(this.nodeId);
  }
}

/**
 * The messages a script result stands for (messagesFromResult), once the result passed the message model's
 * depth limit and lost its `__proto__` keys (see checkParsed). Too deep is a ResultError.
 */
function resultMessages(input: ScriptMessage, result: unknown): ScriptMessage[] {
  try {
    checkParsed(result, 'the script result');
  } catch (err) {
    throw new ResultError((err as Error).message);
  }
  return messagesFromResult(input, result);
}

/** The last input of a deployed script node as plain JSON, when it has one that is not too large. */
function sampleFor(nodeId: string): ScriptMessage | undefined {
  const s = lastSamples.get(nodeId);
  if (!s) return undefined;
  try {
    const text = JSON.stringify(s);
    return text !== undefined && text.length <= MAX_SAMPLE_CHARS ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (a cycle, a BigInt...): the Test dialog falls back to the default sample.
    return undefined;
  }
}

/** Compiles and runs a script once on one sample, for the Test button. */
export async function testScript(req: {
  script: string;
  msg?: unknown;
  metadata?: unknown;
  msgType?: unknown;
  timeout?: unknown;
}): Promise<{ ok: true; output: ScriptMessage[] } | { ok: false; error: { message: string; kind: string } }> {
  let script: ThreadedScript | undefined;
  try {
    const timeoutMs = Math.min(Math.max(Number(req.timeout) || 500, 1), 10_000);
    script = await compileThreadedScript({
      params: SCRIPT_PARAMS,
      body: String(req.script ?? ''),
      limits: { timeoutMs },
    });
    const input: ScriptMessage = {
      msg: cloneMessage(req.msg),
      metadata: (req.metadata ?? {}) as Metadata,
      msgType: typeof req.msgType === 'string' ? req.msgType : '',
    };
    const result = await script.invoke([input.msg, input.metadata, input.msgType]);
    return { ok: true, output: resultMessages(input, result) };
  } catch (err) {
    const kind = err instanceof ScriptError || err instanceof ResultError ? err.kind : 'runtime';
    return { ok: false, error: { message: (err as Error).message, kind } };
  } finally {
    script?.dispose();
  }
}

// Once per admin app: Node-RED loads a node module once, but test runtimes hand each load a new app.
const routedApps = new WeakSet<object>();

export function registerScriptTestRoute(RED: NodeAPI): void {
  if (!RED.httpAdmin || routedApps.has(RED.httpAdmin)) return;
  routedApps.add(RED.httpAdmin);
  RED.httpAdmin.post('/rule-engine/script/test', ...adminPermission(RED, 'rule-script.write'), (req, res) => {
    testScript(req.body ?? {}).then(
      (r) => res.json(r),
      (err) => res.status(500).json({ ok: false, error: { message: String(err?.message ?? err), kind: 'internal' } }),
    );
  });
  RED.httpAdmin.get('/rule-engine/script/sample/:id', ...adminPermission(RED, 'rule-script.read'), (req, res) => {
    const sample = sampleFor(String(req.params.id));
    res.json({ source: sample ? 'last' : 'default', sample: sample ?? DEFAULT_SAMPLE });
  });
}
