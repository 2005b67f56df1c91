/**
 * Uplink: what a decoder's result means (ThingsBoard's uplink converter contract), item by item, so that one
 * bad item in a batch fails alone.
 */
import type { TelemetryBatch } from './device-store';
import {
  createMessage,
  MessageError,
  type Metadata,
  MsgType,
  type RuleMsg,
  setOwn,
  toMetadataValue,
  typeOf,
} from './message';
import { attributesFromPayload, telemetryFromPayload } from './save-data';

export interface UplinkItem {
  deviceName: string;
  deviceType: string;
  attributes: Record<string, unknown>;
  telemetry: TelemetryBatch[];
  /** The device's reply to a two-way RPC call. */
  rpcResponse?: RpcReply;
}

/**
 * A decoder item's `rpcResponse`: `requestUUID` (the request's metadata.requestUUID, which the encoder passed
 * to the device; `id` is accepted for it, as a device that answers on a ThingsBoard-style `.../response/{id}`
 * topic has it) and `response`, the device's answer.
 */
export interface RpcReply {
  requestUUID: string;
  response: unknown;
}

function parseRpcResponse(v: unknown): RpcReply {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new MessageError(`rpcResponse must be an object {requestUUID, response}, got ${typeOf(v)}`, 'bad-rpc-reply');
  }
  const r = v as Record<string, unknown>;
  const id = r.requestUUID ?? r.id;
  if ((typeof id !== 'string' || id === '') && !Number.isInteger(id)) {
    throw new MessageError(
      `rpcResponse.requestUUID must be a non-empty string (or id an integer), got ${typeOf(id)}`,
      'bad-rpc-reply',
    );
  }
  return { requestUUID: String(id), response: r.response === undefined ? null : r.response };
}

export type ItemResult =
  | { ok: true; index: number; item: UplinkItem }
  | { ok: false; index: number; error: MessageError };

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v as object).length === 0;
}

/** One item of a decoder's result. Throws a MessageError naming what is wrong with it. */
export function parseItem(raw: unknown, defaultTs: number): UplinkItem {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MessageError(`decoder result must be an object, got ${typeOf(raw)}`, 'bad-result');
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.deviceName !== 'string' || r.deviceName.trim() === '') {
    throw new MessageError('decoder result has no deviceName (a non-empty string)', 'no-device-name');
  }
  if (r.deviceType !== undefined && r.deviceType !== null && typeof r.deviceType !== 'string') {
    throw new MessageError(`deviceType must be a string, got ${typeOf(r.deviceType)}`, 'bad-result');
  }
  const attributes = isEmpty(r.attributes) ? {} : attributesFromPayload(r.attributes);
  let telemetry: TelemetryBatch[] = [];
  if (!isEmpty(r.telemetry)) {
    telemetry = telemetryFromPayload(r.telemetry, defaultTs);
  }
  return {
    deviceName: r.deviceName,
    deviceType: typeof r.deviceType === 'string' && r.deviceType !== '' ? r.deviceType : 'default',
    attributes,
    telemetry,
    ...(r.rpcResponse === undefined || r.rpcResponse === null ? {} : { rpcResponse: parseRpcResponse(r.rpcResponse) }),
  };
}

/** Every item of a decoder result (one object or an array), each parsed on its own. */
export function parseDecoderResult(result: unknown, defaultTs: number): ItemResult[] {
  const list = Array.isArray(result) ? result : [result];
  if (list.length === 0) {
    return [{ ok: false, index: 0, error: new MessageError('decoder returned an empty array', 'empty-result') }];
  }
  return list.map((raw, index) => {
    try {
      return { ok: true, index, item: parseItem(raw, defaultTs) };
    } catch (err) {
      const e =
        err instanceof MessageError ? err : new MessageError(String((err as Error)?.message ?? err), 'bad-result');
      const where = Array.isArray(result) ? `item ${index}: ` : '';
      return { ok: false, index, error: new MessageError(`${where}${e.message}`, e.code, { ...e.details, index }) };
    }
  });
}

/** The rule-engine messages an uplink item stands for: attributes and telemetry, each when present. */
export function messagesForItem(item: UplinkItem, base: { ts: number; topic?: string; metadata: Metadata }): RuleMsg[] {
  const metadata: Metadata = {};
  for (const k of Object.keys(base.metadata)) setOwn(metadata, k, base.metadata[k]);
  metadata.deviceName = item.deviceName;
  metadata.deviceType = item.deviceType;
  metadata.ts = toMetadataValue(base.ts);
  if (base.topic !== undefined) metadata.topic = base.topic;
  const out: RuleMsg[] = [];
  const message = (payload: unknown, msgType: string): RuleMsg => {
    const msg = createMessage({ payload, metadata, msgType, originator: item.deviceName });
    if (base.topic !== undefined) msg.topic = base.topic;
    return msg;
  };
  if (Object.keys(item.attributes).length > 0) out.push(message(item.attributes, MsgType.POST_ATTRIBUTES_REQUEST));
  if (item.telemetry.length > 0) out.push(message(item.telemetry, MsgType.POST_TELEMETRY_REQUEST));
  return out;
}
