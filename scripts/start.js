#!/usr/bin/env node
// `npm start`: the whole tutorial on one machine with nothing else installed. Starts an MQTT broker (aedes,
// embedded), Node-RED with this package and Dashboard 2.0 in a project-local user directory (.demo/) with the
// examples deployed, and the virtual thermostat; Ctrl-C stops all of it, and so do SIGTERM and SIGHUP (the
// terminal closing) and the end of the npm process that started it (see watchParent).
// Everything comes from the project's node_modules (linked into the user directory): no network at start.
// `--instances N` (N >= 2) runs the scale-out recipe instead (docs/scale-out.md): Debian's mosquitto and
// redis-server, N Node-RED instances running examples/07-scale-out.json on a shared subscription, and a few
// virtual thermostats; it stops the same ways.
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const DASHBOARD = '@flowfuse/node-red-dashboard';
/** The scale-out example made ready for one instance (test/scale-out.ts, shared with its tests). */
const SCALE_OUT_JS = 'dist/test/scale-out.js';
const SCALE_OUT_EXAMPLE = '07-scale-out.json';

const usage = `Usage: npm start -- [options]

Starts an MQTT broker, Node-RED with this package, Dashboard 2.0 and the example flows, and a virtual
thermostat (Thermostat-A). Ctrl-C stops everything.

Options:
  --port N                Node-RED port (default 1880, or $PORT)
  --mqtt-port N           MQTT broker port (default 1883)
  --use-existing-broker   use the broker already listening on the MQTT port instead of starting one
  --user-dir DIR          Node-RED user directory (default .demo/ in the project)
  --instances N           the scale-out recipe: N Node-RED instances (ports from --port up) sharing the
                          readings through mosquitto's $share subscriptions, devices in redis-server; needs
                          both installed (sudo apt-get install -y mosquitto redis-server). User directories
                          under DIR/ (default .demo-scale/), flows rewritten from the example at each start
  --redis-port N          redis-server port with --instances (default 6379)
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
        instances: { type: 'string' },
        'redis-port': { type: 'string' },
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
  const instances = Number(values.instances ?? 1);
  if (!Number.isInteger(instances) || instances < 1 || instances > 16) {
    fail(`invalid --instances "${values.instances}" (1 to 16)`, 2);
  }
  return {
    port: port('--port', values.port ?? process.env.PORT ?? 1880),
    mqttPort: port('--mqtt-port', values['mqtt-port'] ?? 1883),
    redisPort: port('--redis-port', values['redis-port'] ?? 6379),
    useExistingBroker: Boolean(values['use-existing-broker']),
    instances,
    userDir: path.resolve(values['user-dir'] ?? path.join(root, instances > 1 ? '.demo-scale' : '.demo')),
  };
}

function ensureBuilt() {
  const needed = [...Object.values(pkg['node-red'].nodes), ...Object.values(pkg.bin ?? {}), SCALE_OUT_JS];
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

/** The demo's settings.js, written once: a user's later edits stay. */
function writeSettingsOnce(userDir) {
  const settings = path.join(userDir, 'settings.js');
  if (fs.existsSync(settings)) return;
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

  writeSettingsOnce(userDir);

  // Each example is added once: one that is new since the last start appears, one the user deleted stays gone.
  const flowsFile = path.join(userDir, 'flows.json');
  const importedFile = path.join(userDir, 'examples-imported.json');
  const flows = fs.existsSync(flowsFile) ? JSON.parse(fs.readFileSync(flowsFile, 'utf8')) : [];
  const imported = fs.existsSync(importedFile) ? JSON.parse(fs.readFileSync(importedFile, 'utf8')) : [];
  const ids = new Set(flows.map((n) => n.id));
  // The scale-out example needs a broker with shared subscriptions and Redis: it is --instances' flow.
  const examples = readExamples().filter(({ file }) => file !== SCALE_OUT_EXAMPLE);
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

/**
 * Node-RED on `port` with `userDir`, under the guard: stdin is a pipe that only this process writes to, and the
 * guard stops Node-RED when it ends, so that Node-RED never outlives this process, however this one ends.
 * `onText` sees each chunk of its stdout, `tag` (if any) starts each line it prints.
 */
function spawnNodeRed(userDir, port, onText, tag = '') {
  const red = require.resolve('node-red/red.js', { paths: [root] });
  const guard = path.join(__dirname, 'node-red-guard.js');
  const child = spawn(process.execPath, ['--require', guard, red, '--userDir', userDir, '--port', String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let missingTypes = false;
  child.stdout.on('data', (d) => {
    const text = String(d);
    process.stdout.write(tag ? text.replace(/^(?=.)/gm, tag) : d);
    if (/Waiting for missing types/.test(text)) missingTypes = true;
    if (missingTypes && /Server now running/.test(text)) {
      console.error(
        `\nstart: Node-RED is missing the node types listed above, so no flow runs (is the build current? npm run build).\n` +
          `       The editor is at http://127.0.0.1:${port}/\n`,
      );
    }
    onText(text);
  });
  return child;
}

