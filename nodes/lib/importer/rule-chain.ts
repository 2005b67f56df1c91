/**
 * A ThingsBoard rule chain export (`{ruleChain, metadata: {nodes, connections}}`), checked before anything is
 * mapped: every problem is an ImportError naming the field, and connections must not form a cycle.
 */
import { Fields, ImportError, type ImportSource, isObject, parseJson } from './model';

export interface TbRuleNode {
  index: number;
  type: string;
  name: string;
  /** The node's configuration, read with ThingsBoard's defaults for missing fields. */
  config: Fields;
  /** The node as exported, kept for the comment that stands in for a node that does not map. */
  original: unknown;
  /** ThingsBoard's configuration version (0 when absent, as for exports older than versioning). */
  version: number;
  x: number;
  y: number;
}

export interface TbConnection {
  from: number;
  to: number;
  /** The relation label, e.g. Success, True, Post telemetry. */
  relation: string;
}

export interface TbRuleChain {
  name: string;
  /** Index of the node messages enter by; undefined when the export names none. */
  first?: number;
  nodes: TbRuleNode[];
  connections: TbConnection[];
  /** Connections to other rule chains (older exports), which the import does not carry over. */
  chainLinks: number;
}

const CHAIN_TYPES = ['CORE'];

function ruleNode(raw: unknown, index: number, file: string): TbRuleNode {
  const where = `${file}: metadata.nodes[${index}]`;
  if (!isObject(raw)) throw new ImportError(`${where}: expected an object`);
  const f = new Fields(raw, where);
  const type = f.str('type', '');
  if (type === '')
    throw new ImportError(`${where}.type: expected the node's class name, got ${JSON.stringify(raw.type)}`);
  const configuration = raw.configuration ?? {};
  if (!isObject(configuration)) throw new ImportError(`${where}.configuration: expected an object`);
  const version = f.num('configurationVersion', 0);
  if (!Number.isInteger(version) || version < 0) f.fail('configurationVersion', 'a whole number of 0 or more');
  const layout = f.child('additionalInfo');
  return {
    index,
    type,
    name: f.str('name', ''),
    config: new Fields(configuration, `${where}.configuration`),
    original: raw,
    version,
    x: layout.num('layoutX', 0),
    y: layout.num('layoutY', 0),
  };
}

function connection(raw: unknown, index: number, count: number, file: string): TbConnection {
  const where = `${file}: metadata.connections[${index}]`;
  if (!isObject(raw)) throw new ImportError(`${where}: expected an object`);
  const f = new Fields(raw, where);
  const end = (key: string) => {
    const v = f.num(key, Number.NaN);
    if (!Number.isInteger(v) || v < 0 || v >= count) {
      throw new ImportError(`${where}.${key}: ${JSON.stringify(raw[key])} is not a node index (0 to ${count - 1})`);
    }
    return v;
  };
  const relation = f.str('type', '');
  if (relation === '')
    throw new ImportError(`${where}.type: expected the relation label, got ${JSON.stringify(raw.type)}`);
  return { from: end('fromIndex'), to: end('toIndex'), relation };
}

/** The first cycle found, as node indices from its start back to it; undefined when there is none. */
export function findCycle(count: number, connections: readonly TbConnection[]): number[] | undefined {
  const next = Array.from({ length: count }, () => [] as number[]);
  for (const c of connections) next[c.from].push(c.to);
  // 0 unvisited, 1 on the current path, 2 done.
  const state = new Array<number>(count).fill(0);
  const path: number[] = [];
  const visit = (n: number): number[] | undefined => {
    state[n] = 1;
    path.push(n);
    for (const m of next[n]) {
      if (state[m] === 1) return [...path.slice(path.indexOf(m)), m];
      if (state[m] === 0) {
        const found = visit(m);
        if (found) return found;
      }
    }
    path.pop();
    state[n] = 2;
    return undefined;
  };
  for (let n = 0; n < count; n++) {
    if (state[n] === 0) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return undefined;
}

export function parseRuleChain(source: ImportSource): TbRuleChain {
  const file = source.name;
  const data = parseJson(source);
  if (!isObject(data) || !isObject(data.ruleChain) || !isObject(data.metadata)) {
    throw new ImportError(`${file}: not a rule chain export (expected an object with "ruleChain" and "metadata")`);
  }
  const chain = new Fields(data.ruleChain, `${file}: ruleChain`);
  const type = chain.str('type', 'CORE');
  if (!CHAIN_TYPES.includes(type)) chain.fail('type', `a core rule chain (${CHAIN_TYPES.join(', ')})`);
  const meta = new Fields(data.metadata, `${file}: metadata`);
  if (!meta.has('nodes')) meta.fail('nodes', 'a list of rule nodes');
  const nodes = meta.list('nodes', 'rule nodes').map((n, i) => ruleNode(n, i, file));
  const connections = meta.list('connections', 'connections').map((c, i) => connection(c, i, nodes.length, file));
  let first: number | undefined;
  if (meta.has('firstNodeIndex')) {
    first = meta.num('firstNodeIndex', 0);
    if (!Number.isInteger(first) || first < 0 || first >= nodes.length) {
      meta.fail('firstNodeIndex', `a node index (0 to ${nodes.length - 1})`);
    }
  }
  const cycle = findCycle(nodes.length, connections);
  if (cycle) {
    const names = cycle.map((i) => `${JSON.stringify(nodes[i].name)} (${i})`).join(' -> ');
    throw new ImportError(`${file}: metadata.connections form a cycle: ${names}; a flow imported from it would loop`);
  }
  const links = meta.raw('ruleChainConnections');
  return {
    name: chain.str('name', 'Imported rule chain'),
    first,
    nodes,
    connections,
    chainLinks: Array.isArray(links) ? links.length : 0,
  };
}
