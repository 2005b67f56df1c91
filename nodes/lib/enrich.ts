/**
 * Originator attributes: ThingsBoard's "originator attributes" enrichment as a pure function over a
 * DeviceStore. It never throws for missing data; it reports what was missing and leaves the decision
 * (Success or Failure) to the caller.
 */
import type { AttributeEntry, DeviceStore, Scope, TelemetryEntry } from './device-store';
import {
  cloneMessage,
  type DoubleFormat,
  doubleFormatOf,
  MessageError,
  metadataValueAs,
  type RuleMsg,
  setOwn,
} from './message';
import { fillPattern, type PatternObjects, patternObjectsOf } from './templates';

export type FetchTo = 'metadata' | 'data';

export interface EnrichConfig {
  clientAttributeNames: string[];
  sharedAttributeNames: string[];
  serverAttributeNames: string[];
  latestTsKeyNames: string[];
  fetchTo: FetchTo;
  getLatestValueWithTs: boolean;
  /** Prefix for latest-telemetry keys; ThingsBoard uses none. */
  telemetryPrefix: string;
  /** How numbers are written into metadata (and into key names by `$[path]`). */
  doubleFormat: DoubleFormat;
  /** What `$[path]` in a key name does with an object. */
  patternObjects: PatternObjects;
}

export const SCOPE_PREFIX: Record<Scope, string> = { client: 'cs_', shared: 'shared_', server: 'ss_' };

export interface MissingKey {
  /** Where it was looked for. */
  source: Scope | 'telemetry';
  /** The key as looked up, after `${...}` / `$[...]` substitution. */
  key: string;
  /** The name it would have had in the output. */
  as: string;
}

export interface EnrichResult {
  missing: MissingKey[];
  /** True when the store has no device of that name at all. */
  unknownDevice: boolean;
}

/** Splits a ThingsBoard-style key list (array, or comma separated string) into trimmed unique names. */
export function parseKeyList(input: unknown): string[] {
  const items = Array.isArray(input) ? input : typeof input === 'string' ? input.split(',') : [];
  const out: string[] = [];
  for (const item of items) {
    const s = String(item).trim();
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

function resolveKeys(names: string[], msg: RuleMsg, cfg: EnrichConfig): string[] {
  const opts = { objects: cfg.patternObjects, formatValue: (v: unknown) => metadataValueAs(v, cfg.doubleFormat) };
  return names.map((n) => fillPattern(n, msg.metadata, msg.payload, opts).text);
}

/**
 * Adds the configured attributes and latest telemetry of `originator` to `msg` (in place) and returns the
 * keys it could not find. `msg.payload` must be an object when fetching to data.
 */
export async function enrichMessage(
  store: DeviceStore,
  originator: string,
  msg: RuleMsg,
  cfg: EnrichConfig,
): Promise<EnrichResult> {
  if (
    cfg.fetchTo === 'data' &&
    (msg.payload === null || typeof msg.payload !== 'object' || Array.isArray(msg.payload))
  ) {
    throw new MessageError('msg.payload must be an object to fetch attributes into it', 'payload-not-object');
  }
  const scopes: Array<[Scope, string[]]> = [
    ['client', resolveKeys(cfg.clientAttributeNames, msg, cfg)],
    ['shared', resolveKeys(cfg.sharedAttributeNames, msg, cfg)],
    ['server', resolveKeys(cfg.serverAttributeNames, msg, cfg)],
  ];
  const tsKeys = resolveKeys(cfg.latestTsKeyNames, msg, cfg);

  const { attributes, latest, device } = await store.lookup(originator, Object.fromEntries(scopes), tsKeys);

  const missing: MissingKey[] = [];
  const put = (name: string, value: unknown) => {
    if (cfg.fetchTo === 'metadata') {
      setOwn(msg.metadata, name, metadataValueAs(value, cfg.doubleFormat));
    } else if (name === '__proto__') {
      // An own __proto__ key holding an object would be the prototype of the payload's copy on a second wire.
      throw new MessageError('cannot fetch a value into msg.payload.__proto__', 'bad-key', { key: name });
    } else {
      setOwn(msg.payload as Record<string, unknown>, name, cloneMessage(value));
    }
  };

  scopes.forEach(([scope, names]) => {
    const found: Map<string, AttributeEntry> = attributes[scope];
    for (const key of names) {
      const as = SCOPE_PREFIX[scope] + key;
      const entry = found.get(key);
      if (entry) put(as, entry.value);
      else missing.push({ source: scope, key, as });
    }
  });
  for (const key of tsKeys) {
    const as = cfg.telemetryPrefix + key;
    const entry: TelemetryEntry | undefined = latest.get(key);
    if (!entry) {
      missing.push({ source: 'telemetry', key, as });
    } else if (cfg.getLatestValueWithTs) {
      put(as, { ts: entry.ts, value: entry.value });
    } else {
      put(as, entry.value);
    }
  }
  return { missing, unknownDevice: device === undefined };
}

const SOURCE_LABEL: Record<MissingKey['source'], string> = {
  client: 'client attribute',
  shared: 'shared attribute',
  server: 'server attribute',
  telemetry: 'latest telemetry',
};

/** One line naming every missing key, e.g. `missing keys for "A": server attribute "deviceName" (ss_deviceName)`. */
export function describeMissing(originator: string, res: EnrichResult): string {
  const list = res.missing.map((m) => `${SOURCE_LABEL[m.source]} "${m.key}" (${m.as})`).join(', ');
  const head = res.unknownDevice ? `unknown device "${originator}": missing` : `missing keys for "${originator}":`;
  return `${head} ${list}`;
}

/** The node's settings as the editor saves them (key lists as arrays or comma-separated strings). */
export interface OriginatorAttributesDef {
  deviceStore?: string;
  clientAttributeNames?: string[] | string;
  sharedAttributeNames?: string[] | string;
  serverAttributeNames?: string[] | string;
  latestTsKeyNames?: string[] | string;
  fetchTo?: string;
  getLatestValueWithTs?: boolean;
  tellFailureIfAbsent?: boolean;
  telemetryPrefix?: string;
  doubleFormat?: string;
  patternObjects?: string;
}

export function enrichConfigFrom(def: OriginatorAttributesDef): EnrichConfig {
  return {
    clientAttributeNames: parseKeyList(def.clientAttributeNames),
    sharedAttributeNames: parseKeyList(def.sharedAttributeNames),
    serverAttributeNames: parseKeyList(def.serverAttributeNames),
    latestTsKeyNames: parseKeyList(def.latestTsKeyNames),
    fetchTo: def.fetchTo === 'data' ? 'data' : 'metadata',
    getLatestValueWithTs: def.getLatestValueWithTs === true,
    telemetryPrefix: typeof def.telemetryPrefix === 'string' ? def.telemetryPrefix.trim() : '',
    // Unset in a flow saved before these options: as this package did then (the editor picks ThingsBoard's
    // behaviour for a new node).
    doubleFormat: doubleFormatOf(def.doubleFormat),
    patternObjects: patternObjectsOf(def.patternObjects),
  };
}
