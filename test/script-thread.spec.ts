/**
 * The script thread as an attacker meets it: whatever one call does, the event loop is held at most the call's
 * time limit plus 50 ms, a script's engine holds at most twice its memory limit, and neither a runaway nor a
 * memory bomb fails another script's call.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ScriptError } from '../nodes/lib/script-runtime';
import { GRACE_MS, ScriptHost, type ThreadedScript } from '../nodes/lib/script-thread';

const PARAMS = ['msg', 'metadata', 'msgType'];
const ARGS = [{ temperature: 22.5 }, { deviceName: 'dev-1' }, 'POST_TELEMETRY_REQUEST'];
/** What the event loop may be held beyond a call's time limit. */
const STALL_ALLOWANCE_MS = 50;

/**
 * The next turn of the event loop: after a call that held it for long, the next synchronous call waits for one
 * (ScriptHost.heldThisTurn).
 */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 1));

function syncCall(s: ThreadedScript, args: unknown[] = ARGS): unknown {
  const call = s.invokeSync;
  assert.ok(call, 'the script thread is not ready for a synchronous call');
  return call(args);
}

/** Runs fn and returns how long it held the event loop (it is synchronous) and what it threw. */
function held(fn: () => unknown): { ms: number; error?: ScriptError; value?: unknown } {
  const t0 = performance.now();
  try {
    const value = fn();
    return { ms: performance.now() - t0, value };
  } catch (err) {
    assert.ok(err instanceof ScriptError, `expected a ScriptError, got ${String(err)}`);
    return { ms: performance.now() - t0, error: err };
  }
}

