/**
 * "integration downlink": encodes a rule-engine message with the integration's downlink converter into
 * messages for the core `mqtt out` node. While the integration's broker is disconnected, they wait in the
 * integration's queue and go out when it is back. Anything that must not or could not be published (encoder
 * error, unresolved or invalid topic, queue full, expired, superseded) goes to Failure instead of being dropped.
 * Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { brokerProblem, resolveIntegration } from '../lib/integration-node';
import { MessageError, MsgType, type RuleMsg } from '../lib/message';
import { t } from '../lib/node-red';
import { pendingRpcs } from '../lib/rpc';
import { acceptRuleMessage, ruleNode } from '../lib/rule-node';

interface DownlinkDef extends NodeDef {
  integration?: string;
}

export = (RED: NodeAPI) => {
  function IntegrationDownlinkNode(this: Node, def: DownlinkDef) {
    RED.nodes.createNode(this, def);
    let notSent = 0;
    let queued = 0;
    const requestUUID = (msg: NodeMessage) => (msg.metadata as { requestUUID?: string } | undefined)?.requestUUID;
    const okText = t(RED, 'integration-downlink.status.ok', 'ok');
    const status = ruleNode(this, {
      config: () => resolveIntegration(RED, def.integration),
      accept: acceptRuleMessage,
      // A requester waiting for this message (an rpc request node) learns that it was not sent.
      onFailure: (err, received, whole) => {
        notSent++;
        if (whole) pendingRpcs.settle(requestUUID(received), { status: 'error', error: err.message });
      },
      failureText: (err) =>
        t(RED, 'integration-downlink.status.notSent', '__n__ not sent: __error__', { n: notSent, error: err.message }),
      handle: async (input) => {
        const { msg, config: cfg } = input;
        const { out, failures } = await cfg.integration.downlink(msg);
        if (failures.length > 0 && out.length === 0) {
          throw failures.length === 1
            ? failures[0]
            : new MessageError(failures.map((f) => f.message).join('; '), failures[0].code);
        }
        const publish = () => {
          input.output(out.map((o) => ({ ...o, metadata: msg.metadata, originator: msg.originator })));
          for (const err of failures) input.itemFailure(err, { ...msg });
          pendingRpcs.delivered(requestUUID(msg));
          if (failures.length === 0) input.status.ok(okStatus());
          input.done();
        };
        // Looked at after the encoder, which may have run while the broker went away.
        const problem = brokerProblem(RED, cfg);
        const waiting = cfg.downlinkWaiting;
        // Commands still waiting go first, even when the broker is back already.
        if (!problem && !waiting?.size) return publish();
        // The core `mqtt out` node would drop the publish without a word.
        if (!waiting || (problem && !problem.waitable)) {
          throw new MessageError(`${problem?.text}: downlink not sent`, 'broker-disconnected');
        }
        queued++;
        waiting.add(
          {
            send: () => {
              queued--;
              publish();
            },
            drop: (d) => {
              queued--;
              input.failure(new MessageError(`${d.message}: downlink not sent`, `downlink-${d.reason}`));
            },
          },
          coalescingKey(msg),
          expirationOf(msg),
        );
        if (!problem) return waiting.check();
        showQueued(problem.text);
        pendingRpcs.notify(requestUUID(msg), { status: 'queued', error: problem.text });
      },
    });
    const okStatus = () => {
      if (queued > 0) return t(RED, 'integration-downlink.status.stillQueued', 'ok (__n__ queued)', { n: queued });
      return notSent > 0
        ? t(RED, 'integration-downlink.status.okNotSentEarlier', 'ok (__n__ not sent earlier)', { n: notSent })
        : okText;
    };
    const showQueued = (why: string) =>
      status.warn(t(RED, 'integration-downlink.status.queued', '__n__ queued: __why__', { n: queued, why }));
  }
  RED.nodes.registerType('rule-integration-downlink', IntegrationDownlinkNode);
};

/** One-way calls to the same device and method replace each other while they wait: only the newest matters. */
function coalescingKey(msg: RuleMsg): string | undefined {
  if (msg.msgType !== MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE || msg.metadata.oneway !== 'true') return undefined;
  const method = (msg.payload as { method?: unknown } | null)?.method;
  return typeof method === 'string' ? `${msg.originator}\u0000${method}` : undefined;
}

/** An RPC call's own expiration (metadata.expirationTime, ms since the epoch), when it has one. */
function expirationOf(msg: RuleMsg): number | undefined {
  const n = Number(msg.metadata.expirationTime);
  return msg.metadata.expirationTime !== undefined && Number.isFinite(n) ? n : undefined;
}
