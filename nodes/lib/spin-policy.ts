/**
 * When to spin while waiting for the other side of the script channel. Spinning saves the tens of microseconds
 * that waking a sleeping thread costs, but only while the spinning thread has a core to itself: when the cores
 * are shared (two Node-RED processes, a broker and Redis on two cores), the spinner takes the core from the very
 * thread it waits for. The sign of that is a gap in the spin loop itself: the spinner was descheduled. After a
 * spin with such a gap the policy sleeps instead for a pause that doubles while spins keep being descheduled, and
 * goes back to the shortest pause after a run of clean spins.
 *
 * Spinning also only pays when the other side comes within the spin. When requests come further apart than that
 * (one script call per message, the messages a little slower than the spin), every spin runs out and is CPU taken
 * from the rest of the machine: measured with two Node-RED instances on two cores, the spins raised Node-RED's CPU
 * per reading by a third. So a run of spins that all ran out pauses spinning the same way.
 */
export interface SpinOptions {
  /** How long one spin lasts, in ms (0: never spin). */
  spinMs: number;
  /** A gap between two looks longer than this, in ms, means the spinner was descheduled. */
  gapMs?: number;
  /** The first pause after a descheduled spin, in ms; each further one doubles it, up to maxPauseMs. */
  minPauseMs?: number;
  maxPauseMs?: number;
  /** Clean spins in a row that bring the pause back to minPauseMs. */
  cleanToReset?: number;
  /** Spins in a row that ran out before the other side came, that pause spinning. */
  missesToPause?: number;
}

export class SpinPolicy {
  readonly spinMs: number;
  private readonly gapMs: number;
  private readonly minPauseMs: number;
  private readonly maxPauseMs: number;
  private readonly cleanToReset: number;
  private readonly missesToPause: number;
  private pauseMs: number;
  private pausedUntil = 0;
  private clean = 0;
  private misses = 0;

  constructor(opts: SpinOptions) {
    this.spinMs = Math.max(0, opts.spinMs);
    this.gapMs = opts.gapMs ?? 0.25;
    this.minPauseMs = opts.minPauseMs ?? 50;
    this.maxPauseMs = opts.maxPauseMs ?? 3_000;
    this.cleanToReset = opts.cleanToReset ?? 16;
    this.missesToPause = opts.missesToPause ?? 4;
    this.pauseMs = this.minPauseMs;
  }

  /** How long to spin at `now` (performance.now() time): 0 while paused. */
  budget(now: number): number {
    return now < this.pausedUntil ? 0 : this.spinMs;
  }

  /**
   * Reports a spin that ended at `now`, the longest gap it saw between two looks, and whether the other side came
   * before it ran out.
   */
  observe(longestGapMs: number, now: number, arrived = true): void {
    if (longestGapMs > this.gapMs) {
      this.pause(now);
    } else if (!arrived) {
      this.clean = 0;
      if (++this.misses >= this.missesToPause) this.pause(now);
    } else {
      this.misses = 0;
      if (++this.clean >= this.cleanToReset) this.pauseMs = this.minPauseMs;
    }
  }

  private pause(now: number): void {
    this.clean = 0;
    this.misses = 0;
    this.pausedUntil = now + this.pauseMs;
    this.pauseMs = Math.min(this.pauseMs * 2, this.maxPauseMs);
  }

  /** Whether spinning is paused at `now`. */
  paused(now: number): boolean {
    return now < this.pausedUntil;
  }
}

/**
 * Looks at `done()` this many times per reading of the clock. On Node 20 every performance.now() builds an hrtime
 * array: reading it on each look made the spins the largest source of garbage of the knob-to-device path (about
 * 180 MB of its 490 MB in 5,000 messages), and the scavenges that followed showed in its p99. 256 looks take
 * about a microsecond, far below the gap that tells a descheduled spin.
 */
export const LOOKS_PER_CLOCK = 256;

/**
 * Spins until `done()` or `spinMs` has passed, reporting to `policy` how the spin went; returns whether `done()`
 * became true. A spin that ends by `done()` counts too: a gap in it is as telling.
 */
export function spin(policy: SpinPolicy, done: () => boolean): boolean {
  let last = performance.now();
  const budget = policy.budget(last);
  if (budget <= 0) return done();
  const until = last + budget;
  let longest = 0;
  for (;;) {
    for (let i = 0; i < LOOKS_PER_CLOCK; i++) {
      if (done()) {
        policy.observe(longest, last);
        return true;
      }
    }
    const now = performance.now();
    if (now - last > longest) longest = now - last;
    last = now;
    if (now >= until) {
      policy.observe(longest, now, false);
      return false;
    }
  }
}
