/**
 * "message type switch": routes each message to the output of its msgType, as ThingsBoard's node of that
 * name does; a type without an output of its own (or none at all) goes to Other. No Failure output.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { portFor, SWITCH_PORTS } from '../lib/msg-types';
import type { Done, Send } from '../lib/node-red';

export = (RED: NodeAPI) => {
  function MsgTypeSwitchNode(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    const ports = SWITCH_PORTS.length;
    this.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const out: Array<NodeMessageInFlow | null> = new Array(ports).fill(null);
      out[portFor((msg as { msgType?: unknown }).msgType)] = msg;
      send(out);
      done();
    });
  }
  RED.nodes.registerType('rule-msg-type-switch', MsgTypeSwitchNode);
};
