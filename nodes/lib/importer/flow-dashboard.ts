/**
 * The dashboard's widgets as Dashboard 2.0 nodes on the imported tab: the knob sends through an rpc request
 * node into the rule chain, as ThingsBoard's knob sends an RPC to the device's root chain; gauges and charts
 * show telemetry as it is saved (save time series' Success output), as ThingsBoard's widgets show latest and
 * recent values.
 */
import type { TbDashboard, ValueWidget } from './dashboard';
import type { FlowBuilder } from './flow';
import type { FlowNode } from './model';

/** The Dashboard 2.0 release the imported widgets are written for, named in the flow's module hint. */
export const DASHBOARD_VERSION = '1.31.0';

/** Shown and enabled, as the dashboard's editor writes a new page or group. */
const SHOWN = { className: '', visible: 'true', disabled: 'false' };

function dashboardConfig(flow: FlowBuilder, title: string): string {
  const ui = flow.config({
    type: 'ui-base',
    name: title,
    path: '/dashboard',
    includeClientData: true,
    acceptsClientConfig: ['ui-notification', 'ui-control'],
    showPathInSidebar: false,
    headerContent: 'page',
    navigationStyle: 'default',
    titleBarStyle: 'default',
  });
  const theme = flow.config({
    type: 'ui-theme',
    name: `${title} theme`,
    colors: { surface: '#ffffff', primary: '#0d74ce', bgPage: '#eeeeee', groupBg: '#ffffff', groupOutline: '#cccccc' },
    sizes: { density: 'default', pagePadding: '12px', groupGap: '12px', groupBorderRadius: '4px', widgetGap: '12px' },
  });
  const page = flow.config({
    type: 'ui-page',
    name: title,
    ui,
    path: '/imported',
    icon: 'home',
    layout: 'grid',
    theme,
    order: 1,
    ...SHOWN,
  });
  return flow.config({
    type: 'ui-group',
    name: title,
    page,
    width: 6,
    height: 1,
    order: 1,
    showTitle: true,
    ...SHOWN,
    groupType: 'default',
  });
}

function valueWidget(w: ValueWidget, group: string, order: number): Record<string, unknown> & { type: string } {
  if (w.kind === 'gauge') {
    return {
      type: 'ui-gauge',
      name: w.title,
      group,
      order,
      value: 'payload',
      valueType: 'msg',
      width: 3,
      height: 3,
      gtype: 'gauge-half',
      gstyle: 'rounded',
      title: w.title,
      units: w.units,
      icon: '',
      prefix: '',
      suffix: '',
      segments: [{ from: String(w.min ?? 0), color: '#5cd65c' }],
      min: w.min ?? 0,
      max: w.max ?? 100,
      sizeThickness: 16,
      sizeGap: 4,
      sizeKeyThickness: 8,
      styleRounded: true,
      styleGlow: false,
      className: '',
    };
  }
  return {
    type: 'ui-chart',
    name: w.title,
    group,
    order,
    label: w.title,
    chartType: 'line',
    category: 'topic',
    categoryType: 'msg',
    xAxisProperty: '',
    xAxisPropertyType: 'timestamp',
    xAxisType: 'time',
    yAxisProperty: 'payload',
    yAxisPropertyType: 'msg',
    ymin: w.min === undefined ? '' : String(w.min),
    ymax: w.max === undefined ? '' : String(w.max),
    action: 'append',
    pointShape: 'false',
    pointRadius: 4,
    showLegend: true,
    removeOlder: String(w.windowSeconds || 60),
    removeOlderUnit: '1',
    removeOlderPoints: '',
    colors: ['#0095ff', '#ff0000', '#ff7f0e', '#2ca02c'],
    width: 6,
    height: 4,
    className: '',
    interpolation: 'linear',
  };
}

