/**
 * What the script node does besides Node-RED plumbing: compile once per deploy, run per message, count the
 * errors that block a script, remember the last input for the editor's Test button, the Test route, and the
 * bounds every path shares: the longest time limit allowed, and the gate Test runs go through.
 */
import type { NodeAPI } from 'node-red';
import { checkParsed, cloneMessage, MessageError, type Metadata } from './message';
import { adminPermission, numberSetting } from './node-red';
import { ScriptError, type ScriptLimits } from './script-runtime';
import { compileThreadedScript, type ThreadedScript, testScriptHost } from './script-thread';
import {
  type BlockPolicy,
  DEFAULT_BLOCK_POLICY,
  ErrorBlocker,
  messagesFromResult,
  ResultError,
  type ScriptMessage,
} from './transform';

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
  /** The longest time limit allowed (see maxScriptTimeout); a longer timeoutMs is refused. */
  maxTimeoutMs?: number;
  limits?: Partial<ScriptLimits>;
}

/**
 * The longest time limit a script (the script node's, a converter's, a Test run's) may be given, unless
 * Node-RED's settings.js says otherwise with `ruleEngine: { maxScriptTimeout: ms }`. A call holds the event
 * loop (or the script thread) for up to its time limit, so the limit itself is bounded.
 */
export const DEFAULT_MAX_SCRIPT_TIMEOUT_MS = 10_000;

/** The maximum time limit from Node-RED's settings; a value that is not a positive number is ignored. */
export function maxScriptTimeout(RED: NodeAPI): number {
  const engine = (RED.settings as unknown as { ruleEngine?: { maxScriptTimeout?: unknown } } | undefined)?.ruleEngine;
  return numberSetting(engine?.maxScriptTimeout, DEFAULT_MAX_SCRIPT_TIMEOUT_MS, 1);
}

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

const lastSamples = new Map<string, ScriptMessage>();
const MAX_SAMPLE_CHARS = 100_000;

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

export class ScriptNodeRunner {
  private readonly guarded: GuardedScript;
  private nodeId?: string;
  /** Why the node's settings are refused (nothing is compiled then), if they are. */
  readonly configError: ScriptConfigError | undefined;

