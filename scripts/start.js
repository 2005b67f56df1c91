#!/usr/bin/env node
// `npm start`: the whole tutorial on one machine with nothing else installed. Starts an MQTT broker (aedes,
// embedded), Node-RED with this package and Dashboard 2.0 in a project-local user directory (.demo/) with the
// examples deployed, and the virtual thermostat; Ctrl-C stops all of it, and so do SIGTERM and SIGHUP (the
// terminal closing) and the end of the npm process that started it (see watchParent).
// Everything comes from the project's node_modules (linked into the user directory): no network at start.
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const DASHBOARD = '@flowfuse/node-red-dashboard';

const usage = `Usage: npm start -- [options]

Starts an MQTT broker, Node-RED with this package, Dashboard 2.0 and the example flows, and a virtual
thermostat (Thermostat-A). Ctrl-C stops everything.

Options:
  --port N                Node-RED port (default 1880, or $PORT)
  --mqtt-port N           MQTT broker port (default 1883)
  --use-existing-broker   use the broker already listening on the MQTT port instead of starting one
  --user-dir DIR          Node-RED user directory (default .demo/ in the project)
  --help                  this text`;

function fail(message, code = 1) {
  console.error(`start: ${message}`);
  process.exit(code);
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        'mqtt-port': { type: 'string' },
        'use-existing-broker': { type: 'boolean' },
        'user-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail(`${err.message}\n\n${usage}`, 2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const port = (name, raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) fail(`invalid ${name} "${raw}"`, 2);
    return n;
  };
  return {
    port: port('--port', values.port ?? process.env.PORT ?? 1880),
    mqttPort: port('--mqtt-port', values['mqtt-port'] ?? 1883),
    useExistingBroker: Boolean(values['use-existing-broker']),
    userDir: path.resolve(values['user-dir'] ?? path.join(root, '.demo')),
  };
}

function ensureBuilt() {
  const needed = [...Object.values(pkg['node-red'].nodes), ...Object.values(pkg.bin ?? {})];
  if (needed.some((f) => !fs.existsSync(path.join(root, f)))) {
    execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit' });
  }
}

/** Links a package into the user directory, as `npm install` would, without the network. */
function link(userDir, name, target) {
  const dir = path.join(userDir, 'node_modules', ...name.split('/'));
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fs.lstatSync(dir);
  } catch {
    fs.symlinkSync(target, dir, 'dir');
  }
}

function readExamples() {
  const exDir = path.join(root, 'examples');
  return fs
    .readdirSync(exDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, nodes: JSON.parse(fs.readFileSync(path.join(exDir, file), 'utf8')) }));
}

function prepareUserDir(userDir, mqttPort) {
  fs.mkdirSync(userDir, { recursive: true });
  link(userDir, pkg.name, root);
  let dashboard;
  try {
    dashboard = path.dirname(require.resolve(`${DASHBOARD}/package.json`, { paths: [root] }));
  } catch {
    fail(`${DASHBOARD} is not installed in the project: run npm ci (it is a devDependency)`);
  }
  link(userDir, DASHBOARD, dashboard);

  const settings = path.join(userDir, 'settings.js');
  if (!fs.existsSync(settings)) {
    fs.writeFileSync(
      settings,
      `module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  credentialSecret: false,
  // A local demo: no consent prompt, nothing sent anywhere.
  telemetry: { enabled: false },
  contextStorage: {
    default: { module: 'memory' },
    file: { module: 'localfilesystem' },
  },
  logging: { console: { level: 'info' } },
};
`,
    );
  }

  // Each example is added once: one that is new since the last start appears, one the user deleted stays gone.
  const flowsFile = path.join(userDir, 'flows.json');
  const importedFile = path.join(userDir, 'examples-imported.json');
  const flows = fs.existsSync(flowsFile) ? JSON.parse(fs.readFileSync(flowsFile, 'utf8')) : [];
  const imported = fs.existsSync(importedFile) ? JSON.parse(fs.readFileSync(importedFile, 'utf8')) : [];
  const ids = new Set(flows.map((n) => n.id));
  const examples = readExamples();
  for (const { file, nodes } of examples) {
    if (imported.includes(file)) continue;
    imported.push(file);
    if (nodes.some((n) => ids.has(n.id))) continue; // already there (a user directory from before this list)
    flows.push(...nodes);
    for (const n of nodes) ids.add(n.id);
    console.log(`start: added example ${file}`);
  }

  // The examples' broker is "localhost:1883"; point it at the one this demo uses.
  const exampleBrokers = new Set(
    examples.flatMap(({ nodes }) => nodes.filter((n) => n.type === 'mqtt-broker').map((n) => n.id)),
  );
  for (const n of flows) {
    if (n.type === 'mqtt-broker' && exampleBrokers.has(n.id)) {
      n.broker = '127.0.0.1';
      n.port = mqttPort;
    }
  }
  fs.writeFileSync(flowsFile, JSON.stringify(flows, null, 2));
  fs.writeFileSync(importedFile, JSON.stringify(imported, null, 2));
}

