/**
 * Config node "integration": the uplink decoder and downlink encoder, integration metadata, the device store,
 * the downlink topic pattern and MQTT options. Compiles both converters once per deploy.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { registerIntegrationRoutes } from '../lib/admin-routes';
import { DEFAULT_MAX_PAYLOAD, Integration, metadataFrom, qosOf } from '../lib/integration';
import { maxScriptTimeout } from '../lib/node-red';
import { languageOf } from '../lib/script-language';
import { numberSetting } from '../lib/settings';

interface IntegrationNode extends Node {
  integration: Integration;
  deviceStoreId?: string;
  brokerId?: string;
}

interface IntegrationDef extends NodeDef {
  decoder?: string;
  encoder?: string;
  /** 'javascript' (default) or 'tbel', for each converter. */
  decoderLanguage?: string;
  encoderLanguage?: string;
  metadata?: unknown;
  deviceStore?: string;
  allowCreateDevices?: boolean;
  topicPattern?: string;
  qos?: string | number;
  retain?: boolean | string;
  maxPayloadBytes?: string | number;
  timeout?: string | number;
  broker?: string;
}

export = (RED: NodeAPI) => {
  function IntegrationConfigNode(this: IntegrationNode, def: IntegrationDef) {
    RED.nodes.createNode(this, def);
    this.deviceStoreId = def.deviceStore || undefined;
    this.brokerId = def.broker || undefined;
    this.integration = new Integration(
      {
        name: def.name || 'integration',
        decoder: def.decoder ?? '',
        encoder: def.encoder ?? '',
        decoderLanguage: languageOf(def.decoderLanguage),
        encoderLanguage: languageOf(def.encoderLanguage),
        metadata: metadataFrom(def.metadata),
        allowCreateDevices: def.allowCreateDevices !== false,
        topicPattern: typeof def.topicPattern === 'string' && def.topicPattern !== '' ? def.topicPattern : '${topic}',
        qos: qosOf(def.qos ?? 1),
        retain: def.retain === true || def.retain === 'true',
        maxPayloadBytes: numberSetting(def.maxPayloadBytes, DEFAULT_MAX_PAYLOAD, 1),
        timeoutMs: numberSetting(def.timeout, 500, 1),
        maxTimeoutMs: maxScriptTimeout(RED),
      },
      (which, err) => this.error(`integration ${which}: ${err.message}`),
    );
    // Refused at deploy: neither converter is compiled, and the uplink and downlink nodes using this
    // integration show the error and send every message to Failure with it.
    if (this.integration.configError) this.error(`integration: ${this.integration.configError.message}`);
    this.on('close', (_removed: boolean, done: () => void) => {
      this.integration.dispose();
      done();
    });
  }
  RED.nodes.registerType('rule-integration', IntegrationConfigNode);

  registerIntegrationRoutes(RED);
};