  constructor(settings: ScriptSettings, hooks: { onCompileError?: (err: Error) => void } = {}) {
    this.configError = timeLimitError(settings.timeoutMs, settings.maxTimeoutMs ?? DEFAULT_MAX_SCRIPT_TIMEOUT_MS);
    this.guarded = new GuardedScript(
      this.configError
        ? Promise.reject(this.configError)
        : compileThreadedScript({
            params: SCRIPT_PARAMS,
            body: settings.body,
            limits: { ...settings.limits, timeoutMs: settings.timeoutMs },
          }),
      this.configError ? undefined : hooks.onCompileError,
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

/** How a Test run went, as the Test routes answer it. */
export type TestOutcome =
  | { ok: true; output: unknown }
  | { ok: false; error: { message: string; kind: string; [detail: string]: unknown } };

/** The kind a failed Test run reports for `err`. */
export function testErrorKind(err: unknown): string {
  const kind = (err as { kind?: unknown })?.kind;
  if (typeof kind === 'string') return kind;
  return err instanceof MessageError ? 'input' : 'runtime';
}

/** A Test request the gate turns away: too soon after errors (429), or while another runs for the node (409). */
export class TestRefusedError extends Error {
  constructor(
    readonly status: 409 | 429,
    readonly kind: 'busy' | 'blocked',
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'TestRefusedError';
  }
}

/** Errors of a Test run that count towards blocking Test runs for the node: the ones that hold the server. */
const TEST_COUNTED = new Set(['timeout', 'memory']);
/** Nodes with a Test running or with errors that still count, at most (ids come from the request). */
const MAX_TEST_NODES = 1000;

/**
 * Test runs (the editor's Test buttons), keyed by the node being edited: one at a time per node, and blocked
 * for that node after 3 time-outs or memory errors within 60 s, as a deployed script is. A Test run compiles
 * and runs a script on the server, for up to its time limit, so a Test button pressed again and again must not
 * hold the server any more than the deployed node could.
 */
export class TestGate {
  private readonly nodes = new Map<string, { blocker: ErrorBlocker; busy: boolean }>();

  constructor(
    private readonly policy: BlockPolicy = DEFAULT_BLOCK_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `test` as node `id`'s Test run, or throws TestRefusedError. */
  async run(id: string, test: () => Promise<TestOutcome>): Promise<TestOutcome> {
    let entry = this.nodes.get(id);
    if (!entry) {
      if (this.nodes.size >= MAX_TEST_NODES) {
        throw new TestRefusedError(429, 'busy', 'too many Test runs are running or blocked: try again later', 60);
      }
      entry = { blocker: new ErrorBlocker(this.policy, this.now), busy: false };
      this.nodes.set(id, entry);
    }
    if (entry.busy) {
      throw new TestRefusedError(409, 'busy', 'a Test run of this node is still running: wait for its result');
    }
    const left = entry.blocker.remaining();
    if (left > 0) {
      throw new TestRefusedError(
        429,
        'blocked',
        entry.blocker.describe('Test runs of this node'),
        Math.ceil(left / 1000),
      );
    }
    entry.busy = true;
    try {
      const outcome = await test();
      if (!outcome.ok && TEST_COUNTED.has(outcome.error.kind)) {
        entry.blocker.record(`${outcome.error.kind}: ${outcome.error.message}`);
      }
      return outcome;
    } finally {
      entry.busy = false;
      if (entry.blocker.idle()) this.nodes.delete(id);
    }
  }
}

/** One gate per admin app (Node-RED has one; test runtimes make one per load), shared by every Test route. */
const gates = new WeakMap<object, TestGate>();

export function testGateOf(app: object): TestGate {
  let gate = gates.get(app);
  if (!gate) {
    gate = new TestGate();
    gates.set(app, gate);
  }
  return gate;
}

interface TestResponse {
  status(code: number): { json(body: unknown): unknown };
  set(field: string, value: string): unknown;
}

/**
 * Answers a Test request through the admin app's gate, keyed by the node id the editor sends (requests without
 * one share a key): the outcome with 200, or 400 when the request's settings are refused; 409 or 429 with
 * `{ok: false, error: {message, kind: "busy" | "blocked"}}` when the gate turns it away.
 */
export function answerTest(app: object, res: TestResponse, nodeId: unknown, test: () => Promise<TestOutcome>): void {
  const key = typeof nodeId === 'string' && nodeId.length > 0 && nodeId.length <= 100 ? nodeId : '';
  testGateOf(app)
    .run(key, test)
    .then(
      (o) => res.status(!o.ok && o.error.kind === 'config' ? 400 : 200).json(o),
      (err: unknown) => {
        if (err instanceof TestRefusedError) {
          if (err.retryAfterS !== undefined) res.set('Retry-After', String(err.retryAfterS));
          res.status(err.status).json({ ok: false, error: { message: err.message, kind: err.kind } });
          return;
        }
        res
          .status(500)
          .json({ ok: false, error: { message: String((err as Error)?.message ?? err), kind: 'internal' } });
      },
    );
}

/** The time limit a Test request asks for (default 500 ms), or the outcome refusing it. */
export function testTimeout(value: unknown, maxMs: number): number | TestOutcome {
  const timeoutMs = numberSetting(value, 500, 1);
  const refused = timeLimitError(timeoutMs, maxMs);
  return refused ? { ok: false, error: { message: refused.message, kind: refused.kind } } : timeoutMs;
}

/** Compiles and runs a script once on one sample, for the Test button. */
export async function testScript(
  req: {
    script: string;
    msg?: unknown;
    metadata?: unknown;
    msgType?: unknown;
    timeout?: unknown;
  },
  maxTimeoutMs = DEFAULT_MAX_SCRIPT_TIMEOUT_MS,
): Promise<TestOutcome> {
  const timeoutMs = testTimeout(req.timeout, maxTimeoutMs);
  if (typeof timeoutMs !== 'number') return timeoutMs;
  let script: ThreadedScript | undefined;
  try {
    // In the Test buttons' own script thread, whose calls leave the event loop free while they run.
    script = await compileThreadedScript(
      { params: SCRIPT_PARAMS, body: String(req.script ?? ''), limits: { timeoutMs } },
      testScriptHost(),
    );
    const input: ScriptMessage = {
      msg: cloneMessage(req.msg),
      metadata: (req.metadata ?? {}) as Metadata,
      msgType: typeof req.msgType === 'string' ? req.msgType : '',
    };
    const result = await script.invoke([input.msg, input.metadata, input.msgType]);
    return { ok: true, output: resultMessages(input, result) };
  } catch (err) {
    return { ok: false, error: { message: (err as Error).message, kind: testErrorKind(err) } };
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
    const body = req.body ?? {};
    answerTest(RED.httpAdmin, res, body.id, () => testScript(body, maxScriptTimeout(RED)));
  });
  // The last input of a deployed node may hold what a device sent (tokens, secrets): write permission, as the
  // Test run that uses it.
  RED.httpAdmin.get('/rule-engine/script/sample/:id', ...adminPermission(RED, 'rule-script.write'), (req, res) => {
    const sample = sampleFor(String(req.params.id));
    res.json({ source: sample ? 'last' : 'default', sample: sample ?? DEFAULT_SAMPLE });
  });
}