/** true when something accepts connections on 127.0.0.1:port. */
function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** An aedes broker on 127.0.0.1:port; close() drops its clients and resolves when all is shut. */
async function startBroker(port) {
  // aedes 1.x is an ES module; import() loads it from CommonJS on every Node 20.
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => broker.close(resolve));
      }),
  };
}

/**
 * Calls `onGone` once `parent`, the process that started this one (npm), has ended: this process then has
 * another parent. npm does not pass SIGHUP on, and a process manager may end npm with SIGKILL; without this
 * check the demo would be left running with nobody to stop it.
 */
function watchParent(parent, onGone) {
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone(parent);
    }
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}

async function main() {
  // The terminal may be gone (SIGHUP) while Node-RED still logs its way out: a failed write must not stop
  // the shutdown half way.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  // Taken first, so that npm ending while the demo starts is noticed too.
  const parent = process.ppid;
  const opts = options();
  if (!(await portFree(opts.port))) {
    fail(`port ${opts.port} is already in use (another Node-RED?); run with --port <another port>`);
  }
  let broker;
  if (opts.useExistingBroker) {
    if (!(await listening(opts.mqttPort))) {
      fail(
        `--use-existing-broker: nothing is listening on 127.0.0.1:${opts.mqttPort}; leave the option out to start one`,
      );
    }
  } else if (!(await portFree(opts.mqttPort))) {
    const same = opts.mqttPort === 1883 ? '' : ` --mqtt-port ${opts.mqttPort}`;
    fail(
      `MQTT port ${opts.mqttPort} is already in use, probably by another MQTT broker (mosquitto?).\n` +
        `       Use that broker:        npm start -- --use-existing-broker${same}\n` +
        `       or start one elsewhere: npm start -- --mqtt-port <another port>`,
    );
  }

  ensureBuilt();
  prepareUserDir(opts.userDir, opts.mqttPort);
  if (!opts.useExistingBroker) broker = await startBroker(opts.mqttPort);
  const mqttUrl = `mqtt://127.0.0.1:${opts.mqttPort}`;

  const { startThermostat } = require(path.join(root, 'dist', 'bin', 'thermostat.js'));
  const thermostat = startThermostat({ broker: mqttUrl, log: (line) => console.log(line) });

  const red = require.resolve('node-red/red.js', { paths: [root] });
  // stdin is a pipe that only this process writes to: the guard stops Node-RED when it ends, so that Node-RED
  // never outlives this process, however this one ends.
  const guard = path.join(__dirname, 'node-red-guard.js');
  const child = spawn(
    process.execPath,
    ['--require', guard, red, '--userDir', opts.userDir, '--port', String(opts.port)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let missingTypes = false;
  const base = `http://127.0.0.1:${opts.port}`;
  child.stdout.on('data', (d) => {
    process.stdout.write(d);
    const text = String(d);
    if (/Waiting for missing types/.test(text)) missingTypes = true;
    if (missingTypes && /Server now running/.test(text)) {
      console.error(
        `\nstart: Node-RED is missing the node types listed above, so no flow runs (is the build current? npm run build).\n` +
          `       The editor is at ${base}/\n`,
      );
    }
    if (/Started flows/.test(text)) {
      console.log(
        `\n  Node-RED editor:  ${base}/\n  Dashboard:        ${base}/dashboard\n` +
          `  MQTT broker:      ${mqttUrl}${broker ? ' (embedded)' : ' (existing)'}\n` +
          '  Device:           Thermostat-A (virtual), devices/Thermostat-A/temperature/latest and /settings\n' +
          `  User directory:   ${opts.userDir}\n  Press Ctrl-C to stop.\n`,
      );
    }
  });

  let stopping = false;
  let unwatch = () => {};
  async function shutdown(code) {
    if (stopping) return;
    stopping = true;
    unwatch();
    // Node-RED gets SIGINT (it flushes context stores) and, if it hangs, SIGKILL after 10 s.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    await thermostat.stop();
    if (broker) await broker.close();
    process.exit(code);
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => shutdown(0));
  unwatch = watchParent(parent, () => {
    console.error(`start: the process that started this one (${parent}) has ended; stopping`);
    shutdown(0);
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`start: Node-RED stopped (${signal ?? `exit code ${code}`})`);
      shutdown(code || 1);
    }
  });
  // Last resort: never leave Node-RED behind if this process ends some other way.
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

main().catch((err) => fail(err.stack || String(err)));
