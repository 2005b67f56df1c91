/**
 * The per-call fast path into a sandbox. quickjs-emscripten's public API wraps every value in a Lifetime object
 * and allocates (and frees) a C string and an argument array per call: about 2.2 µs for one string in and one
 * string out. DirectCall does the same work straight on the FFI functions the library itself uses, with one
 * reusable buffer: about 0.6 µs. It relies on internals of quickjs-emscripten-core 0.32 (context.ffi,
 * context.module, context.ctx, handle.value), so it is feature-detected and self-tested once per engine, and the
 * sandbox uses the public API when either fails.
 */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';
import type { Engine } from './script-engine';

interface RawFfi {
  QTS_NewString(ctx: number, str: number): number;
  QTS_Call(ctx: number, fn: number, thisVal: number, argc: number, argv: number): number;
  QTS_ResolveException(ctx: number, value: number): number;
  QTS_GetString(ctx: number, value: number): number;
  QTS_FreeCString(ctx: number, str: number): void;
  QTS_FreeValuePointer(ctx: number, value: number): void;
}

interface RawModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class DirectCall {
  /** Message of the exception of the last call() that returned undefined. */
  errorMessage = '';

  private constructor(
    private readonly engine: Engine,
    private readonly ffi: RawFfi,
    private readonly mod: RawModule,
    private readonly ctxPtr: number,
    private readonly fnPtr: number,
    private readonly undefinedPtr: number,
  ) {}

  static create(engine: Engine, ctx: QuickJSContext, fn: QuickJSHandle): DirectCall | undefined {
    const inner = ctx as unknown as { ffi?: Partial<RawFfi>; module?: Partial<RawModule>; ctx?: { value?: unknown } };
    const ffi = inner.ffi;
    const mod = inner.module;
    const ctxPtr = inner.ctx?.value;
    const fnPtr = (fn as unknown as { value?: unknown }).value;
    const undefinedPtr = (ctx.undefined as unknown as { value?: unknown }).value;
    if (!ffi || !mod || typeof ctxPtr !== 'number' || typeof fnPtr !== 'number' || typeof undefinedPtr !== 'number') {
      return undefined;
    }
    const names = [
      'QTS_NewString',
      'QTS_Call',
      'QTS_ResolveException',
      'QTS_GetString',
      'QTS_FreeCString',
      'QTS_FreeValuePointer',
    ] as const;
    if (names.some((n) => typeof ffi[n] !== 'function')) return undefined;
    if (!(mod.HEAPU8 instanceof Uint8Array) || typeof mod._malloc !== 'function' || typeof mod._free !== 'function') {
      return undefined;
    }
    return new DirectCall(engine, ffi as RawFfi, mod as RawModule, ctxPtr, fnPtr, undefinedPtr);
  }

  /** Checks, once per engine, that the internals behave as expected: a round trip through a tiny function. */
  static selfTest(engine: Engine, ctx: QuickJSContext): boolean {
    const r = ctx.evalCode("(function (s) { return s + '|' + s.length; })", 'selftest.js', { type: 'global' });
    if (r.error) {
      r.error.dispose();
      return false;
    }
    const fn = r.value;
    try {
      const probe = 'h\u00e9llo \u2713 {"a":[1]}';
      return DirectCall.create(engine, ctx, fn)?.call(probe) === `${probe}|${probe.length}`;
    } catch {
      return false;
    } finally {
      fn.dispose();
    }
  }

  private scratch(bytes: number): { ptr: number; cap: number; argv: number } {
    let s = this.engine.scratch;
    if (!s) {
      const argv = this.mod._malloc(4);
      if (!argv) throw new Error('WebAssembly heap exhausted');
      s = { ptr: 0, cap: 0, argv };
      this.engine.scratch = s;
    }
    if (s.cap < bytes) {
      if (s.ptr) this.mod._free(s.ptr);
      const cap = Math.max(bytes, 4096, s.cap * 2);
      s.ptr = this.mod._malloc(cap);
      s.cap = s.ptr ? cap : 0;
      if (!s.ptr) throw new Error('WebAssembly heap exhausted');
    }
    return s;
  }

  /** Calls the function with one string argument; returns its string result, or undefined if it threw. */
  call(arg: string): string | undefined {
    const { ffi, mod, ctxPtr } = this;
    const s = this.scratch(arg.length * 3 + 1);
    let heap = mod.HEAPU8;
    const written = utf8Encoder.encodeInto(arg, heap.subarray(s.ptr, s.ptr + s.cap - 1)).written;
    heap[s.ptr + written] = 0;
    const argPtr = ffi.QTS_NewString(ctxPtr, s.ptr);
    const argError = ffi.QTS_ResolveException(ctxPtr, argPtr);
    if (argError) return this.failed(argPtr, argError);
    heap = mod.HEAPU8; // the heap may have grown (new buffer)
    heap[s.argv] = argPtr & 255;
    heap[s.argv + 1] = (argPtr >>> 8) & 255;
    heap[s.argv + 2] = (argPtr >>> 16) & 255;
    heap[s.argv + 3] = argPtr >>> 24;
    const resultPtr = ffi.QTS_Call(ctxPtr, this.fnPtr, this.undefinedPtr, 1, s.argv);
    ffi.QTS_FreeValuePointer(ctxPtr, argPtr);
    const errorPtr = ffi.QTS_ResolveException(ctxPtr, resultPtr);
    if (errorPtr) return this.failed(resultPtr, errorPtr);
    const out = this.readString(resultPtr);
    ffi.QTS_FreeValuePointer(ctxPtr, resultPtr);
    return out;
  }

  /** Frees the value that turned out to be an exception and the exception, keeping the exception's message. */
  private failed(valuePtr: number, errorPtr: number): undefined {
    const { ffi, ctxPtr } = this;
    ffi.QTS_FreeValuePointer(ctxPtr, valuePtr);
    this.errorMessage = this.readString(errorPtr);
    ffi.QTS_FreeValuePointer(ctxPtr, errorPtr);
    return undefined;
  }

  private readString(valuePtr: number): string {
    const { ffi, mod, ctxPtr } = this;
    const cstr = ffi.QTS_GetString(ctxPtr, valuePtr);
    if (!cstr) return '';
    const heap = mod.HEAPU8;
    const end = heap.indexOf(0, cstr);
    const text = utf8Decoder.decode(heap.subarray(cstr, end < 0 ? heap.length : end));
    ffi.QTS_FreeCString(ctxPtr, cstr);
    return text;
  }
}
