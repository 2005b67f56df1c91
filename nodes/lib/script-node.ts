/**
 * What the script nodes (script, script filter, script switch) do besides Node-RED plumbing: compile once per
 * deploy, run per message, remember the last input for the editor's Test button, and run a Test. No Node-RED
 * imports: the nodes' adapters are in nodes/script/, nodes/script-filter/ and nodes/script-switch/ (over
 * script-rule-node.ts), their admin routes in admin-routes.ts.
 */
import { DEFAULT_MAX_SCRIPT_TIMEOUT_MS, GuardedScript, type ScriptConfigError, timeLimitError } from './guarded-script';
import { checkParsed, cloneMessage, type Metadata, type RuleMsg } from './message';
import { compileInLanguage, languageOf, type ScriptLanguage } from './script-language';
import type { ScriptLimits } from './script-runtime';
import { type ThreadedScript, testScriptHost } from './script-thread';
import { type TestOutcome, testErrorKind, testTimeout } from './test-runs';
import { messagesFromResult, ResultError, type ScriptMessage } from './transform';

export const SCRIPT_PARAMS = ['msg', 'metadata', 'msgType'];

/** ThingsBoard's default sample for its "Test script function" dialog. */
export const DEFAULT_SAMPLE: ScriptMessage = {
  msg: { temperature: 22.4, humidity: 78 },
  metadata: { deviceName: 'Test Device', deviceType: 'default', ts: '1700000000000' },
  msgType: 'POST_TELEMETRY_REQUEST',
};

export interface ScriptSettings {
  body: string;
  /** The body's language: JavaScript when not set. */
  language?: ScriptLanguage;
  timeoutMs: number;
  /** The longest time limit allowed (see maxScriptTimeout); a longer timeoutMs is refused. */
  maxTimeoutMs?: number;
  limits?: Partial<ScriptLimits>;
}

const lastSamples = new Map<string, ScriptMessage>();
const MAX_SAMPLE_CHARS = 100_000;

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
        : compileInLanguage(settings.language ?? 'javascript', {
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

  /**
   * Runs the script on a rule-engine msg and hands its result (and the script's input) to `use`: at once, with no
   * promise per message, once the script is compiled to run on the event loop; else when the call has returned.
   * Whatever `use` returns comes back (in a promise in the second case); an error of the call is thrown (or the
   * promise rejects with it).
   */
  evaluate<T>(msg: RuleMsg, use: (result: unknown, input: ScriptMessage) => T): T | Promise<T> {
    const input: ScriptMessage = { msg: msg.payload, metadata: msg.metadata, msgType: msg.msgType };
    // Kept by reference and serialised only when the editor asks for it.
    if (this.nodeId) lastSamples.set(this.nodeId, input);
    const args = [input.msg, input.metadata, input.msgType];
    if (this.guarded.syncReady) return use(this.guarded.runSync(args), input);
    return this.guarded.run(args).then((result) => use(result, input));
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
export function resultMessages(input: ScriptMessage, result: unknown): ScriptMessage[] {
  try {
    checkParsed(result, 'the script result');
  } catch (err) {
    throw new ResultError((err as Error).message);
  }
  return messagesFromResult(input, result);
}

/**
 * The msgs a script transformation sends for `msg` (the first is `msg` itself, the others copies of it), each
 * with the payload, metadata and msgType the script's result gave it.
 */
export function transformedMessages<M extends RuleMsg>(msg: M, input: ScriptMessage, result: unknown): M[] {
  return resultMessages(input, result).map((o, i) => {
    const m = i === 0 ? msg : { ...msg };
    // Written through the message model's type: the three properties are the model's, whatever else M holds.
    const rule: RuleMsg = m;
    rule.payload = o.msg;
    rule.metadata = o.metadata;
    rule.msgType = o.msgType;
    return m;
  });
}

/** The last input of a deployed script node as plain JSON, when it has one that is not too large. */
export function sampleFor(nodeId: string): ScriptMessage | undefined {
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

/**
 * Compiles and runs a script once on one sample, for the Test button: the output is what `interpret` makes of
 * the result (by default the messages a script transformation sends), and an error it throws fails the run.
 */
export async function testScript(
  req: {
    script?: unknown;
    language?: unknown;
    msg?: unknown;
    metadata?: unknown;
    msgType?: unknown;
    timeout?: unknown;
  },
  maxTimeoutMs = DEFAULT_MAX_SCRIPT_TIMEOUT_MS,
  interpret: (input: ScriptMessage, result: unknown) => unknown = resultMessages,
): Promise<TestOutcome> {
  const timeoutMs = testTimeout(req.timeout, maxTimeoutMs);
  if (typeof timeoutMs !== 'number') return timeoutMs;
  let script: ThreadedScript | undefined;
  try {
    // In the Test buttons' own script thread, whose calls leave the event loop free while they run.
    script = await compileInLanguage(
      languageOf(req.language),
      { params: SCRIPT_PARAMS, body: String(req.script ?? ''), limits: { timeoutMs } },
      testScriptHost(),
    );
    const input: ScriptMessage = {
      msg: cloneMessage(req.msg),
      metadata: (req.metadata ?? {}) as Metadata,
      msgType: typeof req.msgType === 'string' ? req.msgType : '',
    };
    const result = await script.invoke([input.msg, input.metadata, input.msgType]);
    return { ok: true, output: interpret(input, result) };
  } catch (err) {
    return { ok: false, error: { message: (err as Error).message, kind: testErrorKind(err) } };
  } finally {
    script?.dispose();
  }
}
