/**
 * The language of a script (the script node's, and the integration's decoder and encoder): JavaScript, or TBEL
 * compiled to JavaScript at deploy (nodes/lib/tbel/) and run in the same sandbox, with the same limits, thread
 * and errors. A TBEL syntax error is a compile error that names its line and column.
 */
import { ScriptError } from './script-errors';
import type { CompileOptions } from './script-runtime';
import { DEFAULT_LIMITS } from './script-runtime';
import { sandboxSource } from './script-sandbox';
import { compileThreadedScript, type ScriptHost, scriptHost, type ThreadedScript } from './script-thread';
import { TbelSyntaxError, tbelToJavaScript } from './tbel';

export type ScriptLanguage = 'javascript' | 'tbel';

/** A language setting: 'tbel' (any case), anything else is JavaScript (the default, and what older flows have). */
export function languageOf(value: unknown): ScriptLanguage {
  return typeof value === 'string' && value.toLowerCase() === 'tbel' ? 'tbel' : 'javascript';
}

/** ThingsBoard's decodeToString/decodeToJson, defined in every decoder's sandbox and in every TBEL sandbox. */
export const DECODER_HELPERS = sandboxSource('decoder-helpers.js');
/** The TBEL runtime and helper library. */
const TBEL_HELPERS = `${DECODER_HELPERS}\n${sandboxSource('tbel-helpers.js')}`;

/**
 * The compile options of a TBEL script: its body compiled to JavaScript, the TBEL runtime as helpers (replacing
 * the decoder's, which it includes). The script-size limit applies to the TBEL source. Throws ScriptError.
 */
export function tbelOptions(opts: CompileOptions): CompileOptions {
  const maxChars = opts.limits?.maxScriptChars ?? DEFAULT_LIMITS.maxScriptChars;
  if (opts.body.length > maxChars) {
    throw new ScriptError('size', `Script is ${opts.body.length} characters; the limit is ${maxChars}`);
  }
  let body: string;
  try {
    body = tbelToJavaScript(opts.body, opts.params);
  } catch (err) {
    if (err instanceof TbelSyntaxError) {
      throw new ScriptError('compile', `TBEL syntax error: ${err.message}`, err.line);
    }
    throw err;
  }
  return {
    ...opts,
    body,
    helpers: TBEL_HELPERS,
    limits: { ...opts.limits, maxScriptChars: Math.max(maxChars, body.length) },
  };
}

/** compileThreadedScript() for a script in `language`; rejects like it (a TBEL syntax error included). */
export function compileInLanguage(
  language: ScriptLanguage,
  opts: CompileOptions,
  host: ScriptHost = scriptHost(),
): Promise<ThreadedScript> {
  if (language !== 'tbel') return compileThreadedScript(opts, host);
  try {
    return compileThreadedScript(tbelOptions(opts), host);
  } catch (err) {
    return Promise.reject(err);
  }
}
