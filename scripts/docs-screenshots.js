#!/usr/bin/env node
// Captures the screenshots in docs/images/ from a running demo: the dashboard after a minute's worth of
// readings and a turn of the knob, and the tutorial flow in the Node-RED editor.
// Needs Debian's chromium (apt-get install -y chromium). Usage: node scripts/docs-screenshots.js
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'docs', 'images');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function main() {
  const port = await freePort();
  const mqttPort = await freePort();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-shots-'));
  const args = ['--port', port, '--mqtt-port', mqttPort, '--user-dir', userDir].map(String);
  const demo = spawn(process.execPath, [path.join(__dirname, 'start.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  demo.stdout.on('data', (d) => {
    output += d;
  });
  demo.stderr.on('data', (d) => {
    output += d;
  });
  let browser;
  try {
    for (let t = 0; !/Dashboard: +http/.test(output); t++) {
      if (demo.exitCode !== null || /missing the node types/.test(output) || t > 600) {
        throw new Error(`the demo did not start:\n${output}`);
      }
      await sleep(100);
    }
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    fs.mkdirSync(outDir, { recursive: true });
    const base = `http://127.0.0.1:${port}`;

    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${base}/dashboard`);
    const knob = page.getByRole('slider', { name: 'Temperature set-point' });
    await knob.waitFor({ timeout: 30000 });
    await sleep(15000); // some history in the chart
    await knob.focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < 4; i++) await page.keyboard.press('PageUp'); // 40
    await sleep(12000); // the temperature on its way to 40
    await knob.blur();
    await page.screenshot({ path: path.join(outDir, 'demo-dashboard.png') });

    const editor = await browser.newPage({ viewport: { width: 1600, height: 780 } });
    await editor.goto(`${base}/#flow/ex2tab000000001`);
    await editor.waitForSelector('#red-ui-workspace-chart', { timeout: 30000 });
    await sleep(2000);
    // The first visit opens the "what's new" tour; Escape closes it. Without the palette and the sidebar the
    // whole flow fits on the workspace.
    await editor.keyboard.press('Escape');
    await editor.evaluate(() => {
      const red = globalThis.RED;
      red.actions.invoke('core:toggle-palette', false);
      red.actions.invoke('core:toggle-sidebar', false);
    });
    await sleep(800);
    await editor.locator('#red-ui-workspace').screenshot({ path: path.join(outDir, 'demo-editor.png') });
    console.log(`docs-screenshots: wrote docs/images/demo-dashboard.png and docs/images/demo-editor.png`);
  } finally {
    await browser?.close();
    if (demo.exitCode === null) {
      const exited = new Promise((r) => demo.once('exit', r));
      demo.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`docs-screenshots: ${err.message}`);
  process.exit(1);
});
