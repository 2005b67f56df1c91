/**
 * The knob widget's logic, shared by the Node-RED node (nodes/knob/knob.ts) and the Vue component that runs in
 * the dashboard (nodes/knob/knob-widget.ts, bundled into resources/rule-knob.umd.js): the settings from the edit
 * dialog, values snapped to the range and step, keys and wheel, the dial's geometry, when a set-point is sent,
 * and when the device's reading counts as stale. Nothing here touches Node-RED, the DOM or Vue, and nothing is
 * imported: the bundle holds this file as it is.
 */

export type SendMode = 'settle' | 'continuous';

export interface KnobSettings {
  min: number;
  max: number;
  step: number;
  /** Decimal places shown (at least those of the step). */
  places: number;
  unit: string;
  send: SendMode;
  /** settle: how long the value must stay put (keys, wheel, after a drag is released) before it is sent. */
  settleMs: number;
  /** continuous: the shortest time between two set-points. */
  throttleMs: number;
  /** A reading is stale after this many of the device's intervals without one; 0: never. */
  staleIntervals: number;
}

export const KNOB_DEFAULTS: KnobSettings = {
  min: 0,
  max: 100,
  step: 1,
  places: 0,
  unit: '',
  send: 'settle',
  settleMs: 600,
  throttleMs: 250,
  staleIntervals: 3,
};

/** The dial's sweep in degrees, symmetric about 12 o'clock; the gap is at the bottom. */
export const SWEEP = 270;

/** The properties of the edit dialog (and of msg.ui_update) the knob reads, as strings or numbers. */
export interface KnobConfig {
  min?: unknown;
  max?: unknown;
  step?: unknown;
  decimals?: unknown;
  unit?: unknown;
  send?: unknown;
  settle?: unknown;
  throttle?: unknown;
  staleIntervals?: unknown;
}

/** What a KnobConfig property may be changed with through msg.ui_update. */
export const UPDATABLE = ['label', 'min', 'max', 'step', 'decimals', 'unit', 'color', 'colorTrack'] as const;

function num(v: unknown, fallback: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : Number.NaN;
}

