/**
 * TBEL parser: tokens to an AST (recursive descent, Java's operator precedence). Grammar it knows: statements
 * separated by semicolons (optional after the last one and after blocks), `var`/typed declarations, `if`/`else`,
 * `for`, `foreach`/`for (x : c)`, `while`, `until`, `do … while|until`, `break`, `continue`, `return`,
 * `def`/`function` declarations, map `{k: v}` and list `[a, b]` literals (and MVEL's `[k: v]` maps), casts to
 * primitive types, `new int[n]`, `new Date(...)`, safe navigation `a.?b`. Anything else is a syntax error that
 * names the construct.
 */
import { TbelSyntaxError, type Token, tokenize } from './lexer';

interface Pos {
  line: number;
  col: number;
}

export type Expr = Pos &
  (
    | { k: 'num'; value: number; isFloat: boolean }
    | { k: 'str'; value: string }
    | { k: 'bool'; value: boolean }
    | { k: 'null' }
    | { k: 'ident'; name: string }
    | { k: 'list'; items: Expr[] }
    | { k: 'map'; entries: { key: string; value: Expr }[] }
    | { k: 'member'; obj: Expr; name: string; safe: boolean }
    | { k: 'index'; obj: Expr; index: Expr }
    | { k: 'call'; callee: string; args: Expr[] }
    | { k: 'mcall'; obj: Expr; name: string; args: Expr[]; safe: boolean }
    | { k: 'newArray'; type: string; size: Expr }
    | { k: 'newObject'; type: string; args: Expr[] }
    | { k: 'unary'; op: string; e: Expr }
    | { k: 'update'; op: string; prefix: boolean; e: Expr }
    | { k: 'binary'; op: string; l: Expr; r: Expr }
    | { k: 'assign'; op: string; target: Expr; value: Expr }
    | { k: 'cond'; test: Expr; a: Expr; b: Expr }
    | { k: 'cast'; type: string; e: Expr }
  );

export type Stmt = Pos &
  (
    | { k: 'var'; type: string | undefined; decls: { name: string; init: Expr | undefined }[] }
    | { k: 'expr'; e: Expr }
    | { k: 'if'; test: Expr; consequent: Stmt; alternate: Stmt | undefined }
    | { k: 'for'; init: Stmt | undefined; test: Expr | undefined; update: Expr[]; body: Stmt }
    | { k: 'foreach'; name: string; type: string | undefined; iter: Expr; body: Stmt }
    | { k: 'while'; test: Expr; until: boolean; body: Stmt }
    | { k: 'do'; test: Expr; until: boolean; body: Stmt }
    | { k: 'block'; body: Stmt[] }
    | { k: 'return'; e: Expr | undefined }
    | { k: 'break' }
    | { k: 'continue' }
    | { k: 'func'; name: string; params: string[]; body: Stmt[] }
    | { k: 'empty' }
  );

/** Words that cannot name a variable. */
const KEYWORDS = new Set([
  'var',
  'def',
  'function',
  'if',
  'else',
  'for',
  'foreach',
  'while',
  'until',
  'do',
  'return',
  'break',
  'continue',
  'new',
  'true',
  'false',
  'null',
  'nil',
]);

/** MVEL/Java constructs this implementation does not have, with what to say about them. */
const UNSUPPORTED_WORDS = new Map<string, string>([
  ['switch', 'the switch statement is not supported in TBEL; use if / else if'],
  ['try', 'try / catch is not supported in TBEL'],
  ['throw', 'throw is not supported in TBEL; use raiseError(message)'],
  ['class', 'class declarations are not supported in TBEL'],
  ['import', 'import is not supported in TBEL'],
  ['with', "MVEL's with block is not supported"],
  ['instanceof', 'the instanceof operator is not supported'],
  ['is', "the 'is' operator is not supported"],
  ['contains', "the 'contains' operator is not supported; use list.contains(x) or str.contains(s)"],
  ['soundslike', "the 'soundslike' operator is not supported"],
  ['strsim', "the 'strsim' operator is not supported"],
  ['in', "projections ('in') are not supported"],
  ['let', "'let' is JavaScript; use var"],
  ['const', "'const' is JavaScript; use var"],
]);

