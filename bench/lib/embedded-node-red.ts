/**
 * A real Node-RED runtime inside the benchmark process: the package linked into a temporary user directory
 * (as `npm start` does), the flows deployed from a flow file, no editor, and a tiny `bench-counter` node that
 * counts what reaches it. No test-helper spies, so the figures are what a user's Node-RED would do.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { makeUserDir, waitFor } from '../../test/toolkit';

export interface Counter {
  count: number;
  onMessage?: (msg: Record<string, unknown>) => void;
}
export const counters: Record<string, Counter> = {};
(globalThis as Record<string, unknown>).__ruleEngineBenchCounters = counters;

const COUNTER_NODE = `module.exports = function (RED) {
  function BenchCounter(config) {
    RED.nodes.createNode(this, config);
    const c = (globalThis.__ruleEngineBenchCounters[config.name || this.id] ||= { count: 0 });
    this.on('input', (msg, send, done) => { c.count++; if (c.onMessage) c.onMessage(msg); done(); });
  }
  RED.nodes.registerType('bench-counter', BenchCounter);
};
`;

export interface EmbeddedNodeRed {
  getNode(id: string): { receive(msg: object): void } | null;
  stop(): Promise<void>;
  userDir: string;
}

interface RedModule {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  nodes: { getNode(id: string): { receive(msg: object): void } | null };
}

export async function startNodeRed(flows: object[], settings: Record<string, unknown> = {}): Promise<EmbeddedNodeRed> {
  const userDir = makeUserDir('rule-engine-bench-', { dashboard: false });
  const counterDir = path.join(userDir, 'node_modules', 'bench-counter');
  fs.mkdirSync(counterDir, { recursive: true });
  fs.writeFileSync(
    path.join(counterDir, 'package.json'),
    JSON.stringify({ name: 'bench-counter', version: '1.0.0', 'node-red': { nodes: { counter: 'counter.js' } } }),
  );
  fs.writeFileSync(path.join(counterDir, 'counter.js'), COUNTER_NODE);
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));

  const RED = require('node-red') as RedModule;
  const server = http.createServer();
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    credentialSecret: false,
    logging: { console: { level: process.env.BENCH_LOG ?? 'error' } },
    ...settings,
  });
  await RED.start();
  // Flows start asynchronously after start() resolves; wait until every node exists.
  const ids = flows.map((n) => (n as { id: string; type: string }).id);
  await waitFor(() => ids.every((id) => RED.nodes.getNode(id) || isTab(flows, id)), 20000, 'the flows to start');
  return {
    userDir,
    getNode: (id) => RED.nodes.getNode(id),
    stop: async () => {
      await RED.stop();
      server.close();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

function isTab(flows: object[], id: string): boolean {
  return flows.some((n) => (n as { id: string; type: string }).id === id && (n as { type: string }).type === 'tab');
}
