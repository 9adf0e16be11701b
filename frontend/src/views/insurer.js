// Insurer / provider view: pools (balance and what is owed), the claims queue with states and
// amounts, adjuster review actions, paying approved claims, and submitting a claim (a
// provider's, or a pharmacy's for a dispensed drug unit).
import { erc20Abi, formatUnits, hexToString, stringToHex, zeroHash } from 'viem';
import { config, events, explain, has, network, publicClient, read, short, who, write, UserError } from '../chain.js';
import { ScanError, parseScan } from '../gs1.js';
import { unitIdOf } from '../provenance.js';
import { act, fill, h, note, table } from '../ui.js';

const CLAIMS = 'ClaimSettlement';
// ClaimTypes.sol ClaimStatus, in enum order.
const STATUS = ['None', 'Submitted (queued)', 'Pending review', 'Approved', 'Partially approved', 'Denied', 'Withdrawn', 'Paid', 'Lapsed (payee never received)'];
const DECISION = { approve: 0, partial: 1, deny: 2 };

let money = (v) => String(v);

/** The ERC-20 the pools hold: `config.paymentToken` of the deployments file (the claims deploy
 *  plug-in records it: the devnet's test dollar, or the configured stablecoin elsewhere). */
async function setupMoney() {
  const address = network.deployment?.config?.paymentToken;
  if (!address) return null;
  const [symbol, decimals] = await Promise.all([
    publicClient.readContract({ address, abi: erc20Abi, functionName: 'symbol' }),
    publicClient.readContract({ address, abi: erc20Abi, functionName: 'decimals' }),
  ]);
  money = (v) => `${formatUnits(BigInt(v), decimals)} ${symbol}`;
  return { address, symbol, decimals };
}

const code32 = (text) => stringToHex(text, { size: 32 });
const codeText = (hex) => hexToString(hex, { size: 32 }).replace(/\0+$/, '');
// Today as the chain counts it (days since 1970-01-01 UTC of the latest block): the contract
// judges service days by block time, not by this computer's calendar.
const chainDay = async () => Number((await publicClient.getBlock()).timestamp / 86400n);

async function poolsSection() {
  const plans = await events(CLAIMS, { eventName: 'PlanCreated', limit: 100 });
  const rows = await Promise.all(plans.map(async (p) => {
    const pool = await read(CLAIMS, 'poolOf', [p.args.planId]);
    return h('tr', { dataset: { plan: String(p.args.planId) } },
      h('td', {}, `#${p.args.planId}`), h('td', {}, who(p.args.insurer)),
      h('td', {}, money(pool.funded)), h('td', {}, money(pool.paid)), h('td', { class: 'owed' }, money(pool.owed)),
      h('td', {}, money(pool.free)),
      h('td', {}, `deductible ${money(p.args.terms.deductible)}, annual max ${money(p.args.terms.annualMax)}, auto-approve ≤ ${money(p.args.terms.autoApproveLimit)}`));
  }));
  return table(['Plan', 'Insurer', 'Pool funded', 'Paid', 'Owed', 'Free', 'Terms'], rows, { id: 'pools' });
}

function reviewControls(ctx, claim, lines, out) {
  const amount = h('input', { type: 'number', min: '0', step: 'any', class: 'amount', placeholder: 'amount', style: 'width:7rem' });
  const reason = h('input', { type: 'number', min: '1', max: '999', class: 'reason', placeholder: 'CARC', style: 'width:5rem' });
  const decide = (kind) => {
    const b = h('button', { class: kind === 'deny' ? 'danger' : kind === 'partial' ? 'secondary' : '', dataset: { decision: kind } },
      { approve: 'Approve', partial: 'Partially approve', deny: 'Deny' }[kind]);
    b.addEventListener('click', () => act(b, out, 'Recording the decision…', async () => {
      const signer = await ctx.signer();
      const r = Number(reason.value || 0);
      const money$ = await setupMoney();
      const amt = kind === 'partial' ? BigInt(Math.round(Number(amount.value || 0) * 10 ** (money$?.decimals ?? 0))) : 0n;
      if (kind !== 'approve' && !r) throw new UserError('Give an X12 claim adjustment reason code (CARC, 1–999) for a partial approval or a denial.');
      await write(signer, CLAIMS, 'review', [claim.claimId, lines, DECISION[kind], amt, r]);
      await ctx.refresh();
      return `Claim ${short(claim.claimId)}: ${kind === 'approve' ? 'approved' : kind === 'partial' ? 'partially approved' : 'denied'}.`;
    }, explain));
    return b;
  };
  return [decide('approve'), amount, reason, decide('partial'), decide('deny')];
}

async function queueSection(ctx, out) {
  const [submitted, paidEvents] = await Promise.all([
    events(CLAIMS, { eventName: 'ClaimSubmitted', limit: 100 }),
    events(CLAIMS, { eventName: 'ClaimPaid', limit: 1000 }),
  ]);
  const paid = new Map(paidEvents.map((p) => [p.args.claimId, p.args.amount]));
  const rows = await Promise.all(submitted.map(async (e) => {
    const c = await read(CLAIMS, 'claimOf', [e.args.claimId]);
    const billed = e.args.lines.reduce((s, l) => s + BigInt(l.billed), 0n);
    const status = STATUS[c.status] || String(c.status);
    const actions = h('td', { class: 'actions' });
    if (c.status === 2) actions.append(...reviewControls(ctx, e.args, e.args.lines, out));
    if (c.status === 3 || c.status === 4) {
      const pay = h('button', { class: 'pay' }, 'Pay');
      pay.addEventListener('click', () => act(pay, out, 'Paying…', async () => {
        await write(await ctx.signer(), CLAIMS, 'pay', [e.args.claimId]);
        await ctx.refresh();
        return `Claim ${short(e.args.claimId)} paid to ${who(c.payee)}.`;
      }, explain));
      actions.append(pay);
    }
    return h('tr', { dataset: { claim: e.args.claimId, status: String(c.status) } },
      h('td', { class: 'mono' }, short(e.args.claimId)), h('td', {}, who(e.args.member)), h('td', {}, who(e.args.payee)),
      h('td', {}, e.args.lines.map((l) => `${codeText(l.code)} ×${l.units}${l.unitId !== zeroHash ? ' (drug unit)' : ''}`).join(', ')),
      h('td', {}, money(billed)), h('td', { class: 'status' }, status), h('td', { class: 'amount' }, paid.has(e.args.claimId) ? `${money(paid.get(e.args.claimId))} paid` : money(c.amount)), actions);
  }));
  return table(['Claim', 'Member', 'Payee', 'Lines', 'Billed', 'State', 'Payable / paid', ''], rows, { id: 'claims' });
}

