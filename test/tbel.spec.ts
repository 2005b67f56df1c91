import assert from 'node:assert/strict';
import { Integration, testDecoder, testEncoder } from '../nodes/lib/integration';
import { tbelOptions } from '../nodes/lib/script-language';
import { testScript } from '../nodes/lib/script-node';
import { type CompiledScript, compileScript, ScriptError, type ScriptLimits } from '../nodes/lib/script-runtime';
import { TbelSyntaxError, tbelToJavaScript } from '../nodes/lib/tbel';
import { HELPER_FUNCTIONS } from '../nodes/lib/tbel/codegen';

// TBEL scripts, compiled to JavaScript and run in the script sandbox, against the behaviour that ThingsBoard's
// "TBEL Language Guide" and "TBEL Helper Functions" pages document (expected values are the pages' own).

const PARAMS = ['msg', 'metadata', 'msgType'];
const ARGS = [{ temperature: 22.5, humidity: 70 }, { deviceName: 'dev-1' }, 'POST_TELEMETRY_REQUEST'];
const live: CompiledScript[] = [];

async function compile(body: string, limits?: Partial<ScriptLimits>): Promise<CompiledScript> {
  const s = await compileScript(tbelOptions({ params: PARAMS, body, limits }));
  live.push(s);
  return s;
}

async function run(body: string, args: unknown[] = ARGS): Promise<unknown> {
  return (await compile(body)).invoke(args);
}

async function fails(body: string, kind: ScriptError['kind'], message: RegExp): Promise<ScriptError> {
  try {
    const s = await compile(body);
    s.invoke(ARGS);
  } catch (err) {
    assert.ok(err instanceof ScriptError, `expected a ScriptError, got ${String(err)}`);
    assert.equal(err.kind, kind, `expected ${kind}, got ${err.kind}: ${err.message}`);
    assert.match(err.message, message);
    return err;
  }
  return assert.fail(`expected ${JSON.stringify(body)} to fail`);
}

/** Runs one script returning the list of `cases`' expressions and compares each with its expected value. */
async function table(cases: [string, unknown][], prelude = ''): Promise<void> {
  const out = (await run(`${prelude}\nreturn [${cases.map((c) => c[0]).join(',\n')}];`)) as unknown[];
  cases.forEach(([expr, expected], i) => {
    assert.deepEqual(out[i], expected, `${expr} gave ${JSON.stringify(out[i])}`);
  });
}

function syntaxError(src: string): TbelSyntaxError {
  try {
    tbelToJavaScript(src, PARAMS);
  } catch (err) {
    assert.ok(err instanceof TbelSyntaxError, `expected a TbelSyntaxError, got ${String(err)}`);
    return err;
  }
  return assert.fail(`expected ${JSON.stringify(src)} to be refused`);
}

