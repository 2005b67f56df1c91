/**
 * Test runs (the editor's Test buttons) without HTTP: how a run went, the time limit a request asks for, and the
 * gate every run goes through. No Node-RED imports; the routes are in admin-routes.ts.
 */
import { timeLimitError } from './guarded-script';
import { MessageError } from './message';
import { numberSetting } from './settings';
import { type BlockPolicy, DEFAULT_BLOCK_POLICY, ErrorBlocker } from './transform';

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

/** The time limit a Test request asks for (default 500 ms), or the outcome refusing it. */
export function testTimeout(value: unknown, maxMs: number): number | TestOutcome {
  const timeoutMs = numberSetting(value, 500, 1);
  const refused = timeLimitError(timeoutMs, maxMs);
  return refused ? { ok: false, error: { message: refused.message, kind: refused.kind } } : timeoutMs;
}