const running = (c) => c.exitCode === null && c.signalCode === null;

/** Sends `signal` and resolves once `child` has ended; SIGKILL if it hangs for 10 s. */
async function stopChild(child, signal) {
  if (!running(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
  await exited;
  clearTimeout(timer);
}

/**
 * Stops everything on SIGINT, SIGTERM or SIGHUP, when the parent (npm) ends, or when a Node-RED instance stops on
 * its own: Node-RED first (SIGINT: it flushes context stores), then `stopRest()` (devices, broker, servers).
 */
function superviseUntilStopped(parent, nodeReds, stopRest) {
  let stopping = false;
  let unwatch = () => {};
  async function shutdown(code) {
    if (stopping) return;
    stopping = true;
    unwatch();
    await Promise.all(nodeReds.map((child) => stopChild(child, 'SIGINT')));
    await stopRest();
    process.exit(code);
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => shutdown(0));
  unwatch = watchParent(parent, () => {
    console.error(`start: the process that started this one (${parent}) has ended; stopping`);
    shutdown(0);
  });
  for (const child of nodeReds) {
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`start: Node-RED stopped (${signal ?? `exit code ${code}`})`);
        shutdown(code || 1);
      }
    });
  }
  // Last resort: never leave Node-RED behind if this process ends some other way.
  process.on('exit', () => {
    for (const child of nodeReds) if (running(child)) child.kill('SIGKILL');
  });
}

