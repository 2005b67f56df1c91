/**
 * Every admin HTTP route of the package, in one place: the Test buttons of the script nodes (script, script
 * filter, script switch) and of the integration's decoder and encoder, the last input of a deployed script
 * node (the Test dialog's sample), and the editor's import of ThingsBoard exports.
 * Each route requires its node type's write permission (adminPermission), and each Test run goes through the
 * admin app's Test gate under the node id the editor sends, with the bounds of a deployed node.
 */
import type { NodeAPI } from 'node-red';
import { ImportError, type ImportInput, type ImportSource, importThingsBoard } from './importer';
import { testDecoder, testEncoder } from './integration';
import { adminPermission, maxScriptTimeout } from './node-red';
import { filterOutcome, relationNames, switchPorts } from './script-filter';
import { DEFAULT_SAMPLE, sampleFor, testScript } from './script-node';
import { type TestOutcome, TestRefusedError, testGateOf } from './test-runs';
import type { ScriptMessage } from './transform';

interface TestResponse {
  status(code: number): { json(body: unknown): unknown };
  set(field: string, value: string): unknown;
}

/**
 * Answers a Test request through the admin app's gate, keyed by the node id the editor sends (requests without
 * one share a key): the outcome with 200, or 400 when the request's settings are refused; 409 or 429 with
 * `{ok: false, error: {message, kind: "busy" | "blocked"}}` when the gate turns it away.
 */
function answerTest(app: object, res: TestResponse, nodeId: unknown, test: () => Promise<TestOutcome>): void {
  const key = typeof nodeId === 'string' && nodeId.length > 0 && nodeId.length <= 100 ? nodeId : '';
  testGateOf(app)
    .run(key, test)
    .then(
      (o) => res.status(!o.ok && o.error.kind === 'config' ? 400 : 200).json(o),
      (err: unknown) => {
        if (err instanceof TestRefusedError) {
          if (err.retryAfterS !== undefined) res.set('Retry-After', String(err.retryAfterS));
          res.status(err.status).json({ ok: false, error: { message: err.message, kind: err.kind } });
          return;
        }
        res
          .status(500)
          .json({ ok: false, error: { message: String((err as Error)?.message ?? err), kind: 'internal' } });
      },
    );
}

/**
 * Whether the routes of `group` are still to be added to this admin app, noting that they now are: Node-RED loads
 * a node module once, but test runtimes hand each load a new app.
 */
const routed = new WeakMap<object, Set<string>>();
function firstTime(app: object, group: string): boolean {
  let groups = routed.get(app);
  if (!groups) {
    groups = new Set();
    routed.set(app, groups);
  }
  if (groups.has(group)) return false;
  groups.add(group);
  return true;
}

/** Runs a Test route's request: `test` on the request's body, through the gate, with the maximum time limit. */
function runTest(
  RED: NodeAPI,
  res: TestResponse,
  body: unknown,
  test: (body: Record<string, unknown>, maxTimeoutMs: number) => Promise<TestOutcome>,
): void {
  const b = (body ?? {}) as Record<string, unknown>;
  answerTest(RED.httpAdmin, res, b.id, () => test(b, maxScriptTimeout(RED)));
}

/** What a filter's Test run shows: the boolean. */
const filterTest = () => (_input: ScriptMessage, result: unknown) => filterOutcome(result);

/** What a switch's Test run shows: the relations it sends to, checked against the dialog's list. */
function switchTest(body: Record<string, unknown>) {
  const relations = relationNames(body.relations);
  return (_input: ScriptMessage, result: unknown) => switchPorts(result, relations).map((port) => relations[port]);
}

/**
 * The script nodes' Test routes, and their sample routes: the last input of a deployed node, for its Test dialog.
 * Each node's Test shows what its script's result means (given the Test request, which carries the dialog's
 * settings): the messages of a transformation, a filter's boolean, the relations a switch sends to.
 */
