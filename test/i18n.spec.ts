/**
 * The message catalogs: every label and status text of the package comes from nodes/<name>/locales, en-US is
 * complete, German (de) has every en-US text, and a real Node-RED serves the German catalog to the editor (and
 * uses it for status texts) when asked for German.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import {
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

type Catalog = { [key: string]: string | Catalog };

const MODULE: string = pkg.name;

/** Each node set of the package: its type, its folder name (= its catalog's namespace key) and its files. */
const SETS = Object.entries(pkg['node-red'].nodes as Record<string, string>).map(([type, js]) => {
  const name = path.basename(js, '.js');
  const dir = path.join(root, 'nodes', name);
  return {
    type,
    name,
    dir,
    html: path.join(dir, `${name}.html`),
    ts: path.join(dir, `${name}.ts`),
    catalog: (lang: string) => path.join(dir, 'locales', lang, `${name}.json`),
    help: (lang: string) => path.join(dir, 'locales', lang, `${name}.html`),
  };
});

function readJson(file: string): Catalog {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Every leaf of a catalog as [dotted key, value]. */
function leaves(c: Catalog, prefix = ''): Array<[string, unknown]> {
  return Object.entries(c).flatMap(
    ([k, v]): Array<[string, unknown]> =>
      v !== null && typeof v === 'object' ? leaves(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v]],
  );
}

function lookup(c: Catalog, key: string): unknown {
  let v: unknown = c;
  for (const part of key.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) return undefined;
    v = (v as Catalog)[part];
  }
  return v;
}

const placeholders = (s: string) => [...s.matchAll(/__([A-Za-z0-9_]+)__/g)].map((m) => m[1]).sort();
const tags = (s: string) => [...s.matchAll(/<\/?([a-z0-9]+)/gi)].map((m) => m[0]).join(' ');

/** The editor definition (first <script>) and the edit template (data-template-name) of a node's .html. */
function parts(html: string, type: string): { js: string; template: string } {
  const js = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const template =
    new RegExp(`<script type="text/html" data-template-name="${type}">([\\s\\S]*?)</script>`).exec(html)?.[1] ?? '';
  return { js, template };
}

const coreCatalog = readJson(
  path.join(
    path.dirname(require.resolve('@node-red/nodes/package.json', { paths: [root] })),
    'locales/en-US/messages.json',
  ),
);

/**
 * Keys built at run time in the editor code ('<prefix>' + something), with what the something can be. A new
 * dynamic key must be listed here, so the test knows every text it can ask for.
 */
