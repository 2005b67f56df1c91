/**
 * TBEL (ThingsBoard Expression Language) to JavaScript: a pure compiler (lexer, parser, code generator) whose
 * output is the body of a JavaScript function, run in the same script sandbox as JavaScript scripts, with the
 * TBEL runtime (sandbox/tbel-helpers.js) as its helpers.
 */
import { generate } from './codegen';
import { parse } from './parser';

export { TbelSyntaxError } from './lexer';

/** The JavaScript function body for a TBEL script whose parameters are `params`. Throws TbelSyntaxError. */
export function tbelToJavaScript(source: string, params: string[]): string {
  return generate(parse(source), params);
}
