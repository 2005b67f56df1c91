/**
 * The knob's Vue component, as Dashboard 2.0 loads a third-party widget: the build bundles this file and
 * nodes/lib/knob.ts into resources/rule-knob.umd.js, which sets globalThis['rule-knob'].RuleKnob. It is written
 * with render functions and the Vue that Dashboard 2.0 puts on globalThis, so it needs neither a template
 * compiler nor a bundler. It runs in the browser: only the structural types below stand for the DOM and Vue.
 *
 * The value shown on the dial is the set-point; the device's current value is a mark on the dial and the line
 * under it. Messages come through Dashboard 2.0's data tracker (msg-input, widget-load, widget-sync); a set-point
 * goes out as widget-change, which Dashboard 2.0 stores (so a reload shows it) and sends from the node.
 */
import {
  arcPath,
  type CommandState,
  finite,
  formatValue,
  type KnobConfig,
  type KnobSettings,
  keyTarget,
  knobSettings,
  pointOf,
  SendPacer,
  snap,
  UPDATABLE,
  valueAt,
  wheelTarget,
} from '../lib/knob';

type Child = unknown;
type Render = (tag: string, attrs?: Record<string, unknown> | null, children?: Child) => Child;

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}
interface DialElement {
  getBoundingClientRect(): Box;
  setPointerCapture(id: number): void;
  focus(): void;
}
interface PointerLike {
  clientX: number;
  clientY: number;
  pointerId: number;
  button: number;
  preventDefault(): void;
}
interface KeyLike {
  key: string;
  preventDefault(): void;
}
interface WheelLike {
  deltaY: number;
  preventDefault(): void;
}
interface Msg {
  payload?: unknown;
  current?: unknown;
  currentTs?: unknown;
  currentStaleAt?: unknown;
  command?: unknown;
  ui_update?: Record<string, unknown>;
}
interface Texts extends Record<CommandState, string> {
  setpoint: string;
  notSet: string;
  current: string;
  waiting: string;
  stale: string;
}

/** The component instance, as far as this file uses it. */
interface Vm {
  id: string;
  props: Record<string, unknown>;
  state: Record<string, unknown>;
  $socket: { emit(event: string, ...args: unknown[]): void };
  $dataTracker(id: string, onInput: unknown, onLoad: unknown, onDynamic: unknown, onSync: unknown): void;
  $refs: { dial?: DialElement };
  getProperty(name: string): unknown;
  updateDynamicProperty(name: string, value: unknown): void;
  // data
  level: number;
  setpoint: number | null;
  current: number | null;
  currentTs: number | null;
  currentStaleAt: number | null;
  /** How the last set-point's command went, as the node says (null: nothing to say). */
  command: CommandState | null;
  now: number;
  dragging: boolean;
  // computed
  settings: KnobSettings;
  enabled: boolean;
  texts: Texts;
  // set in created()
  pacer: SendPacer;
  ticker: ReturnType<typeof setInterval> | undefined;
  // methods
  apply(msg: Msg | null | undefined): void;
  change(value: number): void;
}

/** English texts, used when the node did not pass its own (it passes them in the runtime's language). */
const TEXTS: Texts = {
  setpoint: 'set-point',
  notSet: 'not set',
  current: 'current',
  waiting: 'waiting for the device',
  stale: 'no reading for __age__',
  queued: 'set-point queued',
  sent: 'set-point sent',
  failed: 'set-point not sent',
};

const STYLE_ID = 'rule-knob-style';
// Colours follow the dashboard's theme (Vuetify's variables), so the light and the dark theme read alike; the
// node's colours, when set, replace the primary colour and the track's.
const STYLE = `
.rk-knob { display: flex; flex-direction: column; align-items: center; width: 100%; min-width: 0;
  color: rgb(var(--v-theme-on-surface)); }
.rk-label { font-size: 14px; font-weight: 500; align-self: stretch; text-align: center; overflow-wrap: anywhere; }
.rk-dial { width: 100%; max-width: 220px; touch-action: none; cursor: pointer; user-select: none; display: block; }
.rk-dial:focus { outline: none; }
.rk-dial:focus-visible .rk-cap { stroke: var(--rk-color, rgb(var(--v-theme-primary))); stroke-width: 3; }
.rk-disabled .rk-dial { cursor: not-allowed; opacity: 0.5; }
.rk-track { fill: none; stroke: var(--rk-track, rgba(var(--v-theme-on-surface), 0.16)); stroke-width: 14;
  stroke-linecap: round; }
.rk-fill { fill: none; stroke: var(--rk-color, rgb(var(--v-theme-primary))); stroke-width: 14; stroke-linecap: round; }
.rk-mark { fill: rgb(var(--v-theme-surface)); stroke: rgb(var(--v-theme-on-surface)); stroke-width: 3; }
.rk-cap { fill: rgb(var(--v-theme-surface)); stroke: rgba(var(--v-theme-on-surface), 0.3); stroke-width: 1; }
.rk-pointer { stroke: var(--rk-color, rgb(var(--v-theme-primary))); stroke-width: 6; stroke-linecap: round; }
.rk-value { font-size: 30px; font-weight: 500; fill: currentColor; }
.rk-unit { font-size: 16px; }
.rk-caption, .rk-end { font-size: 12px; fill: rgba(var(--v-theme-on-surface), 0.75); }
.rk-current { font-size: 14px; min-height: 1.5em; text-align: center; overflow-wrap: anywhere; }
.rk-current.rk-stale { color: rgb(var(--v-theme-error, 176, 0, 32)); }
.rk-command { font-size: 13px; text-align: center; overflow-wrap: anywhere; opacity: 0.8; }
.rk-command-failed { color: rgb(var(--v-theme-error, 176, 0, 32)); opacity: 1; }
`;

