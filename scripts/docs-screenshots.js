#!/usr/bin/env node
// Captures the screenshots in docs/images/ from a running demo: the dashboard after a minute's worth of
// readings and a turn of the knob, and the tutorial flow in the Node-RED editor.
// Needs Debian's chromium (apt-get install -y chromium). Usage: node scripts/docs-screenshots.js
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'docs', 'images');
// The test toolkit, compiled: built first if this is a fresh clone.
const toolkit = path.join(root, 'dist', 'test', 'toolkit.js');
if (!fs.existsSync(toolkit)) execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit' });
const { delay, freePort, launchChromium, spawnCollecting, stopChild, waitFor } = require(toolkit);

async function main() {
  const port = await freePort();
  const mqttPort = await freePort();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-engine-shots-'));
  const args = ['--port', port, '--mqtt-port', mqttPort, '--user-dir', userDir].map(String);
  const { child: demo, output } = spawnCollecting(process.execPath, [path.join(__dirname, 'start.js'), ...args]);
  let browser;
  try {
    await waitFor(
      () => {
        if (demo.exitCode !== null || /missing the node types/.test(output())) {
          throw new Error(`the demo did not start:\n${output()}`);
        }
        return /Dashboard: +http/.test(output());
      },
      60000,
      'the demo to start',
    );
    browser = await launchChromium();
    fs.mkdirSync(outDir, { recursive: true });
    const base = `http://127.0.0.1:${port}`;

    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await page.goto(`${base}/dashboard`);
    const knob = page.getByRole('slider', { name: 'Set-point' });
    await knob.waitFor({ timeout: 30000 });
    await delay(15000); // some history in the chart
    await knob.focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < 4; i++) await page.keyboard.press('PageUp'); // 40, sent once the knob settles
    await delay(12000); // the temperature on its way to 40
    await knob.blur();
    // The whole page, so that no card is cut at the bottom of the window.
    await page.screenshot({ path: path.join(outDir, 'demo-dashboard.png'), fullPage: true });

    const editor = await browser.newPage({ viewport: { width: 1600, height: 780 } });
    await editor.goto(`${base}/#flow/ex2tab000000001`);
    await editor.waitForSelector('#red-ui-workspace-chart', { timeout: 30000 });
    await delay(2000);
    // The first visit opens the "what's new" tour; Escape closes it. Without the palette and the sidebar the
    // whole flow fits on the workspace.
    await editor.keyboard.press('Escape');
    await editor.evaluate(() => {
      const red = globalThis.RED;
      red.actions.invoke('core:toggle-palette', false);
      red.actions.invoke('core:toggle-sidebar', false);
    });
    await delay(800);
    await editor.locator('#red-ui-workspace').screenshot({ path: path.join(outDir, 'demo-editor.png') });
    console.log(`docs-screenshots: wrote docs/images/demo-dashboard.png and docs/images/demo-editor.png`);
  } finally {
    await browser?.close();
    await stopChild(demo, 'SIGTERM');
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`docs-screenshots: ${err.message}`);
  process.exit(1);
});
