/**
 * No state between calls, by any route: for each way a call could leave something behind, a first call tries
 * it and a later call of the same compiled script must see exactly what a call saw before any attempt. The
 * attempt itself may fail (an error, a time-out, a rebuilt sandbox); it must never reach the next call.
 * Every route runs twice: on a script compiled by script-runtime, and on a decoder compiled the way the
 * integration compiles its uplink converter (with the decoder helpers).
 */
import assert from 'node:assert/strict';
import { compileDecoder } from '../nodes/lib/converters';
import { compileScript, ScriptError } from '../nodes/lib/script-runtime';

interface Route {
  label: string;
  /** Statements of the first call (wrapped in try/catch; may `return`). */
  leave: string;
  /** Statements of the later calls, ending with `return <JSON-able observation>`. */
  look: string;
  /** Only for the decoder (it uses the decoder helpers). */
  decoderOnly?: boolean;
}

const MARK = "String(globalThis.mark) + '|'";

const ROUTES: Route[] = [
  // The script's own function object.
  {
    label: 'a property on arguments.callee',
    leave: 'arguments.callee.kept = 1;',
    look: 'return [arguments.callee.kept === undefined, Object.hasOwn(arguments.callee, "kept")];',
  },
  {
    label: 'a property on arguments.callee.prototype',
    leave: 'arguments.callee.prototype.kept = 1;',
    look: 'return [({}).kept === undefined, arguments.callee.prototype.kept === undefined];',
  },
  {
    label: 'Object.defineProperty on arguments.callee',
    leave: 'Object.defineProperty(arguments.callee, "kept", { value: 1, writable: true });',
    look: 'return Object.getOwnPropertyNames(arguments.callee).sort();',
  },
  {
    label: 'replacing arguments.callee.prototype',
    leave: 'arguments.callee.prototype = { kept: 1 };',
    look: 'return arguments.callee.prototype.kept === undefined;',
  },
  // Promise jobs that run after the script returned.
  {
    label: 'a global set by a promise job queued before returning',
    leave: 'Promise.resolve().then(function () { globalThis.mark = 1; });',
    look: `return ${MARK};`,
  },
  {
    label: 'a global set three jobs after returning',
    leave: 'Promise.resolve().then(function () {}).then(function () {}).then(function () { globalThis.mark = 1; });',
    look: `return ${MARK};`,
  },
  {
    label: 'a global set by a job that toJSON queues while the result is converted',
    leave:
      'return { toJSON: function () { Promise.resolve().then(function () { globalThis.mark = 1; }); return 1; } };',
    look: `return ${MARK};`,
  },
  {
    label: 'a global set by a job that an async result’s toJSON queues',
    leave:
      'return Promise.resolve({ toJSON: function () { Promise.resolve().then(function () { globalThis.mark = 1; }); return 1; } });',
    look: `return ${MARK};`,
  },
  {
    label: 'a global set by a job that a thrown error’s message getter queues',
    leave:
      'var e = new Error("x"); Object.defineProperty(e, "message", { get: function () { Promise.resolve().then(function () { globalThis.mark = 1; }); return "m"; } }); throw e;',
    look: `return ${MARK};`,
  },
  {
    label: 'a job that keeps rescheduling itself',
    leave: 'function again() { globalThis.mark = (globalThis.mark || 0) + 1; Promise.resolve().then(again); } again();',
    look: `return ${MARK};`,
  },
  // The global object.
  {
    label: 'an implicit global',
    leave: 'mark = 1;',
    look: `return ${MARK};`,
  },
  {
    label: 'a global through this (the sloppy-mode this is the global object)',
    leave: 'this.mark = 1;',
    look: `return ${MARK};`,
  },
  {
    label: 'a Symbol-keyed global',
    leave: 'globalThis[Symbol.for("mark")] = 1;',
    look: 'return String(globalThis[Symbol.for("mark")]);',
  },
  {
    label: 'a Symbol-keyed global through Object.assign',
    leave: 'Object.assign(globalThis, { [Symbol.for("mark")]: 1 });',
    look: 'return [String(globalThis[Symbol.for("mark")]), Object.getOwnPropertySymbols(globalThis).length];',
  },
  {
    label: 'a non-enumerable global defined through a Proxy of the global object',
    leave: 'Object.defineProperty(new Proxy(globalThis, {}), "mark", { value: 1, configurable: true });',
    look: `return ${MARK};`,
  },
  {
    label: 'a non-configurable global defined through Reflect on a revocable Proxy',
    leave: 'Reflect.defineProperty(Proxy.revocable(globalThis, {}).proxy, "mark", { value: 1 });',
    look: `return ${MARK};`,
  },
  {
    label: 'a getter defined on the global object',
    leave: 'globalThis.__defineGetter__("mark", function () { return 1; });',
    look: `return ${MARK};`,
  },
  {
    label: 'a setter defined on the global object',
    leave: 'globalThis.__defineSetter__("mark", function (v) { globalThis.other = v; });',
    look: 'mark = 1; var d = Object.getOwnPropertyDescriptor(globalThis, "mark"); return [typeof d.set, typeof other];',
  },
  {
    label: 'Object.preventExtensions(globalThis)',
    leave: 'Object.preventExtensions(globalThis);',
    look: 'var e = Object.isExtensible(globalThis); tmp = 1; var v = tmp; delete globalThis.tmp; return [e, v];',
  },
  {
    label: 'Object.preventExtensions on a Proxy of the global object',
    leave: 'Object.preventExtensions(new Proxy(globalThis, {}));',
    look: 'return Object.isExtensible(globalThis);',
  },
  {
    label: 'Object.seal(globalThis) after adding a global',
    leave: 'globalThis.mark = 1; Object.seal(globalThis);',
    look: `return [Object.isExtensible(globalThis), ${MARK}];`,
  },
  {
    label: 'Object.freeze(globalThis)',
    leave: 'Object.freeze(globalThis);',
    look: 'return Object.isFrozen(globalThis);',
  },
  {
    label: 'globalThis.__proto__',
    leave: 'globalThis.__proto__ = { mark: 1 };',
    look: `return ${MARK};`,
  },
  {
    label: 'Object.setPrototypeOf(globalThis)',
    leave: 'Object.setPrototypeOf(globalThis, Object.create(Object.prototype, { mark: { value: 1 } }));',
    look: `return ${MARK};`,
  },
  {
    label: 'an own constructor on the global object through Iterator.prototype’s setter',
    leave: 'Object.getOwnPropertyDescriptor(Iterator.prototype, "constructor").set.call(globalThis, 1);',
    look: 'return Object.hasOwn(globalThis, "constructor");',
  },
  // Intrinsic objects that no global names.
  {
    label: 'the prototype of async functions',
    leave: 'Object.getPrototypeOf(async function () {}).mark = 1;',
    look: 'return String(Object.getPrototypeOf(async function () {}).mark);',
  },
  {
    label: 'the prototype of generator functions',
    leave: 'Object.getPrototypeOf(function* () {}).mark = 1;',
    look: 'return String(Object.getPrototypeOf(function* () {}).mark);',
  },
  {
    label: 'the prototype of async generator functions',
    leave: 'Object.getPrototypeOf(async function* () {}).mark = 1;',
    look: 'return String(Object.getPrototypeOf(async function* () {}).mark);',
  },
  {
    label: 'the prototype of generators (next replaced)',
    leave:
      'var p = Object.getPrototypeOf(Object.getPrototypeOf((function* () {})())); p.mark = 1; p.next = function () { return { done: true }; };',
    look: 'function* g() { yield 1; } var s = 0; for (var v of g()) s += v; return [s, String(Object.getPrototypeOf(Object.getPrototypeOf(g())).mark)];',
  },
  {
    label: 'the prototype of async generators and of async iterators',
    leave:
      'var p = Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})())); p.mark = 1; Object.getPrototypeOf(p).mark = 2;',
    look: 'var p = Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})())); return [String(p.mark), String(Object.getPrototypeOf(p).mark)];',
  },
  {
    label: 'the prototype of array iterators (next replaced: for-of in the next call)',
    leave:
      'var p = Object.getPrototypeOf([][Symbol.iterator]()); p.next = function () { return { done: true }; }; p.mark = 1;',
    look: 'var s = 0; for (var v of [1, 2, 3]) s += v; return [s, String(Object.getPrototypeOf([].keys()).mark)];',
  },
  {
    label: 'the prototypes of Map, Set, String and RegExp-string iterators',
    leave:
      'Object.getPrototypeOf(new Map().keys()).mark = 1; Object.getPrototypeOf(new Set().values()).mark = 1; Object.getPrototypeOf(""[Symbol.iterator]()).mark = 1; Object.getPrototypeOf("a".matchAll(/a/g)).mark = 1;',
    look: 'return [new Map().keys().mark, new Set().values().mark, ""[Symbol.iterator]().mark, "a".matchAll(/a/g).mark].map(String);',
  },
  {
    label: 'the prototypes of iterator helpers and of Iterator.from wrappers',
    leave:
      'Object.getPrototypeOf([].values().map(function (x) { return x; })).mark = 1; Object.getPrototypeOf(Iterator.from({ next: function () { return { done: true }; } })).mark = 1;',
    look: 'return [String([].values().map(function (x) { return x; }).mark), String(Iterator.from({ next: function () { return { done: true }; } }).mark)];',
  },
  // Built-ins named by globals.
  {
    label: 'Array.prototype and its methods',
    leave:
      'Array.prototype.mark = 1; Array.prototype.push.mark = 1; Array.prototype.push = function () { return -1; };',
    look: 'var a = []; return [a.push(1), String([].mark), String([].push.mark)];',
  },
  {
    label: 'String.prototype, Object.prototype and %TypedArray%.prototype',
    leave:
      'String.prototype.trim = function () { return "evil"; }; Object.prototype.mark = 1; Object.getPrototypeOf(Uint8Array.prototype).mark = 1;',
    look: 'return [" a ".trim(), String(({}).mark), String(new Uint8Array(1).mark)];',
  },
  {
    label: 'JSON, Math and Date',
    leave:
      'JSON.parse = function () { return "evil"; }; Math.max = function () { return -1; }; Date.now = function () { return 0; }; Date.prototype.mark = 1;',
    look: 'return [JSON.parse("1"), Math.max(1, 2), Date.now() > 0, String(new Date().mark)];',
  },
  {
    label: 'Error.prepareStackTrace, Error.stackTraceLimit and Error.captureStackTrace',
    leave:
      'Error.prepareStackTrace = function () { return "evil"; }; Error.stackTraceLimit = 0; Error.captureStackTrace = function () {};',
    look: 'return [typeof Error.prepareStackTrace, typeof Error.stackTraceLimit, typeof Error.captureStackTrace, typeof new Error("e").stack];',
  },
  {
    label: 'RegExp legacy statics (RegExp.$1, RegExp.lastMatch)',
    leave: '/(secret)/.exec("a secret"); RegExp.$1 = "set"; RegExp.lastMatch = "set";',
    look: 'return [String(RegExp.$1), String(RegExp.lastMatch), String(RegExp.input)];',
  },
  {
    label: 'the Symbol.for registry',
    leave:
      'var s = Symbol.for("mark"); try { Object.defineProperty(Symbol.prototype, "mark", { value: 1 }); } catch (e) {} new WeakMap().set(Array.prototype, s);',
    look: 'return [Symbol.keyFor(Symbol.for("mark")), String(Symbol.for("mark").mark)];',
  },
  {
    label: 'a WeakRef to a built-in and a WeakMap keyed by one',
    leave:
      'var r = new WeakRef(Array.prototype); var m = new WeakMap(); m.set(JSON, { mark: 1 }); globalThis.mark = [r, m];',
    look: `return ${MARK};`,
  },
  // The decoder helpers (global function declarations).
  {
    label: 'reassigning the helper decodeToString',
    leave: 'decodeToString = function () { return "evil"; };',
    look: 'return decodeToString([104, 105]);',
    decoderOnly: true,
  },
  {
    label: 'reassigning the helper decodeToJson through globalThis',
    leave: 'globalThis.decodeToJson = function () { return "evil"; };',
    look: 'return decodeToJson([49]);',
    decoderOnly: true,
  },
  {
    label: 'redefining a helper with Object.defineProperty',
    leave: 'Object.defineProperty(globalThis, "decodeToString", { value: function () { return "evil"; } });',
    look: 'return decodeToString([104, 105]);',
    decoderOnly: true,
  },
  {
    label: 'a property on a helper function',
    leave: 'decodeToString.mark = 1; decodeToString.prototype.mark = 1;',
    look: 'return [String(decodeToString.mark), String(decodeToString.prototype.mark)];',
    decoderOnly: true,
  },
];