describe('TBEL', () => {
  afterEach(() => {
    for (const s of live.splice(0)) s.dispose();
  });

  describe('language guide', () => {
    it('a property expression alone is the result', async () => {
      assert.equal(await run('msg.temperature'), 22.5);
    });

    it('boolean expressions with precedence and parentheses', async () => {
      assert.equal(await run('return msg.temperature > 10;'), true);
      const s = 'return (msg.temperature > 10 && msg.temperature < 20) || (msg.humidity > 10 && msg.humidity < 60);';
      assert.equal(await run(s), false);
      assert.equal(await run(s, [{ temperature: 15, humidity: 0 }, {}, '']), true);
    });

    it('statements need semicolons except the last; the last expression is the result', async () => {
      assert.equal(await run('var a = 2;\nvar b = 2;\nreturn a + b'), 4);
      assert.equal(await run('var a = 2;var b = 3;a + b'), 5);
      const err = syntaxError('var a = 2\nvar b = 3;');
      assert.equal(err.line, 2);
      assert.equal(err.column, 1);
      assert.match(err.message, /expected ';'/);
      // A map literal at the end of its line may leave the `;` out, as ThingsBoard's converter samples do.
      assert.equal(await run('var data = {value: 2}\n// next\nvar r = {v: data.value + 1}\nreturn r.v'), 3);
      assert.equal(syntaxError('var data = {value: 2} var r = 1;').column, 23);
    });

    it('value coercion: "123" == 123, strings compared by value, lists and maps by content', async () => {
      await table(
        [
          ['"123" == 123', true],
          ['123 == "123"', true],
          ['s1 == s2', true],
          ['s1 != s2', false],
          ['[1, 2] == [1, 2]', true],
          ['{"a": [1]} == {"a": [1]}', true],
          ['{"a": 1} == {"a": 2}', false],
          ['msg.missing == null', true],
          ['null == nil', true],
          ['["1"] == 1', false],
          ['["1"] != "1"', true],
          ['{} == ""', false],
          ['[] == 0', false],
        ],
        'var s1 = "ab" + "c"; var s2 = "a" + "bc";',
      );
    });

    it('integer arithmetic is integer division; a double makes it floating point', async () => {
      await table(
        [
          ['5 / 2', 2],
          ['-7 / 2', -3],
          ['5 / 2.0', 2.5],
          ['5.0 / 2', 2.5],
          ['7 % 3', 1],
          ['d / 2', 2.5],
          ['(double) 5 / 2', 2.5],
          ['parseDouble("5") / 2', 2.5],
          ['e / 2', 0.5],
        ],
        'double d = 5; var e = 1.0;',
      );
      await fails('return 1 / 0;', 'runtime', /ArithmeticException: \/ by zero \(line 1\)/);
    });

    it('maps: inline creation, access, and the documented operations with their return values', async () => {
      const out = (await run(`
var map = {"temperature": 42, "nested" : "508"};
var a = [map.temperature, map.get("temperature"), map["temperature"]];
map.temperature = 0;
var size = map.size();
map.humidity = 73;
map.put("humidity", 73);
map.putIfAbsent("temperature1", 73);
map.temperature = 73;
var put1 = map.put("temperature", 73);
var putIfAbsent1 = map.putIfAbsent("temperature", 73);
var replace = map.replace("temperature", 56);
var replace1 = map.replace("temperature", 56, 42);
var replace3 = map.replace("temperature", 48, 56);
map.remove("temperature");
var keys = map.keys();
var values = map.values();
map.sortByKey();
var byKey = map.keySet();
map.sortByValue();
var byValue = map.keySet();
map.putAll({"test": 12, "input" : {"http": 130}});
return [a, size, put1, putIfAbsent1, replace, replace1, replace3, keys, values, byKey, byValue, map,
  map.containsKey("test"), map.?nonExistingKey.smth > 10];`)) as unknown[];
      assert.deepEqual(out.slice(0, 10), [
        [42, 42, 42],
        2,
        73,
        73,
        73,
        true,
        false,
        ['nested', 'humidity', 'temperature1'],
        ['508', 73, 73],
        ['humidity', 'nested', 'temperature1'],
      ]);
      assert.deepEqual(out[10], ['humidity', 'temperature1', 'nested']);
      assert.deepEqual(out[11], { humidity: 73, temperature1: 73, nested: '508', test: 12, input: { http: 130 } });
      assert.deepEqual(out.slice(12), [true, false]);
    });

    it('unmodifiable maps and lists refuse changes with the documented errors', async () => {
      await fails(
        'var original = {};\noriginal.humidity = 73;\nvar unmodifiable = original.toUnmodifiable();\nunmodifiable.put("temperature1", 96);\nreturn unmodifiable;',
        'runtime',
        /Map is unmodifiable \(line 4\)/,
      );
      await fails(
        'var original = [];\noriginal.add(0x67);\nvar unmodifiable = original.toUnmodifiable();\nunmodifiable.add(0x35);',
        'runtime',
        /List is unmodifiable \(line 4\)/,
      );
      assert.deepEqual(await run('var l = [1].toUnmodifiable(); [l.size(), l.get(0), l.contains(1)]'), [1, 1, true]);
    });

    it('foreach over a map: entrySet() with getKey()/key and getValue()/value, and over its values', async () => {
      const out = await run(`
var map = {"a": 1, "b": 2};
var keys = "";
var sum = 0;
foreach (element : map.entrySet()) {
  keys = keys + element.getKey() + element.key;
  sum += element.getValue() + element.value;
}
var values = [];
foreach (Integer value : map) { values.add(value); }
return [keys, sum, values];`);
      assert.deepEqual(out, ['aabb', 6, [1, 2]]);
    });

    it('lists: the documented methods and their return values', async () => {
      const out = await run(`
var list = ["A", "B", "C", "B", "C", "hello", 34567];
var listAdd = ["thigsboard", 4, 67];
var r = [];
r.add(list.addAll(listAdd));
r.add(list.addAll(2, listAdd));
list.add(3, "thigsboard");
r.add(list.push("x"));
list.unshift("r");
r.add(list.remove(1));
r.add(list.remove("C"));
r.add(list.shift());
r.add(list.pop());
r.add(list.splice(3));
r.add(list.splice(2, 2));
r.add(list.splice(1, 4, "start", 5, "end"));
r.add(list.set(3, "65"));
list[1] = "98";
list[0] = 2096;
r.add(list.toSorted());
r.add(list.toSorted(false));
list.sort(false);
r.add(list.slice());
list.reverse();
r.add(list.join());
r.add([list.length(), list.size(), list.size, list.indexOf("65"), list.contains(5), list.isEmpty()]);
r.add(list.fill(67));
r.add(list.with(1, 69));
r.add(list.concat(listAdd));
r.add(list.toSpliced(1, 0, "Feb"));
return r;`);
      assert.deepEqual(out, [
        true,
        true,
        true,
        'A',
        true,
        'r',
        'x',
        [4, 67, 'B', 'C', 'hello', 34567, 'thigsboard', 4, 67],
        ['thigsboard'],
        ['thigsboard'],
        'end',
        [5, '65', '98', 2096],
        [2096, '98', '65', 5],
        [2096, '98', '65', 5],
        '5,65,98,2096',
        [4, 4, 4, 1, true, false],
        [67, 67, 67, 67],
        [67, 69, 67, 67],
        [67, 67, 67, 67, 'thigsboard', 4, 67],
        [67, 'Feb', 67, 67, 67],
      ]);
    });

    it('foreach over a list and a string, for loops with size and size(), while, until, do while, do until', async () => {
      const out = await run(`
var numbers = [1, 2, 3];
var sum = 0;
foreach (n : numbers) { sum+=n; }
var chars = "";
foreach (c : "ABC") { chars = c + chars; }
var total = 0;
for (var i =0; i < numbers.size; i++) { total += numbers[i]; }
for (int j = 0; j < numbers.size(); j++) { total += numbers[j]; }
var w = 0;
while (w < 3) { w++; }
var u = 0;
until (u == 4) { u++; }
var d = 0;
do { d++; } while (d < 5);
var e = 0;
do { e++; } until (e == 6);
for (item : numbers) { total += item; }
return [sum, chars, total, w, u, d, e];`);
      assert.deepEqual(out, [6, 'CBA', 18, 3, 4, 5, 6]);
    });

    it('if / else if / else, and nested ternaries', async () => {
      const body = `
var temperature = msg.t;
if (temperature > 0) {
   return "Greater than zero!";
} else if (temperature == -1) {
   return "Minus one!";
} else {
   return "Something else!";
}`;
      assert.equal(await run(body, [{ t: 5 }, {}, '']), 'Greater than zero!');
      assert.equal(await run(body, [{ t: -1 }, {}, '']), 'Minus one!');
      assert.equal(await run(body, [{ t: -5 }, {}, '']), 'Something else!');
      assert.equal(await run('msg.t > 0 ? "Yes" : (msg.t == 0 ? "Zero" : "No")', [{ t: 0 }, {}, '']), 'Zero');
      assert.equal(await run('if (msg.t > 0) { "pos" } else { "neg" }', [{ t: 1 }, {}, '']), 'pos');
    });

    it('arrays of primitives, string indexing, functions (def and function)', async () => {
      const out = await run(`
var array = new int[3];
array[0] = 1;
array[1] = 2;
array[2] = 3;
var str = "My String";
var str0 = str[0];
function sum(list){
    var result = 0;
    for(var i = 0; i < list.length; i++){
        result += list[i];
    }
    return result;
};
def twice(int x) { x * 2 }
var sum = sum(array);
return [sum, str0, twice(21), new byte[2], new String[1]];`);
      assert.deepEqual(out, [6, 'M', 42, [0, 0], [null]]);
    });

    it('literals: strings with escapes, octal, hex, doubles with suffixes, long, booleans, null and nil', async () => {
      await table([
        ['"This is a string literal"', 'This is a string literal'],
        ["'This is also string literal'", 'This is also string literal'],
        ['"a\\\\b\\n\\uAE00\\73"', 'a\\b\n\uAE00;'],
        ['125', 125],
        ['0353', 235],
        ['0xAFF0', 0xaff0],
        ['10.503', 10.503],
        ['94.92d', 94.92],
        ['14.5f', 14.5],
        ['42L', 42],
        ['true', true],
        ['false', false],
        ['null', null],
        ['nil', null],
      ]);
    });

    it('Java classes: Integer.toString with a radix, Math, JSON, String.format, casts', async () => {
      await table([
        // Byte 0x1A in bases 16, 10, 8 and 2.
        ...Object.entries({ 16: '1a', 10: '26', 8: '32', 2: '11010' }).map(([radix, text]): [string, unknown] => [
          `Integer.toString(0x1A, ${radix})`,
          text,
        ]),
        ['Integer.toString(-255, 16)', '-ff'],
        ['Integer.toString(-255, 2)', '-11111111'],
        ['Math.sqrt(4)', 2],
        ['JSON.parse(JSON.stringify(metadata)).deviceName', 'dev-1'],
        ['String.format("%.2f|%5d|%s", 3.14159, 42, "x")', '3.14|   42|x'],
        ['(int) 3.7', 3],
        ['(byte) 200', -56],
        ['(double) 3', 3],
        ['(String) "s"', 's'],
      ]);
      assert.deepEqual(await run('var list = ["A", "B", "C"]; java.util.Collections.reverse(list); list'), [
        'C',
        'B',
        'A',
      ]);
      assert.deepEqual(await run('var list = ["A", "B", "C"]; Collections.reverse(list); list'), ['C', 'B', 'A']);
    });

    it('string methods of Java', async () => {
      await table(
        [
          ['s.length()', 11],
          ['s.substring(6)', 'world'],
          ['s.substring(0, 5)', 'hello'],
          ['s.equals("hello world")', true],
          ['s.equalsIgnoreCase("HELLO WORLD")', true],
          ['s.contains("lo w")', true],
          ['s.replace("o", "0")', 'hell0 w0rld'],
          ['s.split(" ")', ['hello', 'world']],
          ['"a,b,,".split(",")', ['a', 'b']],
          ['s.toUpperCase()', 'HELLO WORLD'],
          ['s.isEmpty()', false],
          ['s.matches("h.*d")', true],
          ['s.charAt(4)', 'o'],
          ['s.indexOf("o")', 4],
          ['" x ".trim()', 'x'],
        ],
        'var s = "hello world";',
      );
      await fails('return "abc".substring(5);', 'runtime', /StringIndexOutOfBoundsException/);
      await fails('return "abc".nope();', 'runtime', /unknown method nope\(\) of a string/);
    });

    it('names assigned without var are local to the call: nothing is kept for the next one', async () => {
      const s = await compile('count = (count == null ? 0 : count) + 1; count');
      assert.equal(s.invoke(ARGS), 1);
      assert.equal(s.invoke(ARGS), 1);
    });

    it("returns the script node's result shape, and runs through the script node's Test", async () => {
      const body = 'msg.deviceName = metadata.deviceName;\nreturn {msg: msg, metadata: metadata, msgType: msgType};';
      assert.deepEqual(await run(body), {
        msg: { ...(ARGS[0] as object), deviceName: 'dev-1' },
        metadata: ARGS[1],
        msgType: ARGS[2],
      });
      const ok = await testScript({
        script: body,
        language: 'tbel',
        msg: { t: 1 },
        metadata: { deviceName: 'd' },
        msgType: 'X',
      });
      assert.deepEqual(ok, {
        ok: true,
        output: [{ msg: { t: 1, deviceName: 'd' }, metadata: { deviceName: 'd' }, msgType: 'X' }],
      });
      const bad = await testScript({ script: 'var a = ;', language: 'tbel', msg: {}, metadata: {}, msgType: 'X' });
      assert.equal(bad.ok, false);
      assert.match(JSON.stringify(bad), /TBEL syntax error: unexpected ';' \(line 1, column 9\)/);
      // The same text in JavaScript is a JavaScript syntax error.
      const js = await testScript({ script: 'foreach (x : msg) {}', msg: {}, metadata: {}, msgType: 'X' });
      assert.equal(js.ok, false);
    });
  });

  describe('syntax errors name the construct, with line and column', () => {
    const cases: [string, RegExp, number, number][] = [
      ['var a = 1;\nswitch (a) {}', /switch statement is not supported/, 2, 1],
      ['var a = "abc', /unterminated string/, 1, 9],
      ['var a = 1 # 2;', /expected ';'/, 1, 11],
      ['var a = `x`;', /unexpected character "`"/, 1, 9],
      ['if (a === 1) {}', /'===' is JavaScript; TBEL compares with '=='/, 1, 7],
      ['var f = (x) => x;', /lambda/, 1, 13],
      ['try { a(); } catch (e) {}', /try \/ catch is not supported/, 1, 1],
      ['let x = 1;', /'let' is JavaScript; use var/, 1, 1],
      ['foreach (x in list) {}', /expected ':' between the loop variable/, 1, 12],
      ['{\n  a = 1;', /'\{' at line 1, column 1 is never closed/, 2, 9],
      ['x = 1 +', /ends in the middle of an expression/, 1, 8],
      ['/* open', /unterminated comment/, 1, 1],
      ['return 0x;', /hexadecimal literal without digits/, 1, 8],
      ['var new = 1;', /'new' is a reserved word/, 1, 5],
      ['var __tb_eq = 1;', /reserved/, 1, 5],
      ['a.b = c ~= "x";', /'~=' is not supported/, 1, 9],
    ];
    for (const [src, message, line, column] of cases) {
      it(`${JSON.stringify(src)}: ${message.source}`, () => {
        const err = syntaxError(src);
        assert.match(err.message, message);
        assert.deepEqual([err.line, err.column], [line, column], err.message);
      });
    }

    it('a syntax error is a compile error of the script, with its line', async () => {
      const err = await fails(
        'var a = 1;\nvar b = ;',
        'compile',
        /^TBEL syntax error: unexpected ';' \(line 2, column 9\)$/,
      );
      assert.equal(err.lineNumber, 2);
    });

    it('run-time errors name the TBEL line', async () => {
      const err = await fails('var a = 1;\n\nvar b = null;\nb.x = 2;', 'runtime', /\(line 4\)/);
      assert.equal(err.lineNumber, 4);
      await fails(
        'var m = {};\nraiseError("frequency must be 0, 1 or 2.");',
        'runtime',
        /frequency must be 0, 1 or 2\. \(line 2\)/,
      );
    });

    it('random text never crashes the compiler: it compiles or is a TbelSyntaxError', () => {
      const alphabet = [
        'a',
        '1',
        '.',
        '?',
        ':',
        ';',
        '{',
        '}',
        '[',
        ']',
        '(',
        ')',
        '"',
        '=',
        '+',
        ' ',
        '\n',
        'var',
        'foreach',
        'if',
      ];
      let seed = 7;
      const next = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed;
      };
      for (let n = 0; n < 2000; n++) {
        let src = '';
        const len = next() % 30;
        for (let i = 0; i < len; i++) src += alphabet[next() % alphabet.length];
        try {
          tbelToJavaScript(src, PARAMS);
        } catch (err) {
          assert.ok(err instanceof TbelSyntaxError, `${JSON.stringify(src)}: ${String(err)}`);
        }
      }
    });
  });

  describe('sandbox limits hold for TBEL', () => {
    it('a loop is stopped at the time limit', async () => {
      const s = await compile('while (true) { }', { timeoutMs: 100 });
      assert.throws(
        () => s.invoke(ARGS),
        (e: unknown) => e instanceof ScriptError && e.kind === 'timeout',
      );
    });

    it('a list that grows without end hits the memory limit', async () => {
      const s = await compile('var l = []; while (true) { l.add("xxxxxxxxxxxxxxxx" + l.size()); }', {
        timeoutMs: 5000,
      });
      assert.throws(
        () => s.invoke(ARGS),
        (e: unknown) => e instanceof ScriptError && e.kind === 'memory',
      );
    });

    it('reaches no host object', async () => {
      for (const name of ['process', 'require', 'module', 'Buffer']) {
        await fails(`return ${name}.toString();`, 'runtime', new RegExp(`'${name}' is not defined`));
      }
      await fails('return eval("1");', 'runtime', /is not defined/);
    });
  });

  describe('helper functions', () => {
    it('every helper the compiler knows is a function of the runtime', async () => {
      const { helpers } = tbelOptions({ params: PARAMS, body: '0' });
      const names = JSON.stringify([...HELPER_FUNCTIONS]);
      const s = await compileScript({
        params: PARAMS,
        body: `return ${names}.filter((n) => typeof __tb[n] !== 'function');`,
        helpers,
      });
      live.push(s);
      assert.ok(HELPER_FUNCTIONS.size > 50);
      assert.deepEqual(s.invoke(ARGS), []);
    });

    it("a script's own function of a helper's name is the one called", async () => {
      assert.equal(await run('def toFixed(x, p) { "mine" }\nreturn toFixed(1.25, 1);'), 'mine');
      assert.equal(await run('return toFixed(1.25, 1);'), 1.3);
    });

    it('btoa, atob, toFixed, toInt', async () => {
      await table([
        ['btoa("Hello, world")', 'SGVsbG8sIHdvcmxk'],
        ['atob(btoa("Hello, world"))', 'Hello, world'],
        ['toFixed(0.345, 1)', 0.3],
        ['toFixed(0.345, 2)', 0.35],
        ['toFixed(-0.345, 2)', -0.35],
        ['toFixed(1.005, 2)', 1.01],
        ['toFixed(2.5, 0)', 3],
        ['toFixed(123.4, 3)', 123.4],
        ['toInt(2.5)', 3],
        ['toInt(-2.5)', -3],
      ]);
      await fails('return atob("!!");', 'runtime', /Illegal base64/);
    });

    it('stringToBytes, bytesToString, decodeToString, decodeToJson', async () => {
      await table([
        [
          'stringToBytes(atob("eyJoZWxsbyI6ICJ3b3JsZCJ9"))',
          [123, 34, 104, 101, 108, 108, 111, 34, 58, 32, 34, 119, 111, 114, 108, 100, 34, 125],
        ],
        ['stringToBytes("hello world")', [104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]],
        ['stringToBytes("hello world", "UTF8")', [104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]],
        ['stringToBytes("é")', [-61, -87]],
        ['stringToBytes("é", "ISO-8859-1")', [-23]],
        ['bytesToString([0x48,0x45,0x4C,0x4C,0x4F])', 'HELLO'],
        ['decodeToString([0x48,0x49])', 'HI'],
        ['bytesToString([-61, -87])', 'é'],
        ['decodeToJson(stringToBytes(atob("eyJoZWxsbyI6ICJ3b3JsZCJ9")))', { hello: 'world' }],
      ]);
      await fails('return stringToBytes("a", "EBCDIC");', 'runtime', /UnsupportedCharsetException/);
    });

    it('isBinary, isOctal, isDecimal, isHexadecimal, encodeURI, decodeURI', async () => {
      const original = "-_.!~*'();/?:@&=+$,#ht://example.ж д a/path with spaces/?param1=Київ 1&param2=Україна2";
      const encoded =
        "-_.!~*'();/?:@&=+$,#ht://example.%D0%B6%20%D0%B4%20a/path%20with%20spaces/?param1=%D0%9A%D0%B8%D1%97%D0%B2%201&param2=%D0%A3%D0%BA%D1%80%D0%B0%D1%97%D0%BD%D0%B02";
      await table([
        ['isBinary("1100110")', 2],
        ['isBinary("2100110")', -1],
        ['isOctal("4567734")', 8],
        ['isOctal("8100110")', -1],
        ['isDecimal("4567039")', 10],
        ['isDecimal("C100110")', -1],
        ['isHexadecimal("F5D7039")', 16],
        ['isHexadecimal("K100110")', -1],
        [`encodeURI(${JSON.stringify(original)})`, encoded],
        [`decodeURI(${JSON.stringify(encoded)})`, original],
      ]);
    });

    it('raiseError, printUnsignedBytes, padStart, padEnd', async () => {
      await fails(
        'var value = 4;\nreturn raiseError("A value of " + value + " is invalid.", value);',
        'runtime',
        /A value of 4 is invalid\./,
      );
      await table(
        [
          ['printUnsignedBytes(hexToBytes("D8FF"))', [216, 255]],
          ['printUnsignedBytes(hexToBytes("FFD8"))', [255, 216]],
          ['padStart("010011", 8, \'0\')', '00010011'],
          ['padStart("1001010011", 8, \'0\')', '1001010011'],
          ['padStart("1001010011", 16, \'*\')', '******1001010011'],
          ["padStart(full.substring(11), full.length(), '*')", '***********CD5581'],
          ['padEnd("010011", 8, \'0\')', '01001100'],
          ['padEnd("1001010011", 16, \'*\')', '1001010011******'],
          ["padEnd(full.substring(0, 11), full.length(), '*')", '203439900FF******'],
        ],
        'var full = "203439900FFCD5581";',
      );
    });

    it('intToHex, longToHex, floatToHex, doubleToHex, intLongToRadixString', async () => {
      await table([
        ['intToHex(0x7FFFFFFF, true, true)', '0x7FFFFFFF'],
        ['intToHex(171, true, false)', 'AB'],
        ['intToHex(0xABCDEF, false, true, 4)', '0xCDAB'],
        ['intToHex(0xABCD, false, false, 2)', 'AB'],
        ['longToHex(0x7A12BCD3, true, true, 4)', '0xBCD3'],
        ['longToHex(0x7A12BCD3, false, false, 4)', '127A'],
        ['floatToHex(123456789.00)', '0x4CEB79A3'],
        ['floatToHex(123456789.00, false)', '0xA379EB4C'],
        ['doubleToHex(1729.1729d)', '0x409B04B10CB295EA'],
        ['doubleToHex(1729.1729d, false)', '0xEA95B20CB1049B40'],
        ['intLongToRadixString(58, 2)', '00111010'],
        ['intLongToRadixString(13158, 8)', '31546'],
        ['intLongToRadixString(-13158, 8)', '1777777777777777746232'],
        ['intLongToRadixString(-13158, 10)', '-13158'],
        ['intLongToRadixString(13158, 16)', '3366'],
        ['intLongToRadixString(-13158, 16)', 'FFCC9A'],
        ['intLongToRadixString(-13158, 16, true, true)', '0xFFCC9A'],
        ['intLongToRadixString(-13158, 16, false)', '9ACCFF'],
      ]);
    });

    // ThingsBoard prints a negative in hex as its significant bytes after one "FF" byte of sign, base 2 padded to
    // the next of 8/16/32/64 digits (a full 8 digits become 16), and refuses the bases it has no printer for.
    it('hex and radix printing of ThingsBoard edge cases: negatives, digit widths, bases', async () => {
      await table([
        ['intToHex(-1)', 'FFFF'],
        ['intToHex(-200)', 'FF38'],
        ['intToHex(-16)', 'FFF0'],
        ['intToHex(-0x12345678)', 'EDCBA988'],
        ['longToHex(-1)', 'FFFF'],
        ['longToHex(255)', 'FF'],
        ['longToHex(0)', '00'],
        ['intLongToRadixString(-1, 16)', 'FFFF'],
        ['intLongToRadixString(128, 2)', '0000000010000000'],
        ['intLongToRadixString(5, 2)', '00000101'],
        ['intLongToRadixString(-1, 2).length()', 64],
        ['intLongToRadixString(100, 36)', '2s'],
        ['intLongToRadixString(-100, 36)', '-2s'],
        ['parseBinaryArrayToInt([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])', 32769],
        ['parseBinaryArrayToInt([1, 1, 1, 1])', 15],
      ]);
      await fails('return intLongToRadixString(10, 3);', 'runtime', /Invalid radix: \[3\]/);
      await fails('return intToHex(0xAB, true, false, 4);', 'runtime', /StringIndexOutOfBoundsException/);
    });

    it('parseHexToInt, parseHexToFloat, parseHexIntLongToFloat, parseHexToDouble and their aliases', async () => {
      await table([
        ['parseHexToInt("BBAA")', 48042],
        ['parseHexToInt("BBAA", true)', 48042],
        ['parseHexToInt("AABB", false)', 48042],
        ['parseHexToInt("BBAA", false)', 43707],
        ['parseHexToInt("AABBCCDD", true)', 0xaabbccdd | 0],
        ['parseLittleEndianHexToInt("AABB")', 48042],
        ['parseBigEndianHexToInt("BBAA")', 48042],
        ['parseHexToFloat("41EA62CC")', 29.29824],
        ['parseHexToFloat("41EA62CC", true)', 29.29824],
        ['parseHexToFloat("41EA62CC", false)', -5.948442e7],
        ['parseHexToFloat("CC62EA41", false)', 29.29824],
        ['parseLittleEndianHexToFloat("CC62EA41")', 29.29824],
        ['parseBigEndianHexToFloat("41EA62CC")', 29.29824],
        ['parseHexIntLongToFloat("0x0A", true)', 10],
        ['parseHexIntLongToFloat("0x0A", false)', 10],
        ['parseHexIntLongToFloat("0x00000A", true)', 10],
        ['parseHexIntLongToFloat("0x0A0000", false)', 10],
        ['parseHexIntLongToFloat("0x000A0A", true)', 2570],
        ['parseHexIntLongToFloat("0x0A0A00", false)', 2570],
        ['parseHexToDouble("409B04B10CB295EA")', 1729.1729],
        ['parseHexToDouble("409B04B10CB295EA", false)', -2.7208640774822924e205],
        ['parseHexToDouble("409B04B10CB295EA", true)', 1729.1729],
        ['parseHexToDouble("EA95B20CB1049B40", false)', 1729.1729],
        ['parseLittleEndianHexToDouble("EA95B20CB1049B40")', 1729.1729],
        ['parseBigEndianHexToDouble("409B04B10CB295EA")', 1729.1729],
      ]);
      await fails('return parseHexToInt("AABBCCDDEE");', 'runtime', /Maximum 8 symbols/);
      await fails('return parseHexToInt("ABC");', 'runtime', /even-length/);
      await fails('return parseHexToInt("XY");', 'runtime', /not a hex string/);
    });

    it('hexToBytes, hexToBytesArray, bytesToHex', async () => {
      await table([
        [
          'hexToBytes("0x01752B0367FA000500010488FFFFFFFFFFFFFFFF33")',
          [1, 117, 43, 3, 103, -6, 0, 5, 0, 1, 4, -120, -1, -1, -1, -1, -1, -1, -1, -1, 51],
        ],
        ['hexToBytesArray("AABBCCDDEE")', [-86, -69, -52, -35, -18]],
        ['bytesToHex([0xBB, 0xAA])', 'BBAA'],
        ['bytesToHex([-69, 83])', 'BB53'],
      ]);
    });

    it('parseBytesToInt, parseBytesToLong, parseBytesToFloat, parseBytesIntToFloat, parseBytesLongToDouble', async () => {
      await table(
        [
          ['parseBytesToInt(bytes, 0, 3)', 11189196],
          ['parseBytesToInt(bytes, 0, 3, true)', 11189196],
          ['parseBytesToInt(bytes, 0, 3, false)', 13417386],
          ['parseBytesToInt(bytes, 0, 4)', 0xaabbccdd | 0],
          ['parseBytesToInt([0x01, 0x02], 0, 2, false)', 513],
          ['parseBytesToLong(longValByte, 0, 8)', Number(4655319798286292458n)],
          ['parseBytesToLong(longValByte, 0, 8, false)', Number(-1543131529725306048n)],
          ['parseBytesToFloat([0x0A])', 1.4e-44],
          ['parseBytesToFloat(floatValByte, 0)', 29.29824],
          ['parseBytesToFloat(floatValByte, 0, 2, false)', 8.4034e-41],
          ['parseBytesToFloat(floatValByte, 0, 2, true)', 2.3646e-41],
          ['parseBytesToFloat(floatValByte, 0, 3, false)', 9.083913e-39],
          ['parseBytesToFloat(floatValByte, 0, 3, true)', 6.053388e-39],
          ['parseBytesToFloat(floatValByte, 0, 4, false)', -5.948442e7],
          ['parseBytesToFloat([65, -22, 98, -52], 0)', 29.29824],
          ['parseBytesToFloat([65, -22, 98, -52], 0, 4, false)', -5.948442e7],
          ['parseBytesIntToFloat(intValByte, 3, 1, true)', 10],
          ['parseBytesIntToFloat(intValByte, 3, 1, false)', 10],
          ['parseBytesIntToFloat(intValByte, 2, 2, true)', 10],
          ['parseBytesIntToFloat(intValByte, 2, 2, false)', 2560],
          ['parseBytesIntToFloat(intValByte, 0, 4, true)', 10],
          ['parseBytesIntToFloat(intValByte, 0, 4, false)', 1.6777216e8],
          ['parseBytesIntToFloat(at101, 9, 4, false) / 1000000', 24.62495],
          ['parseBytesIntToFloat(at101, 9 + 4, 4, false) / 1000000', 118.030576],
          ['parseBytesLongToDouble(coordinates, 0, 8, false) / 1e15', 50.42277542905861],
          ['parseBytesLongToDouble(coordinates, 8, 8, false) / 1e15', 30.517877378257072],
          ['parseBytesToDouble(hexToBytes("409B04B10CB295EA"))', 1729.1729],
          ['bytesToExecutionArrayList(bytes)', [-86, -69, -52, -35]],
        ],
        `var bytes = [0xAA, 0xBB, 0xCC, 0xDD];
var longValByte = [64, -101, 4, -79, 12, -78, -107, -22];
var floatValByte = [0x41, 0xEA, 0x62, 0xCC];
var intValByte = [0x00, 0x00, 0x00, 0x0A];
var at101 = hexToBytes("0x01756403671B01048836BF7701F000090722050000");
var coordinates = hexToBytes("0x32D009423F23B300B0106E08D96B6C00");`,
      );
      await fails(
        'return parseBytesToInt([1, 2, 3, 4, 5], 0, 5);',
        'runtime',
        /Length: 5 is too large\. Maximum 4 bytes/,
      );
      await fails(
        'return parseBytesToInt([1, 2], 1, 2);',
        'runtime',
        /Offset: 1 and Length: 2 is out of bounds for array with length: 2/,
      );
    });

    it('binary arrays', async () => {
      await table([
        ['parseByteToBinaryArray(0x39)', [0, 0, 1, 1, 1, 0, 0, 1]],
        ['parseByteToBinaryArray(0x39, 3)', [0, 0, 1]],
        ['parseByteToBinaryArray(0x39, 8, false)', [1, 0, 0, 1, 1, 1, 0, 0]],
        ['parseByteToBinaryArray(0x39, 5, false)', [1, 0, 0, 1, 1]],
        ['parseByteToBinaryArray(0x39, 4, false)', [1, 0, 0, 1]],
        ['parseByteToBinaryArray(0x39, 3, false)', [1, 0, 0]],
        ['parseBytesToBinaryArray([0xCE, 0xB2])', [1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]],
        ['parseBytesToBinaryArray([0xCE, 0xB2], 15)', [1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]],
        ['parseBytesToBinaryArray([0xCE, 0xB2], 14)', [0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]],
        ['parseBytesToBinaryArray([0xCE, 0xB2], 2)', [1, 0]],
        ['parseLongToBinaryArray(52914L, 16)', [1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0]],
        ['parseLongToBinaryArray(52914L).size()', 64],
        ['parseBinaryArrayToInt([1, 0, 0, 1, 1, 1, 1, 1])', -97],
        ['parseBinaryArrayToInt([1, 0, 0, 1, 1, 1, 1, 1], 1, 7)', 31],
      ]);
    });

    it('parseInt, parseLong, parseFloat, parseDouble, with the number format errors', async () => {
      await table([
        // parseInt(arguments): result
        ...Object.entries({
          '"0"': 0,
          '"473"': 473,
          '"+42"': 42,
          '"-0", 10': 0,
          '"-0xFF"': -255,
          '"-FF", 16': -255,
          '"1100110", 2': 102,
          '"2147483647", 10': 2147483647,
          '"-2147483648", 10': -2147483648,
          '"Kona", 27': 411787,
        }).map(([args, value]): [string, unknown] => [`parseInt(${args})`, value]),
        ['parseLong("0")', 0],
        ['parseLong("-0xFFFF")', -65535],
        ['parseLong("-FFFF", 16)', -65535],
        ['parseLong("11001101100110", 2)', 13158],
        ['parseLong("KonaLong", 27)', 218840926543],
        ['parseFloat("4.2")', 4.2],
        ['parseDouble("4.2")', 4.2],
      ]);
      for (const bad of [
        'parseInt("2147483648", 10)',
        'parseInt("99", 8)',
        'parseInt("Kona", 10)',
        'parseLong("9223372036854775808", 10)',
        'parseLong("0xFGFFFFFF", 16)',
        'parseLong("1787", 8)',
        'parseLong("KonaLong", 16)',
        'parseDouble("4,2")',
      ]) {
        await fails(`return ${bad};`, 'runtime', /NumberFormatException: For input string/);
      }
    });

    it('bitwise operations on booleans and integers', async () => {
      await table(
        [
          ['x & y', 0],
          ['x | y', 1],
          ['x ^ y', 1],
          ['x << y', 1],
          ['x >> y', 1],
          ['x >>> y', 1],
          ['x & b', 0],
          ['i | y', 10],
          ['i >>> x', 5],
        ],
        'var x = true; var y = false; var i = 10; var b = -14;',
      );
    });

    it('base64ToHex, bytesToBase64, base64ToBytes, base64ToBytesList', async () => {
      await table([
        ['base64ToHex("Kkk=")', '2A49'],
        ['bytesToBase64([42, 73])', 'Kkk='],
        ['base64ToBytes("Kkk=")', [42, 73]],
        ['base64ToBytesList("AQIDBAU=")', [1, 2, 3, 4, 5]],
      ]);
    });

    it('toFlatMap with and without paths and exclusions', async () => {
      const json = {
        key1: 'value1',
        key2: 12,
        key3: {
          key4: 'value4',
          key5: 34,
          key6: [{ key7: 'value7' }, { key8: 'value8' }, 'just_string_value_in_array', 56],
          key9: { key10: ['value10_1', 'value10_2', 'value10_3'] },
        },
        key_to_overwrite: 'root_value',
        key11: { key_to_overwrite: 'second_level_value' },
      };
      const out = (await run(
        'return [toFlatMap(msg), toFlatMap(msg, false), toFlatMap(msg, ["key1", "key3"]), toFlatMap(msg, ["key2", "key4"], false)];',
        [json, {}, ''],
      )) as unknown[];
      assert.deepEqual(out[0], {
        key1: 'value1',
        key2: 12,
        'key3.key4': 'value4',
        'key3.key5': 34,
        'key3.key6.0.key7': 'value7',
        'key3.key6.1.key8': 'value8',
        'key3.key6.2': 'just_string_value_in_array',
        'key3.key6.3': 56,
        'key3.key9.key10.0': 'value10_1',
        'key3.key9.key10.1': 'value10_2',
        'key3.key9.key10.2': 'value10_3',
        key_to_overwrite: 'root_value',
        'key11.key_to_overwrite': 'second_level_value',
      });
      assert.deepEqual(out[1], {
        key1: 'value1',
        key2: 12,
        key4: 'value4',
        key5: 34,
        key7: 'value7',
        key8: 'value8',
        'key6.2': 'just_string_value_in_array',
        'key6.3': 56,
        'key10.0': 'value10_1',
        'key10.1': 'value10_2',
        'key10.2': 'value10_3',
        key_to_overwrite: 'second_level_value',
      });
      assert.deepEqual(out[2], {
        key2: 12,
        key_to_overwrite: 'root_value',
        'key11.key_to_overwrite': 'second_level_value',
      });
      // Without paths, and without key2 and key4 (at any level): the same as out[1] less those keys.
      const { key2: _k2, key4: _k4, ...rest } = out[1] as Record<string, unknown>;
      assert.deepEqual(out[3], rest);
      assert.equal(Object.keys(out[3] as object).length, 10);
    });

    it('Date: ISO text, numbers with a 1-based month, and adding time units', async () => {
      const out = await run(`
var r = [];
r.add(new Date("2023-08-06T04:04:05.123Z").toISOString());
r.add(new Date("2023-08-06T04:04:05.00-04").toISOString());
r.add(new Date("2023-08-06T04:04:05.00+02:00").toISOString());
r.add(new Date(2023, 8, 6, 4, 4, 5, "UTC").toISOString());
var d = new Date("2024-01-01T10:00:00.00Z");
r.add(d.toISOString());
d.addYears(1); r.add(d.toISOString());
d.addYears(-2); r.add(d.toISOString());
d.addMonths(2); r.add(d.toISOString());
d.addMonths(10); r.add(d.toISOString());
d.addMonths(-13); r.add(d.toISOString());
d.addWeeks(4); r.add(d.toISOString());
d.addWeeks(-5); r.add(d.toISOString());
d.addDays(6); r.add(d.toISOString());
d.addDays(45); r.add(d.toISOString());
d.addDays(-50); r.add(d.toISOString());
d.addHours(23); r.add(d.toISOString());
d.addHours(-47); r.add(d.toISOString());
d.addMinutes(59); r.add(d.toISOString());
d.addMinutes(-60); r.add(d.toISOString());
d.addSeconds(59); r.add(d.toISOString());
d.addSeconds(-60); r.add(d.toISOString());
return r;`);
      assert.deepEqual(out, [
        '2023-08-06T04:04:05.123Z',
        '2023-08-06T08:04:05Z',
        '2023-08-06T02:04:05Z',
        '2023-08-06T04:04:05Z',
        '2024-01-01T10:00:00Z',
        '2025-01-01T10:00:00Z',
        '2023-01-01T10:00:00Z',
        '2023-03-01T10:00:00Z',
        '2024-01-01T10:00:00Z',
        '2022-12-01T10:00:00Z',
        '2022-12-29T10:00:00Z',
        '2022-11-24T10:00:00Z',
        '2022-11-30T10:00:00Z',
        '2023-01-14T10:00:00Z',
        '2022-11-25T10:00:00Z',
        '2022-11-26T09:00:00Z',
        '2022-11-24T10:00:00Z',
        '2022-11-24T10:59:00Z',
        '2022-11-24T09:59:00Z',
        '2022-11-24T09:59:59Z',
        '2022-11-24T09:58:59Z',
      ]);
    });
  });

  describe('MQTT integration converters in TBEL (through the Test runs)', () => {
    it('decodes a JSON uplink into device, attributes and telemetry', async () => {
      const decoder = `
// payload: the bytes the device sent; metadata: the integration's metadata
var data = decodeToJson(payload);
var result = {
   deviceName: data.deviceName,
   deviceType: data.deviceType,
   attributes: { model: data.model, serialNumber: data.param2, integrationName: metadata.integrationName },
   telemetry: { temperature: data.temperature }
};
return result;`;
      const payload = JSON.stringify({
        deviceName: 'Sensor A',
        deviceType: 'thermometer',
        model: 'T1',
        param2: 'SN-9',
        temperature: 42.5,
      });
      const out = await testDecoder(
        { decoder, decoderLanguage: 'tbel', payload, payloadFormat: 'json', integrationName: 'mqtt-1' },
        5000,
      );
      assert.deepEqual(out, {
        ok: true,
        output: {
          deviceName: 'Sensor A',
          deviceType: 'thermometer',
          attributes: { model: 'T1', serialNumber: 'SN-9', integrationName: 'mqtt-1' },
          telemetry: { temperature: 42.5 },
        },
      });
    });

    it('decodes a binary uplink with the byte helpers', async () => {
      const decoder = `
var bytes = payload;
var telemetry = {};
telemetry.battery = bytes[0];
telemetry.temperature = toFixed(parseBytesToInt(bytes, 1, 2) / 100.0, 1);
telemetry.humidity = parseBytesToInt(bytes, 3, 1);
telemetry.counter = parseBytesToInt(bytes, 4, 4, false);
var flags = parseByteToBinaryArray(bytes[8], 2);
telemetry.alarm = flags[0] == 1;
return {deviceName: "bin-" + bytesToHex([bytes[9]]), deviceType: "binary", telemetry: telemetry};`;
      const out = await testDecoder(
        { decoder, decoderLanguage: 'tbel', payload: '5A 0A 2B 3C 01000000 02 FE', payloadFormat: 'hex' },
        5000,
      );
      assert.deepEqual(out, {
        ok: true,
        output: {
          deviceName: 'bin-FE',
          deviceType: 'binary',
          telemetry: { battery: 90, temperature: 26.0, humidity: 60, counter: 1, alarm: true },
        },
      });
    });

    it('encodes a downlink', async () => {
      const encoder = `
var data = {"setpoint": msg.params, "unit": "C"};
var result = {
    contentType: "JSON",
    data: JSON.stringify(data),
    metadata: { topic: 'devices/' + metadata.deviceName + '/temperature/settings' }
};
return result;`;
      const out = (await testEncoder(
        {
          encoder,
          encoderLanguage: 'tbel',
          msg: { params: 21 },
          metadata: { deviceName: 'Sensor A' },
          msgType: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
        },
        5000,
      )) as { ok: boolean; output: { contentType: string; data: string; mqtt: { topic: string; payload: unknown } }[] };
      assert.equal(out.ok, true, JSON.stringify(out));
      assert.equal(out.output[0].contentType, 'JSON');
      assert.deepEqual(JSON.parse(out.output[0].data), { setpoint: 21, unit: 'C' });
      assert.equal(out.output[0].mqtt.topic, 'devices/Sensor A/temperature/settings');
    });

    it('a deployed integration compiles each converter in its own language', async () => {
      const integration = new Integration({
        name: 'i',
        decoder: 'decodeToJson(payload).v * 2',
        encoder: 'return {contentType: "TEXT", data: `${msg.v}`, metadata: {topic: "t"}};',
        decoderLanguage: 'tbel',
        metadata: {},
        allowCreateDevices: true,
        topicPattern: '${topic}',
        qos: 1,
        retain: false,
        maxPayloadBytes: 1000,
        timeoutMs: 500,
      });
      try {
        assert.equal(await integration.decoder.run([[...Buffer.from('{"v":21}')], {}]), 42);
        // The encoder stays JavaScript (a template literal is not TBEL).
        assert.deepEqual(await integration.encoder.run([{ v: 7 }, {}, 'X', {}]), {
          contentType: 'TEXT',
          data: '7',
          metadata: { topic: 't' },
        });
      } finally {
        integration.dispose();
      }
    });

    it('a TBEL syntax error in a converter is reported by its Test with line and column', async () => {
      const out = await testEncoder({ encoder: 'var a = {;\n', encoderLanguage: 'tbel', msg: {}, metadata: {} }, 5000);
      assert.equal(out.ok, false);
      assert.match(JSON.stringify(out), /TBEL syntax error: .* \(line 1, column 10\)/);
    });
  });
});
