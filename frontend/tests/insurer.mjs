// Insurer / provider view: a clinic's small claim settles by the rules and is paid; an MRI waits
// for the insurer's review, is partially approved and paid; the pharmacy claims a unit it
// dispensed. Env: MEMBER (address), PLAN_KEY (the plan's code key, shared off chain), UNIT_SCAN
// (scan of a dispensed unit, optional).
import { actAs, open, run, shot } from './lib.mjs';

async function outcome(page) {
  const el = page.locator('#claims-out .note.ok, #claims-out .note.error').first();
  await el.waitFor({ timeout: 30000 });
  const res = { ok: (await el.getAttribute('class')).includes('ok'), text: (await el.innerText()).trim() };
  await page.evaluate(() => document.getElementById('claims-out').replaceChildren());
  return res;
}

const claims = (page) => page.locator('#claims tbody tr[data-claim]').evaluateAll((trs) => trs.map((r) => ({
  id: r.dataset.claim, status: Number(r.dataset.status), cells: [...r.cells].map((c) => c.innerText.trim()),
})));
const pools = (page) => page.locator('#pools tbody tr').evaluateAll((trs) => trs.map((r) => [...r.cells].map((c) => c.innerText.trim())));

async function submit(page, code, billed, date = '') {
  await page.fill('#claim-form input[name=key]', process.env.PLAN_KEY);
  await page.selectOption('#claim-form select[name=member]', process.env.MEMBER);
  await page.fill('#claim-form input[name=date]', date);
  await page.fill('#claim-form input[name=code]', code);
  await page.fill('#claim-form input[name=billed]', String(billed));
  await page.click('#quote');
  const quote = await outcome(page);
  await page.click('#submit-claim');
  const res = await outcome(page);
  return { quote, submit: res, row: (await claims(page))[0] };
}

async function payNewest(page, id) {
  await page.locator(`#claims tr[data-claim="${id}"] button.pay`).click();
  const res = await outcome(page);
  return { pay: res, row: (await claims(page)).find((r) => r.id === id) };
}

await run(async (page, result) => {
  await open(page, '#/insurer');
  result.poolsBefore = await pools(page);

  await actAs(page, 'clinic');
  result.visit = await submit(page, 'CPT:99213', 120);
  result.visitPaid = await payNewest(page, result.visit.row.id);

  // Another encounter (another day) for the MRI; the same encounter again is a duplicate.
  result.mri = await submit(page, 'CPT:70551', 900, '2000-01-02');
  result.duplicate = await submit(page, 'CPT:70551', 900, '2000-01-02');
  await actAs(page, 'insurer');
  const row = page.locator(`#claims tr[data-claim="${result.mri.row.id}"]`);
  await row.locator('input.amount').fill('400');
  await row.locator('input.reason').fill('45');
  await row.locator('button[data-decision="partial"]').click();
  result.review = await outcome(page);
  result.reviewed = (await claims(page)).find((r) => r.id === result.mri.row.id);
  await shot(page, 'insurer-review');
  result.mriPaid = await payNewest(page, result.mri.row.id);

  if (process.env.UNIT_SCAN) {
    await open(page, `#/insurer/claim-unit/${encodeURIComponent(process.env.UNIT_SCAN)}`, { fresh: '1' }); // a real load: the route's own default account
    result.pharmacyActingAs = await page.inputValue('#account-picker');
    result.pharmacyCode = await page.inputValue('#claim-form input[name=code]');
    result.drug = await submit(page, result.pharmacyCode, 30);
    result.drugPaid = await payNewest(page, result.drug.row.id);
  }
  result.poolsAfter = await pools(page);
  await shot(page, 'insurer');

  // Without the plan's key (any other consortium member's view) the same rows show keyed digests only.
  const visitId = result.visit.row.id;
  await page.fill('#claim-form input[name=key]', '');
  await page.locator('#claim-form input[name=key]').dispatchEvent('change');
  await page.waitForFunction((id) => {
    const tr = document.querySelector(`#claims tr[data-claim="${id}"]`);
    return tr && tr.cells[3].innerText.trim().startsWith('keyed');
  }, visitId, { timeout: 30000 });
  result.withoutKey = (await claims(page)).find((r) => r.id === visitId);
  result.pageText = await page.locator('#claims').innerText();
});
