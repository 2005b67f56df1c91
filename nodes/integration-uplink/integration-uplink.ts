/**
 * "integration uplink": decodes what a device sent (from the core `mqtt in` node) with the integration's
 * uplink converter into POST_ATTRIBUTES_REQUEST / POST_TELEMETRY_REQUEST messages, hands RPC replies to their
 * requests, and marks the devices as seen (persistent RPC). Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { payloadBytes } from '../lib/converters';
import { integrationStore, resolveIntegration } from '../lib/integration-node';
import { t } from '../lib/node-red';
import { persistentRpcs } from '../lib/persistent-rpc';
import { pendingRpcs } from '../lib/rpc';
import { ruleNode } from '../lib/rule-node';

interface UplinkDef extends NodeDef {
  integration?: string;
}

export = (RED: NodeAPI) => {
  function IntegrationUplinkNode(this: Node, def: UplinkDef) {
    RED.nodes.createNode(this, def);
    ruleNode(this, {
      okText: t(RED, 'integration-uplink.status.ok', 'ok'),
      config: () => {
        const cfg = resolveIntegration(RED, def.integration);
        return { integration: cfg.integration, store: integrationStore(RED, cfg).deviceStore };
      },
      store: (c) => c.store,
      // The bytes as a device sent them; the msg is left as it arrived, so that a failure keeps them as they were,
      // to be inspected or replayed.
      accept: (msg: NodeMessageInFlow) => payloadBytes(msg.payload),
      handle: async (input) => {
        const msg = input.received;
        const topic = typeof msg.topic === 'string' ? msg.topic : undefined;
        const { integration, store } = input.config;
        // uplink() checks the payload's size and depth before the decoder runs.
        const { messages, failures, devices } = await integration.uplink(input.msg, topic, store, Date.now(), (reply) =>
          pendingRpcs.respond(reply.requestUUID, reply.response),
        );
        // A device seen is sent the persistent RPC requests that wait for it.
        for (const d of devices) persistentRpcs.seen(d, store);
        if (failures.length === 0) {
          input.success(messages);
          return;
        }
        input.output(messages);
        // Each bad item fails alone, as its own message for Failure and for Catch nodes.
        for (const err of failures) input.itemFailure(err, { ...msg });
        input.done();
      },
    });
  }
  RED.nodes.registerType('rule-integration-uplink', IntegrationUplinkNode);
};
