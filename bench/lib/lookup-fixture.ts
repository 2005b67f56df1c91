/**
 * The store and the lookup that the originator-attributes benchmarks share (originator-attributes.bench,
 * lookup-work, lookup-profile), so that their figures describe the same work.
 */
import type { DeviceStore } from '../../nodes/lib/device-store';

/** The node's settings: a client attribute, a server attribute and a latest telemetry value per lookup. */
export const LOOKUP_CONFIG = {
  clientAttributeNames: ['deviceName'],
  serverAttributeNames: ['active'],
  latestTsKeyNames: ['temperature'],
  fetchTo: 'metadata',
};

/** A prime: successive lookups visit devices far apart, so nothing is served from a warm spot. */
const STRIDE = 7919;

/** The device the n-th lookup asks for, in a store of `devices` devices. */
export function deviceFor(n: number, devices: number): string {
  return `device-${(n * STRIDE) % devices}`;
}

/** Puts devices `device-<from>` .. `device-<to - 1>` into the store, with what LOOKUP_CONFIG reads. */
export async function populate(store: DeviceStore, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const name = `device-${i}`;
    await store.ensureDevice(name, 'thermostat');
    await store.saveAttributes(name, 'client', { deviceName: name }, 1);
    await store.saveAttributes(name, 'server', { active: true }, 1);
    await store.saveTelemetry(name, [{ ts: 1, values: { temperature: 20 + (i % 10) } }]);
  }
}
