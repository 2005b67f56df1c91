/**
 * Benchmark (not a test): cost of one script call with each engine considered for the script runtime.
 *
 *   npm run build && node dist/bench/script-runtime.bench.js [--quick]
 *
 * Script: `msg.deviceName = metadata.cs_deviceName; return {msg: msg, metadata: metadata, msgType: msgType};`
 * with a ~150-byte msg. Every engine gets JSON in and returns JSON out (so the caller's objects are never
 * shared with the script, as the shipped runtime guarantees), and is measured in interleaved rounds (so load
 * from other processes spreads over all of them); each figure is µs per call: median, min and max of the rounds.
 *
 *  - quickjs in the script thread (shipped): compileThreadedScript() + invokeSync() from nodes/lib/script-thread:
 *    the call handed to the worker thread through shared memory and waited for (the whole call is the event
 *    loop's side), limits on (time, memory, sizes) and the hard bound;
 *  - quickjs on the event loop: compileScript() + invoke() from nodes/lib/script-runtime, the same sandbox
 *    called in-process (no hard bound: what the thread adds is the difference);
 *  - node:vm + timeout: vm.Script#runInContext with the `timeout` option (baseline only: not isolated);
 *  - node:vm, no timeout: the same without a time limit (the floor for an in-process V8 context);
 *  - worker (sync): node:vm inside a worker_thread, called through SharedArrayBuffer + Atomics.wait (a hung call
 *    can be stopped by terminating the worker);
 *  - worker (async): the same worker protocol over postMessage, one call at a time.
 * Also: compile time, the cost of the first call after a timeout (sandbox rebuilt), and the interrupt handler's
 * cost on a CPU-bound script (shipped runtime vs a bare QuickJS runtime with no handler).
 * Writes bench/results/script-runtime.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import { newQuickJSWASMModuleFromVariant } from 'quickjs-emscripten-core';
import { compileInLanguage, tbelOptions } from '../nodes/lib/script-language';
import { type CompiledScript, compileScript, DEFAULT_LIMITS } from '../nodes/lib/script-runtime';
import { compileThreadedScript } from '../nodes/lib/script-thread';
import { tbelToJavaScript } from '../nodes/lib/tbel';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 5 : 15;
const CALLS_PER_ROUND = quick ? 2_000 : 10_000;
const WARMUP_CALLS = quick ? 5_000 : 20_000;

const BODY = 'msg.deviceName = metadata.cs_deviceName; return {msg: msg, metadata: metadata, msgType: msgType};';
const PARAMS = ['msg', 'metadata', 'msgType'];
const ARGS = [
  { temperature: 22.5, humidity: 61, ts: 1700000000000, nested: { a: 1, b: 'x' } },
  { cs_deviceName: 'dev-1', deviceType: 'sensor' },
  'POST_TELEMETRY_REQUEST',
];

interface Stats {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { median: r(median), min: r(s[0]), max: r(s[s.length - 1]), rounds: s.length };
}

function fmt(st: Stats): string {
  return `median ${st.median.toFixed(2)}  min ${st.min.toFixed(2)}  max ${st.max.toFixed(2)} µs/call`;
}

/** µs per call of `fn` over `n` calls. */
function timeSync(fn: () => unknown, n: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t) / n / 1000;
}

async function timeAsync(fn: () => Promise<unknown>, n: number): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t) / n / 1000;
}

/** The JSON-in/JSON-out wrapper every node:vm variant runs (same contract as the shipped runtime). */
const VM_RUNNER = `(function () {
  const parse = JSON.parse, stringify = JSON.stringify;
  const user = function (${PARAMS.join(', ')}) { ${BODY} };
  return function (json) { const r = user.apply(undefined, parse(json)); return r === undefined ? undefined : stringify(r); };
})()`;

function nodeVm(timeoutMs: number | undefined): () => unknown {
  const context = vm.createContext(Object.create(null));
  context.__run = vm.runInContext(VM_RUNNER, context);
  const call = new vm.Script('__run(__json)');
  const options = timeoutMs === undefined ? undefined : { timeout: timeoutMs };
  return () => {
    context.__json = JSON.stringify(ARGS);
    const out = call.runInContext(context, options) as string | undefined;
    return out === undefined ? undefined : JSON.parse(out);
  };
}

