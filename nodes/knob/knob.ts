/**
 * "knob": a set-point knob for Dashboard 2.0 (@flowfuse/node-red-dashboard), as a third-party widget. The node
 * registers the widget with its ui-group; the dashboard loads the Vue component from the package's resources/
 * (resources/rule-knob.umd.js, built from knob-widget.ts). Input: msg.payload sets the knob without sending,
 * msg.current shows the device's current value, msg.rpc.status (an rpc request's Reply or Status) how the
 * set-point's command went: queued, sent or not sent. Output: the set-point the user chose. The logic shared with the
 * browser is in nodes/lib/knob.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import {
  type CommandState,
  commandState,
  finite,
  type KnobConfig,
  knobSettings,
  ReadingClock,
  snap,
  UPDATABLE,
} from '../lib/knob';
import { StatusTracker, t } from '../lib/node-red';

interface KnobDef extends NodeDef, KnobConfig {
  group?: string;
  label?: string;
  color?: string;
  colorTrack?: string;
  width?: string | number;
  height?: string | number;
  order?: number;
}

/** What Dashboard 2.0's ui-group node offers a widget. */
interface UiGroup extends Node {
  register(node: Node, config: Record<string, unknown>, events: Record<string, unknown>): void;
  getBase?(): { uiShared?: { contribs?: Record<string, unknown> } } | undefined;
}

interface KnobMsg extends NodeMessage {
  current?: unknown;
  currentTs?: number;
  currentStaleAt?: number | null;
  ui_update?: Record<string, unknown>;
  /** An rpc request's Reply or Status: how the set-point's command went. */
  rpc?: { status?: unknown };
  command?: CommandState;
}

const TYPE = 'rule-knob';
const packageRoot = path.resolve(__dirname, '..', '..', '..');

/**
 * The widget as package.json declares it for Dashboard 2.0. Dashboard 2.0 reads such declarations only from
 * packages whose name contains "node-red-dashboard-2-" (or the user directory's own package.json), so the node
 * hands the same entry to the dashboard itself when it registers.
 */
function widgetEntry(): Record<string, unknown> | undefined {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8'));
    const widget = pkg['node-red-dashboard-2']?.widgets?.[TYPE];
    if (!widget) return undefined;
    return { package: pkg.name, name: TYPE, src: widget.output, path: packageRoot, component: widget.component };
  } catch {
    return undefined;
  }
}

export = (RED: NodeAPI) => {
  function KnobNode(this: Node, def: KnobDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusTracker(node);
    const group = def.group ? (RED.nodes.getNode(def.group) as UiGroup | null) : null;
    if (!group || typeof group.register !== 'function') {
      // Also what a knob shows when Dashboard 2.0 is not installed: then no ui-group can exist.
      status.error(t(RED, 'knob.status.noGroup', 'no group: needs Dashboard 2.0 and a ui-group'));
      return;
    }

    // What the dashboard gets as the widget's props. Dashboard 2.0 keeps this object, so a msg.ui_update that
    // changes it is what a page loaded later shows.
    const config: Record<string, unknown> = {
      ...def,
      type: TYPE,
      passthru: false,
      texts: {
        setpoint: t(RED, 'knob.widget.setpoint', 'set-point'),
        notSet: t(RED, 'knob.widget.notSet', 'not set'),
        current: t(RED, 'knob.widget.current', 'current'),
        waiting: t(RED, 'knob.widget.waiting', 'waiting for the device'),
        stale: t(RED, 'knob.widget.stale', 'no reading for __age__', { age: '__age__' }),
        queued: t(RED, 'knob.widget.queued', 'set-point queued'),
        sent: t(RED, 'knob.widget.sent', 'set-point sent'),
        failed: t(RED, 'knob.widget.failed', 'set-point not sent'),
      },
    };
    const settings = () => knobSettings(config as KnobConfig);
    const problems = settings().problems;
    if (problems.length > 0) {
      status.warn(t(RED, 'knob.status.invalid', 'check __settings__', { settings: problems.join(', ') }));
    }

    const state: { setpoint?: number; current?: number; ts?: number; staleAt?: number; command?: CommandState } = {};
    const readings = new ReadingClock(() => settings().settings.staleIntervals);

    /** Takes the changes of msg.ui_update that leave the settings valid; drops the message's update otherwise. */
    function applyUpdate(msg: KnobMsg): void {
      const update = msg.ui_update;
      if (!update || typeof update !== 'object') return;
      const picked: Record<string, unknown> = {};
      for (const key of UPDATABLE) if (Object.hasOwn(update, key)) picked[key] = update[key];
      if (Object.keys(picked).length === 0) return;
      const bad = knobSettings({ ...config, ...picked } as KnobConfig).problems;
      if (bad.length > 0) {
        node.warn(
          t(RED, 'knob.warn.update', 'msg.ui_update ignored: check __settings__', { settings: bad.join(', ') }),
        );
        delete msg.ui_update;
        return;
      }
      Object.assign(config, picked);
    }

    /**
     * Every message the dashboard stores and shows passes here: an input message, and the stored message with a
     * set-point the user chose. It leaves the message holding the whole state (set-point, current value and
     * when it turns stale), so that the stored message alone restores the widget after a reload.
     */
    function beforeSend(msg: KnobMsg): KnobMsg {
      applyUpdate(msg);
      const s = settings().settings;
      const command = commandState(msg.rpc?.status);
      if (command) state.command = command;
      // Not kept in the stored message, which the dashboard reuses for the next set-point the user chooses.
      delete msg.rpc;
      // A Reply's payload is the value sent, or the device's answer to a read: never a new set-point.
      const p = command ? undefined : finite(msg.payload);
      if (p !== undefined) state.setpoint = snap(p, s);
      if (state.setpoint !== undefined) msg.payload = state.setpoint;
      // A reading is a number in msg.current without the time this node gives it: a stored message has one.
      const c = finite(msg.current);
      if (c !== undefined && msg.currentTs === undefined) {
        const seen = readings.seen(Date.now());
        Object.assign(state, { current: c, ts: seen.ts, staleAt: seen.staleAt });
      }
      if (state.command) msg.command = state.command;
      else delete msg.command;
      if (state.current === undefined) delete msg.current;
      else {
        msg.current = state.current;
        msg.currentTs = state.ts;
        msg.currentStaleAt = state.staleAt ?? null;
      }
      if (state.setpoint !== undefined || state.current !== undefined) {
        status.soon(() => ({
          fill: 'grey',
          shape: 'dot',
          text: t(RED, 'knob.status.value', 'set-point __setpoint__, current __current__', {
            setpoint: state.setpoint ?? '–',
            current: state.current ?? '–',
          }),
        }));
      }
      return msg;
    }

    const entry = widgetEntry();
    const contribs = group.getBase?.()?.uiShared?.contribs;
    if (entry && contribs && !contribs[TYPE]) contribs[TYPE] = entry;
    group.register(node, config, { onChange: true, beforeSend });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.cancel();
      done();
    });
  }
  RED.nodes.registerType(TYPE, KnobNode);
};
