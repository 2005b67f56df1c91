/**
 * `npm start` stops cleanly however it is stopped. npm forwards SIGINT and SIGTERM to its child but not SIGHUP,
 * and npm runs the script through `sh -c`: a shell left between npm and the start script dies of SIGTERM and
 * waits out SIGINT without passing either on. A signal to npm alone could so leave the start script, Node-RED
 * and the broker running, holding their ports.
 *
 * Each case runs the real `npm start` in its own process group on free ports and a temp user directory, lets a
 * flow write a value into the demo's `file` context store, sends one signal, then checks that npm exits, that
 * no process it started (recorded from /proc before the signal) remains, that both ports are free, and that
 * Node-RED saved the value to disk on the way out.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, portFree, root, spawnCollecting, waitFor, writeSettings } from './toolkit';

/** What /proc/<pid>/stat says of a process; starttime tells a reused pid from the one recorded. */
interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  starttime: string;
}

function readProc(pid: number): Proc | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name, in parentheses, may hold spaces: the fixed fields follow its last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), starttime: f[19] };
}

function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

function argv(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** A zombie has ended; it only waits to be reaped by whoever adopted it. */
function alive(p: Proc): boolean {
  const now = readProc(p.pid);
  return now !== undefined && now.starttime === p.starttime && now.state !== 'Z' && now.state !== 'X';
}

/** `top` and every process below it, plus every process of its group. */
function tree(top: number): Proc[] {
  const procs = allProcs();
  const found = new Map<number, Proc>();
  const queue = [top];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const p of procs) {
      if ((p.pid === pid || p.ppid === pid) && !found.has(p.pid)) {
        found.set(p.pid, p);
        if (p.pid !== pid) queue.push(p.pid);
      }
    }
  }
  for (const p of procs) if (p.pgid === top && !found.has(p.pid)) found.set(p.pid, p);
  return [...found.values()];
}

const describeLinux = process.platform === 'linux' ? describe : describe.skip;

/** The case running now: its npm process, the processes recorded under it, its user directory. */
let npm: ChildProcess | undefined;
let recorded: Proc[] = [];
let userDir = '';

/** Whatever a failed case left behind: only the processes this case started, by pid. */
function cleanUp(): void {
  for (const p of recorded) {
    if (!alive(p)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
  if (npm?.pid) {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {}
  }
  npm = undefined;
  recorded = [];
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
}

describeLinux('npm start: every way of stopping it stops everything', function () {
  this.timeout(120000);

  afterEach(function () {
    this.timeout(20000);
    cleanUp();
  });

  /** Starts `npm start` and waits until a flow has written `token` into the `file` context store. */
  async function start(token: string) {
    const port = await freePort();
    const mqttPort = await freePort();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-signals-'));
    // A flow of its own beside the examples that npm start adds: once deployed, it writes the token.
    const z = 'signals-tab';
    const probe = [
      { id: z, type: 'tab', label: 'signals' },
      {
        id: 'signals-inject',
        type: 'inject',
        z,
        props: [{ p: 'payload' }],
        repeat: '',
        crontab: '',
        once: true,
        onceDelay: '0.1',
        topic: '',
        payload: token,
        payloadType: 'str',
        wires: [['signals-write']],
      },
      {
        id: 'signals-write',
        type: 'function',
        z,
        func: "global.set('signalProbe', msg.payload, 'file');\nreturn null;",
        outputs: 1,
        timeout: 0,
        noerr: 0,
        initialize: '',
        finalize: '',
        libs: [],
        wires: [[]],
      },
    ];
    // The demo's settings with one change: the file store flushes only when Node-RED stops (not every 30 s),
    // so a value found on disk afterwards was saved by the stop.
    writeSettings(userDir, probe, {
      contextStorage: {
        default: { module: 'memory' },
        file: { module: 'localfilesystem', config: { flushInterval: 3600 } },
      },
    });

    // Its own process group, as a shell gives a job: the "terminal closing" case signals the whole group.
    const { child, output } = spawnCollecting(
      'npm',
      ['start', '--', '--port', String(port), '--mqtt-port', String(mqttPort), '--user-dir', userDir],
      { cwd: root, detached: true, env: { ...process.env, npm_config_update_notifier: 'false' } },
    );
    npm = child;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited:\n${output()}`);
        return /Node-RED editor: +http/.test(output());
      },
      60000,
      'npm start to print the editor address',
    );
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/context/global/signalProbe?store=file`).catch(() => null);
        return res?.ok === true && (await res.text()).includes(token);
      },
      20000,
      'the flow to write the context value',
    );
    const pid = child.pid as number;
    recorded = tree(pid);
    const startScript = recorded.find((p) => argv(p.pid)[1]?.endsWith(path.join('scripts', 'start.js')));
    assert.ok(startScript, `the start script among ${recorded.map((p) => argv(p.pid).join(' ')).join(' | ')}`);
    const nodeRed = recorded.find((p) => p.ppid === startScript.pid);
    assert.ok(nodeRed, 'Node-RED, a child of the start script');
    return { pid, port, mqttPort, startPid: startScript.pid, exited, output };
  }

  type Started = Awaited<ReturnType<typeof start>>;

  async function assertAllStopped(demo: Started, token: string) {
    const limit = 30000;
    const t0 = Date.now();
    const left = () => Math.max(1000, limit - (Date.now() - t0));
    /** The recorded processes still running, and any other live process of the group. */
    const leftovers = () => {
      const known = new Set(recorded.map((p) => p.pid));
      return [...recorded, ...allProcs().filter((p) => p.pgid === demo.pid && !known.has(p.pid))].filter(alive);
    };
    const list = (ps: Proc[]) => ps.map((p) => `${p.pid} ${argv(p.pid).join(' ').slice(0, 80)}`).join('; ');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), limit).unref());
    const npmExit = await Promise.race([demo.exited.then(() => 'exited' as const), timeout]);
    assert.equal(npmExit, 'exited', `npm did not exit within ${limit} ms; still running: ${list(leftovers())}`);
    try {
      await waitFor(() => leftovers().length === 0, left(), 'every process npm start started to end');
    } catch (err) {
      throw new Error(`${(err as Error).message}; still running: ${list(leftovers())}\n${demo.output()}`);
    }
    await waitFor(
      async () => (await portFree(demo.port)) && (await portFree(demo.mqttPort)),
      left(),
      `ports ${demo.port} (Node-RED) and ${demo.mqttPort} (MQTT) to be free`,
    );
    const file = path.join(userDir, 'context', 'global', 'global.json');
    const saved = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
    assert.equal(saved.signalProbe, token, `the file context store saved on the way out (${file})`);
  }

  const cases: Array<[string, (d: Started) => void]> = [
    ['SIGTERM to npm', (d) => process.kill(d.pid, 'SIGTERM')],
    ['SIGINT to npm alone', (d) => process.kill(d.pid, 'SIGINT')],
    ['SIGHUP to npm (which npm does not pass on)', (d) => process.kill(d.pid, 'SIGHUP')],
    ['SIGTERM to the start script (node scripts/start.js)', (d) => process.kill(d.startPid, 'SIGTERM')],
    ['Ctrl-C in the terminal (SIGINT to the whole process group)', (d) => process.kill(-d.pid, 'SIGINT')],
    ['the terminal closing (SIGHUP to the whole process group)', (d) => process.kill(-d.pid, 'SIGHUP')],
    ['SIGKILL to the start script: Node-RED notices and stops', (d) => process.kill(d.startPid, 'SIGKILL')],
  ];
  for (const [label, signal] of cases) {
    it(label, async () => {
      const token = `stop-${process.pid}-${Date.now()}`;
      const demo = await start(token);
      signal(demo);
      await assertAllStopped(demo, token);
    });
  }
});

