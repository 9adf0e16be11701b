// Pharmacy view. Env: SCANS = JSON {name: scan string}; each is verified by pasting it, its
// verdict (or error) recorded. IMAGE_SCAN = a GS1 element string to render as a DataMatrix PNG
// (bwip-js) and upload. DISPENSE = name of a scan to dispense after verifying, then re-verify.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bwipjs from 'bwip-js';
import { open, run, shot, text } from './lib.mjs';

const SCANS = JSON.parse(process.env.SCANS || '{}');

async function outcome(page) {
  const el = page.locator('#verdict, #scan-error, #result .note.error').first();
  await el.waitFor();
  const id = await el.getAttribute('id');
  if (id === 'verdict') {
    await page.locator('#custody, #result .timeline + *, #result p.muted').first().waitFor().catch(() => {});
    await page.locator('#custody').waitFor({ timeout: 5000 }).catch(() => {});
    return {
      verdict: await el.getAttribute('data-verdict'), ms: Number(await el.getAttribute('data-ms')),
      word: (await el.innerText()).split('\n')[0], holder: await text(page, '#holder'),
      expiry: await text(page, '#expiry'),
      custody: await page.locator('#custody li').allInnerTexts(),
      canDispense: await page.locator('#dispense').count() > 0,
    };
  }
  return { error: (await el.innerText()).trim() };
}

async function scan(page, value) {
  await page.fill('#scan', value);
  await page.click('#verify');
  return outcome(page);
}

await run(async (page, result) => {
  await open(page, '#/pharmacy');
  result.scans = {};
  for (const [name, value] of Object.entries(SCANS)) {
    result.scans[name] = await scan(page, value);
    await shot(page, `pharmacy-${name}`);
  }
  if (process.env.DISPENSE) {
    await scan(page, SCANS[process.env.DISPENSE]);
    await page.click('#dispense');
    await page.locator('#dispense-out .note.ok, #dispense-out .note.error').first().waitFor();
    result.dispensed = await text(page, '#dispense-out');
    await shot(page, 'pharmacy-dispensed');
    result.rescan = await scan(page, SCANS[process.env.DISPENSE]);
    await shot(page, 'pharmacy-already-dispensed');
  }
  if (process.env.IMAGE_SCAN) {
    const dir = mkdtempSync(join(tmpdir(), 'careledger-dm-'));
    const png = await bwipjs.toBuffer({ bcid: 'gs1datamatrix', text: process.env.IMAGE_SCAN, scale: 4, padding: 8, backgroundcolor: 'FFFFFF' });
    const file = join(dir, 'unit-datamatrix.png');
    writeFileSync(file, png);
    await page.fill('#scan', '');
    await page.setInputFiles('#scan-image', file);
    result.image = await outcome(page);
    result.image.decoded = await page.inputValue('#scan');
    await shot(page, 'pharmacy-image');
    // Not a barcode at all: a blank image.
    const blank = await bwipjs.toBuffer({ bcid: 'gs1datamatrix', text: process.env.IMAGE_SCAN, scale: 1 });
    writeFileSync(join(dir, 'tiny.png'), blank.subarray(0, 60));
    await page.setInputFiles('#scan-image', join(dir, 'tiny.png'));
    result.badImage = await outcome(page);
  }
  // No camera in headless chromium: the page says so in words.
  await page.click('#camera');
  await page.locator('#camera-error').waitFor();
  result.camera = await text(page, '#camera-error');
});
