// Patient view, "Who holds my records": keep a gateway pointer (from the patient's own pointers,
// never the chain), refuse a malformed one and one for someone else's pseudonym, keep the list
// across a reload, forget it. Env: POINTER (hers), FOREIGN (a pointer to another address).
import { open, run, shot } from './lib.mjs';

async function holders(page) {
  return page.locator('#holders tbody tr[data-pointer]').evaluateAll((trs) => trs.map((r) => ({
    pointer: r.dataset.pointer, cells: [...r.cells].map((c) => c.innerText.trim()),
  })));
}

async function outcome(page) {
  const el = page.locator('#holders-out .note').first();
  await el.waitFor({ timeout: 30000 });
  return { ok: (await el.getAttribute('class')).includes('ok'), text: (await el.innerText()).trim() };
}

await run(async (page, result) => {
  await open(page, '#/patient');
  await page.locator('#pointer-input').waitFor();
  result.before = (await page.locator('#holders').innerText()).trim();

  await page.fill('#pointer-input', 'careledger-gw:1:not a pointer');
  await page.click('#pointer-add');
  result.malformed = await outcome(page);

  await page.fill('#pointer-input', process.env.FOREIGN);
  await page.click('#pointer-add');
  result.foreign = await outcome(page);

  await page.fill('#pointer-input', process.env.POINTER);
  await page.click('#pointer-add');
  result.kept = await outcome(page);
  result.after = await holders(page);
  await shot(page, 'patient-holders');

  await page.reload();
  await page.locator('#holders tbody tr[data-pointer]').first().waitFor();
  result.afterReload = await holders(page);

  await page.locator('#holders tbody tr[data-pointer] button.pointer-remove').first().click();
  result.afterForget = (await page.locator('#holders').innerText()).trim();
});
