/**
 * Downlinks waiting for the integration's MQTT broker: while it is disconnected, the core `mqtt out` node would
 * drop every publish without a word, so commands wait here, in order, and go out when it is back. Bounded in
 * size and in age; with coalescing, a newer command with the same key (a one-way call's device and method: the
 * newest set-point is the only one that matters) replaces the waiting one. Every command that leaves without
 * being sent says why. Pure: no Node-RED, no timers (the caller drives expire() and take()).
 */

export interface DownlinkQueueOptions {
  /** Commands waiting at most; one more is refused. */
  maxSize: number;
  /** How long a command may wait, in ms. */
  maxAgeMs: number;
  /** Whether a newer command with the same key replaces the waiting one. */
  coalesce: boolean;
}

/**
 * Defaults: a minute covers a broker restart or a short network outage, and a set-point much older than that is
 * more likely to surprise than to help; 1,000 commands of a few hundred bytes each hold well under a megabyte.
 */
export const DEFAULT_DOWNLINK_QUEUE: DownlinkQueueOptions = { maxSize: 1000, maxAgeMs: 60_000, coalesce: true };

export type DropReason = 'expired' | 'superseded' | 'full' | 'stopped';

export interface Dropped<T> {
  item: T;
  reason: DropReason;
  /** Why, in words, for msg.error and the status. */
  message: string;
}

interface Entry<T> {
  item: T;
  key: string | undefined;
  /** When it must have gone out (ms): its queueing time plus maxAgeMs, or its own expiration if sooner. */
  expiresAt: number;
}

export class DownlinkQueue<T> {
  private entries: Entry<T>[] = [];

  constructor(readonly options: DownlinkQueueOptions) {}

  get size(): number {
    return this.entries.length;
  }

  /**
   * Queues `item` (at `now`; `expiresAt` is its own expiration, when it has one). Returns what left the queue for
   * it: the waiting command it superseded, or the item itself when the queue is full or it has expired already.
   */
  add(item: T, key: string | undefined, now: number, expiresAt = Number.POSITIVE_INFINITY): Dropped<T>[] {
    const dropped: Dropped<T>[] = [];
    if (expiresAt <= now) return [{ item, reason: 'expired', message: 'command expired before it could be sent' }];
    if (this.options.coalesce && key !== undefined) {
      const i = this.entries.findIndex((e) => e.key === key);
      if (i >= 0) {
        const [old] = this.entries.splice(i, 1);
        dropped.push({
          item: (old as Entry<T>).item,
          reason: 'superseded',
          message: 'replaced by a newer command while the broker was disconnected',
        });
      }
    }
    if (this.entries.length >= this.options.maxSize) {
      dropped.push({
        item,
        reason: 'full',
        message: `downlink queue full (${this.options.maxSize} commands waiting for the broker)`,
      });
      return dropped;
    }
    this.entries.push({ item, key, expiresAt: Math.min(expiresAt, now + this.options.maxAgeMs) });
    return dropped;
  }

  /** Removes and returns the commands that expired by `now`. */
  expire(now: number): Dropped<T>[] {
    const dropped: Dropped<T>[] = [];
    this.entries = this.entries.filter((e) => {
      if (e.expiresAt > now) return true;
      dropped.push({ item: e.item, reason: 'expired', message: 'command expired while the broker was disconnected' });
      return false;
    });
    return dropped;
  }

  /** Removes and returns every waiting command, oldest first. */
  take(): T[] {
    const items = this.entries.map((e) => e.item);
    this.entries = [];
    return items;
  }
}

/** A queued command as the downlink node holds it: how it goes out, and how it fails. */
export interface WaitingDownlink {
  send(): void;
  drop(d: Dropped<WaitingDownlink>): void;
}

/** How often a queue that holds commands looks at the broker and at their ages. */
export const BROKER_CHECK_MS = 200;

/**
 * The queue of one integration, watching its broker while it holds commands: when the broker is connected again
 * they go out in order; one that waits too long fails as expired.
 */
export class BrokerWaitingRoom {
  readonly queue: DownlinkQueue<WaitingDownlink>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    options: DownlinkQueueOptions,
    /** Why the broker cannot take a publish now, or undefined when it can. */
    private readonly brokerProblem: () => string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.queue = new DownlinkQueue(options);
  }

  get size(): number {
    return this.queue.size;
  }

  add(item: WaitingDownlink, key: string | undefined, expiresAt?: number): void {
    for (const d of this.queue.add(item, key, this.now(), expiresAt)) d.item.drop(d);
    if (this.queue.size > 0 && !this.timer) {
      this.timer = setInterval(() => this.check(), BROKER_CHECK_MS);
      this.timer.unref();
    }
  }

  /** Sends what waits if the broker is back; fails what expired. */
  check(): void {
    for (const d of this.queue.expire(this.now())) d.item.drop(d);
    if (this.queue.size > 0 && this.brokerProblem() === undefined) for (const item of this.queue.take()) item.send();
    if (this.queue.size === 0) this.stop();
  }

  /** Fails every waiting command (the integration stopped). */
  close(message: string): void {
    this.stop();
    for (const item of this.queue.take()) item.drop({ item, reason: 'stopped', message });
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
