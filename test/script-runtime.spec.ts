import assert from 'node:assert/strict';
import {
  type CompiledScript,
  compileScript,
  DEFAULT_LIMITS,
  jsonLengthAtLeast,
  MAX_INPUT_DEPTH,
  ScriptError,
  type ScriptLimits,
} from '../nodes/lib/script-runtime';

const PARAMS = ['msg', 'metadata', 'msgType'];
const ARGS = [{ temperature: 22.5, nested: { a: 1 } }, { cs_deviceName: 'dev-1' }, 'POST_TELEMETRY_REQUEST'];
/** Short limit for the loop tests, so the suite stays quick; long enough to be above timer noise. */
const LIMIT_MS = 200;
/** How late a stopped call may come back: the interrupt is polled every few thousand bytecodes. */
const SLACK_MS = 400;

const live: CompiledScript[] = [];

async function compile(body: string, limits?: Partial<ScriptLimits>, helpers?: string): Promise<CompiledScript> {
  const s = await compileScript({ params: PARAMS, body, limits, helpers });
  live.push(s);
  return s;
}

type Outcome = { value: unknown } | { error: ScriptError };

function run(s: CompiledScript, args: unknown[] = ARGS): Outcome {
  try {
    return { value: s.invoke(args) };
  } catch (err) {
    assert.ok(err instanceof ScriptError, `expected a ScriptError, got ${String(err)}`);
    return { error: err };
  }
}

function expectError(o: Outcome, kinds: ScriptError['kind'] | ScriptError['kind'][], message?: RegExp): ScriptError {
  assert.ok('error' in o, `expected an error, got the value ${JSON.stringify((o as { value: unknown }).value)}`);
  const allowed = Array.isArray(kinds) ? kinds : [kinds];
  assert.ok(
    allowed.includes(o.error.kind),
    `expected kind ${allowed.join('|')}, got ${o.error.kind}: ${o.error.message}`,
  );
  if (message) assert.match(o.error.message, message);
  return o.error;
}

function expectValue(o: Outcome): unknown {
  assert.ok('value' in o, `expected a value, got ${'error' in o ? `${o.error.kind}: ${o.error.message}` : ''}`);
  return o.value;
}

/** Runs one call and returns how long it took (ms) with its outcome. */
function timed(s: CompiledScript, args: unknown[] = ARGS): { ms: number; outcome: Outcome } {
  const t = performance.now();
  const outcome = run(s, args);
  return { ms: performance.now() - t, outcome };
}

async function rejectsWith(p: Promise<unknown>, kind: ScriptError['kind'], message?: RegExp): Promise<ScriptError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ScriptError, `expected a ScriptError, got ${String(err)}`);
    assert.equal(err.kind, kind, `expected kind ${kind}, got ${err.kind}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected compileScript to reject with a ${kind} error`);
}

