/**
 * Downlink: an encoder's result (ThingsBoard's downlink converter contract) as messages the core `mqtt out`
 * node publishes as they are, with every reason not to publish turned into an error instead of a silent drop.
 */
import { MessageError, normaliseMetadata, typeOf } from './message';
import { fillPattern } from './templates';

export type ContentType = 'JSON' | 'TEXT' | 'BINARY';

const MIME: Record<ContentType, string> = {
  JSON: 'application/json',
  TEXT: 'text/plain',
  BINARY: 'application/octet-stream',
};

export interface Encoded {
  contentType: ContentType;
  data: unknown;
  metadata: Record<string, string>;
}

export interface MqttOut {
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain: boolean;
  contentType: string;
}

export interface DownlinkOptions {
  topicPattern: string;
  qos: 0 | 1 | 2;
  retain: boolean;
}

/** One item of an encoder result. */
export function parseEncoded(raw: unknown, where = ''): Encoded {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MessageError(
      `${where}encoder result must be an object {contentType, data, metadata}, got ${typeOf(raw)}`,
      'bad-result',
    );
  }
  const r = raw as Record<string, unknown>;
  const ct = r.contentType === undefined || r.contentType === null ? 'JSON' : String(r.contentType).toUpperCase();
  if (ct !== 'JSON' && ct !== 'TEXT' && ct !== 'BINARY') {
    throw new MessageError(
      `${where}unknown contentType "${String(r.contentType)}": use JSON, TEXT or BINARY`,
      'bad-content-type',
    );
  }
  let metadata: Record<string, string> = {};
  if (r.metadata !== undefined && r.metadata !== null) {
    if (typeof r.metadata !== 'object' || Array.isArray(r.metadata)) {
      throw new MessageError(`${where}encoder metadata must be an object, got ${typeOf(r.metadata)}`, 'bad-result');
    }
    metadata = normaliseMetadata(r.metadata);
  }
  return { contentType: ct, data: r.data, metadata };
}

export function parseEncoderResult(
  result: unknown,
): Array<{ ok: true; value: Encoded } | { ok: false; error: MessageError }> {
  const list = Array.isArray(result) ? result : [result];
  if (list.length === 0)
    return [{ ok: false, error: new MessageError('encoder returned an empty array', 'empty-result') }];
  return list.map((raw, i) => {
    try {
      return { ok: true, value: parseEncoded(raw, Array.isArray(result) ? `item ${i}: ` : '') };
    } catch (err) {
      return { ok: false, error: err as MessageError };
    }
  });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function payloadFor(e: Encoded): Buffer | string {
  const d = e.data;
  switch (e.contentType) {
    case 'BINARY': {
      if (typeof d !== 'string')
        throw new MessageError(`BINARY data must be a base64 string, got ${typeOf(d)}`, 'bad-data');
      const s = d.replace(/\s+/g, '');
      if (s.length % 4 === 1 || !BASE64.test(s)) throw new MessageError('BINARY data is not valid base64', 'bad-data');
      return Buffer.from(s, 'base64');
    }
    case 'TEXT':
      if (d === undefined || d === null) return '';
      return typeof d === 'string' ? d : typeof d === 'object' ? JSON.stringify(d) : String(d);
    default:
      // ThingsBoard sends an empty payload for object data; we serialise it.
      if (d === undefined) return '';
      return typeof d === 'string' ? d : JSON.stringify(d);
  }
}

/** Why `topic` cannot be published to, or undefined when it can (MQTT 3.1.1 / 5: 4.7 and 1.5.4). */
export function publishTopicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'the topic is empty';
  if (/[+#]/.test(topic)) return `the topic "${topic}" has a wildcard (+ or #), which is only for subscriptions`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f-\u009f]/.test(topic)) return 'the topic has a NUL or control character';
  if (/[\ud800-\udfff]/.test(topic.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')))
    return 'the topic is not valid UTF-8';
  const bytes = Buffer.byteLength(topic, 'utf8');
  if (bytes > 65535) return `the topic is ${bytes} bytes long; MQTT allows 65,535`;
  return undefined;
}

/** The message for `mqtt out`; throws a MessageError when it must not be published. */
export function toMqtt(e: Encoded, opts: DownlinkOptions): MqttOut {
  const { text, unresolved } = fillPattern(opts.topicPattern, e.metadata);
  if (unresolved.length > 0) {
    throw new MessageError(
      `topic pattern "${opts.topicPattern}" left ${unresolved.join(', ')} unresolved: the encoder's metadata has no such key`,
      'unresolved-topic',
      { unresolved },
    );
  }
  const problem = publishTopicProblem(text);
  if (problem) throw new MessageError(`invalid publish topic: ${problem}`, 'invalid-topic');
  return { topic: text, payload: payloadFor(e), qos: opts.qos, retain: opts.retain, contentType: MIME[e.contentType] };
}
