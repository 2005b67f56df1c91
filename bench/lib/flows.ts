/**
 * The set-ups of the side-by-side benchmark (bench/run.ts) and the one Node-RED flow that holds all of them,
 * once per QoS level, on one broker connection (as a user's flows share one `mqtt-broker` config node).
 *
 *  raw         mqtt.js publish → broker → mqtt.js subscriber (no Node-RED)
 *  passthrough mqtt in → mqtt out
 *  core_timed  mqtt in → change (device name from global context into msg.metadata, the RPC request's shape)
 *              → function (the tutorial's script) → function (the tutorial's encoder) → mqtt out,
 *              both function nodes with their time limit (timeout 1 s)
 *  core        the same with no time limit
 *  ours        mqtt in → rpc request → originator attributes → script → integration downlink → mqtt out
 *              (the tutorial's script and encoder, unchanged; time limits and isolation as shipped)
 *  uplink      mqtt in → integration uplink (the tutorial's decoder) → message type switch → save time series
 *              → mqtt out (and the attributes message → save attributes (client), as in the tutorial)
 *
 * Every message carries a sequence number from the feeder to the subscriber (the knob's value for the RPC
 * paths, the temperature for the uplink), so that deliveries are matched to their publish time.
 */
import { tbDownlinkEncoder, tbTutorialScript, tbUplinkDecoder } from '../../test/tb-fixtures';
import { mqttBrokerNode } from '../../test/toolkit';

export const SETUPS = ['raw', 'passthrough', 'core_timed', 'core', 'ours', 'uplink'] as const;
export type Setup = (typeof SETUPS)[number];
export type Qos = 0 | 1;

export const SETUP_LABELS: Record<Setup, string> = {
  raw: 'bare MQTT (mqtt.js → broker → mqtt.js)',
  passthrough: 'Node-RED mqtt in → mqtt out',
  core_timed: 'core nodes, function time limit on',
  core: 'core nodes, no time limit',
  ours: 'ours: rpc → attributes → script → downlink',
  uplink: 'ours: uplink → save time series',
};

export const DEVICE = 'Thermostat-A';
/** Where the tutorial's encoder publishes the set-point (also the core flow's topic). */
export const SETTINGS_TOPIC = `devices/${DEVICE}/temperature/settings`;

export function inTopic(s: Setup, q: Qos): string {
  return s === 'raw' ? outTopic(s, q) : `bench/in/${s}/q${q}`;
}
export function outTopic(s: Setup, q: Qos): string {
  if (s === 'core_timed' || s === 'core' || s === 'ours') return SETTINGS_TOPIC;
  return `bench/out/${s}/q${q}`;
}
/** What the subscriber subscribes to (QoS 1: a QoS 0 publish is delivered at QoS 0). */
export const SUBSCRIPTIONS = ['bench/out/#', 'devices/+/temperature/settings'];

/** The feeder's payload for sequence number `seq`. */
export function payloadFor(s: Setup, seq: number): string {
  if (s === 'uplink') {
    return JSON.stringify({ temperature: seq, deviceName: DEVICE, deviceType: 'thermostat', timestamp: Date.now() });
  }
  return String(seq);
}

/** The sequence number in a delivered payload (NaN when there is none). */
export function seqOf(topic: string, payload: Buffer): number {
  if (topic.startsWith('bench/out/uplink/')) {
    // save time series passes on [{ts, values: {temperature}}]
    const m = /"temperature":(\d+)/.exec(payload.toString('latin1'));
    return m ? Number(m[1]) : Number.NaN;
  }
  return Number(payload.toString('latin1'));
}

// ------------------------------------------------------------------------------------------- the fixtures

export interface Fixtures {
  decoder: string;
  encoder: string;
  script: string;
  source: string;
}

/**
 * The tutorial's decoder, encoder and script, verbatim from test/fixtures/thingsboard. A missing export throws:
 * a benchmark of something else under the tutorial's name would mislead.
 */
export function loadFixtures(): Fixtures {
  return {
    decoder: tbUplinkDecoder(),
    encoder: tbDownlinkEncoder(),
    script: tbTutorialScript(),
    source: 'test/fixtures/thingsboard',
  };
}

