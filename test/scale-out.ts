/**
 * The scale-out recipe as the tests, the benchmark and `npm start -- --instances N` run it: the example flow
 * (examples/07-scale-out.json) made ready for one instance, readings for the feeder, and a subscriber that counts
 * what every instance's Success and Failure outputs report. Compiled to dist/test/scale-out.js, which
 * scripts/start.js requires.
 */
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { root } from './toolkit';

export type FlowNode = Record<string, unknown> & { id: string; type: string; z?: string; wires?: string[][] };

export const SCALE_EXAMPLE = '07-scale-out.json';
/** The topics the counters publish to: <prefix>/ok/<instance> and <prefix>/failed/<instance>. */
export const COUNT_PREFIX = 'scale-out';

export interface ScaleFlowOptions {
  /** The broker's host and port (the example says localhost:1883). */
  brokerHost?: string;
  brokerPort: number;
  /** Names this instance: its counters' topics and, with persistentSession, its MQTT client id. */
  instance: string;
  /**
   * The device store: Redis at this URL (key prefix `redisPrefix`), or, when left out, Node-RED's context as
   * before (each instance then has a store of its own).
   */
  redisUrl?: string;
  redisPrefix?: string;
  /** A fixed client id and clean session off: the broker keeps the instance's subscription while it is away. */
  persistentSession?: boolean;
  /** Wire Success and Failure to mqtt out nodes that report each reading (for the tests and the benchmark). */
  counters?: boolean;
  /**
   * Readings under `<topicPrefix>/devices/...` and a share group of their own: set-ups side by side on one
   * broker each get only their own readings (the benchmark).
   */
  topicPrefix?: string;
}

/** The scale-out example as shipped. */
export function scaleExample(): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(root, 'examples', SCALE_EXAMPLE), 'utf8')) as FlowNode[];
}

/** The example's flow for one instance, as a user would edit its config nodes. */
export function scaleFlow(o: ScaleFlowOptions): FlowNode[] {
  const nodes = scaleExample();
  const tab = nodes.find((n) => n.type === 'tab')?.id as string;
  const broker = nodes.find((n) => n.type === 'mqtt-broker') as FlowNode;
  broker.broker = o.brokerHost ?? '127.0.0.1';
  broker.port = o.brokerPort;
  if (o.persistentSession) {
    broker.clientid = `rule-engine-${o.instance}`;
    broker.cleansession = false;
  }
  if (o.topicPrefix) {
    const mqttIn = nodes.find((n) => n.type === 'mqtt in') as FlowNode;
    mqttIn.topic = `$share/rule-engine-${o.topicPrefix}/${readingTopic('+', o.topicPrefix)}`;
  }
  const store = nodes.find((n) => n.type === 'rule-device-store') as FlowNode;
  if (o.redisUrl) {
    store.redisUrl = o.redisUrl;
    store.redisPrefix = o.redisPrefix ?? 'rule-engine';
  } else {
    for (const k of Object.keys(store)) if (k === 'backend' || k.startsWith('redis')) delete store[k];
  }
  if (!o.counters) return nodes;

  // Success of "save time series" means the reading is saved; a reading that fails goes to Failure at the uplink
  // (not decoded, device not created) or at "save time series" (not saved).
  const counter = (id: string, kind: 'ok' | 'failed'): FlowNode => ({
    id,
    type: 'mqtt out',
    z: tab,
    name: `count ${kind}`,
    topic: `${COUNT_PREFIX}/${kind}/${o.instance}`,
    qos: '1',
    retain: 'false',
    broker: broker.id,
    wires: [],
  });
  nodes.push(counter('scalecountok001', 'ok'), counter('scalecountbad01', 'failed'));
  const uplink = nodes.find((n) => n.type === 'rule-integration-uplink') as FlowNode;
  const saveTs = nodes.find((n) => n.type === 'rule-save-timeseries') as FlowNode;
  uplink.wires = [uplink.wires?.[0] ?? [], ['scalecountbad01']];
  saveTs.wires = [['scalecountok001'], ['scalecountbad01']];
  return nodes;
}

/** One reading as the tutorial's thermostat sends it; `temperature` carries the reading's number. */
export interface Reading {
  seq: number;
  device: string;
  ts: number;
  /** The device type it reports (default thermostat). */
  type?: string;
}

