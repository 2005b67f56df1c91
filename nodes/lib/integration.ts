/**
 * The integration (config node) without Node-RED: its settings, its two guarded converters, the uplink and
 * downlink steps built on them, and the Test runs of the converters. The Node-RED nodes are thin adapters over
 * this, and the Test routes are in admin-routes.ts.
 */

import { bytesArgument, compileDecoder, compileEncoder, testPayloadBytes } from './converters';
import type { DeviceStore } from './device-store';
import { type DownlinkOptions, type MqttOut, parseEncoderResult, toMqtt } from './downlink';
import {
  DEFAULT_MAX_SCRIPT_TIMEOUT_MS,
  GuardedScript,
  type RunnableScript,
  type ScriptConfigError,
  timeLimitError,
} from './guarded-script';
import {
  checkParsed,
  jsonDeeperThan,
  MAX_DEPTH,
  MessageError,
  type Metadata,
  normaliseMetadata,
  type RuleMsg,
  setOwn,
} from './message';
import { ensureDeviceOnce } from './save-data';
import { languageOf, type ScriptLanguage } from './script-language';
import { type ThreadedScript, testScriptHost } from './script-thread';
import { numberSetting } from './settings';
import { type TestOutcome, testErrorKind, testTimeout } from './test-runs';
import { messagesForItem, parseDecoderResult, type RpcReply } from './uplink';

export interface IntegrationSettings {
  name: string;
  decoder: string;
  encoder: string;
  /** The decoder's and the encoder's language (JavaScript when not set). */
  decoderLanguage?: ScriptLanguage;
  encoderLanguage?: ScriptLanguage;
  metadata: Metadata;
  allowCreateDevices: boolean;
  topicPattern: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  maxPayloadBytes: number;
  timeoutMs: number;
  /** The longest time limit allowed (see maxScriptTimeout); a longer timeoutMs is refused. */
  maxTimeoutMs?: number;
}

export const DEFAULT_MAX_PAYLOAD = 64 * 1024;

/** The QoS setting: 0, 1 or 2, and 1 for anything else. */
export function qosOf(v: unknown): 0 | 1 | 2 {
  const n = Number(v);
  return n === 0 || n === 2 ? n : 1;
}

/** Integration metadata from the editor's key/value rows (or an object). */
export function metadataFrom(rows: unknown): Metadata {
  const out: Metadata = {};
  if (Array.isArray(rows)) {
    for (const r of rows) {
      const key = String((r as { key?: unknown })?.key ?? '').trim();
      if (key) setOwn(out, key, String((r as { value?: unknown })?.value ?? ''));
    }
  } else if (rows && typeof rows === 'object') {
    for (const [k, v] of Object.entries(rows)) setOwn(out, k, String(v ?? ''));
  }
  return out;
}

export interface UplinkOutcome {
  messages: RuleMsg[];
  failures: MessageError[];
  /** The devices whose items were taken: they were seen (persistent RPC requests wait for that). */
  devices: string[];
}

/** Hands a device's reply to the request waiting for it (PendingRpcs.respond in the package). */
export type ReplyHandler = (reply: RpcReply) => 'matched' | 'late' | 'unknown';

export class Integration {
  readonly decoder: GuardedScript;
  readonly encoder: GuardedScript;
  /** Why the settings are refused (neither converter is compiled then), if they are. */
  readonly configError: ScriptConfigError | undefined;

  constructor(
    readonly settings: IntegrationSettings,
    onCompileError?: (which: 'decoder' | 'encoder', err: Error) => void,
    compilers: {
      decoder?: (s: IntegrationSettings) => Promise<RunnableScript>;
      encoder?: (s: IntegrationSettings) => Promise<RunnableScript>;
    } = {},
  ) {
    const limits = { timeoutMs: settings.timeoutMs };
    this.configError = timeLimitError(settings.timeoutMs, settings.maxTimeoutMs ?? DEFAULT_MAX_SCRIPT_TIMEOUT_MS);
    const refused = this.configError;
    if (refused) {
      this.decoder = new GuardedScript(Promise.reject(refused));
      this.encoder = new GuardedScript(Promise.reject(refused));
      return;
    }
    this.decoder = new GuardedScript(
      (
        compilers.decoder ?? ((s) => compileDecoder(s.decoder, limits, s.maxPayloadBytes, undefined, s.decoderLanguage))
      )(settings),
      (e) => onCompileError?.('decoder', e),
    );
    this.encoder = new GuardedScript(
      (compilers.encoder ?? ((s) => compileEncoder(s.encoder, limits, undefined, s.encoderLanguage)))(settings),
      (e) => onCompileError?.('encoder', e),
    );
  }

