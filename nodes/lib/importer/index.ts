/**
 * ThingsBoard exports to a Node-RED flow: a rule chain (required), its data converters, its MQTT integration
 * and a dashboard become one new tab of this package's nodes and core nodes. Pure: text in, flow and report
 * out; a bad export is an ImportError and nothing is produced.
 */

import { parseDashboard } from './dashboard';
import { FlowBuilder } from './flow';
import { dashboardNodes } from './flow-dashboard';
import type { FlowNode, ImportReport, ImportSource } from './model';
import { parseRuleChain } from './rule-chain';
import { mapperFor, NOT_MAPPED_REASONS, shortType } from './rule-nodes';
import { parseConverters, parseIntegration } from './sources';

export { ASSUMED_TOPIC } from './flow';
export type { FlowNode, ImportReport, ImportSource } from './model';
export { ImportError } from './model';

export interface ImportInput {
  ruleChain: ImportSource;
  converters?: readonly ImportSource[];
  integration?: ImportSource;
  dashboard?: ImportSource;
}

export interface ImportResult {
  flow: FlowNode[];
  report: ImportReport;
}

/** Node-RED positions from ThingsBoard's: its canvas is denser, and the left column holds the inputs. */
const place = (x: number, y: number) => ({ x: x * 1.2 + 460, y: y + 60 });

export function importThingsBoard(input: ImportInput): ImportResult {
  const report: ImportReport = { notMapped: [], notes: [] };
  // Every export is read and checked first; a bad field found while mapping throws as well, so an error
  // never leaves half a flow behind.
  const chain = parseRuleChain(input.ruleChain);
  const converters = parseConverters(input.converters ?? [], report.notes);
  const integration = input.integration ? parseIntegration(input.integration) : undefined;
  const dashboard = input.dashboard ? parseDashboard(input.dashboard) : undefined;
  const file = input.ruleChain.name;

  const flow = new FlowBuilder(chain.name, converters, integration, report, input.ruleChain.text);
  const relationsOf = (i: number) => [...new Set(chain.connections.filter((c) => c.from === i).map((c) => c.relation))];
  const placed = chain.nodes.map((node) => {
    const where = `"${node.name}" (${shortType(node.type)}, node ${node.index})`;
    const mapper = mapperFor(node, file);
    const pos = place(node.x, node.y);
    if (!mapper) {
      const reason = NOT_MAPPED_REASONS[shortType(node.type)] ?? 'no equivalent node in this package';
      const links = chain.connections
        .filter((c) => c.from === node.index || c.to === node.index)
        .map((c) => `${chain.nodes[c.from].name} -${c.relation}-> ${chain.nodes[c.to].name}`);
      report.notMapped.push(
        `${where}: ${reason}; a comment holds its JSON${links.length > 0 ? `; not wired: ${links.join(', ')}` : ''}`,
      );
      const comment = flow.add(
        {
          type: 'comment',
          name: `Not imported: ${node.name || shortType(node.type)}`,
          info: commentInfo(node.original, reason),
        },
        pos,
      );
      return { node: comment, outputs: [] as readonly string[], mapped: false };
    }
    const mapped = mapper.map(node, {
      deviceStore: () => flow.deviceStore(),
      integration: () => flow.integration(),
      relations: relationsOf(node.index),
      note: (text) => report.notes.push(`${where}: ${text}`),
    });
    const created = flow.add({ ...mapped.settings, name: node.name }, pos, mapped.outputs.length);
    return { node: created, outputs: mapped.outputs, mapped: true };
  });

  for (const c of chain.connections) {
    const from = placed[c.from];
    const to = placed[c.to];
    if (!from.mapped || !to.mapped) continue; // reported with the node that was not mapped
    const port = from.outputs.indexOf(c.relation);
    if (port < 0) {
      report.notMapped.push(
        `connection "${chain.nodes[c.from].name}" -${c.relation}-> "${chain.nodes[c.to].name}": ${from.node.type} has no ${c.relation} output here (outputs: ${from.outputs.join(', ') || 'none'})`,
      );
      continue;
    }
    flow.wire(from.node, port, to.node);
  }

  const first = chain.first !== undefined && placed[chain.first].mapped ? placed[chain.first].node : undefined;
  if (chain.first === undefined) report.notes.push(`${file}: no firstNodeIndex: nothing is wired into the chain`);
  else if (!first) report.notes.push(`${file}: the first node was not mapped: nothing is wired into the chain`);
  if (chain.chainLinks > 0) {
    report.notMapped.push(
      `${file}: ${chain.chainLinks} connection(s) to other rule chains (import those chains separately)`,
    );
  }
  const firstPos = first ? { x: Number(first.x), y: Number(first.y) } : { x: 460, y: 60 };
  flow.integrationEnds(first, firstPos);
  if (dashboard) {
    dashboardNodes(flow, dashboard, first, firstPos);
  }
  checkAttributeScopes(flow.nodes, report);
  return { flow: flow.result(), report };
}

function commentInfo(original: unknown, reason: string): string {
  return `Not imported from ThingsBoard: ${reason}.\n\nThe node as exported:\n\n\`\`\`json\n${JSON.stringify(original, null, 2)}\n\`\`\``;
}

/**
 * An attributes read in a scope that no save attributes node of the chain writes finds nothing unless
 * something else saves it; a frequent slip (the tutorial reads a server attribute its chain saves as client).
 */
function checkAttributeScopes(nodes: readonly FlowNode[], report: ImportReport): void {
  const saved = new Set(nodes.filter((n) => n.type === 'rule-save-attributes').map((n) => String(n.scope)));
  for (const n of nodes.filter((m) => m.type === 'rule-originator-attributes')) {
    for (const scope of ['client', 'shared', 'server']) {
      const names = n[`${scope}AttributeNames`] as string[];
      if (names.length > 0 && saved.size > 0 && !saved.has(scope)) {
        report.notes.push(
          `"${n.name}" reads ${scope} attributes (${names.join(', ')}), but this chain saves attributes only in ${[...saved].join(', ')} scope: ${n.tellFailureIfAbsent ? 'they go to Failure' : 'they are absent from its output'}, as in ThingsBoard`,
        );
      }
    }
  }
}