// --------------------------------------------------------------------------------- the core-only version

/** The tutorial's script for a function node: msg.payload is ThingsBoard's msg, msg.metadata its metadata. */
export const CORE_SCRIPT = `var metadata = msg.metadata;
msg.payload.deviceName = metadata.cs_deviceName;
return msg;`;

/** The tutorial's encoder for a function node, its result turned into what mqtt out publishes. */
export const CORE_ENCODER = `var data = {};
data = msg.payload.params.replace(/\\"/g, "");
var result = {
    contentType: "JSON",
    data: JSON.parse(data),
    metadata: {
        topic: 'devices/' + msg.payload.deviceName + '/temperature/settings'
    }
};
msg.topic = result.metadata.topic;
msg.payload = JSON.stringify(result.data);
return msg;`;

// ------------------------------------------------------------------------------------------------ the flow

type N = Record<string, unknown>;

/** A core function node on the bench tab running `func` (time limit `timeout` s, 0: none), sending to `to`. */
function functionNode(id: string, name: string, func: string, timeout: number, at: N, to: string): N {
  const code = { func, outputs: 1, timeout, noerr: 0, initialize: '', finalize: '', libs: [] };
  return { id, type: 'function', z: 'tab', name, ...code, ...at, wires: [[to]] };
}

export interface FlowOptions {
  brokerPort: number;
  fixtures: Fixtures;
  /** Which set-ups to deploy (default: all). */
  setups?: readonly Setup[];
  qos?: readonly Qos[];
}

export const STORE_ID = 'store';

