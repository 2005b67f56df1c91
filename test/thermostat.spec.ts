/**
 * The virtual thermostat (bin/thermostat.ts) against a real MQTT broker (aedes, embedded on a free loopback
 * port): what it publishes, that it follows a set-point, and that it ignores set-points that are not numbers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { parseSetPoint, startThermostat, type Thermostat } from '../bin/thermostat';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import { delay, waitFor } from './toolkit';

async function client(url: string): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Resolves with the first message on `topic` that `accept` takes; rejects after `ms`. */
function nextOn(c: MqttClient, topic: string, ms: number, accept: (p: Buffer) => boolean = () => true) {
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('message', on);
      reject(new Error(`nothing acceptable on ${topic} within ${ms} ms`));
    }, ms);
    const on = (t: string, p: Buffer) => {
      if (t !== topic || !accept(p)) return;
      clearTimeout(timer);
      c.off('message', on);
      resolve(p);
    };
    c.on('message', on);
  });
}

describe('virtual thermostat', function () {
  this.timeout(20000);
  let broker: TestMqttBroker;
  let observer: MqttClient;
  let device: Thermostat | undefined;
  const logs: string[] = [];

  before(async () => {
    broker = await startTestBroker('aedes');
    observer = await client(broker.url);
    await observer.subscribeAsync('devices/#', { qos: 1 });
  });
  afterEach(async () => {
    await device?.stop();
    device = undefined;
    logs.length = 0;
  });
  after(async () => {
    await observer?.endAsync();
    await broker?.stop();
  });

  const start = (opts: Parameters<typeof startThermostat>[0] = {}) => {
    device = startThermostat({ broker: broker.url, interval: 50, log: (l) => logs.push(l), ...opts });
    return device;
  };

  it('publishes the tutorial shape on devices/<name>/temperature/latest', async () => {
    const before = Date.now();
    const got = nextOn(observer, 'devices/Thermostat-A/temperature/latest', 3000);
    start({ initial: 25.3, noise: 0 });
    const reading = JSON.parse(String(await got));
    assert.deepEqual(Object.keys(reading).sort(), ['deviceName', 'deviceType', 'temperature', 'timestamp']);
    assert.equal(reading.deviceName, 'Thermostat-A');
    assert.equal(reading.deviceType, 'thermostat');
    assert.equal(reading.temperature, 25.3);
    assert.ok(reading.timestamp >= before && reading.timestamp <= Date.now() + 1, 'timestamp in ms, now');
  });

  it('uses --name in both topics and rounds to one decimal', async () => {
    const got = nextOn(observer, 'devices/Boiler-7/temperature/latest', 3000);
    start({ name: 'Boiler-7', initial: 21.26 });
    const reading = JSON.parse(String(await got));
    assert.equal(reading.deviceName, 'Boiler-7');
    assert.equal(reading.temperature, Math.round(reading.temperature * 10) / 10);
  });

  it('drifts towards a set-point sent as a JSON number or a JSON string', async () => {
    const d = start({ initial: 20 });
    await d.ready();
    await observer.publishAsync('devices/Thermostat-A/temperature/settings', '42', { qos: 1 });
    await waitFor(() => d.setPoint() === 42, 2000, 'set-point 42');
    // Readings keep coming and close in on 42 (20% of the gap per reading).
    const near = await nextOn(
      observer,
      'devices/Thermostat-A/temperature/latest',
      5000,
      (p) => Math.abs(JSON.parse(String(p)).temperature - 42) < 1,
    );
    assert.ok(Math.abs(JSON.parse(String(near)).temperature - 42) < 1);

    await observer.publishAsync('devices/Thermostat-A/temperature/settings', '"30"', { qos: 1 });
    await waitFor(() => d.setPoint() === 30, 2000, 'set-point 30');
    await waitFor(() => Math.abs(d.current() - 30) < 1, 5000, 'temperature near 30');
  });

  it('ignores set-points that are not finite numbers, and never reports NaN', async () => {
    const d = start({ initial: 20 });
    await d.ready();
    for (const bad of ['abc', 'null', '{}', '', '"', 'true', '[42]', '"0x10"', '1e999']) {
      await observer.publishAsync('devices/Thermostat-A/temperature/settings', bad, { qos: 1 });
    }
    // A good one after the bad ones proves they were all delivered (QoS 1, in order) and then ignored.
    await observer.publishAsync('devices/Thermostat-A/temperature/settings', '55', { qos: 1 });
    await waitFor(() => d.setPoint() === 55, 2000, 'set-point 55');
    assert.equal(logs.filter((l) => l.includes('ignored set-point')).length, 9, logs.join('\n'));
    assert.ok(logs.some((l) => l.includes('ignored set-point "abc"')));
    const reading = JSON.parse(String(await nextOn(observer, 'devices/Thermostat-A/temperature/latest', 3000)));
    assert.equal(typeof reading.temperature, 'number');
    assert.ok(Number.isFinite(reading.temperature));
  });

  it('parses set-points as the tutorial sends them', () => {
    assert.equal(parseSetPoint(Buffer.from('42')), 42);
    assert.equal(parseSetPoint(' 42.5 '), 42.5);
    assert.equal(parseSetPoint('"42"'), 42);
    assert.equal(parseSetPoint('-3'), -3);
    for (const bad of ['null', '{}', 'abc', '', 'NaN', 'Infinity', '"Infinity"', '" "', '{"value":42}']) {
      assert.equal(parseSetPoint(bad), undefined, bad);
    }
  });

  it('stops publishing after stop()', async () => {
    const d = start();
    await d.ready();
    await d.stop();
    device = undefined;
    let seen = 0;
    const on = (t: string) => {
      if (t === 'devices/Thermostat-A/temperature/latest') seen++;
    };
    observer.on('message', on);
    await delay(300); // a quiet stretch: no reading may come (each interval is 50 ms)
    observer.off('message', on);
    assert.equal(seen, 0);
  });

  it('refuses a name that cannot be an MQTT topic level', () => {
    assert.throws(() => startThermostat({ broker: broker.url, name: 'a/b' }), /cannot be used in an MQTT topic/);
    assert.throws(() => startThermostat({ broker: broker.url, interval: 0 }), /interval/);
  });

  it('runs as a command and stops cleanly on SIGTERM', async () => {
    const bin = path.resolve(__dirname, '../bin/thermostat.js');
    const got = nextOn(observer, 'devices/Cmd-1/temperature/latest', 8000);
    const child = spawn(process.execPath, [bin, '--broker', broker.url, '--name', 'Cmd-1', '--interval', '100']);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    try {
      const reading = JSON.parse(String(await got));
      assert.equal(reading.deviceName, 'Cmd-1');
    } finally {
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      assert.equal(code, 0, out);
    }
  });

  it('rejects a bad option with exit code 2', async () => {
    const bin = path.resolve(__dirname, '../bin/thermostat.js');
    const child = spawn(process.execPath, [bin, '--interval', 'fast']);
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 2);
    assert.match(err, /--interval must be a number/);
  });
});
