// The web client's GS1 date rule (frontend/src/gs1.js) on the shared vectors of
// tests/data/gs1_expiry_vectors.json, run in Chromium as the page runs it. Env: VECTORS = the
// path of the vectors file. The module source goes into a blank page as an inline module, so no
// app server or chain is needed. Result: {results: [{yymmdd, reference, date | error}]}.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const source = readFileSync(join(here, '..', 'src', 'gs1.js'), 'utf8');
const cases = JSON.parse(readFileSync(process.env.VECTORS, 'utf8')).cases;

await run(async (page, result) => {
  await page.setContent('<!doctype html><title>gs1 vectors</title>');
  await page.addScriptTag({ type: 'module', content: `${source}\nwindow.__gs1 = { expiryDate, parseScan, ScanError };` });
  await page.waitForFunction(() => window.__gs1 !== undefined);
  result.userAgent = await page.evaluate(() => navigator.userAgent);
  result.results = await page.evaluate((all) => all.map(({ yymmdd, reference }) => {
    const { expiryDate, ScanError } = window.__gs1;
    try {
      // The reference as the page has it: a block timestamp (bigint seconds) and a Date.
      const seconds = BigInt(Date.parse(reference) / 1000);
      const date = expiryDate(yymmdd, seconds);
      if (expiryDate(yymmdd, new Date(reference)) !== date) return { yymmdd, reference, error: 'Date and bigint disagree' };
      return { yymmdd, reference, date };
    } catch (e) {
      return { yymmdd, reference, error: e.message, scanError: e instanceof ScanError };
    }
  }), cases);
  // Without a reference time a date cannot be resolved: parseScan checks it only.
  result.unresolved = await page.evaluate(() => {
    const unit = window.__gs1.parseScan('(01)09506000134352(17)991231(10)L(21)S');
    let missing;
    try { window.__gs1.expiryDate('991231'); } catch (e) { missing = `${e.name}: ${e.message}`; }
    return { expiry: unit.expiry, expiryDate: unit.expiryDate ?? null, missing };
  });
});
