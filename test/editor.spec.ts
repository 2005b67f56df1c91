/**
 * Every node type of the package edited in the real Node-RED editor, in headless Chromium, as a user does it:
 * dragged from the palette onto the workspace, opened with a double click, its fields filled (text inputs,
 * selects, checkboxes, the Monaco code editors, the config nodes through the config node dialog), Done, opened
 * again with the values kept, an invalid setting marked (the field's input-error class, the node's red
 * triangle), its help in the sidebar; and a deploy from the editor that stores such values in the runtime. Each
 * test opens the editor afresh on the flows it needs (a tab, and the config nodes it uses) and must leave the
 * browser console free of errors. Screenshots of each dialog go to test-artifacts/editor-<type>.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { tbDownlinkEncoder, tbUplinkDecoder } from './tb-fixtures';
import {
  dashboardNodes,
  delay,
  freePort,
  launchChromium,
  makeUserDir,
  NodeRedProcess,
  pkg,
  root,
  screenshotPath,
  waitFor,
  writeSettings,
} from './toolkit';

/** The editor's globals as far as these tests use them (the callbacks of page.evaluate run in the page). */
interface EditorNode {
  id: string;
  type: string;
  valid?: boolean;
  _def: { defaults: Record<string, unknown> };
  [prop: string]: unknown;
}
interface CodeEditor {
  getDomNode(): unknown;
  getValue(): string;
  setValue(v: string): void;
}
interface EditorWindow {
  RED: {
    nodes: {
      node(id: string): EditorNode | null;
      eachNode(cb: (n: EditorNode) => void): void;
      eachConfig(cb: (n: EditorNode) => void): void;
    };
  };
  monaco?: { editor: { getEditors(): CodeEditor[] } };
  document: { getElementById(id: string): { contains(n: unknown): boolean } | null };
}

const TYPES = Object.keys(pkg['node-red'].nodes);

/** What the editor opens on: one tab, and the config nodes a test needs. */
const TAB = { id: 'edtab0000000001', type: 'tab', label: 'editor tests' };
const STORE = {
  id: 'edstore00000001',
  type: 'rule-device-store',
  name: 'devices',
  backend: 'context',
  store: '',
  timeout: '2500',
  maxPending: 10000,
  redisUrl: 'redis://127.0.0.1:6379',
  redisDb: '0',
  redisPrefix: 'rule-engine',
  redisTls: false,
};
const INTEGRATION = {
  id: 'edint0000000001',
  type: 'rule-integration',
  name: 'thermostats',
  decoder: tbUplinkDecoder(),
  encoder: tbDownlinkEncoder(),
  metadata: [{ key: 'site', value: 'lab' }],
  deviceStore: STORE.id,
  allowCreateDevices: false,
  topicPattern: 'lab/${topic}',
  qos: '2',
  retain: true,
  maxPayloadBytes: '4096',
  timeout: '800',
  broker: '',
  queueSize: '500',
  queueMaxAge: '30',
  coalesce: false,
  decoderLanguage: 'javascript',
  encoderLanguage: 'javascript',
};

/** A save attributes and an originator attributes node as flows saved before the ThingsBoard options hold them. */
const OLD_NODES = [
  {
    id: 'edoldsave000001',
    type: 'rule-save-attributes',
    z: TAB.id,
    deviceStore: STORE.id,
    scope: 'client',
    x: 200,
    y: 300,
    wires: [[], []],
  },
  {
    id: 'edoldoa00000001',
    type: 'rule-originator-attributes',
    z: TAB.id,
    deviceStore: STORE.id,
    clientAttributeNames: ['deviceName'],
    fetchTo: 'metadata',
    x: 200,
    y: 360,
    wires: [[], []],
  },
];

/** A Dashboard 2.0 page with one group (Dashboard 2.0 is installed in the test user directory), for the knob. */
const UI = dashboardNodes('edui', { path: '/page', group: 'Thermostat' });
const UI_GROUP = { id: 'eduigroup' };

/** A node's settings without its id and type: what props() returns besides `valid`. */
const settingsOf = (n: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(n).filter(([k]) => k !== 'id' && k !== 'type'));

/**
 * What the test of each node type (not a config node) enters in its dialog, its config nodes named by the
 * fixtures' ids; the deploy test deploys nodes with these settings.
 */
const ENTERED: Record<string, Record<string, unknown>> = {
  'rule-save-timeseries': { name: 'latest readings', deviceStore: STORE.id, typeCast: true },
  'rule-save-attributes': {
    name: 'client attributes',
    deviceStore: STORE.id,
    scope: 'client',
    onlyIfChanged: true,
    sendAttributesUpdated: true,
    typeCast: true,
    outputs: 3,
  },
  'rule-originator-attributes': {
    name: 'device name',
    deviceStore: STORE.id,
    clientAttributeNames: ['deviceName', 'deviceType'],
    sharedAttributeNames: ['targetTemperature'],
    serverAttributeNames: [],
    latestTsKeyNames: ['temperature', 'humidity'],
    fetchTo: 'data',
    getLatestValueWithTs: true,
    tellFailureIfAbsent: false,
    telemetryPrefix: 'tb_',
    doubleFormat: 'thingsboard',
    patternObjects: 'keep',
  },
  'rule-msg-type-switch': { name: 'by type' },
  'rule-script': {
    name: 'to device',
    script: 'return {msg: msg, metadata: metadata};',
    language: 'javascript',
    timeout: '750',
  },
  'rule-script-filter': {
    name: 'warm',
    language: 'javascript',
    script: 'return msg.temperature > 20;',
    timeout: '750',
  },
  'rule-script-switch': {
    name: 'by temperature',
    language: 'javascript',
    script: "if (msg.temperature > 25) return 'High';\nif (msg.temperature < 15) return 'Low';\nreturn 'Normal';",
    timeout: 500,
    relations: ['High', 'Low', 'Alarm'],
    outputs: 4,
  },
  'rule-integration-uplink': { name: 'thermostat uplink', integration: INTEGRATION.id },
  'rule-integration-downlink': { name: 'thermostat downlink', integration: INTEGRATION.id },
  'rule-rpc-request': {
    name: 'set-point',
    deviceStore: STORE.id,
    device: 'Thermostat-A',
    method: 'setTemperature',
    getValueMethod: 'getTemperature',
    valueKey: 'celsius',
    timeout: '1500',
    oneway: true,
    persistent: true,
    retries: '2',
    expiration: '600',
    onlineWindow: '30',
  },
};

/** The node set folder of a type, and the English texts it has. */
function setOf(type: string): { name: string; en: Record<string, unknown>; help: string } {
  const js = (pkg['node-red'].nodes as Record<string, string>)[type];
  const name = path.basename(js, '.js');
  const dir = path.join(root, 'nodes', name, 'locales', 'en-US');
  return {
    name,
    en: JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'))[name],
    help: fs.readFileSync(path.join(dir, `${name}.html`), 'utf8'),
  };
}
const squash = (s: string | null | undefined) =>
  String(s ?? '')
    .replace(/\s+/g, ' ')
    .trim();

