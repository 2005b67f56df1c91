/**
 * The ThingsBoard exports in test/fixtures/thingsboard/ (see the README there), for the tests and the
 * benchmark. Read from the source tree, not from dist/: compiled, this file is dist/test/tb-fixtures.js, two
 * levels below the repository root. A missing or changed export is an error naming the file, never a
 * fall-back to something else.
 */
import fs from 'node:fs';
import path from 'node:path';

export const TB_FIXTURES_DIR = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'thingsboard');

export type TbExport =
  | 'mqtt-downlink-root-rule-chain.json'
  | 'mqtt-downlink-downlink-converter.json'
  | 'sensor_uplink_converter.json'
  | 'temperature_control_dashboard.json';

/** One rule node of the exported rule chain. */
export interface TbRuleNode {
  type: string;
  name?: string;
  configuration: Record<string, unknown>;
}

/** The parsed export; throws naming the file when it is missing or not JSON. */
export function readTbExport(file: TbExport): Record<string, unknown> {
  const full = path.join(TB_FIXTURES_DIR, file);
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (err) {
    throw new Error(`ThingsBoard fixture missing: ${full} (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`ThingsBoard fixture ${full} is not JSON: ${(err as Error).message}`);
  }
}

function fail(file: TbExport, what: string): never {
  throw new Error(`ThingsBoard fixture ${path.join(TB_FIXTURES_DIR, file)} has no ${what}`);
}

/** The node of the tutorial's root rule chain whose type ends with `typeSuffix` (e.g. "TbTransformMsgNode"). */
export function tbRuleNode(typeSuffix: string): TbRuleNode {
  const file = 'mqtt-downlink-root-rule-chain.json';
  const nodes = (readTbExport(file).metadata as { nodes?: TbRuleNode[] } | undefined)?.nodes;
  const node = Array.isArray(nodes) ? nodes.find((n) => String(n.type).endsWith(typeSuffix)) : undefined;
  return node?.configuration ? node : fail(file, `rule node of type *${typeSuffix}`);
}

function converterScript(file: TbExport, key: 'decoder' | 'encoder'): string {
  const value = (readTbExport(file).configuration as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' ? value : fail(file, `configuration.${key}`);
}

/** The tutorial's uplink converter (decoder), verbatim. */
export function tbUplinkDecoder(): string {
  return converterScript('sensor_uplink_converter.json', 'decoder');
}

/** The tutorial's downlink converter (encoder), verbatim. */
export function tbDownlinkEncoder(): string {
  return converterScript('mqtt-downlink-downlink-converter.json', 'encoder');
}

/** The tutorial's transformation script (the rule chain's script node), verbatim. */
export function tbTutorialScript(): string {
  const script = tbRuleNode('TbTransformMsgNode').configuration.jsScript;
  return typeof script === 'string' ? script : fail('mqtt-downlink-root-rule-chain.json', 'script node jsScript');
}
