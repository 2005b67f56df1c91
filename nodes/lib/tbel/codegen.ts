/**
 * TBEL AST to the body of a JavaScript function, run in the script sandbox next to the TBEL runtime
 * (sandbox/tbel-helpers.js: the global __tb, which scripts cannot name). Each statement is emitted on the line of its
 * source, so a run-time error's line number is the TBEL line.
 *
 * MVEL semantics kept where JavaScript differs: `==` compares values (strings, numbers against numeric strings,
 * lists and maps by content); `/` on two integers is integer division (a literal with a point, or a value known
 * to be floating point, makes it a floating-point division); methods of Java's List, Map and String
 * (`list.size()`, `map.put()`, `str.length()`...) through one dispatcher; `foreach` over lists, map values and
 * strings; the value of the last expression statement is the result; a name assigned without `var` is local.
 */
import type { Expr, Stmt } from './parser';

/** JavaScript words that TBEL lets a script use as names: renamed. */
const JS_RESERVED = new Set([
  'arguments',
  'await',
  'case',
  'catch',
  'class',
  'const',
  'debugger',
  'default',
  'delete',
  'enum',
  'eval',
  'export',
  'extends',
  'finally',
  'implements',
  'import',
  'in',
  'instanceof',
  'interface',
  'let',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'super',
  'switch',
  'this',
  'throw',
  'try',
  'typeof',
  'undefined',
  'void',
  'with',
  'yield',
  'NaN',
  'Infinity',
  'globalThis',
  'Function',
  'Proxy',
  'Reflect',
  'Object',
  'Promise',
  'Symbol',
]);

/** Java classes a script may call static methods of, e.g. Integer.toString(x, 16), Math.sqrt(x). */
const STATIC_CLASSES = new Set([
  'Math',
  'JSON',
  'Integer',
  'Long',
  'Double',
  'Float',
  'String',
  'Boolean',
  'Character',
  'Short',
  'Byte',
  'Collections',
  'Arrays',
  'System',
]);

/**
 * ThingsBoard's helper functions, properties of the runtime's one global (__tb) in the sandbox: a call of one of
 * these names, unless the script declares a function or variable of that name, is __tb.name(...).
 * (decodeToString and decodeToJson are globals of their own, shared with JavaScript decoders.)
 */
export const HELPER_FUNCTIONS: ReadonlySet<string> = new Set([
  'stringToBytes',
  'bytesToString',
  'btoa',
  'atob',
  'bytesToBase64',
  'base64ToBytes',
  'base64ToBytesList',
  'base64ToHex',
  'hexToBytes',
  'hexToBytesArray',
  'bytesToHex',
  'printUnsignedBytes',
  'bytesToExecutionArrayList',
  'raiseError',
  'padStart',
  'padEnd',
  'isBinary',
  'isOctal',
  'isDecimal',
  'isHexadecimal',
  'toFixed',
  'toInt',
  'parseInt',
  'parseLong',
  'parseFloat',
  'parseDouble',
  'parseHexToInt',
  'parseLittleEndianHexToInt',
  'parseBigEndianHexToInt',
  'parseHexToFloat',
  'parseLittleEndianHexToFloat',
  'parseBigEndianHexToFloat',
  'parseHexIntLongToFloat',
  'parseHexToDouble',
  'parseLittleEndianHexToDouble',
  'parseBigEndianHexToDouble',
  'parseBytesToInt',
  'parseBytesToLong',
  'parseBytesToFloat',
  'parseBytesIntToFloat',
  'parseBytesLongToDouble',
  'parseBytesToDouble',
  'parseByteToBinaryArray',
  'parseBytesToBinaryArray',
  'parseLongToBinaryArray',
  'parseBinaryArrayToInt',
  'intToHex',
  'longToHex',
  'floatToHex',
  'doubleToHex',
  'intLongToRadixString',
  'toFlatMap',
]);

/** Helpers whose result is floating point (toFixed, parse*Float, parse*Double): dividing them never truncates. */
const FLOAT_RESULTS = new Set(
  [...HELPER_FUNCTIONS].filter((n) => n === 'toFixed' || (n.startsWith('parse') && /(Float|Double)$/.test(n))),
);
const FLOAT_TYPES = new Set(['double', 'float', 'Double', 'Float', 'BigDecimal']);