const PRIMITIVE_CASTS = new Set(['int', 'long', 'short', 'byte', 'double', 'float', 'char', 'boolean', 'String']);

const BINARY_LEVELS: string[][] = [
  ['||'],
  ['&&'],
  ['|'],
  ['^'],
  ['&'],
  ['==', '!='],
  ['<', '>', '<=', '>='],
  ['<<', '>>', '>>>'],
  ['+', '-'],
  ['*', '/', '%'],
];

const ASSIGN_OPS = new Set(['=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=', '>>>=']);

export function parse(src: string): Stmt[] {
  return new Parser(tokenize(src)).program();
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private get t(): Token {
    return this.toks[this.i];
  }
  private atEnd(): boolean {
    return this.t.type === 'eof';
  }
  private peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)];
  }
  private fail(msg: string, tok: Token = this.t): never {
    throw new TbelSyntaxError(msg, tok.line, tok.col);
  }
  private describe(tok: Token): string {
    if (tok.type === 'eof') return 'the end of the script';
    if (tok.type === 'str') return 'a string';
    if (tok.type === 'num') return `the number ${tok.value}`;
    return `'${tok.value}'`;
  }
  private is(value: string, tok: Token = this.t): boolean {
    return (tok.type === 'punct' || tok.type === 'ident') && tok.value === value;
  }
  private eat(value: string): boolean {
    if (this.is(value)) {
      this.i++;
      return true;
    }
    return false;
  }
  private expect(value: string, what?: string): Token {
    if (!this.is(value)) this.fail(`expected '${value}'${what ? ` ${what}` : ''} but found ${this.describe(this.t)}`);
    return this.toks[this.i++];
  }
  private name(what: string): string {
    const tok = this.t;
    if (tok.type !== 'ident') this.fail(`expected ${what} but found ${this.describe(tok)}`);
    this.checkName(tok);
    this.i++;
    return tok.value;
  }
  private checkName(tok: Token): void {
    if (KEYWORDS.has(tok.value)) this.fail(`'${tok.value}' is a reserved word and cannot be used as a name`, tok);
    const why = UNSUPPORTED_WORDS.get(tok.value);
    if (why) this.fail(why, tok);
    if (tok.value.startsWith('__tb')) this.fail(`names starting with __tb are reserved`, tok);
  }

  program(): Stmt[] {
    const body: Stmt[] = [];
    while (this.t.type !== 'eof') body.push(this.statement(true));
    return body;
  }

  /** A statement, with the separator that must follow it when `separated` (statement lists). */
  private statement(separated: boolean): Stmt {
    const tok = this.t;
    const pos = { line: tok.line, col: tok.col };
    if (tok.type === 'punct') {
      if (tok.value === ';') {
        this.i++;
        return { ...pos, k: 'empty' };
      }
      if (tok.value === '{' && !this.looksLikeMap()) return this.block();
    }
    if (tok.type === 'ident') {
      const why = UNSUPPORTED_WORDS.get(tok.value);
      if (why && !this.is('(', this.peek()) && !this.is('.', this.peek())) this.fail(why);
      switch (tok.value) {
        case 'if':
          return this.ifStatement();
        case 'for':
          return this.forStatement();
        case 'foreach':
          return this.foreachStatement();
        case 'while':
        case 'until': {
          this.i++;
          this.expect('(', `after ${tok.value}`);
          const test = this.expression();
          this.expect(')', `to close the ${tok.value} condition`);
          return { ...pos, k: 'while', test, until: tok.value === 'until', body: this.statement(false) };
        }
        case 'do': {
          this.i++;
          const body = this.statement(false);
          const word = this.t;
          if (!this.is('while') && !this.is('until')) this.fail(`expected 'while' or 'until' after a do block`);
          this.i++;
          this.expect('(', `after ${word.value}`);
          const test = this.expression();
          this.expect(')', `to close the ${word.value} condition`);
          this.endOfStatement(separated);
          return { ...pos, k: 'do', test, until: word.value === 'until', body };
        }
        case 'def':
        case 'function':
          return this.functionDeclaration();
        case 'return': {
          this.i++;
          const e = this.is(';') || this.is('}') || this.t.type === 'eof' ? undefined : this.expression();
          this.endOfStatement(separated);
          return { ...pos, k: 'return', e };
        }
        case 'break':
        case 'continue':
          this.i++;
          this.endOfStatement(separated);
          return { ...pos, k: tok.value as 'break' | 'continue' };
        case 'else':
          this.fail("'else' without an 'if'");
      }
      const decl = this.declaration();
      if (decl) {
        this.endOfStatement(separated);
        return decl;
      }
    }
    const e = this.expression();
    this.endOfStatement(separated);
    return { ...pos, k: 'expr', e };
  }

  /**
   * A statement ends at `;`, before `}` or at the end, as TBEL's guide requires. One exception: a statement whose
   * last token is a `}` (a map literal) also ends at the end of its line, because ThingsBoard's own converter
   * samples leave the `;` out there (`var data = {value: value}` and a new line); MVEL reads on into the next line
   * without an error, with a result their authors did not mean.
   */
  private endOfStatement(separated: boolean): void {
    if (this.eat(';')) return;
    if (!separated || this.is('}') || this.t.type === 'eof') return;
    const previous = this.toks[this.i - 1];
    if (previous?.type === 'punct' && previous.value === '}' && this.t.line > previous.line) return;
    this.fail(
      `expected ';' between statements but found ${this.describe(this.t)} (a new line does not end a statement)`,
    );
  }

  private block(): Stmt {
    const open = this.expect('{');
    const body: Stmt[] = [];
    while (!this.is('}')) {
      if (this.t.type === 'eof') this.fail(`'{' at line ${open.line}, column ${open.col} is never closed`);
      body.push(this.statement(true));
    }
    this.i++;
    return { line: open.line, col: open.col, k: 'block', body };
  }

  /** `{` starts a map literal when followed by `}` or by a key and a colon. */
  private looksLikeMap(): boolean {
    const a = this.peek();
    if (this.is('}', a)) return true;
    return (a.type === 'str' || a.type === 'ident' || a.type === 'num') && this.is(':', this.peek(2));
  }

  private ifStatement(): Stmt {
    const tok = this.expect('if');
    this.expect('(', 'after if');
    const test = this.expression();
    this.expect(')', 'to close the if condition');
    const consequent = this.statement(false);
    this.eat(';');
    let alternate: Stmt | undefined;
    if (this.eat('else')) alternate = this.statement(false);
    return { line: tok.line, col: tok.col, k: 'if', test, consequent, alternate };
  }

  private forStatement(): Stmt {
    const tok = this.expect('for');
    this.expect('(', 'after for');
    // for (x : c), for (var x : c) and for (Type x : c) are foreach loops.
    if (this.is('var') && this.is(':', this.peek(2))) this.i++;
    const save = this.i;
    const type = this.typeName();
    if (this.t.type === 'ident' && this.is(':', this.peek())) return this.foreachRest(tok, type);
    this.i = save;
    if (this.t.type === 'ident' && this.is(':', this.peek())) return this.foreachRest(tok, undefined);
    let init: Stmt | undefined;
    if (!this.is(';')) {
      const pos = { line: this.t.line, col: this.t.col };
      init = this.declaration() ?? { ...pos, k: 'expr', e: this.expression() };
    }
    this.expect(';', 'after the for loop initialiser');
    const test = this.is(';') ? undefined : this.expression();
    this.expect(';', 'after the for loop condition');
    const update: Expr[] = [];
    if (!this.is(')')) {
      do update.push(this.expression());
      while (this.eat(','));
    }
    this.expect(')', 'to close the for loop header');
    return { line: tok.line, col: tok.col, k: 'for', init, test, update, body: this.statement(false) };
  }

  private foreachStatement(): Stmt {
    const tok = this.expect('foreach');
    this.expect('(', 'after foreach');
    const save = this.i;
    const type = this.typeName();
    if (!(this.t.type === 'ident' && this.is(':', this.peek()))) this.i = save;
    return this.foreachRest(tok, type && this.i !== save ? type : undefined);
  }

  private foreachRest(tok: Token, type: string | undefined): Stmt {
    if (this.is('var')) this.i++;
    const name = this.name('the name of the loop variable');
    this.expect(':', 'between the loop variable and the collection (foreach (item : list))');
    const iter = this.expression();
    this.expect(')', 'to close the foreach header');
    return { line: tok.line, col: tok.col, k: 'foreach', name, type, iter, body: this.statement(false) };
  }

  private functionDeclaration(): Stmt {
    const tok = this.t;
    this.i++;
    const name = this.name('a function name');
    this.expect('(', 'after the function name');
    const params: string[] = [];
    if (!this.is(')')) {
      do {
        const save = this.i;
        if (!(this.typeName() && this.t.type === 'ident')) this.i = save;
        params.push(this.name('a parameter name'));
      } while (this.eat(','));
    }
    this.expect(')', 'to close the parameter list');
    if (!this.is('{')) this.fail('expected the function body in { }');
    const body = this.block() as Extract<Stmt, { k: 'block' }>;
    this.eat(';');
    return { line: tok.line, col: tok.col, k: 'func', name, params, body: body.body };
  }

  /**
   * A type name (`int`, `String`, `int[]`, `List<Integer>`, `java.util.Map`), or undefined (position unchanged
   * only when it returns undefined at once; callers restore it otherwise).
   */
  private typeName(): string | undefined {
    if (this.t.type !== 'ident' || KEYWORDS.has(this.t.value)) return undefined;
    let name = this.t.value;
    this.i++;
    while (this.is('.') && this.peek().type === 'ident') {
      name += `.${this.peek().value}`;
      this.i += 2;
    }
    if (this.is('<')) {
      let depth = 0;
      do {
        if (this.is('<')) depth++;
        else if (this.is('>')) depth--;
        else if (this.is('>>')) depth -= 2;
        else if (this.t.type !== 'ident' && !this.is(',') && !this.is('?')) return undefined;
        this.i++;
      } while (depth > 0 && !this.atEnd());
      if (depth !== 0) return undefined;
    }
    while (this.is('[') && this.is(']', this.peek())) {
      name += '[]';
      this.i += 2;
    }
    return name;
  }

  /** `var a = 1, b`, `int i = 0`, `String s;`, `List<Integer> l = []`; undefined (nothing read) if not one. */
  private declaration(): Stmt | undefined {
    const tok = this.t;
    let type: string | undefined;
    if (this.is('var')) {
      this.i++;
    } else {
      const save = this.i;
      type = this.typeName();
      const next = this.peek();
      if (!type || this.t.type !== 'ident' || !(this.is('=', next) || this.is(';', next) || this.is(',', next))) {
        this.i = save;
        return undefined;
      }
    }
    const decls: { name: string; init: Expr | undefined }[] = [];
    do {
      const name = this.name('a variable name');
      decls.push({ name, init: this.eat('=') ? this.assignment() : undefined });
    } while (this.eat(','));
    return { line: tok.line, col: tok.col, k: 'var', type, decls };
  }

  expression(): Expr {
    return this.assignment();
  }

  private assignment(): Expr {
    const left = this.ternary();
    const tok = this.t;
    if (tok.type === 'punct' && ASSIGN_OPS.has(tok.value)) {
      if (left.k !== 'ident' && left.k !== 'member' && left.k !== 'index') {
        this.fail('the left side of an assignment must be a variable, a property or an element', tok);
      }
      if (left.k === 'member' && left.safe) this.fail('cannot assign through safe navigation (.?)', tok);
      this.i++;
      return { line: left.line, col: left.col, k: 'assign', op: tok.value, target: left, value: this.assignment() };
    }
    return left;
  }

  private ternary(): Expr {
    const test = this.binary(0);
    if (!this.is('?')) return test;
    this.i++;
    const a = this.assignment();
    this.expect(':', 'in the ternary expression');
    const b = this.assignment();
    return { line: test.line, col: test.col, k: 'cond', test, a, b };
  }

  private binary(level: number): Expr {
    if (level >= BINARY_LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    const ops = BINARY_LEVELS[level];
    for (;;) {
      const tok = this.t;
      if (tok.type === 'punct' && (tok.value === '===' || tok.value === '!==')) {
        this.fail(`'${tok.value}' is JavaScript; TBEL compares with '${tok.value.slice(0, 2)}'`);
      }
      if (tok.type === 'punct' && tok.value === '~=')
        this.fail("the regular-expression operator '~=' is not supported");
      if (tok.type === 'punct' && (tok.value === '=>' || tok.value === '->'))
        this.fail('lambda expressions are not supported');
      if (tok.type === 'ident' && level === 0 && UNSUPPORTED_WORDS.has(tok.value))
        this.fail(UNSUPPORTED_WORDS.get(tok.value) as string);
      if (tok.type !== 'punct' || !ops.includes(tok.value)) return left;
      this.i++;
      const right = this.binary(level + 1);
      left = { line: left.line, col: left.col, k: 'binary', op: tok.value, l: left, r: right };
    }
  }

  private unary(): Expr {
    const tok = this.t;
    if (tok.type === 'punct' && ['!', '-', '+', '~'].includes(tok.value)) {
      this.i++;
      return { line: tok.line, col: tok.col, k: 'unary', op: tok.value, e: this.unary() };
    }
    if (tok.type === 'punct' && (tok.value === '++' || tok.value === '--')) {
      this.i++;
      const e = this.unary();
      this.checkUpdatable(e, tok);
      return { line: tok.line, col: tok.col, k: 'update', op: tok.value, prefix: true, e };
    }
    // A cast: (int) x, (double) y.
    if (
      this.is('(') &&
      this.peek().type === 'ident' &&
      PRIMITIVE_CASTS.has(this.peek().value) &&
      this.is(')', this.peek(2))
    ) {
      const after = this.peek(3);
      if (after.type !== 'punct' || ['(', '!', '-', '~', '['].includes(after.value)) {
        const type = this.peek().value;
        this.i += 3;
        return { line: tok.line, col: tok.col, k: 'cast', type, e: this.unary() };
      }
    }
    return this.postfix();
  }

  private checkUpdatable(e: Expr, tok: Token): void {
    if (e.k !== 'ident' && e.k !== 'member' && e.k !== 'index') {
      this.fail(`'${tok.value}' needs a variable, a property or an element`, tok);
    }
  }

  private postfix(): Expr {
    let e = this.primary();
    let safe = false;
    for (;;) {
      const tok = this.t;
      if (this.is('.') || this.is('.?')) {
        this.i++;
        if (tok.value === '.?') safe = true;
        const nameTok = this.t;
        if (nameTok.type !== 'ident') this.fail(`expected a property or method name after '${tok.value}'`);
        this.i++;
        if (this.is('(')) {
          e = { line: e.line, col: e.col, k: 'mcall', obj: e, name: nameTok.value, args: this.args(), safe };
        } else {
          e = { line: e.line, col: e.col, k: 'member', obj: e, name: nameTok.value, safe };
        }
      } else if (this.is('[')) {
        this.i++;
        const index = this.expression();
        this.expect(']', 'to close the index');
        e = { line: e.line, col: e.col, k: 'index', obj: e, index };
      } else if (this.is('++') || this.is('--')) {
        this.checkUpdatable(e, tok);
        this.i++;
        return { line: e.line, col: e.col, k: 'update', op: tok.value, prefix: false, e };
      } else if (this.is('(')) {
        this.fail('only named functions can be called (name(...)) or methods (value.name(...))');
      } else {
        return e;
      }
    }
  }

  private args(): Expr[] {
    this.expect('(');
    const args: Expr[] = [];
    if (!this.is(')')) {
      do args.push(this.assignment());
      while (this.eat(','));
    }
    this.expect(')', 'to close the argument list');
    return args;
  }

  private primary(): Expr {
    const tok = this.t;
    const pos = { line: tok.line, col: tok.col };
    switch (tok.type) {
      case 'num':
        this.i++;
        return { ...pos, k: 'num', value: tok.num as number, isFloat: tok.isFloat === true };
      case 'str':
        this.i++;
        return { ...pos, k: 'str', value: tok.value };
      case 'eof':
        return this.fail('the script ends in the middle of an expression');
      case 'punct':
        if (tok.value === '(') {
          this.i++;
          const e = this.expression();
          this.expect(')', 'to close the parenthesis');
          return e;
        }
        if (tok.value === '[') return this.listOrMap();
        if (tok.value === '{') return this.mapLiteral();
        if (tok.value === '=>' || tok.value === '->') this.fail('lambda expressions are not supported');
        return this.fail(`unexpected ${this.describe(tok)}`);
    }
    switch (tok.value) {
      case 'true':
      case 'false':
        this.i++;
        return { ...pos, k: 'bool', value: tok.value === 'true' };
      case 'null':
      case 'nil':
        this.i++;
        return { ...pos, k: 'null' };
      case 'new':
        return this.newExpression();
      case 'function':
      case 'def':
        this.fail('functions can only be declared as statements (def name(args) { ... })');
    }
    if (KEYWORDS.has(tok.value)) this.fail(`unexpected '${tok.value}'`);
    this.checkName(tok);
    this.i++;
    if (this.is('(')) return { ...pos, k: 'call', callee: tok.value, args: this.args() };
    return { ...pos, k: 'ident', name: tok.value };
  }

  private newExpression(): Expr {
    const tok = this.expect('new');
    const pos = { line: tok.line, col: tok.col };
    let type = this.name('a type after new');
    while (this.is('.') && this.peek().type === 'ident') {
      type += `.${this.peek().value}`;
      this.i += 2;
    }
    if (this.is('[')) {
      this.i++;
      const size = this.expression();
      this.expect(']', 'to close the array size');
      if (this.is('[')) this.fail('arrays of arrays are not supported');
      return { ...pos, k: 'newArray', type, size };
    }
    return { ...pos, k: 'newObject', type, args: this.args() };
  }

  private listOrMap(): Expr {
    const open = this.expect('[');
    const pos = { line: open.line, col: open.col };
    if (this.is(':') && this.is(']', this.peek())) {
      this.i += 2;
      return { ...pos, k: 'map', entries: [] };
    }
    const items: Expr[] = [];
    if (this.eat(']')) return { ...pos, k: 'list', items };
    const first = this.assignment();
    if (this.is(':')) return this.mapRest(pos, first, ']');
    items.push(first);
    while (this.eat(',')) {
      if (this.is(']')) break;
      items.push(this.assignment());
    }
    this.expect(']', 'to close the list');
    return { ...pos, k: 'list', items };
  }

  private mapLiteral(): Expr {
    const open = this.expect('{');
    const pos = { line: open.line, col: open.col };
    if (this.eat('}')) return { ...pos, k: 'map', entries: [] };
    const keyTok = this.t;
    let key: Expr;
    if (keyTok.type === 'ident' && this.is(':', this.peek())) {
      this.i++;
      key = { line: keyTok.line, col: keyTok.col, k: 'str', value: keyTok.value };
    } else {
      key = this.assignment();
    }
    if (!this.is(':')) this.fail('expected \':\' after the key of a map entry ({"key": value})');
    return this.mapRest(pos, key, '}');
  }

  private mapRest(pos: Pos, firstKey: Expr, close: string): Expr {
    const entries: { key: string; value: Expr }[] = [];
    let key = firstKey;
    for (;;) {
      this.expect(':', 'after the key of a map entry');
      entries.push({ key: this.keyText(key), value: this.assignment() });
      if (!this.eat(',')) break;
      if (this.is(close)) break;
      const tok = this.t;
      if (tok.type === 'ident' && this.is(':', this.peek())) {
        this.i++;
        key = { line: tok.line, col: tok.col, k: 'str', value: tok.value };
      } else {
        key = this.assignment();
      }
    }
    this.expect(close, 'to close the map');
    return { ...pos, k: 'map', entries };
  }

  private keyText(key: Expr): string {
    if (key.k === 'str') return key.value;
    if (key.k === 'num') return String(key.value);
    if (key.k === 'ident') return key.name;
    if (key.k === 'bool') return String(key.value);
    return this.fail('a map key must be a string, a number or a name', { ...this.t, line: key.line, col: key.col });
  }
}