describe('script runtime (QuickJS sandbox)', () => {
  afterEach(() => {
    for (const s of live.splice(0)) s.dispose();
  });

  describe('running scripts', () => {
    it('runs a ThingsBoard-style transformation and returns its JSON result', async () => {
      const s = await compile(
        'msg.deviceName = metadata.cs_deviceName; return {msg: msg, metadata: metadata, msgType: msgType};',
      );
      assert.deepEqual(expectValue(run(s)), {
        msg: { temperature: 22.5, nested: { a: 1 }, deviceName: 'dev-1' },
        metadata: { cs_deviceName: 'dev-1' },
        msgType: 'POST_TELEMETRY_REQUEST',
      });
      // Compiled once, called many times.
      for (let i = 0; i < 50; i++) {
        const r = expectValue(run(s, [{ i }, { cs_deviceName: `d${i}` }, 'T'])) as { msg: { deviceName: string } };
        assert.equal(r.msg.deviceName, `d${i}`);
      }
    });

    it('never lets the script change the caller’s objects (JSON in, JSON out)', async () => {
      const s = await compile(
        'msg.nested.a = 99; msg.added = true; delete metadata.cs_deviceName; return {msg: msg, metadata: metadata};',
      );
      const msg = { temperature: 1, nested: { a: 1 } };
      const metadata = { cs_deviceName: 'dev-1' };
      const result = expectValue(run(s, [msg, metadata, 'T'])) as { msg: { nested: { a: number } } };
      assert.equal(result.msg.nested.a, 99);
      assert.deepEqual(msg, { temperature: 1, nested: { a: 1 } });
      assert.deepEqual(metadata, { cs_deviceName: 'dev-1' });
      // Nor is the result shared with a later call's input.
      result.msg.nested.a = -1;
      assert.deepEqual(msg.nested, { a: 1 });
    });

    it('returns undefined when the script returns nothing', async () => {
      const s = await compile('msg.x = 1;');
      const o = run(s);
      assert.ok('value' in o);
      assert.equal(o.value, undefined);
    });

    it('makes helper functions available to the body', async () => {
      const s = await compile(
        'return decodeToString(msg.bytes);',
        {},
        'function decodeToString(b) { return String.fromCharCode.apply(null, b); }',
      );
      assert.equal(expectValue(run(s, [{ bytes: [104, 105] }, {}, 'T'])), 'hi');
    });

    it('supports async bodies (await) and resolves their result', async () => {
      const s = await compile('const v = await Promise.resolve(msg.n * 2); return { v: v, t: msgType };');
      assert.deepEqual(expectValue(run(s, [{ n: 21 }, {}, 'T'])), { v: 42, t: 'T' });
    });

    it('keeps each compiled script in its own sandbox', async () => {
      const a = await compile('globalThis.shared = msg.v; return typeof shared;');
      const b = await compile('return typeof shared;');
      assert.equal(expectValue(run(a, [{ v: 1 }, {}, 'T'])), 'number');
      assert.equal(expectValue(run(b)), 'undefined');
    });
  });

  describe('isolation from the host', () => {
    // Each body tries to reach the host; success would return something other than 'undefined' or throw no error.
    const attempts: Array<[string, string]> = [
      ['msg.constructor.constructor', "return typeof msg.constructor.constructor('return process')();"],
      ['metadata.constructor.constructor', "return typeof metadata.constructor.constructor('return this')().process;"],
      ['arguments', "return typeof arguments.callee.constructor('return process')();"],
      [
        'a thrown error’s constructor',
        "try { null.x; } catch (e) { return typeof e.constructor.constructor('return process')(); }",
      ],
      ['an async function’s constructor', "return typeof (async function () {}).constructor('return process')();"],
      ['a generator’s constructor', "return typeof (function* () {}).constructor('return process')().next();"],
      ['eval', "return typeof eval('process');"],
      ['Function', "return typeof Function('return process')();"],
      ['process', 'return typeof process;'],
      ['require', 'return typeof require;'],
      ['Buffer', 'return typeof Buffer;'],
      ['module', 'return typeof module;'],
      ['globalThis.process', 'return typeof globalThis.process;'],
      ['this.process', 'return typeof this.process;'],
      ['global', 'return typeof global;'],
      ['setTimeout', 'return typeof setTimeout;'],
      ['import()', "return import('node:fs').then(function (m) { return typeof m.readFileSync; });"],
    ];
    for (const [label, body] of attempts) {
      it(`yields nothing of the host through ${label}`, async () => {
        const s = await compile(body);
        const o = run(s);
        if ('value' in o) {
          assert.equal(o.value, 'undefined');
        } else {
          assert.equal(o.error.kind, 'runtime', o.error.message);
          assert.doesNotMatch(o.error.message, /\b(pid|versions?|readFileSync)\b/);
        }
      });
    }

    it('exposes no host globals at all', async () => {
      const s = await compile('return Object.getOwnPropertyNames(globalThis);');
      const names = expectValue(run(s)) as string[];
      assert.ok(names.includes('JSON') && names.includes('Math'), 'standard built-ins are there');
      for (const host of ['process', 'require', 'Buffer', 'module', 'exports', 'global', 'setTimeout', 'console']) {
        assert.ok(!names.includes(host), `${host} must not exist in the sandbox`);
      }
    });

    it('reports that the Function constructor reached through msg is disabled', async () => {
      const s = await compile("return msg.constructor.constructor('return 1')();");
      expectError(run(s), 'runtime', /not available in scripts/);
    });
  });

  describe('time limit', () => {
    it('stops while(true){} at the limit and names the limit', async () => {
      const s = await compile('while (true) {}', { timeoutMs: LIMIT_MS });
      const { ms, outcome } = timed(s);
      expectError(outcome, 'timeout', new RegExp(`timed out after ${LIMIT_MS} ms`));
      assert.ok(ms >= LIMIT_MS - 5, `stopped too early (${ms} ms)`);
      assert.ok(ms < LIMIT_MS + SLACK_MS, `stopped too late (${ms} ms)`);
    });

    it('stops a loop that catches and retries (the interrupt cannot be caught)', async () => {
      const s = await compile('for (;;) { try { while (true) {} } catch (e) {} finally { continue; } }', {
        timeoutMs: LIMIT_MS,
      });
      const { ms, outcome } = timed(s);
      expectError(outcome, 'timeout');
      assert.ok(ms < LIMIT_MS + SLACK_MS, `stopped too late (${ms} ms)`);
    });

    it('stops an async body that loops after await: await null; while(true){}', async () => {
      const s = await compile('await null; while (true) {}', { timeoutMs: LIMIT_MS });
      const { ms, outcome } = timed(s);
      expectError(outcome, 'timeout');
      assert.ok(ms >= LIMIT_MS - 5 && ms < LIMIT_MS + SLACK_MS, `took ${ms} ms`);
    });

    it('stops a loop queued as a promise job: Promise.resolve().then(() => { while(true){} })', async () => {
      const s = await compile('Promise.resolve().then(() => { while (true) {} }); return 1;', { timeoutMs: LIMIT_MS });
      const { ms, outcome } = timed(s);
      expectError(outcome, 'timeout');
      assert.ok(ms >= LIMIT_MS - 5 && ms < LIMIT_MS + SLACK_MS, `took ${ms} ms`);
    });

    it('stops an endless chain of promise jobs', async () => {
      const s = await compile('function loop() { return Promise.resolve().then(loop); } return loop();', {
        timeoutMs: LIMIT_MS,
      });
      const { ms, outcome } = timed(s);
      // Each job keeps the promise before it: the chain fills the engine's memory cap or runs out of time.
      expectError(outcome, ['timeout', 'memory']);
      assert.ok(ms < LIMIT_MS + SLACK_MS, `took ${ms} ms`);
    });

    it('stops a catastrophic regular expression', async () => {
      const s = await compile("return /(a+)+b/.test('a'.repeat(40) + 'c');", { timeoutMs: LIMIT_MS });
      const { ms, outcome } = timed(s);
      expectError(outcome, 'timeout');
      assert.ok(ms < LIMIT_MS + SLACK_MS, `took ${ms} ms`);
    });

    it('works normally on the call after a timeout, and no call sees globals another call set', async () => {
      const s = await compile(
        'globalThis.calls = (globalThis.calls || 0) + 1; if (msg.loop) { while (true) {} } return { n: msg.n + 1, calls: calls };',
        { timeoutMs: LIMIT_MS },
      );
      assert.deepEqual(expectValue(run(s, [{ n: 1 }, {}, 'T'])), { n: 2, calls: 1 });
      expectError(run(s, [{ loop: true }, {}, 'T']), 'timeout');
      assert.deepEqual(expectValue(run(s, [{ n: 5 }, {}, 'T'])), { n: 6, calls: 1 });
      assert.deepEqual(expectValue(run(s, [{ n: 6 }, {}, 'T'])), { n: 7, calls: 1 });
    });

    it('does not hold the host event loop beyond the limit: a host setInterval keeps firing', async () => {
      const s = await compile('if (msg.loop) { while (true) {} } return 1;', { timeoutMs: LIMIT_MS });
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      try {
        await new Promise((r) => setTimeout(r, 50));
        for (let i = 0; i < 3; i++) {
          const before = ticks;
          const { ms, outcome } = timed(s, [{ loop: true }, {}, 'T']);
          expectError(outcome, 'timeout');
          assert.ok(ms < LIMIT_MS + SLACK_MS, `call ${i} held the event loop for ${ms} ms`);
          await new Promise((r) => setTimeout(r, 60));
          assert.ok(ticks > before, `the interval did not fire after call ${i}`);
        }
        assert.equal(expectValue(run(s, [{}, {}, 'T'])), 1);
      } finally {
        clearInterval(timer);
      }
    });

    it('applies a time limit to setup code (helpers): the call limit, but at least 1 s', async () => {
      const t = performance.now();
      await rejectsWith(
        compileScript({
          params: PARAMS,
          body: 'return 1;',
          helpers: 'while (true) {}',
          limits: { timeoutMs: LIMIT_MS },
        }),
        'timeout',
        /setup timed out after 1000 ms/,
      );
      assert.ok(performance.now() - t < 1000 + SLACK_MS);
    });
  });

  describe('errors', () => {
    it('reports a thrown Error as a runtime error with its message and line', async () => {
      const s = await compile('var x = 1;\nif (x) {\n  throw new Error("bad payload");\n}');
      const err = expectError(run(s), 'runtime', /Error: bad payload/);
      assert.equal(err.lineNumber, 3);
      assert.match(err.message, /line 3/);
    });

    it('reports engine errors (TypeError) and thrown non-errors', async () => {
      const s1 = await compile('return msg.missing.field;');
      expectError(run(s1), 'runtime', /TypeError: cannot read property 'field' of undefined/);
      const s2 = await compile("throw 'plain string';");
      expectError(run(s2), 'runtime', /plain string/);
    });

    it('reports a rejected async body as a runtime error', async () => {
      const s = await compile('await null;\nthrow new RangeError("later");');
      const err = expectError(run(s), 'runtime', /RangeError: later/);
      assert.equal(err.lineNumber, 2);
    });

    it('reports a promise that can never settle', async () => {
      const s = await compile('await new Promise(function () {});');
      expectError(run(s), 'runtime', /never settles/);
    });

    it('reports runaway recursion as a runtime error and keeps working', async () => {
      const s = await compile('function f(n) { return f(n + 1) + 1; } if (msg.deep) return f(0); return 7;');
      expectError(run(s, [{ deep: true }, {}, 'T']), 'runtime', /stack overflow/);
      assert.equal(expectValue(run(s, [{}, {}, 'T'])), 7);
    });

    it('rejects a syntax error at compile time with kind compile and the line', async () => {
      const err = await rejectsWith(
        compileScript({ params: PARAMS, body: 'var a = 1;\nvar b = ;' }),
        'compile',
        /SyntaxError/,
      );
      assert.equal(err.lineNumber, 2);
    });

    it('rejects a body that closes the function early', async () => {
      await rejectsWith(
        compileScript({ params: PARAMS, body: 'return 1;\n}); globalThis.x = 1; (function () {' }),
        'compile',
        /function body/,
      );
    });

    it('rejects invalid parameter names and helpers that throw', async () => {
      await rejectsWith(compileScript({ params: ['msg', 'a-b'], body: 'return 1;' }), 'compile', /parameter name/);
      await rejectsWith(
        compileScript({ params: PARAMS, body: 'return 1;', helpers: 'throw new Error("helper broke");' }),
        'compile',
        /helper broke/,
      );
    });

    it('rejects source nested too deeply to parse, and other scripts keep working', async () => {
      const ok = await compile('return msg.temperature;');
      await rejectsWith(
        compileScript({ params: PARAMS, body: `return ${'('.repeat(20_000)}1${')'.repeat(20_000)};` }),
        'compile',
      );
      await rejectsWith(
        compileScript({ params: PARAMS, body: `return ${'[['.repeat(12_000)}${']]'.repeat(12_000)};` }),
        'compile',
      );
      assert.equal(expectValue(run(ok)), 22.5);
      const again = await compile('return msg.nested.a;');
      assert.equal(expectValue(run(again)), 1);
    });

    it('reports a result that cannot be JSON as a result error', async () => {
      const circular = await compile('var o = {}; o.self = o; return o;');
      expectError(run(circular), 'result', /circular/i);
      const big = await compile('return 10n;');
      expectError(run(big), 'result', /BigInt/);
      const fn = await compile('return function () {};');
      expectError(run(fn), 'result', /function/);
    });

    it('recovers when the host stack runs out inside the engine (engine restarted, scripts rebuilt)', async () => {
      const body = 'function f(n) { return n <= 0 ? 0 : f(n - 1) + 1; } return f(100) + msg.k;';
      const a = await compile(body);
      const b = await compile('return msg.k * 2;');
      assert.equal(expectValue(run(a, [{ k: 1 }, {}, 'T'])), 101);
      // Call the script from ever shallower host stack depths, starting where the host stack is exhausted,
      // until a call gets through or the engine reports a failure.
      const seen: string[] = [];
      let done = false;
      const dive = (): void => {
        try {
          dive();
        } catch {
          // bottom reached
        }
        if (done) return;
        try {
          a.invoke([{ k: 1 }, {}, 'T']);
          done = true;
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          seen.push(message);
          // No RegExp down here: compiling one with the host stack exhausted aborts V8.
          if (message.includes('engine failure') || message.includes('restarting')) done = true;
        }
      };
      dive();
      assert.ok(
        seen.some((m) => /engine failure|restarting/.test(m)),
        `expected the engine failure to be detected on the way up, saw: ${seen.slice(-3).join(' | ')}`,
      );
      // The engine reloads in the background; calls fail cleanly until then, then both scripts work again.
      // (Generous wait: loading the WebAssembly module takes ~0.1 s, much longer on a loaded CI machine.)
      const settled = async (s: typeof a, args: unknown[]) => {
        const until = Date.now() + 20000;
        let o = run(s, args);
        while ('error' in o && Date.now() < until) {
          assert.match(o.error.message, /restarting|engine failure/);
          await new Promise((r) => setTimeout(r, 20));
          o = run(s, args);
        }
        return o;
      };
      assert.equal(expectValue(await settled(a, [{ k: 2 }, {}, 'T'])), 102);
      assert.equal(expectValue(await settled(b, [{ k: 4 }, {}, 'T'])), 8);
    });

    it('rejects use after dispose', async () => {
      const s = await compileScript({ params: PARAMS, body: 'return 1;' });
      s.dispose();
      expectError(run(s), 'runtime', /disposed/);
    });
  });

  describe('size and memory limits', () => {
    it('rejects a script body over maxScriptChars, naming the limit and the size', async () => {
      const body = `return 1;${' '.repeat(DEFAULT_LIMITS.maxScriptChars)}`;
      await rejectsWith(
        compileScript({ params: PARAMS, body }),
        'size',
        new RegExp(`${body.length} characters; the limit is ${DEFAULT_LIMITS.maxScriptChars}`),
      );
      await rejectsWith(compileScript({ params: PARAMS, body: 'return 1;', limits: { maxScriptChars: 5 } }), 'size');
    });

    it('rejects input JSON over maxInputChars before running the script', async () => {
      const s = await compile('globalThis.ran = true; return 1;');
      const big = { s: 'x'.repeat(DEFAULT_LIMITS.maxInputChars) };
      const err = expectError(
        run(s, [big, {}, 'T']),
        'size',
        /input is at least (\d+) characters of JSON; the limit is 100000/,
      );
      const atLeast = Number(/at least (\d+)/.exec(err.message)?.[1]);
      assert.ok(atLeast > 100000 && atLeast <= JSON.stringify([big, {}, 'T']).length, err.message);
      const check = await compile('return typeof ran;');
      assert.equal(expectValue(run(check)), 'undefined');
      // Over the limit only once written as JSON (many small values): JSON.stringify's own length is reported.
      const many = { a: Array.from({ length: 30000 }, (_, i) => i) };
      expectError(run(s, [many, {}, 'T']), 'size', /input is \d+ characters of JSON; the limit is 100000/);
    });

    it('refuses a Buffer of megabytes before writing it as JSON, from as deep as msg.payload.data', async () => {
      const s = await compile('return 1;');
      for (const msg of [{ payload: Buffer.alloc(2_000_000) }, { payload: { data: Buffer.alloc(60_000, 0x31) } }]) {
        expectError(run(s, [msg, {}, 'T']), 'size', /input is at least \d+ characters of JSON/);
      }
      // Under the limit: it runs.
      assert.equal(expectValue(run(s, [{ payload: Buffer.alloc(1000) }, {}, 'T'])), 1);
    });

    it("never counts more than JSON.stringify writes (the lower bound of an input's size)", () => {
      class Thing {
        big = 'x'.repeat(50);
      }
      const leftOut = { toJSON: () => undefined };
      const samples: unknown[] = [
        'x',
        '',
        0,
        Number.NaN,
        true,
        null,
        undefined,
        [],
        [undefined, () => 1, Symbol('s')],
        {},
        { a: undefined, b: () => 1, c: Symbol('s'), d: leftOut },
        { when: new Date(0), map: new Map([[1, 'x'.repeat(40)]]), set: new Set(['y']) },
        { thing: new Thing(), boxed: new String('abc'), u8: new Uint8Array(20) },
        Buffer.alloc(0),
        Buffer.from([255, 0, 10]),
        Object.assign(Buffer.alloc(50), { toJSON: () => 'short' }),
        Object.create(null, { k: { value: 'v', enumerable: true } }),
        { 'quote"d\\key\n': 'line\nbreak "quoted" \u0001' },
        [[[['deep', 'deeper']]]],
        { a: { b: { c: { d: 'x'.repeat(100) } } } },
      ];
      // Random nestings of them, too.
      let seed = 7;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      for (let i = 0; i < 300; i++) {
        const pick = () => samples[rnd(samples.length)];
        samples.push(rnd(2) ? [pick(), pick(), pick()] : { [`k${i}`]: pick(), x: pick(), y: [pick()] });
      }
      for (const v of samples) {
        const written = JSON.stringify([v, {}, 'T']).length;
        const atLeast = jsonLengthAtLeast([v, {}, 'T'], Number.POSITIVE_INFINITY);
        assert.ok(atLeast <= written, `${atLeast} > ${written} for ${JSON.stringify(v)}`);
      }
      const throwing = {
        get boom(): string {
          throw new Error('getter');
        },
      };
      assert.equal(jsonLengthAtLeast([throwing], 10), 0);
    });

    it('rejects a result over maxResultChars (a 1 MB string)', async () => {
      const s = await compile("return 'x'.repeat(1000000);");
      expectError(run(s), 'size', /result is 1000002 characters of JSON; the limit is 300000/);
      const small = await compile("return 'x'.repeat(10);", { maxResultChars: 5 });
      expectError(run(small), 'size', /the limit is 5/);
    });

    it('rejects input nested deeper than the depth limit with a size error, before the engine', async () => {
      const s = await compile('return 1;');
      const nest = (n: number): unknown => {
        let v: unknown = 0;
        for (let i = 0; i < n; i++) v = [v];
        return v;
      };
      expectError(run(s, [nest(10_000), {}, 'T']), 'size', /nested too deeply/);
      expectError(run(s, [nest(MAX_INPUT_DEPTH + 5), {}, 'T']), 'size', /nested too deeply/);
      // 100,000 levels: the host's own JSON.stringify overflows its stack; still a size error.
      expectError(run(s, [nest(100_000), {}, 'T']), 'size', /nested too deeply/);
      assert.equal(expectValue(run(s, [nest(MAX_INPUT_DEPTH - 10), {}, 'T'])), 1);
    });

    it('stops a memory bomb (memory or timeout error) and the next call works', async () => {
      const s = await compile(
        'if (msg.bomb) { let a = []; while (true) a.push(new Array(1e6).fill(1)); } return msg.n;',
        { timeoutMs: 2000 },
      );
      const { ms, outcome } = timed(s, [{ bomb: true }, {}, 'T']);
      expectError(outcome, ['memory', 'timeout']);
      assert.ok(ms < 2000 + SLACK_MS, `took ${ms} ms`);
      assert.equal(expectValue(run(s, [{ n: 3 }, {}, 'T'])), 3);
    });

    it('counts the memory limit per script', async () => {
      const body = 'var a = []; for (var i = 0; i < 200000; i++) a.push({ i: i }); return a.length;';
      const small = await compile(body, { memoryBytes: 2 * 1024 * 1024 });
      expectError(run(small), 'memory', /memory limit/);
      const large = await compile(body, { memoryBytes: 64 * 1024 * 1024 });
      assert.equal(expectValue(run(large)), 200000);
    });

    it('reports non-JSON input as an error without calling the script', async () => {
      const s = await compile('return 1;');
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      expectError(run(s, [circular, {}, 'T']), 'runtime', /cannot be converted to JSON/);
    });
  });
});
