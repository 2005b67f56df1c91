/**
 * The one shape of every rule-engine node's input handling, so that each node checks its input, finds what it is
 * configured with and reports how a message went in the same way (README, "Message model"):
 *  1. `accept` checks the msg as it arrived and returns it typed as the node works on it (validateMessage for a
 *     rule-engine message), or throws;
 *  2. `config` finds what the node is configured with (its device store, its integration), or throws; it is
 *     also called once at deploy, so that a configuration error shows on the status before any message;
 *  3. `handle` does the node's work and ends the message with success() or failure().
 * An error thrown in any step, or a promise from `handle` that rejects, is a failure: the error on the status,
 * the msg on the Failure output (the last one unless `failureOutput` says) with `msg.error` saying why,
 * node.error(text, msg) so Catch nodes see it too, and done.
 */
import type { Node, NodeAPI, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { ConnectionState, DeviceStore } from './device-store';
import { MessageError, type RuleMsg, validateMessage } from './message';
import { type Done, resolveDeviceStore, type Send, StatusTracker } from './node-red';

/** What goes out on one output: a message, or several in turn. */
export type Out = NodeMessage | NodeMessage[];

/** A msg that passed validateMessage: the Node-RED msg as it arrived, with the message model's properties. */
export type RuleNodeMessage = NodeMessageInFlow & RuleMsg;

/** `accept` for nodes that take a rule-engine message. */
export function acceptRuleMessage(msg: NodeMessageInFlow): RuleNodeMessage {
  return validateMessage(msg);
}

/** `config` for nodes configured with a device store (the id of a rule-device-store config node). */
export function deviceStoreOf(RED: NodeAPI, id: string | undefined): () => DeviceStore {
  return () => resolveDeviceStore(RED, id).deviceStore;
}

export interface RuleInput<M, C> {
  /** The msg as `accept` returned it. */
  readonly msg: M;
  /** The msg as it arrived. */
  readonly received: NodeMessageInFlow;
  /** What `config` returned for this message. */
  readonly config: C;
  readonly status: StatusTracker;
  /** Sends `out` on one output (the first unless told), leaving status and done to the caller; [] sends nothing. */
  output(out: Out, port?: number): void;
  /** Sends `out` (the msg as it arrived unless told) on the first output, shows `text` (or "ok"), and done. */
  success(out?: Out, text?: string): void;
  /** The msg as it arrived to Failure (see the module comment), and done. */
  failure(err: unknown): void;
  /** One bad item of several: `m` (a copy of the msg) to Failure as failure() sends the msg, without done. */
  itemFailure(err: unknown, m: NodeMessage): void;
  done(): void;
}

export interface RuleNodeSpec<M, C> {
  /** The status success() shows unless told otherwise (default "ok"): the node's text from its catalog. */
  okText?: string;
  /** How many outputs the node has (default 2: Success, Failure); failures go to the last unless told. */
  outputs?: number;
  /** The output failures go to, when not the last (an output added after Failure keeps old wiring valid). */
  failureOutput?: number;
  config?: () => C;
  /**
   * The device store in what `config` returned, for a store on a server: the node's status follows its
   * connection (connecting, down and why, back to ok).
   */
  store?: (config: C) => DeviceStore | undefined;
  accept: (msg: NodeMessageInFlow) => M;
  /** Ends the message itself, at once or later; a promise it returns that rejects is a failure. */
  handle: (input: RuleInput<M, C>) => unknown;
  /** Called first for every failure: `whole` when the message failed as a whole, not one item of it. */
  onFailure?: (err: Error, received: NodeMessageInFlow, whole: boolean) => void;
  /** The status of a failure (default: the error's message). */
  failureText?: (err: Error) => string;
  /**
   * What a failure sends (default: the msg with `msg.error`); `accepted` is what `accept` returned, unless it is
   * `accept` that failed.
   */
  failureMessage?: (err: Error, m: NodeMessage, accepted: M | undefined) => NodeMessage;
}

/**
 * Sets up `node`'s input handling as `spec` says (see the module comment) and checks its configuration; returns
 * the node's status, for what it shows outside a message (a time-out, say).
 */
export function ruleNode<M, C = undefined>(node: Node, spec: RuleNodeSpec<M, C>): StatusTracker {
  const rule = new RuleNode(node, spec, spec.okText ?? 'ok');
  try {
    const config = spec.config?.() as C;
    const store = spec.store?.(config);
    const connection = store?.connection;
    if (store && connection) {
      const show = (s: ConnectionState) => connectionStatus(rule.status, rule.okText, s, store.describeConnection);
      show(connection.current);
      node.on('close', connection.watch(show));
    }
  } catch (err) {
    rule.status.error(asError(err).message);
  }
  node.on('input', (received: NodeMessageInFlow, send: Send, done: Done) => rule.input(received, send, done));
  return rule.status;
}

/** The status for a store server's connection: yellow while connecting, red with the reason when down. */
function connectionStatus(
  status: StatusTracker,
  okText: string,
  s: ConnectionState,
  describe: (s: ConnectionState) => string,
): void {
  if (s.state === 'ready') status.ok(okText);
  else if (s.state === 'connecting') status.warn(describe(s));
  else status.error(describe(s));
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The part of a node's input handling that stays the same from message to message. */
class RuleNode<M, C> {
  readonly status: StatusTracker;
  readonly outputs: number;

  constructor(
    readonly node: Node,
    readonly spec: RuleNodeSpec<M, C>,
    readonly okText: string,
  ) {
    this.status = new StatusTracker(node);
    this.outputs = spec.outputs ?? 2;
  }

  input(received: NodeMessageInFlow, send: Send, done: Done): void {
    let accepted: M | undefined;
    let input: Input<M, C> | undefined;
    try {
      accepted = this.spec.accept(received);
      // Found again for each message: a config node can be redeployed or disabled in between.
      const config = this.spec.config?.() as C;
      input = new Input(this, received, accepted, config, send, done);
      const pending = this.spec.handle(input);
      if (pending instanceof Promise) {
        const settled = input;
        pending.then(undefined, (err: unknown) => {
          if (settled.ended) throw err;
          settled.failure(err);
        });
      }
    } catch (err) {
      // An error from send() itself, after the message ended, is Node-RED's to report, as it was before.
      if (input?.ended) throw err;
      this.fail(err, received, received, accepted, send, true);
      done();
    }
  }

  send(send: Send, out: Out, port: number): void {
    if (Array.isArray(out) && out.length === 0) return;
    const all: Array<NodeMessage | NodeMessage[] | null> = new Array(this.outputs).fill(null);
    all[port] = out;
    send(all);
  }

  fail(
    err: unknown,
    received: NodeMessageInFlow,
    m: NodeMessage,
    accepted: M | undefined,
    send: Send,
    whole: boolean,
  ): void {
    const error = asError(err);
    this.spec.onFailure?.(error, received, whole);
    const out = this.spec.failureMessage ? this.spec.failureMessage(error, m, accepted) : this.withError(m, err, error);
    this.status.error(this.spec.failureText ? this.spec.failureText(error) : error.message);
    this.send(send, out, this.spec.failureOutput ?? this.outputs - 1);
    // Reported by its message alone, so a Catch node sees exactly the text that msg.error carries (done(err)
    // would put the error's class name in front).
    this.node.error(error.message, m);
  }

  /** `m` with `msg.error`: the message, the code and kind when the error has them, its details, and the node. */
  private withError(m: NodeMessage, err: unknown, error: Error): NodeMessage {
    const code = (err as { code?: unknown } | null)?.code;
    const kind = (err as { kind?: unknown } | null)?.kind;
    m.error = {
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof kind === 'string' ? { kind } : {}),
      ...(err instanceof MessageError ? err.details : {}),
      source: { id: this.node.id, type: this.node.type, name: this.node.name },
    };
    return m;
  }
}

/** One message on its way through a node: what its handler is given. */
class Input<M, C> implements RuleInput<M, C> {
  /** Set once success() or failure() has ended the message. */
  ended = false;

  constructor(
    private readonly rule: RuleNode<M, C>,
    readonly received: NodeMessageInFlow,
    readonly msg: M,
    readonly config: C,
    private readonly sendFn: Send,
    private readonly doneFn: Done,
  ) {}

  get status(): StatusTracker {
    return this.rule.status;
  }

  output(out: Out, port = 0): void {
    this.rule.send(this.sendFn, out, port);
  }

  success(out: Out = this.received, text = this.rule.okText): void {
    this.ended = true;
    this.rule.status.ok(text);
    this.rule.send(this.sendFn, out, 0);
    this.doneFn();
  }

  failure(err: unknown): void {
    this.ended = true;
    this.rule.fail(err, this.received, this.received, this.msg, this.sendFn, true);
    this.doneFn();
  }

  itemFailure(err: unknown, m: NodeMessage): void {
    this.rule.fail(err, this.received, m, this.msg, this.sendFn, false);
  }

  done(): void {
    this.ended = true;
    this.doneFn();
  }
}
