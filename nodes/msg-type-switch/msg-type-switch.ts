/**
 * "message type switch": routes each message to the output of its msgType, as ThingsBoard's node of that
 * name does; a type without an output of its own (or none at all) goes to Other. No Failure output.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { portFor, SWITCH_PORTS } from '../lib/msg-types';
import { ruleNode } from '../lib/rule-node';

export = (RED: NodeAPI) => {
  function MsgTypeSwitchNode(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    ruleNode(this, {
      outputs: SWITCH_PORTS.length,
      // Any msg: one without a msgType, or with one of another kind, goes to Other.
      accept: (msg: NodeMessageInFlow) => msg,
      handle: (input) => {
        input.output(input.msg, portFor(input.msg.msgType));
        input.done();
      },
    });
  }
  RED.nodes.registerType('rule-msg-type-switch', MsgTypeSwitchNode);
};
