// Errors a user can cause, each shown in words on the page: a revert with a custom error
// (acting as the distributor, which holds units but is no pharmacy, and pressing Dispense),
// and a browser wallet on the wrong chain. Env: SCAN = a scan of a unit the distributor holds.
import { actAs, open, run, shot, text, url } from './lib.mjs';

await run(async (page, result) => {
  if (process.env.SCAN) {
    await open(page, '#/pharmacy');
    await actAs(page, 'distributor');
    await page.fill('#scan', process.env.SCAN);
    await page.click('#verify');
    await page.locator('#dispense').waitFor();
    await page.click('#dispense');
    await page.locator('#dispense-out .note.error').waitFor();
    result.revert = await text(page, '#dispense-out .note.error');
    await shot(page, 'error-custom-revert');
  }
  // A fake EIP-1193 wallet on chain 1 while the CareLedger node is the devnet (31337).
  await page.addInitScript(() => {
    window.ethereum = {
      request: async ({ method }) => {
        if (method === 'eth_chainId') return '0x1';
        if (method === 'eth_requestAccounts' || method === 'eth_accounts') return ['0x14dC79964da2C08b23698B3D3cc7Ca32193d9955'];
        throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
      },
      on() {}, removeListener() {},
    };
  });
  // (a new query string forces a real page load, so the init script runs)
  await page.goto(url('#/developer', { wallet: 'fake' }));
  await page.locator('#account .note.error').waitFor();
  result.wrongChain = await text(page, '#account .note.error');
  await shot(page, 'error-wrong-chain');
});