// The worker side: runs VM_RUNNER in a node:vm context; requests and replies go through a SharedArrayBuffer
// (ctl[0]: request flag, ctl[1]: byte length, ctl[2]: reply flag), or through postMessage.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const vm = require('node:vm');
const context = vm.createContext(Object.create(null));
const run = vm.runInContext(workerData.runner, context);
if (workerData.sab) {
  const ctl = new Int32Array(workerData.sab, 0, 4);
  const buf = new Uint8Array(workerData.sab, 16);
  const dec = new TextDecoder(), enc = new TextEncoder();
  for (;;) {
    Atomics.wait(ctl, 0, 0);
    Atomics.store(ctl, 0, 0);
    const out = run(dec.decode(buf.subarray(0, ctl[1]))) ?? '';
    ctl[1] = enc.encodeInto(out, buf).written;
    Atomics.store(ctl, 2, 1);
    Atomics.notify(ctl, 2);
  }
} else {
  parentPort.on('message', (json) => parentPort.postMessage(run(json)));
}`;

class SyncWorkerVm {
  private readonly sab = new SharedArrayBuffer(16 + (1 << 20));
  private readonly ctl = new Int32Array(this.sab, 0, 4);
  private readonly buf = new Uint8Array(this.sab, 16);
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  readonly worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { runner: VM_RUNNER, sab: this.sab } });

  constructor(private readonly timeoutMs: number) {}

  call(): unknown {
    const { ctl } = this;
    ctl[1] = this.enc.encodeInto(JSON.stringify(ARGS), this.buf).written;
    Atomics.store(ctl, 2, 0);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    if (Atomics.wait(ctl, 2, 0, this.timeoutMs) === 'timed-out') {
      void this.worker.terminate();
      throw new Error(`timed out after ${this.timeoutMs} ms`);
    }
    const len = ctl[1];
    return len ? JSON.parse(this.dec.decode(this.buf.subarray(0, len))) : undefined;
  }
}

class AsyncWorkerVm {
  readonly worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { runner: VM_RUNNER } });
  private pending: ((v: unknown) => void) | undefined;

  constructor() {
    this.worker.on('message', (out: string | undefined) => {
      const p = this.pending;
      this.pending = undefined;
      p?.(out === undefined ? undefined : JSON.parse(out));
    });
  }

  call(): Promise<unknown> {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.worker.postMessage(JSON.stringify(ARGS));
    });
  }
}

async function waitOnline(w: Worker): Promise<void> {
  await new Promise<void>((resolve) => w.once('online', () => resolve()));
}

function check(label: string, value: unknown): void {
  const r = value as { msg?: { deviceName?: string } } | undefined;
  if (r?.msg?.deviceName !== 'dev-1') throw new Error(`${label} returned a wrong result: ${JSON.stringify(value)}`);
}

async function main(): Promise<void> {
  console.log(
    `script runtime benchmark: ${ROUNDS} rounds x ${CALLS_PER_ROUND} calls, input ${JSON.stringify(ARGS).length} chars of JSON`,
  );

  const tCompile = performance.now();
  const shipped: CompiledScript = await compileScript({ params: PARAMS, body: BODY });
  const firstCompileMs = performance.now() - tCompile;
  const compileMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    (await compileScript({ params: PARAMS, body: BODY })).dispose();
    compileMs.push(performance.now() - t);
  }

  // The same script in TBEL (the tutorial's body is valid TBEL too): its compile time (TBEL to JavaScript alone,
  // then the whole compile), and its calls beside JavaScript's.
  const tbelTranslateMs: number[] = [];
  const tbelCompileMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    let t = performance.now();
    tbelToJavaScript(BODY, PARAMS);
    tbelTranslateMs.push(performance.now() - t);
    t = performance.now();
    (await compileScript(tbelOptions({ params: PARAMS, body: BODY }))).dispose();
    tbelCompileMs.push(performance.now() - t);
  }
  const shippedTbel: CompiledScript = await compileScript(tbelOptions({ params: PARAMS, body: BODY }));
  const threadedTbel = await compileInLanguage('tbel', { params: PARAMS, body: BODY });

  const threaded = await compileThreadedScript({ params: PARAMS, body: BODY });
  const vmTimeout = nodeVm(DEFAULT_LIMITS.timeoutMs);
  const vmNoTimeout = nodeVm(undefined);
  // Generous limit: on a loaded 2-core machine a descheduled worker can take hundreds of ms to answer.
  const syncWorker = new SyncWorkerVm(10_000);
  const asyncWorker = new AsyncWorkerVm();
  await Promise.all([waitOnline(syncWorker.worker), waitOnline(asyncWorker.worker)]);
  await new Promise((r) => setTimeout(r, 100));

  const syncEngines: Array<[string, () => unknown]> = [
    ['quickjs in the script thread (shipped)', () => (threaded.invokeSync as (a: unknown[]) => unknown)(ARGS)],
    ['quickjs on the event loop (no hard bound)', () => shipped.invoke(ARGS)],
    [
      'TBEL: quickjs in the script thread (shipped)',
      () => (threadedTbel.invokeSync as (a: unknown[]) => unknown)(ARGS),
    ],
    ['TBEL: quickjs on the event loop (no hard bound)', () => shippedTbel.invoke(ARGS)],
    ['node:vm + timeout option (not isolated)', vmTimeout],
    ['node:vm, no timeout (not isolated)', vmNoTimeout],
    ['worker + node:vm, sync (Atomics.wait)', () => syncWorker.call()],
  ];
  const asyncName = 'worker + node:vm, async (postMessage)';
  for (const [label, fn] of syncEngines) check(label, fn());
  check(asyncName, await asyncWorker.call());

  // Warm up (JIT, WebAssembly tier-up), then interleaved rounds.
  for (const [, fn] of syncEngines) timeSync(fn, WARMUP_CALLS);
  await timeAsync(() => asyncWorker.call(), WARMUP_CALLS / 4);
  const samples = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, fn] of syncEngines) {
      const n = label.includes('timeout option') ? Math.ceil(CALLS_PER_ROUND / 5) : CALLS_PER_ROUND;
      samples.set(label, [...(samples.get(label) ?? []), timeSync(fn, n)]);
    }
    const a = await timeAsync(() => asyncWorker.call(), Math.ceil(CALLS_PER_ROUND / 5));
    samples.set(asyncName, [...(samples.get(asyncName) ?? []), a]);
  }
  await syncWorker.worker.terminate();
  await asyncWorker.worker.terminate();

  // Recovery: a call that times out, then the next call (rebuilds the sandbox: runtime, context, compile).
  const looping = await compileScript({
    params: PARAMS,
    body: `if (msg.loop) { while (true) {} } ${BODY}`,
    limits: { timeoutMs: 20 },
  });
  const recoveryMs: number[] = [];
  const timeoutOvershootMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    try {
      looping.invoke([{ loop: true }, {}, 'T']);
      throw new Error('the looping script was not stopped');
    } catch (err) {
      if ((err as { kind?: string }).kind !== 'timeout') throw err;
    }
    timeoutOvershootMs.push(performance.now() - t0 - 20);
    const t1 = performance.now();
    check('recovered call', looping.invoke(ARGS));
    recoveryMs.push(performance.now() - t1);
  }
  looping.dispose();

  // Interrupt handler cost on a CPU-bound script: the shipped runtime (handler checks the deadline) vs a bare
  // QuickJS runtime without an interrupt handler, same loop.
  const LOOP = 'let s = 0; for (let i = 0; i < 200000; i++) { s += i % 7; } return s;';
  const cpu = await compileScript({ params: PARAMS, body: LOOP });
  const module = await newQuickJSWASMModuleFromVariant(releaseSyncVariant);
  const bareRt = module.newRuntime();
  const bare = bareRt.newContext();
  const bareFn = bare.evalCode(`(function () { ${LOOP} })`).unwrap();
  const runBare = () => {
    const r = bare.callFunction(bareFn, bare.undefined);
    bare.getNumber(r.unwrap());
    r.dispose();
  };
  const withHandler: number[] = [];
  const withoutHandler: number[] = [];
  for (let i = 0; i < 3; i++) cpu.invoke(ARGS);
  for (let i = 0; i < 3; i++) runBare();
  for (let round = 0; round < (quick ? 5 : 11); round++) {
    withHandler.push(timeSync(() => cpu.invoke(ARGS), 10));
    withoutHandler.push(timeSync(runBare, 10));
  }
  bareFn.dispose();
  bare.dispose();
  bareRt.dispose();
  cpu.dispose();
  shipped.dispose();
  threaded.dispose();

  const perCall: Record<string, Stats> = {};
  console.log('\nµs per call (lower is better):');
  for (const [label, xs] of samples) {
    perCall[label] = stats(xs);
    console.log(`  ${label.padEnd(50)} ${fmt(perCall[label])}`);
  }
  const ms = (xs: number[]) => {
    const st = stats(xs.map((x) => x * 1000)); // ms -> µs, rounded to 0.01 µs
    const r = (x: number) => Math.round(x) / 1000;
    return { median: r(st.median), min: r(st.min), max: r(st.max) };
  };
  const extra = {
    firstCompileMs: Math.round(firstCompileMs * 100) / 100,
    compileMs: ms(compileMs),
    tbelTranslateMs: ms(tbelTranslateMs),
    tbelCompileMs: ms(tbelCompileMs),
    callAfterTimeoutMs: ms(recoveryMs),
    timeoutOvershootMs: ms(timeoutOvershootMs),
    cpuBoundScriptMs: {
      shippedWithInterruptHandler: ms(withHandler.map((x) => x / 1000)),
      bareQuickjsNoHandler: ms(withoutHandler.map((x) => x / 1000)),
    },
  };
  console.log(
    `\nquickjs: first compile (loads the WebAssembly) ${extra.firstCompileMs} ms; later compiles`,
    extra.compileMs,
  );
  console.log('TBEL: translation to JavaScript, ms', extra.tbelTranslateMs, '; whole compile, ms', extra.tbelCompileMs);
  console.log('quickjs: first call after a timeout (sandbox rebuilt), ms', extra.callAfterTimeoutMs);
  console.log('quickjs: time past a 20 ms limit before the call returned, ms', extra.timeoutOvershootMs);
  console.log('quickjs: CPU-bound script (200k loop iterations), ms per call', extra.cpuBoundScriptMs);

  const result = {
    benchmark: 'script-runtime',
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadavg: os.loadavg(),
    rounds: ROUNDS,
    callsPerRound: CALLS_PER_ROUND,
    inputJsonChars: JSON.stringify(ARGS).length,
    script: BODY,
    microsecondsPerCall: perCall,
    quickjs: extra,
  };
  const outDir = path.resolve(__dirname, '../../bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, 'script-runtime.json');
  fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${outFile}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
