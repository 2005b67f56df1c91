#!/usr/bin/env node
// Build: compile TypeScript, then put each node's editor HTML, message catalogs and the shared icons beside
// its compiled JS (Node-RED looks for `icons/` and `locales/` in the folder of each node's .js file), the
// sandbox's own JavaScript (nodes/lib/sandbox/) beside the compiled runtime that reads it, and the Dashboard 2.0
// widgets' browser bundles into resources/.

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const pkg = require(path.join(root, 'package.json'));

fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
} catch {
  console.error('build: TypeScript compilation failed');
  process.exit(1);
}

const nodeDirs = fs
  .readdirSync(path.join(root, 'nodes'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'lib')
  .map((d) => d.name);

function copyAssets(src, dst) {
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, entry.name);
    const d = path.join(dst, entry.name);
    if (entry.isDirectory()) copyAssets(s, d);
    else if (!entry.name.endsWith('.ts')) {
      fs.mkdirSync(dst, { recursive: true });
      fs.copyFileSync(s, d);
    }
  }
}

const icons = path.join(root, 'icons');
for (const name of nodeDirs) {
  const out = path.join(dist, 'nodes', name);
  copyAssets(path.join(root, 'nodes', name), out);
  copyAssets(icons, path.join(out, 'icons'));
}
// The JavaScript that runs inside the script sandboxes, read at run time from beside the compiled runtime.
copyAssets(path.join(root, 'nodes', 'lib', 'sandbox'), path.join(dist, 'nodes', 'lib', 'sandbox'));

/**
 * A Dashboard 2.0 widget's bundle, as package.json's "node-red-dashboard-2" declares it: the compiled CommonJS
 * module of its component and the package's own modules it requires, each wrapped in a function, with a loader
 * of a few lines. The dashboard imports resources/<output> and takes globalThis[<widget type>][<component>].
 * The component may require only modules of this package (relative paths): the dashboard page has no others.
 */
function bundleWidget(type, { output, component }, entry) {
  const modules = new Map();
  const queue = [entry];
  while (queue.length > 0) {
    const id = queue.shift();
    if (modules.has(id)) continue;
    const src = fs
      .readFileSync(path.join(dist, 'nodes', `${id}.js`), 'utf8')
      .replace(/\brequire\(("[^"]*"|'[^']*')\)/g, (_m, quoted) => {
        const spec = quoted.slice(1, -1);
        if (!spec.startsWith('.'))
          throw new Error(`${entry}: the widget requires "${spec}", which is not in this package`);
        const dep = path.posix.join(path.posix.dirname(id), spec);
        queue.push(dep);
        return `require(${JSON.stringify(dep)})`;
      });
    modules.set(id, src);
  }
  const defs = [...modules].map(([id, src]) => `${JSON.stringify(id)}: (module, exports, require) => {\n${src}\n}`);
  const text = `// Built by scripts/build.js from nodes/${entry}.ts: the ${type} widget for Dashboard 2.0.
((root) => {
  const defs = {
${defs.join(',\n')}
  };
  const cache = {};
  function load(id) {
    if (!cache[id]) {
      const module = { exports: {} };
      cache[id] = module;
      defs[id](module, module.exports, load);
    }
    return cache[id].exports;
  }
  root[${JSON.stringify(type)}] = { ${JSON.stringify(component)}: load(${JSON.stringify(entry)}).${component} };
})(globalThis);
`;
  fs.writeFileSync(path.join(root, 'resources', output), text);
}
const widgets = pkg['node-red-dashboard-2']?.widgets ?? {};
for (const [type, widget] of Object.entries(widgets)) {
  // rule-knob: nodes/knob/knob-widget.ts
  const entry = `${type.replace(/^rule-/, '')}/${type.replace(/^rule-/, '')}-widget`;
  try {
    bundleWidget(type, widget, entry);
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
}

// Every node folder must be registered in package.json and every registered file must exist.
const registered = Object.values(pkg['node-red'].nodes).map((p) => path.normalize(p));
const problems = [];
for (const name of nodeDirs) {
  const js = path.normalize(path.join('dist', 'nodes', name, `${name}.js`));
  if (!registered.includes(js)) problems.push(`nodes/${name} is not listed in package.json node-red.nodes`);
}
for (const p of registered) {
  if (!fs.existsSync(path.join(root, p))) problems.push(`package.json lists ${p}, which the build did not produce`);
  const dir = path.dirname(p);
  const base = path.basename(p, '.js');
  for (const f of [`${base}.html`, `locales/en-US/${base}.json`, `locales/en-US/${base}.html`]) {
    if (!fs.existsSync(path.join(root, dir, f))) problems.push(`${dir}/${f} is missing`);
  }
}
// Editor code the node HTML loads from the package's resources/ folder (Node-RED serves it at
// resources/<package name>/<file>): the editor waits for each such script, so a missing one would hang it.
for (const name of nodeDirs) {
  const html = fs.readFileSync(path.join(root, 'nodes', name, `${name}.html`), 'utf8');
  for (const [, src] of html.matchAll(/<script src="([^"]+)"/g)) {
    const rel = src.startsWith(`resources/${pkg.name}/`) ? src.slice(`resources/${pkg.name}/`.length) : '';
    if (!rel || !fs.existsSync(path.join(root, 'resources', rel))) {
      problems.push(`nodes/${name}/${name}.html loads ${src}, which is not a file of resources/`);
    }
  }
}
if (!pkg.files.includes('resources/')) problems.push('package.json "files" lacks resources/');
if (problems.length > 0) {
  console.error(`build: ${problems.join('\n build: ')}`);
  process.exit(1);
}
console.log(`build: ${nodeDirs.length} nodes in dist/nodes`);
