/**
 * Builds the imported flow: one tab named after the rule chain, its nodes with positions and wires, and the
 * config nodes (device store, integration, MQTT broker) each created once, when a node first needs it.
 */
import { DEBUG_WHOLE_MESSAGE, type FlowNode, Ids, type ImportReport, type Json, snap } from './model';
import type { Converters, MqttIntegration } from './sources';

/** The tutorial's device topic, used when no integration export says which topics to subscribe to. */
export const ASSUMED_TOPIC = 'devices/+/temperature/latest';

/** A converter script that was not imported fails every message, saying so, rather than doing nothing. */
const missing = (which: string) =>
  `throw new Error('No ${which} converter was imported: paste its script here (rule-engine-import --converter <file>)');`;

export class FlowBuilder {
  readonly nodes: FlowNode[] = [];
  private readonly configs: FlowNode[] = [];
  private readonly ids: Ids;
  readonly tab: string;
  private storeId?: string;
  private integrationId?: string;
  private brokerId?: string;
  /** Modules other than Node-RED and this package the flow needs, for the global-config hint. */
  readonly modules: Record<string, string> = {};

  constructor(
    readonly label: string,
    private readonly converters: Converters,
    private readonly mqtt: MqttIntegration | undefined,
    readonly report: ImportReport,
    seed: string,
  ) {
    this.ids = new Ids(seed);
    this.tab = this.ids.next();
  }

  /** A node on the tab at (x, y) snapped to the grid, with `outputs` empty ports. */
  add(settings: Json & { type: string }, pos: { x: number; y: number }, outputs = 0): FlowNode {
    const node: FlowNode = {
      id: this.ids.next(),
      z: this.tab,
      ...settings,
      x: snap(Math.max(pos.x, 100)),
      y: snap(Math.max(pos.y, 40)),
      wires: Array.from({ length: outputs }, () => [] as string[]),
    };
    this.nodes.push(node);
    return node;
  }

  wire(from: FlowNode, port: number, to: FlowNode): void {
    (from.wires as string[][])[port].push(to.id);
  }

  config(settings: Json & { type: string }): string {
    const id = this.ids.next();
    this.configs.push({ id, ...settings });
    return id;
  }

  deviceStore(): string {
    this.storeId ??= this.config({
      type: 'rule-device-store',
      name: 'devices',
      backend: 'context',
      store: '',
      timeout: 5000,
    });
    return this.storeId;
  }

  broker(): string {
    if (this.brokerId) return this.brokerId;
    const m = this.mqtt;
    if (!m) {
      this.report.notes.push(
        `no integration export given: assumed a broker on localhost:1883 and the tutorial's topic ${ASSUMED_TOPIC}`,
      );
    } else if (m.credentials) {
      this.report.notes.push(
        `integration "${m.name}": the broker needs credentials, which exports do not carry: set them in the mqtt-broker node`,
      );
    }
    this.brokerId = this.config({
      type: 'mqtt-broker',
      name: m ? `${m.name} broker` : 'local MQTT broker',
      broker: m?.host ?? 'localhost',
      port: m?.port ?? 1883,
      clientid: '',
      autoConnect: true,
      usetls: m?.tls ?? false,
      protocolVersion: 4,
      keepalive: 60,
      cleansession: true,
      autoUnsubscribe: true,
    });
    return this.brokerId;
  }

  integration(): string {
    if (this.integrationId) return this.integrationId;
    const { decoder, encoder } = this.converters;
    if (!decoder)
      this.report.notes.push(
        'no uplink converter given: the integration decoder fails every message until one is pasted',
      );
    if (!encoder)
      this.report.notes.push(
        'no downlink converter given: the integration encoder fails every message until one is pasted',
      );
    this.integrationId = this.config({
      type: 'rule-integration',
      name: this.mqtt?.name ?? 'MQTT integration',
      decoder: decoder?.script ?? missing('uplink'),
      encoder: encoder?.script ?? missing('downlink'),
      decoderLanguage: decoder?.language ?? 'javascript',
      encoderLanguage: encoder?.language ?? 'javascript',
      metadata: this.mqtt?.metadata ?? [],
      deviceStore: this.deviceStore(),
      allowCreateDevices: true,
      topicPattern: this.mqtt?.downlinkTopicPattern ?? '${topic}',
      qos: 1,
      retain: false,
      maxPayloadBytes: 65536,
      timeout: 500,
      broker: this.broker(),
    });
    return this.integrationId;
  }

  /**
   * The MQTT ends of the integration: `mqtt in` per topic filter into an integration uplink that feeds the
   * chain's first node (when an uplink converter or an integration was given), and `mqtt out` after every
   * integration downlink. Uplink failures end in a debug node.
   */
  integrationEnds(first: FlowNode | undefined, at: { x: number; y: number }): void {
    for (const down of this.nodes.filter((n) => n.type === 'rule-integration-downlink')) {
      const out = this.add(
        { type: 'mqtt out', name: 'to the device', topic: '', qos: '', retain: '', broker: this.broker() },
        { x: Number(down.x) + 200, y: Number(down.y) },
      );
      this.wire(down, 0, out);
    }
    if (!this.converters.decoder && !this.mqtt) return;
    const uplink = this.add(
      { type: 'rule-integration-uplink', name: 'uplink converter', integration: this.integration() },
      { x: at.x - 200, y: at.y },
      2,
    );
    if (first) this.wire(uplink, 0, first);
    const failures = this.add({ ...DEBUG_WHOLE_MESSAGE, name: 'uplink failures' }, { x: at.x - 200, y: at.y + 60 });
    this.wire(uplink, 1, failures);
    const filters = this.mqtt?.topicFilters.length ? this.mqtt.topicFilters : [{ filter: ASSUMED_TOPIC, qos: 1 }];
    filters.forEach((f, i) => {
      const input = this.add(
        {
          type: 'mqtt in',
          name: '',
          topic: f.filter,
          qos: String(f.qos),
          datatype: 'buffer',
          broker: this.broker(),
          nl: false,
          rap: true,
          rh: 0,
          inputs: 0,
        },
        { x: at.x - 420, y: at.y + i * 60 },
        1,
      );
      this.wire(input, 0, uplink);
    });
  }

  /** The tab, its nodes, then the config nodes. */
  result(): FlowNode[] {
    const tab = {
      id: this.tab,
      type: 'tab',
      label: this.label,
      info: 'Imported from ThingsBoard by rule-engine-import.',
    };
    // As Node-RED writes on export, so that the editor offers to install a missing module.
    const hint =
      Object.keys(this.modules).length > 0
        ? [{ id: this.ids.next(), type: 'global-config', env: [], modules: this.modules }]
        : [];
    return [tab, ...this.nodes, ...this.configs, ...hint];
  }
}
