/**
 * The tutorial's knob (the ui-template in examples/02-thermostat-tutorial.json) in a real Dashboard 2.0 page in
 * headless Chromium, wired to core nodes only: a function node answers like the RPC request node would, and
 * an mqtt out node publishes each set-point. Proves the widget itself: pointer and keyboard, ARIA slider
 * semantics, what it sends, and how it shows answers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { connect, type MqttClient } from 'mqtt';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestBroker, type TestMqttBroker } from './mqtt-broker';
import {
  delay,
  freePort,
  launchChromium,
  makeUserDir,
  mqttBrokerNode,
  NodeRedProcess,
  readExamples,
  screenshotPath,
  waitFor,
  writeSettings,
} from './toolkit';

const SETTINGS = 'devices/Thermostat-A/temperature/settings';

function knobTemplate(): string {
  const ex = readExamples().find((e) => e.file.startsWith('02-'));
  const knob = ex?.nodes.find((n) => n.type === 'ui-template' && n.name === 'knob');
  assert.ok(knob, 'examples/02 has a ui-template named "knob"');
  return knob.format as string;
}

// Answers as the RPC request node's Reply output does; some values act out failures.
const echo = `
if (msg.method === 'getValue') return { payload: 21.4, rpc: { requestUUID: 'g', method: 'getValue', status: 'ok' } };
const rpc = { requestUUID: 's' + msg.payload, method: 'setValue', status: 'ok' };
if (msg.payload === 13) { rpc.status = 'error'; rpc.error = '<b>device</b> offline'; }
if (msg.payload === 14) rpc.status = 'timeout';
return { payload: msg.payload, rpc };`;

function flows(mqttPort: number): unknown[] {
  const z = 'kwtab0000000001';
  return [
    { id: z, type: 'tab', label: 'knob widget' },
    {
      id: 'kwbase000000001',
      type: 'ui-base',
      name: 'test',
      path: '/dashboard',
      includeClientData: true,
      acceptsClientConfig: ['ui-notification', 'ui-control'],
      headerContent: 'page',
      navigationStyle: 'default',
      titleBarStyle: 'default',
    },
    {
      id: 'kwtheme00000001',
      type: 'ui-theme',
      name: 'theme',
      colors: {
        surface: '#ffffff',
        primary: '#0d74ce',
        bgPage: '#eeeeee',
        groupBg: '#ffffff',
        groupOutline: '#cccccc',
      },
      sizes: { density: 'default', pagePadding: '12px', groupGap: '12px', groupBorderRadius: '4px', widgetGap: '12px' },
    },
    {
      id: 'kwpage000000001',
      type: 'ui-page',
      name: 'Knob',
      ui: 'kwbase000000001',
      path: '/knob',
      icon: 'home',
      layout: 'grid',
      theme: 'kwtheme00000001',
      order: 1,
      className: '',
      visible: 'true',
      disabled: 'false',
    },
    {
      id: 'kwgroup00000001',
      type: 'ui-group',
      name: 'Control',
      page: 'kwpage000000001',
      width: '4',
      height: '1',
      order: 1,
      showTitle: true,
      className: '',
      visible: 'true',
      disabled: 'false',
      groupType: 'default',
    },
    {
      id: 'kwknob000000001',
      type: 'ui-template',
      z,
      group: 'kwgroup00000001',
      page: '',
      ui: '',
      name: 'knob',
      order: 1,
      width: '4',
      height: '5',
      head: '',
      format: knobTemplate(),
      storeOutMessages: true,
      passthru: false,
      resendOnRefresh: true,
      templateScope: 'local',
      className: '',
      wires: [['kwecho000000001', 'kwsetonly000001']],
    },
    {
      id: 'kwecho000000001',
      type: 'function',
      z,
      name: 'answer like rule-rpc-request',
      func: echo,
      outputs: 1,
      wires: [['kwknob000000001']],
    },
    // Only set-points go to the device, as the RPC request node answers getValue itself.
    {
      id: 'kwsetonly000001',
      type: 'switch',
      z,
      name: 'set-points',
      property: 'payload',
      propertyType: 'msg',
      rules: [{ t: 'istype', v: 'number', vt: 'number' }],
      checkall: 'true',
      repair: false,
      outputs: 1,
      wires: [['kwmqttout000001']],
    },
    {
      id: 'kwmqttout000001',
      type: 'mqtt out',
      z,
      name: '',
      topic: SETTINGS,
      qos: '1',
      retain: '',
      broker: 'kwbroker0000001',
      wires: [],
    },
    mqttBrokerNode('kwbroker0000001', mqttPort),
  ];
}

describe('knob widget (Dashboard 2.0 ui-template, core nodes, Chromium)', function () {
  this.timeout(90000);
  let broker: TestMqttBroker;
  let red: NodeRedProcess;
  let userDir: string;
  let browser: Browser | undefined;
  let page: Page;
  let knob: Locator;
  let sub: MqttClient;
  const published: string[] = [];

  before(async () => {
    broker = await startTestBroker('aedes');
    userDir = makeUserDir('rule-engine-knob-');
    writeSettings(userDir, flows(broker.port));
    red = new NodeRedProcess(userDir, await freePort());
    await red.start();
    await red.waitForLog(/Started flows/, 20000);
    sub = connect(broker.url, { reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      sub.once('connect', () => resolve());
      sub.once('error', reject);
    });
    await sub.subscribeAsync(SETTINGS, { qos: 1 });
    sub.on('message', (_t, p) => published.push(String(p)));
    await waitFor(() => /Connected to broker/.test(red.output), 10000, 'mqtt out to connect');

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await page.goto(red.url('/dashboard/knob'));
    knob = page.getByRole('slider', { name: 'Temperature set-point' });
    await knob.waitFor({ timeout: 20000 });
  });

  after(async () => {
    await browser?.close();
    await sub?.endAsync();
    await red?.stop();
    await broker?.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  const now = async () => Number(await knob.getAttribute('aria-valuenow'));
  const status = () => page.locator('.rk-status').textContent();
  const settled = async (value: number, text: string) => {
    await waitFor(async () => (await now()) === value && (await status()) === text, 5000, `${value} / "${text}"`);
  };

  /** Centre and radius of the dial on screen, and where the pointer goes for `value` (0..100 over 270°). */
  async function pointFor(value: number, radiusShare = 0.35): Promise<{ x: number; y: number }> {
    const box = await knob.boundingBox();
    assert.ok(box);
    const a = ((-135 + (value / 100) * 270) * Math.PI) / 180;
    const r = box.width * radiusShare;
    return { x: box.x + box.width / 2 + r * Math.sin(a), y: box.y + box.height / 2 - r * Math.cos(a) };
  }

  it('is an accessible slider, focusable, and asks for the current value when shown', async () => {
    assert.equal(await knob.getAttribute('aria-valuemin'), '0');
    assert.equal(await knob.getAttribute('aria-valuemax'), '100');
    assert.equal(await knob.getAttribute('tabindex'), '0');
    // The getValue answer (21.4) replaces the initial 50, rounded to the knob's whole steps.
    await settled(21, 'current value');
    await page.screenshot({ path: screenshotPath('knob-1-shown') });
  });

  it('turns to 30 by dragging, and sends 30 once, on release', async () => {
    const before = published.length;
    const start = await pointFor(70);
    const end = await pointFor(30);
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(end.x, end.y, { steps: 12 });
    assert.equal(await now(), 30, 'follows the pointer while dragging');
    assert.equal(published.length, before, 'nothing sent before release');
    await page.mouse.up();
    await settled(30, 'sent ✓');
    await waitFor(() => published.length > before, 5000, 'a publish');
    assert.deepEqual(published.slice(before), ['30']);
    await page.screenshot({ path: screenshotPath('knob-2-dragged-to-30') });
  });

  it('stays at an end when dragged through the gap at the bottom', async () => {
    const start = await pointFor(90);
    const gap = await pointFor(125); // past the end of the 270° sweep
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(gap.x, gap.y, { steps: 8 });
    assert.equal(await now(), 100);
    await page.mouse.up();
    await settled(100, 'sent ✓');
    // The status can settle before the subscriber has the publish: wait for it, so that it is not counted
    // by the next test.
    await waitFor(() => published.at(-1) === '100', 5000, '100 published');
  });

  it('works from the keyboard: Home, End, PageUp/PageDown, arrows', async () => {
    const before = published.length;
    await knob.focus();
    await page.keyboard.press('Home');
    await settled(0, 'sent ✓');
    await page.keyboard.press('ArrowDown'); // already at 0: no change, nothing sent
    await page.keyboard.press('End');
    await settled(100, 'sent ✓');
    await page.keyboard.press('PageDown');
    await settled(90, 'sent ✓');
    await page.keyboard.press('Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('PageUp');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowLeft');
    await settled(30, 'sent ✓');
    // One publish per change (30 appears twice: wait for all of them, not for the first 30).
    const expected = ['0', '100', '90', '0', '10', '20', '30', '31', '30'];
    await waitFor(() => published.length - before >= expected.length, 5000, `${expected.length} publishes`).catch(
      (err) => {
        throw new Error(`${err.message}; got ${published.slice(before).join(', ')}`);
      },
    );
    await delay(200); // a quiet stretch: no publish may follow
    assert.deepEqual(published.slice(before), expected);
    await page.screenshot({ path: screenshotPath('knob-3-keyboard-30') });
  });

  it('shows an error as text (never as HTML) and a timeout', async () => {
    await knob.focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < 13; i++) await page.keyboard.press('ArrowUp');
    await settled(13, 'error: <b>device</b> offline');
    assert.equal(await page.locator('.rk-status b').count(), 0, 'no markup from a message is rendered');
    await page.keyboard.press('ArrowUp');
    await settled(14, 'timeout');
    await page.screenshot({ path: screenshotPath('knob-4-error-and-timeout') });
  });
});
