/**
 * "script filter": ThingsBoard's script filter. Runs `function(msg, metadata, msgType)` in the sandboxed script
 * runtime; the boolean it returns sends the message to True or False. Outputs: True, False, Failure.
 */
import type { Node, NodeAPI } from 'node-red';
import { registerScriptRoutes } from '../lib/admin-routes';
import { t } from '../lib/node-red';
import { filterOutcome } from '../lib/script-filter';
import { type ScriptNodeDef, scriptRuleNode } from '../lib/script-rule-node';

export = (RED: NodeAPI) => {
  function ScriptFilterNode(this: Node, def: ScriptNodeDef) {
    RED.nodes.createNode(this, def);
    const shown = {
      true: t(RED, 'script-filter.status.true', 'true'),
      false: t(RED, 'script-filter.status.false', 'false'),
    };
    scriptRuleNode(RED, this, def, {
      logName: 'script filter',
      okText: shown.true,
      compileErrorText: (error) => t(RED, 'script-filter.status.compileError', 'compile error: __error__', { error }),
      outputs: 3,
      route: (input, result) => {
        if (filterOutcome(result)) return input.success(input.msg, shown.true);
        input.output(input.msg, 1);
        input.success([], shown.false);
      },
    });
  }
  RED.nodes.registerType('rule-script-filter', ScriptFilterNode);
  registerScriptRoutes(RED);
};
