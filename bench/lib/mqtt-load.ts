/**
 * The load side of the side-by-side benchmark: one mqtt.js client publishes (the feeder), another subscribes to
 * every set-up's output (the subscriber), both in the runner process, both on 127.0.0.1. Every payload carries a
 * sequence number; a run owns the numbers it published, so a late delivery from an earlier run never counts.
 *
 *  - throughput(): publish as fast as the pipeline accepts, with at most `window` messages outstanding
 *    (published and not yet delivered); count deliveries during a fixed window after a ramp-up;
 *  - latency(): publish at a fixed rate; per message, time from the publish call to its delivery;
 *  - push(): a given number of messages, as fast as throughput() (memory mode).
 * A message that is never delivered (QoS 0 can drop) would hold a window slot for ever: when nothing arrives for
 * STALL_MS, what is outstanding is counted as lost and the slots are freed (a message counted as lost that still
 * arrives later is taken off the count again).
 */
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { inTopic, payloadFor, type Qos, type Setup, SUBSCRIPTIONS, seqOf } from './flows';
import { percentile } from './stats';

const STALL_MS = 2000;

export interface ThroughputResult {
  msgs_per_s: number;
  delivered: number;
  lost: number;
}
export interface LatencyResult {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  samples: number;
  lost: number;
  /** The rate actually achieved by the feeder, msg/s. */
  sent_per_s: number;
}

interface Run {
  base: number;
  onDelivery(seq: number, now: number): void;
}

