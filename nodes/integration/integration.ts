/**
 * Config node "integration": the uplink decoder and downlink encoder, integration metadata, the device store,
 * the downlink topic pattern and MQTT options. Compiles both converters once per deploy.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { bytesArgument, compileDecoder, compileEncoder, testPayloadBytes } from '../lib/converters';
import { parseEncoderResult, toMqtt } from '../lib/downlink';
import { DEFAULT_MAX_PAYLOAD, Integration, looksLikeJson, metadataFrom } from '../lib/integration';
import { checkParsed, jsonDeeperThan, MAX_DEPTH, MessageError, normaliseMetadata } from '../lib/message';
import { adminPermission, numberSetting } from '../lib/node-red';
import { answerTest, maxScriptTimeout, type TestOutcome, testErrorKind, testTimeout } from '../lib/script-node';
import type { ThreadedScript } from '../lib/script-thread';
import { testScriptHost } from '../lib/script-thread';

interface IntegrationNode extends Node {
  integration: Integration;
  deviceStoreId?: string;
  brokerId?: string;
}

interface IntegrationDef extends NodeDef {
  decoder?: string;
  encoder?: string;
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

function qosOf(v: unknown): 0 | 1 | 2 {
  const n = Number(v);
  return n === 0 || n === 2 ? n : 1;
}

// Once per admin app: Node-RED loads a node module once, but test runtimes hand each load a new app.
const routed = new WeakSet<object>();

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

  if (!RED.httpAdmin || routed.has(RED.httpAdmin)) return;
  routed.add(RED.httpAdmin);

  // Both Test routes go through the Test gate under the integration's node id, with the deployed
  // integration's bounds: the maximum time limit, the payload size and depth limits, the result checks.
  RED.httpAdmin.post(
    '/rule-engine/integration/test-decoder',
    ...adminPermission(RED, 'rule-integration.write'),
    (req, res) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      answerTest(RED.httpAdmin, res, b.id, () => testDecoder(b, maxScriptTimeout(RED)));
    },
  );

  RED.httpAdmin.post(
    '/rule-engine/integration/test-encoder',
    ...adminPermission(RED, 'rule-integration.write'),
    (req, res) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      answerTest(RED.httpAdmin, res, b.id, () => testEncoder(b, maxScriptTimeout(RED)));
    },
  );
};

/** The decoder Test: compiles the decoder and runs it once on the payload from the dialog. */
async function testDecoder(b: Record<string, unknown>, maxTimeoutMs: number): Promise<TestOutcome> {
  const timeoutMs = testTimeout(b.timeout, maxTimeoutMs);
  if (typeof timeoutMs !== 'number') return timeoutMs;
  let script: ThreadedScript | undefined;
  try {
    let bytes: Buffer;
    try {
      bytes = testPayloadBytes(b.payload, b.payloadFormat);
    } catch (err) {
      throw new MessageError(`the payload cannot be read: ${(err as Error).message}`, 'bad-payload');
    }
    const maxPayloadBytes = numberSetting(b.maxPayloadBytes, DEFAULT_MAX_PAYLOAD, 1);
    if (bytes.length > maxPayloadBytes) {
      throw new MessageError(
        `payload of ${bytes.length} bytes is over the integration's limit of ${maxPayloadBytes} bytes`,
        'payload-too-large',
      );
    }
    if (looksLikeJson(bytes) && jsonDeeperThan(bytes, MAX_DEPTH)) {
      throw new MessageError(`payload JSON is nested deeper than ${MAX_DEPTH} levels`, 'too-deep');
    }
    script = await compileDecoder(String(b.decoder ?? ''), { timeoutMs }, maxPayloadBytes, testScriptHost());
    const md = {
      ...metadataFrom(b.integrationMetadata),
      ...normaliseMetadata(b.metadata ?? {}),
      integrationName: String(b.integrationName || 'integration'),
    };
    const output = await script.invoke([bytesArgument(bytes), md]);
    checkParsed(output, 'the decoder result');
    return { ok: true, output };
  } catch (err) {
    return { ok: false, error: { message: String((err as Error)?.message ?? err), kind: testErrorKind(err) } };
  } finally {
    script?.dispose();
  }
}

/** The encoder Test: compiles the encoder, runs it once on the message from the dialog, and shows the publish. */
async function testEncoder(b: Record<string, unknown>, maxTimeoutMs: number): Promise<TestOutcome> {
  const timeoutMs = testTimeout(b.timeout, maxTimeoutMs);
  if (typeof timeoutMs !== 'number') return timeoutMs;
  let script: ThreadedScript | undefined;
  try {
    script = await compileEncoder(String(b.encoder ?? ''), { timeoutMs }, testScriptHost());
    const result = await script.invoke([
      b.msg,
      normaliseMetadata(b.metadata ?? {}),
      typeof b.msgType === 'string' ? b.msgType : '',
      metadataFrom(b.integrationMetadata),
    ]);
    checkParsed(result, 'the encoder result');
    const topicPattern = typeof b.topicPattern === 'string' && b.topicPattern ? b.topicPattern : '${topic}';
    const output = parseEncoderResult(result).map((r) => {
      if (!r.ok) return { error: r.error.message };
      try {
        const m = toMqtt(r.value, { topicPattern, qos: qosOf(b.qos ?? 1), retain: b.retain === true });
        const payload = Buffer.isBuffer(m.payload) ? m.payload.toString('base64') : m.payload;
        return { ...r.value, mqtt: { ...m, payload } };
      } catch (err) {
        return { ...r.value, error: (err as Error).message };
      }
    });
    return { ok: true, output };
  } catch (err) {
    return { ok: false, error: { message: String((err as Error)?.message ?? err), kind: testErrorKind(err) } };
  } finally {
    script?.dispose();
  }
}