  /** Decodes one uplink payload into rule-engine messages; bad items fail alone. Throws if the decoder fails. */
  async uplink(
    bytes: Buffer,
    topic: string | undefined,
    store: DeviceStore,
    now: number,
    onReply: ReplyHandler = () => 'unknown',
  ): Promise<UplinkOutcome> {
    checkUplinkPayload(bytes, this.settings.maxPayloadBytes);
    const md: Metadata = { ...this.settings.metadata, integrationName: this.settings.name };
    if (topic !== undefined) md.topic = topic;
    const result = await this.decoder.run([bytesArgument(bytes), md]);
    checkParsed(result, 'the decoder result');
    const out: UplinkOutcome = { messages: [], failures: [], devices: [] };
    for (const r of parseDecoderResult(result, now)) {
      if (!r.ok) {
        out.failures.push(r.error);
        continue;
      }
      const { item } = r;
      try {
        if (this.settings.allowCreateDevices) {
          await ensureDeviceOnce(store, item.deviceName, item.deviceType);
        } else if (!(await store.getDevice(item.deviceName))) {
          throw new MessageError(
            `device "${item.deviceName}" does not exist and the integration may not create devices`,
            'unknown-device',
            { index: r.index },
          );
        }
      } catch (err) {
        out.failures.push(
          err instanceof MessageError ? err : new MessageError((err as Error).message, 'store', { index: r.index }),
        );
        continue;
      }
      if (!out.devices.includes(item.deviceName)) out.devices.push(item.deviceName);
      out.messages.push(...messagesForItem(item, { ts: now, topic, metadata: md }));
      if (item.rpcResponse) {
        const failure = replyFailure(item.deviceName, item.rpcResponse, onReply(item.rpcResponse), r.index);
        if (failure) out.failures.push(failure);
      }
    }
    return out;
  }

  /** Encodes one rule-engine message into `mqtt out` messages; bad items fail alone. Throws if the encoder fails. */
  async downlink(msg: {
    payload?: unknown;
    metadata: Metadata;
    msgType: string;
  }): Promise<{ out: MqttOut[]; failures: MessageError[] }> {
    const result = await this.encoder.run([msg.payload, msg.metadata, msg.msgType, this.settings.metadata]);
    checkParsed(result, 'the encoder result');
    const opts: DownlinkOptions = {
      topicPattern: this.settings.topicPattern,
      qos: this.settings.qos,
      retain: this.settings.retain,
    };
    const out: MqttOut[] = [];
    const failures: MessageError[] = [];
    for (const r of parseEncoderResult(result)) {
      if (!r.ok) {
        failures.push(r.error);
        continue;
      }
      try {
        out.push(toMqtt(r.value, opts));
      } catch (err) {
        failures.push(err as MessageError);
      }
    }
    return { out, failures };
  }

  dispose(): void {
    this.decoder.dispose();
    this.encoder.dispose();
  }
}

/** Why a device's reply found no request, or undefined when it was handed over. */
function replyFailure(device: string, reply: RpcReply, match: string, index: number): MessageError | undefined {
  if (match === 'matched') return undefined;
  const what = `RPC reply from "${device}" to request ${reply.requestUUID}`;
  if (match === 'late') {
    return new MessageError(`${what} came after the request timed out`, 'rpc-reply-late', { index });
  }
  return new MessageError(
    `${what}: no such request is waiting in this Node-RED (unknown, answered already, or sent by another instance)`,
    'rpc-reply-unknown',
    { index },
  );
}

/** Whether bytes start (after white space) with { or [: only then are they scanned as JSON text. */
/**
 * Checked before the decoder runs (deployed or in the Test dialog), so that a device cannot make it parse
 * megabytes, nor JSON nested so deeply that parsing it in the sandbox would only end in a stack overflow.
 */
export function checkUplinkPayload(bytes: Buffer, maxPayloadBytes: number): void {
  if (bytes.length > maxPayloadBytes) {
    throw new MessageError(
      `payload of ${bytes.length.toLocaleString('en-US')} bytes is over the integration's limit of ${maxPayloadBytes.toLocaleString('en-US')} bytes`,
      'payload-too-large',
      { size: bytes.length, limit: maxPayloadBytes },
    );
  }
  if (looksLikeJson(bytes) && jsonDeeperThan(bytes, MAX_DEPTH)) {
    throw new MessageError(`payload JSON is nested deeper than ${MAX_DEPTH} levels`, 'too-deep', {
      limit: MAX_DEPTH,
    });
  }
}

export function looksLikeJson(bytes: Buffer): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return i < bytes.length && (bytes[i] === 0x7b || bytes[i] === 0x5b);
}

/** The decoder Test: compiles the decoder and runs it once on the payload from the dialog. */
export async function testDecoder(b: Record<string, unknown>, maxTimeoutMs: number): Promise<TestOutcome> {
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
    checkUplinkPayload(bytes, maxPayloadBytes);
    script = await compileDecoder(
      String(b.decoder ?? ''),
      { timeoutMs },
      maxPayloadBytes,
      testScriptHost(),
      languageOf(b.decoderLanguage ?? b.language),
    );
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
export async function testEncoder(b: Record<string, unknown>, maxTimeoutMs: number): Promise<TestOutcome> {
  const timeoutMs = testTimeout(b.timeout, maxTimeoutMs);
  if (typeof timeoutMs !== 'number') return timeoutMs;
  let script: ThreadedScript | undefined;
  try {
    script = await compileEncoder(
      String(b.encoder ?? ''),
      { timeoutMs },
      testScriptHost(),
      languageOf(b.encoderLanguage ?? b.language),
    );
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
