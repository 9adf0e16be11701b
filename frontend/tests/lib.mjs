// Shared helpers for the browser scripts: launch Debian's chromium through playwright-core with a
// fresh profile, open a page that records every page error, take screenshots, report a result.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:5173/';
export const SHOTS = process.env.SCREENSHOT_DIR || '';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Runs `fn(page, ctx)` in a fresh chromium profile; prints `RESULT {json}`; exit 1 on failure. */
export async function run(fn, { viewport = { width: 1200, height: 900 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'careledger-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS, viewport,
  });
  const pageErrors = [];
  const result = { pageErrors };
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.setDefaultTimeout(20000);
    await fn(page, result);
    console.log(`RESULT ${JSON.stringify(result)}`);
  } catch (e) {
    console.log(`FAILED ${e.stack || e}`);
    result.failure = String(e.message || e);
    // What the page showed when it failed, to read in the test's report.
    try { result.pageText = (await context.pages()[0].locator('body').innerText()).slice(0, 2000); } catch { /* page gone */ }
    console.log(`RESULT ${JSON.stringify(result)}`);
    process.exitCode = 1;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Full-page screenshot into $SCREENSHOT_DIR/<name>.png (when set). */
export async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export function url(hash, params = {}) {
  const u = new URL(BASE_URL);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  u.hash = hash;
  return u.toString();
}

/** Text of the first element matching `selector`, trimmed. */
export async function text(page, selector) {
  return (await page.locator(selector).first().innerText()).trim();
}

/** Go to a route and wait until its view has finished rendering. */
export async function open(page, hash, params = {}) {
  await page.goto(url(hash, params));
  await page.locator('#app[data-ready]').waitFor();
}

/** Pick a devnet cast member in the account bar and wait for the view to render again. */
export async function actAs(page, name) {
  const before = await page.getAttribute('#app', 'data-ready');
  await page.selectOption('#account-picker', name);
  await page.waitForFunction((b) => {
    const r = document.getElementById('app').dataset.ready;
    return r !== undefined && r !== b;
  }, before);
}
