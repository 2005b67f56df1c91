import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ScriptError } from '../nodes/lib/script-runtime';
import { compileThreadedScript, ScriptThread, type ThreadedScript } from '../nodes/lib/script-thread';

const PARAMS = ['msg', 'metadata', 'msgType'];
const ARGS = [{ temperature: 22.5 }, { deviceName: 'dev-1' }, 'POST_TELEMETRY_REQUEST'];

async function rejection(p: Promise<unknown>): Promise<ScriptError> {
  try {
    const v = await p;
    assert.fail(`expected a rejection, got ${JSON.stringify(v)}`);
  } catch (err) {
    assert.ok(err instanceof ScriptError, `expected a ScriptError, got ${String(err)}`);
    return err;
  }
}

/** Counts timer ticks on this event loop while `p` is pending. */
async function ticksDuring(p: Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  try {
    await p.catch(() => undefined);
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

describe('script thread', () => {
  const threads: ScriptThread[] = [];
  const scripts: ThreadedScript[] = [];
  const newThread = (options?: ConstructorParameters<typeof ScriptThread>[0]) => {
    const t = new ScriptThread(options);
    threads.push(t);
    return t;
  };
  const compile = async (thread: ScriptThread, body: string, timeoutMs = 300) => {
    const s = await thread.compile({ params: PARAMS, body, limits: { timeoutMs } });
    scripts.push(s);
    return s;
  };

  afterEach(async () => {
    for (const s of scripts.splice(0)) s.dispose();
    await Promise.all(threads.splice(0).map((t) => t.stop('the test ended')));
  });

  it('runs a script and returns its result', async () => {
    const s = await compile(
      newThread(),
      'return {msg: {t: msg.temperature * 2}, metadata: metadata, msgType: msgType};',
    );
    assert.deepEqual(await s.invoke(ARGS), {
      msg: { t: 45 },
      metadata: { deviceName: 'dev-1' },
      msgType: 'POST_TELEMETRY_REQUEST',
    });
  });

  it('keeps the event loop free while a script runs', async () => {
    const s = await compile(newThread(), 'var t = Date.now(); while (Date.now() - t < 250) {} return {msg: 1};', 2000);
    const ticks = await ticksDuring(s.invoke(ARGS));
    assert.ok(ticks >= 10, `only ${ticks} timer ticks during a 250 ms call`);
  });

  it('answers many concurrent calls of several scripts, each with its own result, in order', async () => {
    const thread = newThread();
    const a = await compile(thread, 'return {msg: {a: msg.i}};');
    const b = await compile(thread, 'return {msg: {b: msg.i * 10}};');
    const order: string[] = [];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const s = i % 2 === 0 ? a : b;
      calls.push(
        s.invoke([{ i }, {}, 'T']).then((v) => {
          order.push(`${i}`);
          return v;
        }),
      );
    }
    const results = await Promise.all(calls);
    for (const [i, r] of results.entries()) assert.deepEqual(r, { msg: i % 2 === 0 ? { a: i } : { b: i * 10 } });
    assert.deepEqual(
      order,
      calls.map((_, i) => `${i}`),
    );
  });

  it('reports script errors with their kind and line, and compile errors at compile time', async () => {
    const thread = newThread();
    const s = await compile(thread, 'var x = 1;\nthrow new Error("bad " + msg.temperature);');
    const err = await rejection(s.invoke(ARGS));
    assert.equal(err.kind, 'runtime');
    assert.match(err.message, /bad 22\.5/);
    assert.equal(err.lineNumber, 2);
    const compileErr = await rejection(thread.compile({ params: PARAMS, body: 'return {msg: msg;' }));
    assert.equal(compileErr.kind, 'compile');
  });

  it('stops a loop at its time limit in the thread and keeps the script usable', async () => {
    const s = await compile(newThread(), 'if (msg.loop) { while (true) {} } return {msg: 2};', 200);
    const err = await rejection(s.invoke([{ loop: true }, {}, 'T']));
    assert.equal(err.kind, 'timeout');
    assert.deepEqual(await s.invoke([{}, {}, 'T']), { msg: 2 });
  });

  it('refuses input over the size limit before it reaches the thread', async () => {
    const thread = newThread();
    const s = await thread.compile({ params: PARAMS, body: 'return {msg: 1};', limits: { maxInputChars: 100 } });
    scripts.push(s);
    const err = await rejection(s.invoke([{ big: 'x'.repeat(200) }, {}, 'T']));
    assert.equal(err.kind, 'size');
  });

  it('fails the calls a stopped thread held, then starts a new one and compiles the script again', async () => {
    const thread = newThread();
    const s = await compile(
      thread,
      'if (msg.slow) { var t = Date.now(); while (Date.now() - t < 400) {} } return {msg: msg.n};',
      2000,
    );
    const held = s.invoke([{ slow: true, n: 1 }, {}, 'T']);
    setTimeout(() => thread.stop('stopped by the test'), 100);
    const err = await rejection(held);
    assert.equal(err.kind, 'runtime');
    assert.match(err.message, /script thread stopped: stopped by the test/);
    assert.deepEqual(await s.invoke([{ n: 3 }, {}, 'T']), { msg: 3 });
  });

  it('ends a thread that does not answer, with an error for each call it held', async () => {
    const silent = path.join(__dirname, 'fixtures', 'silent-script-worker.js');
    const thread = newThread({ workerFile: silent, graceMs: 300 });
    const s = await compile(thread, 'return {msg: 1};', 100);
    const started = Date.now();
    const errs = await Promise.all([rejection(s.invoke(ARGS)), rejection(s.invoke(ARGS))]);
    for (const e of errs) assert.match(e.message, /did not answer within \d+ ms/);
    // Twice the two limits plus the grace, checked every 250 ms.
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });

  it('refuses calls after dispose but answers the ones made before it', async () => {
    const s = await compile(newThread(), 'return {msg: msg.n};');
    const before = s.invoke([{ n: 7 }, {}, 'T']);
    s.dispose();
    assert.deepEqual(await before, { msg: 7 });
    const err = await rejection(s.invoke([{ n: 8 }, {}, 'T']));
    assert.match(err.message, /disposed/);
  });

  const withThreadSetting = async <T>(value: string | undefined, fn: () => Promise<T>): Promise<T> => {
    const saved = process.env.RULE_ENGINE_SCRIPT_THREAD;
    if (value === undefined) delete process.env.RULE_ENGINE_SCRIPT_THREAD;
    else process.env.RULE_ENGINE_SCRIPT_THREAD = value;
    try {
      return await fn();
    } finally {
      if (saved === undefined) delete process.env.RULE_ENGINE_SCRIPT_THREAD;
      else process.env.RULE_ENGINE_SCRIPT_THREAD = saved;
    }
  };
  const busyBody = 'var t = Date.now(); while (Date.now() - t < 200) {} return {msg: 1};';

  for (const value of [undefined, 'off', 'no']) {
    it(`runs scripts on the event loop when RULE_ENGINE_SCRIPT_THREAD is ${value ?? 'not set'}`, async () => {
      const s = await withThreadSetting(value, () => compileThreadedScript({ params: PARAMS, body: busyBody }));
      scripts.push(s);
      const ticks = await ticksDuring(s.invoke(ARGS));
      assert.ok(ticks <= 2, `${ticks} timer ticks during a call that should hold the event loop`);
    });
  }

  it('runs scripts in the shared thread when RULE_ENGINE_SCRIPT_THREAD=on', async () => {
    const s = await withThreadSetting('on', () => compileThreadedScript({ params: PARAMS, body: busyBody }));
    scripts.push(s);
    const ticks = await ticksDuring(s.invoke(ARGS));
    assert.ok(ticks >= 8, `only ${ticks} timer ticks during a 200 ms call in the thread`);
  });

  it('keeps the process alive while a call is pending and lets it exit when idle', () => {
    const lib = path.resolve(__dirname, '../nodes/lib/script-thread.js');
    const code = `
      process.env.RULE_ENGINE_SCRIPT_THREAD = 'on';
      const { compileThreadedScript } = require(${JSON.stringify(lib)});
      compileThreadedScript({ params: ['msg'], body: 'var t = Date.now(); while (Date.now() - t < 200) {} return msg + 1;' })
        .then((s) => s.invoke([41]))
        .then((v) => console.log('result', v));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.error, undefined, `the process did not exit by itself: ${String(r.error)}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /result 42/);
  });
});
