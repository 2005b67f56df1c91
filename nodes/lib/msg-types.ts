/**
 * "message type switch": which output a message type goes to, in ThingsBoard's labels. Pure: the node only
 * looks the port up and sends.
 */
import { MsgType } from './message';

export interface SwitchPort {
  /** Key of the port's label in the locale catalog (`msg-type-switch.outputs.<key>`). */
  key: string;
  /** ThingsBoard's relation name for the port (the English label). */
  label: string;
  /** The message type routed here; undefined for Other. */
  msgType?: string;
}

/** The outputs in order; the last one, Other, takes every type not listed before it. */
export const SWITCH_PORTS: readonly SwitchPort[] = Object.freeze([
  { key: 'postAttributes', label: 'Post attributes', msgType: MsgType.POST_ATTRIBUTES_REQUEST },
  { key: 'postTelemetry', label: 'Post telemetry', msgType: MsgType.POST_TELEMETRY_REQUEST },
  { key: 'rpcFromDevice', label: 'RPC Request from Device', msgType: MsgType.TO_SERVER_RPC_REQUEST },
  { key: 'rpcToDevice', label: 'RPC Request to Device', msgType: MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE },
  { key: 'attributesUpdated', label: 'Attributes Updated', msgType: MsgType.ATTRIBUTES_UPDATED },
  { key: 'attributesDeleted', label: 'Attributes Deleted', msgType: MsgType.ATTRIBUTES_DELETED },
  { key: 'timeseriesUpdated', label: 'Timeseries Updated', msgType: MsgType.TIMESERIES_UPDATED },
  { key: 'other', label: 'Other' },
]);

export const OTHER_PORT = SWITCH_PORTS.length - 1;

const portByType = new Map<string, number>(
  SWITCH_PORTS.flatMap((p, i) => (p.msgType ? [[p.msgType, i] as [string, number]] : [])),
);

/** The output index for a message type: exact match, anything else (missing, not a string) to Other. */
export function portFor(msgType: unknown): number {
  if (typeof msgType !== 'string') return OTHER_PORT;
  return portByType.get(msgType) ?? OTHER_PORT;
}
