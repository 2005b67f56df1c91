/**
 * The Node-RED side shared by the nodes that run `function (msg, metadata, msgType)` in the script sandbox: the
 * script transformation, the script filter and the script switch. Each compiles its script once per deploy,
 * shows a compile error or a refused time limit on its status, sends Failure (its last output) for every error,
 * says so on the status once the script is blocked, and frees the script on close; what differs is what the
 * script's result means, which each node's `route` decides.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { maxScriptTimeout } from './node-red';
import { acceptRuleMessage, type RuleInput, type RuleNodeMessage, ruleNode } from './rule-node';
import { languageOf } from './script-language';
import { ScriptNodeRunner } from './script-node';
import { numberSetting } from './settings';
import type { ScriptMessage } from './transform';

export interface ScriptNodeDef extends NodeDef {
  script?: string;
  /** 'javascript' (default) or 'tbel'. */
  language?: string;
  timeout?: string | number;
}

export interface ScriptRuleNodeSpec {
  /** What the node's log lines start with: its palette name in English ("script", "script filter"...). */
  logName: string;
  /** The status of a message that went well, unless `route` shows another one: the node's catalog text. */
  okText: string;
  /** The status of a script that does not compile, from the node's catalog. */
  compileErrorText: (error: string) => string;
  /** How many outputs the node has, Failure last (default 2: Success, Failure). */
  outputs?: number;
  /** Sends the message where the script's result says, and ends it; throws (a ResultError) for a bad result. */
  route: (input: RuleInput<RuleNodeMessage, undefined>, result: unknown, sample: ScriptMessage) => void;
}

/** Sets up `node` (just created from `def`) as a script node that ends each message with `spec.route`. */
export function scriptRuleNode(RED: NodeAPI, node: Node, def: ScriptNodeDef, spec: ScriptRuleNodeSpec): void {
  const runner = new ScriptNodeRunner(
    {
      body: typeof def.script === 'string' ? def.script : '',
      language: languageOf(def.language),
      timeoutMs: numberSetting(def.timeout, 500, 1),
      maxTimeoutMs: maxScriptTimeout(RED),
    },
    {
      // Called once compilation has failed, always after this function returned: `status` below is set by then.
      onCompileError: (err) => {
        status.error(spec.compileErrorText(err.message));
        node.error(`${spec.logName}: ${err.message}`);
      },
    },
  );
  runner.remember(node.id);
  const status = ruleNode(node, {
    okText: spec.okText,
    outputs: spec.outputs,
    accept: acceptRuleMessage,
    // Once the script is blocked, the status says so rather than showing the error of the last message alone.
    failureText: (err) => (runner.blockedNow() ? runner.blockedText() : err.message),
    handle: (input) => runner.evaluate(input.msg, (result, sample) => spec.route(input, result, sample)),
  });
  if (runner.configError) {
    // Refused at deploy: nothing is compiled, and every message goes to Failure with this error.
    status.error(runner.configError.message);
    node.error(`${spec.logName}: ${runner.configError.message}`);
  }

  node.on('close', (_removed: boolean, closed: () => void) => {
    runner.dispose();
    closed();
  });
}