type Invoke = (phase: 'leave' | 'look') => Promise<{ value: unknown } | { error: ScriptError }>;

const SCRIPT_PARAMS = ['msg', 'metadata', 'msgType'];

function bodyOf(r: Route): string {
  return `if (metadata.phase === 'leave') {\ntry {\n${r.leave}\n} catch (e) {}\nreturn 'left';\n}\n${r.look}`;
}

async function outcome(call: () => unknown): Promise<{ value: unknown } | { error: ScriptError }> {
  try {
    return { value: await call() };
  } catch (err) {
    assert.ok(err instanceof ScriptError, `expected a ScriptError, got ${String(err)}`);
    return { error: err };
  }
}

const disposers: Array<() => void> = [];

const modes: Array<[string, (r: Route) => Promise<Invoke>]> = [
  [
    'a compiled script',
    async (r) => {
      const s = await compileScript({ params: SCRIPT_PARAMS, body: bodyOf(r), limits: { timeoutMs: 300 } });
      disposers.push(() => s.dispose());
      return (phase) => outcome(() => s.invoke([{}, { phase }, 'T']));
    },
  ],
  [
    'an integration decoder (with the decoder helpers)',
    async (r) => {
      const s = await compileDecoder(bodyOf(r), { timeoutMs: 300 }, 1024);
      disposers.push(() => s.dispose());
      return (phase) => outcome(() => s.invoke([[1, 2], { phase }]));
    },
  ],
];

