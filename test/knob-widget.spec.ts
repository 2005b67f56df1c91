/**
 * The knob widget node (rule-knob) in a real Dashboard 2.0 page in headless Chromium, behind the tutorial flow
 * (examples/02) on a test broker: a real MQTT subscriber counts the set-points the flow publishes to the
 * thermostat, and the test publishes the thermostat's readings itself, so it decides when they come and stop.
 * A second page with a dark theme holds a knob that sends continuously.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { connect, type MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import {
  dashboardNodes,
  delay,
  launchChromium,
  type NodeRedProcess,
  readExamples,
  screenshotPath,
  startNodeRedWith,
  waitFor,
} from './toolkit';

const SETTINGS = 'devices/Thermostat-A/temperature/settings';
const LATEST = 'devices/Thermostat-A/temperature/latest';
const SETPOINT_IN = 'test/knob/setpoint';
const CONTINUOUS = 'test/knob/continuous';
const MESSAGE_IN = 'test/knob/message';
/** Longer than the tutorial knob's settle time (600 ms) plus the trip to the subscriber. */
const QUIET_MS = 1500;

/** An mqtt in node on the tutorial's broker that parses JSON and feeds `target`. */
function jsonIn(id: string, z: string, topic: string, target: string): Record<string, unknown> {
  const node = { id, type: 'mqtt in', z, name: '', topic, qos: '1', datatype: 'json', broker: 'ex2broker000001' };
  return { ...node, nl: false, rap: true, rh: 0, inputs: 0, wires: [[target]] };
}

function flows(mqttPort: number): unknown[] {
  const tutorial = readExamples().find((e) => e.file.startsWith('02-'));
  assert.ok(tutorial, 'examples/02');
  const nodes = tutorial.nodes.map((n) =>
    n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(mqttPort) } : n,
  );
  assert.ok(
    nodes.some((n) => n.type === 'rule-knob' && n.id === 'ex2knob00000001'),
    'the tutorial uses the knob node',
  );
  const z = 'kwtab0000000001';
  return [
    ...nodes,
    { id: z, type: 'tab', label: 'knob test' },
    // Sets the tutorial's knob from outside, as a flow would (msg.payload).
    jsonIn('kwsetin00000001', z, SETPOINT_IN, 'ex2knob00000001'),
    // Any message to the knob: the JSON published is the message itself (msg.enabled, msg.ui_update, ...).
    jsonIn('kwmsgin00000001', z, MESSAGE_IN, 'kwasmsg00000001'),
    {
      id: 'kwasmsg00000001',
      type: 'function',
      z,
      name: 'the JSON as the message',
      func: 'const m = msg.payload;\ndelete msg.payload;\nreturn Object.assign(msg, m);',
      outputs: 1,
      wires: [['ex2knob00000001']],
    },
    ...dashboardNodes('kwdark', {
      base: 'ex2uibase000001',
      path: '/dark',
      group: 'Fan',
      colors: {
        surface: '#1e1e1e',
        primary: '#5aa9ff',
        bgPage: '#121212',
        groupBg: '#1e1e1e',
        groupOutline: '#3a3a3a',
      },
    }),
    {
      id: 'kwcontinuous001',
      type: 'rule-knob',
      z,
      group: 'kwdarkgroup',
      name: '',
      label: 'Fan speed',
      order: 1,
      width: 4,
      height: 5,
      min: 0,
      max: 100,
      step: 1,
      decimals: 0,
      unit: '%',
      color: '',
      colorTrack: '',
      send: 'continuous',
      settle: 600,
      throttle: 300,
      staleIntervals: 3,
      wires: [['kwcontout000001']],
    },
    {
      id: 'kwcontout000001',
      type: 'mqtt out',
      z,
      name: '',
      topic: CONTINUOUS,
      qos: '1',
      retain: '',
      broker: 'ex2broker000001',
      wires: [],
    },
  ];
}

