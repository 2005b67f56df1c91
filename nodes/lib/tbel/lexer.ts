/**
 * TBEL lexer: source text to tokens, each with its line and column (1-based), so that every syntax error can
 * say where it is. TBEL's lexical grammar is Java's with MVEL's additions (`.?`, `nil`, number suffixes).
 */

export class TbelSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line}, column ${column})`);
    this.name = 'TbelSyntaxError';
  }
}

export type TokenType = 'num' | 'str' | 'ident' | 'punct' | 'eof';

export interface Token {
  type: TokenType;
  /** Identifier name, punctuator, or the string's decoded value. */
  value: string;
  /** Numbers: the value, and whether the literal is a floating-point one (has a point, exponent, d/f suffix). */
  num?: number;
  isFloat?: boolean;
  line: number;
  col: number;
}

// Longest first, so that `>>>=` is never read as `>>` then `>=`.
const PUNCTUATORS = [
  '>>>=',
  '>>>',
  '<<=',
  '>>=',
  '===',
  '!==',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '++',
  '--',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '<<',
  '>>',
  '.?',
  '~=',
  '=>',
  '->',
  '::',
  '+',
  '-',
  '*',
  '/',
  '%',
  '=',
  '<',
  '>',
  '!',
  '~',
  '&',
  '|',
  '^',
  '?',
  ':',
  ';',
  ',',
  '.',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '@',
  '#',
];

const isDigit = (c: string) => c >= '0' && c <= '9';
const isIdentStart = (c: string) => /[A-Za-z_$]/.test(c) || c > '\x7f';
const isIdentPart = (c: string) => isIdentStart(c) || isDigit(c);

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = src.length;
  const fail = (msg: string, at = i): never => {
    throw new TbelSyntaxError(msg, line, at - lineStart + 1);
  };
  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\ufeff') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const start = i;
      i += 2;
      while (i < n && !(src[i] === '*' && src[i + 1] === '/')) {
        if (src[i] === '\n') {
          line++;
          lineStart = i + 1;
        }
        i++;
      }
      if (i >= n) fail('unterminated comment', start);
      i += 2;
      continue;
    }
    const col = i - lineStart + 1;
    if (isDigit(c) || (c === '.' && isDigit(src[i + 1] ?? ''))) {
      out.push(readNumber());
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(src[j])) j++;
      out.push({ type: 'ident', value: src.slice(i, j), line, col });
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      out.push({ type: 'str', value: readString(c), line, col });
      continue;
    }
    const p = PUNCTUATORS.find((q) => src.startsWith(q, i));
    if (!p) fail(`unexpected character ${JSON.stringify(c)}`);
    out.push({ type: 'punct', value: p as string, line, col });
    i += (p as string).length;
  }
  out.push({ type: 'eof', value: '', line, col: i - lineStart + 1 });
  return out;

  function readNumber(): Token {
    const start = i;
    const col = i - lineStart + 1;
    let value: number;
    let isFloat = false;
    if (src[i] === '0' && (src[i + 1] === 'x' || src[i + 1] === 'X')) {
      i += 2;
      const s = i;
      while (i < n && /[0-9A-Fa-f]/.test(src[i])) i++;
      if (i === s) fail('hexadecimal literal without digits', start);
      value = Number.parseInt(src.slice(s, i), 16);
    } else {
      while (i < n && isDigit(src[i])) i++;
      if (src[i] === '.' && isDigit(src[i + 1] ?? '')) {
        isFloat = true;
        i++;
        while (i < n && isDigit(src[i])) i++;
      } else if (src[i] === '.' && !isIdentStart(src[i + 1] ?? '') && src[i + 1] !== '.') {
        // `1.` is a double in Java; `1.toString()` would be a method call, so a letter after the point is not.
        isFloat = true;
        i++;
      }
      if ((src[i] === 'e' || src[i] === 'E') && /[0-9+-]/.test(src[i + 1] ?? '')) {
        isFloat = true;
        i += 2;
        while (i < n && isDigit(src[i])) i++;
      }
      const text = src.slice(start, i);
      // A leading zero makes an integer octal (Java), e.g. 0353.
      value = !isFloat && /^0[0-7]+$/.test(text) ? Number.parseInt(text, 8) : Number(text);
      if (Number.isNaN(value)) fail(`invalid number ${JSON.stringify(text)}`, start);
    }
    const suffix = src[i] ?? '';
    if ('lLIB'.includes(suffix) && suffix !== '') {
      if (suffix === 'B') isFloat = true;
      i++;
    } else if ('dDfF'.includes(suffix) && suffix !== '') {
      isFloat = true;
      i++;
    }
    if (i < n && isIdentPart(src[i])) fail(`invalid number ${JSON.stringify(src.slice(start, i + 1))}`, start);
    return { type: 'num', value: src.slice(start, i), num: value, isFloat, line, col };
  }

  function readString(quote: string): string {
    const start = i;
    i++;
    let s = '';
    while (true) {
      if (i >= n || src[i] === '\n') fail('unterminated string', start);
      const ch = src[i];
      if (ch === quote) {
        i++;
        return s;
      }
      if (ch !== '\\') {
        s += ch;
        i++;
        continue;
      }
      const e = src[i + 1] ?? '';
      i += 2;
      switch (e) {
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case '\\':
        case '"':
        case "'":
          s += e;
          break;
        case 'u': {
          const hex = src.slice(i, i + 4);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail('invalid \\u escape in a string', i - 2);
          s += String.fromCharCode(Number.parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            // Octal escape: up to three digits, at most \377.
            let digits = e;
            while (digits.length < 3 && /[0-7]/.test(src[i] ?? '') && Number.parseInt(digits + src[i], 8) <= 255) {
              digits += src[i++];
            }
            s += String.fromCharCode(Number.parseInt(digits, 8));
          } else {
            fail(`invalid escape \\${e} in a string`, i - 2);
          }
      }
    }
  }
}
