// Web budgets, measured in the browser. Env: SCANS = JSON list of scans (distinct units),
// COLD = how many cold scans (fresh page load each). Reports:
//  - firstLoadJsBytes: every JavaScript file the first load of #/pharmacy fetched (sizes as served),
//  - warmMs: scan entered -> verdict painted, for each scan on one page (the pharmacist's counter),
//  - coldMs: the same for the first scan after a fresh page load (no batch tree cached yet).
import { open, run } from './lib.mjs';

const SCANS = JSON.parse(process.env.SCANS || '[]');
const COLD = Number(process.env.COLD || 5);

async function scanOnce(page, value) {
  await page.evaluate(() => { const v = document.getElementById('verdict'); if (v) v.id = 'verdict-old'; });
  await page.fill('#scan', value);
  await page.click('#verify');
  const box = page.locator('#verdict');
  await box.waitFor();
  return { verdict: await box.getAttribute('data-verdict'), ms: Number(await box.getAttribute('data-ms')) };
}

await run(async (page, result) => {
  const js = new Map();
  page.on('response', async (resp) => {
    if (resp.request().resourceType() === 'script' || /\.m?js(\?|$)/.test(resp.url())) {
      try { js.set(resp.url(), (await resp.body()).length); } catch { /* redirected or aborted */ }
    }
  });
  await open(page, '#/pharmacy');
  await page.waitForLoadState('networkidle');
  result.firstLoadJsBytes = [...js.values()].reduce((a, b) => a + b, 0);
  result.firstLoadJsFiles = [...js.keys()].map((u) => new URL(u).pathname);

  result.warm = [];
  for (const s of SCANS) result.warm.push(await scanOnce(page, s));
  result.cold = [];
  for (let i = 0; i < COLD; i++) {
    await open(page, '#/pharmacy', { cold: String(i) });
    result.cold.push(await scanOnce(page, SCANS[i % SCANS.length]));
  }
});
