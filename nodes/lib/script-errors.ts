/**
 * The script runtime's errors: ScriptError and its kinds, and how an error raised inside the sandbox is read and
 * described (name, message, the line in the script body) without trusting the value that was thrown.
 */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';

export type ScriptErrorKind = 'compile' | 'timeout' | 'runtime' | 'size' | 'memory' | 'result';

export class ScriptError extends Error {
  readonly kind: ScriptErrorKind;
  /** Line in the script body (1-based) where the error was raised, when known. */
  readonly lineNumber?: number;

  constructor(kind: ScriptErrorKind, message: string, lineNumber?: number) {
    super(message);
    this.name = 'ScriptError';
    this.kind = kind;
    if (lineNumber !== undefined) this.lineNumber = lineNumber;
  }
}

/** The file name the script's function is compiled under: stack traces name it with the line of the error. */
export const SCRIPT_FILE = 'script.js';
const MAX_MESSAGE_CHARS = 1000;

export interface ErrorInfo {
  name: string;
  message: string;
  stack: string;
  lineNumber?: number;
}

export function truncate(s: string): string {
  return s.length > MAX_MESSAGE_CHARS ? `${s.slice(0, MAX_MESSAGE_CHARS)}…` : s;
}

// No regular expressions on the call path: V8 compiles (and re-compiles) them lazily, and doing that with
// the host stack nearly exhausted aborts the process instead of throwing.
export function scriptLine(stack: string): number | undefined {
  const marker = `${SCRIPT_FILE}:`;
  const at = stack.indexOf(marker);
  if (at < 0) return undefined;
  let line = 0;
  for (let i = at + marker.length; i < stack.length; i++) {
    const d = stack.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    line = line * 10 + d;
  }
  return line - 1 >= 1 ? line - 1 : undefined;
}

export function formatError(info: ErrorInfo): string {
  const head = info.name ? `${info.name}: ${info.message}` : info.message;
  return info.lineNumber !== undefined ? `${truncate(head)} (line ${info.lineNumber})` : truncate(head);
}

/**
 * Reads an error value handed out by QuickJS (disposes the handle). Only getters on a thrown object can run
 * script code here, and they run under the deadline that is still armed.
 */
export function readVmError(ctx: QuickJSContext, handle: QuickJSHandle): ErrorInfo {
  try {
    const dumped: unknown = ctx.dump(handle);
    if (dumped !== null && typeof dumped === 'object') {
      const o = dumped as { name?: unknown; message?: unknown; stack?: unknown; lineNumber?: unknown };
      const stack = typeof o.stack === 'string' ? o.stack : '';
      const lineFromProp = typeof o.lineNumber === 'number' ? o.lineNumber - 1 : undefined;
      return {
        name: typeof o.name === 'string' ? o.name : '',
        message: typeof o.message === 'string' ? o.message : String(o.message),
        stack,
        lineNumber: lineFromProp !== undefined && lineFromProp >= 1 ? lineFromProp : scriptLine(stack),
      };
    }
    return { name: '', message: String(dumped), stack: '' };
  } catch {
    return { name: '', message: 'unreadable error', stack: '' };
  } finally {
    if (handle.alive) handle.dispose();
  }
}

export function isOutOfMemory(info: ErrorInfo): boolean {
  return info.name === 'InternalError' && info.message === 'out of memory';
}

export function compileError(info: ErrorInfo): ScriptError {
  if (isOutOfMemory(info)) return new ScriptError('memory', 'Script ran out of memory while compiling');
  return new ScriptError('compile', formatError(info), info.lineNumber);
}

/** Errors after which the sandbox is thrown away and rebuilt on the next call (timeout, out of memory...). */
const fatalErrors = new WeakSet<ScriptError>();

/** Marks err as fatal (see isFatal) and returns it. */
export function fatal(err: ScriptError): ScriptError {
  fatalErrors.add(err);
  return err;
}

export function isFatal(err: ScriptError): boolean {
  return fatalErrors.has(err);
}