export function buildFlow(o: FlowOptions): N[] {
  const setups = o.setups ?? SETUPS;
  const qosList = o.qos ?? [0, 1];
  let y = 0;
  const at = (x: number) => ({ x, y });
  const flow: N[] = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { ...mqttBrokerNode('conn', o.brokerPort, 'bench broker'), autoUnsubscribe: true },
    { id: STORE_ID, type: 'rule-device-store', name: 'devices', store: '', timeout: 5000 },
  ];
  const mqttIn = (id: string, s: Setup, q: Qos, datatype: string, wires: string[]) => ({
    id,
    type: 'mqtt in',
    z: 'tab',
    topic: inTopic(s, q),
    qos: String(q),
    datatype,
    broker: 'conn',
    nl: false,
    rap: true,
    rh: 0,
    inputs: 0,
    ...at(100),
    wires: [wires],
  });
  const mqttOut = (id: string, topic: string, qos: string, x: number) => ({
    id,
    type: 'mqtt out',
    z: 'tab',
    topic,
    qos,
    retain: '',
    broker: 'conn',
    ...at(x),
    wires: [],
  });

  if (setups.includes('core_timed') || setups.includes('core')) {
    y += 40;
    flow.push(
      {
        id: 'seedInject',
        type: 'inject',
        z: 'tab',
        props: [],
        once: true,
        onceDelay: 0.1,
        repeat: '',
        ...at(100),
        wires: [['seedGlobal']],
      },
      {
        id: 'seedGlobal',
        type: 'change',
        z: 'tab',
        rules: [{ t: 'set', p: 'deviceName', pt: 'global', to: DEVICE, tot: 'str' }],
        ...at(300),
        wires: [[]],
      },
    );
  }

  for (const q of qosList) {
    const integ = `integ_q${q}`;
    if (setups.includes('ours') || setups.includes('uplink')) {
      flow.push({
        id: integ,
        type: 'rule-integration',
        name: 'MQTT integration',
        decoder: o.fixtures.decoder,
        encoder: o.fixtures.encoder,
        metadata: [],
        deviceStore: STORE_ID,
        allowCreateDevices: true,
        topicPattern: '${topic}',
        qos: q,
        retain: false,
        maxPayloadBytes: 65536,
        timeout: 500,
        broker: 'conn',
      });
    }
    for (const s of setups) {
      const p = `${s}_q${q}_`;
      y += 40;
      switch (s) {
        case 'raw':
          break;
        case 'passthrough':
          flow.push(mqttIn(`${p}in`, s, q, 'buffer', [`${p}out`]), mqttOut(`${p}out`, outTopic(s, q), String(q), 300));
          break;
        case 'core_timed':
        case 'core': {
          const timeout = s === 'core_timed' ? 1 : 0;
          flow.push(
            mqttIn(`${p}in`, s, q, 'utf8', [`${p}change`]),
            {
              id: `${p}change`,
              type: 'change',
              z: 'tab',
              name: 'RPC request + deviceName',
              // The knob's value (as a JSON string, ThingsBoard's params) into {method, params}, and the
              // device's name from global context into msg.metadata.cs_deviceName.
              rules: [
                { t: 'move', p: 'payload', pt: 'msg', to: 'params', tot: 'msg' },
                { t: 'set', p: 'payload', pt: 'msg', to: '{"method":"setValue"}', tot: 'json' },
                { t: 'move', p: 'params', pt: 'msg', to: 'payload.params', tot: 'msg' },
                { t: 'set', p: 'metadata.cs_deviceName', pt: 'msg', to: 'deviceName', tot: 'global' },
              ],
              ...at(300),
              wires: [[`${p}script`]],
            },
            functionNode(`${p}script`, 'script', CORE_SCRIPT, timeout, at(500), `${p}encoder`),
            functionNode(`${p}encoder`, 'encoder', CORE_ENCODER, timeout, at(700), `${p}out`),
            mqttOut(`${p}out`, '', String(q), 900),
          );
          break;
        }
        case 'ours':
          flow.push(
            mqttIn(`${p}in`, s, q, 'auto-detect', [`${p}rpc`]),
            {
              id: `${p}rpc`,
              type: 'rule-rpc-request',
              z: 'tab',
              deviceStore: STORE_ID,
              device: DEVICE,
              method: 'setValue',
              getValueMethod: 'getValue',
              valueKey: 'temperature',
              timeout: 500,
              oneway: true,
              ...at(300),
              wires: [[`${p}oa`], []],
            },
            {
              id: `${p}oa`,
              type: 'rule-originator-attributes',
              z: 'tab',
              deviceStore: STORE_ID,
              clientAttributeNames: ['deviceName'],
              sharedAttributeNames: [],
              serverAttributeNames: [],
              latestTsKeyNames: [],
              fetchTo: 'metadata',
              getLatestValueWithTs: false,
              tellFailureIfAbsent: true,
              telemetryPrefix: '',
              ...at(500),
              wires: [[`${p}script`], []],
            },
            {
              id: `${p}script`,
              type: 'rule-script',
              z: 'tab',
              script: o.fixtures.script,
              timeout: 500,
              ...at(700),
              wires: [[`${p}down`], []],
            },
            {
              id: `${p}down`,
              type: 'rule-integration-downlink',
              z: 'tab',
              integration: integ,
              ...at(900),
              wires: [[`${p}out`], []],
            },
            mqttOut(`${p}out`, '', '', 1100),
          );
          break;
        case 'uplink':
          flow.push(
            mqttIn(`${p}in`, s, q, 'buffer', [`${p}up`]),
            {
              id: `${p}up`,
              type: 'rule-integration-uplink',
              z: 'tab',
              integration: integ,
              ...at(300),
              wires: [[`${p}switch`], []],
            },
            {
              id: `${p}switch`,
              type: 'rule-msg-type-switch',
              z: 'tab',
              ...at(500),
              wires: [[`${p}attr`], [`${p}ts`], [], [], [], [], [], []],
            },
            {
              id: `${p}attr`,
              type: 'rule-save-attributes',
              z: 'tab',
              deviceStore: STORE_ID,
              scope: 'client',
              ...at(700),
              wires: [[], []],
            },
            {
              id: `${p}ts`,
              type: 'rule-save-timeseries',
              z: 'tab',
              deviceStore: STORE_ID,
              ...at(700),
              wires: [[`${p}out`], []],
            },
            mqttOut(`${p}out`, outTopic(s, q), String(q), 900),
          );
          break;
      }
    }
  }
  return flow;
}
