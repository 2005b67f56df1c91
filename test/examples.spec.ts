/**
 * The example flows (examples/*.json), imported as a user would: each one deployed on its own to a real
 * Node-RED process that has this package and Dashboard 2.0 installed. Each must deploy with no error and no
 * missing node type, and together they must use every node type of the package.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import semver from 'semver';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import { tbDownlinkEncoder, tbUplinkDecoder } from './tb-fixtures';
import { delay, freePort, makeUserDir, NodeRedProcess, pkg, readExamples, writeSettings } from './toolkit';

type FlowNode = Record<string, unknown> & { id: string; type: string; z?: string; wires?: string[][] };

const packageTypes = Object.keys(pkg['node-red'].nodes as Record<string, string>);
const examples = readExamples() as Array<{ file: string; nodes: FlowNode[] }>;
/** Types that are part of the flow file format rather than registered nodes. */
const STRUCTURAL = new Set(['tab', 'group', 'junction', 'subflow', 'global-config']);
/** Properties by which nodes in these examples name a config node. */
const CONFIG_REFS = ['deviceStore', 'integration', 'broker', 'group', 'page', 'ui', 'theme'];

describe('example flows: well formed', () => {
  it('has the tutorial and one example per node type', () => {
    assert.ok(examples.length >= 2, 'examples/ holds the flows');
    assert.ok(examples.some((e) => e.file === '02-thermostat-tutorial.json'));
  });

  for (const { file, nodes } of examples) {
    it(`${file}: ids, tabs, wires and config references all resolve`, () => {
      assert.ok(Array.isArray(nodes), 'an array of nodes, as Import expects');
      const ids = new Map(nodes.map((n) => [n.id, n]));
      assert.equal(ids.size, nodes.length, 'ids are unique');
      const tabs = new Set(nodes.filter((n) => n.type === 'tab').map((n) => n.id));
      assert.ok(tabs.size >= 1, 'at least one tab');
      for (const n of nodes) {
        if (n.z !== undefined) assert.ok(tabs.has(n.z), `${n.id} is on a tab of this file`);
        for (const port of n.wires ?? []) {
          for (const target of port) assert.ok(ids.has(target), `${n.id} is wired to ${target}, which exists`);
        }
        for (const key of CONFIG_REFS) {
          const ref = n[key];
          if (n.type === 'mqtt-broker' && key === 'broker') continue; // there it is the host name
          if (typeof ref === 'string' && ref !== '') assert.ok(ids.has(ref), `${n.id}.${key} -> ${ref} exists`);
        }
      }
    });
  }

  it('uses ids unique across all examples (npm start deploys them together)', () => {
    const seen = new Map<string, string>();
    for (const { file, nodes } of examples) {
      for (const n of nodes) {
        assert.ok(!seen.has(n.id), `${n.id} in ${file} is also in ${seen.get(n.id)}`);
        seen.set(n.id, file);
      }
    }
  });

  it("keeps the tutorial's converters unchanged", () => {
    const tutorial = examples.find((e) => e.file === '02-thermostat-tutorial.json')!.nodes;
    const integration = tutorial.find((n) => n.type === 'rule-integration')!;
    assert.equal(integration.decoder, tbUplinkDecoder());
    assert.equal(integration.encoder, tbDownlinkEncoder());
  });

  it('lists Dashboard 2.0 in the tutorial, so the editor offers to install it when missing', () => {
    const tutorial = examples.find((e) => e.file === '02-thermostat-tutorial.json')!.nodes;
    const hint = tutorial.find((n) => n.type === 'global-config');
    assert.ok(hint, 'a global-config node carrying "modules", as Node-RED writes on export');
    assert.deepEqual(hint.env, []);
    const version = (hint.modules as Record<string, string>)['@flowfuse/node-red-dashboard'];
    assert.ok(semver.valid(version), `an exact version to install (got ${version})`);
    assert.ok(
      semver.satisfies(version, pkg.devDependencies['@flowfuse/node-red-dashboard']),
      'the version the tests run with',
    );
  });

  it('uses every node type of the package in at least one example', () => {
    const used = new Set<string>();
    for (const { nodes } of examples) {
      // A flow node counts when placed on a tab; a config node counts only when a node uses it.
      const referenced = new Set(
        nodes.flatMap((n) => CONFIG_REFS.map((k) => n[k]).filter((v) => typeof v === 'string')),
      );
      for (const n of nodes) if (n.z !== undefined || referenced.has(n.id)) used.add(n.type);
    }
    const unused = packageTypes.filter((t) => !used.has(t));
    assert.deepEqual(unused, [], `node types no example uses: ${unused.join(', ')}`);
  });
});

