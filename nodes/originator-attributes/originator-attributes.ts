/**
 * "originator attributes": adds the originator device's attributes and latest telemetry to the message,
 * as ThingsBoard's node of that name does. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { describeMissing, enrichConfigFrom, enrichMessage, type OriginatorAttributesDef } from '../lib/enrich';
import { MessageError, requireOriginator } from '../lib/message';
import { t } from '../lib/node-red';
import { acceptRuleMessage, deviceStoreOf, ruleNode } from '../lib/rule-node';

export = (RED: NodeAPI) => {
  function OriginatorAttributesNode(this: Node, def: NodeDef & OriginatorAttributesDef) {
    RED.nodes.createNode(this, def);
    const cfg = enrichConfigFrom(def);
    // ThingsBoard's default: a missing key sends the message to Failure.
    const tellFailureIfAbsent = def.tellFailureIfAbsent !== false;
    ruleNode(this, {
      okText: t(RED, 'originator-attributes.status.ok', 'ok'),
      config: deviceStoreOf(RED, def.deviceStore),
      store: (s) => s,
      accept: acceptRuleMessage,
      handle: async (input) => {
        const originator = requireOriginator(input.msg);
        const res = await enrichMessage(input.config, originator, input.msg, cfg);
        if (res.missing.length > 0 && tellFailureIfAbsent) {
          input.failure(
            new MessageError(describeMissing(originator, res), 'missing-keys', {
              missingKeys: res.missing.map((m) => m.as),
              unknownDevice: res.unknownDevice,
            }),
          );
          return;
        }
        input.success();
      },
    });
  }
  RED.nodes.registerType('rule-originator-attributes', OriginatorAttributesNode);
};