/** Per function: the names it declares, the ones it assigns without declaring (declared for it), the floats. */
interface Scope {
  declared: Set<string>;
  implicit: Set<string>;
  floats: Set<string>;
}

/** Names of every function the script declares, at any depth. */
function declaredFunctions(list: Stmt[], into = new Set<string>()): Set<string> {
  for (const s of list) {
    if (s.k === 'func') {
      into.add(s.name);
      declaredFunctions(s.body, into);
    }
  }
  return into;
}

export function generate(program: Stmt[], params: string[]): string {
  return new Generator().program(program, params);
}

class Generator {
  private out = '';
  private userFunctions = new Set<string>();
  private line = 1;
  private scope: Scope = { declared: new Set(), implicit: new Set(), floats: new Set() };

  program(body: Stmt[], params: string[]): string {
    for (const p of params) this.scope.declared.add(p);
    this.userFunctions = declaredFunctions(body);
    this.statements(withResult(body));
    return this.withImplicit(this.scope, this.out);
  }

  private withImplicit(scope: Scope, code: string): string {
    const names = [...scope.implicit].filter((n) => !scope.declared.has(n));
    // On the first line (before the body's first statement), so that line numbers stay those of the source.
    return names.length > 0 ? `var ${names.map(safeName).join(', ')}; ${code}` : code;
  }

  private emit(s: string): void {
    this.out += s;
  }

  /** Moves the output to the source line of a statement (never backwards). */
  private at(line: number): void {
    while (this.line < line) {
      this.out += '\n';
      this.line++;
    }
  }

  private statements(list: Stmt[]): void {
    for (const s of list) this.statement(s);
  }

  private statement(s: Stmt): void {
    this.at(s.line);
    switch (s.k) {
      case 'empty':
        return;
      case 'var': {
        const parts = s.decls.map((d) => {
          this.scope.declared.add(d.name);
          if ((s.type && FLOAT_TYPES.has(s.type)) || (d.init && this.isFloat(d.init))) this.scope.floats.add(d.name);
          const init = d.init ? this.expr(d.init) : defaultValue(s.type);
          return `${safeName(d.name)} = ${init}`;
        });
        this.emit(`var ${parts.join(', ')};`);
        return;
      }
      case 'expr': {
        // A statement starting with `{` would be a block in JavaScript: a map literal is parenthesised.
        const code = this.expr(s.e);
        this.emit(code.startsWith('{') ? `(${code});` : `${code};`);
        return;
      }
      case 'if':
        this.emit(`if (${this.expr(s.test)}) {`);
        this.statement(s.consequent);
        this.emit('}');
        if (s.alternate) {
          this.emit(' else {');
          this.statement(s.alternate);
          this.emit('}');
        }
        return;
      case 'for': {
        this.emit('for (');
        if (s.init) {
          if (s.init.k === 'var') {
            this.statement(s.init);
          } else if (s.init.k === 'expr') {
            this.emit(`${this.expr(s.init.e)};`);
          }
        } else {
          this.emit(';');
        }
        this.emit(` ${s.test ? this.expr(s.test) : ''}; ${s.update.map((u) => this.expr(u)).join(', ')}) {`);
        this.statement(s.body);
        this.emit('}');
        return;
      }
      case 'foreach':
        this.scope.declared.add(s.name);
        if (s.type && FLOAT_TYPES.has(s.type)) this.scope.floats.add(s.name);
        this.emit(`for (var ${safeName(s.name)} of __tb.$iter(${this.expr(s.iter)})) {`);
        this.statement(s.body);
        this.emit('}');
        return;
      case 'while':
        this.emit(`while (${s.until ? '!' : ''}(${this.expr(s.test)})) {`);
        this.statement(s.body);
        this.emit('}');
        return;
      case 'do':
        this.emit('do {');
        this.statement(s.body);
        this.emit(`} while (${s.until ? '!' : ''}(${this.expr(s.test)}));`);
        return;
      case 'block':
        this.emit('{');
        this.statements(s.body);
        this.emit('}');
        return;
      case 'return':
        this.emit(s.e ? `return ${this.expr(s.e)};` : 'return null;');
        return;
      case 'break':
      case 'continue':
        this.emit(`${s.k};`);
        return;
      case 'func': {
        const outer = this.scope;
        // The enclosing function's names stay visible (closures); names first assigned inside become local.
        const inner: Scope = {
          declared: new Set([...outer.declared, ...outer.implicit, ...s.params]),
          implicit: new Set(),
          floats: new Set(),
        };
        outer.declared.add(s.name);
        const saved = this.out;
        this.scope = inner;
        this.out = '';
        this.statements(withResult(s.body));
        const body = this.withImplicit(inner, this.out);
        this.scope = outer;
        this.out = saved;
        this.emit(`function ${safeName(s.name)}(${s.params.map(safeName).join(', ')}) {${body}}`);
        return;
      }
    }
  }

