import assert from 'node:assert/strict';
import { TestGate, type TestOutcome, TestRefusedError } from '../nodes/lib/test-runs';
import { ErrorBlocker, messagesFromResult, type ScriptMessage } from '../nodes/lib/transform';

const input: ScriptMessage = { msg: { a: 1 }, metadata: { k: 'v' }, msgType: 'POST_TELEMETRY_REQUEST' };

describe('script result contract (pure)', () => {
  it('keeps each missing part of a partial result from the input', () => {
    assert.deepEqual(messagesFromResult(input, { msg: { b: 2 } }), [{ ...input, msg: { b: 2 } }]);
    assert.deepEqual(messagesFromResult(input, { msgType: 'CUSTOM' }), [{ ...input, msgType: 'CUSTOM' }]);
    assert.deepEqual(messagesFromResult(input, {}), [input]);
  });

  it('turns metadata values into strings', () => {
    const [m] = messagesFromResult(input, { metadata: { n: 5, o: { x: 1 }, b: true, z: null } });
    assert.deepEqual(m.metadata, { n: '5', o: '{"x":1}', b: 'true', z: '' });
  });

  it('gives one message per array element, each completed from the input', () => {
    const out = messagesFromResult(input, [{ msg: 1 }, { msgType: 'X' }, { metadata: { a: 'b' } }]);
    assert.equal(out.length, 3);
    assert.deepEqual(
      out.map((o) => [o.msg, o.msgType, o.metadata]),
      [
        [1, input.msgType, input.metadata],
        [input.msg, 'X', input.metadata],
        [input.msg, input.msgType, { a: 'b' }],
      ],
    );
  });

  for (const [label, value] of [
    ['undefined', undefined],
    ['null', null],
    ['5', 5],
    ['"x"', 'x'],
    ['true', true],
  ] as const) {
    it(`rejects ${label} as a wrong result type`, () => {
      assert.throws(() => messagesFromResult(input, value), /wrong result type/);
    });
  }

  it('rejects an empty array as empty', () => {
    assert.throws(() => messagesFromResult(input, []), /empty result/);
  });

  it('rejects bad parts: metadata not an object, msgType not a string, an element that is not an object', () => {
    assert.throws(() => messagesFromResult(input, { metadata: 'x' }), /metadata must be an object/);
    assert.throws(() => messagesFromResult(input, { msgType: 7 }), /msgType must be a non-empty string/);
    assert.throws(() => messagesFromResult(input, [{ msg: 1 }, 2]), /at index 1/);
  });
});

describe('error blocker (pure)', () => {
  it('blocks after 3 errors within 60 s, for 60 s, then lets the script run again', () => {
    let t = 1_000_000;
    const b = new ErrorBlocker(undefined, () => t);
    assert.equal(b.record('timeout'), false);
    t += 10_000;
    assert.equal(b.record('timeout'), false);
    assert.equal(b.remaining(), 0);
    t += 10_000;
    assert.equal(b.record('timeout'), true);
    assert.equal(b.remaining(), 60_000);
    assert.match(b.describe(), /blocked for 60 s after 3 errors within 60 s \(last: timeout\)/);
    t += 59_999;
    assert.ok(b.remaining() > 0);
    t += 1;
    assert.equal(b.remaining(), 0);
  });

  it('does not block for errors spread wider than the window', () => {
    let t = 0;
    const b = new ErrorBlocker(undefined, () => t);
    for (let i = 0; i < 10; i++) {
      assert.equal(b.record('compile'), false);
      t += 31_000;
    }
    assert.equal(b.remaining(), 0);
  });
});

describe('Test gate (pure)', () => {
  const timeout = async (): Promise<TestOutcome> => ({ ok: false, error: { message: 'timed out', kind: 'timeout' } });
  const fine = async (): Promise<TestOutcome> => ({ ok: true, output: 1 });

  it('blocks Test runs of a node for 60 s after 3 time-outs, then forgets it', async () => {
    let t = 5_000_000;
    const gate = new TestGate(undefined, () => t);
    for (let i = 0; i < 3; i++) await gate.run('n1', timeout);
    await assert.rejects(gate.run('n1', fine), (err: unknown) => {
      assert.ok(err instanceof TestRefusedError);
      assert.equal(err.status, 429);
      assert.equal(err.kind, 'blocked');
      assert.equal(err.retryAfterS, 60);
      return true;
    });
    assert.deepEqual(await gate.run('n2', fine), { ok: true, output: 1 }, 'other nodes run');
    t += 60_000;
    assert.deepEqual(await gate.run('n1', fine), { ok: true, output: 1 });
    assert.equal((gate as unknown as { nodes: Map<string, unknown> }).nodes.size, 0, 'idle nodes are forgotten');
  });

  it('counts only time-outs and memory errors, and refuses a second run of the same node with 409', async () => {
    const gate = new TestGate();
    for (const kind of ['runtime', 'compile', 'size', 'result', 'config', 'input']) {
      for (let i = 0; i < 3; i++) await gate.run('n', async () => ({ ok: false, error: { message: kind, kind } }));
    }
    assert.deepEqual(await gate.run('n', fine), { ok: true, output: 1 });
    let release: () => void = () => {};
    const first = gate.run(
      'n',
      () => new Promise<TestOutcome>((r) => (release = () => r({ ok: true, output: 'first' }))),
    );
    await assert.rejects(gate.run('n', fine), (err: unknown) => err instanceof TestRefusedError && err.status === 409);
    assert.deepEqual(await gate.run('m', fine), { ok: true, output: 1 });
    release();
    assert.deepEqual(await first, { ok: true, output: 'first' });
    assert.deepEqual(await gate.run('n', fine), { ok: true, output: 1 });
  });
});
