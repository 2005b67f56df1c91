// The TBEL runtime, evaluated as global code in the sandbox of every TBEL script (after decoder-helpers.js, whose
// decodeToString it uses): one global object, __tb, holding the functions the compiled script calls for MVEL's
// semantics ($eq, $div, $m...) and ThingsBoard's helper functions (parseBytesToInt, toFixed...), which the
// compiler calls as __tb.name(...). One global rather than a hundred: the sandbox looks at every enumerable global
// after each call, and this one becomes read-only and non-enumerable like the built-ins.
//
// Numbers are JavaScript numbers: integers are exact up to 2^53, and `long` values beyond that lose precision.
// Byte lists are lists of numbers; like Java's bytes, the helpers that make them give signed values (-128..127)
// and the helpers that read them accept signed or unsigned values.
globalThis.__tb = (() => {
  // ---- MVEL semantics -------------------------------------------------------------------------------------------

  /** Throws an Error named as the Java exception ThingsBoard would raise (the name shows in the Failure message). */
  function __tb_fail(type, message) {
    const e = new Error(message);
    // Defined, not assigned: Error.prototype is frozen in the sandbox, which makes `e.name = ...` a silent no-op.
    Object.defineProperty(e, 'name', { value: type, writable: true, enumerable: false, configurable: true });
    throw e;
  }

  function __tb_has(o, k) {
    return Object.hasOwn(o, k);
  }

  function __tb_isMap(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
  }

  /** Value equality, as MVEL's ==: numbers against numeric strings, lists and maps by content. */
  function __tb_eq(a, b) {
    if (a === b) return true;
    if (a === null || a === undefined || b === null || b === undefined) {
      return (a === null || a === undefined) && (b === null || b === undefined);
    }
    const ta = typeof a;
    const tb = typeof b;
    if (ta === 'number' || tb === 'number' || ta === 'boolean' || tb === 'boolean') {
      if (ta === 'object' || tb === 'object') return false;
      if (ta === 'string' || tb === 'string') return String(a) === String(b) || Number(a) === Number(b);
      return Number(a) === Number(b);
    }
    if (Array.isArray(a)) {
      if (!Array.isArray(b) || a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!__tb_eq(a[i], b[i])) return false;
      return true;
    }
    if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
    if (__tb_isMap(a) && __tb_isMap(b)) {
      const ka = Object.keys(a);
      if (ka.length !== Object.keys(b).length) return false;
      for (const k of ka) if (!__tb_has(b, k) || !__tb_eq(a[k], b[k])) return false;
      return true;
    }
    return false;
  }

  /** `/`: integer division when both sides are integers (Java), else floating point. */
  function __tb_div(a, b) {
    if (Number.isInteger(a) && Number.isInteger(b)) {
      if (b === 0) __tb_fail('ArithmeticException', '/ by zero');
      return Math.trunc(a / b);
    }
    return a / b;
  }

  function __tb_mod(a, b) {
    if (b === 0 && Number.isInteger(a)) __tb_fail('ArithmeticException', '/ by zero');
    return a % b;
  }

  function __tb_toInt32(v) {
    if (typeof v === 'string') v = __tb_parseInteger(v, 10, 32);
    return Number(v) | 0;
  }

  function __tb_char(v) {
    return typeof v === 'number' ? String.fromCharCode(v) : String(v).charAt(0);
  }

  function __tb_str(v) {
    return v === null || v === undefined ? null : __tb_toString(v);
  }

  /** Java's toString of a value: lists as [a, b], maps as {k=v}. */
  function __tb_toString(v) {
    if (v === null || v === undefined) return 'null';
    if (Array.isArray(v)) return '[' + v.map(__tb_toString).join(', ') + ']';
    if (v instanceof Date) return __tb_iso(v);
    if (typeof v === 'object') {
      return (
        '{' +
        Object.keys(v)
          .map((k) => k + '=' + __tb_toString(v[k]))
          .join(', ') +
        '}'
      );
    }
    return String(v);
  }

  /** What foreach walks: a list's elements, a map's values, a string's characters, 1..n of a number n. */
  function __tb_iter(c) {
    if (Array.isArray(c)) return c;
    if (c === null || c === undefined) __tb_fail('NullPointerException', 'foreach over null');
    if (typeof c === 'string') return c.split('');
    if (typeof c === 'number') {
      const out = [];
      for (let i = 1; i <= c; i++) out.push(i);
      return out;
    }
    if (typeof c === 'object') return Object.values(c);
    return __tb_fail('IllegalArgumentException', 'cannot iterate over a ' + typeof c);
  }

  /** list.size, map.size, x.empty: Java getters read as properties. */
  function __tb_prop(o, name) {
    if (o === null || o === undefined) __tb_fail('NullPointerException', 'cannot read ' + name + ' of null');
    if (__tb_isMap(o) && __tb_has(o, name)) return o[name];
    if (name === 'size') return __tb_size(o);
    return __tb_size(o) === 0;
  }

  function __tb_size(o) {
    if (Array.isArray(o) || typeof o === 'string') return o.length;
    if (__tb_isMap(o)) return Object.keys(o).length;
    return __tb_fail('IllegalArgumentException', 'a ' + typeof o + ' has no size');
  }

  function __tb_safe(o, name, args) {
    return o === null || o === undefined ? null : __tb_m(o, name, args);
  }

  function __tb_index(list, i) {
    if (!Number.isInteger(i) || i < 0 || i >= list.length) {
      __tb_fail('IndexOutOfBoundsException', 'Index ' + i + ' out of bounds for length ' + list.length);
    }
    return i;
  }

  function __tb_unknownMethod(o, name) {
    const what = Array.isArray(o) ? 'list' : __tb_isMap(o) ? 'map' : typeof o;
    return __tb_fail('MethodNotFound', 'unknown method ' + name + '() of a ' + what);
  }

  /** A method call value.name(args), with Java's List, Map, String and Number methods. */
  function __tb_m(o, name, args) {
    if (o === null || o === undefined) __tb_fail('NullPointerException', 'cannot call ' + name + '() on null');
    // Not extensible: a frozen toUnmodifiable() copy (isExtensible is O(1); isFrozen looks at every element).
    if (typeof o === 'object' && !Object.isExtensible(o)) __tb_checkModifiable(o, name);
    if (Array.isArray(o)) return __tb_listMethod(o, name, args);
    switch (typeof o) {
      case 'string':
        return __tb_stringMethod(o, name, args);
      case 'number':
        return __tb_numberMethod(o, name, args);
      case 'boolean':
        if (name === 'toString') return String(o);
        if (name === 'equals') return __tb_eq(o, args[0]);
        return __tb_unknownMethod(o, name);
    }
    if (o instanceof Date) return __tb_dateMethod(o, name, args);
    if (o.__tbEntry === true && (name === 'getKey' || name === 'getValue')) return name === 'getKey' ? o.key : o.value;
    return __tb_mapMethod(o, name, args);
  }

  /** toUnmodifiable() gives a frozen copy: the methods that would change it raise ThingsBoard's error. */
  function __tb_checkModifiable(o, name) {
    const list = Array.isArray(o);
    const changes = list
      ? ' add push addAll set remove clear unshift shift pop splice sort reverse fill '
      : ' put putIfAbsent putAll remove replace clear sortByKey sortByValue ';
    if (changes.includes(' ' + name + ' ')) {
      __tb_fail('UnsupportedOperationException', (list ? 'List' : 'Map') + ' is unmodifiable');
    }
  }

  function __tb_sortValues(list, ascending) {
    const numeric = list.every(
      (v) => typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))),
    );
    const cmp = numeric
      ? (a, b) => Number(a) - Number(b)
      : (a, b) => {
          const x = __tb_toString(a);
          const y = __tb_toString(b);
          return x < y ? -1 : x > y ? 1 : 0;
        };
    list.sort(ascending === false ? (a, b) => cmp(b, a) : cmp);
    return list;
  }

  function __tb_listMethod(o, name, args) {
    const a0 = args[0];
    switch (name) {
      case 'size':
      case 'length':
        return o.length;
      case 'isEmpty':
        return o.length === 0;
      case 'get':
        return o[__tb_index(o, a0)];
      case 'add':
        if (args.length > 1) {
          if (a0 < 0 || a0 > o.length) __tb_index(o, a0);
          o.splice(a0, 0, args[1]);
          return null;
        }
        o.push(a0);
        return true;
      case 'push':
        for (const v of args) o.push(v);
        return true;
      case 'addAll':
        if (args.length > 1) o.splice(a0, 0, ...args[1]);
        else for (const v of a0) o.push(v);
        return true;
      case 'set': {
        const old = o[__tb_index(o, a0)];
        o[a0] = args[1];
        return old;
      }
      case 'remove': {
        if (typeof a0 === 'number') return o.splice(__tb_index(o, a0), 1)[0];
        const i = o.findIndex((v) => __tb_eq(v, a0));
        if (i < 0) return false;
        o.splice(i, 1);
        return true;
      }
      case 'contains':
        return o.some((v) => __tb_eq(v, a0));
      case 'containsAll':
        return a0.every((x) => o.some((v) => __tb_eq(v, x)));
      case 'indexOf': {
        for (let i = args.length > 1 ? args[1] : 0; i < o.length; i++) if (__tb_eq(o[i], a0)) return i;
        return -1;
      }
      case 'lastIndexOf': {
        for (let i = o.length - 1; i >= 0; i--) if (__tb_eq(o[i], a0)) return i;
        return -1;
      }
      case 'clear':
        o.length = 0;
        return null;
      case 'unshift':
        o.unshift(...args);
        return null;
      case 'shift':
        return o.length === 0 ? null : o.shift();
      case 'pop':
        return o.length === 0 ? null : o.pop();
      case 'splice':
        return args.length === 1 ? o.splice(a0) : o.splice(a0, args[1], ...args.slice(2));
      case 'sort':
        __tb_sortValues(o, a0);
        return null;
      case 'toSorted':
        return __tb_sortValues(o.slice(), a0);
      case 'reverse':
        o.reverse();
        return null;
      case 'toReversed':
        return o.slice().reverse();
      case 'fill':
        o.fill(a0, args[1], args[2]);
        return o;
      case 'slice':
        return o.slice(a0, args[1]);
      case 'subList':
        return o.slice(a0, args[1]);
      case 'with': {
        const copy = o.slice();
        copy[__tb_index(o, a0)] = args[1];
        return copy;
      }
      case 'concat':
        return o.concat(a0);
      case 'join':
        return o.map(__tb_toString).join(args.length > 0 ? a0 : ',');
      case 'toSpliced': {
        const copy = o.slice();
        if (args.length === 1) copy.splice(a0);
        else copy.splice(a0, args[1], ...args.slice(2));
        return copy;
      }
      case 'validateClazzInArrayIsOnlyNumber':
        return o.every((v) => typeof v === 'number');
      case 'toUnmodifiable':
        return Object.freeze(o.slice());
      case 'clone':
        return o.slice();
      case 'equals':
        return __tb_eq(o, a0);
      case 'toString':
        return __tb_toString(o);
      case 'hashCode':
        return o.length;
    }
    return __tb_unknownMethod(o, name);
  }

  /** Sets a map entry by definition: a key such as "toString" is then the map's own, despite frozen prototypes. */
  function __tb_set(o, k, v) {
    Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  }

  function __tb_mapMethod(o, name, args) {
    const a0 = args[0];
    const key = a0 === null || a0 === undefined ? 'null' : String(a0);
    const own = __tb_has(o, key);
    switch (name) {
      case 'size':
        return Object.keys(o).length;
      case 'isEmpty':
        return Object.keys(o).length === 0;
      case 'get':
        return own ? o[key] : null;
      case 'getOrDefault':
        return own ? o[key] : args[1];
      case 'containsKey':
        return own;
      case 'containsValue':
        return Object.values(o).some((v) => __tb_eq(v, a0));
      case 'put': {
        const old = own ? o[key] : null;
        __tb_set(o, key, args[1]);
        return old;
      }
      case 'putIfAbsent':
        if (own && o[key] !== null) return o[key];
        __tb_set(o, key, args[1]);
        return null;
      case 'putAll':
        for (const k of Object.keys(a0)) __tb_set(o, k, a0[k]);
        return null;
      case 'remove': {
        if (!own) return null;
        const old = o[key];
        delete o[key];
        return old;
      }
      case 'replace':
        if (!own) return args.length > 2 ? false : null;
        if (args.length > 2) {
          if (!__tb_eq(o[key], args[1])) return false;
          __tb_set(o, key, args[2]);
          return true;
        } else {
          const old = o[key];
          __tb_set(o, key, args[1]);
          return old;
        }
      case 'keySet':
      case 'keys':
        return Object.keys(o);
      case 'values':
        return Object.values(o);
      case 'entrySet':
        return Object.keys(o).map((k) => ({ __tbEntry: true, key: k, value: o[k] }));
      case 'clear':
        for (const k of Object.keys(o)) delete o[k];
        return null;
      case 'sortByKey':
      case 'sortByValue': {
        const keys = Object.keys(o);
        const entries = keys.map((k) => [k, o[k]]);
        const sorted = __tb_sortValues(
          entries.map((e) => (name === 'sortByKey' ? e[0] : e[1])),
          a0,
        );
        const order = [];
        for (const v of sorted) {
          const i = entries.findIndex((e, j) => !order.includes(j) && __tb_eq(name === 'sortByKey' ? e[0] : e[1], v));
          order.push(i);
        }
        for (const k of keys) delete o[k];
        for (const i of order) __tb_set(o, entries[i][0], entries[i][1]);
        return null;
      }
      case 'toUnmodifiable':
        return Object.freeze(Object.assign({}, o));
      case 'clone':
        return Object.assign({}, o);
      case 'equals':
        return __tb_eq(o, a0);
      case 'toString':
        return __tb_toString(o);
    }
    return __tb_unknownMethod(o, name);
  }

  function __tb_javaRegex(re) {
    return new RegExp(String(re));
  }

  function __tb_stringMethod(s, name, args) {
    const a0 = args[0];
    switch (name) {
      case 'length':
        return s.length;
      case 'isEmpty':
        return s.length === 0;
      case 'isBlank':
        return s.trim().length === 0;
      case 'equals':
        return typeof a0 === 'string' && s === a0;
      case 'equalsIgnoreCase':
        return typeof a0 === 'string' && s.toLowerCase() === a0.toLowerCase();
      case 'contains':
        return s.includes(String(a0));
      case 'charAt':
        if (a0 < 0 || a0 >= s.length)
          __tb_fail('StringIndexOutOfBoundsException', 'index ' + a0 + ', length ' + s.length);
        return s.charAt(a0);
      case 'substring': {
        const end = args.length > 1 ? args[1] : s.length;
        if (a0 < 0 || end > s.length || a0 > end) {
          __tb_fail('StringIndexOutOfBoundsException', 'begin ' + a0 + ', end ' + end + ', length ' + s.length);
        }
        return s.substring(a0, end);
      }
      case 'indexOf':
      case 'lastIndexOf':
      case 'startsWith':
      case 'endsWith':
      case 'toUpperCase':
      case 'toLowerCase':
      case 'trim':
      case 'repeat':
      case 'padStart':
      case 'padEnd':
      case 'concat':
        return s[name](...args);
      case 'strip':
        return s.trim();
      case 'split': {
        const parts = s.split(__tb_javaRegex(a0));
        while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
        return parts;
      }
      case 'replace':
        return s.split(String(a0)).join(String(args[1]));
      case 'replaceAll':
        return s.replace(new RegExp(String(a0), 'g'), String(args[1]));
      case 'replaceFirst':
        return s.replace(__tb_javaRegex(a0), String(args[1]));
      case 'matches':
        return new RegExp('^(?:' + String(a0) + ')$').test(s);
      case 'compareTo':
        return s < a0 ? -1 : s > a0 ? 1 : 0;
      case 'getBytes':
        return stringToBytes(s, a0);
      case 'toCharArray':
        return s.split('');
      case 'toString':
      case 'intern':
        return s;
      case 'hashCode': {
        let h = 0;
        for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
        return h;
      }
    }
    return __tb_unknownMethod(s, name);
  }

  function __tb_numberMethod(n, name, args) {
    switch (name) {
      case 'toString':
        return args.length > 0 ? n.toString(args[0]) : String(n);
      case 'intValue':
        return n | 0;
      case 'longValue':
        return Math.trunc(n);
      case 'doubleValue':
      case 'floatValue':
        return n;
      case 'byteValue':
        return (n << 24) >> 24;
      case 'shortValue':
        return (n << 16) >> 16;
      case 'equals':
        return typeof args[0] === 'number' && n === args[0];
      case 'compareTo':
        return n < args[0] ? -1 : n > args[0] ? 1 : 0;
      case 'isNaN':
        return Number.isNaN(n);
    }
    return __tb_unknownMethod(n, name);
  }

  // ---- Java classes ---------------------------------------------------------------------------------------------

  /** Static methods of the Java classes TBEL lets a script call: Integer.toString(x, 16), Math.sqrt(x)... */
  function __tb_static(cls, name, args) {
    const a0 = args[0];
    switch (cls + '.' + name) {
      case 'Integer.toString':
      case 'Long.toString':
        return args.length > 1 ? a0.toString(args[1]) : String(a0);
      case 'Integer.toHexString':
        return (a0 >>> 0).toString(16);
      case 'Integer.toBinaryString':
        return (a0 >>> 0).toString(2);
      case 'Integer.toOctalString':
        return (a0 >>> 0).toString(8);
      case 'Integer.parseInt':
      case 'Integer.valueOf':
        return typeof a0 === 'number' ? a0 : __tb_parseInteger(a0, args.length > 1 ? args[1] : 10, 32);
      case 'Long.parseLong':
      case 'Long.valueOf':
        return typeof a0 === 'number' ? a0 : __tb_parseInteger(a0, args.length > 1 ? args[1] : 10, 64);
      case 'Double.parseDouble':
      case 'Double.valueOf':
      case 'Float.parseFloat':
      case 'Float.valueOf':
        return parseDouble(String(a0));
      case 'Double.toString':
      case 'Float.toString':
      case 'String.valueOf':
        return __tb_toString(a0);
      case 'Boolean.parseBoolean':
        return typeof a0 === 'string' && a0.toLowerCase() === 'true';
      case 'String.format':
        return __tb_format(a0, args.slice(1));
      case 'String.join':
        return (Array.isArray(args[1]) ? args[1] : args.slice(1)).join(a0);
      case 'Collections.reverse':
        a0.reverse();
        return null;
      case 'Collections.sort':
        __tb_sortValues(a0, true);
        return null;
      case 'Arrays.toString':
        return __tb_toString(a0);
      case 'Arrays.asList':
        return args.length === 1 && Array.isArray(a0) ? a0.slice() : args;
      case 'System.currentTimeMillis':
        return Date.now();
      case 'JSON.stringify':
        return JSON.stringify(a0);
      case 'JSON.parse':
        return JSON.parse(a0);
      case 'Math.round':
        return Math.floor(a0 + 0.5);
      case 'Math.floorDiv':
        return Math.floor(a0 / args[1]);
      case 'Math.floorMod':
        return ((a0 % args[1]) + args[1]) % args[1];
    }
    if (cls === 'Math' && typeof Math[name] === 'function') return Math[name](...args);
    return __tb_fail('MethodNotFound', 'unknown static method ' + cls + '.' + name + '()');
  }

  /** String.format with the common conversions: %s %d %f %.nf %x %X %o %b %n %%. */
  function __tb_format(fmt, args) {
    let next = 0;
    return String(fmt).replace(/%(-?0?\d*)(?:\.(\d+))?([sdfxXobn%])/g, (_all, width, prec, conv) => {
      if (conv === '%') return '%';
      if (conv === 'n') return '\n';
      const v = args[next++];
      let s;
      switch (conv) {
        case 'd':
          s = String(Math.trunc(v));
          break;
        case 'f':
          s = Number(v).toFixed(prec === undefined ? 6 : Number(prec));
          break;
        case 'x':
        case 'X':
          s = (v < 0 ? v >>> 0 : v).toString(16);
          if (conv === 'X') s = s.toUpperCase();
          break;
        case 'o':
          s = (v < 0 ? v >>> 0 : v).toString(8);
          break;
        case 'b':
          s = String(v !== null && v !== undefined && v !== false);
          break;
        default:
          s = __tb_toString(v);
          if (prec !== undefined) s = s.slice(0, Number(prec));
      }
      const w = Number.parseInt(width, 10);
      if (width && Math.abs(w) > s.length) {
        if (width.startsWith('-')) s = s.padEnd(-w, ' ');
        else s = s.padStart(w, width.startsWith('0') ? '0' : ' ');
      }
      return s;
    });
  }

  function __tb_newArray(type, size) {
    if (!Number.isInteger(size) || size < 0) __tb_fail('NegativeArraySizeException', String(size));
    if (size > 1000000) __tb_fail('IllegalArgumentException', 'array of ' + size + ' elements is too large');
    const fill = ['int', 'long', 'short', 'byte', 'double', 'float'].includes(type)
      ? 0
      : type === 'boolean'
        ? false
        : null;
    return new Array(size).fill(fill);
  }

  function __tb_new(type, args) {
    switch (type) {
      case 'Date':
        return __tb_newDate(args);
      case 'ArrayList':
      case 'java.util.ArrayList':
      case 'LinkedList':
        return Array.isArray(args[0]) ? args[0].slice() : [];
      case 'HashMap':
      case 'LinkedHashMap':
      case 'java.util.HashMap':
      case 'java.util.LinkedHashMap':
        return __tb_isMap(args[0]) ? Object.assign({}, args[0]) : {};
      case 'String':
        return args.length === 0 ? '' : __tb_toString(args[0]);
    }
    return __tb_fail('IllegalArgumentException', 'new ' + type + '() is not available in TBEL');
  }

  // ---- Date -----------------------------------------------------------------------------------------------------

  /**
   * new Date(): now; new Date(ms); new Date("ISO-8601 or RFC-1123 text"); new Date(year, month, day[, hours,
   * minutes, seconds][, "time zone"]) with month 1-12 as ThingsBoard has it. Times without a zone are UTC here.
   */
  function __tb_newDate(args) {
    if (args.length === 0) return new Date(Date.now());
    const a0 = args[0];
    if (typeof a0 === 'number' && args.length === 1) return new Date(a0);
    if (typeof a0 === 'string') {
      let text = a0.trim();
      if (/^\d{4}-\d\d-\d\dT/.test(text)) {
        // ISO-8601 as Java reads it: a bare "+hh" zone, seconds in the zone, 1 to 9 fraction digits; JavaScript
        // wants +hh:mm and 3 digits. No zone is UTC here.
        text = text.replace(/([+-]\d\d)$/, '$1:00').replace(/([+-]\d\d:\d\d):\d\d$/, '$1');
        text = text.replace(/\.(\d+)(?=Z$|[+-]\d\d:\d\d$|$)/, (_m, f) => '.' + (f + '000').slice(0, 3));
        if (/T[\d:.]+$/.test(text)) text += 'Z';
      }
      const d = new Date(text);
      if (Number.isNaN(d.getTime()))
        __tb_fail('DateTimeParseException', 'Text ' + JSON.stringify(a0) + ' could not be parsed');
      return d;
    }
    const n = args.filter((v) => typeof v === 'number');
    const zone = args.find((v) => typeof v === 'string');
    if (zone !== undefined && zone !== 'UTC' && zone !== 'GMT' && zone !== 'Z') {
      __tb_fail('IllegalArgumentException', 'only UTC dates can be built from numbers here, not ' + zone);
    }
    return new Date(Date.UTC(n[0], (n[1] || 1) - 1, n[2] || 1, n[3] || 0, n[4] || 0, n[5] || 0, n[6] || 0));
  }

  /** Java's Instant.toString: no fraction when it is zero. */
  function __tb_iso(d) {
    return d.toISOString().replace('.000Z', 'Z');
  }

  function __tb_dateMethod(d, name, args) {
    const n = args[0];
    switch (name) {
      case 'toISOString':
      case 'toString':
        return __tb_iso(d);
      case 'getTime':
      case 'valueOf':
        return d.getTime();
      case 'addYears':
        d.setUTCFullYear(d.getUTCFullYear() + n);
        return null;
      case 'addMonths':
        d.setUTCMonth(d.getUTCMonth() + n);
        return null;
      case 'addWeeks':
      case 'addDays':
      case 'addHours':
      case 'addMinutes':
      case 'addSeconds': {
        const unit = { addWeeks: 604800000, addDays: 86400000, addHours: 3600000, addMinutes: 60000, addSeconds: 1000 };
        d.setTime(d.getTime() + n * unit[name]);
        return null;
      }
      case 'getFullYear':
      case 'getMonth':
      case 'getDate':
      case 'getDay':
      case 'getHours':
      case 'getMinutes':
      case 'getSeconds':
      case 'getMilliseconds':
        return d['getUTC' + name.slice(3)]();
      case 'equals':
        return __tb_eq(d, args[0]);
    }
    return __tb_unknownMethod(d, name);
  }

  // ---- Helper functions: text, base64, bytes ---------------------------------------------------------------------

  function __tb_signed(b) {
    return ((b & 255) << 24) >> 24;
  }

  function __tb_utf8(s) {
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let c = s.codePointAt(i);
      if (c > 65535) i++;
      if (c >= 55296 && c <= 57343) c = 65533;
      if (c < 128) out.push(c);
      else if (c < 2048) out.push(192 | (c >> 6), 128 | (c & 63));
      else if (c < 65536) out.push(224 | (c >> 12), 128 | ((c >> 6) & 63), 128 | (c & 63));
      else out.push(240 | (c >> 18), 128 | ((c >> 12) & 63), 128 | ((c >> 6) & 63), 128 | (c & 63));
    }
    return out;
  }

  function __tb_charset(name) {
    const c = name === undefined || name === null ? 'UTF-8' : String(name).toUpperCase().replace(/_/g, '-');
    if (c === 'UTF-8' || c === 'UTF8') return 'utf8';
    if (c === 'ISO-8859-1' || c === 'LATIN1' || c === 'ISO8859-1') return 'latin1';
    if (c === 'US-ASCII' || c === 'ASCII') return 'ascii';
    return __tb_fail('UnsupportedCharsetException', String(name));
  }

  /** The bytes of a string (UTF-8 by default; ISO-8859-1 and US-ASCII too), as signed bytes. */
  function stringToBytes(input, charsetName) {
    if (input === null || input === undefined) __tb_fail('NullPointerException', 'stringToBytes of null');
    const s = String(input);
    const cs = __tb_charset(charsetName);
    let out;
    if (cs === 'utf8') out = __tb_utf8(s);
    else out = s.split('').map((ch) => (ch.charCodeAt(0) > (cs === 'ascii' ? 127 : 255) ? 63 : ch.charCodeAt(0)));
    return out.map(__tb_signed);
  }

  /** Text from bytes (UTF-8 by default, invalid sequences as U+FFFD; ISO-8859-1 and US-ASCII too). */
  function bytesToString(bytes, charsetName) {
    const cs = __tb_charset(charsetName);
    if (cs === 'utf8') return decodeToString(bytes);
    let s = '';
    for (const b of bytes) {
      const u = b & 255;
      s += cs === 'ascii' && u > 127 ? '\ufffd' : String.fromCharCode(u);
    }
    return s;
  }

  function __tb_base64Encode(bytes) {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let s = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = ((bytes[i] & 255) << 16) | ((bytes[i + 1] & 255) << 8) | (bytes[i + 2] & 255);
      s += A[(n >> 18) & 63] + A[(n >> 12) & 63];
      s += i + 1 < bytes.length ? A[(n >> 6) & 63] : '=';
      s += i + 2 < bytes.length ? A[n & 63] : '=';
    }
    return s;
  }

  function __tb_base64Decode(text) {
    const s = String(text).replace(/[\r\n]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1) {
      __tb_fail('IllegalArgumentException', 'Illegal base64 string: ' + JSON.stringify(s.slice(0, 40)));
    }
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const body = s.replace(/=+$/, '');
    const out = [];
    let bits = 0;
    let acc = 0;
    for (const ch of body) {
      acc = (acc << 6) | A.indexOf(ch);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 255);
      }
    }
    return out;
  }

  /** Base64 of a binary string (each character one byte). */
  function btoa(input) {
    const s = String(input);
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 255) __tb_fail('IllegalArgumentException', 'btoa: a character is outside of Latin-1');
    }
    return __tb_base64Encode(s.split('').map((c) => c.charCodeAt(0)));
  }

  /** The binary string that a base64 text stands for. */
  function atob(input) {
    return __tb_base64Decode(input)
      .map((b) => String.fromCharCode(b))
      .join('');
  }

  function bytesToBase64(bytes) {
    return __tb_base64Encode(bytes);
  }

  function base64ToBytes(input) {
    return __tb_base64Decode(input).map(__tb_signed);
  }

  function base64ToBytesList(input) {
    return base64ToBytes(input);
  }

  function base64ToHex(input) {
    return bytesToHex(__tb_base64Decode(input));
  }

  function __tb_hexDigits(hex) {
    if (typeof hex !== 'string') __tb_fail('IllegalArgumentException', 'a hex string is expected');
    let h = hex.trim();
    if (h.startsWith('0x') || h.startsWith('0X')) h = h.slice(2);
    if (h.length === 0 || !/^[0-9A-Fa-f]+$/.test(h))
      __tb_fail('NumberFormatException', 'Value: "' + hex + '" is not a hex string');
    if (h.length % 2 !== 0) __tb_fail('IllegalArgumentException', 'Hex string must be even-length.');
    return h;
  }

  function __tb_hexBytes(hex) {
    const h = __tb_hexDigits(hex);
    const out = [];
    for (let i = 0; i < h.length; i += 2) out.push(Number.parseInt(h.slice(i, i + 2), 16));
    return out;
  }

  /** Signed bytes of a hex string ("0x" prefix allowed). */
  function hexToBytes(hex) {
    return __tb_hexBytes(hex).map(__tb_signed);
  }

  function hexToBytesArray(hex) {
    return hexToBytes(hex);
  }

  /** Upper-case hex of a list of bytes (signed or unsigned). */
  function bytesToHex(bytes) {
    let s = '';
    for (const b of bytes) s += ((b & 255) < 16 ? '0' : '') + (b & 255).toString(16).toUpperCase();
    return s;
  }

  function printUnsignedBytes(bytes) {
    return bytes.map((b) => b & 255);
  }

  function bytesToExecutionArrayList(bytes) {
    return bytes.map(__tb_signed);
  }

  function raiseError(message) {
    __tb_fail('Error', String(message));
  }

  function padStart(str, targetLength, padString) {
    return String(str).padStart(targetLength, String(padString));
  }

  function padEnd(str, targetLength, padString) {
    return String(str).padEnd(targetLength, String(padString));
  }

  function __tb_radixCheck(str, radix) {
    const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, radix);
    return (
      str.length > 0 &&
      str
        .toLowerCase()
        .split('')
        .every((c) => digits.includes(c))
    );
  }

  function isBinary(str) {
    return typeof str === 'string' && __tb_radixCheck(str, 2) ? 2 : -1;
  }

  function isOctal(str) {
    return typeof str === 'string' && __tb_radixCheck(str, 8) ? 8 : -1;
  }

  function isDecimal(str) {
    return typeof str === 'string' && __tb_radixCheck(str, 10) ? 10 : -1;
  }

  function isHexadecimal(str) {
    if (typeof str !== 'string') return -1;
    const s = str.startsWith('0x') || str.startsWith('0X') ? str.slice(2) : str;
    return __tb_radixCheck(s, 16) ? 16 : -1;
  }

  // ---- Helper functions: numbers -----------------------------------------------------------------------------------

  /** Digits of a decimal number as text rounded half up (away from zero) to `precision` places, as BigDecimal does. */
  function __tb_roundHalfUp(value, precision) {
    if (!Number.isFinite(value)) return value;
    if (precision < 0 || !Number.isInteger(precision)) __tb_fail('IllegalArgumentException', 'precision ' + precision);
    const neg = value < 0;
    const text = Math.abs(value).toString();
    let digits;
    let point;
    const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text);
    if (!m) return value;
    digits = m[1] + (m[2] || '');
    point = m[1].length + (m[3] ? Number(m[3]) : 0);
    if (point < 0) {
      digits = '0'.repeat(-point) + digits;
      point = 0;
    }
    while (digits.length < point) digits += '0';
    const keep = point + precision;
    if (keep >= digits.length) return value;
    const roundUp = digits.charCodeAt(keep) >= 53; // '5'
    const kept = (digits.slice(0, keep) || '0').split('').map(Number);
    if (roundUp) {
      let i = kept.length - 1;
      while (i >= 0) {
        if (kept[i] === 9) {
          kept[i] = 0;
          i--;
        } else {
          kept[i]++;
          break;
        }
      }
      if (i < 0) {
        kept.unshift(1);
        point++;
      }
    }
    const s = kept.join('');
    const intPart = keep === 0 ? '0' : s.slice(0, s.length - precision) || '0';
    const frac = precision > 0 ? s.slice(s.length - precision).padStart(precision, '0') : '';
    const r = Number(intPart + (frac ? '.' + frac : ''));
    return neg && r !== 0 ? -r : r;
  }

  /** A double rounded half up to `precision` decimal places: toFixed(0.345, 2) is 0.35. */
  function toFixed(value, precision) {
    return __tb_roundHalfUp(Number(value), precision);
  }

  /** A double rounded half up to an integer. */
  function toInt(value) {
    return __tb_roundHalfUp(Number(value), 0);
  }

  /** The shortest decimal that reads back as the same 32-bit float (how Java prints a float). */
  function __tb_float(x) {
    const f = Math.fround(x);
    if (!Number.isFinite(f) || f === 0) return f;
    for (let p = 1; p <= 9; p++) {
      const v = Number(f.toPrecision(p));
      if (Math.fround(v) === f) return v;
    }
    return f;
  }

  /** Java's Integer.parseInt / Long.parseLong: the whole text must be digits of the radix, within range. */
  function __tb_parseInteger(str, radix, bits) {
    if (str === null || str === undefined) __tb_fail('NumberFormatException', 'Cannot parse null string');
    let s = String(str).trim();
    let r = radix === undefined || radix === null ? 0 : Number(radix);
    let sign = 1n;
    if (s.startsWith('-') || s.startsWith('+')) {
      if (s[0] === '-') sign = -1n;
      s = s.slice(1);
    }
    if ((r === 0 || r === 16) && (s.startsWith('0x') || s.startsWith('0X'))) {
      s = s.slice(2);
      r = 16;
    }
    if (r === 0) r = 10;
    if (!(r >= 2 && r <= 36) || !__tb_radixCheck(s, r)) {
      __tb_fail('NumberFormatException', 'For input string: "' + str + '"' + (r !== 10 ? ' under radix ' + r : ''));
    }
    let v = 0n;
    const R = BigInt(r);
    for (const c of s.toLowerCase()) v = v * R + BigInt(Number.parseInt(c, 36));
    v *= sign;
    const max = (1n << BigInt(bits - 1)) - 1n;
    if (v > max || v < -max - 1n) {
      __tb_fail('NumberFormatException', 'For input string: "' + str + '"' + (r !== 10 ? ' under radix ' + r : ''));
    }
    return Number(v);
  }

  function parseIntHelper(str, radix) {
    return __tb_parseInteger(str, radix, 32);
  }

  function parseLong(str, radix) {
    return __tb_parseInteger(str, radix, 64);
  }

  function __tb_parseDecimal(str) {
    const s = String(str).trim();
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?$/.test(s) && !/^[+-]?(NaN|Infinity)$/.test(s)) {
      __tb_fail('NumberFormatException', 'For input string: "' + str + '"');
    }
    return Number(s.replace(/[fFdD]$/, ''));
  }

  function parseFloatHelper(str) {
    return __tb_float(__tb_parseDecimal(str));
  }

  function parseDouble(str) {
    return __tb_parseDecimal(str);
  }

  /** Unsigned big-endian value of `bytes` (or little-endian), as a BigInt. */
  function __tb_bytesValue(bytes, bigEndian) {
    let v = 0n;
    const n = bytes.length;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(bytes[bigEndian === false ? n - 1 - i : i] & 255);
    return v;
  }

  /** A long's 64-bit two's complement as an unsigned BigInt (this engine's BigInt.asUintN keeps the sign). */
  function __tb_u64(v) {
    return ((v % 18446744073709551616n) + 18446744073709551616n) % 18446744073709551616n;
  }

  function __tb_reverseHex(h) {
    let out = '';
    for (let i = h.length - 2; i >= 0; i -= 2) out += h.slice(i, i + 2);
    return out;
  }

  /** The unsigned value (a BigInt) of a hex string of at most `maxBytes` bytes, in the given byte order. */
  function __tb_hexValue(hex, bigEndian, maxBytes) {
    const bytes = __tb_hexBytes(hex);
    if (bytes.length > maxBytes) {
      __tb_fail('IllegalArgumentException', `Hex string is too large. Maximum ${maxBytes * 2} symbols allowed.`);
    }
    return __tb_bytesValue(bytes, bigEndian);
  }

  function parseHexToInt(hex, bigEndian) {
    const v = Number(__tb_hexValue(hex, bigEndian, 4));
    return __tb_hexDigits(hex).length === 8 ? v | 0 : v;
  }

  function __tb_floatOfBits(bits) {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setUint32(0, Number(bits & 0xffffffffn));
    return __tb_float(dv.getFloat32(0));
  }

  function __tb_doubleOfBits(bits) {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setBigUint64(0, bits & 0xffffffffffffffffn);
    return dv.getFloat64(0);
  }

  function parseHexToFloat(hex, bigEndian) {
    return __tb_floatOfBits(__tb_hexValue(hex, bigEndian, 4));
  }

  function parseHexIntLongToFloat(hex, bigEndian) {
    // An integer as a float is exact up to 2^24 and is the float's exact value beyond: Math.fround, not the
    // shortest decimal, so that arithmetic on it (a scale factor) gives what it gives in ThingsBoard.
    return Math.fround(Number(__tb_hexValue(hex, bigEndian, 8)));
  }

  function parseHexToDouble(hex, bigEndian) {
    return __tb_doubleOfBits(__tb_hexValue(hex, bigEndian, 8));
  }

  /** The `length` bytes at `offset` (checked), as ThingsBoard's parseBytesTo* functions read them. */
  function __tb_slice(data, offset, length, max) {
    if (!Array.isArray(data)) __tb_fail('IllegalArgumentException', 'a list of bytes is expected');
    const off = offset === undefined || offset === null ? 0 : offset;
    const len = length === undefined || length === null ? Math.min(max, data.length - off) : length;
    if (len > max)
      __tb_fail('IllegalArgumentException', 'Length: ' + len + ' is too large. Maximum ' + max + ' bytes is allowed!');
    if (off < 0 || len < 0 || off + len > data.length) {
      __tb_fail(
        'IllegalArgumentException',
        'Offset: ' + off + ' and Length: ' + len + ' is out of bounds for array with length: ' + data.length + '!',
      );
    }
    return data.slice(off, off + len);
  }

  /** An integer from up to 4 bytes; 4 bytes give a signed int. */
  function parseBytesToInt(data, offset, length, bigEndian) {
    const bytes = __tb_slice(data, offset, length, 4);
    const v = Number(__tb_bytesValue(bytes, bigEndian));
    return bytes.length === 4 ? v | 0 : v;
  }

  /** An integer from up to 8 bytes; 8 bytes give a signed long (exact up to 2^53). */
  function parseBytesToLong(data, offset, length, bigEndian) {
    const bytes = __tb_slice(data, offset, length, 8);
    const v = __tb_bytesValue(bytes, bigEndian);
    return Number(bytes.length === 8 ? BigInt.asIntN(64, v) : v);
  }

  /** A float whose bit pattern is the bytes (fewer than 4 bytes are the low bytes). */
  function parseBytesToFloat(data, offset, length, bigEndian) {
    return __tb_floatOfBits(__tb_bytesValue(__tb_slice(data, offset, length, 4), bigEndian));
  }

  /** The integer the bytes stand for, as a float. */
  function parseBytesIntToFloat(data, offset, length, bigEndian) {
    return Math.fround(parseBytesToInt(data, offset, length, bigEndian));
  }

  /** The long the bytes stand for, as a double. */
  function parseBytesLongToDouble(data, offset, length, bigEndian) {
    return parseBytesToLong(data, offset, length, bigEndian);
  }

  /** A double whose bit pattern is the bytes (fewer than 8 bytes are the low bytes). */
  function parseBytesToDouble(data, offset, length, bigEndian) {
    return __tb_doubleOfBits(__tb_bytesValue(__tb_slice(data, offset, length, 8), bigEndian));
  }

  /** The low `binLength` bits of a byte, most significant first (bigEndian) or least significant first. */
  function parseByteToBinaryArray(byteValue, binLength, bigEndian) {
    const n = binLength === undefined || binLength === null ? 8 : binLength;
    const bits = [];
    for (let i = n - 1; i >= 0; i--) bits.push((byteValue >> i) & 1);
    return bigEndian === false ? bits.reverse() : bits;
  }

  /** The bits of the bytes, most significant first; `binLength` keeps the last ones. */
  function parseBytesToBinaryArray(bytes, binLength) {
    const bits = [];
    for (const b of bytes) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
    const n = binLength === undefined || binLength === null ? bits.length : binLength;
    return bits.slice(Math.max(0, bits.length - n));
  }

  function parseLongToBinaryArray(longValue, binLength) {
    const n = binLength === undefined || binLength === null ? 64 : binLength;
    const v = __tb_u64(BigInt(Math.trunc(longValue)));
    const bits = [];
    for (let i = n - 1; i >= 0; i--) bits.push(Number((v >> BigInt(i)) & 1n));
    return bits;
  }

  /**
   * The integer of a list of bits (most significant first), in 32-bit int arithmetic. As ThingsBoard does, only a
   * list of exactly 8 bits read from its start with a leading 1 counts as signed; any other length is unsigned.
   */
  function parseBinaryArrayToInt(data, offset, length) {
    const off = offset === undefined || offset === null ? 0 : offset;
    const n = length === undefined || length === null ? data.length : length;
    const end = Math.min(n + off, data.length);
    let v = 0;
    for (let i = off; i < end; i++) v = (v << 1) | (data[i] & 1);
    if (data.length === 8 && off === 0 && data[0] === 1) v -= 1 << (end - off);
    return v;
  }

  /**
   * Hex of a signed value (a BigInt) the way ThingsBoard prints it: the long's two's complement without leading
   * zeros, in whole bytes; a negative keeps one "FF" byte of sign before its significant bytes (never more than
   * `maxDigits`); then byte order, the last `len` digits and the "0x" prefix.
   */
  function __tb_hexOf(v, bigEndian, pref, len, maxDigits) {
    let h = __tb_u64(v).toString(16).toUpperCase();
    const max = maxDigits === undefined ? h.length : maxDigits;
    h = h.replace(/^0+(?!$)/, '');
    if (h.length % 2 !== 0) h = '0' + h;
    if (v < 0n) {
      h = h.replace(/^F+(?!$)/, '');
      if (h.length % 2 !== 0) h = 'F' + h;
      if (h.length > max) h = h.slice(h.length - max);
      else if (h.length < max) h = 'FF' + h;
    }
    if (bigEndian === false) h = __tb_reverseHex(h);
    const n = len === undefined || len === null || len === -1 ? h.length : len;
    if (n < 0 || n > h.length) __tb_fail('StringIndexOutOfBoundsException', 'length ' + n + ' of hex "' + h + '"');
    return (pref === true ? '0x' : '') + h.slice(h.length - n);
  }

  function intToHex(i, bigEndian, pref, len) {
    return __tb_hexOf(BigInt(Math.trunc(i)), bigEndian, pref, len, 8);
  }

  function longToHex(l, bigEndian, pref, len) {
    return __tb_hexOf(BigInt(Math.trunc(l)), bigEndian, pref, len, 16);
  }

  function floatToHex(f, bigEndian) {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, f);
    const h = dv.getUint32(0).toString(16).toUpperCase().padStart(8, '0');
    return '0x' + (bigEndian === false ? __tb_reverseHex(h) : h);
  }

  function doubleToHex(d, bigEndian) {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, d);
    const h = dv.getBigUint64(0).toString(16).toUpperCase().padStart(16, '0');
    return '0x' + (bigEndian === false ? __tb_reverseHex(h) : h);
  }

  /**
   * An int or long in base 2, 8, 10, 16 or 25..36. Bases 2, 8 and 16 print the two's complement; base 2 is padded to
   * the next of 8, 16, 32 or 64 digits (so 8 digits become 16, as in ThingsBoard); 10 and 25..36 are signed.
   */
  function intLongToRadixString(number, radix, bigEndian, pref) {
    const r = radix === undefined || radix === null ? 10 : radix;
    const v = BigInt(Math.trunc(number));
    if (r >= 25 && r <= 36) return v.toString(r);
    if (r === 10) return v.toString();
    if (r === 8) return __tb_u64(v).toString(8);
    if (r === 16) return __tb_hexOf(v, bigEndian, pref, -1);
    if (r !== 2) return __tb_fail('IllegalArgumentException', 'Invalid radix: [' + r + ']');
    const s = __tb_u64(v).toString(2);
    const width = s.length < 8 ? 8 : s.length < 16 ? 16 : s.length < 32 ? 32 : s.length < 64 ? 64 : 0;
    return width === 0 ? s : s.padStart(width, '0');
  }

  // ---- Helper functions: maps ------------------------------------------------------------------------------------

  /** A one-level copy of a nested map: keys are paths ("a.b.0.c") unless pathInKey is false; excluded keys dropped. */
  function toFlatMap(json, excludeList, pathInKey) {
    let exclude = [];
    let withPath = true;
    if (typeof excludeList === 'boolean') withPath = excludeList;
    else if (Array.isArray(excludeList)) exclude = excludeList;
    if (typeof pathInKey === 'boolean') withPath = pathInKey;
    const out = {};
    const walk = (value, path, key) => {
      if (value !== null && typeof value === 'object') {
        const keys = Array.isArray(value) ? value.map((_, i) => String(i)) : Object.keys(value);
        for (const k of keys) {
          if (exclude.includes(k)) continue;
          const childPath = path === '' ? k : path + '.' + k;
          const child = value[k];
          const childKey = Array.isArray(value) ? key + '.' + k : k;
          walk(child, childPath, childKey);
        }
        return;
      }
      out[withPath ? path : key] = value;
    };
    for (const k of Object.keys(json)) {
      if (exclude.includes(k)) continue;
      walk(json[k], k, k);
    }
    return out;
  }

  return {
    $eq: __tb_eq,
    $div: __tb_div,
    $mod: __tb_mod,
    $toInt32: __tb_toInt32,
    $char: __tb_char,
    $str: __tb_str,
    $iter: __tb_iter,
    $prop: __tb_prop,
    $m: __tb_m,
    $safe: __tb_safe,
    $static: __tb_static,
    $newArray: __tb_newArray,
    $new: __tb_new,
    stringToBytes,
    bytesToString,
    btoa,
    atob,
    bytesToBase64,
    base64ToBytes,
    base64ToBytesList,
    base64ToHex,
    hexToBytes,
    hexToBytesArray,
    bytesToHex,
    printUnsignedBytes,
    bytesToExecutionArrayList,
    raiseError,
    padStart,
    padEnd,
    isBinary,
    isOctal,
    isDecimal,
    isHexadecimal,
    toFixed,
    toInt,
    parseInt: parseIntHelper,
    parseLong,
    parseFloat: parseFloatHelper,
    parseDouble,
    parseHexToInt,
    parseLittleEndianHexToInt: (hex) => parseHexToInt(hex, false),
    parseBigEndianHexToInt: (hex) => parseHexToInt(hex, true),
    parseHexToFloat,
    parseLittleEndianHexToFloat: (hex) => parseHexToFloat(hex, false),
    parseBigEndianHexToFloat: (hex) => parseHexToFloat(hex, true),
    parseHexIntLongToFloat,
    parseHexToDouble,
    parseLittleEndianHexToDouble: (hex) => parseHexToDouble(hex, false),
    parseBigEndianHexToDouble: (hex) => parseHexToDouble(hex, true),
    parseBytesToInt,
    parseBytesToLong,
    parseBytesToFloat,
    parseBytesIntToFloat,
    parseBytesLongToDouble,
    parseBytesToDouble,
    parseByteToBinaryArray,
    parseBytesToBinaryArray,
    parseLongToBinaryArray,
    parseBinaryArrayToInt,
    intToHex,
    longToHex,
    floatToHex,
    doubleToHex,
    intLongToRadixString,
    toFlatMap,
  };
})();
