#!/usr/bin/env node
// `npm run scorecard`: the Flow Library's scorecard (the checks of `node-red-dev validate`, node-red-dev 0.1.6)
// run offline against this project, so a failing check shows up in `npm test` rather than after publishing.
//
// The tool asks catalogue.nodered.org and registry.npmjs.org. Offline, the registry answers it needs (node-red's
// dist-tags and engines, each dependency's dist-tags and versions) come from scripts/scorecard-registry.json,
// refreshed with `npm run scorecard -- --refresh` (which uses the npm client). The catalogue cannot be had
// offline: P08 and N01 compare against the Node-RED modules installed here instead, and say so.
// Where the tool has a bug that makes a check unable to fail, this script checks what the tool means to check
// (noted at each check). Options: --path <package dir> (default: this project), --refresh, --json <file>.

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { execFileSync } = require('node:child_process');
const semver = require('semver');

const project = path.resolve(__dirname, '..');
const snapshotFile = path.join(__dirname, 'scorecard-registry.json');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = path.resolve(opt('--path') ?? project);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const nr = pkg['node-red'] ?? {};
const deps = pkg.dependencies ?? {};

// Packages the Flow Library marks as incompatible when anywhere in the production dependency tree
// (node-red-dev's badpackages.json at 0.1.6).
const BAD_PACKAGES = { 'agent-base': '<6.0.0' };
// Unscoped node-red-* names the Node-RED project publishes itself; the naming rule exempts them.
const OFFICIAL_NAME = /^node-red-node-|^(node-red-dashboard|node-red-debugger|node-red-bluemix-nodes)$/;

const results = [];
function record(id, title, pass, detail, level) {
  results.push({ id, title, result: level ?? (pass ? 'PASS' : 'FAIL'), detail });
}

// ---------------------------------------------------------------------------------------------------------------
// Registry data: recorded, or refreshed with the npm client on request.

