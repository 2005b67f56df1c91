/**
 * Config node "device store": devices, attributes and latest telemetry kept either in Node-RED's global
 * context, in the context store the user names (persistence and sharing from Node-RED's own store plugins), or
 * in Redis, where updates that depend on what is stored are atomic, so that several Node-RED instances can share
 * it. The Redis password (and CA certificate) are credentials: never in the flow JSON.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerImportRoutes } from '../lib/admin-routes';
import { checkStoreName, contextKeyValueStore, type GlobalContext } from '../lib/context-store';
import {
  type ConnectionState,
  DEFAULT_STORE_LIMITS,
  DeviceStore,
  type DeviceStoreBackend,
  keyValueBackend,
} from '../lib/device-store';
import { type DeviceStoreNode, redSetting, t } from '../lib/node-red';
import { RedisBackend } from '../lib/redis-store';
import { numberSetting } from '../lib/settings';

interface DeviceStoreDef extends NodeDef {
  backend?: 'context' | 'redis';
  store?: string;
  timeout?: string | number;
  maxPending?: string | number;
  redisUrl?: string;
  redisDb?: string | number;
  redisPrefix?: string;
  redisTls?: boolean;
}

interface Credentials {
  password?: string;
  ca?: string;
}

/** A backend for a store that cannot be used: every call fails with why (the nodes show it before that). */
function unusable(why: string): DeviceStoreBackend {
  const refuse = () => Promise.reject(new Error(why));
  return {
    read: refuse,
    createDevice: refuse,
    saveAttributes: refuse,
    saveChangedAttributes: refuse,
    saveLatest: refuse,
    addRpc: refuse,
    listRpcs: refuse,
    updateRpc: refuse,
    removeRpc: refuse,
    rpcDevices: refuse,
  };
}

export = (RED: NodeAPI) => {
  function DeviceStoreConfigNode(this: DeviceStoreNode, config: DeviceStoreDef) {
    RED.nodes.createNode(this as Node, config);
    const limits = {
      callTimeoutMs: numberSetting(config.timeout, DEFAULT_STORE_LIMITS.callTimeoutMs, 1),
      maxPending: numberSetting(config.maxPending, DEFAULT_STORE_LIMITS.maxPending, 1),
    };
    let backend: DeviceStoreBackend;
    if (config.backend === 'redis') {
      const creds = ((this as unknown as { credentials?: Credentials }).credentials ?? {}) as Credentials;
      try {
        const redis = new RedisBackend({
          url: config.redisUrl ?? '',
          database: numberSetting(config.redisDb, 0, 0),
          prefix: config.redisPrefix,
          tls: config.redisTls === true,
          password: creds.password || undefined,
          ca: creds.ca?.trim() || undefined,
          connectTimeoutMs: limits.callTimeoutMs,
        });
        // The connection's changes in the log too (the server's name and a reason, never the password).
        redis.watch((s) => {
          if (s.state === 'ready') this.log(`device store: connected to ${s.server}`);
          else if (s.state === 'down') this.warn(`device store: ${s.server} down: ${s.reason ?? 'unknown reason'}`);
        });
        this.on('close', (done: () => void) => {
          redis.close().then(done, done);
        });
        backend = redis;
      } catch (err) {
        this.storeError = (err as Error).message;
        backend = unusable(this.storeError);
      }
    } else {
      const store = (config.store ?? '').trim();
      this.storeError = checkStoreName(store, redSetting(RED, 'contextStorage'));
      const global = this.context().global as unknown as GlobalContext;
      backend = keyValueBackend(contextKeyValueStore(global, store || undefined));
    }
    if (this.storeError) this.error(`device store: ${this.storeError}`);
    this.deviceStore = new DeviceStore(backend, limits);
    // The nodes using the store show its connection in the language of this node's catalog.
    this.deviceStore.describeConnection = (s: ConnectionState) => {
      const words = { server: s.server, reason: s.reason ?? '' };
      if (s.state === 'connecting') {
        return t(RED, 'device-store.connection.connecting', 'connecting to __server__', words);
      }
      if (s.reason) return t(RED, 'device-store.connection.downBecause', '__server__ down: __reason__', words);
      return t(RED, 'device-store.connection.down', '__server__ down', words);
    };
  }
  // Node-RED's types want `this` to be a plain Node when credentials are declared.
  RED.nodes.registerType(
    'rule-device-store',
    DeviceStoreConfigNode as unknown as (this: Node, c: DeviceStoreDef) => void,
    {
      credentials: { password: { type: 'password' }, ca: { type: 'text' } },
    },
  );
  // The editor's import of ThingsBoard exports (the menu entry is in this node's editor file).
  registerImportRoutes(RED);
};
