/**
 * RPC requests from a dashboard control to a device, without Node-RED: the rpc request node's settings, the call
 * a message asks for, its answer (getValue from the latest telemetry, or the request message, ThingsBoard's
 * RPC_CALL_FROM_SERVER_TO_DEVICE), the reply to the control, and the bookkeeping that lets the downlink tell the
 * requester that a one-way call was handed to MQTT, so the control shows success instead of a false time-out.
 */
import { randomUUID } from 'node:crypto';
import type { DeviceStore } from './device-store';
import { createMessage, MessageError, MsgType, type RuleMsg } from './message';
import { numberSetting } from './settings';

/**
 * 'queued': the downlink holds the call until its broker is back; 'sent': a two-way call was handed to MQTT and
 * waits for the device's reply. Another outcome follows either.
 */
export type RpcStatus = 'ok' | 'error' | 'timeout' | 'queued' | 'sent';
export interface RpcOutcome {
  status: RpcStatus;
  error?: string;
  /** A two-way call's reply from the device. */
  response?: unknown;
}

/** What became of a device's reply (see PendingRpcs.respond). */
export type ReplyMatch = 'matched' | 'late' | 'unknown';

/** How many timed-out two-way requests are remembered, so that a late reply is reported as late. */
const LATE_REPLIES_REMEMBERED = 1000;

type Settle = (o: RpcOutcome) => void;

/**
 * Requests waiting for their downlink, by requestUUID. In-process on purpose: the request and its downlink run in
 * the same Node-RED instance (a flow), even when several instances share the device store.
 */
export class PendingRpcs {
  private readonly pending = new Map<string, Settle>();
  /** Two-way requests among the pending ones: handed to MQTT, they wait for the device's reply. */
  private readonly twoWay = new Set<string>();
  /** Two-way requests that ended without a reply, oldest first. */
  private readonly ended = new Set<string>();

  add(requestUUID: string, settle: Settle, twoWay = false): void {
    this.pending.set(requestUUID, settle);
    if (twoWay) this.twoWay.add(requestUUID);
  }

  /** Called by the downlink once the call is handed to MQTT: a one-way call is done, a two-way one waits. */
  delivered(requestUUID: string | undefined): boolean {
    if (requestUUID !== undefined && this.twoWay.has(requestUUID)) return this.notify(requestUUID, { status: 'sent' });
    return this.settle(requestUUID, { status: 'ok' });
  }

  /** Called by the uplink with a device's reply to a two-way call. */
  respond(requestUUID: string, response: unknown): ReplyMatch {
    if (this.twoWay.has(requestUUID) && this.settle(requestUUID, { status: 'ok', response })) return 'matched';
    return this.ended.has(requestUUID) ? 'late' : 'unknown';
  }

  /** Called by the downlink when the call failed; true when a requester was waiting for this id. */
  settle(requestUUID: string | undefined, outcome: RpcOutcome): boolean {
    if (!requestUUID) return false;
    const s = this.pending.get(requestUUID);
    if (!s) return false;
    this.pending.delete(requestUUID);
    this.twoWay.delete(requestUUID);
    s(outcome);
    return true;
  }
  /** Called by the downlink when the request waits in its queue: the requester hears it and keeps waiting. */
  notify(requestUUID: string | undefined, outcome: RpcOutcome): boolean {
    const s = requestUUID === undefined ? undefined : this.pending.get(requestUUID);
    s?.(outcome);
    return s !== undefined;
  }
  /** The requester stopped waiting (a time-out, the node closed). */
  forget(requestUUID: string): void {
    this.pending.delete(requestUUID);
    if (!this.twoWay.delete(requestUUID)) return;
    this.ended.add(requestUUID);
    if (this.ended.size > LATE_REPLIES_REMEMBERED) this.ended.delete(this.ended.values().next().value as string);
  }
  get size(): number {
    return this.pending.size;
  }
}

export const pendingRpcs = new PendingRpcs();

export interface RpcRequestParts {
  method: string;
  value: unknown;
  deviceName: string;
  deviceType: string;
  oneway: boolean;
  timeoutMs: number;
  now: number;
  requestUUID?: string;
}

/** The rule-engine message of an RPC call to a device; params travel as a JSON string, as in ThingsBoard. */
export function rpcRequestMessage(p: RpcRequestParts): RuleMsg {
  const requestUUID = p.requestUUID ?? randomUUID();
  return createMessage({
    payload: { method: p.method, params: JSON.stringify(p.value === undefined ? null : p.value) },
    metadata: {
      requestUUID,
      oneway: String(p.oneway),
      expirationTime: String(p.now + p.timeoutMs),
      deviceName: p.deviceName,
      deviceType: p.deviceType,
    },
    msgType: MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE,
    originator: p.deviceName,
  });
}

/** The rpc request node's settings, as the editor stores them. */
export interface RpcNodeDef {
  device?: string;
  method?: string;
  getValueMethod?: string;
  valueKey?: string;
  timeout?: string | number;
  oneway?: boolean | string;
}

