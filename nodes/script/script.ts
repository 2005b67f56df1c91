/**
 * "script": ThingsBoard's script transformation. Runs `function(msg, metadata, msgType)` in the sandboxed
 * script runtime and turns its result into one or more messages. Outputs: Success, Failure.
 */
import type { Node, NodeAPI } from 'node-red';
import { registerScriptRoutes } from '../lib/admin-routes';
import { t } from '../lib/node-red';
import { transformedMessages } from '../lib/script-node';
import { type ScriptNodeDef, scriptRuleNode } from '../lib/script-rule-node';

export = (RED: NodeAPI) => {
  function ScriptNode(this: Node, def: ScriptNodeDef) {
    RED.nodes.createNode(this, def);
    scriptRuleNode(RED, this, def, {
      logName: 'script',
      okText: t(RED, 'script.status.ok', 'ok'),
      compileErrorText: (error) => t(RED, 'script.status.compileError', 'compile error: __error__', { error }),
      route: (input, result, sample) => input.success(transformedMessages(input.msg, sample, result)),
    });
  }
  RED.nodes.registerType('rule-script', ScriptNode);
  registerScriptRoutes(RED);
};
