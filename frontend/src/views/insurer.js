// Insurer / provider view: pools (balance and what is owed), the claims queue with states and
// amounts, adjuster review actions, paying approved claims, and submitting a claim (a
// provider's, or a pharmacy's for a dispensed drug unit).
//
// Claims v2 (#13): the chain holds codes only as the plan's keyed digests and no service date.
// Whoever holds the plan's code key (shared off chain by the insurer) types it in below: the page
// keeps it in this tab's session only, maps the codes it knows back from their digests, and turns
// a typed code and today's date into digests (careledger/claims/types.py CodeKey, same bytes).
import { concat, erc20Abi, formatUnits, keccak256, numberToHex, pad, stringToHex, toHex, zeroHash } from 'viem';
import { config, events, explain, has, network, publicClient, read, short, who, write, UserError } from '../chain.js';
import { enumNames, enumValue } from '../codes.js';
import { ScanError, parseScan } from '../gs1.js';
import { unitIdOf } from '../provenance.js';
import { act, fill, h, note, table } from '../ui.js';

const CLAIMS = 'ClaimSettlement';
// ClaimTypes.sol ClaimStatus and Decision: values from the build (@generated/codes.json), words here.
const STATUS_WORDS = {
  None: 'None', Submitted: 'Submitted (queued)', PendingReview: 'Pending review', Approved: 'Approved',
  PartiallyApproved: 'Partially approved', Denied: 'Denied', Withdrawn: 'Withdrawn', Paid: 'Paid',
  Lapsed: 'Lapsed (payee never received)',
};
const STATUS = enumNames('ClaimStatus').map((name) => STATUS_WORDS[name] || name);
const PENDING_REVIEW = enumValue('ClaimStatus', 'PendingReview');
const PAYABLE = new Set([enumValue('ClaimStatus', 'Approved'), enumValue('ClaimStatus', 'PartiallyApproved')]);
const DECISION = {
  approve: enumValue('Decision', 'Approve'), partial: enumValue('Decision', 'PartiallyApprove'), deny: enumValue('Decision', 'Deny'),
};

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
// Today as the chain counts it (days since 1970-01-01 UTC of the latest block): the encounter's
// day goes into the episode digest only, never on chain.
const chainNow = async () => (await publicClient.getBlock()).timestamp;

// ---- the plan's code key (CodeKey in careledger/claims/types.py)
const KNOWN_CODES = ['CPT:99213', 'CPT:99214', 'CPT:70551', 'CPT:71046', 'CPT:80053', 'CPT:15780'];
const planKey = () => sessionStorage.getItem('careledger.planKey') || '';
const normal = (code) => { const [sys, ...rest] = code.split(':'); return `${sys.toUpperCase()}:${rest.join(':')}`; };
const mac = (label, key, planId, parts) => keccak256(concat([toHex(label), key, numberToHex(planId, { size: 4 }), ...parts]));
const digestOf = (key, planId, code) => mac('careledger.code.v1', key, planId, [toHex(normal(code))]);
const gtinSalt = (key, planId, code, gtin) => mac('careledger.gtin.v1', key, planId, [toHex(normal(code)), numberToHex(BigInt(gtin), { size: 8 })]);
const episodeOf = (key, planId, member, payee, day) => mac('careledger.episode.v1', key, planId, [pad(member), pad(payee), numberToHex(day, { size: 4 })]);
function codeLabel(planId, digest, extra = []) {
  const key = planKey();
  if (key) for (const c of [...KNOWN_CODES, ...extra]) if (digestOf(key, Number(planId), c) === digest) return c;
  return `keyed ${short(digest)}`;
}
function requireKey() {
  const key = planKey();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new UserError('Type the plan\'s code key (0x + 64 hex digits) first: codes travel only as its keyed digests.');
  return key;
}

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

