/**
 * "script": ThingsBoard's script transformation. Runs `function(msg, metadata, msgType)` in the sandboxed
 * script runtime and turns its result into one or more messages. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerScriptRoutes } from '../lib/admin-routes';
import { maxScriptTimeout, t } from '../lib/node-red';
import { acceptRuleMessage, ruleNode } from '../lib/rule-node';
import { languageOf } from '../lib/script-language';
import { ScriptNodeRunner } from '../lib/script-node';
import { numberSetting } from '../lib/settings';

interface ScriptDef extends NodeDef {
  script?: string;
  /** 'javascript' (default) or 'tbel'. */
  language?: string;
  timeout?: string | number;
}

export = (RED: NodeAPI) => {
  function ScriptNode(this: Node, def: ScriptDef) {
    RED.nodes.createNode(this, def);
    // biome-ignore lint/complexity/noUselessThisAlias: the handlers below are closures over the node
    const node = this;
    const runner = new ScriptNodeRunner(
      {
        body: typeof def.script === 'string' ? def.script : '',
        language: languageOf(def.language),
        timeoutMs: numberSetting(def.timeout, 500, 1),
        maxTimeoutMs: maxScriptTimeout(RED),
      },
      {
        // Called once compilation has failed, always after this constructor: `status` below is set by then.
        onCompileError: (err) => {
          status.error(t(RED, 'script.status.compileError', 'compile error: __error__', { error: err.message }));
          node.error(`script: ${err.message}`);
        },
      },
    );
    runner.remember(node.id);
    const status = ruleNode(node, {
      okText: t(RED, 'script.status.ok', 'ok'),
      accept: acceptRuleMessage,
      // Once the script is blocked, the status says so rather than showing the error of the last message alone.
      failureText: (err) => (runner.blockedNow() ? runner.blockedText() : err.message),
      handle: (input) => {
        if (!runner.syncReady) return runner.run(input.msg).then((outs) => input.success(outs));
        // Compiled to run on the event loop: synchronously, no promise per message.
        input.success(runner.runSync(input.msg));
      },
    });
    if (runner.configError) {
      // Refused at deploy: nothing is compiled, and every message goes to Failure with this error.
      status.error(runner.configError.message);
      node.error(`script: ${runner.configError.message}`);
    }

    node.on('close', (_removed: boolean, closed: () => void) => {
      runner.dispose();
      closed();
    });
  }
  RED.nodes.registerType('rule-script', ScriptNode);
  registerScriptRoutes(RED);
};
