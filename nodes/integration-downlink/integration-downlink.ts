/**
 * "integration downlink": encodes a rule-engine message with the integration's downlink converter into
 * messages for the core `mqtt out` node. Anything that must not be published (encoder error, unresolved or
 * invalid topic, broker down) goes to Failure instead of being dropped. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { brokerDown, resolveIntegration } from '../lib/integration-node';
import { MessageError } from '../lib/message';
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
    const requestUUID = (msg: NodeMessage) => (msg.metadata as { requestUUID?: string } | undefined)?.requestUUID;
    const okText = t(RED, 'integration-downlink.status.ok', 'ok');
    const refuseIfBrokerDown = (cfg: ReturnType<typeof resolveIntegration>) => {
      const down = brokerDown(RED, cfg);
      // The core `mqtt out` node would drop the publish without a word.
      if (down) throw new MessageError(`${down}: downlink not sent`, 'broker-disconnected');
    };
    ruleNode(this, {
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
        refuseIfBrokerDown(cfg);
        const { out, failures } = await cfg.integration.downlink(msg);
        // Again after the encoder: the broker may have gone while it ran (in the script thread).
        if (out.length > 0) refuseIfBrokerDown(cfg);
        if (failures.length > 0 && out.length === 0) {
          throw failures.length === 1
            ? failures[0]
            : new MessageError(failures.map((f) => f.message).join('; '), failures[0].code);
        }
        input.output(out.map((o) => ({ ...o, metadata: msg.metadata, originator: msg.originator })));
        for (const err of failures) input.itemFailure(err, { ...msg });
        pendingRpcs.settle(requestUUID(msg), { status: 'ok' });
        if (failures.length === 0) {
          input.status.ok(
            notSent > 0
              ? t(RED, 'integration-downlink.status.okNotSentEarlier', 'ok (__n__ not sent earlier)', { n: notSent })
              : okText,
          );
        }
        input.done();
      },
    });
  }
  RED.nodes.registerType('rule-integration-downlink', IntegrationDownlinkNode);
};
