// Patient view: my consents (who, what data, why, until when), grant / modify / revoke signed as
// EIP-712 and submitted through the relayer (the patient needs no ether), and the access log
// with break-glass highlighted.
import typed from '@generated/eip712.json';
import { config, contract, describeJsonRevert, events, has, pseudonymFor, publicClient, read, UserError, who, explain, short } from '../chain.js';
import { CATEGORIES, GRANTABLE_PURPOSES, PURPOSES, maskOf, names } from '../codes.js';
import { act, date, fill, h, note, table } from '../ui.js';

const REGISTRY = 'ConsentRegistry';
const DAY = 86400;

/**
 * Sign `primaryType` (EIP-712, bound to the registry) with the dev key or the wallet, send it to
 * the relayer (`careledger relay serve`: POST /actions) and wait for the relayed transaction.
 * The patient pays nothing: the relayer submits the *BySig call.
 */
async function signAndRelay(signer, action, primaryType, message) {
  const { full, signature } = await signAction(signer, primaryType, message);
  return submitted(await relay({ action, signer: signer.address, message: full, signature }));
}

/** POST a signed action to the relayer; returns its JSON ({tx, block, ...}). */
async function relay(body) {
  let resp;
  try {
    resp = await fetch(`${config.relayerUrl}/actions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
    });
  } catch {
    throw new UserError(`The relayer at ${config.relayerUrl} does not answer. Start it with 'careledger relay serve' `
      + 'or open this page with ?relayer=http://HOST:PORT.');
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok && !data) {
    throw new UserError(`The relayer (${config.relayerUrl}) does not answer (HTTP ${resp.status}). Start it with `
      + "'careledger relay serve'.");
  }
  if (!resp.ok) {
    const why = data.customError
      ? describeJsonRevert(REGISTRY, data.customError, data.args || {})
      : data.error || data.detail || resp.statusText;
    throw new UserError(`The relayer refused: ${why}`);
  }
  return data;
}

/** Sign `primaryType` with the signer's key (devnet) or wallet (EIP-1193), bound to the registry. */
async function signAction(signer, primaryType, message) {
  if (!typed.consent) throw new UserError('This page was built without the consent SDK; rebuild it after the consent domain lands.');
  const c = contract(REGISTRY);
  const [, name, version, chainId, verifyingContract] = await publicClient.readContract({ ...c, functionName: 'eip712Domain' });
  if (name !== typed.consent.name || version !== typed.consent.version) {
    throw new UserError(`The registry signs as "${name}" v${version}, this page as "${typed.consent.name}" v${typed.consent.version}: rebuild the page.`);
  }
  // Grant, Modify and Revoke carry the pair's action counter (every action on the pair moves it,
  // so a signature someone held back dies); the other actions the signer's own nonce. Which is
  // which is the SDK's (careledger.consent.eip712.PAIR_TYPES, in @generated/eip712.json).
  const nonce = typed.consent.pairTypes.includes(primaryType)
    ? await read(REGISTRY, 'pairNonce', [message.patient, message.grantee])
    : await read(REGISTRY, 'nonces', [signer.address]);
  const block = await publicClient.getBlock();
  // Short-lived by default (the SDK's 15 minutes; the registry refuses more than a day).
  const full = { ...message, nonce, deadline: block.timestamp + 900n };
  const signature = await signer.wallet.signTypedData({
    account: signer.account, domain: { name, version, chainId: Number(chainId), verifyingContract },
    types: { [primaryType]: typed.consent.types[primaryType] }, primaryType, message: full,
  });
  return { full, signature };
}

async function submitted(data) {
  if (!data.tx) throw new UserError('The relayer answered without a transaction hash.');
  const receipt = await publicClient.waitForTransactionReceipt({ hash: data.tx, pollingInterval: 50 });
  if (receipt.status !== 'success') throw new UserError(`The relayed transaction ${short(data.tx)} reverted.`);
  return receipt;
}

/** Rebuild every consent of `patient` (one address or all of a person's pseudonyms) from the registry's events. */
async function consentsOf(patient) {
  const [granted, modified, revoked] = await Promise.all([
    events(REGISTRY, { eventName: 'ConsentGranted', args: { patient }, limit: 1e6 }),
    events(REGISTRY, { eventName: 'ConsentModified', args: { patient }, limit: 1e6 }),
    events(REGISTRY, { eventName: 'ConsentRevoked', args: { patient }, limit: 1e6 }),
  ]);
  const byId = new Map();
  for (const e of [...granted].reverse()) byId.set(e.args.consentId, { ...e.args, revoked: false });
  for (const e of [...modified].reverse()) Object.assign(byId.get(e.args.consentId) || {}, e.args);
  for (const e of revoked) if (byId.has(e.args.consentId)) byId.get(e.args.consentId).revoked = true;
  return [...byId.values()].sort((a, b) => Number(b.consentId - a.consentId));
}

/** Consent ids are per-pair hashes: show them short. */
function idText(id) {
  const n = BigInt(id);
  return n < 1_000_000n ? `#${n}` : `#${short(`0x${n.toString(16).padStart(64, '0')}`)}`;
}

function status(c, now) {
  if (c.revoked) return 'revoked';
  if (now >= Number(c.validUntil)) return 'expired';
  if (now < Number(c.validFrom)) return 'not yet valid';
  return 'active';
}

function checkboxes(name, tableOf, count, checkedMask = 0) {
  return h('div', { class: 'chips', role: 'group', 'aria-label': name },
    tableOf.slice(0, count).map(([code, label], i) => h('label', {},
      h('input', { type: 'checkbox', name, value: String(i), checked: Boolean(checkedMask & (1 << i)) }), label, h('span', { class: 'muted' }, ` ${code}`))));
}

function picked(form, name) {
  return maskOf([...form.querySelectorAll(`input[name=${name}]:checked`)].map((x) => x.value));
}

function daysInput(name, value) {
  return h('input', { type: 'number', name, min: '1', max: '3650', value: String(value), style: 'width:6rem' });
}

function grantForm(ctx, me, out, grantees) {
  const form = h('form', { id: 'grant-form', onsubmit: (e) => e.preventDefault() },
    h('h2', {}, 'Grant access'),
    h('label', {}, 'Who ', h('select', { name: 'grantee' }, grantees.map((m) => h('option', { value: m.address }, `${m.label} (${m.role})`)))),
    h('p', {}, h('strong', {}, 'What data')), checkboxes('cat', CATEGORIES, CATEGORIES.length, 1 << 3),
    h('p', {}, h('strong', {}, 'Why')), checkboxes('pur', PURPOSES, GRANTABLE_PURPOSES, 1),
    h('label', {}, 'For ', daysInput('days', 30), ' days'));
  const button = h('button', { type: 'submit', id: 'grant' }, 'Sign and grant');
  button.addEventListener('click', () => act(button, out, 'Signing and relaying…', async () => {
    // The person's pairwise pseudonym for this organisation signs: it sees only that address.
    const signer = await pseudonymFor(await ctx.signer(), form.grantee.value);
    const me = signer.address;
    const block = await publicClient.getBlock();
    const terms = {
      grantee: form.grantee.value, categories: picked(form, 'cat'), purposes: picked(form, 'pur'),
      denyCategories: 0, denyPurposes: 0, validFrom: 0,
      validUntil: Number(block.timestamp) + Number(form.days.value || 0) * DAY, document: `0x${'0'.repeat(64)}`,
    };
    if (!terms.categories) throw new UserError('Choose at least one kind of data to share.');
    if (!terms.purposes) throw new UserError('Choose at least one purpose.');
    await dryRun(signer, 'grant', [me, terms]);
    await signAndRelay(signer, 'grant', 'Grant', { patient: me, ...terms });
    await ctx.refresh();
    return `Access granted to ${who(terms.grantee)}.`;
  }, explain));
  form.append(button);
  return form;
}

/**
 * Before signing, dry-run the plain action as the patient (eth_call, no gas needed) so a refusal
 * (ConsentAlreadyActive, InvalidPeriod, ...) is shown in words before the patient signs anything.
 */
async function dryRun(signer, functionName, args) {
  await publicClient.simulateContract({ ...contract(REGISTRY), functionName, args, account: signer.address });
}

/** The signer for consent `c`: the pseudonym it was granted under (or the person's own address). */
async function signerOf(ctx, c) {
  const signer = await ctx.signer();
  const pseudonym = await pseudonymFor(signer, c.grantee);
  return pseudonym.address.toLowerCase() === String(c.patient).toLowerCase() ? pseudonym : signer;
}

function modifyForm(ctx, me, c, out) {
  const form = h('form', { class: 'modify', onsubmit: (e) => e.preventDefault() },
    h('p', {}, h('strong', {}, `Change consent ${idText(c.consentId)} for ${who(c.grantee)}`)),
    checkboxes('cat', CATEGORIES, CATEGORIES.length, Number(c.categories)),
    checkboxes('pur', PURPOSES, GRANTABLE_PURPOSES, Number(c.purposes)),
    h('label', {}, 'Valid for ', daysInput('days', 30), ' more days from now'));
  const button = h('button', { type: 'submit', class: 'save' }, 'Sign and save');
  button.addEventListener('click', () => act(button, out, 'Signing and relaying…', async () => {
    const signer = await signerOf(ctx, c);
    const me = c.patient;
    const block = await publicClient.getBlock();
    const terms = {
      categories: picked(form, 'cat'), purposes: picked(form, 'pur'),
      denyCategories: Number(c.denyCategories), denyPurposes: Number(c.denyPurposes),
      validUntil: Number(block.timestamp) + Number(form.days.value || 0) * DAY,
    };
    await dryRun(signer, 'modify', [me, c.grantee, c.consentId, terms]);
    await signAndRelay(signer, 'modify', 'Modify', { patient: me, grantee: c.grantee, consentId: c.consentId, ...terms });
    await ctx.refresh();
    return `Consent ${idText(c.consentId)} changed.`;
  }, explain));
  form.append(button);
  return form;
}

function consentRow(ctx, me, c, now, out) {
  const st = status(c, now);
  const actions = h('td', {});
  if (st === 'active' || st === 'not yet valid') {
    const revoke = h('button', { class: 'danger revoke' }, 'Revoke');
    revoke.addEventListener('click', () => act(revoke, out, 'Signing and relaying…', async () => {
      const signer = await signerOf(ctx, c);
      const me = c.patient;
      await dryRun(signer, 'revoke', [me, c.grantee, c.consentId]);
      await signAndRelay(signer, 'revoke', 'Revoke', { patient: me, grantee: c.grantee, consentId: c.consentId });
      await ctx.refresh();
      return `Consent ${idText(c.consentId)} revoked; ${who(c.grantee)} can no longer access your data.`;
    }, explain));
    const change = h('button', { class: 'secondary modify-open', onclick: () => fill(out, modifyForm(ctx, me, c, out)) }, 'Modify');
    actions.append(change, revoke);
  }
  return h('tr', { dataset: { consent: String(c.consentId), status: st } },
    h('td', { class: 'mono' }, idText(c.consentId)), h('td', {}, who(c.grantee)),
    h('td', {}, names(c.categories, CATEGORIES), c.denyCategories ? h('div', { class: 'bad' }, `except ${names(c.denyCategories, CATEGORIES)} for ${names(c.denyPurposes, PURPOSES)}`) : null),
    h('td', {}, names(c.purposes, PURPOSES)),
    h('td', {}, `${date(c.validFrom)} → ${date(c.validUntil)}`),
    h('td', { class: st === 'active' ? '' : 'muted' }, st), actions);
}

/**
 * "Mark reviewed": sign ReviewBreakGlass as the address the window was opened on (the person's
 * pseudonym for that provider, or their own address) and relay it; the break-glass then leaves the
 * unreviewed list.
 */
function reviewButton(ctx, e, out) {
  const button = h('button', { class: 'secondary review' }, 'Mark reviewed');
  button.addEventListener('click', () => act(button, out, 'Signing and relaying…', async () => {
    const { patient, provider, breakGlassId } = e.args;
    const own = await ctx.signer();
    const pseudonym = await pseudonymFor(own, provider);
    const signer = pseudonym.address.toLowerCase() === String(patient).toLowerCase() ? pseudonym : own;
    const latest = (await read(REGISTRY, 'breakGlassOf', [patient, provider])).seq;
    let seq = 0n;
    for (let n = BigInt(latest); n > 0n && !seq; n -= 1n) {
      if ((await read(REGISTRY, 'breakGlassIdOf', [patient, provider, n])) === breakGlassId) seq = n;
    }
    if (!seq) throw new UserError('This break-glass window is not on chain.');
    await signAndRelay(signer, 'review_break_glass', 'ReviewBreakGlass', { patient, provider, seq });
    await ctx.refresh();
    return `Break-glass by ${who(provider)} marked reviewed.`;
  }, explain));
  return button;
}

/** A row of the access log, from the chain's log or from the index API (the same cells). */
function logRow({ glass, when, org, purpose, category, ref, until, reviewed, mark }) {
  if (glass) {
    return h('tr', { class: 'breakglass', dataset: { kind: 'breakglass', reviewed: String(reviewed) } }, h('td', {}, when), h('td', {}, who(org)),
      h('td', {}, `BREAK-GLASS opened (${PURPOSES[purpose]?.[1] || purpose}) until ${date(until)}${reviewed ? '' : ' — please review'}`),
      h('td', {}, idText(ref), ' ', mark));
  }
  const emergency = Number(purpose) >= GRANTABLE_PURPOSES;
  return h('tr', { class: emergency ? 'breakglass' : '', dataset: { kind: emergency ? 'breakglass-access' : 'access' } }, h('td', {}, when), h('td', {}, who(org)),
    h('td', {}, `${emergency ? 'EMERGENCY ' : ''}read ${CATEGORIES[category]?.[1] || category} for ${PURPOSES[purpose]?.[1] || purpose}`),
    h('td', { class: 'mono' }, idText(ref)));
}

const LOG_LIMIT = 200;
const indexOf = (table, name) => table.findIndex(([code]) => code === name);

/**
 * The accounting of disclosures from the index API (careledger index serve: every disclosure,
 * however old, newest first), or null when the API does not answer.
 */
async function indexedLog(me, ctx, out) {
  const people = Array.isArray(me) ? me : [me];
  const query = `${people.map((p) => `patient=${p}`).join('&')}&limit=${LOG_LIMIT}&order=newest`;
  let body;
  try {
    const resp = await fetch(`${config.indexUrl}/disclosures?${query}`, { signal: AbortSignal.timeout(4000) });
    body = await resp.json();
    if (!resp.ok) return { problem: body.error || `HTTP ${resp.status}` };
  } catch (err) {
    return { problem: err.name === 'TimeoutError' ? 'no answer within 4 s' : 'not reachable' };
  }
  const rows = await Promise.all(body.items.map(async (i) => {
    const glass = i.until !== undefined;
    const opened = { args: { patient: i.patient, provider: i.organisation, breakGlassId: i.consentId } };
    const { reviewed, mark } = glass ? await reviewMark(ctx, opened, out) : {};
    return logRow({
      glass, when: date(i.timestamp), org: i.organisation, purpose: indexOf(PURPOSES, i.purpose),
      category: i.category === null ? null : indexOf(CATEGORIES, i.category.toUpperCase()), ref: BigInt(i.consentId), until: i.until,
      reviewed, mark,
    });
  }));
  const base = `${config.indexUrl}/disclosures?${people.map((p) => `patient=${p}`).join('&')}`;
  const links = h('p', { class: 'muted', id: 'access-log-source', dataset: { source: 'index' } },
    `Every disclosure under this address, from the index (block ${body.indexedTo.block})${body.next ? `; the newest ${LOG_LIMIT} shown` : ''}. `,
    h('a', { href: `${base}&format=csv&limit=1000`, download: 'disclosures.csv' }, 'CSV'), ' · ',
    h('a', { href: `${base}&format=fhir&limit=1000`, download: 'disclosures.fhir.json' }, 'FHIR AuditEvent bundle'), ' · ',
    h('a', { href: '#', onclick: (e) => { e.preventDefault(); printLog(); } }, 'Printable page'));
  return { rows, links };
}

/** The access log alone in a print-ready window (the accounting of disclosures on paper). */
function printLog() {
  const log = document.getElementById('access-log');
  const win = window.open('', '_blank');
  if (!log || !win) return;
  win.document.title = 'Accounting of disclosures';
  win.document.body.innerHTML = `<h1>Accounting of disclosures</h1><p>Printed ${new Date().toISOString().slice(0, 10)}</p>${log.outerHTML}`;
  win.print();
}

/** Whether a break-glass opening was reviewed, and the mark (or the button) its row shows. */
async function reviewMark(ctx, opened, out) {
  const reviewed = await read(REGISTRY, 'breakGlassReviewed', [opened.args.breakGlassId]);
  return { reviewed, mark: reviewed ? h('span', { class: 'muted reviewed' }, 'reviewed') : reviewButton(ctx, opened, out) };
}

async function accessLog(me, ctx, out) {
  const indexed = await indexedLog(me, ctx, out);
  if (indexed.rows) return [indexed.links, table(['When', 'Who', 'What', 'Under'], indexed.rows, { id: 'access-log' })];
  const [accesses, glass] = await Promise.all([
    events(REGISTRY, { eventName: 'AccessRecorded', args: { patient: me }, limit: LOG_LIMIT }),
    events(REGISTRY, { eventName: 'BreakGlassOpened', args: { patient: me }, limit: LOG_LIMIT }),
  ]);
  const times = new Map();
  const all = [...accesses, ...glass].sort((a, b) => Number(b.blockNumber - a.blockNumber) || b.logIndex - a.logIndex);
  const rows = await Promise.all(all.map(async (e) => {
    if (!times.has(e.blockNumber)) times.set(e.blockNumber, publicClient.getBlock({ blockNumber: e.blockNumber }));
    const when = date((await times.get(e.blockNumber)).timestamp);
    const glassOpened = e.eventName === 'BreakGlassOpened';
    const { reviewed, mark } = glassOpened ? await reviewMark(ctx, e, out) : {};
    return logRow({
      glass: glassOpened, when, org: glassOpened ? e.args.provider : e.args.grantee, purpose: glassOpened ? e.args.reason : e.args.purpose,
      category: e.args.category, ref: glassOpened ? e.args.breakGlassId : e.args.consentId, until: e.args.until, reviewed, mark,
    });
  }));
  const source = h('p', { class: 'muted', id: 'access-log-source', dataset: { source: 'chain' } },
    `The index is ${indexed.problem}: showing the last ${LOG_LIMIT} of each kind read from the chain (start 'careledger index serve' for the full history, CSV and FHIR).`);
  return [source, table(['When', 'Who', 'What', 'Under'], rows, { id: 'access-log' })];
}

// Who holds my records: built from the pointers the patient keeps (the string a gateway's
// provider hands her, `careledger-gw:1:<gateway URL>#<pseudonym>`, docs/gateway.md), never from
// the chain, which lists no holders. A pointer is hers when its pseudonym is one of her pairwise
// pseudonyms: the organisation is then the one she uses that pseudonym with.
const POINTERS = 'careledger.gateway.pointers';
const POINTER = /^careledger-gw:1:(https?:\/\/[^#\s]+)#(0x[0-9a-fA-F]{40})$/;

function keptPointers() {
  try {
    const list = JSON.parse(localStorage.getItem(POINTERS) || '[]');
    return Array.isArray(list) ? list.filter((p) => typeof p === 'string' && POINTER.test(p)) : [];
  } catch {
    return [];
  }
}

function holdersSection(pairs) {
  const byPseudonym = new Map(pairs.map(([m, address]) => [address.toLowerCase(), m]));
  const out = h('div', { id: 'holders-out', 'aria-live': 'polite' });
  const list = h('div', {});
  const input = h('input', { id: 'pointer-input', name: 'pointer', size: 70, placeholder: 'careledger-gw:1:https://gateway.example#0x…' });
  const draw = () => {
    const rows = keptPointers().map((text) => {
      const [, url, pseudonym] = text.match(POINTER);
      const org = byPseudonym.get(pseudonym.toLowerCase());
      const remove = h('button', { type: 'button', class: 'pointer-remove' }, 'Forget');
      remove.addEventListener('click', () => {
        localStorage.setItem(POINTERS, JSON.stringify(keptPointers().filter((p) => p !== text)));
        draw();
      });
      return h('tr', { dataset: { pointer: text } },
        h('td', {}, org ? `${org.label} (${short(org.address)})` : 'unknown'),
        h('td', { class: 'mono' }, url),
        h('td', { class: 'mono' }, short(pseudonym)),
        h('td', {}, remove));
    });
    fill(list, rows.length
      ? table(['Organisation', 'Gateway', 'As', ''], rows, { id: 'holders' })
      : h('p', { class: 'muted', id: 'holders' }, 'No pointers kept yet.'));
  };
  const add = h('button', { type: 'button', id: 'pointer-add' }, 'Keep pointer');
  add.addEventListener('click', () => {
    const text = input.value.trim();
    const m = text.match(POINTER);
    if (!m) {
      fill(out, note('error', 'Not a gateway pointer: it looks like careledger-gw:1:https://host#0x… (40 hex digits).'));
      return;
    }
    if (!byPseudonym.has(m[2].toLowerCase())) {
      fill(out, note('error', `${short(m[2])} is not one of your pseudonyms: this pointer is not for you.`));
      return;
    }
    const kept = keptPointers();
    if (!kept.includes(text)) localStorage.setItem(POINTERS, JSON.stringify([...kept, text]));
    fill(out, note('ok', `Kept: ${byPseudonym.get(m[2].toLowerCase()).label} holds records for you at ${m[1]}.`));
    input.value = '';
    draw();
  });
  draw();
  return [
    h('h2', {}, 'Who holds my records'),
    h('p', { class: 'muted' }, 'From the pointers you keep (each provider\'s gateway gives you one). The chain lists no holders: only you know this list.'),
    h('p', {}, input, ' ', add), out, list,
  ];
}

export default {
  title: 'Patient',
  defaultAccount: 'patient',
  async render(root, ctx) {
    if (!has(REGISTRY)) {
      return fill(root, h('h1', {}, 'My consents'), note('warn', 'The consent registry is not deployed on this chain yet (no ConsentRegistry in the deployments file).'));
    }
    const signer = await ctx.signer();
    const grantees = config.cast.filter((m) => !['patient', 'admin'].includes(m.role));
    // One identity, one address per organisation: the person's pairwise pseudonyms (and the
    // person's own address, where consents made before pseudonyms still live: one combined view).
    const pairs = await Promise.all(grantees.map(async (m) => [m, (await pseudonymFor(signer, m.address)).address]));
    const mine = [...new Set([signer.address, ...pairs.map(([, address]) => address)])];
    const me = mine.length > 1 ? mine : signer.address;
    const out = h('div', { id: 'patient-out', 'aria-live': 'polite' });
    const consents = h('div', {});
    const log = h('div', {});
    ctx.refresh = async () => {
      const [list, block] = await Promise.all([consentsOf(me), publicClient.getBlock()]);
      const now = Number(block.timestamp);
      fill(consents, table(['#', 'Who', 'What data', 'Why', 'Valid', 'Status', ''], list.map((c) => consentRow(ctx, me, c, now, out)), { id: 'consents' }));
      fill(log, ...(await accessLog(me, ctx, out)));
    };
    await ctx.refresh();
    fill(root,
      h('h1', {}, 'My consents'),
      h('p', { class: 'muted' }, `Signed in as ${who(signer.address)}. You sign each change; a relayer submits it and pays the fee.`),
      Array.isArray(me) ? h('p', { class: 'muted', id: 'pseudonyms' },
        `Each organisation sees you under its own address (${me.length - 1} pairwise pseudonyms, derived from your one secret); this page shows them all as one.`) : null,
      out, consents, grantForm(ctx, me, out, grantees),
      h('h2', {}, 'Who looked at my records'), log,
      ...holdersSection(pairs));
  },
};