describe('script thread', function () {
  this.timeout(60_000);
  let host: ScriptHost;
  const scripts: ThreadedScript[] = [];
  const compile = async (body: string, timeoutMs = 200, extra: Record<string, number> = {}) => {
    const s = await host.compile({ params: PARAMS, body, limits: { timeoutMs, ...extra } });
    scripts.push(s);
    return s;
  };

  beforeEach(() => {
    host = new ScriptHost();
  });
  afterEach(() => {
    for (const s of scripts.splice(0)) s.dispose();
    host.close();
  });

  it('runs a script synchronously and asynchronously with the same result', async () => {
    const s = await compile('return {msg: {t: msg.temperature * 2}, metadata: metadata, msgType: msgType};');
    const expected = { msg: { t: 45 }, metadata: { deviceName: 'dev-1' }, msgType: 'POST_TELEMETRY_REQUEST' };
    assert.deepEqual(syncCall(s), expected);
    assert.deepEqual(await s.invoke(ARGS), expected);
  });

  it('reports script errors with their kind and line, and compile errors at compile time', async () => {
    const s = await compile('var x = 1;\nthrow new Error("bad " + msg.temperature);');
    const r = held(() => syncCall(s));
    assert.equal(r.error?.kind, 'runtime');
    assert.match(r.error?.message ?? '', /bad 22\.5/);
    assert.equal(r.error?.lineNumber, 2);
    await assert.rejects(host.compile({ params: PARAMS, body: 'return {msg: msg;' }), (e: ScriptError) => {
      assert.equal(e.kind, 'compile');
      return true;
    });
  });

  it('refuses input over the size limit before it reaches the thread', async () => {
    const s = await compile('return {msg: 1};', 200, { maxInputChars: 100 });
    assert.equal(held(() => syncCall(s, [{ big: 'x'.repeat(200) }, {}, 'T'])).error?.kind, 'size');
  });

  it('stops a plain loop with QuickJS own time limit, without ending the thread', async () => {
    const s = await compile('if (msg.loop) { while (true) {} } return {msg: 2};');
    const r = held(() => syncCall(s, [{ loop: true }, {}, 'T']));
    assert.equal(r.error?.kind, 'timeout');
    assert.ok(r.ms < 200 + STALL_ALLOWANCE_MS, `held the event loop ${r.ms.toFixed(0)} ms`);
    assert.equal(host.restarts, 0);
    assert.equal(s.invokeSync, undefined, 'a second long call in the same turn of the event loop');
    await nextTurn();
    assert.deepEqual(syncCall(s, [{}, {}, 'T']), { msg: 2 });
  });

  // One built-in call that runs for seconds or minutes: QuickJS never gets to check its interrupt.
  const slowBuiltIns: Record<string, string> = {
    'a naive indexOf over long strings':
      "var s = 'a'.repeat(200000), p = 'a'.repeat(100000) + 'b'; return {msg: s.indexOf(p)};",
    'includes over long strings':
      "var s = 'a'.repeat(200000), p = 'a'.repeat(100000) + 'b'; return {msg: s.includes(p)};",
    'lastIndexOf over long strings':
      "var s = 'a'.repeat(200000), p = 'a'.repeat(100000) + 'b'; return {msg: s.lastIndexOf(p)};",
    'sorting references to one long string':
      "var big = 'x'.repeat(1 << 20), a = []; for (var i = 0; i < 20000; i++) a.push(big); a.sort(); return {msg: a.length};",
    'Array indexOf over long equal strings':
      "var big = 'x'.repeat(1 << 20), a = []; for (var i = 0; i < 20000; i++) a.push(big); return {msg: a.indexOf('x'.repeat((1 << 20) - 1) + 'y')};",
  };
  for (const [name, body] of Object.entries(slowBuiltIns)) {
    it(`ends ${name} at the time limit plus the grace, and counts it as a time-out`, async () => {
      const s = await compile(body);
      const r = held(() => syncCall(s));
      assert.equal(r.error?.kind, 'timeout', `expected a time-out, got ${r.error?.message ?? JSON.stringify(r.value)}`);
      assert.ok(r.ms < 200 + STALL_ALLOWANCE_MS, `held the event loop ${r.ms.toFixed(0)} ms`);
    });
  }

  it('after ending a thread, runs every script again in the spare, the guilty one included', async () => {
    const innocent = await compile('return {msg: msg.n + 1};');
    const guilty = await compile(
      "if (msg.n < 0) { var s = 'a'.repeat(200000); return {msg: s.indexOf('a'.repeat(100000) + 'b')}; } return {msg: msg.n};",
    );
    assert.deepEqual(syncCall(innocent, [{ n: 1 }, {}, 'T']), { msg: 2 });
    await host.settled();
    const r = held(() => syncCall(guilty, [{ n: -1 }, {}, 'T']));
    assert.equal(r.error?.kind, 'timeout');
    assert.equal(host.restarts, 1);
    await nextTurn();
    // The spare held a copy of every script, compiled while it waited: it takes calls at once.
    const again = held(() => syncCall(innocent, [{ n: 5 }, {}, 'T']));
    assert.deepEqual(again.value, { msg: 6 });
    assert.ok(again.ms < 50, `the first call after the restart took ${again.ms.toFixed(0)} ms`);
    assert.deepEqual(syncCall(guilty, [{ n: 7 }, {}, 'T']), { msg: 7 });
  });

  it('a thread ended before its spare had a copy: the script compiles asynchronously, then runs', async () => {
    const s = await compile('return {msg: msg.n + 1};');
    host.endThread();
    host.endThread(); // the spare too, before it had anything
    assert.equal(s.invokeSync, undefined);
    assert.deepEqual(await s.invoke([{ n: 1 }, {}, 'T']), { msg: 2 });
    assert.deepEqual(syncCall(s, [{ n: 2 }, {}, 'T']), { msg: 3 });
  });

  it('survives repeated overruns back to back, each call holding the event loop at most its limit plus 50 ms', async () => {
    const s = await compile("var s = 'a'.repeat(200000); return {msg: s.indexOf('a'.repeat(100000) + 'b')};", 100);
    const other = await compile('return {msg: 1};');
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      await assert.rejects(s.invoke(ARGS), (e: ScriptError) => e.kind === 'timeout');
      // The asynchronous path compiles in one turn and calls in the next: only the call is timed here.
      assert.ok(performance.now() - t0 < 5000);
    }
    assert.equal(host.restarts, 4);
    assert.deepEqual(await other.invoke(ARGS), { msg: 1 });
  });

  // Allocation patterns that QuickJS's own accounting does not see in full: the engine's memory cap stops them.
  const memoryBombs: Record<string, string> = {
    'forty 4 MB ArrayBuffers':
      'var a = []; for (var i = 0; i < 40; i++) a.push(new ArrayBuffer(4 * 1024 * 1024)); return {msg: a.length};',
    'forty 4 MB strings':
      "var a = []; for (var i = 0; i < 40; i++) a.push('x'.repeat(4 * 1024 * 1024) + i); return {msg: a.length};",
    'many small objects': 'var a = []; for (var i = 0; i < 2000000; i++) a.push({i: i}); return {msg: a.length};',
    'typed arrays':
      'var a = []; for (var i = 0; i < 100; i++) a.push(new Float64Array(512 * 1024)); return {msg: a.length};',
  };
  for (const [name, body] of Object.entries(memoryBombs)) {
    it(`stops ${name} with a memory error, and another script's call still succeeds`, async () => {
      const other = await compile('return {msg: msg.n * 2};');
      const s = await compile(body, 5000);
      const r = held(() => syncCall(s));
      assert.equal(
        r.error?.kind,
        'memory',
        `expected a memory error, got ${r.error?.message ?? JSON.stringify(r.value)}`,
      );
      await nextTurn();
      assert.deepEqual(syncCall(other, [{ n: 21 }, {}, 'T']), { msg: 42 });
      // The bomb's engine is replaced: the script runs again (and fails again) rather than being stuck.
      await host.whenReady();
      await nextTurn();
      assert.equal(held(() => syncCall(s)).error?.kind, 'memory');
    });
  }

  it('ends a thread that does not answer at the time limit plus the grace', async () => {
    host.close();
    host = new ScriptHost({ workerFile: path.join(__dirname, 'fixtures', 'silent-script-worker.js') });
    const s = await compile('return {msg: 1};', 100);
    const r = held(() => syncCall(s));
    assert.equal(r.error?.kind, 'timeout');
    assert.ok(r.ms >= 100 && r.ms < 100 + GRACE_MS + 20, `held the event loop ${r.ms.toFixed(0)} ms`);
    assert.equal(host.restarts, 1);
  });

  it('refuses calls after dispose', async () => {
    const s = await compile('return {msg: msg.n};');
    assert.deepEqual(syncCall(s, [{ n: 7 }, {}, 'T']), { msg: 7 });
    s.dispose();
    await assert.rejects(s.invoke([{ n: 8 }, {}, 'T']), /disposed/);
  });

  it('lets the process exit when idle', () => {
    const lib = path.resolve(__dirname, '../nodes/lib/script-thread.js');
    const code = `
      const { compileThreadedScript } = require(${JSON.stringify(lib)});
      compileThreadedScript({ params: ['msg'], body: 'return msg + 1;' })
        .then((s) => s.invoke([41]))
        .then((v) => console.log('result', v));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.error, undefined, `the process did not exit by itself: ${String(r.error)}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /result 42/);
  });
});