  private isFloat(e: Expr): boolean {
    switch (e.k) {
      case 'num':
        return e.isFloat;
      case 'cast':
        return e.type === 'double' || e.type === 'float';
      case 'unary':
        return this.isFloat(e.e);
      case 'binary':
        return ['+', '-', '*', '/', '%'].includes(e.op) && (this.isFloat(e.l) || this.isFloat(e.r));
      case 'call':
        return FLOAT_RESULTS.has(e.callee);
      case 'mcall':
        return e.obj.k === 'ident' && ['Math', 'Double', 'Float'].includes(e.obj.name) && e.name !== 'round';
      case 'ident':
        return this.scope.floats.has(e.name);
      case 'cond':
        return this.isFloat(e.a) || this.isFloat(e.b);
      default:
        return false;
    }
  }

  private expr(e: Expr): string {
    switch (e.k) {
      case 'num':
        return e.value < 0 ? `(${e.value})` : String(e.value);
      case 'str':
        return JSON.stringify(e.value);
      case 'bool':
        return String(e.value);
      case 'null':
        return 'null';
      case 'ident':
        return safeName(e.name);
      case 'list':
        return `[${e.items.map((x) => this.expr(x)).join(', ')}]`;
      case 'map':
        return `{${e.entries
          .map((en) => `${en.key === '__proto__' ? '["__proto__"]' : JSON.stringify(en.key)}: ${this.expr(en.value)}`)
          .join(', ')}}`;
      case 'member': {
        const obj = this.expr(e.obj);
        const dot = e.safe || chainIsSafe(e.obj) ? '?.' : '.';
        // Java's getters read as properties (list.size, map.empty): resolved at run time.
        if (e.name === 'size' || e.name === 'empty') return `__tb.$prop(${obj}, ${JSON.stringify(e.name)})`;
        return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(e.name)
          ? `${obj}${dot}${e.name}`
          : `${obj}${dot}[${JSON.stringify(e.name)}]`;
      }
      case 'index':
        return `${this.expr(e.obj)}${chainIsSafe(e.obj) ? '?.' : ''}[${this.expr(e.index)}]`;
      case 'call': {
        const args = e.args.map((a) => this.expr(a)).join(', ');
        const own = this.userFunctions.has(e.callee) || this.scope.declared.has(e.callee);
        return `${!own && HELPER_FUNCTIONS.has(e.callee) ? '__tb.' : ''}${safeName(e.callee)}(${args})`;
      }
      case 'mcall': {
        const args = e.args.map((a) => this.expr(a));
        const cls = this.staticClass(e.obj);
        if (cls) return `__tb.$static(${JSON.stringify(cls)}, ${JSON.stringify(e.name)}, [${args.join(', ')}])`;
        // $safe: a null value gives null instead of an error (safe navigation).
        const fn = e.safe || chainIsSafe(e.obj) ? '__tb.$safe' : '__tb.$m';
        return `${fn}(${this.expr(e.obj)}, ${JSON.stringify(e.name)}, [${args.join(', ')}])`;
      }
      case 'newArray':
        return `__tb.$newArray(${JSON.stringify(e.type)}, ${this.expr(e.size)})`;
      case 'newObject':
        return `__tb.$new(${JSON.stringify(e.type)}, [${e.args.map((a) => this.expr(a)).join(', ')}])`;
      case 'unary':
        return `(${e.op}${this.expr(e.e)})`;
      case 'update':
        this.noteAssigned(e.e);
        return e.prefix ? `(${e.op}${this.expr(e.e)})` : `(${this.expr(e.e)}${e.op})`;
      case 'binary':
        return this.binary(e.op, e.l, e.r);
      case 'assign': {
        this.noteAssigned(e.target);
        const target = this.expr(e.target);
        if (e.op === '/=') return `(${target} = ${this.binary('/', e.target, e.value)})`;
        if (e.op === '=' && e.target.k === 'ident' && this.isFloat(e.value)) this.scope.floats.add(e.target.name);
        return `(${target} ${e.op} ${this.expr(e.value)})`;
      }
      case 'cond':
        return `(${this.expr(e.test)} ? ${this.expr(e.a)} : ${this.expr(e.b)})`;
      case 'cast':
        return castCode(e.type, this.expr(e.e));
    }
  }

