/**
 * The integration's two converters on the shared script runtime: the uplink decoder
 * `decoder(payload, metadata)` and the downlink encoder `encoder(msg, metadata, msgType, integrationMetadata)`.
 */
import type { ScriptLimits } from './script-runtime';
import { compileThreadedScript, type ScriptHost, scriptHost, type ThreadedScript } from './script-thread';

/**
 * ThingsBoard's helpers for decoders. decodeToString reads the bytes as UTF-8 (invalid sequences become U+FFFD),
 * so a decoder sees the same text the device sent; decodeToJson parses that text.
 */
export const DECODER_HELPERS = `
function decodeToString(bytes) {
  var out = '', i = 0, n = bytes.length;
  while (i < n) {
    var b = bytes[i++] & 255, cp = 65533, need = 0, min = 0;
    if (b < 128) { out += String.fromCharCode(b); continue; }
    if (b >= 194 && b <= 223) { cp = b & 31; need = 1; min = 128; }
    else if (b >= 224 && b <= 239) { cp = b & 15; need = 2; min = 2048; }
    else if (b >= 240 && b <= 244) { cp = b & 7; need = 3; min = 65536; }
    else { out += '\\ufffd'; continue; }
    var ok = true;
    for (var k = 0; k < need; k++) {
      var c = bytes[i] & 255;
      if (i >= n || (c & 192) !== 128) { ok = false; break; }
      cp = (cp << 6) | (c & 63); i++;
    }
    if (!ok || cp < min || cp > 1114111 || (cp >= 55296 && cp <= 57343)) { out += '\\ufffd'; continue; }
    out += String.fromCodePoint(cp);
  }
  return out;
}
function decodeToJson(bytes) { return JSON.parse(decodeToString(bytes)); }
`;

export const DECODER_PARAMS = ['payload', 'metadata'];
export const ENCODER_PARAMS = ['msg', 'metadata', 'msgType', 'integrationMetadata'];

/** `host`: the deployed scripts' script thread, or the Test buttons' (testScriptHost()). */
export function compileDecoder(
  body: string,
  limits: Partial<ScriptLimits>,
  maxPayloadBytes: number,
  host: ScriptHost = scriptHost(),
): Promise<ThreadedScript> {
  // The bytes reach the sandbox as a JSON array of numbers: up to 4 characters a byte.
  const maxInputChars = Math.max(limits.maxInputChars ?? 100_000, maxPayloadBytes * 4 + 10_000);
  return compileThreadedScript(
    { params: DECODER_PARAMS, body, helpers: DECODER_HELPERS, limits: { ...limits, maxInputChars } },
    host,
  );
}

export function compileEncoder(
  body: string,
  limits: Partial<ScriptLimits>,
  host: ScriptHost = scriptHost(),
): Promise<ThreadedScript> {
  return compileThreadedScript({ params: ENCODER_PARAMS, body, limits }, host);
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