function connect(url: string, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, protocolVersion: 4, clean: true, keepalive: 60, reconnectPeriod: 1000 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

export class MqttLoad {
  private seq = 1;
  private run?: Run;
  /** Deliveries that belonged to no current run (late ones from an earlier run, probes). */
  stray = 0;
  /** performance.now() of the last delivery of any kind. */
  private lastDelivery = 0;

  private constructor(
    readonly feeder: MqttClient,
    readonly subscriber: MqttClient,
  ) {
    subscriber.on('message', (topic, payload) => {
      const now = performance.now();
      this.lastDelivery = now;
      const s = seqOf(topic, payload);
      const r = this.run;
      if (r && s >= r.base && s < this.seq) r.onDelivery(s, now);
      else this.stray++;
    });
  }

  static async connect(port: number): Promise<MqttLoad> {
    const url = `mqtt://127.0.0.1:${port}`;
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    const feeder = await connect(url, `bench-feeder-${tag}`);
    const subscriber = await connect(url, `bench-subscriber-${tag}`);
    const subs: Record<string, { qos: 0 | 1 }> = {};
    for (const t of SUBSCRIPTIONS) subs[t] = { qos: 1 };
    await subscriber.subscribeAsync(subs);
    return new MqttLoad(feeder, subscriber);
  }

  private publish(setup: Setup, qos: Qos): number {
    const n = this.seq++;
    this.feeder.publish(inTopic(setup, qos), payloadFor(setup, n), { qos });
    return n;
  }

  /**
   * Waits until nothing has been delivered for `idleMs` (the pipelines have drained what an earlier run left
   * in them, e.g. a latency run on a set-up slower than its rate), at most `maxMs`. Returns the time waited.
   */
  async quiet(idleMs = 300, maxMs = 30000): Promise<number> {
    const t0 = performance.now();
    while (performance.now() - this.lastDelivery < idleMs && performance.now() - t0 < maxMs) await sleep(50);
    return performance.now() - t0;
  }

  /** Publishes one message at a time until one is delivered (the pipeline is live); false after `ms`. */
  async probe(setup: Setup, qos: Qos, ms = 30000, everyMs = 500): Promise<boolean> {
    const end = Date.now() + ms;
    let got = false;
    this.run = {
      base: this.seq,
      onDelivery: () => {
        got = true;
      },
    };
    try {
      while (!got && Date.now() < end) {
        this.publish(setup, qos);
        const until = Date.now() + everyMs;
        while (!got && Date.now() < until) await sleep(10);
      }
      return got;
    } finally {
      this.run = undefined;
    }
  }

  /**
   * Deliveries per second over about `windowMs`, after `rampMs` of the same load, with at most `window` messages
   * outstanding. Node-RED moves a burst of messages through a flow hop by hop (each hop is a setImmediate), so a
   * saturated flow delivers in bursts; counting over a fixed wall-clock window would then be off by up to one
   * burst. The count therefore runs from the first delivery after the ramp (tA) to the first delivery after the
   * window (tB), both burst starts in a bursty regime: rate = deliveries in [tA, tB) / (tB - tA).
   * Afterwards waits (up to 3 s) for what is still outstanding, so the next run starts quiet.
   */
  async throughput(setup: Setup, qos: Qos, o: { windowMs: number; rampMs: number; window: number }) {
    const t0 = performance.now();
    const from = t0 + o.rampMs;
    const to = from + o.windowMs;
    let counted = 0;
    let tA: number | undefined;
    let tB: number | undefined;
    const r = await this.drive(setup, qos, {
      window: o.window,
      // Keep feeding until tB is seen (or, if the pipeline has stopped delivering, 5 s after the window).
      keepGoing: (_sent, now) => tB === undefined && now < to + 5000,
      onDelivery: (now) => {
        if (tB !== undefined || now < from) return;
        if (tA === undefined) tA = now;
        if (now >= to) tB = now;
        else counted++;
      },
    });
    const secs = tA !== undefined && tB !== undefined && tB > tA ? (tB - tA) / 1000 : o.windowMs / 1000;
    return { msgs_per_s: counted / secs, delivered: r.delivered, lost: r.lost } as ThroughputResult;
  }

  /** `count` messages through the pipeline as fast as it takes them (window-bounded); resolves when done. */
  async push(setup: Setup, qos: Qos, count: number, window: number): Promise<{ delivered: number; lost: number }> {
    return this.drive(setup, qos, { window, keepGoing: (sent) => sent < count, onDelivery: () => {} });
  }

  private drive(
    setup: Setup,
    qos: Qos,
    o: { window: number; keepGoing: (sent: number, now: number) => boolean; onDelivery: (now: number) => void },
  ): Promise<{ delivered: number; lost: number }> {
    return new Promise((resolve) => {
      let sent = 0;
      let delivered = 0;
      let lost = 0;
      let last = performance.now();
      let feeding = true;
      let finished = false;
      const outstanding = () => sent - delivered - lost;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        this.run = undefined;
        resolve({ delivered, lost });
      };
      const fill = () => {
        const now = performance.now();
        if (feeding && !o.keepGoing(sent, now)) feeding = false;
        while (feeding && outstanding() < o.window) {
          this.publish(setup, qos);
          sent++;
          if (!o.keepGoing(sent, now)) feeding = false;
        }
        if (!feeding && outstanding() <= 0) finish();
      };
      const base = this.seq;
      let drainUntil = 0;
      this.run = {
        base,
        onDelivery: (_s, now) => {
          delivered++;
          if (lost > 0 && sent - delivered - lost < 0) lost--;
          last = now;
          o.onDelivery(now);
          if (!finished) fill();
        },
      };
      const watch = setInterval(() => {
        const now = performance.now();
        if (feeding && !o.keepGoing(sent, now)) feeding = false;
        if (!feeding) {
          drainUntil ||= now + 3000;
          if (outstanding() <= 0 || now > drainUntil) {
            lost += Math.max(0, outstanding());
            finish();
          }
          return;
        }
        if (outstanding() > 0 && now - last > STALL_MS) {
          lost += outstanding();
          last = now;
        }
        fill();
      }, 50);
      fill();
    });
  }

  /**
   * Publishes at `rate` msg/s for `durationMs`; latency percentiles of the messages published after `warmMs`.
   * Waits up to 2 s after the last publish for late deliveries; what never arrives is counted as lost.
   */
  async latency(setup: Setup, qos: Qos, o: { rate: number; durationMs: number; warmMs: number }) {
    const total = Math.round((o.rate * o.durationMs) / 1000);
    const sentAt = new Float64Array(total);
    const lat = new Float64Array(total).fill(Number.NaN);
    const base = this.seq;
    this.run = {
      base,
      onDelivery: (s, now) => {
        const i = s - base;
        if (i < total && Number.isNaN(lat[i])) lat[i] = now - sentAt[i];
      },
    };
    const t0 = performance.now();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor(((now - t0) * o.rate) / 1000) + 1);
        while (sent < due) {
          sentAt[sent] = performance.now();
          this.publish(setup, qos);
          sent++;
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const elapsed = performance.now() - t0;
    const firstCounted = Math.floor((o.warmMs * o.rate) / 1000);
    const waitEnd = Date.now() + 2000;
    const pending = () => {
      for (let i = firstCounted; i < total; i++) if (Number.isNaN(lat[i])) return true;
      return false;
    };
    while (pending() && Date.now() < waitEnd) await sleep(20);
    this.run = undefined;
    const samples: number[] = [];
    let lost = 0;
    for (let i = firstCounted; i < total; i++) {
      if (Number.isNaN(lat[i])) lost++;
      else samples.push(lat[i]);
    }
    samples.sort((a, b) => a - b);
    return {
      p50_ms: percentile(samples, 50),
      p99_ms: percentile(samples, 99),
      max_ms: samples.length ? samples[samples.length - 1] : Number.NaN,
      samples: samples.length,
      lost,
      sent_per_s: total / (elapsed / 1000),
    } as LatencyResult;
  }

  async close(): Promise<void> {
    await Promise.all([this.feeder.endAsync(), this.subscriber.endAsync()]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
