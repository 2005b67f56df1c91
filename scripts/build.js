#!/usr/bin/env node
// Build: compile TypeScript, then put each node's editor HTML, message catalogs and the shared icons beside
// its compiled JS (Node-RED looks for `icons/` and `locales/` in the folder of each node's .js file), and the
// sandbox's own JavaScript (nodes/lib/sandbox/) beside the compiled runtime that reads it.

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