export interface RpcSettings {
  /** The device when the node names one (else each message's originator). */
  device: string;
  /** The method of a message that names none. */
  method: string;
  /** The method answered from the latest telemetry, never sent to the device ('' for none). */
  getValueMethod: string;
  /** The telemetry key getValue answers with. */
  valueKey: string;
  timeoutMs: number;
  oneway: boolean;
}

export function rpcSettings(def: RpcNodeDef): RpcSettings {
  return {
    device: (def.device ?? '').trim(),
    method: (def.method || 'setValue').trim(),
    getValueMethod: (def.getValueMethod ?? 'getValue').trim(),
    valueKey: (def.valueKey || 'temperature').trim(),
    timeoutMs: numberSetting(def.timeout, 500, 1),
    oneway: def.oneway !== false && def.oneway !== 'false',
  };
}

/** One call, as a message asks for it. */
export interface RpcCall {
  requestUUID: string;
  method: string;
  /** '' when neither the node nor the message names one. */
  device: string;
  value: unknown;
}

/** The call `msg` asks for: `msg.method` and `msg.originator` when set, else the node's; `msg.payload` the value. */
export function rpcCallOf(
  msg: { payload?: unknown; method?: unknown; originator?: unknown },
  s: RpcSettings,
  requestUUID: string = randomUUID(),
): RpcCall {
  return {
    requestUUID,
    method: typeof msg.method === 'string' && msg.method !== '' ? msg.method : s.method,
    device: s.device || (typeof msg.originator === 'string' ? msg.originator : ''),
    value: msg.payload,
  };
}

/** The answer to the control (output 2): `msg` with `payload` and `msg.rpc` saying how the call went. */
export function rpcReply<M extends object>(
  msg: M,
  call: RpcCall,
  payload: unknown,
  outcome: RpcOutcome,
): M & { payload: unknown; rpc: { requestUUID: string; method: string; status: RpcStatus; error?: string } } {
  return {
    ...msg,
    payload,
    rpc: {
      requestUUID: call.requestUUID,
      method: call.method,
      status: outcome.status,
      ...(outcome.error ? { error: outcome.error } : {}),
    },
  };
}

/** What a call becomes: a value answered at once (getValue), or a request to send to the device. */
export type RpcStart = { value: unknown; request?: undefined } | { request: RuleMsg; value?: undefined };

/**
 * Starts `call`: getValue is answered from the device's latest telemetry (the tutorial's device turned its null
 * params into NaN); any other method becomes the request message for a device the store knows. Every problem is a
 * MessageError.
 */
export async function startRpc(store: DeviceStore, call: RpcCall, s: RpcSettings, now: number): Promise<RpcStart> {
  const device = call.device;
  if (!device) throw new MessageError('no device: set one on the node or send msg.originator', 'originator-missing');
  if (s.getValueMethod && call.method === s.getValueMethod) {
    const entry = (await store.getLatest(device, [s.valueKey])).get(s.valueKey);
    if (!entry) throw new MessageError(`no latest "${s.valueKey}" telemetry for device "${device}" yet`, 'no-value');
    return { value: entry.value };
  }
  const dev = await store.getDevice(device);
  if (!dev) throw new MessageError(`unknown device "${device}"`, 'unknown-device');
  const request = rpcRequestMessage({
    method: call.method,
    value: call.value,
    deviceName: device,
    deviceType: dev.type,
    oneway: s.oneway,
    timeoutMs: s.timeoutMs,
    now,
    requestUUID: call.requestUUID,
  });
  return { request };
}

/**
 * The requests of one node waiting for their downlink (and, for a two-way call, the device's reply): each ends
 * once, with the outcome or, after `timeoutMs`, a time-out ('queued' and 'sent' notices may come before);
 * close() drops them all (the node is stopped).
 */
export class RpcWaits {
  private readonly waiting = new Map<string, NodeJS.Timeout>();

  constructor(private readonly pending: PendingRpcs = pendingRpcs) {}

  wait(requestUUID: string, timeoutMs: number, settle: Settle, twoWay = false): void {
    let sent = false;
    const timer = setTimeout(() => {
      this.waiting.delete(requestUUID);
      this.pending.forget(requestUUID);
      const error = sent ? `no reply from the device within ${timeoutMs} ms` : `no downlink within ${timeoutMs} ms`;
      settle({ status: 'timeout', error });
    }, timeoutMs);
    this.waiting.set(requestUUID, timer);
    this.pending.add(
      requestUUID,
      (outcome) => {
        if (outcome.status === 'sent') sent = true;
        if (outcome.status === 'queued' || outcome.status === 'sent') return settle(outcome);
        clearTimeout(timer);
        this.waiting.delete(requestUUID);
        settle(outcome);
      },
      twoWay,
    );
  }

  get size(): number {
    return this.waiting.size;
  }

  close(): void {
    for (const [id, timer] of this.waiting) {
      clearTimeout(timer);
      this.pending.forget(id);
    }
    this.waiting.clear();
  }
}
