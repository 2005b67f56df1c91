/**
 * Config node "device store": devices, attributes and latest telemetry kept in Node-RED's global context,
 * in the context store the user names (so persistence and sharing come from Node-RED's own store plugins).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { checkStoreName, contextKeyValueStore, type GlobalContext } from '../lib/context-store';
import { DeviceStore, keyValueBackend } from '../lib/device-store';
import { type DeviceStoreNode, redSetting } from '../lib/node-red';
import { numberSetting } from '../lib/settings';

interface DeviceStoreDef extends NodeDef {
  store?: string;
  timeout?: string | number;
}

export = (RED: NodeAPI) => {
  function DeviceStoreConfigNode(this: DeviceStoreNode, config: DeviceStoreDef) {
    RED.nodes.createNode(this as Node, config);
    const store = (config.store ?? '').trim();
    this.storeError = checkStoreName(store, redSetting(RED, 'contextStorage'));
    if (this.storeError) this.error(`device store: ${this.storeError}`);
    const global = this.context().global as unknown as GlobalContext;
    this.deviceStore = new DeviceStore(keyValueBackend(contextKeyValueStore(global, store || undefined)), {
      callTimeoutMs: numberSetting(config.timeout, 5000, 1),
    });
  }
  RED.nodes.registerType('rule-device-store', DeviceStoreConfigNode);
};