function dynamicKeys(set: (typeof SETS)[number], js: string): Record<string, string[]> {
  const ports = /const PORTS = \[([\s\S]*?)\]/.exec(js)?.[1];
  const portKeys = ports ? [...ports.matchAll(/'([^']+)'/g)].map((m) => m[1]) : [];
  return {
    'originator-attributes.hint.': ['metadata', 'data'], // the fetchTo options
    'msg-type-switch.outputs.': portKeys,
    'script-filter.outputs.': portKeys,
    'integration.errors.':
      set.name === 'integration' ? [...js.matchAll(/invalid\(this, '([^']+)'\)/g)].map((m) => m[1]) : [],
    'knob.errors.': set.name === 'knob' ? [...js.matchAll(/check\('([^']+)'/g)].map((m) => m[1]) : [],
  };
}

/**
 * The keys (below the node's namespace) of the texts that resources/rule-engine-editor.js's scriptNode shows
 * for a node, as it names them: text('<key>') in the dialog, i18nKey('<key>') in its labels and the rows it
 * adds to the template, and text(`test.source-${r.source}`) for the sample route's `source` (nodes/lib/admin-routes.ts:
 * 'last' or 'default').
 */
function scriptDialogKeys(): string[] {
  const src = fs.readFileSync(path.join(root, 'resources', 'rule-engine-editor.js'), 'utf8');
  assert.match(src, /text\(`test\.source-\$\{r\.source\}`\)/, 'the sample source texts are test.source-<source>');
  const named = [...src.matchAll(/\b(?:text|i18nKey)\('([\w.-]+)'/g)].map((m) => m[1]);
  return [...named, 'test.source-last', 'test.source-default'];
}

/** The catalog keys a node's .html uses: data-i18n attributes, the editor code's keys and the shared dialog's. */
function htmlKeys(set: (typeof SETS)[number]): string[] {
  const html = fs.readFileSync(set.html, 'utf8');
  const { js } = parts(html, set.type);
  const keys: string[] = [];
  if (/RuleEngineEditor\.scriptNode\(/.test(js)) {
    // The shared definition reads the catalog named by the type after "rule-": the node set's own.
    assert.match(js, new RegExp(`scriptNode\\('${set.type}',`), 'the shared script definition gets its type');
    assert.equal(set.type, `rule-${set.name}`);
    keys.push(...scriptDialogKeys().map((k) => `${set.name}.${k}`));
  }
  for (const m of html.matchAll(/data-i18n="([^"]*)"/g)) {
    for (const k of m[1].split(';')) keys.push(k.replace(/^\[[a-z]+\]/, ''));
  }
  const dynamic = dynamicKeys(set, js);
  for (const m of js.matchAll(/'((?:node-red:)?[a-z-]+\.[A-Za-z0-9_.-]*)'/g)) {
    const k = m[1];
    if (!k.startsWith(`${set.name}.`) && !k.startsWith('node-red:')) continue;
    if (k.endsWith('.') || k.endsWith('-')) {
      const suffixes = dynamic[k];
      assert.ok(suffixes && suffixes.length > 0, `${set.name}.html builds keys from '${k}': list them in dynamicKeys`);
      keys.push(...suffixes.map((s) => k + s));
    } else keys.push(k);
  }
  return keys;
}

/** The t(RED, key, fallback[, vars]) calls of a node's runtime file. */
function runtimeTexts(file: string): Array<{ key: string; fallback: string }> {
  const src = fs.readFileSync(file, 'utf8');
  return [...src.matchAll(/\bt\(\s*RED,\s*'([^']+)',\s*'([^']*)'/g)].map((m) => ({ key: m[1], fallback: m[2] }));
}

describe('message catalogs (i18n)', () => {
  describe('files', () => {
    for (const set of SETS) {
      it(`${set.type}: en-US and de catalogs keyed by "${set.name}", en-US help`, () => {
        for (const lang of ['en-US', 'de']) {
          assert.ok(fs.existsSync(set.catalog(lang)), `${set.catalog(lang)} exists`);
          assert.deepEqual(Object.keys(readJson(set.catalog(lang))), [set.name], `${lang}: one top-level key`);
        }
        const help = fs.readFileSync(set.help('en-US'), 'utf8');
        assert.match(help, new RegExp(`data-help-name="${set.type}"`));
      });
    }
  });

  describe('every key the editor and the runtime use exists in en-US', () => {
    for (const set of SETS) {
      it(`${set.type}: .html (data-i18n, this._, RED._) and .ts (t(RED, ...))`, () => {
        const en = readJson(set.catalog('en-US'));
        const keys = htmlKeys(set);
        assert.ok(keys.length > 0);
        const missing = keys.filter((k) =>
          k.startsWith('node-red:')
            ? typeof lookup(coreCatalog, k.slice('node-red:'.length)) !== 'string'
            : typeof lookup(en, k) !== 'string',
        );
        assert.deepEqual(missing, [], `keys used in ${set.name}.html that the catalog lacks`);

        for (const { key, fallback } of runtimeTexts(set.ts)) {
          assert.equal(lookup(en, key), fallback, `${set.name}.ts: ${key} is in en-US with the fallback's text`);
        }
      });
    }

    it('uses every en-US status text in its runtime file', () => {
      for (const set of SETS) {
        const used = new Set(runtimeTexts(set.ts).map((x) => x.key));
        const status = leaves(readJson(set.catalog('en-US')))
          .map(([k]) => k)
          .filter((k) => k.startsWith(`${set.name}.status.`));
        assert.deepEqual(
          status.filter((k) => !used.has(k)),
          [],
          `${set.name}: status texts nothing uses`,
        );
      }
    });

    it('sets no status text from a literal in the node files (fixed words come from the catalog)', () => {
      const literal: string[] = [];
      for (const set of SETS) {
        const src = fs.readFileSync(set.ts, 'utf8');
        for (const m of src.matchAll(/status\.(ok|warn|error)\(\s*(['"`]|\))/g)) {
          literal.push(`${set.name}.ts: status.${m[1]}(${m[2]}`);
        }
      }
      assert.deepEqual(literal, []);
    });
  });

  describe('no literal English in the editor', () => {
    for (const set of SETS) {
      it(`${set.type}: the edit template's text and placeholders, the editor code's texts`, () => {
        const html = fs.readFileSync(set.html, 'utf8');
        assert.equal(
          html.match(/RED\.nodes\.registerType\(/g)?.length,
          1,
          'exactly one RED.nodes.registerType per file',
        );
        const { js, template } = parts(html, set.type);
        assert.ok(template.length > 0, 'has an edit template');
        // Text outside tags and outside <code> (code samples are not translated): only numbers (QoS 0, 1, 2).
        const text = template
          .replace(/<code>[\s\S]*?<\/code>/g, ' ')
          .replace(/<[^>]*>/g, ' ')
          .replace(/&nbsp;/g, ' ')
          .split(/\s+/)
          .filter((w) => w !== '' && !/^\d+$/.test(w));
        assert.deepEqual(text, [], 'literal text in the edit template');
        assert.doesNotMatch(template, /\s(placeholder|title)="/, 'a literal placeholder or title attribute');
        // Texts the editor code sets: .text('...'), .attr('placeholder'|'title', '...'), label: '...'.
        const literal = [
          ...js.matchAll(/\.text\(\s*'[^']*[A-Za-z][^']*'\s*\)/g),
          ...js.matchAll(/\.attr\(\s*'(?:placeholder|title)',\s*'[^']+'\s*\)/g),
          ...js.matchAll(/\blabel:\s*'[^']+'/g),
        ].map((m) => m[0]);
        assert.deepEqual(literal, [], 'texts set from literals in the editor code');
      });
    }
  });

  describe('German (de)', () => {
    for (const set of SETS) {
      it(`${set.type}: has every en-US text, no other, none empty, with the same placeholders and markup`, () => {
        const en = leaves(readJson(set.catalog('en-US')));
        const de = new Map(leaves(readJson(set.catalog('de'))));
        for (const [k, v] of en) {
          assert.equal(typeof v, 'string', `en-US ${k} is a string`);
          assert.notEqual((v as string).trim(), '', `en-US ${k} is not empty`);
          const d = de.get(k);
          assert.equal(typeof d, 'string', `de has ${k}`);
          assert.notEqual((d as string).trim(), '', `de ${k} is not empty`);
          assert.deepEqual(placeholders(d as string), placeholders(v as string), `de ${k}: placeholders`);
          assert.equal(tags(d as string), tags(v as string), `de ${k}: markup`);
        }
        const enKeys = new Set(en.map(([k]) => k));
        assert.deepEqual(
          [...de.keys()].filter((k) => !enKeys.has(k)),
          [],
          'de keys that en-US lacks',
        );
      });
    }

    it('is copied into dist by the build, beside each node', () => {
      for (const set of SETS) {
        const built = path.join(root, 'dist', 'nodes', set.name, 'locales', 'de', `${set.name}.json`);
        assert.deepEqual(readJson(built), readJson(set.catalog('de')), built);
      }
    });
  });

  describe('in a real Node-RED with lang: "de"', function () {
    this.timeout(120000);
    let red: NodeRedProcess;
    let userDir: string;
    let browser: Browser | undefined;

    /** A status node on `node` and a function that keeps its last text in global `key`. */
    const keepStatus = (n: string, node: string, key: string): Array<Record<string, unknown>> => [
      {
        id: `i18nstatus0000${n}`,
        type: 'status',
        z: 'i18ntab00000001',
        scope: [node],
        wires: [[`i18nkeep000000${n}`]],
      },
      {
        id: `i18nkeep000000${n}`,
        type: 'function',
        z: 'i18ntab00000001',
        func: `global.set('${key}', msg.status.text);\nreturn null;`,
        outputs: 0,
        wires: [],
      },
    ];
    const flows: Array<Record<string, unknown>> = [
      { id: 'i18ntab00000001', type: 'tab', label: 'i18n' },
      // A script that does not compile: its status is the catalog's "compile error: __error__".
      {
        id: 'i18nscript00001',
        type: 'rule-script',
        z: 'i18ntab00000001',
        name: '',
        script: 'return {',
        timeout: 500,
        x: 200,
        y: 100,
        wires: [[], []],
      },
      ...keepStatus('1', 'i18nscript00001', 'scriptStatus'),
      {
        id: 'i18nhttpin00001',
        type: 'http in',
        z: 'i18ntab00000001',
        url: '/i18n-status',
        method: 'get',
        wires: [['i18nread0000001']],
      },
      {
        id: 'i18nread0000001',
        type: 'function',
        z: 'i18ntab00000001',
        func: "msg.payload = { text: global.get('scriptStatus') ?? null, store: global.get('storeStatus') ?? null };\nreturn msg;",
        outputs: 1,
        wires: [['i18nhttpout0001']],
      },
      { id: 'i18nhttpout0001', type: 'http response', z: 'i18ntab00000001', wires: [] },
    ];

    before(async () => {
      userDir = makeUserDir('rule-engine-i18n-');
      // A node on a Redis device store where nothing listens: its status names the server, down, in German.
      const closed = await freePort();
      flows.push(
        {
          id: 'i18nstore000001',
          type: 'rule-device-store',
          backend: 'redis',
          redisUrl: `redis://127.0.0.1:${closed}`,
        },
        {
          id: 'i18nsave0000001',
          type: 'rule-save-timeseries',
          z: 'i18ntab00000001',
          deviceStore: 'i18nstore000001',
          wires: [[], []],
        },
        ...keepStatus('2', 'i18nsave0000001', 'storeStatus'),
      );
      writeSettings(userDir, flows, { lang: 'de' });
      // Its log is German too: it is ready when its admin API answers.
      red = new NodeRedProcess(userDir, await freePort(), { ready: 'http' });
      await red.start();
    });

    after(async () => {
      await browser?.close();
      await red?.stop();
      if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    });

    async function messages(lng: string): Promise<Record<string, Catalog>> {
      const res = await fetch(red.url(`/nodes/messages?lng=${lng}`), { headers: { accept: 'application/json' } });
      assert.equal(res.status, 200);
      return (await res.json()) as Record<string, Catalog>;
    }

    it('serves each node set its German catalog, as the editor asks for it (GET /nodes/messages?lng=de)', async () => {
      const all = await messages('de');
      for (const set of SETS) {
        const ns = `${MODULE}/${set.type}`;
        assert.deepEqual(all[ns], readJson(set.catalog('de')), `${ns} in German`);
      }
      assert.equal((all[`${MODULE}/rule-script`].script as Catalog).paletteLabel, 'Skript');
      // One set on its own, as RED.i18n.loadNodeCatalog asks after an install.
      const one = await fetch(red.url(`/nodes/${MODULE}/rule-save-attributes/messages?lng=de`));
      const sa = ((await one.json()) as Catalog)['save-attributes'] as Catalog;
      assert.equal(sa.paletteLabel, 'Attribute speichern');
    });

    it('falls back from a regional German (de-DE, what a browser sends) to de, and serves English for en-US', async () => {
      const deDE = await messages('de-DE');
      for (const set of SETS) {
        assert.deepEqual(deDE[`${MODULE}/${set.type}`], readJson(set.catalog('de')), `${set.type} for de-DE`);
      }
      const en = await messages('en-US');
      for (const set of SETS) {
        assert.deepEqual(en[`${MODULE}/${set.type}`], readJson(set.catalog('en-US')), `${set.type} in English`);
      }
    });

    it('sets status texts from the German catalog at run time', async () => {
      let text: unknown = null;
      await waitFor(
        async () => {
          const res = await fetch(red.url('/i18n-status'));
          if (!res.ok) return false;
          text = ((await res.json()) as { text: unknown }).text;
          return typeof text === 'string';
        },
        20000,
        'the script node to report its compile error',
      );
      assert.match(String(text), /^Kompilierfehler: /, `status: ${text}`);
      // A connection status, which the device store node words for every node that uses the store.
      let store: unknown = null;
      await waitFor(
        async () => {
          const res = await fetch(red.url('/i18n-status'));
          store = ((await res.json()) as { store: unknown }).store;
          return typeof store === 'string' && store.includes('nicht erreichbar');
        },
        20000,
        'the save node to report its Redis server down',
      ).catch(() => assert.fail(`the save node's status: ${store}`));
      assert.match(String(store), /^Redis 127\.0\.0\.1:\d+ nicht erreichbar: /);
    });

    it('shows the German palette labels in the editor of a German browser', async () => {
      browser = await launchChromium();
      const page = await browser.newPage({ locale: 'de-DE', viewport: { width: 1280, height: 800 } });
      await page.goto(red.url('/'));
      const palette = (type: string) =>
        page.locator(`#red-ui-palette .red-ui-palette-node[data-palette-type="${type}"] .red-ui-palette-label`);
      await palette('rule-script').waitFor({ state: 'attached', timeout: 60000 });
      // Long labels are wrapped into lines (<br>), so spaces are not compared.
      const squash = (s: string | null | undefined) => String(s ?? '').replace(/\s+/g, '');
      for (const set of SETS) {
        const def = fs.readFileSync(set.html, 'utf8');
        if (/category: 'config'/.test(def)) continue; // config nodes are not in the palette
        const label = lookup(readJson(set.catalog('de')), `${set.name}.paletteLabel`) as string;
        const en = lookup(readJson(set.catalog('en-US')), `${set.name}.paletteLabel`) as string;
        const shown = await palette(set.type).textContent();
        assert.equal(squash(shown), squash(label), `${set.type}: palette label "${shown}"`);
        if (label !== en) assert.notEqual(squash(shown), squash(en));
      }
      // The edit dialog's labels, and the status text under the node, in German too.
      await page.locator('#red-ui-palette-container-rule_engine').scrollIntoViewIfNeeded();
      const status = page.locator('#red-ui-workspace-chart g[id="i18nscript00001"] .red-ui-flow-node-status-label');
      await waitFor(async () => /^Kompilierfehler: /.test((await status.textContent()) ?? ''), 20000, 'status text');
      await page.locator('#red-ui-workspace-chart g[id="i18nscript00001"] rect.red-ui-flow-node').dblclick();
      const timeoutLabel = page.locator('label[for="node-input-timeout"]');
      await timeoutLabel.waitFor({ timeout: 20000 });
      assert.equal((await timeoutLabel.textContent())?.trim(), 'Zeitlimit');
      assert.equal((await page.locator('#rule-script-test-toggle').textContent())?.trim(), 'Testen');
      await page.screenshot({ path: screenshotPath('i18n-de-editor') });
      await page.locator('#node-dialog-cancel').click();
    });
  });
});
