#!/usr/bin/env node
/**
 * A virtual thermostat: the device of ThingsBoard's tutorial "Send data to external MQTT brokers".
 * Every interval it publishes its temperature to `devices/<name>/temperature/latest`; it listens on
 * `devices/<name>/temperature/settings` for a set-point and drifts towards it.
 *
 * Unlike the tutorial's device, a set-point that is not a finite number (the knob's `getValue` with params
 * `null`, `"abc"`, `{}`) is logged and ignored, so the temperature never becomes NaN.
 *
 * Run it: `rule-engine-thermostat --broker mqtt://127.0.0.1:1883 --name Thermostat-A`, or in-process with
 * `startThermostat(options)`.
 */
import { parseArgs } from 'node:util';
import { connect, type MqttClient } from 'mqtt';

export interface ThermostatOptions {
  /** Broker URL (default mqtt://127.0.0.1:1883). */
  broker?: string;
  /** Device name, the `<name>` in the topics (default Thermostat-A). */
  name?: string;
  /** Device type in each message (default thermostat). */
  type?: string;
  /** Milliseconds between readings (default 1000). */
  interval?: number;
  /** Starting temperature, also the first set-point (default 20). */
  initial?: number;
  /** Share of the gap to the set-point closed each reading (default 0.2). */
  rate?: number;
  /** Largest random change per reading, either way (default 0.05). */
  noise?: number;
  /** Where log lines go (default console.log); pass `() => {}` to silence. */
  log?: (line: string) => void;
}

export interface Thermostat {
  /** The last temperature published (or the initial one before the first reading), 1 decimal. */
  current(): number;
  /** The set-point the temperature drifts towards. */
  setPoint(): number;
  /** Resolves once connected and subscribed to the settings topic (so a set-point sent after it is heard). */
  ready(): Promise<void>;
  /** Stops publishing and disconnects; resolves when the connection is closed. */
  stop(): Promise<void>;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * Reads a set-point from an MQTT payload: a number (`42`, `42.5`) or a JSON string holding one (`"42"`).
 * Anything else (empty, `null`, `"abc"`, `{}`, `true`, `Infinity`) gives undefined.
 */
export function parseSetPoint(payload: Buffer | string): number | undefined {
  const json = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  let value = json(String(payload).trim());
  // A number inside a JSON string, as the tutorial's knob sends params. JSON's grammar (not Number()) decides,
  // so '', '0x10' and 'Infinity' are refused rather than read as 0, 16 and Infinity.
  if (typeof value === 'string') value = json(value.trim());
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function startThermostat(opts: ThermostatOptions = {}): Thermostat {
  const broker = opts.broker ?? 'mqtt://127.0.0.1:1883';
  const name = opts.name ?? 'Thermostat-A';
  const type = opts.type ?? 'thermostat';
  const interval = opts.interval ?? 1000;
  const rate = opts.rate ?? 0.2;
  const noise = opts.noise ?? 0.05;
  const log = opts.log ?? ((line: string) => console.log(line));
  const initial = opts.initial ?? 20;
  for (const [k, v] of Object.entries({ interval, initial, rate, noise })) {
    if (!Number.isFinite(v)) throw new Error(`thermostat: ${k} must be a finite number, got ${v}`);
  }
  if (interval <= 0) throw new Error(`thermostat: interval must be above 0, got ${interval}`);
  if (!name || /[+#/]/.test(name)) throw new Error(`thermostat: name "${name}" cannot be used in an MQTT topic`);

  const latestTopic = `devices/${name}/temperature/latest`;
  const settingsTopic = `devices/${name}/temperature/settings`;
  let temperature = initial;
  let target = initial;
  let stopped = false;

  const client: MqttClient = connect(broker, {
    clientId: `thermostat-${name}-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 1000,
    connectTimeout: 5000,
  });

  let resolveReady!: () => void;
  const readyPromise = new Promise<void>((r) => {
    resolveReady = r;
  });
  // Log a connection problem once per outage, not once per reconnect attempt.
  let lastError = '';
  client.on('connect', () => {
    lastError = '';
    log(`thermostat ${name}: connected to ${broker}`);
    client.subscribe(settingsTopic, { qos: 1 }, (err) => {
      if (err) log(`thermostat ${name}: cannot subscribe to ${settingsTopic}: ${err.message}`);
      else resolveReady();
    });
  });
  client.on('error', (err) => {
    if (err.message !== lastError) log(`thermostat ${name}: ${err.message}`);
    lastError = err.message;
  });
  client.on('message', (topic, payload) => {
    if (topic !== settingsTopic) return;
    const value = parseSetPoint(payload);
    if (value === undefined) {
      const shown = payload.length > 80 ? `${payload.subarray(0, 80).toString()}...` : payload.toString();
      log(`thermostat ${name}: ignored set-point ${JSON.stringify(shown)} (not a finite number)`);
      return;
    }
    target = value;
    log(`thermostat ${name}: set-point ${value}`);
  });

  const timer = setInterval(() => {
    temperature = round1(temperature + (target - temperature) * rate + (Math.random() * 2 - 1) * noise);
    // While disconnected, readings are not queued: a thermostat reports its present state, not a backlog.
    if (!client.connected) return;
    const reading = { temperature, deviceName: name, deviceType: type, timestamp: Date.now() };
    client.publish(latestTopic, JSON.stringify(reading), { qos: 0 });
  }, interval);

  return {
    current: () => round1(temperature),
    setPoint: () => target,
    ready: () => readyPromise,
    stop: () => {
      if (stopped) return Promise.resolve();
      stopped = true;
      clearInterval(timer);
      return new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}

const usage = `Usage: rule-engine-thermostat [options]

A virtual thermostat for the rule-engine tutorial: publishes {"temperature", "deviceName", "deviceType",
"timestamp"} to devices/<name>/temperature/latest every interval and drifts towards the set-point received on
devices/<name>/temperature/settings.

Options:
  --broker URL      MQTT broker (default mqtt://127.0.0.1:1883)
  --name NAME       device name (default Thermostat-A)
  --interval MS     milliseconds between readings (default 1000)
  --initial C       starting temperature and set-point (default 20)
  --help            this text`;

function main(argv: string[]): void {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        broker: { type: 'string' },
        name: { type: 'string' },
        interval: { type: 'string' },
        initial: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`thermostat: ${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const num = (key: string): number | undefined => {
    const raw = values[key];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) {
      console.error(`thermostat: --${key} must be a number, got "${raw}"`);
      process.exit(2);
    }
    return n;
  };
  let device: Thermostat;
  try {
    device = startThermostat({
      broker: values.broker as string | undefined,
      name: values.name as string | undefined,
      interval: num('interval'),
      initial: num('initial'),
    });
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const shutdown = (signal: string) => {
    console.log(`thermostat: ${signal}, stopping`);
    // Exit even if the broker never answers the disconnect.
    setTimeout(() => process.exit(0), 2000).unref();
    device.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (require.main === module) main(process.argv.slice(2));
