/**
 * "save attributes": saves the message's attributes to the originator device in the configured scope (or
 * metadata.scope), creating the device on first sight, as ThingsBoard's node of that name does.
 * Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { parseScope, type Scope } from '../lib/device-store';
import { MessageError, validateMessage } from '../lib/message';
import { type Done, resolveDeviceStore, type Send, StatusTracker, sendFailure, t } from '../lib/node-red';
import { saveAttributesMessage } from '../lib/save-data';

interface SaveAttributesDef extends NodeDef {
  deviceStore?: string;
  scope?: string;
}

export = (RED: NodeAPI) => {
  function SaveAttributesNode(this: Node, def: SaveAttributesDef) {
    RED.nodes.createNode(this, def);
    const status = new StatusTracker(this);
    const okText = t(RED, 'save-attributes.status.ok', 'ok');
    // ThingsBoard's default scope is server; an unknown configured scope is an error, not a quiet default.
    const configured = def.scope === undefined || def.scope === '' ? 'server' : parseScope(def.scope);
    const configError = configured ? undefined : new MessageError(`unknown scope "${def.scope}"`, 'bad-scope');
    try {
      if (configError) throw configError;
      resolveDeviceStore(RED, def.deviceStore);
    } catch (err) {
      status.error((err as Error).message);
    }

    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const fail = (err: unknown) => sendFailure(this, status, send, done, msg, err, 1, 2);
      let storeNode: ReturnType<typeof resolveDeviceStore>;
      try {
        if (configError) throw configError;
        validateMessage(msg as unknown as Record<string, unknown>);
        storeNode = resolveDeviceStore(RED, def.deviceStore);
      } catch (err) {
        fail(err);
        return;
      }
      const rmsg = msg as unknown as Parameters<typeof saveAttributesMessage>[1];
      saveAttributesMessage(storeNode.deviceStore, rmsg, configured as Scope, Date.now()).then(
        () => {
          status.ok(okText);
          send([msg, null]);
          done();
        },
        (err) => fail(err),
      );
    });
  }
  RED.nodes.registerType('rule-save-attributes', SaveAttributesNode);
};
