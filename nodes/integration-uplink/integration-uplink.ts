/**
 * "integration uplink": decodes what a device sent (from the core `mqtt in` node) with the integration's
 * uplink converter into POST_ATTRIBUTES_REQUEST / POST_TELEMETRY_REQUEST messages. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { payloadBytes } from '../lib/converters';
import { integrationStore, resolveIntegration } from '../lib/integration-node';
import { type Done, type Send, StatusTracker, sendFailure, t } from '../lib/node-red';

interface UplinkDef extends NodeDef {
  integration?: string;
}

export = (RED: NodeAPI) => {
  function IntegrationUplinkNode(this: Node, def: UplinkDef) {
    RED.nodes.createNode(this, def);
    const status = new StatusTracker(this);
    const okText = t(RED, 'integration-uplink.status.ok', 'ok');
    try {
      integrationStore(RED, resolveIntegration(RED, def.integration));
    } catch (err) {
      status.error((err as Error).message);
    }

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      // A failure keeps the bytes as they arrived, so they can be inspected or replayed.
      const raw = msg.payload;
      const fail = (err: unknown) => sendFailure(this, status, send, done, msg, err, 1, 2);
      let cfg: ReturnType<typeof resolveIntegration>;
      let store: ReturnType<typeof integrationStore>;
      let bytes: Buffer;
      try {
        cfg = resolveIntegration(RED, def.integration);
        store = integrationStore(RED, cfg);
        bytes = payloadBytes(raw);
        cfg.integration.checkSize(bytes);
      } catch (err) {
        fail(err);
        return;
      }
      const topic = typeof msg.topic === 'string' ? msg.topic : undefined;
      cfg.integration.uplink(bytes, topic, store.deviceStore, Date.now()).then(({ messages, failures }) => {
        if (messages.length > 0) {
          send([messages as unknown as NodeMessage[], null]);
        }
        // Each bad item fails alone, as its own message for Failure and for Catch nodes.
        for (const err of failures) {
          const m: NodeMessage = { ...msg, payload: raw };
          sendFailure(this, status, send, () => {}, m, err, 1, 2);
        }
        if (failures.length === 0) status.ok(okText);
        done();
      }, fail);
    });
  }
  RED.nodes.registerType('rule-integration-uplink', IntegrationUplinkNode);
};
