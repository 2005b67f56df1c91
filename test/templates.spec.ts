/**
 * Key and topic patterns, number formatting and type cast against ThingsBoard's documented behaviour
 * (TbNodeUtils.processPattern, Java's Double.toString, JsonConverter's type cast). Pure: no Node-RED.
 */
import assert from 'node:assert/strict';
import { javaNumberString, metadataValueAs } from '../nodes/lib/message';
import { castNumericString, telemetryFromPayload } from '../nodes/lib/save-data';
import { fillPattern } from '../nodes/lib/templates';

describe('patterns (pure)', () => {
  const metadata = { meta_key: 'meta_value' };
  const data = { data_key: 'data_value', obj: { a: 1 }, list: [1, 2], n: 0.0001 };

  it('${*} is all the metadata as JSON, every time it appears, {} when there is none (TB processPattern)', () => {
    assert.equal(
      fillPattern('${*} then again ${*}', metadata).text,
      '{"meta_key":"meta_value"} then again {"meta_key":"meta_value"}',
    );
    assert.deepEqual(fillPattern('META ${*} DATA $[*]', {}, {}), { text: 'META {} DATA {}', unresolved: [] });
  });

  it('$[*] is the whole data as JSON, an array too (TB processPattern)', () => {
    assert.equal(fillPattern('DATA $[*]', {}, { data_key: 'data_value' }).text, 'DATA {"data_key":"data_value"}');
    assert.equal(fillPattern('DATA $[*]', {}, [1, 'two', true]).text, 'DATA [1,"two",true]');
    assert.deepEqual(fillPattern('DATA $[*]', {}).unresolved, ['$[*]'], 'no data: left in place');
  });

  it('mixes ${*}, ${key}, $[*] and $[key] as TB does', () => {
    const { text } = fillPattern(
      'fullMeta=${*}, singleMeta=${meta_key}, fullData=$[*], singleData=$[data_key]',
      metadata,
      {
        data_key: 'data_value',
      },
    );
    assert.equal(
      text,
      'fullMeta={"meta_key":"meta_value"}, singleMeta=meta_value, fullData={"data_key":"data_value"}, singleData=data_value',
    );
  });

  it("objects 'keep': $[path] to an object or an array stays in place, as TB substitutes only numbers, strings and booleans", () => {
    const r = fillPattern('$[obj]/$[list]/$[data_key]', metadata, data, { objects: 'keep' });
    assert.deepEqual(r, { text: '$[obj]/$[list]/data_value', unresolved: ['$[obj]', '$[list]'] });
  });

  it("objects 'json' (and no option, as in flows saved before it): $[path] to an object is its JSON", () => {
    assert.equal(fillPattern('$[obj]|$[list]', metadata, data, { objects: 'json' }).text, '{"a":1}|[1,2]');
    assert.equal(fillPattern('$[obj]|$[list]', metadata, data).text, '{"a":1}|[1,2]');
  });

  it('writes a number found by $[path] as formatValue says', () => {
    assert.equal(fillPattern('k_$[n]', {}, data).text, 'k_0.0001');
    const java = (v: unknown) => metadataValueAs(v, 'thingsboard');
    assert.equal(fillPattern('k_$[n]', {}, data, { formatValue: java }).text, 'k_1.0E-4');
  });
});

describe('numbers as ThingsBoard writes them (pure)', () => {
  for (const [n, java] of [
    [25.5, '25.5'],
    [25, '25'],
    [-3, '-3'],
    [0.001, '0.001'],
    [9999999.5, '9999999.5'],
    [0.0001, '1.0E-4'],
    [-0.00012, '-1.2E-4'],
    [12345678.9, '1.23456789E7'],
    [10000000.5, '1.00000005E7'],
    [1e21, '1.0E21'],
    [1e19, '1.0E19'],
    [0.1 + 0.2, '0.30000000000000004'],
  ] as const) {
    it(`${n} is "${java}" (a long as its digits, a double as Java's Double.toString)`, () => {
      assert.equal(javaNumberString(n), java);
    });
  }

  it("'javascript' keeps JavaScript's text, and neither changes strings, booleans or objects", () => {
    assert.equal(metadataValueAs(0.0001, 'javascript'), '0.0001');
    assert.equal(metadataValueAs(12345678.9, 'javascript'), '12345678.9');
    for (const f of ['javascript', 'thingsboard'] as const) {
      assert.equal(metadataValueAs('0.0001', f), '0.0001');
      assert.equal(metadataValueAs(true, f), 'true');
      assert.equal(metadataValueAs({ a: 1 }, f), '{"a":1}');
    }
  });
});

describe('type cast (pure)', () => {
  for (const [s, expected] of [
    ['25.3', 25.3],
    ['-4', -4],
    ['007', 7],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['0.1234567890123456', 0.1234567890123456],
  ] as const) {
    it(`"${s}" becomes the number ${expected} (TB: a parsable decimal string)`, () => {
      assert.equal(castNumericString(s), expected);
    });
  }

  it('"-0" becomes 0, the long zero, not a negative zero', () => {
    assert.ok(Object.is(castNumericString('-0'), 0));
  });

  for (const s of ['+1', '1e3', ' 1', '1 ', '1.', '-', '', '1.2.3', '0x10', 'abc', 'NaN', 'Infinity']) {
    it(`"${s}" stays a string (TB's isParsable refuses it)`, () => {
      assert.equal(castNumericString(s), s);
    });
  }

  it('a number that would lose digits stays a string: beyond 2^53, or more than 16 decimals (TB: beyond a long, scale over 16)', () => {
    assert.equal(castNumericString('9007199254740993'), '9007199254740993');
    assert.equal(castNumericString('0.12345678901234567'), '0.12345678901234567');
  });

  it('casts the top-level values of each telemetry point only, and only when asked', () => {
    const payload = [{ ts: 1, values: { t: '25.3', o: { x: '1' } } }, { h: '40' }];
    assert.deepEqual(telemetryFromPayload(payload, 5, { typeCast: true }), [
      { ts: 1, values: { t: 25.3, o: { x: '1' } } },
      { ts: 5, values: { h: 40 } },
    ]);
    assert.deepEqual(telemetryFromPayload(payload, 5), [
      { ts: 1, values: { t: '25.3', o: { x: '1' } } },
      { ts: 5, values: { h: '40' } },
    ]);
  });
});