describeLinux('npm start -- --instances 2: the scale-out recipe stops as cleanly', function () {
  this.timeout(120000);

  afterEach(function () {
    this.timeout(20000);
    cleanUp();
  });

  /** Runs `npm start -- --instances 2 ...` in its own process group; `env` on top of this process's. */
  async function run(env: Record<string, string> = {}) {
    const ports = { red: await freePort(), mqtt: await freePort(), redis: await freePort() };
    // The second instance takes the port after the first: find a pair that is free.
    while (!(await portFree(ports.red + 1))) ports.red = await freePort();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-scale-start-'));
    const args = ['start', '--', '--instances', '2', '--user-dir', userDir];
    args.push('--port', String(ports.red), '--mqtt-port', String(ports.mqtt), '--redis-port', String(ports.redis));
    const started = spawnCollecting('npm', args, {
      cwd: root,
      detached: true,
      env: { ...process.env, npm_config_update_notifier: 'false', ...env },
    });
    npm = started.child;
    const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
    return { ...started, ports, exited };
  }

  it('says in one line what is missing, and exits non-zero, without mosquitto or redis-server', async () => {
    const { exited, output } = await run({ MOSQUITTO_PATH: '/nonexistent/mosquitto', REDIS_SERVER_PATH: '' });
    assert.notEqual(await exited, 0);
    const lines = output()
      .split('\n')
      .filter((l) => l.startsWith('start:'));
    assert.equal(lines.length, 1, output());
    assert.match(lines[0], /needs mosquitto\b.*apt-get install -y mosquitto/, output());
  });

  const cases: Array<[string, (pid: number, startPid: number) => void]> = [
    ['Ctrl-C in the terminal (SIGINT to the whole process group)', (pid) => process.kill(-pid, 'SIGINT')],
    ['SIGTERM to npm', (pid) => process.kill(pid, 'SIGTERM')],
    [
      'SIGKILL to the start script: Node-RED, mosquitto and redis-server notice and stop',
      (_, s) => process.kill(s, 'SIGKILL'),
    ],
  ];
  for (const [label, signal] of cases) {
    it(label, async () => {
      const { child, output, ports, exited } = await run();
      await waitFor(
        () => {
          if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited:\n${output()}`);
          return /Press Ctrl-C to stop/.test(output());
        },
        60000,
        'both instances to start',
      );
      for (const port of [ports.red, ports.red + 1]) {
        const res = await fetch(`http://127.0.0.1:${port}/flows`);
        assert.equal(res.status, 200, `the editor on ${port}`);
      }
      const pid = child.pid as number;
      recorded = tree(pid);
      const startScript = recorded.find((p) => argv(p.pid)[1]?.endsWith(path.join('scripts', 'start.js')));
      assert.ok(startScript, 'the start script');
      const servers = recorded.filter((p) => /mosquitto|redis-server/.test(argv(p.pid).join(' ')));
      assert.ok(servers.length >= 2, `mosquitto and redis-server among ${recorded.length} processes`);

      signal(pid, startScript.pid);
      await exited;
      const leftovers = () => recorded.filter(alive);
      await waitFor(() => leftovers().length === 0, 30000, 'every process npm start started to end').catch((err) => {
        const list = leftovers().map((p) => `${p.pid} ${argv(p.pid).join(' ').slice(0, 80)}`);
        throw new Error(`${(err as Error).message}; still running: ${list.join('; ')}\n${output()}`);
      });
      const all = [ports.red, ports.red + 1, ports.mqtt, ports.redis];
      await waitFor(async () => (await Promise.all(all.map(portFree))).every(Boolean), 10000, `ports ${all} free`);
    });
  }
});