function npmView(spec, fields) {
  const out = execFileSync('npm', ['view', spec, ...fields, '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out);
}

function refreshSnapshot() {
  const nrTags = npmView('node-red', ['dist-tags']);
  const snap = {
    fetched: new Date().toISOString().slice(0, 10),
    'node-red': { 'dist-tags': nrTags, latestEngines: npmView(`node-red@${nrTags.latest}`, ['engines']) },
    packages: {},
  };
  for (const name of Object.keys(deps).sort()) {
    const v = npmView(name, ['dist-tags', 'versions']);
    snap.packages[name] = { 'dist-tags': v['dist-tags'], versions: [].concat(v.versions) };
  }
  fs.writeFileSync(snapshotFile, `${JSON.stringify(snap, null, 2)}\n`);
  console.log(`scorecard: registry data refreshed into ${path.relative(project, snapshotFile)}`);
  return snap;
}

const registry = args.includes('--refresh') ? refreshSnapshot() : JSON.parse(fs.readFileSync(snapshotFile, 'utf8'));

// Node-RED copies installed here (the devDependency and the test matrix's Node-RED 5), for P06, P08 and N01.
function installedNodeReds() {
  const found = [];
  for (const nm of [path.join(project, 'node_modules'), path.join(project, '.matrix', 'nr5', 'node_modules')]) {
    const p = path.join(nm, 'node-red', 'package.json');
    if (fs.existsSync(p)) found.push({ nm, version: JSON.parse(fs.readFileSync(p, 'utf8')).version });
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Package checks (P)

// P01: a licence is declared.
record('P01', 'licence declared', typeof pkg.license === 'string' && pkg.license !== '', pkg.license ?? 'no "license"');

// P03: a repository or a bugs URL/e-mail, so users can report problems.
record(
  'P03',
  'repository or bugs link',
  Boolean(pkg.repository || pkg.bugs),
  [pkg.repository && `repository ${pkg.repository.url ?? pkg.repository}`, pkg.bugs && 'bugs']
    .filter(Boolean)
    .join(', ') || 'neither "repository" nor "bugs"',
);

// P04: new packages use a scoped name; an unscoped name starting node-red/nodered must be node-red-contrib-*
// (unless the Node-RED project publishes it). The tool only knows a package's age when validating from npm;
// for a local package the second rule decides, as here.
{
  const name = String(pkg.name ?? '');
  const scoped = /@[a-z\d][\w.-]+\/[a-z\d][\w.-]*/.test(name);
  const reservedPrefix = /^(node-red|nodered)(?!-contrib-)/i.test(name);
  const ok = scoped || !reservedPrefix || OFFICIAL_NAME.test(name);
  record(
    'P04',
    'package name',
    ok,
    scoped
      ? `${name} is scoped`
      : ok
        ? `${name} (unscoped; new packages should be scoped)`
        : `${name}: use node-red-contrib-* or a scope`,
  );
}

// P05: "node-red" among the keywords (the Flow Library only lists packages that have it). node-red-dev 0.1.6
// records a pass even when it is missing; this fails then.
record(
  'P05',
  'keyword node-red',
  Array.isArray(pkg.keywords) && pkg.keywords.includes('node-red'),
  Array.isArray(pkg.keywords) && pkg.keywords.includes('node-red') ? 'present' : 'keywords lack "node-red"',
);

// P06: node-red.version declared, and satisfied by a current Node-RED (the dist-tags "latest" and any
// "*maintenance*"). Also required here: every Node-RED the test matrix runs on satisfies it.
{
  const range = nr.version;
  if (!range || !semver.validRange(range)) {
    record(
      'P06',
      'Node-RED version',
      false,
      range ? `"${range}" is not a valid range` : 'node-red.version not declared',
    );
  } else {
    const tags = registry['node-red']['dist-tags'];
    const current = Object.entries(tags)
      .filter(([tag]) => /maintenance/.test(tag) || tag === 'latest')
      .map(([, v]) => v);
    const ok = current.filter((v) => semver.satisfies(v, range));
    const tested = installedNodeReds().map((n) => n.version);
    const testedBad = tested.filter((v) => !semver.satisfies(v, range));
    record(
      'P06',
      'Node-RED version',
      ok.length > 0 && testedBad.length === 0,
      `"${range}": current ${current.join(', ')} ${ok.length ? 'compatible' : 'NOT compatible'}` +
        (tested.length
          ? `; tested ${tested.join(', ')}${testedBad.length ? ` (${testedBad.join(', ')} outside)` : ''}`
          : ''),
    );
  }
}

// P07: engines.node declared, and it admits the lowest Node.js the latest Node-RED supports.
{
  const range = pkg.engines?.node;
  if (!range || !semver.validRange(range)) {
    record('P07', 'Node.js engines', false, range ? `"${range}" is not a valid range` : 'engines.node not declared');
  } else {
    const nrEngines = registry['node-red'].latestEngines.node;
    const min = semver.minVersion(nrEngines).version;
    record(
      'P07',
      'Node.js engines',
      semver.satisfies(min, range),
      `"${range}" ${semver.satisfies(min, range) ? 'admits' : 'excludes'} Node ${min} (minimum of Node-RED ${registry['node-red']['dist-tags'].latest}: "${nrEngines}")`,
    );
  }
}

// Node-RED modules installed here other than this one: {name, types} (P08, N01).
function installedModules() {
  const mods = new Map();
  const visit = (dir) => {
    const pj = path.join(dir, 'package.json');
    if (!fs.existsSync(pj)) return;
    let p;
    try {
      p = JSON.parse(fs.readFileSync(pj, 'utf8'));
    } catch {
      return;
    }
    if (!p['node-red']?.nodes || p.name === pkg.name || mods.has(`${p.name}@${p.version}`)) return;
    const types = new Set();
    for (const rel of Object.values(p['node-red'].nodes)) {
      const html = path.join(dir, String(rel).replace(/\.js$/, '.html'));
      if (fs.existsSync(html)) {
        for (const m of fs.readFileSync(html, 'utf8').matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)) types.add(m[1]);
      }
    }
    mods.set(`${p.name}@${p.version}`, { name: p.name, types });
  };
  for (const { nm } of installedNodeReds()) {
    for (const entry of fs.readdirSync(nm)) {
      if (entry.startsWith('@'))
        for (const sub of fs.readdirSync(path.join(nm, entry))) visit(path.join(nm, entry, sub));
      else visit(path.join(nm, entry));
    }
  }
  return [...mods.values()];
}

// Core node types of the installed Node-RED copies (they ship as @node-red/nodes, not as a listed module).
function coreTypes() {
  const types = new Set();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.html')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)) types.add(m[1]);
      }
    }
  };
  for (const { nm } of installedNodeReds()) {
    const core = path.join(nm, '@node-red', 'nodes', 'core');
    if (fs.existsSync(core)) walk(core);
  }
  return types;
}

const others = installedModules();

