// Developer view: network facts, the deployed contracts, their decoded events; node down.
import { open, run, shot, text, url } from './lib.mjs';

await run(async (page, result) => {
  await open(page, '#/developer');
  result.chainId = await text(page, '#chain-id');
  result.contracts = await page.locator('#contracts tbody tr[data-contract]').evaluateAll(
    (rows) => rows.map((r) => ({ name: r.dataset.contract, cells: [...r.cells].map((c) => c.innerText.trim()) })));
  await page.locator('#cast tbody tr').first().waitFor();
  result.cast = await page.locator('#cast tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim())));
  result.picker = await page.locator('#account-picker option').allInnerTexts();
  result.network = await text(page, '#network');
  await shot(page, 'developer');

  await page.click('#contracts a[href="#/developer/ParticipantDirectory"] >> nth=0');
  await page.locator('#events tbody tr').first().waitFor();
  result.events = await page.locator('#events tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim())));
  await shot(page, 'developer-events');

  // Node down: an RPC URL where nothing listens gives a sentence on the page, not a blank screen.
  await page.goto(url('#/developer', { rpc: 'http://127.0.0.1:9' }));
  await page.locator('#problems .note.error').waitFor();
  await page.locator('#waiting').waitFor();
  result.nodeDown = await text(page, '#problems .note.error');
  await shot(page, 'node-down');
});