export function dashboardNodes(
  flow: FlowBuilder,
  dashboard: TbDashboard,
  first: FlowNode | undefined,
  at: { x: number; y: number },
): void {
  flow.report.notMapped.push(...dashboard.notMapped);
  flow.report.notes.push(...dashboard.notes);
  if (dashboard.widgets.length === 0) return;
  const group = dashboardConfig(flow, dashboard.title);
  const bottom = Math.max(...flow.nodes.map((n) => Number(n.y))) + 100;
  const savers = flow.nodes.filter((n) => n.type === 'rule-save-timeseries');
  const valueKeys = [...new Set(dashboard.widgets.flatMap((w) => (w.kind === 'knob' ? [] : w.keys)))];
  const knobKey = valueKeys[0] ?? 'temperature';
  // One value per telemetry key, taken from each saved telemetry message, for the widgets that show it.
  const feeds = new Map<string, FlowNode>();
  for (const [i, key] of [...new Set([...valueKeys, knobKey])].entries()) {
    const pick = flow.add(
      {
        type: 'change',
        name: key,
        rules: [
          { t: 'set', p: 'payload', pt: 'msg', to: `payload[0].values.${key}`, tot: 'msg' },
          { t: 'set', p: 'topic', pt: 'msg', to: 'originator', tot: 'msg' },
        ],
        action: '',
        property: '',
        from: '',
        to: '',
        reg: false,
      },
      { x: 340, y: bottom + 60 * i },
      1,
    );
    const isNumber = flow.add(
      {
        type: 'switch',
        name: 'is a number',
        property: 'payload',
        propertyType: 'msg',
        rules: [{ t: 'istype', v: 'number', vt: 'number' }],
        checkall: 'true',
        repair: false,
        outputs: 1,
      },
      { x: 520, y: bottom + 60 * i },
      1,
    );
    flow.wire(pick, 0, isNumber);
    for (const s of savers) flow.wire(s, 0, pick);
    feeds.set(key, isNumber);
  }
  if (savers.length === 0)
    flow.report.notes.push('no save time series node in the chain: the widgets get no telemetry');
  dashboard.widgets.forEach((w, order) => {
    const y = bottom + 60 * (feeds.size + order);
    if (w.kind !== 'knob') {
      const widget = flow.add(valueWidget(w, group, order + 1), { x: 760, y }, 1);
      for (const key of w.keys) {
        const feed = feeds.get(key);
        if (feed) flow.wire(feed, 0, widget);
      }
      return;
    }
    const knob = flow.add(
      {
        type: 'rule-knob',
        group,
        name: '',
        label: w.title,
        order: order + 1,
        width: 3,
        height: 4,
        min: w.min,
        max: w.max,
        step: 1,
        decimals: 1,
        unit: '',
        color: '',
        colorTrack: '',
        send: 'settle',
        settle: 600,
        throttle: 250,
        staleIntervals: 3,
      },
      { x: at.x - 420, y },
      1,
    );
    const rpc = flow.add(
      {
        type: 'rule-rpc-request',
        name: `RPC to ${w.device || 'the device'}`,
        deviceStore: flow.deviceStore(),
        device: w.device,
        method: w.setValueMethod,
        getValueMethod: w.getValueMethod,
        valueKey: knobKey,
        timeout: w.timeout,
        oneway: true,
      },
      { x: at.x - 200, y },
      2,
    );
    flow.wire(knob, 0, rpc);
    if (first) flow.wire(rpc, 0, first);
    const current = flow.add(
      {
        type: 'change',
        name: 'as current value',
        rules: [
          { t: 'set', p: 'current', pt: 'msg', to: 'payload', tot: 'msg' },
          { t: 'delete', p: 'payload', pt: 'msg' },
        ],
        action: '',
        property: '',
        from: '',
        to: '',
        reg: false,
      },
      { x: at.x - 640, y },
      1,
    );
    const feed = feeds.get(knobKey);
    if (feed) flow.wire(feed, 0, current);
    flow.wire(current, 0, knob);
  });
  flow.modules['@flowfuse/node-red-dashboard'] = DASHBOARD_VERSION;
}
