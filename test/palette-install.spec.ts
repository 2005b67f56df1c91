/**
 * Installs the packed tarball the way the palette does and checks what a user would see, on whichever Node-RED
 * the run uses (scripts/test-matrix.js: Node-RED 4.1 on Node 20, then Node-RED 5 on Node 22).
 *
 * A real Node-RED process starts on a fresh user directory; the tarball goes in through the admin API's upload
 * (POST /nodes, field "tarball": Manage palette > Install > upload), so Node-RED's own installer runs its own npm
 * with the palette's arguments (`--omit=dev --engine-strict ...`) under the Node.js that runs Node-RED. Then the
 * admin API must show every node set enabled and loaded, the icons, the help, the examples under the package
 * name, and the same again after a restart; then, with Dashboard 2.0 installed beside it, the knob widget in a
 * dashboard page, and the tutorial's ThingsBoard exports imported by the installed rule-engine-import and run.
 *
 * The tarball comes from scripts/test-matrix.js (PALETTE_PACK names its `npm pack --json` summary, made with the
 * prepack build); run alone, this spec packs the already built tree itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startThermostat } from '../bin/thermostat';
import { deployable, importTutorial, notMappedLines, turnKnobUntil, withClientDeviceName } from './imported-tutorial';
import { startTestBroker } from './mqtt-broker';
import { helper } from './support';
import {
  dashboardNodes,
  freePort,
  launchChromium,
  linkPackage,
  NodeRedProcess,
  nodeRedDir,
  pkg,
  root,
  writeSettings,
} from './toolkit';

const moduleName: string = pkg.name;
const nodeSets: Record<string, string> = pkg['node-red'].nodes;
const nodeRedVersion: string = JSON.parse(fs.readFileSync(path.join(nodeRedDir(), 'package.json'), 'utf8')).version;
const iconFiles = fs.readdirSync(path.join(root, 'icons')).filter((f) => !f.startsWith('.'));
const resourceFiles = fs.readdirSync(path.join(root, 'resources')).filter((f) => !f.startsWith('.'));
const exampleFiles = fs
  .readdirSync(path.join(root, 'examples'))
  .filter((f) => f.endsWith('.json'))
  .sort();

interface Packed {
  tarball: string;
  files: string[];
}

/** npm's CLI script, to run under this process's Node.js (as Node-RED runs its npm). */
function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm?.endsWith('.js') && fs.existsSync(fromNpm)) return fromNpm;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'npm');
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
  }
  throw new Error('npm not found on PATH');
}