export function registerScriptRoutes(RED: NodeAPI): void {
  if (!RED.httpAdmin || !firstTime(RED.httpAdmin, 'script')) return;
  type Interpret = (body: Record<string, unknown>) => ((input: ScriptMessage, result: unknown) => unknown) | undefined;
  const test = (res: TestResponse, body: unknown, interpret: Interpret) =>
    runTest(RED, res, body, (b, maxTimeoutMs) => testScript(b, maxTimeoutMs, interpret(b)));
  // The last input of a deployed node may hold what a device sent (tokens, secrets): write permission, as the
  // Test run that uses it.
  const sample = (res: { json(body: unknown): unknown }, id: unknown) => {
    const s = sampleFor(String(id));
    res.json({ source: s ? 'last' : 'default', sample: s ?? DEFAULT_SAMPLE });
  };
  RED.httpAdmin.post('/rule-engine/script/test', ...adminPermission(RED, 'rule-script.write'), (req, res) =>
    test(res, req.body, () => undefined),
  );
  RED.httpAdmin.get('/rule-engine/script/sample/:id', ...adminPermission(RED, 'rule-script.write'), (req, res) =>
    sample(res, req.params.id),
  );
  RED.httpAdmin.post(
    '/rule-engine/script-filter/test',
    ...adminPermission(RED, 'rule-script-filter.write'),
    (req, res) => test(res, req.body, filterTest),
  );
  RED.httpAdmin.get(
    '/rule-engine/script-filter/sample/:id',
    ...adminPermission(RED, 'rule-script-filter.write'),
    (req, res) => sample(res, req.params.id),
  );
  RED.httpAdmin.post(
    '/rule-engine/script-switch/test',
    ...adminPermission(RED, 'rule-script-switch.write'),
    (req, res) => test(res, req.body, switchTest),
  );
  RED.httpAdmin.get(
    '/rule-engine/script-switch/sample/:id',
    ...adminPermission(RED, 'rule-script-switch.write'),
    (req, res) => sample(res, req.params.id),
  );
}

/** The integration's decoder and encoder Test routes. */
export function registerIntegrationRoutes(RED: NodeAPI): void {
  if (!RED.httpAdmin || !firstTime(RED.httpAdmin, 'integration')) return;
  RED.httpAdmin.post(
    '/rule-engine/integration/test-decoder',
    ...adminPermission(RED, 'rule-integration.write'),
    (req, res) => runTest(RED, res, req.body, testDecoder),
  );
  RED.httpAdmin.post(
    '/rule-engine/integration/test-encoder',
    ...adminPermission(RED, 'rule-integration.write'),
    (req, res) => runTest(RED, res, req.body, testEncoder),
  );
}

/** One export as the editor sends it: `{name, text}`; anything else is refused with the field named. */
function sourceOf(v: unknown, field: string): ImportSource {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || typeof o.name !== 'string' || typeof o.text !== 'string') {
    throw new ImportError(`${field}: expected {name, text} of an export file`);
  }
  return { name: o.name.slice(0, 200), text: o.text };
}

/** The body of an import request as the importer's input. */
export function importInputOf(body: unknown): ImportInput {
  const b = (body ?? {}) as Record<string, unknown>;
  const optional = (field: string) =>
    b[field] === undefined || b[field] === null ? undefined : sourceOf(b[field], field);
  const converters = b.converters ?? [];
  if (!Array.isArray(converters)) throw new ImportError('converters: expected a list of export files');
  return {
    ruleChain: sourceOf(b.ruleChain, 'ruleChain'),
    converters: converters.map((c, i) => sourceOf(c, `converters[${i}]`)),
    integration: optional('integration'),
    dashboard: optional('dashboard'),
  };
}

/**
 * The editor's "Import from ThingsBoard": the exports in, the flow and the report out (the editor imports the
 * flow as the clipboard import does; nothing reaches the runtime until the user deploys). It builds flows, so it
 * asks for the flows write permission. A bad export is a 400 with the importer's message.
 */
export function registerImportRoutes(RED: NodeAPI): void {
  if (!RED.httpAdmin || !firstTime(RED.httpAdmin, 'import')) return;
  RED.httpAdmin.post('/rule-engine/import/thingsboard', ...adminPermission(RED, 'flows.write'), (req, res) => {
    try {
      res.json(importThingsBoard(importInputOf(req.body)));
    } catch (err) {
      const bad = err instanceof ImportError;
      res
        .status(bad ? 400 : 500)
        .json({ error: bad ? err.message : `import failed: ${(err as Error)?.message ?? err}` });
    }
  });
}
