/**
 * "originator attributes": adds the originator device's attributes and latest telemetry to the message,
 * as ThingsBoard's node of that name does. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { describeMissing, enrichConfigFrom, enrichMessage, type OriginatorAttributesDef } from '../lib/enrich';
import { MessageError, requireOriginator, validateMessage } from '../lib/message';
import { type Done, resolveDeviceStore, type Send, StatusTracker, sendFailure, t } from '../lib/node-red';

export = (RED: NodeAPI) => {
  function OriginatorAttributesNode(this: Node, def: NodeDef & OriginatorAttributesDef) {
    RED.nodes.createNode(this, def);
    const status = new StatusTracker(this);
    const okText = t(RED, 'originator-attributes.status.ok', 'ok');
    const cfg = enrichConfigFrom(def);
    // ThingsBoard's default: a missing key sends the message to Failure.
    const tellFailureIfAbsent = def.tellFailureIfAbsent !== false;
    try {
      resolveDeviceStore(RED, def.deviceStore);
    } catch (err) {
      status.error((err as Error).message);
    }

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const fail = (err: unknown) => sendFailure(this, status, send, done, msg, err, 1, 2);
      let originator: string;
      let storeNode: ReturnType<typeof resolveDeviceStore>;
      try {
        validateMessage(msg as unknown as Record<string, unknown>);
        originator = requireOriginator(msg as { originator?: unknown });
        storeNode = resolveDeviceStore(RED, def.deviceStore);
      } catch (err) {
        fail(err);
        return;
      }
      const rmsg = msg as unknown as Parameters<typeof enrichMessage>[2];
      enrichMessage(storeNode.deviceStore, originator, rmsg, cfg).then(
        (res) => {
          if (res.missing.length > 0 && tellFailureIfAbsent) {
            fail(
              new MessageError(describeMissing(originator, res), 'missing-keys', {
                missingKeys: res.missing.map((m) => m.as),
                unknownDevice: res.unknownDevice,
              }),
            );
            return;
          }
          status.ok(okText);
          send([msg, null]);
          done();
        },
        (err) => fail(err),
      );
    });
  }
  RED.nodes.registerType('rule-originator-attributes', OriginatorAttributesNode);
};