function addStyle(): void {
  const doc = (globalThis as unknown as { document?: DocLike }).document;
  if (!doc || doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement('style');
  style.id = STYLE_ID;
  style.textContent = STYLE;
  doc.head.appendChild(style);
}
interface DocLike {
  getElementById(id: string): unknown;
  createElement(tag: string): { id: string; textContent: string };
  head: { appendChild(el: unknown): void };
}

function render(): Render {
  return (globalThis as unknown as { Vue: { h: Render } }).Vue.h;
}

const browserClock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

function ageText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

export const RuleKnob = {
  name: 'RuleKnob',
  inject: ['$socket', '$dataTracker'],
  props: {
    id: { type: String, required: true },
    props: { type: Object, default: () => ({}) },
    state: { type: Object, default: () => ({}) },
  },
  data() {
    return {
      level: 0,
      setpoint: null,
      current: null,
      currentTs: null,
      currentStaleAt: null,
      command: null,
      now: Date.now(),
      dragging: false,
    };
  },
  computed: {
    settings(this: Vm): KnobSettings {
      const config: Record<string, unknown> = { ...this.props };
      for (const key of UPDATABLE) config[key] = this.getProperty(key);
      return knobSettings(config as KnobConfig).settings;
    },
    enabled(this: Vm): boolean {
      return this.state?.enabled !== false;
    },
    texts(this: Vm): Texts {
      const given = this.props.texts as Partial<Texts> | undefined;
      return { ...TEXTS, ...(given ?? {}) };
    },
  },
  created(this: Vm) {
    const s = this.settings;
    this.level = snap((s.min + s.max) / 2, s);
    this.pacer = new SendPacer(
      () => this.settings,
      (value) => this.$socket.emit('widget-change', this.id, value),
      browserClock,
    );
    const apply = (msg: Msg) => this.apply(msg);
    const dynamic = (msg: Msg) => {
      const updates = msg?.ui_update;
      if (!updates || typeof updates !== 'object') return;
      for (const key of UPDATABLE) if (key in updates) this.updateDynamicProperty(key, updates[key]);
    };
    this.$dataTracker(this.id, apply, apply, dynamic, apply);
  },
  mounted(this: Vm) {
    addStyle();
    this.ticker = setInterval(() => {
      this.now = Date.now();
    }, 1000);
  },
  unmounted(this: Vm) {
    if (this.ticker) clearInterval(this.ticker);
    this.pacer.finish();
  },
  watch: {
    settings(this: Vm, s: KnobSettings) {
      this.level = snap(this.level, s);
    },
  },
  methods: {
    /** A stored or new message: the set-point (unless the user is turning the knob) and the device's value. */
    apply(this: Vm, msg: Msg | null | undefined): void {
      if (!msg || typeof msg !== 'object') return;
      const p = finite(msg.payload);
      if (p !== undefined && !this.pacer.busy) {
        const v = snap(p, this.settings);
        this.setpoint = v;
        this.level = v;
        this.pacer.sync(v);
      }
      const c = finite(msg.current);
      if (c !== undefined) {
        this.current = c;
        this.currentTs = finite(msg.currentTs) ?? Date.now();
        this.currentStaleAt = finite(msg.currentStaleAt) ?? null;
        this.now = Date.now();
      }
      if (msg.command === 'queued' || msg.command === 'sent' || msg.command === 'failed') this.command = msg.command;
    },
    change(this: Vm, value: number): void {
      if (value === this.level && this.setpoint !== null) return;
      this.level = value;
      this.setpoint = value;
      // The line about the last command is about a set-point that is no longer the one shown.
      this.command = null;
      this.pacer.change(value);
    },
    onPointerDown(this: Vm & Methods, e: PointerLike): void {
      if (!this.enabled || e.button > 0) return;
      const dial = this.$refs.dial;
      if (!dial) return;
      e.preventDefault();
      dial.setPointerCapture(e.pointerId);
      dial.focus();
      this.dragging = true;
      this.pacer.hold();
      this.change(this.pointerValue(e));
    },
    onPointerMove(this: Vm & Methods, e: PointerLike): void {
      if (this.dragging) this.change(this.pointerValue(e));
    },
    onPointerUp(this: Vm): void {
      if (!this.dragging) return;
      this.dragging = false;
      this.pacer.release();
    },
    onKeyDown(this: Vm, e: KeyLike): void {
      if (!this.enabled) return;
      const next = keyTarget(e.key, this.level, this.settings);
      if (next === undefined) return;
      e.preventDefault();
      this.change(next);
    },
    onWheel(this: Vm, e: WheelLike): void {
      if (!this.enabled) return;
      e.preventDefault();
      const next = wheelTarget(e.deltaY, this.level, this.settings);
      if (next !== this.level) this.change(next);
    },
    pointerValue(this: Vm, e: PointerLike): number {
      const box = (this.$refs.dial as DialElement).getBoundingClientRect();
      const dx = e.clientX - (box.left + box.width / 2);
      const dy = e.clientY - (box.top + box.height / 2);
      return valueAt(dx, dy, this.level, this.settings);
    },
  },
  render(this: Vm & Methods) {
    const h = render();
    const s = this.settings;
    const texts = this.texts;
    const label = typeof this.getProperty('label') === 'string' ? (this.getProperty('label') as string) : '';
    const tip = pointOf(this.level, 54, s);
    const base = pointOf(this.level, 40, s);
    const set = this.setpoint !== null;
    const valueText = set ? formatValue(this.level, s) : texts.notSet;
    const colours: Record<string, string> = {};
    if (typeof this.props.color === 'string' && this.props.color) colours['--rk-color'] = this.props.color;
    if (typeof this.props.colorTrack === 'string' && this.props.colorTrack)
      colours['--rk-track'] = this.props.colorTrack;

    const dial: Child[] = [
      h('path', { class: 'rk-track', d: arcPath(s.min, s.max, 80, s) }),
      set ? h('path', { class: 'rk-fill', d: arcPath(s.min, this.level, 80, s) }) : null,
    ];
    if (this.current !== null) {
      const at = pointOf(Math.min(s.max, Math.max(s.min, this.current)), 80, s);
      dial.push(h('circle', { class: 'rk-mark', cx: at.x.toFixed(2), cy: at.y.toFixed(2), r: 5 }));
    }
    dial.push(
      h('circle', { class: 'rk-cap', cx: 100, cy: 100, r: 56 }),
      set ? h('line', { class: 'rk-pointer', x1: base.x, y1: base.y, x2: tip.x, y2: tip.y }) : null,
      h('text', { class: 'rk-value', x: 100, y: 108, 'text-anchor': 'middle' }, [
        set ? this.level.toFixed(s.places) : '–',
        set && s.unit ? h('tspan', { class: 'rk-unit', dx: 3 }, s.unit) : null,
      ]),
      // The caption tells the set-point from the current value, unless the label already says it.
      label.trim().toLowerCase() === texts.setpoint.toLowerCase()
        ? null
        : h('text', { class: 'rk-caption', x: 100, y: 132, 'text-anchor': 'middle' }, texts.setpoint),
      h(
        'text',
        { class: 'rk-end', x: pointOf(s.min, 86, s).x, y: 190, 'text-anchor': 'middle' },
        s.min.toFixed(s.places),
      ),
      h(
        'text',
        { class: 'rk-end', x: pointOf(s.max, 86, s).x, y: 190, 'text-anchor': 'middle' },
        s.max.toFixed(s.places),
      ),
    );

    let currentLine = texts.waiting;
    let stale = false;
    if (this.current !== null) {
      currentLine = `${texts.current} ${formatValue(this.current, s)}`;
      if (this.currentStaleAt !== null && this.now > this.currentStaleAt) {
        stale = true;
        const age = ageText(this.now - (this.currentTs ?? this.now));
        currentLine += ` · ${texts.stale.replace('__age__', age)}`;
      }
    }

    return h('div', { class: ['rk-knob', { 'rk-disabled': !this.enabled }], style: colours }, [
      label ? h('div', { class: 'rk-label' }, label) : null,
      h(
        'svg',
        {
          ref: 'dial',
          class: 'rk-dial',
          viewBox: '0 0 200 200',
          role: 'slider',
          tabindex: this.enabled ? 0 : -1,
          'aria-label': label || texts.setpoint,
          'aria-valuemin': s.min,
          'aria-valuemax': s.max,
          'aria-valuenow': this.level,
          'aria-valuetext': valueText,
          'aria-disabled': this.enabled ? undefined : 'true',
          onPointerdown: this.onPointerDown,
          onPointermove: this.onPointerMove,
          onPointerup: this.onPointerUp,
          onPointercancel: this.onPointerUp,
          onKeydown: this.onKeyDown,
          onWheel: this.onWheel,
        },
        dial,
      ),
      h('div', { class: ['rk-current', { 'rk-stale': stale }], 'aria-live': 'polite' }, currentLine),
      this.command
        ? h('div', { class: ['rk-command', `rk-command-${this.command}`], 'aria-live': 'polite' }, texts[this.command])
        : null,
    ]);
  },
};

interface Methods {
  onPointerDown(e: PointerLike): void;
  onPointerMove(e: PointerLike): void;
  onPointerUp(): void;
  onKeyDown(e: KeyLike): void;
  onWheel(e: WheelLike): void;
  pointerValue(e: PointerLike): number;
}
