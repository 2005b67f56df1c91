#!/usr/bin/env node
// `npm start`: runs Node-RED with this package in a project-local user directory (.demo/), with the
// examples imported on first start and a persistent context store, so the nodes can be tried at once.
// Options: --port N (default 1880, or $PORT).
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const userDir = path.join(root, '.demo');
const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = Number(portArg >= 0 ? args[portArg + 1] : process.env.PORT || 1880);

function ensureBuilt() {
  const first = Object.values(pkg['node-red'].nodes)[0];
  if (!fs.existsSync(path.join(root, first))) {
    execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit' });
  }
}

function prepareUserDir() {
  const modDir = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
  fs.mkdirSync(path.dirname(modDir), { recursive: true });
  try {
    fs.lstatSync(modDir);
  } catch {
    fs.symlinkSync(root, modDir, 'dir');
  }
  const settings = path.join(userDir, 'settings.js');
  if (!fs.existsSync(settings)) {
    fs.writeFileSync(
      settings,
      `module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  contextStorage: {
    default: { module: 'memory' },
    file: { module: 'localfilesystem' },
  },
  logging: { console: { level: 'info' } },
};
`,
    );
  }
  const flows = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flows)) {
    const exDir = path.join(root, 'examples');
    const all = fs
      .readdirSync(exDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .flatMap((f) => JSON.parse(fs.readFileSync(path.join(exDir, f), 'utf8')));
    fs.writeFileSync(flows, JSON.stringify(all, null, 2));
  }
}

function portFree(p) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function main() {
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`start: invalid port "${port}"`);
    process.exit(2);
  }
  if (!(await portFree(port))) {
    console.error(`start: port ${port} is already in use; run with --port <another port>`);
    process.exit(1);
  }
  ensureBuilt();
  prepareUserDir();
  const red = require.resolve('node-red/red.js');
  const child = spawn(process.execPath, [red, '--userDir', userDir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (d) => {
    process.stdout.write(d);
    if (/Server now running/.test(String(d))) {
      console.log(`\n  Node-RED editor: http://127.0.0.1:${port}/\n  Press Ctrl-C to stop.\n`);
    }
  });
  const stop = () => child.kill('SIGINT');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code, signal) => process.exit(signal ? 0 : (code ?? 0)));
}

main();