// P08: no package of the same name in another scope (a fork?). The tool compares with the Flow Library's
// catalogue, and at 0.1.6 its comparison (an array against an array) can never match. Offline: the same
// unscoped name among the Node-RED modules installed here.
{
  const bare = String(pkg.name).split('/').pop();
  const same = others.filter((m) => m.name.split('/').pop() === bare).map((m) => m.name);
  record(
    'P08',
    'no similarly named package',
    same.length === 0,
    same.length
      ? `same name: ${same.join(', ')}`
      : `none among ${others.length} installed Node-RED modules (catalogue not consulted offline)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Node checks (N)

// The node definitions in a node's editor HTML: {type: {category}}. The Flow Library reads only
// <script type="text/javascript"> blocks; they are run here against a stand-in RED that records
// registerType calls (everything else on RED, $ and friends is an inert function).
function nodeDefinitions(htmlFile) {
  const html = fs.readFileSync(htmlFile, 'utf8');
  const blocks = [...html.matchAll(/<script[^>]*?type=['"]text\/javascript['"][^>]*>([\s\S]*?)<\/script>/gi)].map(
    (m) => m[1],
  );
  const defs = {};
  const inert = new Proxy(() => {}, {
    get: (_t, key) => (key === Symbol.toPrimitive ? () => '' : inert),
    apply: (_t, _this, fnArgs) => {
      // Run callbacks handed over at load time (e.g. $(function () {...})) as a browser eventually would.
      for (const a of fnArgs) if (typeof a === 'function') a(inert, inert);
      return inert;
    },
    construct: () => inert,
  });
  const nodes = new Proxy(
    {},
    {
      get: (_t, key) =>
        key === 'registerType'
          ? (type, def) => {
              defs[type] = { category: def?.category };
            }
          : inert,
    },
  );
  const RED = new Proxy({}, { get: (_t, key) => (key === 'nodes' ? nodes : inert) });
  for (const code of blocks) {
    vm.runInNewContext(
      code,
      { RED, $: inert, jQuery: inert, window: inert, document: inert, console },
      { timeout: 2000 },
    );
  }
  return defs;
}

const defs = {};
const defProblems = [];
for (const [set, rel] of Object.entries(nr.nodes ?? {})) {
  const htmlFile = path.join(root, String(rel).replace(/\.js$/, '.html'));
  if (!fs.existsSync(htmlFile)) {
    defProblems.push(`${set}: ${path.relative(root, htmlFile)} missing (run npm run build)`);
    continue;
  }
  try {
    const found = nodeDefinitions(htmlFile);
    if (Object.keys(found).length === 0)
      defProblems.push(`${set}: no registerType in a <script type="text/javascript">`);
    Object.assign(defs, found);
  } catch (err) {
    defProblems.push(`${set}: ${err.message}`);
  }
}

// N01: node type names unique. The tool compares with every module in the catalogue (offline: not
// reachable). Here: the core nodes and every Node-RED module installed with the tested Node-RED copies.
{
  const core = coreTypes();
  const clashes = [];
  for (const type of Object.keys(defs)) {
    if (core.has(type)) clashes.push(`${type} (core)`);
    for (const m of others) if (m.types.has(type)) clashes.push(`${type} (${m.name})`);
  }
  record(
    'N01',
    'unique node type names',
    clashes.length === 0 && defProblems.length === 0,
    clashes.length
      ? `clash: ${clashes.join(', ')}`
      : defProblems.length
        ? defProblems.join('; ')
        : `${Object.keys(defs).length} types; no clash with ${core.size} core types or ${others.length} installed modules (catalogue not consulted offline)`,
  );
}

// N02: an examples/ folder whose flows (*.json, any depth) use every node that is not a config node.
{
  const exDir = path.join(root, 'examples');
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (path.extname(e.name) === '.json') files.push(p);
    }
  };
  if (fs.existsSync(exDir)) walk(exDir);
  const wanted = Object.keys(defs).filter((t) => defs[t].category !== 'config');
  const used = new Set();
  const unreadable = [];
  for (const f of files) {
    try {
      const flow = JSON.parse(fs.readFileSync(f, 'utf8'));
      for (const n of flow) used.add(n?.type);
    } catch {
      unreadable.push(path.relative(root, f));
    }
  }
  const missing = wanted.filter((t) => !used.has(t));
  let detail;
  if (files.length === 0) detail = 'no examples/*.json';
  else if (missing.length) detail = `no example uses ${missing.join(', ')}`;
  else detail = `${files.length} example file(s) use all ${wanted.length} non-config nodes`;
  if (unreadable.length) detail += `; unreadable: ${unreadable.join(', ')}`;
  if (defProblems.length) detail += `; ${defProblems.join('; ')}`;
  record(
    'N02',
    'examples use every node',
    files.length > 0 && missing.length === 0 && defProblems.length === 0,
    detail,
    files.length > 0 && missing.length === 0 && defProblems.length === 0 && unreadable.length ? 'WARN' : undefined,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Dependency checks (D)

// D01: at most 6 dependencies (the Flow Library's 95th percentile in 2021).
{
  const n = Object.keys(deps).length;
  record('D01', 'at most 6 dependencies', n <= 6, `${n}: ${Object.keys(deps).join(', ') || 'none'}`);
}

// D02: no known-incompatible package anywhere in the production tree (optional dependencies excluded).
// The tool resolves the tree from the registry (and at 0.1.6 walks only the first dependency); offline the
// tree is the one package-lock.json records for this project, which is what `npm ci` installs.
{
  const lockFile = path.join(root, 'package-lock.json');
  if (!fs.existsSync(lockFile)) {
    record('D02', 'no incompatible packages', false, 'no package-lock.json to read the dependency tree from');
  } else {
    const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8')).packages ?? {};
    // Where npm's resolution finds `name` required from the package at `from`: the nearest node_modules up.
    const locate = (from, name) => {
      let base = from;
      for (;;) {
        const at = `${base ? `${base}/` : ''}node_modules/${name}`;
        if (lock[at]) return at;
        if (!base) return null;
        const i = base.lastIndexOf('/node_modules/');
        base = i >= 0 ? base.slice(0, i) : '';
      }
    };
    const seen = new Set();
    const bad = [];
    const unresolved = [];
    const queue = Object.keys(deps).map((name) => ['', name]);
    while (queue.length) {
      const [from, name] = queue.shift();
      const at = locate(from, name);
      if (!at) {
        unresolved.push(name);
        continue;
      }
      if (seen.has(at)) continue;
      seen.add(at);
      const { version, dependencies = {} } = lock[at];
      if (BAD_PACKAGES[name] && semver.satisfies(version, BAD_PACKAGES[name])) bad.push(`${name}@${version}`);
      for (const d of Object.keys(dependencies)) queue.push([at, d]);
    }
    record(
      'D02',
      'no incompatible packages',
      bad.length === 0 && unresolved.length === 0,
      bad.length
        ? `incompatible: ${bad.join(', ')}`
        : unresolved.length
          ? `not in package-lock.json: ${unresolved.join(', ')}`
          : `${seen.size} packages in the production tree, none of ${Object.entries(BAD_PACKAGES)
              .map(([n, r]) => `${n}${r}`)
              .join(', ')}`,
    );
  }
}

// D03: each dependency's declared range admits the registry's latest version and the installed version is at
// most a minor/patch step behind it (npm-check's "easy upgrade", which the tool requires).
{
  // The kind of step from version a up to b (null when b is not ahead), as npm-check judges it.
  const step = (a, b) => {
    if (semver.gt(a, b)) return null;
    const pa = semver.parse(a);
    const pb = semver.parse(b);
    for (const k of ['major', 'minor', 'patch']) if (pa[k] !== pb[k]) return k;
    if (pa.prerelease.join('.') !== pb.prerelease.join('.')) return 'prerelease';
    if (pa.build.join('.') !== pb.build.join('.')) return 'build';
    return null;
  };
  const behind = [];
  const notes = [];
  for (const [name, range] of Object.entries(deps)) {
    const info = registry.packages?.[name];
    if (!info) {
      behind.push(`${name}: no registry data (run npm run scorecard -- --refresh)`);
      continue;
    }
    let installed = null;
    try {
      installed = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {}
    const tags = info['dist-tags'];
    const latest = installed && tags.next && semver.gt(installed, tags.latest) ? tags.next : tags.latest;
    const current = installed ?? semver.maxSatisfying(info.versions, range);
    const kind = semver.valid(latest) && semver.valid(current) ? step(current, latest) : null;
    const easy =
      Boolean(semver.validRange(range)) &&
      Boolean(semver.valid(current)) &&
      semver.satisfies(latest, range) &&
      kind !== 'major';
    if (!easy) behind.push(`${name}: "${range}" ${current ?? 'not installed'}, latest ${latest}`);
    else notes.push(`${name} ${current}`);
  }
  record(
    'D03',
    'dependencies at latest versions',
    behind.length === 0,
    behind.length
      ? behind.join('; ')
      : `${notes.join(', ') || 'no dependencies'} (registry data of ${registry.fetched})`,
  );
}

// ---------------------------------------------------------------------------------------------------------------

const w = (s, n) => String(s).padEnd(n);
console.log(`Flow Library scorecard, offline: ${pkg.name}@${pkg.version}`);
console.log(`${w('ID', 4)} ${w('RESULT', 6)} ${w('CHECK', 32)} DETAIL`);
for (const r of results) console.log(`${w(r.id, 4)} ${w(r.result, 6)} ${w(r.title, 32)} ${r.detail}`);
const failed = results.filter((r) => r.result === 'FAIL');
console.log(
  failed.length
    ? `scorecard: ${failed.length} of ${results.length} checks failed (${failed.map((r) => r.id).join(', ')})`
    : `scorecard: all ${results.length} checks passed`,
);
if (opt('--json')) fs.writeFileSync(opt('--json'), `${JSON.stringify(results, null, 2)}\n`);
process.exit(failed.length ? 1 : 0);
