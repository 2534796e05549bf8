// Drives terminal-host's page in headless Chromium: token from the fragment, `echo hello`, a 1.2 MB paste, resize,
// shell exit, reconnect with a fresh token, disconnect, a lost connection, auth failure. Prints one JSON line per
// check; exits non-zero on the first failure.
// Usage: node terminal-page.mjs <base-url> <token> <second-token> <third-token> <screenshot.png>
import { chromium } from 'playwright-core';

const [base, token, secondToken, thirdToken, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;

const report = (check, details = {}) => console.log(JSON.stringify({ check, ok: true, ...details }));

const lines = (page) => page.evaluate(() => {
  const buffer = window.bitconnTerminal.buffer.active;
  const out = [];
  for (let i = 0; i < buffer.length; i++) out.push(buffer.getLine(i).translateToString(true));
  return out;
});

const waitForLine = async (page, predicate, what) => {
  const end = Date.now() + TIMEOUT;
  while (Date.now() < end) {
    const all = await lines(page);
    const found = all.find((l) => predicate(l.trim()));
    if (found !== undefined) return found.trim();
    await page.waitForTimeout(50);
  }
  throw new Error(`timed out waiting for ${what}; terminal shows:\n${(await lines(page)).join('\n')}`);
};

const status = (page) => page.evaluate(() => {
  const s = document.getElementById('status');
  return { state: s.dataset.state, text: s.textContent, message: document.getElementById('message').textContent,
    formHidden: document.getElementById('token-form').hidden };
});

const waitForState = async (page, state) => {
  await page.waitForSelector(`#status[data-state="${state}"]`, { timeout: TIMEOUT });
  return status(page);
};

const typeLine = async (page, text) => {
  await page.click('#terminal');
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Enter');
};

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
  const failures = [];
  page.on('pageerror', (e) => failures.push(String(e)));
  // Everything the page loads must come from the host itself.
  const host = new URL(base).host;
  page.on('request', (r) => { if (new URL(r.url()).host !== host) failures.push(`external request ${r.url()}`); });

  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  const connected = await waitForState(page, 'connected');
  if (page.url().includes(token)) throw new Error('the token stayed in the address bar');
  report('connected', { status: connected.text, url: page.url() });

  await waitForLine(page, (l) => l.startsWith('PROMPT>'), 'the first prompt');
  await typeLine(page, 'echo hello');
  await waitForLine(page, (l) => l === 'hello', 'hello');
  await page.screenshot({ path: screenshot });
  report('echo hello', { screenshot });

  // 1.2 MB pasted at once reaches the program whole: the page slices it (the host refuses messages over 1 MiB).
  await typeLine(page, 'stty raw -echo; head -c 1200000 | wc -c; stty sane');
  await page.waitForTimeout(300);
  await page.evaluate(() => window.bitconnTerminal.paste('x'.repeat(1200000)));
  await waitForLine(page, (l) => l === '1200000', 'wc -c of the paste');
  report('large paste');

  await page.setViewportSize({ width: 700, height: 420 });
  await page.waitForTimeout(300);
  const size = await page.evaluate(() => `${window.bitconnTerminal.rows} ${window.bitconnTerminal.cols}`);
  await typeLine(page, 'stty size');
  await waitForLine(page, (l) => l === size, `stty size = ${size}`);
  report('resize', { size });

  await typeLine(page, 'exit 3');
  const ended = await waitForState(page, 'ended');
  if (!ended.text.includes('exit status 3') || ended.formHidden) throw new Error(`exit not shown: ${JSON.stringify(ended)}`);
  report('shell exit', ended);

  await page.fill('#token', secondToken);
  await page.click('#connect');
  await waitForState(page, 'connected');
  await waitForLine(page, (l) => l.startsWith('PROMPT>'), 'the prompt after reconnecting');
  await typeLine(page, 'echo again-$((40+2))');
  await waitForLine(page, (l) => l === 'again-42', 'again-42');
  report('reconnect with a fresh token');

  await page.click('#disconnect');
  const idle = await waitForState(page, 'idle');
  if (idle.formHidden) throw new Error('no token form after disconnecting');
  report('disconnect');

  // From here on the socket goes through a route the test can cut, as a proxy or a network failure would.
  let pageSide = null;
  await page.routeWebSocket(/\/ws$/, (ws) => { pageSide = ws; ws.connectToServer(); });
  await page.fill('#token', thirdToken);
  await page.click('#connect');
  await waitForState(page, 'connected');
  await pageSide.close({ code: 1001, reason: 'going away' });
  const lost = await waitForState(page, 'error');
  if (!lost.message.includes('Connection lost') || lost.formHidden) throw new Error(`loss not shown: ${JSON.stringify(lost)}`);
  report('connection lost', lost);

  // The first token was spent: reusing it must fail with a clear message.
  await page.fill('#token', token);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('message').textContent.includes('Authentication failed'),
    null, { timeout: TIMEOUT });
  const refused = await status(page);
  if (refused.state !== 'error' || !refused.message.includes('token_replayed')) {
    throw new Error(`auth failure not shown: ${JSON.stringify(refused)}`);
  }
  report('auth failure', refused);

  if (failures.length) throw new Error(failures.join('; '));
  report('done');
} catch (e) {
  console.log(JSON.stringify({ check: 'failure', ok: false, error: String(e && e.stack || e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