describe('knob widget node (rule-knob) in Dashboard 2.0, behind the tutorial flow (Chromium)', function () {
  this.timeout(120000);
  let broker: TestMqttBroker;
  let red: NodeRedProcess;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let knob: Locator;
  let client: MqttClient;
  const published: string[] = [];
  const continuous: string[] = [];
  const consoleErrors: string[] = [];

  async function reading(temperature: number): Promise<void> {
    const r = { temperature, deviceName: 'Thermostat-A', deviceType: 'thermostat', timestamp: Date.now() };
    await client.publishAsync(LATEST, JSON.stringify(r), { qos: 1 });
  }

  async function open(path: string, name: string): Promise<Locator> {
    await page.goto(red.url(`/dashboard${path}`));
    const slider = page.getByRole('slider', { name });
    await slider.waitFor({ timeout: 30000 }).catch(async (err) => {
      await page.screenshot({ path: screenshotPath(`knob-no-slider-${name}`) });
      throw new Error(`${err.message}\npage: ${await page.locator('body').textContent()}\n${red.output}`);
    });
    return slider;
  }

  before(async () => {
    broker = await startTestBroker('aedes');
    red = await startNodeRedWith('rule-engine-knob-', flows(broker.port));
    await red.waitForLog(/Started flows/, 20000);
    client = connect(broker.url, { reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync([SETTINGS, CONTINUOUS], { qos: 1 });
    client.on('message', (t, p) => (t === SETTINGS ? published : continuous).push(String(p)));
    await waitFor(() => /Connected to broker/.test(red.output), 10000, 'the flow to connect to the broker');

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, hasTouch: true });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
    knob = await open('/thermostat', 'Set-point');
  });

  after(async () => {
    await browser?.close();
    await client?.endAsync();
    await red?.stop();
    await broker?.stop();
    if (red) fs.rmSync(red.userDir, { recursive: true, force: true });
  });

  const now = async () => Number(await knob.getAttribute('aria-valuenow'));
  const currentLine = () => page.locator('.rk-current').first().textContent();

  /** Waits for `value` to be published, then a quiet stretch; returns what was published meanwhile. */
  async function sentAfter(before: number, value: string): Promise<string[]> {
    await waitFor(() => published.includes(value, before), 10000, `${value} on ${SETTINGS}`).catch((err) => {
      throw new Error(`${err.message}; got ${published.slice(before).join(', ')}`);
    });
    await delay(QUIET_MS);
    return published.slice(before);
  }

  /** Where the pointer goes for `value` on a 0..100 dial (270° sweep). */
  async function pointFor(slider: Locator, value: number): Promise<{ x: number; y: number }> {
    const box = await slider.boundingBox();
    assert.ok(box);
    const a = ((-135 + (value / 100) * 270) * Math.PI) / 180;
    const r = box.width * 0.35;
    return { x: box.x + box.width / 2 + r * Math.sin(a), y: box.y + box.height / 2 - r * Math.cos(a) };
  }

  it('is found by role slider, and says it waits for the device before the first reading', async () => {
    assert.equal(await knob.getAttribute('aria-valuemin'), '0');
    assert.equal(await knob.getAttribute('aria-valuemax'), '100');
    assert.equal(await knob.getAttribute('tabindex'), '0');
    assert.equal(await knob.getAttribute('aria-valuetext'), 'not set');
    assert.equal(await currentLine(), 'waiting for the device');
    assert.doesNotMatch((await page.locator('body').textContent()) ?? '', /error/i);
    await page.screenshot({ path: screenshotPath('knob-1-waiting') });
  });

  it('shows the current value beside the set-point, and updates it with each reading', async () => {
    await reading(21.4);
    await waitFor(async () => (await currentLine()) === 'current 21.4 °C', 10000, 'the current value');
    assert.equal(await knob.getAttribute('aria-valuetext'), 'not set', 'a reading is not a set-point');
    assert.equal(await page.locator('.rk-mark').count(), 1, 'the current value is marked on the dial');
    await reading(22);
    await waitFor(async () => (await currentLine()) === 'current 22.0 °C', 10000, 'the next reading');
    assert.deepEqual(published, [], 'readings send nothing to the thermostat');
  });

  it('sends one set-point for a key sequence, once it settles', async () => {
    const before = published.length;
    await knob.focus();
    for (const key of ['End', 'Home', 'PageUp', 'PageUp', 'PageUp', 'ArrowUp', 'ArrowDown']) {
      await page.keyboard.press(key);
    }
    assert.equal(await now(), 30);
    assert.equal(await knob.getAttribute('aria-valuetext'), '30.0 °C');
    assert.deepEqual(await sentAfter(before, '30'), ['30']);
    await page.screenshot({ path: screenshotPath('knob-2-keyboard-30') });
  });

  it('sends one set-point for a mouse drag, on release, however long it is held', async () => {
    const before = published.length;
    const start = await pointFor(knob, 30);
    const end = await pointFor(knob, 60);
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(end.x, end.y, { steps: 15 });
    assert.equal(await now(), 60, 'follows the pointer');
    await delay(QUIET_MS);
    assert.equal(published.length, before, 'nothing sent while held');
    await page.mouse.up();
    assert.deepEqual(await sentAfter(before, '60'), ['60']);
  });

  it('sends one set-point for a touch drag', async () => {
    const before = published.length;
    const start = await pointFor(knob, 60);
    const end = await pointFor(knob, 40);
    const cdp = await context.newCDPSession(page);
    const touch = (type: string, p?: { x: number; y: number }) =>
      cdp.send('Input.dispatchTouchEvent', {
        type: type as 'touchStart',
        touchPoints: p ? [{ x: Math.round(p.x), y: Math.round(p.y) }] : [],
      });
    await touch('touchStart', start);
    for (let i = 1; i <= 12; i++) {
      await touch('touchMove', {
        x: start.x + ((end.x - start.x) * i) / 12,
        y: start.y + ((end.y - start.y) * i) / 12,
      });
    }
    await touch('touchEnd');
    await cdp.detach();
    assert.equal(await now(), 40);
    assert.deepEqual(await sentAfter(before, '40'), ['40']);
  });

  it('sends one set-point for a turn of the mouse wheel', async () => {
    const before = published.length;
    const box = await knob.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 5; i++) {
      await page.mouse.wheel(0, -100);
      await delay(40);
    }
    await waitFor(async () => (await now()) === 45, 5000, 'five steps up');
    assert.deepEqual(await sentAfter(before, '45'), ['45']);
  });

  it('shows the set-point last chosen after a reload, and the current value', async () => {
    knob = await open('/thermostat', 'Set-point');
    await waitFor(async () => (await now()) === 45, 10000, 'the set-point 45 after the reload');
    assert.equal(await knob.getAttribute('aria-valuetext'), '45.0 °C');
    // The readings came 0.4 s apart: by now the last one is stale.
    assert.match((await currentLine()) ?? '', /^current 22\.0 °C · no reading for \d+ s$/);
  });

  it('moves the needle on an input message, and publishes nothing', async () => {
    const before = published.length;
    await client.publishAsync(SETPOINT_IN, '70.2', { qos: 1 });
    await waitFor(async () => (await now()) === 70, 10000, 'the needle at 70 (70.2 snapped to the step)');
    await delay(QUIET_MS);
    assert.deepEqual(published.slice(before), []);
  });

  it('is disabled by msg.enabled false and enabled again by true; msg.ui_update changes its label', async () => {
    const message = (m: unknown) => client.publishAsync(MESSAGE_IN, JSON.stringify(m), { qos: 1 });
    await message({ enabled: false });
    await waitFor(async () => (await knob.getAttribute('aria-disabled')) === 'true', 10000, 'the knob disabled');
    assert.equal(await knob.getAttribute('tabindex'), '-1');
    const value = await now();
    await knob.focus();
    await page.keyboard.press('ArrowUp');
    assert.equal(await now(), value, 'keys do nothing while disabled');
    await message({ enabled: true });
    await waitFor(async () => (await knob.getAttribute('aria-disabled')) === null, 10000, 'the knob enabled');
    await message({ ui_update: { label: 'Target' } });
    const renamed = page.getByRole('slider', { name: 'Target' });
    await renamed.waitFor({ timeout: 10000 });
    await message({ ui_update: { label: 'Set-point' } });
    await knob.waitFor({ timeout: 10000 });
    assert.equal(await now(), value, 'nothing moved the needle');
  });

  it('marks the current value stale when readings stop for 3 intervals', async () => {
    for (const t of [22.1, 22.2, 22.3]) {
      await reading(t);
      await delay(300);
    }
    await waitFor(async () => (await currentLine()) === 'current 22.3 °C', 5000, 'the last reading');
    const stale = page.locator('.rk-current.rk-stale');
    await stale.waitFor({ timeout: 5000 });
    assert.match((await currentLine()) ?? '', /^current 22\.3 °C · no reading for \d+ s$/);
    await page.screenshot({ path: screenshotPath('knob-3-stale') });
    await reading(22.4);
    await waitFor(async () => (await stale.count()) === 0, 5000, 'fresh again after a reading');
  });

  it('marks the gauge stale when readings stop for 3 s, keeping its last value, and fresh again after a reading', async () => {
    const staleLabel = page.getByText('Now · stale: no reading for 3 s', { exact: true });
    const freshLabel = page.getByText('Now', { exact: true });
    await reading(23.5);
    await freshLabel.waitFor({ timeout: 5000 });
    assert.equal(await staleLabel.count(), 0, 'fresh right after a reading');
    await delay(1500);
    assert.equal(await staleLabel.count(), 0, 'not stale within the 3 s');
    await staleLabel.waitFor({ timeout: 5000 });
    const gauge = page.locator('.nrdb-ui-gauge').filter({ has: staleLabel });
    assert.match((await gauge.textContent()) ?? '', /23\.5/, 'the stale gauge still shows the last reading');
    await page.screenshot({ path: screenshotPath('gauge-stale') });
    await reading(23.6);
    await freshLabel.waitFor({ timeout: 5000 });
    assert.equal(await staleLabel.count(), 0, 'fresh again');
  });

  it('lays out the tutorial page at 390 px and 1280 px with no text clipped or outside its card', async () => {
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      knob = await open('/thermostat', 'Set-point');
      await page.locator('.rk-current').waitFor();
      const problems = await page.evaluate(() => {
        const d = globalThis as unknown as {
          document: { querySelectorAll(s: string): ArrayLike<El> };
          innerWidth: number;
        };
        interface El {
          textContent: string | null;
          getBoundingClientRect(): { left: number; right: number; top: number; bottom: number };
          closest(s: string): El | null;
          scrollWidth: number;
          clientWidth: number;
          tagName: string;
        }
        const out: string[] = [];
        const texts = Array.from(
          d.document.querySelectorAll('.rk-knob .rk-label, .rk-knob .rk-current, .rk-knob text'),
        );
        for (const el of texts) {
          const r = el.getBoundingClientRect();
          const card = el.closest('.nrdb-ui-group')?.getBoundingClientRect();
          const name = `${el.tagName} "${el.textContent}"`;
          if (r.left < 0 || r.right > d.innerWidth) out.push(`${name} outside the window`);
          if (card && (r.left < card.left - 0.5 || r.right > card.right + 0.5 || r.bottom > card.bottom + 0.5)) {
            out.push(`${name} outside its card`);
          }
          if (el.tagName !== 'text' && el.scrollWidth > el.clientWidth + 1) out.push(`${name} overflows`);
        }
        if (texts.length < 5) out.push(`only ${texts.length} texts found`);
        return out;
      });
      assert.deepEqual(problems, [], `at ${width} px`);
      await page.screenshot({ path: screenshotPath(`knob-4-layout-${width}`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('sends continuously, throttled, in the continuous mode; the dark theme is readable', async () => {
    const fan = await open('/dark', 'Fan speed');
    const start = await pointFor(fan, 10);
    const end = await pointFor(fan, 90);
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    const t0 = Date.now();
    for (let i = 1; i <= 30; i++) {
      await page.mouse.move(start.x + ((end.x - start.x) * i) / 30, start.y + ((end.y - start.y) * i) / 30);
      await delay(50);
    }
    const held = Date.now() - t0;
    const whileHeld = continuous.length;
    await page.mouse.up();
    const last = String(Number(await fan.getAttribute('aria-valuenow')));
    await waitFor(() => continuous.at(-1) === last, 5000, `the last value ${last} sent`);
    await delay(QUIET_MS);
    assert.ok(whileHeld >= 2, `sent while turning (${continuous.join(', ')})`);
    assert.ok(
      continuous.length <= Math.ceil(held / 300) + 2,
      `at most one per 300 ms over ${held} ms: ${continuous.join(', ')}`,
    );
    assert.equal(continuous.at(-1), last);

    const contrast = await page.evaluate(() => {
      interface El {
        parentElement: El | null;
      }
      const d = globalThis as unknown as {
        document: { querySelector(s: string): El };
        getComputedStyle(e: El): { color: string; backgroundColor: string };
      };
      const rgba = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
      // The first opaque background behind the knob: what its text is read against.
      let el: El | null = d.document.querySelector('.rk-knob');
      let background = 'rgb(255, 255, 255)';
      while (el) {
        const bg = d.getComputedStyle(el).backgroundColor;
        const parts = rgba(bg);
        if (parts.length === 3 || (parts.length === 4 && parts[3] === 1)) {
          background = bg;
          break;
        }
        el = el.parentElement;
      }
      const lum = (c: string) => {
        const [r, g, b] = rgba(c)
          .slice(0, 3)
          .map((v) => {
            const s = v / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
          });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const ratio = (a: string) => {
        const [x, y] = [lum(a), lum(background)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
      };
      const color = (s: string) => d.getComputedStyle(d.document.querySelector(s)).color;
      return { card: background, label: ratio(color('.rk-label')), current: ratio(color('.rk-current')) };
    });
    assert.ok(contrast.label >= 4.5, `label contrast ${contrast.label.toFixed(2)} on ${contrast.card}`);
    assert.ok(contrast.current >= 4.5, `current value contrast ${contrast.current.toFixed(2)} on ${contrast.card}`);
    await page.screenshot({ path: screenshotPath('knob-5-dark-continuous') });
  });

  it('shows "set-point queued" while the broker is down, then "set-point sent" once it is back', async () => {
    knob = await open('/thermostat', 'Set-point');
    const command = page.locator('.rk-command');
    const from = red.output.length;
    await broker.stop();
    await red.waitForLog(/Disconnected from broker/, 15000, from);
    await knob.focus();
    await page.keyboard.press('ArrowUp');
    await waitFor(async () => (await command.textContent()) === 'set-point queued', 10000, 'the queued command');
    await page.screenshot({ path: screenshotPath('knob-6-queued') });
    // The tutorial's set-point waits up to its time limit (10 s) in the downlink queue.
    await broker.restart();
    await waitFor(async () => (await command.textContent()) === 'set-point sent', 15000, 'the command sent');
    assert.equal(await command.count(), 1);
  });

  it('logged no errors in the browser console', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