/** The path of `name` from `envVar`, else the first on PATH (and the sbin directories, off many users' PATH). */
function findProgram(name, envVar) {
  if (process.env[envVar]) return fs.existsSync(process.env[envVar]) ? process.env[envVar] : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** A server program under the server guard (it ends with this process); resolves once it listens on `port`. */
async function startServer(program, args, port, label) {
  const child = spawn(process.execPath, [path.join(__dirname, 'server-guard.js'), program, ...args], {
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const end = Date.now() + 10000;
  while (!(await listening(port))) {
    if (!running(child)) fail(`${label} exited at start (code ${child.exitCode})`);
    if (Date.now() > end) fail(`${label} is not listening on 127.0.0.1:${port} after 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

async function mustBeFree(port, what) {
  if (!(await portFree(port))) fail(`${what} port ${port} is already in use; choose another with the options (--help)`);
}

/** `npm start -- --instances N`: the scale-out recipe on this machine (docs/scale-out.md). */
async function scaleOut(opts, parent) {
  const n = opts.instances;
  const mosquitto = opts.useExistingBroker ? 'existing' : findProgram('mosquitto', 'MOSQUITTO_PATH');
  const redis = findProgram('redis-server', 'REDIS_SERVER_PATH');
  const missing = [!mosquitto && 'mosquitto', !redis && 'redis-server'].filter(Boolean);
  if (missing.length > 0) {
    fail(
      `--instances ${n} needs ${missing.join(' and ')}, not found: sudo apt-get install -y ${missing.join(' ')} (aedes, the demo's broker, has no shared subscriptions)`,
    );
  }
  const ports = Array.from({ length: n }, (_, i) => opts.port + i);
  for (const p of ports) await mustBeFree(p, 'Node-RED');
  if (opts.useExistingBroker) {
    if (!(await listening(opts.mqttPort)))
      fail(`--use-existing-broker: nothing is listening on 127.0.0.1:${opts.mqttPort}`);
  } else {
    await mustBeFree(opts.mqttPort, 'MQTT');
  }
  await mustBeFree(opts.redisPort, 'Redis');

  ensureBuilt();
  const { scaleFlow } = require(path.join(root, SCALE_OUT_JS));
  const mqttUrl = `mqtt://127.0.0.1:${opts.mqttPort}`;
  const redisUrl = `redis://127.0.0.1:${opts.redisPort}`;
  fs.mkdirSync(opts.userDir, { recursive: true });

  const servers = [];
  const stopServers = () => Promise.all(servers.map((c) => stopChild(c, 'SIGTERM')));
  if (!opts.useExistingBroker) {
    const conf = path.join(opts.userDir, 'mosquitto.conf');
    fs.writeFileSync(
      conf,
      [
        `listener ${opts.mqttPort} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    servers.push(await startServer(mosquitto, ['-c', conf], opts.mqttPort, 'mosquitto'));
  }
  const redisDir = path.join(opts.userDir, 'redis');
  fs.mkdirSync(redisDir, { recursive: true });
  // A local try-out: nothing saved to disk, so each start begins with an empty device store.
  const redisArgs = [
    '--port',
    String(opts.redisPort),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--loglevel',
    'warning',
  ];
  servers.push(await startServer(redis, [...redisArgs, '--dir', redisDir], opts.redisPort, 'redis-server'));

  const { startThermostat } = require(path.join(root, 'dist', 'bin', 'thermostat.js'));
  // More devices than instances, so that every instance has readings to take.
  const names = ['A', 'B', 'C', 'D'].map((x) => `Thermostat-${x}`);
  const thermostats = names.map((name) => startThermostat({ broker: mqttUrl, name, log: () => {} }));

  let started = 0;
  const nodeReds = ports.map((port, i) => {
    const instance = String(i + 1);
    const userDir = path.join(opts.userDir, `node-red-${instance}`);
    fs.mkdirSync(userDir, { recursive: true });
    link(userDir, pkg.name, root);
    writeSettingsOnce(userDir);
    const flows = scaleFlow({ brokerPort: opts.mqttPort, instance, redisUrl });
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
    return spawnNodeRed(
      userDir,
      port,
      (text) => {
        if (/Started flows/.test(text) && ++started === n) {
          console.log(
            `\n  Node-RED editors: ${ports.map((p) => `http://127.0.0.1:${p}/`).join('  ')}\n` +
              `  MQTT broker:      ${mqttUrl}${opts.useExistingBroker ? ' (existing)' : ' (mosquitto)'}, ` +
              'each instance on $share/rule-engine/devices/+/temperature/latest\n' +
              `  Device store:     Redis at ${redisUrl}\n` +
              `  Devices:          ${names.join(', ')} (virtual)\n` +
              `  User directories: ${opts.userDir}${path.sep}node-red-1 ... node-red-${n}\n  Press Ctrl-C to stop.\n`,
          );
        }
      },
      `[${instance}] `,
    );
  });
  superviseUntilStopped(parent, nodeReds, async () => {
    await Promise.all(thermostats.map((t) => t.stop()));
    await stopServers();
  });
}

async function main() {
  // The terminal may be gone (SIGHUP) while Node-RED still logs its way out: a failed write must not stop
  // the shutdown half way.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  // Taken first, so that npm ending while the demo starts is noticed too.
  const parent = process.ppid;
  const opts = options();
  if (opts.instances > 1) return scaleOut(opts, parent);
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

  const base = `http://127.0.0.1:${opts.port}`;
  const child = spawnNodeRed(opts.userDir, opts.port, (text) => {
    if (/Started flows/.test(text)) {
      console.log(
        `\n  Node-RED editor:  ${base}/\n  Dashboard:        ${base}/dashboard\n` +
          `  MQTT broker:      ${mqttUrl}${broker ? ' (embedded)' : ' (existing)'}\n` +
          '  Device:           Thermostat-A (virtual), devices/Thermostat-A/temperature/latest and /settings\n' +
          `  User directory:   ${opts.userDir}\n  Press Ctrl-C to stop.\n`,
      );
    }
  });
  superviseUntilStopped(parent, [child], async () => {
    await thermostat.stop();
    if (broker) await broker.close();
  });
}

main().catch((err) => fail(err.stack || String(err)));
