/**
 * The integration's side of an import: data converter exports (uplink decoder, downlink encoder) and an MQTT
 * integration export (broker, topic filters, downlink topic pattern, metadata).
 */
import { Fields, ImportError, type ImportSource, isObject, parseJson } from './model';

export interface ConverterScript {
  /** The converter's name in ThingsBoard, for the report. */
  name: string;
  script: string;
  language: 'javascript' | 'tbel';
}

export interface Converters {
  decoder?: ConverterScript;
  encoder?: ConverterScript;
}

/** Converter versions whose exports this importer reads: 1 (or none, older exports) and 2 (ThingsBoard 4). */
const CONVERTER_VERSIONS = [1, 2];

function converter(source: ImportSource, notes: string[]): { kind: 'decoder' | 'encoder'; script: ConverterScript } {
  const data = parseJson(source);
  if (!isObject(data) || !isObject(data.configuration)) {
    throw new ImportError(`${source.name}: not a data converter export (expected an object with "configuration")`);
  }
  const top = new Fields(data, source.name);
  const kind = top.oneOf('type', ['UPLINK', 'DOWNLINK'], 'UPLINK') === 'UPLINK' ? 'decoder' : 'encoder';
  const config = top.child('configuration');
  // Current exports carry converterVersion on the converter; some tools put it in the configuration.
  const version = top.has('converterVersion') ? top.num('converterVersion', 1) : config.num('converterVersion', 1);
  if (!CONVERTER_VERSIONS.includes(version)) {
    throw new ImportError(
      `${source.name}: converterVersion ${version} is not one this importer knows (${CONVERTER_VERSIONS.join(', ')})`,
    );
  }
  const name = top.str('name', source.name);
  if (version === 2) {
    notes.push(
      `converter "${name}": a version 2 converter takes the device name and type from its settings in ThingsBoard; here the ${kind} script's result must name them`,
    );
  }
  // Exports before TBEL have only `decoder` / `encoder`, which are JavaScript.
  const tbel = config.oneOf('scriptLang', ['JS', 'TBEL'], 'JS') === 'TBEL';
  const key = tbel ? `tbel${kind[0].toUpperCase()}${kind.slice(1)}` : kind;
  const script = config.str(key, '');
  if (script.trim() === '') config.fail(key, `the ${kind} script`);
  return { kind, script: { name, script, language: tbel ? 'tbel' : 'javascript' } };
}

export function parseConverters(sources: readonly ImportSource[], notes: string[]): Converters {
  const out: Converters = {};
  const from: Record<string, string> = {};
  for (const source of sources) {
    const { kind, script } = converter(source, notes);
    if (out[kind]) throw new ImportError(`${source.name}: a second ${kind} (the first is in ${from[kind]})`);
    out[kind] = script;
    from[kind] = source.name;
  }
  return out;
}

export interface MqttIntegration {
  name: string;
  host: string;
  port: number;
  tls: boolean;
  topicFilters: Array<{ filter: string; qos: number }>;
  downlinkTopicPattern: string;
  metadata: Array<{ key: string; value: string }>;
  /** True when the export says the broker needs credentials, which exports never carry. */
  credentials: boolean;
}

export function parseIntegration(source: ImportSource): MqttIntegration {
  const data = parseJson(source);
  if (!isObject(data) || !isObject(data.configuration)) {
    throw new ImportError(`${source.name}: not an integration export (expected an object with "configuration")`);
  }
  const top = new Fields(data, source.name);
  top.oneOf('type', ['MQTT'], 'MQTT');
  const config = top.child('configuration');
  const client = config.child('clientConfiguration');
  const host = client.str('host', '');
  if (host === '') client.fail('host', "the broker's host name");
  const port = client.num('port', 1883);
  if (!Number.isInteger(port) || port < 1 || port > 65535) client.fail('port', 'a port number');
  const topicFilters = config.list('topicFilters', '{filter, qos}').map((f, i) => {
    if (!isObject(f)) throw new ImportError(`${config.where}.topicFilters[${i}]: expected an object`);
    const entry = new Fields(f, `${config.where}.topicFilters[${i}]`);
    const filter = entry.str('filter', '');
    if (filter === '') entry.fail('filter', 'an MQTT topic filter');
    const qos = entry.num('qos', 0);
    if (![0, 1, 2].includes(qos)) entry.fail('qos', '0, 1 or 2');
    return { filter, qos };
  });
  const meta = config.raw('metadata');
  const rows = isObject(meta) ? Object.entries(meta).map(([key, value]) => ({ key, value: String(value ?? '') })) : [];
  const credentials = client.child('credentials').str('type', 'anonymous').toLowerCase() !== 'anonymous';
  return {
    name: top.str('name', 'MQTT integration'),
    host,
    port,
    tls: client.bool('ssl', false),
    topicFilters,
    downlinkTopicPattern: config.str('downlinkTopicPattern', '${topic}'),
    metadata: rows,
    credentials,
  };
}
