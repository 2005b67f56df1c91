/**
 * Node-RED context as the device store's KeyValueStore, and the check that a named context store exists.
 */
import type { KeyValueStore } from './device-store';

type ContextCallback = (err: Error | null | undefined, ...values: unknown[]) => void;
export interface GlobalContext {
  get(keys: string[], store: string | undefined, cb: ContextCallback): void;
  set(keys: string[], values: unknown[], store: string | undefined, cb: (err?: Error | null) => void): void;
}

/**
 * The context store names this runtime has, from its settings. Node-RED itself falls back to the default
 * store for an unknown name with a single warning; a device store must not quietly lose its data that way.
 */
export function checkStoreName(store: string, contextStorage: unknown): string | undefined {
  if (store === '') return undefined;
  const configured =
    contextStorage && typeof contextStorage === 'object' ? Object.keys(contextStorage).filter((k) => k !== '_') : [];
  const known = configured.length > 0 ? new Set([...configured, 'default']) : new Set(['memory', 'default']);
  if (known.has(store)) return undefined;
  return `unknown context store "${store}" (this Node-RED has: ${[...known].join(', ')})`;
}

export function contextKeyValueStore(global: GlobalContext, store: string | undefined): KeyValueStore {
  return {
    get: (ks) =>
      new Promise((resolve, reject) => {
        global.get(ks, store, (err, ...values) => (err ? reject(err) : resolve(values)));
      }),
    set: (ks, vs) =>
      new Promise((resolve, reject) => {
        global.set(ks, vs, store, (err) => (err ? reject(err) : resolve()));
      }),
  };
}
