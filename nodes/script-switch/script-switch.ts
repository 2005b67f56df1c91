/**
 * "script switch": ThingsBoard's script switch. Runs `function(msg, metadata, msgType)` in the sandboxed script
 * runtime; the relation name, or the array of names, it returns sends the message to those outputs (a copy to
 * each after the first). Outputs: one per configured relation, in order, then Failure.
 */
import type { Node, NodeAPI } from 'node-red';
import { registerScriptRoutes } from '../lib/admin-routes';
import { cloneMessage } from '../lib/message';
import { t } from '../lib/node-red';
import { relationNames, switchPorts } from '../lib/script-filter';
import { type ScriptNodeDef, scriptRuleNode } from '../lib/script-rule-node';

interface ScriptSwitchDef extends ScriptNodeDef {
  /** The relation names, one output each in this order. */
  relations?: unknown;
}

export = (RED: NodeAPI) => {
  function ScriptSwitchNode(this: Node, def: ScriptSwitchDef) {
    RED.nodes.createNode(this, def);
    const relations = relationNames(def.relations);
    scriptRuleNode(RED, this, def, {
      logName: 'script switch',
      okText: t(RED, 'script-switch.status.ok', 'ok'),
      compileErrorText: (error) => t(RED, 'script-switch.status.compileError', 'compile error: __error__', { error }),
      outputs: relations.length + 1,
      route: (input, result) => {
        const ports = switchPorts(result, relations);
        // The first output gets the msg itself; each other one a copy of its own, as Node-RED gives a second
        // wire, made with the message model's clone (no `__proto__` keys, bounded depth) before any is sent.
        const copies = ports.map((_port, i) => (i === 0 ? input.msg : cloneMessage(input.msg)));
        for (const [i, port] of ports.entries()) input.output(copies[i], port);
        input.success(
          [],
          ports.length > 0
            ? ports.map((p) => relations[p]).join(', ')
            : t(RED, 'script-switch.status.none', 'no relation'),
        );
      },
    });
  }
  RED.nodes.registerType('rule-script-switch', ScriptSwitchNode);
  registerScriptRoutes(RED);
};