/** The first sentence of a node's help (its first paragraph, without markup), as the Help tab shows it. */
function helpOpening(type: string): string {
  const p = /<p>([\s\S]*?)<\/p>/.exec(setOf(type).help)?.[1] ?? '';
  const text = squash(
    p
      .replace(/<[^>]*>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  );
  return text.split(/(?<=[.:])\s/)[0];
}
function paletteLabel(type: string): string {
  return setOf(type).en.paletteLabel as string;
}

describe('editing every node type in the Node-RED editor (Chromium)', function () {
  this.timeout(300000);
  let red: NodeRedProcess;
  let userDir: string;
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];
  const ignored: string[] = [];
  const warnings: string[] = [];
  /** Where the next node dropped from the palette goes. */
  let row = 0;
  /** The test running, named in page errors. */
  let currentTest = '';

  before(async () => {
    userDir = makeUserDir('rule-engine-editor-');
    writeSettings(userDir, []);
    red = new NodeRedProcess(userDir, await freePort());
    await red.start();
    browser = await launchChromium();
  });

  after(async () => {
    if (ignored.length > 0)
      console.log(
        `      ignored console errors (network while offline; Monaco's disposed-model highlight):\n        ${ignored.join('\n        ')}`,
      );
    if (warnings.length > 0) console.log(`      console warnings:\n        ${warnings.join('\n        ')}`);
    await browser?.close();
    await red?.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** Deploys `flows` through the admin API and opens the editor on them in a new page. */
  async function openEditor(flows: unknown[]): Promise<void> {
    await page?.close();
    await red.deploy(flows);
    row = 0;
    page = await (browser as Browser).newPage({ viewport: { width: 1600, height: 1000 } });
    page.setDefaultTimeout(30000);
    page.on('console', (m) => {
      const where = m.location()?.url ?? '';
      const text = `${m.text()}${where ? ` (${where})` : ''} [during: ${currentTest}]`;
      if (m.type() === 'error') {
        // This machine is offline: a resource from another host (the Flow Library catalogue the palette
        // manager fetches, a web font) cannot load. That is the network, not the editor or this package.
        const external = where !== '' && !where.startsWith(red.url('/'));
        if (/^Failed to load resource/.test(m.text()) && external) ignored.push(text);
        else consoleErrors.push(text);
      } else if (m.type() === 'warning') warnings.push(text);
    });
    page.on('pageerror', (err) => {
      const text = `pageerror: ${err.message} [during: ${currentTest}]\n${err.stack ?? ''}`;
      // Seen about once in eight runs on a loaded machine, from Monaco's own document-highlight code in
      // vendor/monaco: a highlight answered after a text model was disposed. Which editor's model it is has
      // not been pinned down (the dialogs hold our code editors and Node-RED's description editor), so it is
      // listed after the run, not counted; any other page error fails the test.
      // Monaco also reports it re-thrown, with the original stack appended to the message.
      const monacoDisposed =
        err.message.startsWith('TextModelPart is disposed!') &&
        /vendor\/monaco\/.*provideDocumentHighlights/s.test(`${err.message}\n${err.stack ?? ''}`);
      if (monacoDisposed) ignored.push(text.split('\n').slice(0, 3).join(' | '));
      else consoleErrors.push(text);
    });
    await page.goto(red.url('/'));
    await page.locator('#red-ui-palette .red-ui-palette-node[data-palette-type="rule-script"]').waitFor();
  }

  /**
   * A test that opens the editor on `flows` (TAB first) and fails if the browser console reports an error
   * meanwhile.
   */
  function editorTest(title: string, flows: unknown[], fn: () => Promise<void>): void {
    it(title, async function () {
      currentTest = this.test?.title ?? '';
      const from = consoleErrors.length;
      await openEditor(flows);
      await fn();
      assert.deepEqual(consoleErrors.slice(from), [], 'errors in the browser console');
    });
  }

  // --- the editor, through its UI -------------------------------------------------------------------------

  async function idsOf(type: string): Promise<string[]> {
    return page.evaluate((t) => {
      const w = globalThis as unknown as EditorWindow;
      const out: string[] = [];
      w.RED.nodes.eachNode((n) => {
        if (n.type === t) out.push(n.id);
      });
      w.RED.nodes.eachConfig((n) => {
        if (n.type === t) out.push(n.id);
      });
      return out;
    }, type);
  }

  /** The node's properties (its defaults) and whether the editor finds it valid. */
  async function props(id: string): Promise<Record<string, unknown>> {
    return page.evaluate((nid) => {
      const w = globalThis as unknown as EditorWindow;
      const n = w.RED.nodes.node(nid);
      if (!n) throw new Error(`no node ${nid}`);
      const out: Record<string, unknown> = { valid: n.valid };
      for (const k of Object.keys(n._def.defaults)) out[k] = n[k];
      return JSON.parse(JSON.stringify(out));
    }, id);
  }

  /** Drags a node type from the palette onto the workspace, and returns the new node's id. */
  async function addFromPalette(type: string): Promise<string> {
    const before = await idsOf(type);
    const item = page.locator(`#red-ui-palette .red-ui-palette-node[data-palette-type="${type}"]`);
    await item.scrollIntoViewIfNeeded();
    const from = await item.boundingBox();
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    assert.ok(from && chart);
    const to = { x: chart.x + 200 + (row % 2) * 300, y: chart.y + 60 + Math.floor(row / 2) * 70 };
    row++;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2 + 30, from.y + from.height / 2, { steps: 5 });
    await page.mouse.move(to.x, to.y, { steps: 25 });
    await page.mouse.up();
    let added: string[] = [];
    await waitFor(
      async () => {
        added = (await idsOf(type)).filter((id) => !before.includes(id));
        return added.length === 1;
      },
      10000,
      `a ${type} node dropped on the workspace`,
    );
    const id = added[0];
    await nodeOnChart(id).waitFor();
    return id;
  }

  function nodeOnChart(id: string): Locator {
    return page.locator(`#red-ui-workspace-chart g.red-ui-flow-node-group[id="${id}"]`);
  }

  /** The red triangle the editor draws on a node with an invalid setting. */
  async function markedInvalid(id: string): Promise<boolean> {
    return nodeOnChart(id).locator('.red-ui-flow-node-error').first().isVisible();
  }

  async function expectMarked(id: string, invalid: boolean, what: string): Promise<void> {
    await waitFor(async () => (await markedInvalid(id)) === invalid, 5000, `${what}: red triangle ${invalid}`);
    assert.equal((await props(id)).valid, !invalid, `${what}: the editor's valid flag`);
  }

  /** Waits until the tray on top has slid in (its right edge at the window's); the editor lays it out by then. */
  async function trayIn(): Promise<void> {
    const right = () =>
      topTray().evaluate(
        (el) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { right: string } }).getComputedStyle(el).right,
      );
    await waitFor(async () => (await right()) === '0px', 5000, 'the tray to slide in');
  }

  /** Opens a node's edit dialog with a double click. */
  async function openNode(id: string): Promise<void> {
    // A double-click that lands while the previous tray is still closing is ignored by the editor: as a
    // user would, double-click again.
    for (let attempt = 1; ; attempt++) {
      await nodeOnChart(id).locator('rect.red-ui-flow-node').dblclick();
      try {
        await page.locator('#node-dialog-ok').waitFor({ state: 'visible', timeout: 5000 });
        break;
      } catch (err) {
        if (attempt === 3) throw err;
      }
    }
    await page.locator('#dialog-form').waitFor({ state: 'visible' });
    await trayIn();
  }

  /** Clicks a dialog's button and waits until the dialog has gone. */
  async function closeWith(button: string): Promise<void> {
    await page.locator(button).click();
    await page.locator(button).waitFor({ state: 'detached' });
  }
  const done = () => closeWith('#node-dialog-ok');
  const cancel = () => closeWith('#node-dialog-cancel');
  const configDone = () => closeWith('#node-config-dialog-ok');

  async function waitConfigDialog(): Promise<void> {
    await page.locator('#node-config-dialog-ok').waitFor({ state: 'visible' });
    await page.locator('#node-config-dialog-edit-form').waitFor({ state: 'visible' });
    await trayIn();
  }

  /** Types into a text field as a user does (select all, type), then leaves it, so the editor validates it. */
  async function type(selector: string, text: string): Promise<void> {
    const input = page.locator(selector);
    await input.click();
    await input.press('ControlOrMeta+a');
    if (text === '') await input.press('Delete');
    else await input.pressSequentially(text);
    await input.dispatchEvent('change');
  }

  async function hasInputError(selector: string): Promise<boolean> {
    return page
      .locator(selector)
      .evaluate((el) =>
        (el as unknown as { classList: { contains(c: string): boolean } }).classList.contains('input-error'),
      );
  }

  async function expectInputError(selector: string, error: boolean): Promise<void> {
    await waitFor(async () => (await hasInputError(selector)) === error, 5000, `${selector} input-error ${error}`);
  }

  /** Types `bad` into the field and sees it marked, then `good` and sees the mark go. */
  async function refusesThenTakes(selector: string, bad: string, good: string): Promise<void> {
    await type(selector, bad);
    await expectInputError(selector, true);
    await type(selector, good);
    await expectInputError(selector, false);
  }

  async function value(selector: string): Promise<string> {
    return page.locator(selector).inputValue();
  }

  async function checked(selector: string): Promise<boolean> {
    return page.locator(selector).isChecked();
  }

  /** The Monaco editor inside the element with this id. */
  async function code(containerId: string, set?: string): Promise<string> {
    return page.evaluate(
      ([cid, v]) => {
        const w = globalThis as unknown as EditorWindow;
        const el = w.document.getElementById(cid);
        const ed = w.monaco?.editor.getEditors().find((e) => el?.contains(e.getDomNode()));
        if (!ed) throw new Error(`no Monaco editor in #${cid}`);
        if (typeof v === 'string') ed.setValue(v);
        return ed.getValue();
      },
      [containerId, set] as const,
    );
  }

  /** Types at the end of a Monaco editor, with the keyboard. */
  async function typeCode(containerId: string, text: string): Promise<void> {
    // Click inside the visible editor area: the centre of .view-lines can lie outside it once the code scrolls.
    await page.locator(`#${containerId}`).click({ position: { x: 120, y: 12 } });
    await page.keyboard.press('ControlOrMeta+End');
    await page.keyboard.press('End');
    await page.keyboard.type(text);
  }

  /** The tray on top (a config node's dialog opens over the dialog of the node that uses it). */
  function topTray(): Locator {
    return page.locator('.red-ui-tray').last();
  }

  /** Asks for the help of the dialog on top (its book button) and checks the Help tab shows the node's help. */
  async function expectHelp(nodeType: string): Promise<void> {
    await topTray().locator('.red-ui-tray-footer-left button:has(i.fa-book)').click();
    const stack = page.locator('.red-ui-sidebar-help-stack');
    const title = stack.locator('h1.red-ui-help-title');
    await waitFor(async () => squash(await title.textContent()) === paletteLabel(nodeType), 5000, `${nodeType} help`);
    const opening = helpOpening(nodeType);
    assert.ok(opening.length > 20, `${nodeType}: the help has an opening sentence`);
    const text = squash(await stack.locator('.red-ui-help').first().textContent());
    assert.ok(text.includes(opening), `${nodeType}: the Help tab shows "${opening}"; it shows: ${text.slice(0, 300)}`);
  }

  /**
   * No text of the open dialog is a catalog key (an untranslated label shows as its key) and no label, button
   * or option is empty.
   */
  async function expectTranslated(formSelector: string, nodeType: string): Promise<void> {
    const keyLike = new RegExp(`\\b(?:${TYPES.map((t) => setOf(t).name).join('|')})\\.[a-zA-Z]+\\.`);
    const texts = await page.locator(formSelector).evaluate((form) => {
      const f = form as unknown as {
        innerText: string;
        querySelectorAll(s: string): Array<{ getAttribute(a: string): string | null; textContent: string | null }>;
      };
      const placeholders = Array.from(f.querySelectorAll('[placeholder]')).map(
        (e) => e.getAttribute('placeholder') ?? '',
      );
      const empty = Array.from(f.querySelectorAll('label[data-i18n], span[data-i18n], option, button'))
        .filter(
          (e) =>
            (e.textContent ?? '').trim() === '' &&
            !(e as unknown as { querySelector(s: string): unknown }).querySelector('i'),
        )
        .map((e) => e.getAttribute('data-i18n') ?? e.getAttribute('id') ?? '?');
      return { text: f.innerText, placeholders, empty };
    });
    assert.doesNotMatch(texts.text, keyLike, `${nodeType}: a catalog key shown as text`);
    for (const p of texts.placeholders) assert.doesNotMatch(p, keyLike, `${nodeType}: a catalog key as placeholder`);
    assert.deepEqual(texts.empty, [], `${nodeType}: labels without text`);
  }

  async function shot(nodeType: string): Promise<void> {
    await page.screenshot({ path: screenshotPath(`editor-${nodeType}`) });
  }

  /** The open dialog of `nodeType` (the node's, or a config node's over it): translated, with help; a screenshot. */
  async function checkDialog(nodeType: string, formSelector = '#dialog-form'): Promise<void> {
    await expectTranslated(formSelector, nodeType);
    await expectHelp(nodeType);
    await shot(nodeType);
  }

  // --- the node types ---------------------------------------------------------------------------------------

  editorTest(
    'lists every node type of the package in the palette (config nodes excepted), under "rule engine"',
    [TAB],
    async () => {
      for (const t of TYPES) {
        const item = page.locator(
          `#red-ui-palette-container-rule_engine .red-ui-palette-node[data-palette-type="${t}"]`,
        );
        const isConfig = t === 'rule-device-store' || t === 'rule-integration';
        assert.equal(await item.count(), isConfig ? 0 : 1, t);
        if (!isConfig)
          assert.equal(squash(await item.locator('.red-ui-palette-label').innerText()), paletteLabel(t), t);
      }
    },
  );

  editorTest('rule-save-timeseries, with a new rule-device-store from the config node dialog', [TAB], async () => {
    const id = await addFromPalette('rule-save-timeseries');
    await expectMarked(id, true, 'no device store yet');
    await openNode(id);
    await expectInputError('#node-input-deviceStore', true);
    await type('#node-input-name', 'latest readings');

    // The device store: a new config node.
    await page.locator('#node-input-btn-deviceStore-add').click();
    await waitConfigDialog();
    await expectTranslated('#node-config-dialog-edit-form', 'rule-device-store');
    await type('#node-config-input-name', 'devices');
    const stores = await page.locator('#node-config-input-store option').allInnerTexts();
    assert.equal(stores[0], (setOf('rule-device-store').en.label as Record<string, string>).defaultStore);
    await page.locator('#node-config-input-store').selectOption('');
    // Redis: its fields show only for it, and a URL holding a password is refused (it would be in the flow).
    assert.equal(await page.locator('#node-config-input-redisUrl').isVisible(), false);
    await page.locator('#node-config-input-backend').selectOption('redis');
    assert.equal(await page.locator('#node-config-input-redisUrl').isVisible(), true);
    assert.equal(await page.locator('#node-config-input-store').isVisible(), false);
    await type('#node-config-input-redisUrl', 'redis://user:secret@127.0.0.1:6379');
    await expectInputError('#node-config-input-redisUrl', true);
    await type('#node-config-input-redisUrl', 'redis://127.0.0.1:6379');
    await expectInputError('#node-config-input-redisUrl', false);
    await page.locator('#node-config-input-backend').selectOption('context');
    assert.equal(await page.locator('#node-config-input-store').isVisible(), true);
    await type('#node-config-input-timeout', 'soon');
    await expectInputError('#node-config-input-timeout', true);
    await type('#node-config-input-timeout', '2500');
    await expectInputError('#node-config-input-timeout', false);
    await expectHelp('rule-device-store');
    await shot('rule-device-store');
    await configDone();

    const storeId = (await idsOf('rule-device-store'))[0];
    assert.ok(storeId, 'the device store config node exists');
    assert.equal(await value('#node-input-deviceStore'), storeId);
    await expectInputError('#node-input-deviceStore', false);
    await checkDialog('rule-save-timeseries');
    await done();
    await expectMarked(id, false, 'with a device store');
    assert.deepEqual(await props(id), { valid: true, ...ENTERED['rule-save-timeseries'], deviceStore: storeId });
    assert.deepEqual(await props(storeId), { valid: true, ...settingsOf(STORE) });

    // Opened again: the values are kept, the store's too.
    await openNode(id);
    assert.equal(await value('#node-input-name'), 'latest readings');
    assert.equal(await value('#node-input-deviceStore'), storeId);
    await page.locator('#node-input-btn-deviceStore-edit').click();
    await waitConfigDialog();
    assert.equal(await value('#node-config-input-name'), 'devices');
    assert.equal(await value('#node-config-input-store'), '');
    assert.equal(await value('#node-config-input-timeout'), '2500');
    // An invalid time limit saved: the config node is invalid, and so is every node that uses it.
    await type('#node-config-input-timeout', '');
    await expectInputError('#node-config-input-timeout', true);
    await saveInvalidConfig(id, 'deviceStore', storeId, 'a device store without a time limit');
    await type('#node-config-input-timeout', '2500');
    await expectInputError('#node-config-input-timeout', false);
    await configDone();
    await done();
    await expectMarked(id, false, 'its device store is valid again');
  });

  /**
   * Saves the open config node dialog (of node `id`'s `property`) with an invalid setting: the config node is
   * invalid and `id` is marked; then opens the config node again through `id`.
   */
  async function saveInvalidConfig(id: string, property: string, configId: string, what: string): Promise<void> {
    await configDone();
    assert.equal((await props(configId)).valid, false, `${what} is invalid`);
    await done();
    await expectMarked(id, true, `${what}: the node using it`);
    await openNode(id);
    await page.locator(`#node-input-btn-${property}-edit`).click();
    await waitConfigDialog();
  }

  /** A node with a device store: the select, then an invalid choice (none) marked and fixed. */
  async function deviceStoreRoundTrip(id: string, nodeType: string): Promise<void> {
    await openNode(id);
    await page.locator('#node-input-deviceStore').selectOption('_ADD_');
    await expectInputError('#node-input-deviceStore', true);
    await done();
    await expectMarked(id, true, `${nodeType} without a device store`);
    await openNode(id);
    await expectInputError('#node-input-deviceStore', true);
    await page.locator('#node-input-deviceStore').selectOption(STORE.id);
    await expectInputError('#node-input-deviceStore', false);
    await done();
    await expectMarked(id, false, `${nodeType} with its device store again`);
  }

  editorTest('rule-save-attributes', [TAB, STORE], async () => {
    const t = 'rule-save-attributes';
    const id = await addFromPalette(t);
    await openNode(id);
    await type('#node-input-name', 'client attributes');
    await page.locator('#node-input-deviceStore').selectOption(STORE.id);
    assert.equal(await value('#node-input-scope'), 'server', 'ThingsBoard default scope');
    const scopes = await page.locator('#node-input-scope option').allInnerTexts();
    assert.deepEqual(scopes, Object.values(setOf(t).en.scope as Record<string, string>));
    await page.locator('#node-input-scope').selectOption('client');
    // ThingsBoard's defaults for a new node: only if changed and type cast on, Attributes Updated off.
    assert.equal(await checked('#node-input-onlyIfChanged'), true);
    assert.equal(await checked('#node-input-sendAttributesUpdated'), false);
    assert.equal(await checked('#node-input-typeCast'), true);
    await page.locator('#node-input-sendAttributesUpdated').check();
    await checkDialog(t);
    await done();
    await expectMarked(id, false, t);
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t] });
    assert.equal(await nodeOnChart(id).locator('.red-ui-flow-port-output').count(), 3, 'Attributes Updated added');
    await openNode(id);
    assert.equal(await value('#node-input-name'), 'client attributes');
    assert.equal(await value('#node-input-deviceStore'), STORE.id);
    assert.equal(await value('#node-input-scope'), 'client');
    assert.equal(await checked('#node-input-sendAttributesUpdated'), true);
    await page.locator('#node-input-sendAttributesUpdated').uncheck();
    await done();
    assert.equal(await nodeOnChart(id).locator('.red-ui-flow-port-output').count(), 2, 'back to Success, Failure');
    await deviceStoreRoundTrip(id, t);
  });

  editorTest(
    'nodes saved before the ThingsBoard options show them as they run: off, JavaScript numbers, JSON',
    [TAB, STORE, ...OLD_NODES],
    async () => {
      await openNode(OLD_NODES[0].id);
      for (const box of ['onlyIfChanged', 'sendAttributesUpdated', 'typeCast']) {
        assert.equal(await checked(`#node-input-${box}`), false, box);
      }
      await cancel();
      await openNode(OLD_NODES[1].id);
      assert.equal(await value('#node-input-doubleFormat'), 'javascript');
      assert.equal(await value('#node-input-patternObjects'), 'json');
      await cancel();
      for (const n of OLD_NODES) await expectMarked(n.id, false, `${n.type} saved before the options`);
    },
  );

  editorTest('rule-originator-attributes', [TAB, STORE], async () => {
    const t = 'rule-originator-attributes';
    const id = await addFromPalette(t);
    await openNode(id);
    // ThingsBoard's behaviour for a new node.
    assert.equal(await value('#node-input-doubleFormat'), 'thingsboard');
    assert.equal(await value('#node-input-patternObjects'), 'keep');
    await type('#node-input-name', 'device name');
    await page.locator('#node-input-deviceStore').selectOption(STORE.id);
    await type('#rule-oa-clientAttributeNames', 'deviceName, deviceType, deviceName');
    await type('#rule-oa-sharedAttributeNames', 'targetTemperature');
    await type('#rule-oa-serverAttributeNames', '');
    await type('#rule-oa-latestTsKeyNames', 'temperature,  humidity');
    assert.equal(await value('#node-input-fetchTo'), 'metadata');
    const hint = page.locator('#rule-oa-fetchto-hint');
    const hints = setOf(t).en.hint as Record<string, string>;
    assert.equal(squash(await hint.textContent()), hints.metadata);
    await page.locator('#node-input-fetchTo').selectOption('data');
    assert.equal(squash(await hint.textContent()), hints.data, 'the hint follows the choice');
    await page.locator('#node-input-getLatestValueWithTs').check();
    await page.locator('#node-input-tellFailureIfAbsent').uncheck();
    await type('#node-input-telemetryPrefix', 'bad prefix!');
    await expectInputError('#node-input-telemetryPrefix', true);
    await checkDialog(t);
    await done();
    await expectMarked(id, true, 'a telemetry prefix with a space and "!"');

    await openNode(id);
    await expectInputError('#node-input-telemetryPrefix', true);
    assert.equal(await value('#rule-oa-clientAttributeNames'), 'deviceName, deviceType');
    assert.equal(await value('#rule-oa-sharedAttributeNames'), 'targetTemperature');
    assert.equal(await value('#rule-oa-serverAttributeNames'), '');
    assert.equal(await value('#rule-oa-latestTsKeyNames'), 'temperature, humidity');
    assert.equal(await value('#node-input-fetchTo'), 'data');
    assert.equal(squash(await hint.textContent()), hints.data);
    assert.equal(await checked('#node-input-getLatestValueWithTs'), true);
    assert.equal(await checked('#node-input-tellFailureIfAbsent'), false);
    await type('#node-input-telemetryPrefix', 'tb_');
    await expectInputError('#node-input-telemetryPrefix', false);
    await done();
    await expectMarked(id, false, t);
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t] });
    await deviceStoreRoundTrip(id, t);
  });

  editorTest('rule-msg-type-switch: eight outputs labelled from the catalog', [TAB], async () => {
    const t = 'rule-msg-type-switch';
    const id = await addFromPalette(t);
    await expectMarked(id, false, 'nothing to configure');
    await openNode(id);
    await type('#node-input-name', 'by type');
    await checkDialog(t);
    await done();
    await openNode(id);
    assert.equal(await value('#node-input-name'), 'by type');
    await cancel();
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t] });

    // Each output port's label, as the editor shows it on hover.
    const ports = nodeOnChart(id).locator('.red-ui-flow-port-output');
    assert.equal(await ports.count(), 8);
    const labels = Object.values(setOf(t).en.outputs as Record<string, string>);
    for (const i of [0, 3, 7]) {
      await page.mouse.move(0, 0);
      await ports.nth(i).locator('.red-ui-flow-port').hover();
      const tip = page.locator('.red-ui-flow-port-tooltip');
      await waitFor(async () => squash(await tip.textContent().catch(() => '')) === labels[i], 5000, `port ${i}`);
    }
    await page.mouse.move(0, 0);
  });

  /** Opens the Test panel of a script node's dialog (ids `prefix`-test-...) and waits for its sample. */
  async function openTestPanel(prefix: string): Promise<void> {
    await page.locator(`#${prefix}-test-toggle`).click();
    const source = page.locator(`#${prefix}-test-source`);
    await waitFor(async () => squash(await source.textContent()) !== '', 10000, `the ${prefix} sample`);
  }

  editorTest('rule-script: the Monaco editor, the time limit, the Test panel', [TAB], async () => {
    const t = 'rule-script';
    const id = await addFromPalette(t);
    await expectMarked(id, false, 'the default script');
    await openNode(id);
    assert.equal(await code('node-input-script-editor'), 'return {msg: msg, metadata: metadata, msgType: msgType};');
    await type('#node-input-name', 'to device');
    const script =
      'var out = { method: msg.method, params: msg.params };\nreturn { msg: out, metadata: metadata, msgType: msgType };';
    await code('node-input-script-editor', script);
    await typeCode('node-input-script-editor', '\n// typed in the browser');
    const typed = await code('node-input-script-editor');
    assert.ok(typed.startsWith(script) && typed.trimEnd().endsWith('// typed in the browser'), typed);
    await type('#node-input-timeout', 'soon');
    await expectInputError('#node-input-timeout', true);

    // The Test panel runs the script in the runtime (not deployed yet: the default sample).
    await openTestPanel('rule-script');
    await type('#node-input-timeout', '750');
    await expectInputError('#node-input-timeout', false);
    await page.locator('#rule-script-test-run').click();
    const output = page.locator('#rule-script-test-output');
    const running = (setOf(t).en.test as Record<string, string>).running;
    await waitFor(async () => !['', running].includes(squash(await output.textContent())), 15000, 'the test output');
    assert.match(squash(await output.textContent()), /"msgType"/, 'the result of the script');
    // An error the script throws is shown as its kind and message.
    await code('node-input-script-editor', 'throw new Error("no such device");');
    await page.locator('#rule-script-test-run').click();
    await waitFor(async () => /no such device/.test((await output.textContent()) ?? ''), 15000, 'the error');
    assert.match(squash(await output.textContent()), /^runtime: .*no such device/);
    // TBEL: the code editor is rebuilt in the new mode with the code kept, and the Test runs TBEL.
    await page.locator('#node-input-language').selectOption('tbel');
    await code(
      'node-input-script-editor',
      'var sum = 0;\nforeach (v : [1, 2, 3]) { sum += v; }\nreturn {msg: {sum: sum}};',
    );
    await page.locator('#rule-script-test-run').click();
    await waitFor(async () => /"sum": 6/.test((await output.textContent()) ?? ''), 15000, 'the TBEL output');
    await code('node-input-script-editor', 'var a = ;');
    await page.locator('#rule-script-test-run').click();
    await waitFor(async () => /TBEL syntax error/.test((await output.textContent()) ?? ''), 15000, 'the TBEL error');
    assert.match(
      squash(await output.textContent()),
      /^compile: TBEL syntax error: unexpected ';' \(line 1, column 9\)/,
    );
    await page.locator('#node-input-language').selectOption('javascript');
    await code('node-input-script-editor', typed);
    await checkDialog(t);
    await type('#node-input-timeout', 'soon');
    await done();
    await expectMarked(id, true, 'a time limit that is not a number');

    await openNode(id);
    await expectInputError('#node-input-timeout', true);
    assert.equal(await value('#node-input-name'), 'to device');
    assert.equal(await code('node-input-script-editor'), typed, 'the script is kept');
    await type('#node-input-timeout', '750');
    await done();
    await expectMarked(id, false, t);
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t], script: typed });
  });

  /** Runs the open dialog's Test (panel `prefix`-test-...) and waits for its output. */
  async function runTestPanel(prefix: string, nodeType: string): Promise<string> {
    const output = page.locator(`#${prefix}-test-output`);
    await output.evaluate((el) => {
      (el as unknown as { textContent: string }).textContent = '';
    });
    await page.locator(`#${prefix}-test-run`).click();
    const running = (setOf(nodeType).en.test as Record<string, string>).running;
    let text = '';
    await waitFor(
      async () => {
        text = squash(await output.textContent());
        return !['', running].includes(text);
      },
      15000,
      `the ${nodeType} test output`,
    );
    return text;
  }

  editorTest('rule-script-filter: the shared script dialog, a Test that shows the boolean', [TAB], async () => {
    const t = 'rule-script-filter';
    const id = await addFromPalette(t);
    await expectMarked(id, false, 'the default script');
    assert.equal(await nodeOnChart(id).locator('.red-ui-flow-port-output').count(), 3, 'True, False, Failure');
    await openNode(id);
    assert.equal(await code('node-input-script-editor'), 'return msg.temperature > 20;');
    await type('#node-input-name', 'warm');
    await type('#node-input-timeout', '750');
    await openTestPanel('rule-script-filter');
    // The default sample has 22.4 degrees.
    assert.equal(await runTestPanel('rule-script-filter', t), 'true');
    await code('node-input-script-editor', 'return 1;');
    assert.match(await runTestPanel('rule-script-filter', t), /^result: .*got number$/);
    await page.locator('#node-input-language').selectOption('tbel');
    await code('node-input-script-editor', 'msg.temperature > 30');
    assert.equal(await runTestPanel('rule-script-filter', t), 'false');
    await page.locator('#node-input-language').selectOption('javascript');
    await code('node-input-script-editor', 'return msg.temperature > 20;');
    await checkDialog(t);
    await done();
    await expectMarked(id, false, t);
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t] });
  });

  /** The wires from node `id`, as {target: output}. */
  async function wiresOf(id: string): Promise<Record<string, number>> {
    return page.evaluate((nid) => {
      const w = globalThis as unknown as {
        RED: { nodes: { filterLinks(f: object): Array<{ sourcePort: number; target: { id: string } }> } };
      };
      const links = w.RED.nodes.filterLinks({ source: { id: nid } });
      // A moved wire's port is the text Node-RED read from #node-input-outputs: compared as a number.
      return Object.fromEntries(links.map((l) => [l.target.id, Number(l.sourcePort)]));
    }, id);
  }

  const SWITCH = {
    id: 'edswitch0000001',
    type: 'rule-script-switch',
    z: TAB.id,
    name: '',
    language: 'javascript',
    script: ENTERED['rule-script-switch'].script,
    timeout: 500,
    relations: ['High', 'Normal', 'Low'],
    outputs: 4,
    x: 300,
    y: 300,
    wires: [['eddebughigh0001'], ['eddebugnorm0001'], ['eddebuglow00001'], ['eddebugfail0001']],
  };
  const debugNode = (id: string, y: number) => ({ id, type: 'debug', z: TAB.id, x: 600, y, wires: [] });

  editorTest(
    'rule-script-switch: its outputs follow the relation list, wires move with their relation',
    [
      TAB,
      SWITCH,
      debugNode('eddebughigh0001', 240),
      debugNode('eddebugnorm0001', 280),
      debugNode('eddebuglow00001', 320),
      debugNode('eddebugfail0001', 360),
    ],
    async () => {
      const t = 'rule-script-switch';
      const id = SWITCH.id;
      const ports = nodeOnChart(id).locator('.red-ui-flow-port-output');
      await waitFor(async () => (await ports.count()) === 4, 10000, 'three relations and Failure');
      await openNode(id);
      const items = page.locator('#rule-script-switch-relations .rule-script-switch-relation');
      assert.deepEqual(await items.evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value)), [
        'High',
        'Normal',
        'Low',
      ]);
      await type('#node-input-name', 'by temperature');
      await openTestPanel('rule-script-switch');
      assert.equal(await runTestPanel('rule-script-switch', t), '["Normal"]');
      // Remove Normal, add Alarm: the Test checks against the list as it is in the dialog.
      await page.locator('#rule-script-switch-relations li').nth(1).locator('.red-ui-editableList-item-remove').click();
      await page.locator('.red-ui-editableList-addButton').click();
      await items.last().fill('Alarm');
      // The list fades a removed item out for 300 ms; the Test, run at once, already leaves it out.
      assert.match(
        await runTestPanel('rule-script-switch', t),
        /^result: no output for relation "Normal": the relations are "High", "Low", "Alarm"$/,
      );
      await checkDialog(t);
      await done();
      await expectMarked(id, false, t);
      const p = await props(id);
      const entered = ENTERED[t];
      assert.deepEqual([p.name, p.relations, p.outputs], [entered.name, entered.relations, entered.outputs]);
      await waitFor(async () => (await ports.count()) === 4, 5000, 'High, Low, Alarm and Failure');
      // Low's wire moved up with it, Normal's went with its output, Failure's stayed on the last output.
      assert.deepEqual(await wiresOf(id), { eddebughigh0001: 0, eddebuglow00001: 1, eddebugfail0001: 3 });
      const labels = ['High', 'Low', 'Alarm', (setOf(t).en.outputs as Record<string, string>).failure];
      for (const i of [1, 3]) {
        await page.mouse.move(0, 0);
        await ports.nth(i).locator('.red-ui-flow-port').hover();
        const tip = page.locator('.red-ui-flow-port-tooltip');
        await waitFor(async () => squash(await tip.textContent().catch(() => '')) === labels[i], 5000, `port ${i}`);
      }
      await page.mouse.move(0, 0);
      // Again, with the list as saved; an invalid list (a name twice) marks the node.
      await openNode(id);
      await page.locator('.red-ui-editableList-addButton').click();
      await items.last().fill('High');
      await done();
      await expectMarked(id, true, 'a relation named twice');
    },
  );

  editorTest(
    'rule-integration-uplink, with a new rule-integration from the config node dialog (settings, converters, tests)',
    [TAB, STORE],
    async () => {
      const id = await addFromPalette('rule-integration-uplink');
      await expectMarked(id, true, 'no integration yet');
      await openNode(id);
      await type('#node-input-name', 'thermostat uplink');
      await page.locator('#node-input-btn-integration-add').click();
      await waitConfigDialog();
      const intTexts = setOf('rule-integration').en;
      const tab = (label: string) => page.locator('#rule-int-tabs .red-ui-tab-label', { hasText: label });

      // Settings tab.
      await type('#node-config-input-name', 'thermostats');
      assert.equal(await value('#node-config-input-deviceStore'), STORE.id, 'the only device store');
      await page.locator('#node-config-input-allowCreateDevices').uncheck();
      for (const [field, bad, good] of [
        ['timeout', '0', '800'],
        ['maxPayloadBytes', '1.5', '4096'],
        ['topicPattern', 'devices/#', 'lab/${topic}'],
        ['queueSize', '1.5', '500'],
        ['queueMaxAge', '0', '30'],
      ]) {
        await type(`#node-config-input-${field}`, bad);
        await expectInputError(`#node-config-input-${field}`, true);
        await type(`#node-config-input-${field}`, good);
        await expectInputError(`#node-config-input-${field}`, false);
      }
      await page.locator('#rule-int-tab-settings .red-ui-editableList-addButton').click();
      await page.locator('#rule-int-metadata-list .rule-int-md-key').last().fill('site');
      await page.locator('#rule-int-metadata-list .rule-int-md-value').last().fill('lab');
      await page.locator('#node-config-input-qos').selectOption('2');
      await page.locator('#node-config-input-retain').check();
      await page.locator('#node-config-input-coalesce').uncheck();
      await checkDialog('rule-integration', '#node-config-dialog-edit-form');

      // Uplink converter tab: the decoder, and its test.
      await tab((intTexts.tabs as Record<string, string>).uplink).click();
      await page.locator('#rule-int-decoder-editor').waitFor({ state: 'visible' });
      const decoder = await code('rule-int-decoder-editor');
      assert.match(decoder, /decodeToJson\(payload\)/, 'the tutorial decoder by default');
      const newDecoder = decoder.replace('telemetryObj.values.temperature', 'telemetryObj.values.celsius');
      await code('rule-int-decoder-editor', newDecoder);
      await typeCode('rule-int-decoder-editor', '\n// decoder edited');
      const decoderTyped = await code('rule-int-decoder-editor');
      await page.locator('#rule-int-dec-toggle').click();
      await page.locator('#rule-int-dec-run').click();
      const decOut = page.locator('#rule-int-dec-output');
      await waitFor(async () => /celsius/.test((await decOut.textContent()) ?? ''), 15000, 'the decoder test output');
      const decText = (await decOut.textContent()) ?? '';
      assert.match(decText, /"integrationName": "thermostats"/, decText);
      assert.match(decText, /"deviceName": "Thermostat-A"/);
      await shot('rule-integration-uplink-converter');

      // Downlink converter tab: the encoder, and its test with the Settings tab's topic.
      await tab((intTexts.tabs as Record<string, string>).downlink).click();
      await page.locator('#rule-int-encoder-editor').waitFor({ state: 'visible' });
      const encoder = await code('rule-int-encoder-editor');
      assert.match(encoder, /contentType: "JSON"/, 'the tutorial encoder by default');
      await typeCode('rule-int-encoder-editor', '\n// encoder edited');
      const encoderTyped = await code('rule-int-encoder-editor');
      await page.locator('#rule-int-enc-toggle').click();
      await page.locator('#rule-int-enc-run').click();
      const encOut = page.locator('#rule-int-enc-output');
      await waitFor(
        async () => /"mqtt"/.test((await encOut.textContent()) ?? ''),
        15000,
        'the encoder test output',
      ).catch(async (err) => {
        throw new Error(`${err.message}; it shows: ${await encOut.textContent()}`);
      });
      const encText = (await encOut.textContent()) ?? '';
      assert.match(encText, /"topic": "lab\/devices\/Thermostat-A\/temperature\/settings"/, encText);
      assert.match(encText, /"qos": 2/);
      assert.match(encText, /"retain": true/);
      await shot('rule-integration-downlink-converter');
      await configDone();

      const intId = (await idsOf('rule-integration'))[0];
      assert.ok(intId, 'the integration config node exists');
      assert.equal(await value('#node-input-integration'), intId);
      await checkDialog('rule-integration-uplink');
      await done();
      await expectMarked(id, false, 'with an integration');
      // What was entered is the INTEGRATION fixture's settings, but for the converters.
      const expectedIntegration = {
        valid: true,
        ...settingsOf(INTEGRATION),
        decoder: decoderTyped,
        encoder: encoderTyped,
      };
      assert.deepEqual(await props(intId), expectedIntegration);
      assert.deepEqual(await props(id), { valid: true, ...ENTERED['rule-integration-uplink'], integration: intId });

      // Opened again, through the node: everything kept.
      await openNode(id);
      assert.equal(await value('#node-input-name'), 'thermostat uplink');
      await page.locator('#node-input-btn-integration-edit').click();
      await waitConfigDialog();
      assert.equal(await value('#node-config-input-name'), 'thermostats');
      assert.equal(await value('#node-config-input-deviceStore'), STORE.id);
      assert.equal(await checked('#node-config-input-allowCreateDevices'), false);
      assert.equal(await value('#node-config-input-timeout'), '800');
      assert.equal(await value('#node-config-input-maxPayloadBytes'), '4096');
      assert.equal(await value('#node-config-input-topicPattern'), 'lab/${topic}');
      assert.equal(await value('#node-config-input-qos'), '2');
      assert.equal(await checked('#node-config-input-retain'), true);
      assert.equal(await value('#node-config-input-queueSize'), '500');
      assert.equal(await value('#node-config-input-queueMaxAge'), '30');
      assert.equal(await checked('#node-config-input-coalesce'), false);
      assert.equal(await value('#rule-int-metadata-list .rule-int-md-key'), 'site');
      assert.equal(await value('#rule-int-metadata-list .rule-int-md-value'), 'lab');
      assert.equal(await code('rule-int-decoder-editor'), decoderTyped);
      assert.equal(await code('rule-int-encoder-editor'), encoderTyped);
      // Two metadata rows with the same key: the integration is invalid.
      await page.locator('#rule-int-tab-settings .red-ui-editableList-addButton').click();
      await page.locator('#rule-int-metadata-list .rule-int-md-key').last().fill('site');
      await saveInvalidConfig(id, 'integration', intId, 'an integration with duplicate metadata keys');
      await page.locator('#rule-int-metadata-list .red-ui-editableList-item-remove').last().click();
      await configDone();
      assert.deepEqual(await props(intId), expectedIntegration);
      await done();
      await expectMarked(id, false, 'its integration is valid again');
    },
  );

  editorTest('rule-integration-downlink', [TAB, STORE, INTEGRATION], async () => {
    const t = 'rule-integration-downlink';
    const id = await addFromPalette(t);
    await openNode(id);
    await type('#node-input-name', 'thermostat downlink');
    await page.locator('#node-input-integration').selectOption(INTEGRATION.id);
    await expectInputError('#node-input-integration', false);
    await checkDialog(t);
    await done();
    await expectMarked(id, false, t);
    await openNode(id);
    assert.equal(await value('#node-input-name'), 'thermostat downlink');
    assert.equal(await value('#node-input-integration'), INTEGRATION.id);
    await page.locator('#node-input-integration').selectOption('_ADD_');
    await expectInputError('#node-input-integration', true);
    await done();
    await expectMarked(id, true, 'without an integration');
    await openNode(id);
    await page.locator('#node-input-integration').selectOption(INTEGRATION.id);
    await done();
    await expectMarked(id, false, t);
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t] });
  });

  editorTest('rule-rpc-request', [TAB, STORE], async () => {
    const t = 'rule-rpc-request';
    const id = await addFromPalette(t);
    await openNode(id);
    await type('#node-input-name', 'set-point');
    await page.locator('#node-input-deviceStore').selectOption(STORE.id);
    await type('#node-input-device', 'Thermostat-A');
    await type('#node-input-method', '');
    await expectInputError('#node-input-method', true);
    await type('#node-input-method', 'setTemperature');
    await expectInputError('#node-input-method', false);
    await type('#node-input-getValueMethod', '');
    assert.equal(await page.locator('#rule-rpc-valuekey-row').isVisible(), false, 'no value key without a get method');
    await type('#node-input-getValueMethod', 'getTemperature');
    assert.equal(await page.locator('#rule-rpc-valuekey-row').isVisible(), true);
    await type('#node-input-valueKey', 'celsius');
    await type('#node-input-timeout', '0');
    await expectInputError('#node-input-timeout', true);
    const hints = setOf(t).en.hint as Record<string, string>;
    // One-way by default: the knob's setValue counts as done once it is handed to MQTT.
    assert.equal(await checked('#node-input-oneway'), true, 'one-way by default');
    assert.equal(squash(await page.locator('#rule-rpc-oneway-hint').textContent()), hints.oneway);
    await page.locator('#node-input-oneway').uncheck();
    assert.equal(squash(await page.locator('#rule-rpc-oneway-hint').textContent()), hints.twoway);
    await page.locator('#node-input-oneway').check();
    assert.equal(squash(await page.locator('#rule-rpc-oneway-hint').textContent()), hints.oneway);
    // Persistent calls: their settings show once the box is ticked.
    assert.equal(await checked('#node-input-persistent'), false, 'not persistent by default');
    assert.equal(await page.locator('#node-input-retries').isVisible(), false);
    await page.locator('#node-input-persistent').check();
    assert.equal(await page.locator('#node-input-retries').isVisible(), true);
    await refusesThenTakes('#node-input-retries', '-1', '2');
    await type('#node-input-expiration', '600');
    await type('#node-input-onlineWindow', '30');
    await checkDialog(t);
    await done();
    await expectMarked(id, true, 'a time limit of 0');

    await openNode(id);
    await expectInputError('#node-input-timeout', true);
    assert.equal(await value('#node-input-name'), 'set-point');
    assert.equal(await value('#node-input-deviceStore'), STORE.id);
    assert.equal(await value('#node-input-device'), 'Thermostat-A');
    assert.equal(await value('#node-input-method'), 'setTemperature');
    assert.equal(await value('#node-input-getValueMethod'), 'getTemperature');
    assert.equal(await value('#node-input-valueKey'), 'celsius');
    assert.equal(await checked('#node-input-oneway'), true);
    assert.equal(squash(await page.locator('#rule-rpc-oneway-hint').textContent()), hints.oneway);
    assert.equal(await checked('#node-input-persistent'), true);
    assert.equal(await value('#node-input-retries'), '2');
    assert.equal(await value('#node-input-onlineWindow'), '30');
    await type('#node-input-timeout', '1500');
    await expectInputError('#node-input-timeout', false);
    await done();
    await expectMarked(id, false, t);
    assert.deepEqual(await props(id), { valid: true, ...ENTERED[t] });
    await deviceStoreRoundTrip(id, t);
  });

  editorTest('rule-knob: a Dashboard 2.0 group, range, step and send mode, each checked', [TAB, ...UI], async () => {
    const t = 'rule-knob';
    const id = await addFromPalette(t);
    await openNode(id);
    await page.locator('#node-input-group').selectOption(UI_GROUP.id);
    await type('#node-input-label', 'Set-point');
    await refusesThenTakes('#node-input-max', '-5', '40');
    await type('#node-input-min', '5');
    await type('#node-input-step', '50');
    await expectInputError('#node-input-step', true);
    await type('#node-input-step', '0.5');
    await expectInputError('#node-input-step', false);
    await type('#node-input-unit', '°C');
    assert.equal(await page.locator('#rule-knob-settle-row').isVisible(), true, 'settle time for the default mode');
    assert.equal(await page.locator('#rule-knob-throttle-row').isVisible(), false);
    await page.locator('#node-input-send').selectOption('continuous');
    assert.equal(await page.locator('#rule-knob-settle-row').isVisible(), false);
    assert.equal(await page.locator('#rule-knob-throttle-row').isVisible(), true, 'throttle for continuous');
    await type('#node-input-throttle', '10');
    await expectInputError('#node-input-throttle', true);
    await type('#node-input-throttle', '300');
    await expectInputError('#node-input-throttle', false);
    await checkDialog(t);
    await done();
    await expectMarked(id, false, t);
    const p = await props(id);
    assert.deepEqual(
      [p.group, p.label, p.min, p.max, p.step, p.unit, p.send, p.throttle, p.settle, p.staleIntervals],
      [UI_GROUP.id, 'Set-point', '5', '40', '0.5', '°C', 'continuous', '300', 600, 3],
    );
  });

  editorTest(
    'imports ThingsBoard exports from the main menu: a new tab of the package nodes, and the report as text',
    [TAB, STORE],
    async () => {
      const fixtures = path.join(root, 'test', 'fixtures', 'thingsboard');
      await page.locator('#red-ui-header-button-sidemenu').click();
      const entry = page.locator('#menu-item-rule-engine-import');
      // Beside the editor's own Import entry.
      assert.equal(
        await page.evaluate(() => {
          const d = globalThis as unknown as {
            document: {
              getElementById(id: string): {
                parentElement: { previousElementSibling: { querySelector(s: string): { id: string } | null } | null };
              } | null;
            };
          };
          return (
            d.document
              .getElementById('menu-item-rule-engine-import')
              ?.parentElement.previousElementSibling?.querySelector('a')?.id ?? ''
          );
        }),
        'menu-item-import',
      );
      await entry.click();
      await trayIn();
      // Import without a rule chain: the tray stays, saying why.
      await page.locator('#rule-engine-import-ok').click();
      await waitFor(
        async () => ((await page.locator('.rule-engine-import-error').textContent()) ?? '') !== '',
        10000,
        'the missing rule chain reported',
      );
      await page
        .locator('#rule-engine-import-ruleChain')
        .setInputFiles(path.join(fixtures, 'mqtt-downlink-root-rule-chain.json'));
      await page
        .locator('#rule-engine-import-converters')
        .setInputFiles([
          path.join(fixtures, 'sensor_uplink_converter.json'),
          path.join(fixtures, 'mqtt-downlink-downlink-converter.json'),
        ]);
      await page
        .locator('#rule-engine-import-dashboard')
        .setInputFiles(path.join(fixtures, 'temperature_control_dashboard.json'));
      await shot('import-thingsboard');
      await page.locator('#rule-engine-import-ok').click();
      const report = page.locator('.rule-engine-import-report');
      await report.waitFor({ timeout: 20000 });
      assert.match((await report.textContent()) ?? '', /Not mapped \(1\)[\s\S]*TbDuplicateMsgToGroupNode/);
      // The report is text: markup in it would be an element.
      assert.equal(await report.locator('*').count(), 0);
      const imported = await page.evaluate(() => {
        const w = globalThis as unknown as EditorWindow & {
          RED: { nodes: { eachWorkspace(cb: (n: EditorNode) => void): void } };
        };
        const tabs: string[] = [];
        w.RED.nodes.eachWorkspace((t) => {
          tabs.push(String(t.label));
        });
        const types: string[] = [];
        w.RED.nodes.eachNode((n) => {
          types.push(n.type);
        });
        return { tabs, types };
      });
      assert.equal(imported.tabs.length, 2, `tabs: ${imported.tabs.join(', ')}`);
      assert.equal(
        await page.locator('#red-ui-workspace-tabs .red-ui-tab.active .red-ui-text-bidi-aware').textContent(),
        'Root Rule Chain',
        'the imported tab is shown',
      );
      for (const t of [
        'rule-msg-type-switch',
        'rule-save-attributes',
        'rule-save-timeseries',
        'rule-script',
        'rule-integration-downlink',
      ]) {
        assert.ok(imported.types.includes(t), `${t} imported (got ${imported.types.join(', ')})`);
      }
      await shot('import-thingsboard-done');
    },
  );

  it('has a test above for every node type of the package', function () {
    const titles = (this.test?.parent?.tests ?? []).map((t) => t.title);
    assert.deepEqual(
      TYPES.filter((t) => !titles.some((title) => title.includes(t))),
      [],
    );
  });

  editorTest(
    'deploys from the editor: the runtime gets every value, and starts every node without an error',
    [TAB, STORE, INTEGRATION],
    async () => {
      // Added to the workspace as the Import dialog does, undeployed.
      const nodes = Object.entries(ENTERED).map(([type, settings], i) => ({
        id: `eddeploy${i}`,
        type,
        z: TAB.id,
        x: 200,
        y: 60 + i * 60,
        wires: [],
        ...settings,
      }));
      await page.evaluate((ns) => {
        const w = globalThis as unknown as {
          RED: { view: { importNodes(n: unknown[], o: object): void }; nodes: { dirty(d: boolean): void } };
        };
        w.RED.view.importNodes(ns, { generateIds: false, touchImport: true, notify: false });
        w.RED.nodes.dirty(true);
      }, nodes);
      const ids = [STORE.id, INTEGRATION.id, ...nodes.map((n) => n.id)];
      for (const id of ids) assert.notEqual((await props(id)).valid, false, `${id} is valid in the editor`);
      const logStart = red.output.length;
      await page.locator('#red-ui-header-button-deploy').click();
      // The editor marks the button disabled when the deploy starts, not when the runtime has the flows: wait
      // for the runtime's answer too.
      let flows: Array<Record<string, unknown>> = [];
      await waitFor(
        async () => {
          const cls = (await page.locator('#red-ui-header-button-deploy').getAttribute('class')) ?? '';
          if (!cls.includes('disabled') || (await page.locator('.red-ui-deploy-button-spinner').isVisible())) {
            return false;
          }
          flows = (await (await fetch(red.url('/flows'))).json()) as Array<Record<string, unknown>>;
          return ids.every((id) => flows.some((n) => n.id === id));
        },
        20000,
        'the deploy to finish with every node in the runtime',
      );
      for (const id of ids) {
        const stored = flows.find((n) => n.id === id);
        assert.ok(stored, `${id} deployed`);
        for (const [k, v] of Object.entries(await props(id))) {
          if (k !== 'valid') assert.deepEqual(stored[k], v, `${stored.type}.${k} deployed as in the editor`);
        }
      }
      await red.waitForLog(/Started flows/, 20000, logStart);
      // A second in which no node may log a problem that comes after it starts: a quiet stretch, not a wait.
      await delay(1000);
      // Only what the deploy logged: start-up warnings (projects disabled, unencrypted credentials) are Node-RED's.
      const errors = red.output
        .slice(logStart)
        .split('\n')
        .filter((l) => /\[(error|warn)\]/.test(l));
      assert.deepEqual(errors, [], 'Node-RED log');
    },
  );
});
