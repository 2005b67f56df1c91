/**
 * The knob's logic without a browser (nodes/lib/knob.ts): settings from the edit dialog, values snapped to the
 * range and step, keys and wheel, the dial's geometry, when set-points go out (on a clock the test turns by
 * hand) and when a reading is stale. And the node in a real Node-RED without Dashboard 2.0: a status, no crash.
 * The widget in a dashboard is test/knob-widget.spec.ts.
 */
import assert from 'node:assert/strict';
import {
  angleOf,
  type Clock,
  commandState,
  decimalsOf,
  keyTarget,
  knobSettings,
  ReadingClock,
  SendPacer,
  snap,
  valueAt,
  wheelTarget,
} from '../nodes/lib/knob';
import { delay, helper, inTab, statusCalls, waitFor } from './support';

const knobNode = require('../nodes/knob/knob');

/** A clock whose time moves only when the test says so. */
class ManualClock implements Clock {
  private t = 1000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time on by `ms`, running each timer that comes due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

const percent = knobSettings({}).settings;

describe('knob logic (nodes/lib/knob.ts)', () => {
  it("says how the set-point's command went from an rpc request's Reply or Status, and nothing for anything else", () => {
    const of = (statuses: unknown[]) => statuses.map(commandState);
    assert.deepEqual(of(['queued']), ['queued']);
    assert.deepEqual(of(['ok', 'sent', 'delivered', 'successful']), ['sent', 'sent', 'sent', 'sent']);
    assert.deepEqual(of(['error', 'timeout', 'expired', 'failed']), ['failed', 'failed', 'failed', 'failed']);
    assert.deepEqual(of([undefined, 'OK', 'toString', 'constructor', 3, null]), Array(6).fill(undefined));
  });

  describe('settings', () => {
    it('takes the edit dialog strings as numbers, with defaults for empty fields', () => {
      const { settings, problems } = knobSettings({ min: '5', max: '35', step: '0.5', decimals: '', unit: '°C' });
      assert.deepEqual(problems, []);
      assert.equal(settings.min, 5);
      assert.equal(settings.max, 35);
      assert.equal(settings.step, 0.5);
      assert.equal(settings.places, 1, 'at least the decimals of the step');
      assert.equal(settings.unit, '°C');
      assert.equal(settings.send, 'settle');
      assert.equal(settings.settleMs, 600);
      assert.equal(settings.staleIntervals, 3);
    });

    it('names each setting out of range, and falls back to its default', () => {
      const { settings, problems } = knobSettings({
        min: '10',
        max: '10',
        step: '0',
        decimals: '1.5',
        send: 'sometimes',
        settle: '-1',
        throttle: '10',
        staleIntervals: 'x',
      });
      assert.deepEqual(problems.sort(), ['decimals', 'max', 'send', 'settle', 'staleIntervals', 'step', 'throttle']);
      assert.equal(settings.min, 0);
      assert.equal(settings.max, 100);
      assert.equal(settings.step, 1);
    });

    it('counts decimal places as written', () => {
      assert.equal(decimalsOf(0.25), 2);
      assert.equal(decimalsOf(1e-3), 3);
      assert.equal(decimalsOf(12), 0);
    });
  });

  describe('values', () => {
    const half = knobSettings({ min: 5, max: 35, step: 0.5 }).settings;

    it('clamps to the range and snaps to the step counted from min', () => {
      assert.equal(snap(-3, percent), 0);
      assert.equal(snap(140, percent), 100);
      assert.equal(snap(21.4, percent), 21);
      assert.equal(snap(21.3, half), 21.5);
      assert.equal(snap(21.2, half), 21);
      assert.equal(snap(0.1 + 0.2, knobSettings({ step: 0.1 }).settings), 0.3, 'no floating-point residue');
      const odd = knobSettings({ min: 1, max: 10, step: 2 }).settings;
      assert.equal(snap(4, odd), 5, 'steps from min: 1, 3, 5, ...');
      assert.equal(snap(10, odd), 10, 'the end stays reachable');
    });

    it('moves by keys: arrows one step, Page Up/Down a tenth of the range, Home/End to the ends', () => {
      assert.equal(keyTarget('ArrowUp', 23, percent), 24);
      assert.equal(keyTarget('ArrowRight', 23, percent), 24);
      assert.equal(keyTarget('ArrowDown', 23, percent), 22);
      assert.equal(keyTarget('ArrowLeft', 23, percent), 22);
      assert.equal(keyTarget('PageUp', 23, percent), 33);
      assert.equal(keyTarget('PageDown', 5, percent), 0);
      assert.equal(keyTarget('Home', 23, percent), 0);
      assert.equal(keyTarget('End', 23, percent), 100);
      assert.equal(keyTarget('ArrowUp', 100, percent), 100, 'stays at the end');
      assert.equal(keyTarget('Enter', 23, percent), undefined, 'not a key of the knob');
      assert.equal(keyTarget('PageUp', 20, half), 23, 'a tenth of 30 is 3, in whole steps');
    });

    it('moves one step per wheel notch, up raises', () => {
      assert.equal(wheelTarget(-100, 23, percent), 24);
      assert.equal(wheelTarget(53, 23, percent), 22);
      assert.equal(wheelTarget(0, 23, percent), 23);
    });

    it('maps the pointer around the dial, and holds the nearer end in the gap at the bottom', () => {
      assert.equal(angleOf(0, percent), -135);
      assert.equal(angleOf(100, percent), 135);
      assert.equal(valueAt(0, -50, 10, percent), 50, '12 o’clock is the middle');
      assert.equal(valueAt(50, 0, 10, percent), 83, '3 o’clock');
      assert.equal(valueAt(-50, 0, 10, percent), 17, '9 o’clock');
      assert.equal(valueAt(1, 50, 90, percent), 100, 'in the gap, near the top end');
      assert.equal(valueAt(-1, 50, 10, percent), 0, 'in the gap, near the bottom end');
    });
  });

  describe('sending', () => {
    function pacer(settings: Partial<{ send: 'settle' | 'continuous'; settleMs: number; throttleMs: number }> = {}) {
      const clock = new ManualClock();
      const sent: Array<{ v: number; at: number }> = [];
      const s = { send: 'settle' as const, settleMs: 600, throttleMs: 250, ...settings };
      const p = new SendPacer(
        () => s,
        (v) => sent.push({ v, at: clock.now() }),
        clock,
      );
      return { clock, sent, p };
    }

    it('settle: a key sequence sends its last value once, after the settle time', () => {
      const { clock, sent, p } = pacer();
      for (const v of [24, 25, 26, 27, 28, 29, 30]) {
        p.change(v);
        clock.advance(100);
      }
      assert.deepEqual(sent, []);
      clock.advance(499);
      assert.deepEqual(sent, []);
      clock.advance(1);
      assert.deepEqual(sent, [{ v: 30, at: 1000 + 700 + 500 }]);
      clock.advance(5000);
      assert.equal(sent.length, 1);
    });

    it('settle: nothing while the pointer holds the knob, one set-point after release', () => {
      const { clock, sent, p } = pacer();
      p.hold();
      for (let v = 50; v >= 30; v--) {
        p.change(v);
        clock.advance(1000);
      }
      assert.equal(sent.length, 0, 'held for 21 s: nothing sent');
      p.release();
      clock.advance(600);
      assert.deepEqual(
        sent.map((x) => x.v),
        [30],
      );
    });

    it('settle: a value back where it was sent is not sent again; a value set from outside counts as sent', () => {
      const { clock, sent, p } = pacer();
      p.sync(21);
      p.change(22);
      p.change(21);
      clock.advance(1000);
      assert.equal(sent.length, 0);
      p.change(25);
      clock.advance(1000);
      p.change(25);
      clock.advance(1000);
      assert.deepEqual(
        sent.map((x) => x.v),
        [25],
      );
    });

    it('continuous: sends at once, then at most once per throttle interval, the last value last', () => {
      const { clock, sent, p } = pacer({ send: 'continuous', throttleMs: 250 });
      p.hold();
      for (let v = 1; v <= 20; v++) {
        p.change(v);
        clock.advance(50);
      }
      p.release();
      clock.advance(1000);
      const values = sent.map((x) => x.v);
      assert.equal(values[0], 1, 'the first value at once');
      assert.equal(values.at(-1), 20, 'the last value last');
      for (let i = 1; i < sent.length; i++) assert.ok(sent[i].at - sent[i - 1].at >= 250, 'throttled');
      assert.ok(sent.length >= 4 && sent.length <= 6, `${sent.length} set-points over one second of turning`);
    });

    it('sends a value still waiting when the knob goes away, and nothing after', () => {
      const { clock, sent, p } = pacer();
      p.hold();
      p.change(42);
      p.finish();
      assert.deepEqual(
        sent.map((x) => x.v),
        [42],
      );
      clock.advance(5000);
      p.finish();
      assert.equal(sent.length, 1);
    });

    it('is busy while held or while a value waits, so input messages do not move the needle meanwhile', () => {
      const { clock, p } = pacer();
      assert.equal(p.busy, false);
      p.change(3);
      assert.equal(p.busy, true);
      clock.advance(600);
      assert.equal(p.busy, false);
      p.hold();
      assert.equal(p.busy, true);
      p.release();
      assert.equal(p.busy, false);
    });
  });

  describe('stale readings', () => {
    it('turns stale after the given number of intervals between the last two readings', () => {
      let intervals = 3;
      const clock = new ReadingClock(() => intervals);
      assert.equal(clock.seen(10000).staleAt, undefined, 'one reading: no interval yet');
      assert.deepEqual(clock.seen(12000), { ts: 12000, staleAt: 18000 });
      assert.deepEqual(clock.seen(17000), { ts: 17000, staleAt: 32000 }, 'the last gap counts');
      intervals = 0;
      assert.equal(clock.staleAt(), undefined, '0: never stale');
    });
  });

  describe('the node without Dashboard 2.0', () => {
    before(() => helper.startServer());
    after(() => helper.stopServer());
    afterEach(() => helper.unload());

    it('says in its status what it needs, and takes messages without failing', async () => {
      await helper.load([knobNode], inTab([{ id: 'k1', type: 'rule-knob', name: '', group: '', wires: [[]] }]));
      const k1 = helper.getNode('k1');
      await waitFor(() => statusCalls('k1').length > 0, 2000, 'a status');
      assert.deepEqual(statusCalls('k1'), [
        { fill: 'red', shape: 'ring', text: 'no group: needs Dashboard 2.0 and a ui-group' },
      ]);
      let sent = 0;
      // The helper reports each call of a node's send as a 'call:send' event.
      (k1 as unknown as { on(event: string, fn: () => void): void }).on('call:send', () => sent++);
      k1.receive({ payload: 21 });
      await delay(100); // a quiet stretch: nothing may be sent
      assert.equal(sent, 0);
    });
  });
});
