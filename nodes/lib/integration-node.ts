/** Finding the integration (and its device store) a node is configured with. */
import type { Node, NodeAPI } from 'node-red';
import type { BrokerWaitingRoom } from './downlink-queue';
import type { Integration } from './integration';
import { MessageError } from './message';
import { type DeviceStoreNode, resolveDeviceStore } from './node-red';

/** What a config node of type rule-integration exposes to the nodes that use it. */
export interface IntegrationConfig extends Node {
  integration?: Integration;
  deviceStoreId?: string;
  brokerId?: string;
  /** Downlinks waiting for the broker (absent when the integration names no broker or queues nothing). */
  downlinkWaiting?: BrokerWaitingRoom;
}

/** What the core mqtt-broker config node exposes about its connection. */
interface BrokerNode extends Node {
  connected?: boolean;
  broker?: string;
  port?: unknown;
}

export function resolveIntegration(
  RED: NodeAPI,
  id: string | undefined,
): IntegrationConfig & { integration: Integration } {
  if (!id) throw new MessageError('no integration configured', 'no-integration');
  const n = RED.nodes.getNode(id) as IntegrationConfig | null;
  if (!n?.integration) throw new MessageError('the configured integration is missing or disabled', 'no-integration');
  if (n.integration.configError) throw n.integration.configError;
  return n as IntegrationConfig & { integration: Integration };
}

export function integrationStore(RED: NodeAPI, cfg: IntegrationConfig): DeviceStoreNode {
  return resolveDeviceStore(RED, cfg.deviceStoreId);
}

/**
 * Why the integration's broker (the core mqtt-broker config node it names) cannot take a publish now, or
 * undefined when it can or none is named. `waitable`: it exists and is only disconnected.
 */
export function brokerProblem(RED: NodeAPI, cfg: IntegrationConfig): { text: string; waitable: boolean } | undefined {
  if (!cfg.brokerId) return undefined;
  const b = RED.nodes.getNode(cfg.brokerId) as BrokerNode | null;
  if (!b) return { text: 'the MQTT broker configured on the integration is missing', waitable: false };
  if (b.connected) return undefined;
  return { text: `MQTT broker ${b.broker ?? ''}${b.port ? `:${b.port}` : ''} is not connected`, waitable: true };
}