const extraCodes = [];

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
    if (c.status === PENDING_REVIEW) actions.append(...reviewControls(ctx, e.args, e.args.lines, out));
    if (PAYABLE.has(c.status)) {
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
      h('td', {}, e.args.lines.map((l) => `${codeLabel(e.args.planId, l.code, extraCodes)} ×${l.units}${l.unitIds.length ? ' (drug unit)' : ''}`).join(', ')),
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
      h('label', {}, 'Plan ', h('input', { type: 'number', name: 'plan', value: '1', min: '1', style: 'width:4rem' })),
      h('label', {}, 'Plan code key ', h('input', { type: 'password', name: 'key', value: planKey(), placeholder: '0x… (shared off chain)', style: 'width:16rem',
        onchange: (e) => { sessionStorage.setItem('careledger.planKey', e.target.value.trim()); ctx.refresh(); } }))),
    h('div', { class: 'row' },
      h('label', {}, 'Member (the plan card\'s address) ', h('select', { name: 'member' }, members.map((m) => h('option', { value: m.address }, `${m.label} (${short(m.address)})`)))),
      h('label', {}, 'Service code ', h('input', { type: 'text', name: 'code', value: drugCode(prefillScan) || 'CPT:99213', style: 'width:13rem' })),
      h('label', {}, 'Service date ', h('input', { type: 'date', name: 'date', title: 'Stays off chain: only inside the encounter\'s keyed digest' })),
      h('label', {}, 'Units ', h('input', { type: 'number', name: 'units', value: '1', min: '1', style: 'width:5rem' })),
      h('label', {}, 'Billed ', h('input', { type: 'number', name: 'billed', value: '120', min: '0', step: 'any', style: 'width:7rem' }))),
    h('label', {}, 'Drug unit (pharmacy claims: the dispensed unit\'s GS1 scan) ',
      h('input', { type: 'text', name: 'unit', value: prefillScan || '', placeholder: '(01)…(17)…(10)…(21)…' })));
  const quote = h('button', { type: 'button', class: 'secondary', id: 'quote' }, 'Quote');
  const send = h('button', { type: 'submit', id: 'submit-claim' }, 'Submit claim');
  const claimInput = async (signer) => {
    const m = await setupMoney();
    sessionStorage.setItem('careledger.planKey', form.key.value.trim());
    const key = requireKey();
    const planId = Number(form.plan.value || 1);
    const code = form.code.value.trim();
    if (!code.includes(':') || code.length > 32) throw new UserError('The service code must be SYSTEM:CODE, at most 32 characters (e.g. CPT:99213).');
    let unitIds = [];
    let salt = zeroHash;
    if (form.unit.value.trim()) {
      try {
        const u = parseScan(form.unit.value);
        unitIds = [unitIdOf(u.gtin, u.serial)];
        salt = gtinSalt(key, planId, code, u.gtin);
      } catch (e) {
        throw new UserError(e instanceof ScanError ? `Drug unit: ${e.message}` : explain(e));
      }
    }
    if (!extraCodes.includes(code)) extraCodes.push(code);
    const billed = BigInt(Math.round(Number(form.billed.value || 0) * 10 ** (m?.decimals ?? 0)));
    const lines = [{ code: digestOf(key, planId, code), units: Number(form.units.value || 1), billed, gtinSalt: salt, unitIds }];
    const now = await chainNow();
    const servicePeriod = Number(await read(CLAIMS, 'periodAt', [planId, now]));
    const typed = form.date.value ? Date.parse(`${form.date.value}T00:00:00Z`) : NaN;
    const day = Number.isNaN(typed) ? Number(now / 86400n) : Math.floor(typed / 86400000);
    return {
      member: form.member.value, payee: signer.address, servicePeriod,
      episode: episodeOf(key, planId, form.member.value, signer.address, day), resubmission: 0,
      fhirClaim: code32(`claim:${Date.now()}`), lines,
    };
  };
  quote.addEventListener('click', () => act(quote, out, 'Asking the rules…', async () => {
    const input = await claimInput(await ctx.signer());
    const q = await read(CLAIMS, 'quote', [input.member, input.servicePeriod, input.lines]);
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