/** Parses `npm pack --json` output; lifecycle scripts may have printed before the JSON. */
function parsePackJson(out: string, destination: string): Packed {
  const start = out.search(/^\[\s*$/m);
  if (start < 0) throw new Error(`no JSON in npm pack output:\n${out}`);
  const [info] = JSON.parse(out.slice(start));
  return { tarball: path.join(destination, info.filename), files: info.files.map((f: { path: string }) => f.path) };
}

function packed(tmp: string): Packed {
  if (process.env.PALETTE_PACK) return JSON.parse(fs.readFileSync(process.env.PALETTE_PACK, 'utf8'));
  // dist/ is built already (mocha runs from it); --ignore-scripts skips the prepack rebuild under our feet.
  const out = execFileSync(
    process.execPath,
    [npmCli(), 'pack', '--json', '--ignore-scripts', '--pack-destination', tmp],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return parsePackJson(out, tmp);
}

/** The Node-RED process of this leg, with the admin API calls the checks below make. */
class NodeRed extends NodeRedProcess {
  async get(p: string, accept = 'application/json'): Promise<Response> {
    return fetch(this.url(p), { headers: { accept } });
  }

  async json<T = unknown>(p: string): Promise<T> {
    const res = await this.get(p);
    const text = await res.text();
    assert.equal(res.status, 200, `GET ${p}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}

interface NodeSetInfo {
  id: string;
  name: string;
  types: string[];
  enabled: boolean;
  loaded?: boolean;
  module: string;
  version?: string;
  err?: unknown;
}

describe(`palette install of the packed tarball on Node-RED ${nodeRedVersion}, Node.js ${process.version}`, function () {
  this.timeout(180000);
  let tmp: string;
  let userDir: string;
  let pack: Packed;
  let red: NodeRed;
  let installed = false;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-palette-'));
    pack = packed(tmp);
    userDir = path.join(tmp, 'user');
    fs.mkdirSync(userDir);
    // What Node-RED itself writes into a new user directory.
    fs.writeFileSync(
      path.join(userDir, 'package.json'),
      JSON.stringify({ name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true }),
    );
    writeSettings(userDir);
    red = new NodeRed(userDir, await freePort(), { nodeRed: nodeRedDir() });
    await red.start();
  });

  after(async () => {
    try {
      await red?.stop('SIGINT');
    } finally {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  function requireInstalled(): void {
    if (!installed) throw new Error('the package is not installed (see the install test above)');
  }
  /** A file of the installed package: what the tarball delivered (the working tree may change meanwhile). */
  const installedFile = (rel: string) => path.join(userDir, 'node_modules', ...moduleName.split('/'), rel);

  it('runs on the Node-RED and Node.js this leg of the matrix asks for', async () => {
    const settings = await red.json<{ version: string }>('/settings');
    // Node-RED appends "-git" when a .git directory sits four levels above its runtime (our checkout).
    assert.equal(
      settings.version.replace(/-git$/, ''),
      nodeRedVersion,
      'the Node-RED process is the one the in-process tests load',
    );
    // The runtime node-red-node-test-helper runs the other specs on (it loads the devDependency first, then
    // the one support.ts names).
    const inProcess = (helper as unknown as { _RED: { version(): string } })._RED.version();
    assert.equal(inProcess.replace(/-git$/, ''), nodeRedVersion, 'the in-process runtime of the other specs');
    if (process.env.EXPECT_NODE_RED) assert.equal(nodeRedVersion, process.env.EXPECT_NODE_RED);
    if (process.env.EXPECT_NODE_MAJOR) {
      assert.equal(process.versions.node.split('.')[0], process.env.EXPECT_NODE_MAJOR);
    }
  });

  it('packs the built nodes with their HTML, help, message catalogs and icons, and the examples', () => {
    const files = new Set(pack.files);
    const want = ['package.json', 'README.md', 'LICENSE'];
    for (const rel of Object.values(nodeSets)) {
      const dir = path.posix.dirname(rel);
      const base = path.posix.basename(rel, '.js');
      want.push(rel, `${dir}/${base}.html`, `${dir}/locales/en-US/${base}.json`, `${dir}/locales/en-US/${base}.html`);
      for (const icon of iconFiles) want.push(`${dir}/icons/${icon}`);
    }
    for (const icon of iconFiles) want.push(`icons/${icon}`);
    for (const ex of exampleFiles) want.push(`examples/${ex}`);
    want.push(...Object.values(pkg.bin));
    for (const file of resourceFiles) want.push(`resources/${file}`);
    assert.deepEqual(
      want.filter((f) => !files.has(f)),
      [],
      'missing from the tarball',
    );
    const stray = pack.files.filter((f) => /^(dist\/(test|bench)\/|test\/|bench\/|nodes\/|\.)|\.ts$/.test(f));
    assert.deepEqual(stray, [], 'development files in the tarball');
  });

  it('installs through the palette upload without errors', async () => {
    const form = new FormData();
    form.append('tarball', new Blob([fs.readFileSync(pack.tarball)]), path.basename(pack.tarball));
    const res = await fetch(red.url('/nodes'), { method: 'POST', body: form });
    const text = await res.text();
    assert.equal(res.status, 200, `install failed (${res.status}): ${text}\n${red.output}`);
    const info = JSON.parse(text) as { name: string; version: string; nodes: NodeSetInfo[] };
    installed = true; // the later tests can look at what did install, even if a check below fails
    assert.equal(info.name, moduleName);
    assert.equal(info.version, pkg.version);
    assert.deepEqual(
      info.nodes.filter((n) => n.err).map((n) => `${n.id}: ${n.err}`),
      [],
      'node sets that failed to load',
    );
    const userPkg = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.ok(userPkg.dependencies?.[moduleName], 'recorded in the user directory package.json, as the palette does');
  });

  it('asks npm for no install scripts and at most 6 dependencies', () => {
    requireInstalled();
    const modDir = path.join(userDir, 'node_modules', ...moduleName.split('/'));
    const installedPkg = JSON.parse(fs.readFileSync(path.join(modDir, 'package.json'), 'utf8'));
    const scripts = Object.keys(installedPkg.scripts ?? {}).filter((s) => /^(pre|post)?install$/.test(s));
    assert.deepEqual(scripts, [], 'install scripts run on every user machine (and are often blocked)');
    assert.ok(Object.keys(installedPkg.dependencies ?? {}).length <= 6, 'more than 6 dependencies');
    assert.ok(!fs.existsSync(path.join(modDir, 'node_modules', 'node-red')), 'devDependencies were installed');
  });

  async function checkNodeSets(): Promise<void> {
    const list = await red.json<NodeSetInfo[]>('/nodes');
    for (const [set, rel] of Object.entries(nodeSets)) {
      const entry = list.find((n) => n.id === `${moduleName}/${set}`);
      assert.ok(entry, `${moduleName}/${set} is not listed by GET /nodes`);
      assert.equal(entry.err, undefined, `${set}: ${entry.err}`);
      assert.equal(entry.enabled, true, `${set} is disabled`);
      const html = fs.readFileSync(installedFile(rel.replace(/\.js$/, '.html')), 'utf8');
      const types = [...html.matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      assert.deepEqual([...entry.types].sort(), types.sort(), `${set}: registered types`);
      // The registry's copy of a set carries `loaded` only after a disable (false); a failed load shows as
      // `err`, and the deploy test below proves the runtime has each type.
      const info = await red.json<NodeSetInfo>(`/nodes/${moduleName}/${set}`);
      assert.notEqual(info.loaded, false, `${set} is not loaded`);
      assert.equal(info.err, undefined, `${set}: ${info.err}`);
      assert.equal(info.version, pkg.version);
    }
  }

  it('lists every node set enabled and loaded, with its types and no error', async () => {
    requireInstalled();
    await checkNodeSets();
    const mod = await red.json<{ name: string; version: string; user: boolean; nodes: NodeSetInfo[] }>(
      `/nodes/${moduleName}`,
    );
    assert.equal(mod.version, pkg.version);
    assert.equal(mod.user, true, 'a user-installed module (shown in Manage palette)');
    assert.equal(mod.nodes.length, Object.keys(nodeSets).length);
  });

  it('deploys one node of each type, left as the palette adds it, without missing types or crashes', async () => {
    requireInstalled();
    const list = await red.json<NodeSetInfo[]>('/nodes');
    const types = list.filter((n) => n.module === moduleName).flatMap((n) => n.types);
    const flow = [
      { id: 'pi-tab', type: 'tab', label: 'palette install' },
      ...types.map((type) => ({ id: `pi-${type}`, type, z: 'pi-tab', name: '', wires: [] })),
    ];
    const from = red.output.length;
    await red.deploy(flow);
    await red.waitForLog(/Started flows|Waiting for missing types/, 20000, from);
    const log = red.output.slice(from);
    assert.doesNotMatch(log, /Waiting for missing types|Missing node types/, log);
    const crash = new RegExp(`\\[error\\] \\[(${types.join('|')}):[^\\]]*\\] (TypeError|ReferenceError|RangeError)`);
    assert.doesNotMatch(log, crash, log);
  });

  it('serves every icon of the package from /icons/<module>/<file>', async () => {
    requireInstalled();
    const packedIcons = pack.files.filter((f) => /^icons\/[^/]+$/.test(f)).map((f) => path.posix.basename(f));
    const listed = await red.json<Record<string, string[]>>('/icons');
    assert.deepEqual(
      packedIcons.filter((f) => !(listed[moduleName] ?? []).includes(f)),
      [],
      'icons missing from GET /icons',
    );
    for (const icon of packedIcons) {
      const res = await red.get(`/icons/${moduleName}/${icon}`, '*/*');
      assert.equal(res.status, 200, icon);
      // An unknown icon is answered 200 with Node-RED's default icon, so compare the bytes.
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(fs.readFileSync(installedFile(`icons/${icon}`))), `${icon}: served something else`);
    }
  });

  it('serves the editor code the node HTML loads from resources/<module>/<file>', async () => {
    requireInstalled();
    const prefix = `resources/${moduleName}/`;
    const loaded = new Set<string>();
    for (const rel of Object.values(nodeSets)) {
      const html = fs.readFileSync(installedFile(rel.replace(/\.js$/, '.html')), 'utf8');
      for (const m of html.matchAll(/<script src="([^"]+)"/g)) {
        assert.ok(m[1].startsWith(prefix), `${rel}: ${m[1]} is not under ${prefix}`);
        loaded.add(m[1].slice(prefix.length));
      }
    }
    assert.ok(loaded.size > 0, 'no node HTML loads a resource');
    for (const file of loaded) {
      // The editor waits for each such script before it shows the palette: a missing one would hang it.
      const res = await red.get(`/${prefix}${file}`, '*/*');
      assert.equal(res.status, 200, file);
      assert.equal(await res.text(), fs.readFileSync(installedFile(`resources/${file}`), 'utf8'), file);
    }
  });

  it('serves each node its help and message catalog', async () => {
    requireInstalled();
    for (const [set, rel] of Object.entries(nodeSets)) {
      const res = await red.get(`/nodes/${moduleName}/${set}`, 'text/html');
      assert.equal(res.status, 200);
      const html = await res.text();
      const types = [
        ...fs
          .readFileSync(installedFile(rel.replace(/\.js$/, '.html')), 'utf8')
          .matchAll(/registerType\(\s*['"]([^'"]+)['"]/g),
      ].map((m) => m[1]);
      for (const type of types) {
        assert.match(html, new RegExp(`data-help-name=["']${type}["']`), `${type} has no help`);
      }
      const messages = await red.json<Record<string, unknown>>(`/nodes/${moduleName}/${set}/messages?lng=en-US`);
      assert.ok(Object.keys(messages).length > 0, `${set}: empty message catalog`);
    }
  });

  it('lists the examples under the package name (Import > Examples)', async () => {
    requireInstalled();
    const modules = await red.json<string[]>('/library/examples/flows/');
    assert.ok(modules.includes(moduleName), `examples of ${modules.join(', ')}`);
    const entries = await red.json<Array<{ fn?: string } | string>>(`/library/examples/flows/${moduleName}`);
    const names = entries.map((e) => (typeof e === 'string' ? `${e}/` : e.fn)).sort();
    const packedExamples = pack.files.filter((f) => /^examples\/[^/]+\.json$/.test(f)).sort();
    assert.deepEqual(
      names,
      packedExamples.map((f) => path.posix.basename(f, '.json')),
    );
    for (const f of packedExamples) {
      const flow = await red.json<unknown[]>(
        `/library/examples/flows/${moduleName}/${path.posix.basename(f, '.json')}`,
      );
      assert.deepEqual(flow, JSON.parse(fs.readFileSync(installedFile(f), 'utf8')));
    }
  });

  it('loads the package again after a restart, with the deployed flow running', async () => {
    requireInstalled();
    await red.stop('SIGINT');
    await red.start();
    assert.doesNotMatch(red.output, /Waiting for missing types|Missing node types/, red.output);
    await checkNodeSets();
  });

  it('shows the knob widget in a Dashboard 2.0 page once Dashboard 2.0 is installed too', async function () {
    requireInstalled();
    this.timeout(120000);
    // The devDependency, linked in as npm would install it; a restart loads it.
    await red.stop('SIGINT');
    const dashboard = path.dirname(require.resolve('@flowfuse/node-red-dashboard/package.json', { paths: [root] }));
    linkPackage(userDir, '@flowfuse/node-red-dashboard', dashboard);
    await red.start();
    const from = red.output.length;
    await red.deploy([
      { id: 'pk-tab', type: 'tab', label: 'knob' },
      ...dashboardNodes('pk-', { path: '/knob', group: 'Group' }),
      { id: 'pk-knob', type: 'rule-knob', z: 'pk-tab', group: 'pk-group', label: 'Palette knob', wires: [[]] },
    ]);
    await red.waitForLog(/Started flows/, 20000, from);
    assert.doesNotMatch(red.output.slice(from), /Waiting for missing types|\[error\]/, red.output.slice(from));
    // The bundle the dashboard imports, served from the package's resources/ as Node-RED serves every package's.
    const umd = await red.get(`/resources/${moduleName}/rule-knob.umd.js`, '*/*');
    assert.equal(umd.status, 200);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(red.url('/dashboard/knob'));
      await page.getByRole('slider', { name: 'Palette knob' }).waitFor({ timeout: 30000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  it("imports the tutorial's ThingsBoard exports with the installed rule-engine-import, and runs the flow", async function () {
    requireInstalled();
    this.timeout(120000);
    const { flow, report } = importTutorial(installedFile(pkg.bin['rule-engine-import']), tmp);
    assert.equal(notMappedLines(report).length, 1, report);
    const broker = await startTestBroker('aedes');
    const device = startThermostat({ broker: broker.url, interval: 100, log: () => {} });
    try {
      await device.ready();
      const from = red.output.length;
      // With the scope fix the report points at, so that the set-point reaches the device by its name.
      await red.deploy(deployable(withClientDeviceName(flow), broker.port));
      await red.waitForLog(/Started flows|Waiting for missing types/, 20000, from);
      assert.doesNotMatch(red.output.slice(from), /Waiting for missing types|\[error\]/, red.output.slice(from));
      await turnKnobUntil(red, () => device.setPoint() === 42);
    } finally {
      await device.stop();
      await broker.stop();
    }
  });
});