describe('example flows: deployed to Node-RED with the package and Dashboard 2.0', function () {
  this.timeout(120000);
  let broker: TestMqttBroker;
  let red: NodeRedProcess;
  let userDir: string;
  let registered: Map<string, string>;

  before(async () => {
    broker = await startTestBroker('aedes');
    userDir = makeUserDir('rule-engine-examples-');
    writeSettings(userDir, []);
    red = new NodeRedProcess(userDir, await freePort());
    await red.start();
    const res = await fetch(red.url('/nodes'), { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    const sets = (await res.json()) as Array<{ module: string; types: string[]; enabled: boolean }>;
    registered = new Map(sets.filter((s) => s.enabled).flatMap((s) => s.types.map((t) => [t, s.module] as const)));
  });

  after(async () => {
    await red?.stop();
    await broker?.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('has every node type of the package registered', () => {
    const missing = packageTypes.filter((t) => registered.get(t) !== pkg.name);
    assert.deepEqual(missing, [], `${red.output}`);
  });

  for (const { file, nodes } of examples) {
    it(`${file}: deploys and starts, with no missing type and no error`, async () => {
      const types = [...new Set(nodes.map((n) => n.type))].filter((t) => !STRUCTURAL.has(t));
      const unknown = types.filter((t) => !registered.has(t));
      assert.deepEqual(unknown, [], `types Node-RED does not have: ${unknown.join(', ')}`);

      // Other modules the example needs must be named in its module hint (global-config), as on export.
      const hint = (nodes.find((n) => n.type === 'global-config')?.modules ?? {}) as Record<string, string>;
      const needed = new Set(types.map((t) => registered.get(t)!).filter((m) => m !== 'node-red' && m !== pkg.name));
      for (const m of needed) assert.ok(m in hint, `${file} needs ${m}: list it in a global-config "modules" hint`);

      // Point the example's broker at the test broker, as a user edits the broker config node.
      const flows = structuredClone(nodes).map((n) =>
        n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: broker.port } : n,
      );
      const from = red.output.length;
      await red.deploy(flows);
      await red.waitForLog(/Started flows|Waiting for missing types/, 20000, from);
      // Half a second in which no node may report a problem that comes after start (a broker connection, a
      // bad config): a quiet stretch, not a wait for something.
      await delay(500);
      const log = red.output.slice(from);
      assert.doesNotMatch(log, /Waiting for missing types/, log);
      assert.doesNotMatch(log, /\[error\]/, log);

      const res = await fetch(red.url('/flows'), { headers: { 'Node-RED-API-Version': 'v2' } });
      const deployed = ((await res.json()) as { flows: FlowNode[] }).flows;
      const deployedIds = new Set(deployed.map((n) => n.id));
      for (const n of nodes.filter((x) => x.type !== 'global-config')) {
        assert.ok(deployedIds.has(n.id), `${n.id} (${n.type}) is in the deployed flows`);
      }
      if (types.includes('ui-base')) {
        const page = await fetch(red.url('/dashboard'));
        assert.equal(page.status, 200, 'the dashboard is served');
      }
    });
  }
});
