/**
 * "integration downlink": encodes a rule-engine message with the integration's downlink converter into
 * messages for the core `mqtt out` node. Anything that must not be published (encoder error, unresolved or
 * invalid topic, broker down) goes to Failure instead of being dropped. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { brokerDown, resolveIntegration } from '../lib/integration-node';
import { MessageError, type Metadata, validateMessage } from '../lib/message';
import { type Done, type Send, StatusTracker, sendFailure, t } from '../lib/node-red';
import { pendingRpcs } from '../lib/rpc';

interface DownlinkDef extends NodeDef {
  integration?: string;
}

export = (RED: NodeAPI) => {
  function IntegrationDownlinkNode(this: Node, def: DownlinkDef) {
    RED.nodes.createNode(this, def);
    const status = new StatusTracker(this);
    const okText = t(RED, 'integration-downlink.status.ok', 'ok');
    let notSent = 0;
    try {
      resolveIntegration(RED, def.integration);
    } catch (err) {
      status.error((err as Error).message);
    }

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const requestUUID = () => (msg as { metadata?: Metadata }).metadata?.requestUUID;
      const fail = (err: unknown) => {
        notSent++;
        pendingRpcs.settle(requestUUID(), { status: 'error', error: (err as Error).message });
        sendFailure(this, status, send, done, msg, err, 1, 2);
        status.error(
          t(RED, 'integration-downlink.status.notSent', '__n__ not sent: __error__', {
            n: notSent,
            error: (err as Error).message,
          }),
        );
      };
      let cfg: ReturnType<typeof resolveIntegration>;
      try {
        validateMessage(msg as unknown as Record<string, unknown>);
        cfg = resolveIntegration(RED, def.integration);
        const down = brokerDown(RED, cfg);
        if (down) throw new MessageError(`${down}: downlink not sent`, 'broker-disconnected');
      } catch (err) {
        fail(err);
        return;
      }
      const rmsg = msg as unknown as { payload?: unknown; metadata: Metadata; msgType: string };
      cfg.integration.downlink(rmsg).then(({ out, failures }) => {
        // Again after the encoder: the broker may have gone while it ran (in the script thread), and the core
        // `mqtt out` node would drop the publish without a word.
        const downNow = out.length > 0 ? brokerDown(RED, cfg) : undefined;
        if (downNow) {
          fail(new MessageError(`${downNow}: downlink not sent`, 'broker-disconnected'));
          return;
        }
        if (failures.length > 0 && out.length === 0) {
          fail(
            failures.length === 1
              ? failures[0]
              : new MessageError(failures.map((f) => f.message).join('; '), failures[0].code),
          );
          return;
        }
        const outMsgs = out.map((o) => ({
          ...o,
          metadata: rmsg.metadata,
          originator: (msg as { originator?: unknown }).originator,
        }));
        send([outMsgs as unknown as NodeMessage[], null]);
        for (const err of failures) {
          notSent++;
          const m: NodeMessage = { ...msg };
          sendFailure(this, status, send, () => {}, m, err, 1, 2);
        }
        pendingRpcs.settle(requestUUID(), { status: 'ok' });
        if (failures.length === 0) {
          status.ok(
            notSent > 0
              ? t(RED, 'integration-downlink.status.okNotSentEarlier', 'ok (__n__ not sent earlier)', { n: notSent })
              : okText,
          );
        }
        done();
      }, fail);
    });
  }
  RED.nodes.registerType('rule-integration-downlink', IntegrationDownlinkNode);
};