  /** The Java class a method is called on (Integer, java.util.Collections...), unless a variable has its name. */
  private staticClass(e: Expr): string | undefined {
    if (e.k === 'ident') return STATIC_CLASSES.has(e.name) && !this.scope.declared.has(e.name) ? e.name : undefined;
    const path: string[] = [];
    let x: Expr = e;
    while (x.k === 'member' && !x.safe) {
      path.unshift(x.name);
      x = x.obj;
    }
    if (x.k !== 'ident') return undefined;
    path.unshift(x.name);
    const last = path[path.length - 1];
    return path[0] === 'java' && !this.scope.declared.has('java') && STATIC_CLASSES.has(last) ? last : undefined;
  }

  private noteAssigned(target: Expr): void {
    if (target.k === 'ident' && !this.scope.declared.has(target.name)) this.scope.implicit.add(target.name);
  }

  private binary(op: string, l: Expr, r: Expr): string {
    const a = this.expr(l);
    const b = this.expr(r);
    switch (op) {
      case '==':
      case '!=': {
        const not = op === '!=' ? '!' : '';
        // Against null JavaScript's loose equality is MVEL's. Against any other literal it is not: a list or a
        // map never equals a number or a string in MVEL, while JavaScript converts them (["1"] == 1).
        if (l.k === 'null' || r.k === 'null') return `(${a} ${op} ${b})`;
        return `${not}__tb.$eq(${a}, ${b})`;
      }
      case '&&':
      case '||':
        return `(!!(${a}) ${op} !!(${b}))`;
      case '/':
        return this.isFloat(l) || this.isFloat(r) ? `(${a} / ${b})` : `__tb.$div(${a}, ${b})`;
      case '%':
        return this.isFloat(l) || this.isFloat(r) ? `(${a} % ${b})` : `__tb.$mod(${a}, ${b})`;
      default:
        return `(${a} ${op} ${b})`;
    }
  }
}

/** Whether a safe navigation (.?) happened earlier in this chain: the rest of it is null-safe too. */
function chainIsSafe(e: Expr): boolean {
  for (let x: Expr = e; ; ) {
    if ((x.k === 'member' || x.k === 'mcall') && x.safe) return true;
    if (x.k === 'member' || x.k === 'mcall' || x.k === 'index') x = x.obj;
    else return false;
  }
}

function safeName(name: string): string {
  return JS_RESERVED.has(name) ? `__tb_v_${name}` : name;
}

function defaultValue(type: string | undefined): string {
  if (!type) return 'null';
  if (['int', 'long', 'short', 'byte', 'double', 'float'].includes(type)) return '0';
  if (type === 'boolean') return 'false';
  return 'null';
}

function castCode(type: string, code: string): string {
  switch (type) {
    case 'int':
      return `__tb.$toInt32(${code})`;
    case 'long':
      return `Math.trunc(${code})`;
    case 'short':
      return `((${code}) << 16 >> 16)`;
    case 'byte':
      return `((${code}) << 24 >> 24)`;
    case 'double':
    case 'float':
      return `(+(${code}))`;
    case 'char':
      return `__tb.$char(${code})`;
    case 'boolean':
      return `(!!(${code}))`;
    default:
      return `__tb.$str(${code})`;
  }
}

/**
 * The script's result is the value of its last statement when that is an expression (MVEL), through if/else
 * and blocks: such a last statement becomes a return.
 */
function withResult(body: Stmt[]): Stmt[] {
  if (body.length === 0) return body;
  const last = body[body.length - 1];
  const out = body.slice(0, -1);
  out.push(asResult(last));
  return out;
}

function asResult(s: Stmt): Stmt {
  switch (s.k) {
    case 'expr':
      return { line: s.line, col: s.col, k: 'return', e: s.e };
    case 'block':
      return { ...s, body: withResult(s.body) };
    case 'if':
      return { ...s, consequent: asResult(s.consequent), alternate: s.alternate ? asResult(s.alternate) : undefined };
    default:
      return s;
  }
}
