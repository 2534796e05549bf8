// Takes docs/n8n/all-flows.png: docs/n8n/00-all-flows.json imported into a throwaway n8n and shown in its editor,
// in Debian's headless Chromium. Usage: node tests/n8n/screenshot.mjs (needs scripts/ensure-n8n.sh and tests/browser's
// npm packages, as scripts/ensure-tools.sh installs them).
import { mkdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../browser/node_modules/playwright-core/index.mjs';
import { CREDENTIAL, PACK_DIR } from './pack.mjs';
import { N8N, Service, eventually, freePort, isolatedN8nEnv, runOk } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WORK = join(HERE, '.run', 'screenshot');
const OUT = join(PACK_DIR, 'all-flows.png');
const OWNER = { email: 'owner@example.com', firstName: 'Pack', lastName: 'Owner', password: 'Screenshot-0nly' };

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
const env = isolatedN8nEnv(join(WORK, 'n8n'), { port: await freePort(), brokerPort: await freePort() });
const base = `http://127.0.0.1:${env.N8N_PORT}`;
writeFileSync(join(WORK, 'credential.json'), JSON.stringify([
  { ...CREDENTIAL, type: 'httpHeaderAuth', data: { name: 'Authorization', value: 'Bearer bcw_your-webhook-secret' } },
]));
await runOk(N8N, ['import:credentials', `--input=${join(WORK, 'credential.json')}`], { env });
await runOk(N8N, ['import:workflow', `--input=${join(PACK_DIR, '00-all-flows.json')}`], { env });

const n8n = new Service('n8n start', N8N, ['start'], { ...env, N8N_LOG_LEVEL: 'info' });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  await n8n.waitFor(/Editor is now accessible/, 120_000);
  const context = await browser.newContext({ viewport: { width: 1200, height: 1300 }, deviceScaleFactor: 1 });
  // The instance's owner, created through the same REST call the setup page makes; the context keeps the cookie.
  await eventually('the owner to be set up', async () => (await context.request.post(`${base}/rest/owner/setup`, { data: OWNER })).ok(), 30_000);
  const page = await context.newPage();
  await page.goto(`${base}/workflow/bitconnAllFlows0`, { waitUntil: 'networkidle' });
  await page.waitForSelector('[data-test-id="canvas-node"]', { timeout: 60_000 });
  await page.keyboard.press('Escape');
  // "Zoom to fit", as the canvas's own button does (shortcut 1).
  await page.locator('[data-test-id="canvas-wrapper"], .vue-flow').first().click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('1');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: OUT });
  console.log(`${OUT}: ${statSync(OUT).size} bytes`);
} finally {
  await browser.close();
  await n8n.stop();
}
