/** Finding the integration (and its device store) a node is configured with. */
import type { NodeAPI } from 'node-red';
import type { Integration } from './integration';
import { MessageError } from './message';
import { type DeviceStoreNode, resolveDeviceStore } from './node-red';

interface IntegrationConfig {
  integration?: Integration;
  deviceStoreId?: string;
  brokerId?: string;
}

export function resolveIntegration(
  RED: NodeAPI,
  id: string | undefined,
): IntegrationConfig & { integration: Integration } {
  if (!id) throw new MessageError('no integration configured', 'no-integration');
  const n = RED.nodes.getNode(id) as unknown as IntegrationConfig | null;
  if (!n?.integration) throw new MessageError('the configured integration is missing or disabled', 'no-integration');
  if (n.integration.configError) throw n.integration.configError;
  return n as IntegrationConfig & { integration: Integration };
}

export function integrationStore(RED: NodeAPI, cfg: IntegrationConfig): DeviceStoreNode {
  return resolveDeviceStore(RED, cfg.deviceStoreId);
}

/** The core mqtt-broker config node's connection state, when the integration names one. */
export function brokerDown(RED: NodeAPI, cfg: IntegrationConfig): string | undefined {
  if (!cfg.brokerId) return undefined;
  const b = RED.nodes.getNode(cfg.brokerId) as unknown as {
    connected?: boolean;
    broker?: string;
    port?: unknown;
  } | null;
  if (!b) return 'the MQTT broker configured on the integration is missing';
  if (b.connected) return undefined;
  return `MQTT broker ${b.broker ?? ''}${b.port ? `:${b.port}` : ''} is not connected`;
}
