/**
 * The demo end to end, as a person uses it: `npm start` (scripts/start.js on free ports and a temp user
 * directory), the dashboard in headless Chromium, the knob turned to 30 with the mouse and to 35 with the
 * keyboard; each turn reaches the thermostat over MQTT as one set-point, and the gauge follows the temperature.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import type { Browser, Locator, Page } from 'playwright-core';
import { delay, freePort, launchChromium, root, screenshotPath, spawnCollecting, waitFor } from './toolkit';

const SETTINGS = 'devices/Thermostat-A/temperature/settings';
const LATEST = 'devices/Thermostat-A/temperature/latest';

describe('demo end to end: npm start, dashboard in Chromium, knob to thermostat', function () {
  this.timeout(120000);
  let demo: ChildProcess | undefined;
  let output = () => '';
  let userDir: string;
  let port: number;
  let mqttPort: number;
  let browser: Browser | undefined;
  let page: Page;
  let knob: Locator;
  let sub: MqttClient | undefined;
  const published: string[] = [];

  before(async () => {
    port = await freePort();
    mqttPort = await freePort();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-demo-'));
    // Its own process group, so that the cleanup can end everything it started even if it misbehaves.
    ({ child: demo, output } = spawnCollecting(
      process.execPath,
      [
        path.join(root, 'scripts', 'start.js'),
        '--port',
        String(port),
        '--mqtt-port',
        String(mqttPort),
        '--user-dir',
        userDir,
      ],
      { cwd: root, detached: true },
    ));
    await waitFor(
      () => {
        if (demo?.exitCode !== null) throw new Error(`the demo exited:\n${output()}`);
        if (/missing the node types/.test(output())) throw new Error(`the demo cannot run its flows:\n${output()}`);
        return /Dashboard: +http/.test(output());
      },
      60000,
      'the demo to print its addresses',
    );
    assert.match(output(), new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${port}/dashboard`));

    sub = connect(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      sub?.once('connect', () => resolve());
      sub?.once('error', reject);
    });
    await sub.subscribeAsync([SETTINGS, LATEST], { qos: 1 });
    let readings = 0;
    sub.on('message', (t, p) => {
      if (t === SETTINGS) published.push(String(p));
      else readings++;
    });
    // The knob's RPC needs the device's name, saved from a reading: let the flow's MQTT connection come up and
    // a reading or two arrive first.
    await waitFor(() => /Connected to broker/.test(output()), 20000, "the flow's MQTT connection");
    const seen = readings;
    await waitFor(() => readings >= seen + 2, 10000, 'two readings from the thermostat');

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`http://127.0.0.1:${port}/dashboard`);
    knob = page.getByRole('slider', { name: 'Set-point' });
    await knob.waitFor({ timeout: 30000 });
  });

  after(async function () {
    this.timeout(30000);
    await browser?.close().catch(() => {});
    await sub?.endAsync().catch(() => {});
    const child = demo;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      // SIGTERM: the demo stops Node-RED, the thermostat and the broker; SIGKILL to the group if it hangs.
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          // already gone
        }
      }, 15000);
      await exited;
      clearTimeout(timer);
    }
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** The temperature the gauge shows. */
  async function gauge(): Promise<number> {
    const text = (await page.locator('.nrdb-ui-gauge-value').first().textContent()) ?? '';
    const m = /-?\d+(\.\d+)?/.exec(text);
    return m ? Number(m[0]) : Number.NaN;
  }

  async function pointFor(value: number): Promise<{ x: number; y: number }> {
    const box = await knob.boundingBox();
    assert.ok(box);
    const a = ((-135 + (value / 100) * 270) * Math.PI) / 180;
    const r = box.width * 0.35;
    return { x: box.x + box.width / 2 + r * Math.sin(a), y: box.y + box.height / 2 - r * Math.cos(a) };
  }

  let startTemperature = Number.NaN;

  it('shows the knob with the current temperature beside it, and the gauge', async () => {
    await waitFor(async () => Number.isFinite(await gauge()), 20000, 'the gauge to show a temperature');
    startTemperature = await gauge();
    // The thermostat starts at 20: the knob shows its readings as the current value, apart from the set-point.
    await waitFor(
      async () => {
        const m = /^current (-?\d+\.\d) °C$/.exec((await page.locator('.rk-current').textContent()) ?? '');
        return m !== null && Math.abs(Number(m[1]) - startTemperature) <= 2;
      },
      10000,
      'the knob to show the current temperature',
    );
    assert.equal(await knob.getAttribute('aria-valuetext'), 'not set');
    await page.screenshot({ path: screenshotPath('e2e-1-dashboard') });
  });

  it('sends 30 to the thermostat when the knob is dragged to 30', async () => {
    const from = await pointFor(60);
    const to = await pointFor(30);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 12 });
    await page.mouse.up();
    assert.equal(await knob.getAttribute('aria-valuenow'), '30');
    await waitFor(() => published.includes('30'), 10000, `30 on ${SETTINGS} (got ${published.join(', ')})`);
    assert.deepEqual(published, ['30'], 'one set-point for the drag');
    await page.screenshot({ path: screenshotPath('e2e-2-dragged-to-30') });
  });

  it('sends 35, once, when the knob is set from the keyboard', async () => {
    const before = published.length;
    await knob.focus();
    await page.keyboard.press('End');
    await page.keyboard.press('Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('PageUp');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowUp');
    assert.equal(await knob.getAttribute('aria-valuenow'), '35');
    await waitFor(() => published.length > before, 10000, 'the set-point once the keys settle');
    await delay(1500); // a quiet stretch: no other set-point may follow
    assert.deepEqual(published.slice(before), ['35'], 'one set-point for the key sequence, not one per key');
    await page.screenshot({ path: screenshotPath('e2e-3-keyboard-30') });
  });

  it('shows the temperature moving towards 35 on the gauge', async () => {
    const gapBefore = Math.abs(startTemperature - 35);
    await waitFor(async () => Math.abs((await gauge()) - 35) < 1.5, 20000, 'the gauge to get near 35');
    assert.ok(Math.abs((await gauge()) - 35) < gapBefore, 'closer to 35 than at the start');
    await page.screenshot({ path: screenshotPath('e2e-4-gauge-near-35') });
  });

  it('stops everything on SIGTERM and leaves no process behind', async () => {
    const child = demo as ChildProcess;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output());
    // Nothing in the demo's process group is left (Node-RED was its child).
    assert.throws(() => process.kill(-(child.pid as number), 0), /ESRCH/);
  });
});
