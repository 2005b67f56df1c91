// Trusted code evaluated first in every script sandbox (QuickJS), before any user code: an expression whose value
// is `install(userFunction, maxResultChars, expectedSource)`, which builds the per-script `run` and `settle`.
// It keeps private references to the built-ins it relies on (user code may replace the globals) and disables
// run-time code generation (eval, Function and the async/generator function constructors: besides being
// unneeded, QuickJS's parser uses much more of the host's native stack than its stack accounting sees, so
// parsing is kept to compile time, where the source is probed first).
//
// Protocol: `run(json)` and `settle()` return one string whose first character tells what follows:
//   v<json>  the result's JSON                 u  the result is undefined
//   e<json>  [name, message, stack] of a thrown error
//   r<json>  [name, message, stack] of why the result cannot be converted to JSON
//   s<n>     the result's JSON is n characters, over the limit
//   p        the result is a promise: run the pending jobs, then call settle()
//   n        (settle only) the promise is still pending and nothing is left to run
// Whenever jobs are pending after run() or settle(), the host runs them and calls settle() again: jobs run
// after the call's own clean-up, and settle() cleans up after them (returning the same outcome).
//
// String concatenation here is `+`, never a template literal: QuickJS compiles a template literal into a call of
// String.prototype.concat, a method looked up at run time, and the outcome of every call is built this way.
// biome-ignore-all lint/style/useTemplate: see above
(() => {
  // biome-ignore lint/suspicious/noRedundantUseStrict: the sandbox evaluates this file as a script, not a module
  'use strict';
  const G = globalThis;
  const parse = JSON.parse,
    stringify = JSON.stringify,
    apply = Reflect.apply;
  const PromiseCtor = Promise,
    promiseThen = Promise.prototype.then,
    fnToString = Function.prototype.toString;
  const ErrorCtor = Error,
    StringCtor = String,
    EvalErrorCtor = EvalError,
    TypeErrorCtor = TypeError;
  const defineProperty = Object.defineProperty,
    getPrototypeOf = Object.getPrototypeOf;
  const getOwnPropertySymbols = Object.getOwnPropertySymbols,
    isExtensible = Object.isExtensible;

  const disabled = (what) => {
    // biome-ignore lint/complexity/useArrowFunction: a constructor, so that `new Function()` throws this EvalError too
    return function () {
      throw new EvalErrorCtor(what + ' is not available in scripts');
    };
  };
  const lock = (proto, what) => {
    const stub = disabled(what);
    defineProperty(stub, 'prototype', { value: proto, writable: false, enumerable: false, configurable: false });
    defineProperty(proto, 'constructor', { value: stub, writable: false, enumerable: false, configurable: false });
    return stub;
  };
  const FunctionStub = lock(Function.prototype, 'Function()');
  lock(
    getPrototypeOf(async () => {}),
    'AsyncFunction()',
  );
  lock(
    getPrototypeOf(function* () {}),
    'GeneratorFunction()',
  );
  lock(
    getPrototypeOf(async function* () {}),
    'AsyncGeneratorFunction()',
  );
  defineProperty(G, 'Function', { value: FunctionStub, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'eval', { value: disabled('eval()'), writable: true, enumerable: false, configurable: true });
  // A finalization callback runs whenever the collector finds its target dead, which may be during a later
  // call, with the closure of the call that registered it.
  delete G.FinalizationRegistry;

  // Math.random: QuickJS draws from one generator per context, so how many numbers a call drew would show in
  // the numbers of the next call. Each call gets a generator of its own (sfc32), seeded from one number of the
  // engine's generator: the engine's stream then moves by exactly one number per call, whatever the call does.
  const engineRandom = Math.random;
  let seed = 0,
    seeded = false,
    ra = 0,
    rb = 0,
    rc = 0,
    rd = 0;
  const next32 = () => {
    const t = (((ra + rb) | 0) + rd) | 0;
    rd = (rd + 1) | 0;
    ra = rb ^ (rb >>> 9);
    rb = (rc + (rc << 3)) | 0;
    rc = (rc << 21) | (rc >>> 11);
    rc = (rc + t) | 0;
    return t >>> 0;
  };
  const random = {
    random() {
      if (!seeded) {
        seeded = true;
        ra = (seed * 4294967296) | 0;
        rb = ((seed * 4503599627370496) % 4294967296) | 0;
        rc = 0x9e3779b9 | 0;
        rd = 1;
        for (let i = 0; i < 12; i++) next32();
      }
      return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
    },
  }.random;
  defineProperty(Math, 'random', { value: random, writable: true, enumerable: false, configurable: true });

  const describe = (e) => {
    try {
      if (e instanceof ErrorCtor) {
        const stack = e.stack;
        return stringify([StringCtor(e.name), StringCtor(e.message), typeof stack === 'string' ? stack : '']);
      }
      return stringify(['', StringCtor(e), '']);
    } catch (e2) {
      if (e2 instanceof ErrorCtor && e2.message === 'out of memory') throw e2;
      return stringify(['', 'a value that cannot be converted to a string was thrown', '']);
    }
  };

  // State kept by one call must not reach the next: every object reachable from the
  // globals (built-ins, their prototypes, the helpers), from the intrinsics no global names (iterator and
  // generator prototypes...) and from the script's own function is frozen once, the existing globals become
  // read-only, and any global a call adds is deleted when it returns. A change to the global object that
  // cannot be undone escapes the wrapper as an error, which makes the host throw this sandbox away.
  // (Helpers must declare only functions and vars: a top-level let/const/class of theirs is not a property
  // of the global object, so it would stay writable.)
  const ownKeys = Reflect.ownKeys,
    freeze = Object.freeze,
    isFrozen = Object.isFrozen;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const unnamedIntrinsics = () => {
    const list = [
      getPrototypeOf(async () => {}),
      getPrototypeOf(function* () {}),
      getPrototypeOf(async function* () {}),
      getPrototypeOf([][Symbol.iterator]()),
      getPrototypeOf(new Map().entries()),
      getPrototypeOf(new Set().values()),
      getPrototypeOf(''[Symbol.iterator]()),
      getPrototypeOf(/a/g[Symbol.matchAll]('')),
    ];
    const it = [].values();
    if (typeof it.map === 'function') list.push(getPrototypeOf(it.map((x) => x)));
    if (typeof Iterator === 'function' && typeof Iterator.from === 'function') {
      list.push(getPrototypeOf(Iterator.from({ next: () => ({ done: true }) })));
    }
    return list;
  };
  const harden = (roots) => {
    const seen = new Set();
    const todo = roots;
    while (todo.length > 0) {
      const o = todo.pop();
      if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
      seen.add(o);
      const proto = getPrototypeOf(o);
      if (proto) todo.push(proto);
      for (const k of ownKeys(o)) {
        const d = getOwnPropertyDescriptor(o, k);
        if (!d) continue;
        if ('value' in d) todo.push(d.value);
        if (d.get) todo.push(d.get);
        if (d.set) todo.push(d.set);
      }
      if (o !== G && !isFrozen(o)) freeze(o);
    }
    // Existing globals become read-only and non-enumerable, so that after a call, enumerating the global
    // object finds exactly the globals the call added (a plain assignment creates an enumerable property; the
    // ways to create a non-enumerable one are closed below). Much cheaper per call than listing every key.
    for (const k of ownKeys(G)) {
      const d = getOwnPropertyDescriptor(G, k);
      if (d?.configurable) {
        if ('value' in d) d.writable = false;
        d.configurable = false;
        d.enumerable = false;
        defineProperty(G, k, d);
      } else if (d?.writable) {
        // The helpers' function and var declarations cannot be reconfigured, but can still become read-only.
        defineProperty(G, k, { writable: false });
      }
    }
    // Those stay enumerable: remembered instead.
    for (const k in G) fixedGlobals.add(k);
    for (const s of getOwnPropertySymbols(G)) fixedSymbols.add(s);
  };
  const fixedGlobals = new Set();
  const fixedSymbols = new Set();
  // Defining a property on the global object directly could make it non-enumerable and non-configurable, or
  // an accessor (which clean() would run): refused, before the built-ins are frozen. The same through a Proxy
  // of the global object: no such Proxy.
  const refuseGlobal = (holder, name, targetOf) => {
    const original = holder[name];
    defineProperty(holder, name, {
      value: function (...args) {
        if (targetOf(this, args) === G) {
          throw new TypeErrorCtor('scripts cannot define properties on the global object');
        }
        return apply(original, this, args);
      },
      writable: false,
      enumerable: false,
      configurable: false,
    });
  };
  const firstArgument = (_self, args) => args[0];
  const receiver = (self) => self;
  refuseGlobal(Object, 'defineProperty', firstArgument);
  refuseGlobal(Object, 'defineProperties', firstArgument);
  refuseGlobal(Reflect, 'defineProperty', firstArgument);
  refuseGlobal(Object.prototype, '__defineGetter__', receiver);
  refuseGlobal(Object.prototype, '__defineSetter__', receiver);
  const ProxyCtor = Proxy,
    proxyRevocable = Proxy.revocable;
  const noGlobalTarget = (target) => {
    if (target === G) throw new TypeErrorCtor('scripts cannot wrap the global object in a Proxy');
  };
  // biome-ignore lint/suspicious/noShadowRestrictedNames: named after the built-in it stands for (Proxy.name)
  const ProxyGuard = function Proxy(target, handler) {
    if (new.target === undefined) throw new TypeErrorCtor("Proxy constructor requires 'new'");
    noGlobalTarget(target);
    return new ProxyCtor(target, handler);
  };
  defineProperty(ProxyGuard, 'revocable', {
    value: {
      revocable(target, handler) {
        noGlobalTarget(target);
        return proxyRevocable(target, handler);
      },
    }.revocable,
    writable: true,
    enumerable: false,
    configurable: true,
  });
  defineProperty(G, 'Proxy', { value: ProxyGuard, writable: true, enumerable: false, configurable: true });
  const globalProto = getPrototypeOf(G);
  const assign = Object.assign,
    create = Object.create;
  const clean = () => {
    if (getPrototypeOf(G) !== globalProto) throw new ErrorCtor('the script changed the prototype of the global object');
    if (!isExtensible(G)) throw new ErrorCtor('the script made the global object non-extensible');
    // The globals the call added are the enumerable own properties, string- or Symbol-keyed, but the helpers'.
    // One Object.assign copies exactly those, in a third of the time of a for-in plus a Symbol listing. It
    // would run a getter, but none can be defined on the global object; were one there, it could add globals
    // while being copied: so copy again until nothing is left (or the call's deadline stops it).
    for (;;) {
      const added = assign(create(null), G);
      let removed = false;
      for (const k in added) {
        if (fixedGlobals.has(k)) continue;
        if (!delete G[k]) throw new ErrorCtor('the script left a global that cannot be removed');
        removed = true;
      }
      for (const s of getOwnPropertySymbols(added)) {
        if (fixedSymbols.has(s)) continue;
        if (!delete G[s]) throw new ErrorCtor('the script left a global that cannot be removed');
        removed = true;
      }
      if (!removed) return;
    }
  };

  return function install(user, maxResult, expectedSource) {
    // A body that closes the function early ('}); ...; (function () {') would leave another function here.
    if (typeof user !== 'function' || apply(fnToString, user, []) !== expectedSource) {
      throw new SyntaxError('the script must be a function body (check for unbalanced braces)');
    }
    harden([G, user, ...unnamedIntrinsics()]);
    let token = 0,
      state = 0,
      outcome,
      last = 'u';

    const finish = (r) => {
      if (r === undefined) return 'u';
      let s;
      try {
        s = stringify(r);
      } catch (e) {
        // Out of memory / stack overflow / interrupted are engine conditions, not properties of the value.
        if (e instanceof ErrorCtor && e.name === 'InternalError') return 'e' + describe(e);
        return 'r' + describe(e);
      }
      if (s === undefined) return 'r' + stringify(['', 'a ' + typeof r + ' cannot be converted to JSON', '']);
      if (s.length > maxResult) return 's' + s.length;
      return 'v' + s;
    };

    const run = (json) => {
      seed = engineRandom();
      seeded = false;
      const out = runOnce(json);
      last = out;
      if (out !== 'p') clean();
      return out;
    };

    const runOnce = (json) => {
      let r;
      try {
        r = apply(user, undefined, parse(json));
      } catch (e) {
        return 'e' + describe(e);
      }
      if (r instanceof PromiseCtor) {
        const mine = ++token;
        state = 0;
        outcome = undefined;
        apply(promiseThen, r, [
          (v) => {
            if (mine === token) {
              state = 1;
              outcome = v;
            }
          },
          (e) => {
            if (mine === token) {
              state = 2;
              outcome = e;
            }
          },
        ]);
        return 'p';
      }
      return finish(r);
    };

    const settle = () => {
      let out = last;
      if (out === 'p') {
        const st = state,
          v = outcome;
        token++;
        state = 0;
        outcome = undefined;
        out = st === 1 ? finish(v) : st === 2 ? 'e' + describe(v) : 'n';
        last = out;
      }
      clean();
      return out;
    };

    return [run, settle];
  };
})();
