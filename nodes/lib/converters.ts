/**
 * The integration's two converters on the shared script runtime: the uplink decoder
 * `decoder(payload, metadata)` and the downlink encoder `encoder(msg, metadata, msgType, integrationMetadata)`.
 */
import { compileInLanguage, DECODER_HELPERS, type ScriptLanguage } from './script-language';
import type { ScriptLimits } from './script-runtime';
import { type ScriptHost, scriptHost, type ThreadedScript } from './script-thread';

const DECODER_PARAMS = ['payload', 'metadata'];
const ENCODER_PARAMS = ['msg', 'metadata', 'msgType', 'integrationMetadata'];

/**
 * `host`: the deployed scripts' script thread, or the Test buttons' (testScriptHost()). A decoder has
 * decodeToString(bytes) and decodeToJson(bytes) in either language (TBEL has its whole helper library).
 */
export function compileDecoder(
  body: string,
  limits: Partial<ScriptLimits>,
  maxPayloadBytes: number,
  host: ScriptHost = scriptHost(),
  language: ScriptLanguage = 'javascript',
): Promise<ThreadedScript> {
  // The bytes reach the sandbox as a JSON array of numbers: up to 4 characters a byte.
  const maxInputChars = Math.max(limits.maxInputChars ?? 100_000, maxPayloadBytes * 4 + 10_000);
  return compileInLanguage(
    language,
    { params: DECODER_PARAMS, body, helpers: DECODER_HELPERS, limits: { ...limits, maxInputChars } },
    host,
  );
}

export function compileEncoder(
  body: string,
  limits: Partial<ScriptLimits>,
  host: ScriptHost = scriptHost(),
  language: ScriptLanguage = 'javascript',
): Promise<ThreadedScript> {
  return compileInLanguage(language, { params: ENCODER_PARAMS, body, limits }, host);
}

/** A payload as `mqtt in` gives it (Buffer, string, or already parsed) as the bytes the device sent. */
export function payloadBytes(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload === undefined || payload === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/** Bytes as the decoder's `payload` argument: an array of numbers, like ThingsBoard's byte array. */
export function bytesArgument(bytes: Buffer): number[] {
  const out = new Array<number>(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i];
  return out;
}

/** Payload text from the Test dialog in the format the user chose. */
export function testPayloadBytes(payload: unknown, format: unknown): Buffer {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload ?? '');
  switch (format) {
    case 'hex': {
      const hex = text.replace(/\s+/g, '').replace(/^0x/i, '');
      if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('the payload is not valid hex');
      return Buffer.from(hex, 'hex');
    }
    case 'base64':
      return Buffer.from(text.replace(/\s+/g, ''), 'base64');
    case 'json':
      JSON.parse(text);
      return Buffer.from(text, 'utf8');
    default:
      return Buffer.from(text, 'utf8');
  }
}
