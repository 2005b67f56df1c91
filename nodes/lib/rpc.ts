/**
 * RPC requests from a dashboard control to a device: the request message (ThingsBoard's
 * RPC_CALL_FROM_SERVER_TO_DEVICE) and the bookkeeping that lets the downlink tell the requester that a
 * one-way call was handed to MQTT, so the control shows success instead of a false time-out.
 */
import { randomUUID } from 'node:crypto';
import { createMessage, MsgType, type RuleMsg } from './message';

export type RpcStatus = 'ok' | 'error' | 'timeout';
export interface RpcOutcome {
  status: RpcStatus;
  error?: string;
}

type Settle = (o: RpcOutcome) => void;

/**
 * Requests waiting for their downlink, by requestUUID. In-process on purpose: the request and its downlink run in
 * the same Node-RED instance (a flow), even when several instances share the device store.
 */
class PendingRpcs {
  private readonly pending = new Map<string, Settle>();
  add(requestUUID: string, settle: Settle): void {
    this.pending.set(requestUUID, settle);
  }
  /** Called by the downlink; true when a requester was waiting for this id. */
  settle(requestUUID: string | undefined, outcome: RpcOutcome): boolean {
    if (!requestUUID) return false;
    const s = this.pending.get(requestUUID);
    if (!s) return false;
    this.pending.delete(requestUUID);
    s(outcome);
    return true;
  }
  forget(requestUUID: string): void {
    this.pending.delete(requestUUID);
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
