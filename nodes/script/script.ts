/**
 * "script": ThingsBoard's script transformation. Runs `function(msg, metadata, msgType)` in the sandboxed
 * script runtime and turns its result into one or more messages. Outputs: Success, Failure.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { validateMessage } from '../lib/message';
import { type Done, numberSetting, type Send, StatusTracker, sendFailure, t } from '../lib/node-red';
import { maxScriptTimeout, registerScriptTestRoute, ScriptNodeRunner, type ScriptSettings } from '../lib/script-node';

interface ScriptDef extends NodeDef {
  script?: string;
  timeout?: string | number;
}

export = (RED: NodeAPI) => {
  function ScriptNode(this: Node, def: ScriptDef) {
    RED.nodes.createNode(this, def);
    // biome-ignore lint/complexity/noUselessThisAlias: the handlers below are closures over the node
    const node = this;
    const status = new StatusTracker(node);
    const okText = t(RED, 'script.status.ok', 'ok');
    const settings: ScriptSettings = {
      body: typeof def.script === 'string' ? def.script : '',
      timeoutMs: numberSetting(def.timeout, 500, 1),
      maxTimeoutMs: maxScriptTimeout(RED),
    };
    const runner = new ScriptNodeRunner(settings, {
      onCompileError: (err) => {
        status.error(t(RED, 'script.status.compileError', 'compile error: __error__', { error: err.message }));
        node.error(`script: ${err.message}`);
      },
    });
    runner.remember(node.id);
    if (runner.configError) {
      // Refused at deploy: nothing is compiled, and every message goes to Failure with this error.
      status.error(runner.configError.message);
      node.error(`script: ${runner.configError.message}`);
    }

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const fail = (err: unknown) => sendFailure(node, status, send, done, msg, err, 1, 2);
      try {
        validateMessage(msg as unknown as Record<string, unknown>);
      } catch (err) {
        fail(err);
        return;
      }
      const ok = (outs: Record<string, unknown>[]) => {
        status.ok(okText);
        send([outs as unknown as NodeMessage[], null]);
        done();
      };
      const failed = (err: unknown) => {
        fail(err);
        if (runner.blockedNow()) status.error(runner.blockedText());
      };
      if (!runner.syncReady) {
        runner.run(msg as unknown as Record<string, unknown>).then(ok, failed);
        return;
      }
      // Compiled to run on the event loop: synchronously, no promise per message.
      let outs: Record<string, unknown>[];
      try {
        outs = runner.runSync(msg as unknown as Record<string, unknown>);
      } catch (err) {
        failed(err);
        return;
      }
      ok(outs);
    });

    node.on('close', (_removed: boolean, closed: () => void) => {
      runner.dispose();
      closed();
    });
  }
  RED.nodes.registerType('rule-script', ScriptNode);
  registerScriptTestRoute(RED);
};
