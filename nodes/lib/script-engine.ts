/**
 * The script engines: every compiled script has a WebAssembly instance of QuickJS of its own, with a WebAssembly
 * memory whose maximum is the hard memory cap (see engineMemoryCap): QuickJS's own accounting does not see every
 * allocation (measured: forty 4 MB ArrayBuffers or strings passed an 8 MB limit), but nothing inside an
 * instance can grow its memory past the maximum, and one script exhausting its memory touches no other
 * script. One more instance per thread, the probe, only try-compiles untrusted source.
 *
 * If an exception ever leaves the WebAssembly code itself (the host stack overflowed inside it, or the module
 * aborted), that instance's memory can no longer be trusted (its own stack pointer, for one, is not restored):
 * it is dropped and the script gets a fresh one. Detecting that must work even when the host stack is so
 * exhausted that no catch handler can run, so every entry into the engine sets `busy` and only a normal
 * return clears it: an engine found busy between calls was left in the middle of one.
 */
import { readFile } from 'node:fs/promises';
import releaseSyncVariant from '@jitl/quickjs-wasmfile-release-sync';
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSWASMModule } from 'quickjs-emscripten-core';

export interface Engine {
  readonly module: QuickJSWASMModule;
  readonly memory: WebAssembly.Memory;
  /** The memory's maximum, in bytes. */
  readonly capBytes: number;
  /** Found broken: never entered again. */
  dead: boolean;
  /** Set on every entry into the engine, cleared only by a normal return (see above). */
  busy: boolean;
  /** Whether DirectCall passed its self-test on this engine (undefined: not tried yet). */
  directOk?: boolean;
  /** Scratch memory inside the WebAssembly heap used by DirectCall (calls never overlap, so one per engine). */
  scratch?: { ptr: number; cap: number; argv: number };
}

/** False once the engine failed, or was left in the middle of a call: it must never be entered again. */
export function usable(engine: Engine): boolean {
  return !engine.dead && !engine.busy;
}

const WASM_PAGE = 65_536;
/** The QuickJS module declares 16 MiB of memory as its minimum: no instance can have less. */
const MIN_ENGINE_PAGES = 256;
/**
 * What an instance's memory holds besides the heap (static data and the C stack): measured, a new instance
 * fits about 10 MiB of 1 MiB ArrayBuffers in its 16 MiB.
 */
const ENGINE_OVERHEAD_BYTES = 6 * 1024 * 1024;

/**
 * Bytes of WebAssembly memory an engine may ever have: room for a heap of twice the memory limit, and never
 * below the module's minimum.
 */
export function engineMemoryCap(memoryBytes: number): number {
  const pages = Math.ceil((ENGINE_OVERHEAD_BYTES + 2 * memoryBytes) / WASM_PAGE);
  return Math.max(MIN_ENGINE_PAGES, pages) * WASM_PAGE;
}

/**
 * True once the engine's memory has grown to (nearly) its maximum. A growth that does not fit is refused
 * whole, so a full heap can stop short of the maximum by one request.
 */
export function atCap(engine: Engine): boolean {
  return engine.memory.buffer.byteLength + NEAR_CAP_BYTES >= engine.capBytes;
}
const NEAR_CAP_BYTES = 2 * 1024 * 1024;

/** A new QuickJS instance whose memory cannot grow past capBytes. */
export async function createEngine(capBytes: number): Promise<Engine> {
  const wasmModule = await compiledWasm();
  const wasmMemory = new WebAssembly.Memory({ initial: MIN_ENGINE_PAGES, maximum: capBytes / WASM_PAGE });
  // Instantiated synchronously: the asynchronous path was measured waiting about 300 ms for V8's background
  // compilation on the second instance of a thread.
  const instantiateWasm = (
    imports: WebAssembly.Imports,
    done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ) => {
    const instance = new WebAssembly.Instance(wasmModule, imports);
    done(instance, wasmModule);
    return instance.exports;
  };
  const module = await newQuickJSWASMModuleFromVariant(
    newVariant(releaseSyncVariant, { wasmMemory, emscriptenModule: { instantiateWasm } }),
  );
  return { module, memory: wasmMemory, capBytes, dead: false, busy: false };
}

let wasmModulePromise: Promise<WebAssembly.Module> | undefined;

/** QuickJS's WebAssembly code, compiled once per thread and instantiated per engine. */
function compiledWasm(): Promise<WebAssembly.Module> {
  if (!wasmModulePromise) {
    const file = require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    wasmModulePromise = readFile(file).then((bytes) => WebAssembly.compile(bytes));
    wasmModulePromise.catch(() => {
      wasmModulePromise = undefined; // the next engine tries again
    });
  }
  return wasmModulePromise;
}

/** The probe engine: one per thread, replaced when a probe breaks it. */
class EngineSlot {
  private current: Engine | undefined;
  private loading: Promise<Engine> | undefined;

  get(): Promise<Engine> {
    const c = this.current;
    if (c && usable(c)) return Promise.resolve(c);
    this.current = undefined;
    this.loading ??= createEngine(MIN_ENGINE_PAGES * WASM_PAGE).then(
      (engine) => {
        this.current = engine;
        this.loading = undefined;
        return engine;
      },
      (err: unknown) => {
        this.loading = undefined;
        throw err;
      },
    );
    return this.loading;
  }

  fail(engine: Engine): void {
    engine.dead = true;
    if (this.current === engine) this.current = undefined;
  }
}

export const probeEngine = new EngineSlot();
