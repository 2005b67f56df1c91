// node-red-node-test-helper ships no types; this covers what the tests use.
declare module 'node-red-node-test-helper' {
  import type { Node } from 'node-red';

  type NodeModule = (RED: unknown) => unknown;
  interface TestHelper {
    init(nodeRedRuntime: string, userSettings?: Record<string, unknown>): void;
    settings(userSettings: Record<string, unknown>): Record<string, unknown>;
    load(nodes: NodeModule | NodeModule[], flow: object[], credentials?: object): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): Node & Record<string, unknown>;
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
    url(): string;
    request(): import('supertest').SuperTest<import('supertest').Test>;
    clearFlows(): Promise<void>;
    log(): { args: unknown[][]; restore(): void };
    _context: {
      init(settings: Record<string, unknown>): void;
      load(): Promise<void>;
      close(): Promise<void>;
      clean(o: object): Promise<void>;
    };
    _settings: Record<string, unknown>;
  }
  const helper: TestHelper;
  export = helper;
}