export function readingTopic(device: string, topicPrefix?: string): string {
  return `${topicPrefix ? `${topicPrefix}/` : ''}devices/${device}/temperature/latest`;
}

export function readingPayload(r: Reading): string {
  return JSON.stringify({
    deviceName: r.device,
    deviceType: r.type ?? 'thermostat',
    temperature: r.seq,
    timestamp: r.ts,
  });
}

/**
 * `perDevice` readings for each of `devices` devices, numbered from `firstSeq`, in an order that interleaves the
 * devices and shuffles each device's timestamps (a fixed seed: a failure can be replayed).
 */
export function shuffledReadings(devices: number, perDevice: number, firstSeq = 0, seed = 14): Reading[] {
  let s = seed;
  const random = () => {
    // mulberry32: small, seeded, good enough to shuffle
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const shuffle = <T>(a: T[]) => {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  const base = 1_700_000_000_000;
  const out: Reading[] = [];
  let seq = firstSeq;
  const order = Array.from({ length: devices }, () => shuffle(Array.from({ length: perDevice }, (_, k) => k)));
  for (let k = 0; k < perDevice; k++) {
    for (let d = 0; d < devices; d++) {
      out.push({ seq: seq++, device: `Thermostat-${String(d).padStart(3, '0')}`, ts: base + order[d][k] * 1000 });
    }
  }
  return shuffle(out);
}

/** The reading number in what a counter published: the saved telemetry, or the raw reading at the uplink. */
function seqOf(payload: Buffer): number | undefined {
  try {
    const v = JSON.parse(payload.toString()) as unknown;
    const t = Array.isArray(v)
      ? (v[0] as { values?: { temperature?: unknown } })?.values?.temperature
      : (v as { temperature?: unknown })?.temperature;
    return typeof t === 'number' ? t : undefined;
  } catch {
    return undefined;
  }
}

function connect(url: string, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, protocolVersion: 4, clean: true, reconnectPeriod: 500 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Counts, per reading number, how often each instance reported it saved (ok) or at Failure (failed). */
export class ScaleCounter {
  readonly ok = new Map<number, number>();
  readonly failed = new Map<number, number>();
  /** Readings saved, per instance. */
  readonly byInstance = new Map<string, number>();
  /** Called on each report, after it is counted. */
  onReport: (instance: string) => void = () => {};
  private constructor(private readonly client: MqttClient) {}

  static async connect(url: string): Promise<ScaleCounter> {
    const client = await connect(url, `scale-counter-${process.pid}-${Date.now()}`);
    const counter = new ScaleCounter(client);
    client.on('message', (topic, payload) => counter.record(topic, payload));
    await client.subscribeAsync(`${COUNT_PREFIX}/#`, { qos: 1 });
    return counter;
  }

  private record(topic: string, payload: Buffer): void {
    const [, kind, instance] = topic.split('/');
    const seq = seqOf(payload);
    if (seq === undefined) return;
    const into = kind === 'ok' ? this.ok : this.failed;
    into.set(seq, (into.get(seq) ?? 0) + 1);
    if (kind === 'ok') this.byInstance.set(instance, (this.byInstance.get(instance) ?? 0) + 1);
    this.onReport(instance);
  }

  /** How many of `seqs` were reported at all (ok or failed). */
  reported(seqs: Iterable<number>): number {
    let n = 0;
    for (const s of seqs) if (this.ok.has(s) || this.failed.has(s)) n++;
    return n;
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

/** Publishes readings at QoS 1, at most `inFlight` unacknowledged at a time; `onSent` after each acknowledgement. */
export class ScaleFeeder {
  private constructor(readonly client: MqttClient) {}

  static async connect(url: string): Promise<ScaleFeeder> {
    return new ScaleFeeder(await connect(url, `scale-feeder-${process.pid}-${Date.now()}`));
  }

  async publish(
    readings: Reading[],
    inFlight = 200,
    onSent: (done: number) => void = () => {},
    topicPrefix?: string,
  ): Promise<void> {
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < readings.length) {
        const r = readings[next++];
        await this.client.publishAsync(readingTopic(r.device, topicPrefix), readingPayload(r), { qos: 1 });
        onSent(++done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, readings.length) }, worker));
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}