describe('script runtime: no state between calls, by any route', () => {
  afterEach(() => {
    for (const d of disposers.splice(0)) d();
  });

  for (const [mode, make] of modes) {
    describe(`on ${mode}`, () => {
      for (const r of ROUTES) {
        if (r.decoderOnly && !mode.includes('decoder')) continue;
        it(`leaves nothing through ${r.label}`, async () => {
          const invoke = await make(r);
          const before = await invoke('look');
          assert.ok('value' in before, `the first look failed: ${'error' in before ? before.error.message : ''}`);
          await invoke('leave');
          for (let i = 0; i < 2; i++) {
            const after = await invoke('look');
            assert.ok('value' in after, `a later call failed: ${'error' in after ? after.error.message : ''}`);
            assert.deepEqual(after.value, before.value, `${r.label} reached call ${i + 2}`);
          }
        });
      }
    });
  }

  it('leaves no shared object unfrozen: everything reachable from built-ins and from the script itself', async () => {
    // Objects reachable from two separately made samples of each kind are shared between calls; objects made
    // by the call (a function's own prototype, an iterator) are reachable from one sample only.
    const body = `
      var self = arguments.callee;
      function samples() {
        return [async function () {}, function* () {}, async function* () {}, (function* () {})(), (async function* () {})(),
          [][Symbol.iterator](), new Map().entries(), new Set().values(), ''[Symbol.iterator](), 'a'.matchAll(/a/g),
          [].values().map(function (x) { return x; }), Iterator.from({ next: function () { return { done: true }; } }),
          Promise.resolve(), new Error('x'), new WeakRef({}), new Proxy({}, {}), new DataView(new ArrayBuffer(1)),
          function () {}, function () {}.bind(null), class A {}, /a/, new Date(0), new Map(), new Set(), new WeakMap(),
          new WeakSet(), new Uint8Array(1), new SharedArrayBuffer(1), Object(Symbol()), Object(1n), Object(''),
          self, globalThis, typeof decodeToString === 'function' ? decodeToString : null];
      }
      function reach(roots) {
        var seen = new Map(), todo = roots.map(function (r, i) { return [r, 'sample ' + i]; });
        while (todo.length) {
          var e = todo.pop(), o = e[0];
          if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
          seen.set(o, e[1]);
          var p = Object.getPrototypeOf(o);
          if (p) todo.push([p, e[1] + '.__proto__']);
          var ks = Reflect.ownKeys(o);
          for (var i = 0; i < ks.length; i++) {
            var d = Object.getOwnPropertyDescriptor(o, ks[i]);
            var n = e[1] + '.' + String(ks[i]);
            if ('value' in d) todo.push([d.value, n]);
            if (d.get) todo.push([d.get, n + '<get>']);
            if (d.set) todo.push([d.set, n + '<set>']);
          }
        }
        return seen;
      }
      var a = reach(samples()), b = reach(samples()), open = [];
      a.forEach(function (path, o) { if (b.has(o) && o !== globalThis && !Object.isFrozen(o)) open.push(path); });
      return open;`;
    for (const [mode, make] of modes) {
      const invoke = await make({ label: 'walk', leave: '', look: body });
      const r = await invoke('look');
      assert.ok('value' in r, `${mode}: ${'error' in r ? r.error.message : ''}`);
      assert.deepEqual(r.value, [], `${mode}: shared objects that a call could change`);
    }
  });

  it('offers no FinalizationRegistry: its callbacks run when the collector runs, which may be in a later call', async () => {
    for (const [mode, make] of modes) {
      const invoke = await make({ label: 'typeof', leave: '', look: 'return typeof FinalizationRegistry;' });
      assert.deepEqual(await invoke('look'), { value: 'undefined' }, mode);
    }
  });

  it('reaches none of the wrapper’s own functions (run, settle, install) from the script', async () => {
    const body = `
      var found = [], seen = new Set();
      function f() { return f.caller; }
      var todo = [globalThis, arguments.callee, f(), arguments.callee.caller, Object.getPrototypeOf(async function () {}),
        Object.getPrototypeOf(function* () {}), Object.getPrototypeOf([][Symbol.iterator]())];
      while (todo.length) {
        var o = todo.pop();
        if (o === null || o === undefined || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
        seen.add(o);
        if (typeof o === 'function' && o !== arguments.callee) {
          var src = Function.prototype.toString.call(o);
          if (/runOnce|settle|install|harden|clean\\(/.test(src)) found.push(src.slice(0, 60));
        }
        todo.push(Object.getPrototypeOf(o));
        Reflect.ownKeys(o).forEach(function (k) {
          var d = Object.getOwnPropertyDescriptor(o, k);
          todo.push(d.value, d.get, d.set);
        });
      }
      return [found, typeof install, typeof run, typeof settle];`;
    for (const [mode, make] of modes) {
      const invoke = await make({ label: 'wrapper', leave: '', look: body });
      assert.deepEqual(await invoke('look'), { value: [[], 'undefined', 'undefined', 'undefined'] }, mode);
    }
  });

  it('keeps helper globals (functions and vars) from holding state: the helpers cannot change them either', async () => {
    const s = await compileScript({
      params: SCRIPT_PARAMS,
      body: 'if (metadata.phase === "leave") { shared = 5; bump(); bump(); return "left"; } return shared;',
      helpers: 'var shared = 0; function bump() { shared = shared + 1; return shared; }',
    });
    disposers.push(() => s.dispose());
    assert.equal(s.invoke([{}, { phase: 'look' }, 'T']), 0);
    s.invoke([{}, { phase: 'leave' }, 'T']);
    assert.equal(s.invoke([{}, { phase: 'look' }, 'T']), 0);
  });

  it('does not let Math.random carry how many numbers a call drew into the next call', async () => {
    // QuickJS's Math.random is xorshift64* over one state per context. An attacker that recovers the state from
    // two outputs can tell how far a previous call advanced it, so call 1 could count into it. A call's numbers
    // must not continue the stream the previous call's numbers came from.
    const s = await compileScript({
      params: SCRIPT_PARAMS,
      body: 'var n = msg.burn; while (n-- > 0) Math.random(); return [Math.random(), Math.random()];',
    });
    disposers.push(() => s.dispose());
    const M = 0x2545f4914f6cdd1dn;
    const MASK = (1n << 64n) - 1n;
    const inv = (a: bigint): bigint => {
      let x = 1n;
      for (let i = 0; i < 7; i++) x = (x * (2n - a * x)) & MASK;
      return x;
    };
    const MINV = inv(M);
    const step = (x0: bigint): bigint => {
      let x = x0;
      x ^= x >> 12n;
      x ^= (x << 25n) & MASK;
      x ^= x >> 27n;
      return x;
    };
    const top52 = (d: number): bigint => BigInt(Math.round(d * 2 ** 52));
    /** Every generator state after which the next two outputs would be a and b. */
    const statesFor = (a: number, b: number): bigint[] => {
      const found: bigint[] = [];
      for (let low = 0n; low < 4096n; low++) {
        const out = (top52(a) << 12n) | low;
        const state = (out * MINV) & MASK;
        const next = step(state);
        if (((next * M) & MASK) >> 12n === top52(b)) found.push(next);
      }
      return found;
    };
    const first = s.invoke([{ burn: 0 }, {}, 'T']) as [number, number];
    const states = statesFor(first[0], first[1]);
    const burn = 5;
    const second = s.invoke([{ burn }, {}, 'T']) as [number, number];
    for (const st of states) {
      let x = st;
      for (let i = 0; i < burn + 1; i++) x = step(x);
      assert.notEqual(((x * M) & MASK) >> 12n, top52(second[0]), 'call 2 continued the stream of call 1');
    }
    // Still a usable Math.random: in [0, 1), and not the same numbers every call.
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const [x, y] = s.invoke([{ burn: 0 }, {}, 'T']) as [number, number];
      assert.ok(x >= 0 && x < 1 && y >= 0 && y < 1 && x !== y);
      seen.add(x);
    }
    assert.equal(seen.size, 20);
  });
});
