/**
 * A ThingsBoard dashboard export: the widgets that have a Dashboard 2.0 equivalent (knob control, gauges,
 * time-series charts) with their settings, and the device each one is about, from its entity alias.
 */
import { Fields, ImportError, type ImportSource, isObject, type Json, parseJson } from './model';

export interface KnobWidget {
  kind: 'knob';
  title: string;
  min: number;
  max: number;
  setValueMethod: string;
  getValueMethod: string;
  timeout: number;
  device: string;
}

export interface ValueWidget {
  kind: 'gauge' | 'chart';
  title: string;
  /** The telemetry keys the widget shows. */
  keys: string[];
  min?: number;
  max?: number;
  units: string;
  /** A chart's time window in seconds (0 when the dashboard's own). */
  windowSeconds: number;
}

export interface TbDashboard {
  title: string;
  widgets: Array<KnobWidget | ValueWidget>;
  /** Widgets with no equivalent, one line each. */
  notMapped: string[];
  notes: string[];
}

/** The widget type's alias, from typeFullFqn (current exports) or bundleAlias/typeAlias (older ones). */
function aliasOf(w: Fields): string {
  const fqn = w.str('typeFullFqn', '');
  return fqn ? fqn.slice(fqn.lastIndexOf('.') + 1) : w.str('typeAlias', '');
}

/** The device name an entity alias resolves to, where it names one; notes say what was assumed. */
function deviceOf(aliases: Json, ids: string[], title: string, notes: string[]): string {
  const alias = ids.length > 0 && isObject(aliases[ids[0]]) ? (aliases[ids[0]] as Json) : undefined;
  const filter = alias && isObject(alias.filter) ? alias.filter : undefined;
  const name =
    typeof filter?.deviceNameFilter === 'string'
      ? filter.deviceNameFilter
      : typeof filter?.entityNameFilter === 'string'
        ? filter.entityNameFilter
        : '';
  if (name === '')
    notes.push(`widget "${title}": no device name in its entity alias; set the device in its rpc request node`);
  else
    notes.push(`widget "${title}": sends to the device named "${name}" (ThingsBoard matches names starting with it)`);
  return name;
}

function dataKeys(config: Fields): string[] {
  const sources = config.raw('datasources');
  if (!Array.isArray(sources)) return [];
  return sources.flatMap((s) =>
    isObject(s) && Array.isArray(s.dataKeys)
      ? s.dataKeys.flatMap((k) => (isObject(k) && typeof k.name === 'string' ? [k.name] : []))
      : [],
  );
}

export function parseDashboard(source: ImportSource): TbDashboard {
  const data = parseJson(source);
  if (!isObject(data) || !isObject(data.configuration) || !isObject(data.configuration.widgets)) {
    throw new ImportError(`${source.name}: not a dashboard export (expected "configuration.widgets")`);
  }
  const top = new Fields(data, source.name);
  const aliases = isObject(data.configuration.entityAliases) ? data.configuration.entityAliases : {};
  const out: TbDashboard = { title: top.str('title', 'Dashboard'), widgets: [], notMapped: [], notes: [] };
  for (const [id, raw] of Object.entries(data.configuration.widgets)) {
    if (!isObject(raw)) throw new ImportError(`${source.name}: configuration.widgets.${id}: expected an object`);
    const w = new Fields(raw, `${source.name}: configuration.widgets.${id}`);
    const config = w.child('config');
    const settings = config.child('settings');
    const alias = aliasOf(w);
    const title = settings.str('title', '') || config.str('title', alias);
    if (alias === 'knob_control') {
      out.widgets.push({
        kind: 'knob',
        title,
        min: settings.num('minValue', 0),
        max: settings.num('maxValue', 100),
        setValueMethod: settings.str('setValueMethod', 'setValue'),
        getValueMethod: settings.str('getValueMethod', 'getValue'),
        timeout: settings.num('requestTimeout', 500),
        device: deviceOf(aliases, config.strList('targetDeviceAliasIds'), title, out.notes),
      });
    } else if (w.str('type', '') === 'latest' && /gauge|gage/i.test(alias)) {
      out.widgets.push({
        kind: 'gauge',
        title,
        keys: dataKeys(config),
        min: settings.num('minValue', 0),
        max: settings.num('maxValue', 100),
        units: config.str('units', ''),
        windowSeconds: 0,
      });
    } else if (w.str('type', '') === 'timeseries') {
      const window = config.child('timewindow').child('realtime').num('timewindowMs', 0);
      out.widgets.push({
        kind: 'chart',
        title,
        keys: dataKeys(config),
        units: config.str('units', ''),
        windowSeconds: Math.round(window / 1000),
        min: settings.child('yaxis').has('min') ? settings.child('yaxis').num('min', 0) : undefined,
        max: settings.child('yaxis').has('max') ? settings.child('yaxis').num('max', 0) : undefined,
      });
    } else {
      out.notMapped.push(`widget "${title}" (${alias || 'unknown type'}): no Dashboard 2.0 equivalent here`);
    }
  }
  return out;
}
