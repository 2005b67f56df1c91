import * as assert from 'node:assert/strict';
import { LOOKS_PER_CLOCK, SpinPolicy, spin } from '../nodes/lib/spin-policy';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a stand-in for being descheduled: time passes between two looks
  }
}

describe('spin policy (when to spin for the script channel)', () => {
  it('spins its full budget until it sees a descheduled spin, then pauses', () => {
    const p = new SpinPolicy({ spinMs: 0.2, gapMs: 0.25, minPauseMs: 50 });
    assert.equal(p.budget(0), 0.2);
    p.observe(0.01, 100);
    assert.equal(p.budget(100), 0.2);
    p.observe(2, 200);
    assert.equal(p.budget(200), 0);
    assert.equal(p.budget(249), 0);
    assert.equal(p.budget(250), 0.2);
  });

  it('doubles the pause while spins keep being descheduled, up to its maximum', () => {
    const p = new SpinPolicy({ spinMs: 1, minPauseMs: 10, maxPauseMs: 40 });
    const pauses: number[] = [];
    let now = 0;
    for (let i = 0; i < 5; i++) {
      p.observe(5, now);
      let end = now;
      while (p.paused(end)) end++;
      pauses.push(end - now);
      now = end;
    }
    assert.deepEqual(pauses, [10, 20, 40, 40, 40]);
  });

  it('returns to the shortest pause only after a run of clean spins', () => {
    const p = new SpinPolicy({ spinMs: 1, minPauseMs: 10, cleanToReset: 3 });
    p.observe(5, 0); // pause 10, next 20
    p.observe(5, 10); // pause 20, next 40
    p.observe(0, 30);
    p.observe(0, 31);
    p.observe(5, 32); // a gap before the third clean spin: pause 40
    assert.equal(p.paused(71), true);
    assert.equal(p.paused(72), false);
    for (let i = 0; i < 3; i++) p.observe(0, 72 + i);
    p.observe(5, 100);
    assert.equal(p.paused(109), true);
    assert.equal(p.paused(110), false);
  });

  it('spin() stops as soon as the awaited thing happens, and reports a gap in the spin', () => {
    const p = new SpinPolicy({ spinMs: 50, gapMs: 0.25, minPauseMs: 1_000 });
    let looks = 0;
    assert.equal(
      spin(p, () => ++looks === 3),
      true,
    );
    assert.equal(looks, 3);
    assert.equal(p.paused(performance.now()), false);
    let first = true;
    const seen = spin(p, () => {
      if (first) busy(2);
      first = false;
      return false;
    });
    assert.equal(seen, false);
    assert.equal(p.paused(performance.now()), true, 'a 2 ms gap in the spin pauses spinning');
    let calls = 0;
    assert.equal(
      spin(p, () => {
        calls++;
        return false;
      }),
      false,
    );
    assert.equal(calls, 1, 'while paused, spin() looks once and returns');
  });

  it('reads the clock once per LOOKS_PER_CLOCK looks, not on every look (each reading allocates on Node 20)', () => {
    const p = new SpinPolicy({ spinMs: 5, gapMs: 1_000 });
    const perf = globalThis.performance;
    const realNow = perf.now.bind(perf);
    let clock = 0;
    perf.now = () => {
      clock++;
      return realNow();
    };
    let looks = 0;
    try {
      assert.equal(
        spin(p, () => {
          looks++;
          return false;
        }),
        false,
      );
    } finally {
      perf.now = realNow;
    }
    assert.ok(looks >= LOOKS_PER_CLOCK, `looks: ${looks}`);
    assert.ok(clock >= 2, `the clock was read ${clock} times`);
    assert.ok(clock <= looks / LOOKS_PER_CLOCK + 2, `${clock} clock readings for ${looks} looks`);
  });

  it('pauses after a run of spins that all ran out, as after a descheduled one; a spin that pays resets the run', () => {
    const p = new SpinPolicy({ spinMs: 0.2, minPauseMs: 10, missesToPause: 3 });
    p.observe(0, 0, false);
    p.observe(0, 1, false);
    p.observe(0, 2, true); // the other side came: the run starts over
    p.observe(0, 3, false);
    p.observe(0, 4, false);
    assert.equal(p.paused(4), false);
    p.observe(0, 5, false);
    assert.equal(p.paused(5), true);
    assert.equal(p.paused(15), false);
    for (let i = 0; i < 3; i++) p.observe(0, 20 + i, false);
    assert.equal(p.paused(41), true, 'the next pause is twice as long');
    assert.equal(p.paused(42), false);
  });

  it('spin() reports a spin that ran out as such: a run of them pauses spinning', () => {
    const p = new SpinPolicy({ spinMs: 1, gapMs: 1_000, minPauseMs: 1_000, missesToPause: 2 });
    assert.equal(
      spin(p, () => false),
      false,
    );
    assert.equal(p.paused(performance.now()), false);
    assert.equal(
      spin(p, () => false),
      false,
    );
    assert.equal(p.paused(performance.now()), true);
  });

  it('never spins with a zero budget', () => {
    const p = new SpinPolicy({ spinMs: 0 });
    let calls = 0;
    spin(p, () => {
      calls++;
      return false;
    });
    assert.equal(calls, 1);
  });
});
