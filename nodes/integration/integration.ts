/**
 * Config node "integration": the uplink decoder and downlink encoder, integration metadata, the device store,
 * the downlink topic pattern and MQTT options. Compiles both converters once per deploy.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { registerIntegrationRoutes } from '../lib/admin-routes';
import { BrokerWaitingRoom, DEFAULT_DOWNLINK_QUEUE } from '../lib/downlink-queue';
import { DEFAULT_MAX_PAYLOAD, Integration, metadataFrom, qosOf } from '../lib/integration';
import { brokerProblem, type IntegrationConfig } from '../lib/integration-node';
import { maxScriptTimeout } from '../lib/node-red';
import { languageOf } from '../lib/script-language';
import { numberSetting } from '../lib/settings';

interface IntegrationNode extends IntegrationConfig {
  integration: Integration;
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
  queueSize?: string | number;
  queueMaxAge?: string | number;
  coalesce?: boolean | string;
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
    const queueSize = numberSetting(def.queueSize, DEFAULT_DOWNLINK_QUEUE.maxSize, 0);
    if (this.brokerId && queueSize > 0) {
      this.downlinkWaiting = new BrokerWaitingRoom(
        {
          maxSize: queueSize,
          maxAgeMs: numberSetting(def.queueMaxAge, DEFAULT_DOWNLINK_QUEUE.maxAgeMs / 1000, 0) * 1000,
          coalesce: def.coalesce !== false && def.coalesce !== 'false',
        },
        () => brokerProblem(RED, this)?.text,
      );
    }
    this.on('close', (_removed: boolean, done: () => void) => {
      this.downlinkWaiting?.close('the integration was stopped (redeployed or removed) before the broker came back');
      this.integration.dispose();
      done();
    });
  }
  RED.nodes.registerType('rule-integration', IntegrationConfigNode);

  registerIntegrationRoutes(RED);
};
