// Patient view: grant a consent through the relayer, a refused second grant (decoded before
// signing), revoke it, and the access log with break-glass highlighted. Env: GRANTEE = address.
import { open, run, shot } from './lib.mjs';

async function rows(page) {
  return page.locator('#consents tbody tr[data-consent]').evaluateAll((trs) => trs.map((r) => ({
    id: r.dataset.consent, status: r.dataset.status, cells: [...r.cells].map((c) => c.innerText.trim()),
  })));
}

async function outcome(page) {
  const el = page.locator('#patient-out .note.ok, #patient-out .note.error').first();
  await el.waitFor({ timeout: 30000 });
  return { ok: (await el.getAttribute('class')).includes('ok'), text: (await el.innerText()).trim() };
}

await run(async (page, result) => {
  await open(page, '#/patient');
  result.log = await page.locator('#access-log tbody tr').evaluateAll((trs) => trs.map((r) => ({
    kind: r.dataset.kind || '', breakglass: r.classList.contains('breakglass'), cells: [...r.cells].map((c) => c.innerText.trim()),
  })));
  const source = page.locator('#access-log-source');
  result.logSource = { source: await source.getAttribute('data-source'), text: (await source.innerText()).trim() };
  result.before = await rows(page);
  await shot(page, 'patient');

  await page.selectOption('#grant-form select[name=grantee]', process.env.GRANTEE);
  await page.check('#grant-form input[name=cat][value="2"]'); // Conditions, besides the default Observations
  await page.fill('#grant-form input[name=days]', '30');
  await page.click('#grant');
  result.grant = await outcome(page);
  result.afterGrant = await rows(page);
  await shot(page, 'patient-granted');

  await page.click('#grant');
  result.again = await outcome(page);

  const active = () => page.locator('#consents tr[data-status="active"]').filter({ hasText: process.env.GRANTEE_LABEL || '' }).first();
  await active().locator('button.modify-open').click();
  await page.locator('form.modify').waitFor();
  await page.uncheck('form.modify input[name=cat][value="2"]');
  await page.click('form.modify button.save');
  result.modify = await outcome(page);
  result.afterModify = await rows(page);

  await active().locator('button.revoke').click();
  result.revoke = await outcome(page);
  result.afterRevoke = await rows(page);
  await shot(page, 'patient-revoked');

  // Mark the ER's break-glass reviewed (signed as the address it was opened on, relayed).
  const review = page.locator('#access-log tr[data-kind="breakglass"] button.review').first();
  if (await review.count()) {
    await review.click();
    result.review = await outcome(page);
  }
  await page.locator('#access-log tr[data-kind="breakglass"][data-reviewed="true"]').first().waitFor({ timeout: 30000 });
  result.logAfterReview = await page.locator('#access-log tbody tr').evaluateAll((trs) => trs.map((r) => ({
    kind: r.dataset.kind || '', reviewed: r.dataset.reviewed || '', cells: [...r.cells].map((c) => c.innerText.trim()),
  })));
});