/** Decimal places of a number as written (0.25 → 2, 1e-3 → 3). */
export function decimalsOf(n: number): number {
  if (!Number.isFinite(n) || Number.isInteger(n)) return 0;
  const [mantissa, exponent] = String(n).split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/**
 * The settings of a knob from its configuration; `problems` names each setting that is out of range (the
 * setting then takes its default, so the widget still works while the node shows the problem).
 */
export function knobSettings(config: KnobConfig): { settings: KnobSettings; problems: string[] } {
  const problems: string[] = [];
  const d = KNOB_DEFAULTS;
  const pick = (name: string, v: unknown, fallback: number, ok: (n: number) => boolean): number => {
    const n = num(v, fallback);
    if (ok(n)) return n;
    problems.push(name);
    return fallback;
  };
  let min = pick('min', config.min, d.min, Number.isFinite);
  let max = pick('max', config.max, d.max, Number.isFinite);
  if (!(max > min)) {
    problems.push('max');
    [min, max] = [d.min, d.max];
  }
  const step = pick('step', config.step, d.step, (n) => n > 0 && n <= max - min);
  const decimals = pick('decimals', config.decimals, 0, (n) => Number.isInteger(n) && n >= 0 && n <= 6);
  const send: SendMode = config.send === 'continuous' ? 'continuous' : 'settle';
  if (config.send !== undefined && config.send !== '' && config.send !== 'continuous' && config.send !== 'settle') {
    problems.push('send');
  }
  const settleMs = pick('settle', config.settle, d.settleMs, (n) => n >= 0 && n <= 10000);
  const throttleMs = pick('throttle', config.throttle, d.throttleMs, (n) => n >= 50 && n <= 10000);
  const staleIntervals = pick('staleIntervals', config.staleIntervals, d.staleIntervals, (n) => n >= 0 && n <= 100);
  const places = Math.min(6, Math.max(decimals, decimalsOf(step), decimalsOf(min)));
  const unit = typeof config.unit === 'string' ? config.unit : '';
  return { settings: { min, max, step, places, unit, send, settleMs, throttleMs, staleIntervals }, problems };
}

/** `v` clamped to the range and snapped to the nearest step counted from min. */
export function snap(v: number, s: KnobSettings): number {
  const clamped = Math.min(s.max, Math.max(s.min, v));
  const stepped = s.min + Math.round((clamped - s.min) / s.step) * s.step;
  const f = 10 ** s.places;
  return Math.min(s.max, Math.max(s.min, Math.round(stepped * f) / f));
}

/** A finite number, or undefined. */
export function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** What the knob shows about its last set-point's command: waiting for the broker, sent, or not sent. */
export type CommandState = 'queued' | 'sent' | 'failed';
const COMMAND_STATES: Record<string, CommandState> = {
  queued: 'queued',
  ok: 'sent',
  sent: 'sent',
  delivered: 'sent',
  successful: 'sent',
  error: 'failed',
  timeout: 'failed',
  expired: 'failed',
  failed: 'failed',
};

/** The command state an rpc request's msg.rpc.status stands for (Reply or Status output), if any. */
export function commandState(status: unknown): CommandState | undefined {
  return typeof status === 'string' && Object.hasOwn(COMMAND_STATES, status) ? COMMAND_STATES[status] : undefined;
}

/** The value as shown: the settings' decimal places and unit. */
export function formatValue(v: number, s: KnobSettings): string {
  return s.unit ? `${v.toFixed(s.places)} ${s.unit}` : v.toFixed(s.places);
}

/** A tenth of the range in whole steps (at least one step): Page Up / Page Down. */
export function bigStep(s: KnobSettings): number {
  return s.step * Math.max(1, Math.round((s.max - s.min) / 10 / s.step));
}

/** Where a key takes the value (arrows one step, Page Up/Down a tenth, Home/End the ends); undefined: not ours. */
export function keyTarget(key: string, value: number, s: KnobSettings): number | undefined {
  switch (key) {
    case 'ArrowUp':
    case 'ArrowRight':
      return snap(value + s.step, s);
    case 'ArrowDown':
    case 'ArrowLeft':
      return snap(value - s.step, s);
    case 'PageUp':
      return snap(value + bigStep(s), s);
    case 'PageDown':
      return snap(value - bigStep(s), s);
    case 'Home':
      return s.min;
    case 'End':
      return s.max;
    default:
      return undefined;
  }
}

/** One step per wheel notch: up (negative deltaY) raises the value. */
export function wheelTarget(deltaY: number, value: number, s: KnobSettings): number {
  if (deltaY === 0) return value;
  return snap(value + (deltaY < 0 ? s.step : -s.step), s);
}

/** The angle of `v` on the dial in degrees, clockwise from 12 o'clock: min at -135°, max at +135°. */
export function angleOf(v: number, s: KnobSettings): number {
  return -SWEEP / 2 + ((v - s.min) / (s.max - s.min)) * SWEEP;
}

/**
 * The value at a pointer `dx`, `dy` from the dial's centre (screen coordinates, y down). In the gap at the
 * bottom the value stays at the end nearer to `value`, so a drag never jumps from one end to the other.
 */
export function valueAt(dx: number, dy: number, value: number, s: KnobSettings): number {
  const angle = (Math.atan2(dx, -dy) * 180) / Math.PI;
  if (Math.abs(angle) > SWEEP / 2) return value > (s.min + s.max) / 2 ? s.max : s.min;
  return snap(s.min + ((angle + SWEEP / 2) / SWEEP) * (s.max - s.min), s);
}

/** A point at radius `r` and the angle of `v`, on a dial whose centre is (cx, cy). */
export function pointOf(v: number, r: number, s: KnobSettings, cx = 100, cy = 100): { x: number; y: number } {
  const a = (angleOf(v, s) * Math.PI) / 180;
  return { x: cx + r * Math.sin(a), y: cy - r * Math.cos(a) };
}

/** An SVG arc path along the dial at radius `r` from value `from` to value `to`. */
export function arcPath(from: number, to: number, r: number, s: KnobSettings): string {
  const a = pointOf(from, r, s);
  const b = pointOf(to, r, s);
  const large = angleOf(to, s) - angleOf(from, s) > 180 ? 1 : 0;
  const f = (n: number) => n.toFixed(2);
  return `M ${f(a.x)} ${f(a.y)} A ${r} ${r} 0 ${large} 1 ${f(b.x)} ${f(b.y)}`;
}

/** Timers, passed in: the browser's or a test's. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * When a set-point goes out. settle: once the value has stayed put for settleMs, and never while the pointer
 * holds the knob, so a key sequence, a wheel turn or a drag sends one set-point. continuous: while it moves, at
 * most one every throttleMs, the last value last. A value equal to the last one sent (or set from outside) is
 * not sent again.
 */
export class SendPacer {
  private held = false;
  private pending: number | undefined;
  private timer: unknown;
  private lastSent: number | undefined;
  private lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly settings: () => Pick<KnobSettings, 'send' | 'settleMs' | 'throttleMs'>,
    private readonly send: (value: number) => void,
    private readonly clock: Clock,
  ) {}

  /** The pointer has taken hold of the knob. */
  hold(): void {
    this.held = true;
    if (this.settings().send === 'settle') this.stopTimer();
  }

  /** The pointer has let go. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.pending !== undefined) this.schedule();
  }

  /** The user has moved the knob to `value`. */
  change(value: number): void {
    this.pending = value;
    this.schedule();
  }

  /** The value was set from outside (an input message, another browser): nothing to send for it. */
  sync(value: number): void {
    this.lastSent = value;
    if (!this.held) {
      this.pending = undefined;
      this.stopTimer();
    }
  }

  /** Whether a value is waiting to be sent (the user is turning the knob). */
  get busy(): boolean {
    return this.held || this.pending !== undefined;
  }

  cancel(): void {
    this.pending = undefined;
    this.stopTimer();
  }

  /** Sends a value still waiting now (the knob is going away: a set-point the user chose is not dropped). */
  finish(): void {
    this.held = false;
    this.stopTimer();
    this.flush();
  }

  private schedule(): void {
    const s = this.settings();
    if (s.send === 'settle') {
      if (this.held) return;
      this.stopTimer();
      this.timer = this.clock.setTimeout(() => this.flush(), s.settleMs);
      return;
    }
    if (this.timer !== undefined) return;
    const wait = this.lastSentAt + s.throttleMs - this.clock.now();
    if (wait <= 0) this.flush();
    else this.timer = this.clock.setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    const v = this.pending;
    this.pending = undefined;
    if (v === undefined || v === this.lastSent) return;
    this.lastSent = v;
    this.lastSentAt = this.clock.now();
    this.send(v);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * The device's readings as they arrive: when the last came, and from the gap between the last two, when it
 * turns stale (staleIntervals gaps without a reading). Unknown until two readings have been seen.
 */
export class ReadingClock {
  private lastAt: number | undefined;
  private gap: number | undefined;

  constructor(private readonly staleIntervals: () => number) {}

  /** A reading at `now`: its time and when it turns stale (undefined: not known yet, or never). */
  seen(now: number): { ts: number; staleAt: number | undefined } {
    if (this.lastAt !== undefined && now > this.lastAt) this.gap = now - this.lastAt;
    this.lastAt = now;
    return { ts: now, staleAt: this.staleAt() };
  }

  staleAt(): number | undefined {
    const n = this.staleIntervals();
    if (this.lastAt === undefined || this.gap === undefined || n <= 0) return undefined;
    return this.lastAt + n * this.gap;
  }
}
