/**
 * "save attributes": saves the message's attributes to the originator device in the configured scope (or
 * metadata.scope), creating the device on first sight, as ThingsBoard's node of that name does.
 * Outputs: Success, Failure, and Attributes Updated when that option is on.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { parseScope } from '../lib/device-store';
import { MessageError } from '../lib/message';
import { resolveDeviceStore, t } from '../lib/node-red';
import { acceptRuleMessage, ruleNode } from '../lib/rule-node';
import { saveAttributesMessage, saveAttributesOptionsFrom } from '../lib/save-data';

interface SaveAttributesDef extends NodeDef {
  deviceStore?: string;
  scope?: string;
  onlyIfChanged?: boolean;
  sendAttributesUpdated?: boolean;
  typeCast?: boolean;
}

/** The Attributes Updated output, after Failure so that turning it on leaves the Failure wires where they were. */
const UPDATED_OUTPUT = 2;

export = (RED: NodeAPI) => {
  function SaveAttributesNode(this: Node, def: SaveAttributesDef) {
    RED.nodes.createNode(this, def);
    // ThingsBoard's default scope is server; an unknown configured scope is an error, not a quiet default.
    const scope = def.scope === undefined || def.scope === '' ? 'server' : parseScope(def.scope);
    const opts = saveAttributesOptionsFrom(def);
    ruleNode(this, {
      okText: t(RED, 'save-attributes.status.ok', 'ok'),
      outputs: opts.sendAttributesUpdated ? 3 : 2,
      failureOutput: 1,
      config: () => {
        if (!scope) throw new MessageError(`unknown scope "${def.scope}"`, 'bad-scope');
        return { store: resolveDeviceStore(RED, def.deviceStore).deviceStore, scope };
      },
      store: (c) => c.store,
      accept: acceptRuleMessage,
      handle: async (input) => {
        const res = await saveAttributesMessage(input.config.store, input.msg, input.config.scope, Date.now(), opts);
        if (res.updated) input.output(res.updated, UPDATED_OUTPUT);
        input.success();
      },
    });
  }
  RED.nodes.registerType('rule-save-attributes', SaveAttributesNode);
};