/** The drug's service code for a dispensed unit's scan: its GTIN (a US GTIN embeds the NDC). */
function drugCode(scan) {
  try { return scan ? `GTIN:${parseScan(scan).gtin}` : ''; } catch { return ''; }
}

function submitForm(ctx, out, prefillScan) {
  const members = config.cast.filter((m) => m.role === 'patient');
  const form = h('form', { id: 'claim-form', onsubmit: (e) => e.preventDefault() },
    h('h2', {}, 'Submit a claim'),
    h('div', { class: 'row' },
      h('label', {}, 'Member ', h('select', { name: 'member' }, members.map((m) => h('option', { value: m.address }, `${m.label} (${short(m.address)})`)))),
      h('label', {}, 'Service code ', h('input', { type: 'text', name: 'code', value: drugCode(prefillScan) || 'CPT:99213', style: 'width:13rem' })),
      h('label', {}, 'Units ', h('input', { type: 'number', name: 'units', value: '1', min: '1', style: 'width:5rem' })),
      h('label', {}, 'Billed ', h('input', { type: 'number', name: 'billed', value: '120', min: '0', step: 'any', style: 'width:7rem' }))),
    h('label', {}, 'Drug unit (pharmacy claims: the dispensed unit\'s GS1 scan) ',
      h('input', { type: 'text', name: 'unit', value: prefillScan || '', placeholder: '(01)…(17)…(10)…(21)…' })));
  const quote = h('button', { type: 'button', class: 'secondary', id: 'quote' }, 'Quote');
  const send = h('button', { type: 'submit', id: 'submit-claim' }, 'Submit claim');
  const claimInput = async (signer) => {
    const m = await setupMoney();
    let unitId = zeroHash;
    if (form.unit.value.trim()) {
      try { const u = parseScan(form.unit.value); unitId = unitIdOf(u.gtin, u.serial); } catch (e) {
        throw new UserError(e instanceof ScanError ? `Drug unit: ${e.message}` : explain(e));
      }
    }
    const code = form.code.value.trim();
    if (!code || code.length > 32) throw new UserError('The service code must be 1 to 32 characters (e.g. CPT:99213).');
    const billed = BigInt(Math.round(Number(form.billed.value || 0) * 10 ** (m?.decimals ?? 0)));
    const lines = [{ code: code32(code), units: Number(form.units.value || 1), billed, unitId }];
    const serviceDay = await chainDay();
    return {
      member: form.member.value, payee: signer.address, serviceDay, resubmission: 0,
      fhirClaim: code32(`claim:${Date.now()}`), lines,
    };
  };
  quote.addEventListener('click', () => act(quote, out, 'Asking the rules…', async () => {
    const input = await claimInput(await ctx.signer());
    const q = await read(CLAIMS, 'quote', [input.member, input.lines]);
    return `Rules: billed ${money(q.billed)}, deductible ${money(q.deductible)}, plan pays ${money(q.benefit)}`
      + `${q.needsReview ? ' — needs an adjuster' : ' — settles automatically'}.`;
  }, explain));
  send.addEventListener('click', () => act(send, out, 'Submitting…', async () => {
    const signer = await ctx.signer();
    const input = await claimInput(signer);
    await write(signer, CLAIMS, 'submit', [input]);
    await ctx.refresh();
    return 'Claim submitted; see its state in the queue.';
  }, explain));
  form.append(h('div', {}, quote, send));
  return form;
}

export default {
  title: 'Insurer / provider',
  // A pharmacy filing the claim for a unit it dispensed acts as the pharmacy.
  defaultAccount: (arg) => (arg.startsWith('claim-unit/') ? 'pharmacy' : 'insurer'),
  async render(root, ctx) {
    if (!has(CLAIMS)) {
      return fill(root, h('h1', {}, 'Claims'), note('warn', 'Claim settlement is not deployed on this chain yet (no ClaimSettlement in the deployments file).'));
    }
    await setupMoney();
    const out = h('div', { id: 'claims-out', 'aria-live': 'polite' });
    const pools = h('div', {});
    const queue = h('div', {});
    ctx.refresh = async () => {
      const [p, q] = await Promise.all([poolsSection(), queueSection(ctx, out)]);
      fill(pools, p);
      fill(queue, q);
    };
    await ctx.refresh();
    const prefill = ctx.arg.startsWith('claim-unit/') ? decodeURIComponent(ctx.arg.slice('claim-unit/'.length)) : '';
    fill(root, h('h1', {}, 'Claims'), out,
      h('h2', {}, 'Pools: balance and what is owed'), pools,
      h('h2', {}, 'Claims queue'), queue,
      submitForm(ctx, out, prefill));
  },
};
