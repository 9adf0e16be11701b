// Pharmacy view: scan (paste / scanner keyboard input, uploaded photo, camera), a large verdict
// in DSCSA words with product, lot, expiry, holder and the unit's custody timeline, and Dispense
// for the pharmacy holding the parcel that contains the unit. Proofs come one unit at a time from
// the web server, for a request the signed-in partner signs (provenance.js).
import { explain, publicClient, who } from '../chain.js';
import { ScanError, expiryDate, parseScan } from '../gs1.js';
import * as drugs from '../provenance.js';
import { act, date, fill, h, note } from '../ui.js';

// DSCSA Verification Router vocabulary -> what the counter shows.
const LOOK = {
  Verified: ['verified', 'VERIFIED', 'Product identifier verified: this unit may be dispensed.'],
  Recalled: ['refused', 'RECALLED', 'The batch is recalled. Do not dispense; quarantine the unit.'],
  Expired: ['refused', 'EXPIRED', 'The product is past its expiry date. Do not dispense.'],
  Suspect: ['refused', 'SUSPECT', 'The batch is quarantined as suspect product. Do not dispense.'],
  Dispensed: ['refused', 'ALREADY DISPENSED', 'This serial was dispensed before: the unit in hand may be a clone.'],
  No_match_GTIN_Serial: ['refused', 'UNKNOWN', 'No commissioned unit has this GTIN and serial: possible counterfeit.'],
  No_match_Lot: ['refused', 'NO MATCH — LOT', 'The lot on the label does not match the lot of this serial.'],
  No_match_Expiry: ['refused', 'NO MATCH — EXPIRY', 'The expiry on the label does not match the batch record.'],
  Unknown_batch: ['refused', 'UNKNOWN', 'No batch with this GTIN and lot is known to the ledger.'],
  Unverifiable: ['caution', 'CANNOT VERIFY', 'The batch is known but its serial list is missing here. Hold the unit.'],
  Voided: ['refused', 'VOIDED', 'A regulator annulled this batch: illegitimate product. Do not dispense; quarantine the unit.'],
};

let stopCamera = null;

function timeline(steps) {
  if (!steps.length) return h('p', { class: 'muted' }, 'No custody events.');
  return h('ol', { class: 'timeline', id: 'custody' }, steps.map((s) => h('li', {},
    h('strong', {}, s.step), ` — ${s.text}`, h('div', { class: 'muted' }, `${date(s.time)} · block ${s.block}`))));
}

function verdictBox(result, ms) {
  const [cls, word, sentence] = LOOK[result.verdict] || ['caution', result.verdict, ''];
  return h('div', { class: `verdict ${cls}`, id: 'verdict', dataset: { verdict: result.verdict, ms: ms.toFixed(1) } },
    word, h('small', {}, sentence));
}

export default {
  title: 'Pharmacy',
  defaultAccount: 'pharmacy',
  dispose() { if (stopCamera) stopCamera(); stopCamera = null; },
  async render(root, ctx) {
    const input = h('input', { type: 'text', id: 'scan', autocomplete: 'off', spellcheck: false,
      placeholder: '(01)…(17)…(10)…(21)… or https://…/01/…', 'aria-label': 'GS1 scan or Digital Link' });
    const out = h('div', { id: 'result', 'aria-live': 'polite' });
    const video = h('video', { id: 'camera-view', playsinline: true, muted: true, hidden: true });
    const status = drugs.available();
    let me;
    try { me = await ctx.signer(); } catch { me = undefined; }

    async function verify(raw, started = performance.now()) {
      let unit;
      try {
        unit = parseScan(raw);
      } catch (e) {
        fill(out, note('error', e instanceof ScanError ? `Malformed scan: ${e.message}` : explain(e)));
        out.firstChild.id = 'scan-error';
        return;
      }
      fill(out, note('info', `Checking ${unit.gtin} lot ${unit.lot} serial ${unit.serial}…`));
      try {
        // The expiry's century is read in the year of the latest block, as the registry reads it.
        const [result, latest] = await Promise.all([drugs.verify(unit, me), publicClient.getBlock()]);
        if (!ctx.alive()) return;
        let expiry;
        try { expiry = expiryDate(unit.expiry, latest.timestamp); } catch (e) { expiry = `${unit.expiry}: ${e.message}`; }
        const box = verdictBox(result, 0);
        const holderCell = h('dd', { id: 'holder' }, result.dispensedBy ? who(result.dispensedBy) : '…');
        const facts = h('dl', { class: 'facts', id: 'unit-facts' },
          h('dt', {}, 'Product (GTIN)'), h('dd', {}, unit.gtin),
          h('dt', {}, 'Lot'), h('dd', {}, unit.lot),
          h('dt', {}, 'Expiry'), h('dd', { id: 'expiry' }, expiry),
          h('dt', {}, 'Serial'), h('dd', {}, unit.serial),
          h('dt', {}, result.verdict === 'Dispensed' ? 'Dispensed by' : 'Holder'), holderCell,
          result.reason ? [h('dt', {}, 'Reason'), h('dd', {}, result.reason)] : null);
        const actions = h('div', { id: 'actions' });
        const custody = h('div', {}, h('p', { class: 'muted' }, 'Loading custody timeline…'));
        fill(out, box, facts, actions, h('h2', {}, 'Custody'), custody);
        // The verdict is on screen once the browser has painted it.
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const ms = performance.now() - started;
        box.dataset.ms = ms.toFixed(1);
        window.__lastVerdictMs = ms;
        const history = await drugs.custody(result);
        if (!result.dispensedBy) {
          // The holder of the parcel of serial positions that contains this unit (from the events).
          const p = history.parcel;
          fill(holderCell, !p || !result.proof.length ? '—'
            : `${who(p.holder)}${p.to ? ` (in transit to ${who(p.to)})` : ''}`);
        }
        await dispenseButton(result, unit, actions, history.parcel);
        fill(custody, timeline(history.steps));
      } catch (e) {
        fill(out, note('error', explain(e)));
      }
    }

    async function dispenseButton(result, unit, actions, parcel) {
      if (result.verdict !== 'Verified') return;
      let signer;
      try { signer = await ctx.signer(); } catch { return; }
      const mine = parcel && !parcel.to && parcel.holder.toLowerCase() === signer.address.toLowerCase();
      if (!mine) {
        fill(actions, h('p', { class: 'muted' }, `${who(signer.address)} did not receive this unit (it is not in a parcel it holds), so it cannot dispense it.`));
        return;
      }
      const msg = h('div', { id: 'dispense-out' });
      const button = h('button', { id: 'dispense' }, 'Dispense to patient');
      button.addEventListener('click', () => act(button, msg, 'Dispensing…', async () => {
        const receipt = await drugs.dispense(signer, unit, result, parcel);
        button.remove();
        const scan = `(01)${unit.gtin}(17)${unit.expiry}(10)${unit.lot}(21)${unit.serial}`;
        return h('div', { class: 'note ok' }, `Dispensed in block ${receipt.blockNumber}. Scan it again: it now reads "already dispensed". `,
          h('a', { href: `#/insurer/claim-unit/${encodeURIComponent(scan)}`, id: 'claim-unit' }, 'File the pharmacy claim for this unit →'));
      }, explain));
      fill(actions, button, msg);
    }

    const form = h('form', { id: 'scan-form', onsubmit: (e) => { e.preventDefault(); verify(input.value, performance.now()); } },
      h('label', { for: 'scan' }, h('strong', {}, 'Scan or paste the 2D barcode')), input,
      h('div', { class: 'row' },
        h('button', { type: 'submit', id: 'verify' }, 'Verify'),
        h('label', { class: 'secondary' }, 'Upload a barcode photo ',
          h('input', { type: 'file', id: 'scan-image', accept: 'image/*', onchange: async (e) => {
            const file = e.target.files[0];
            const started = performance.now();
            fill(out, note('info', `Reading ${file?.name || 'image'}…`));
            try {
              const { decodeImageFile } = await import('../scan.js');
              const text = await decodeImageFile(file);
              input.value = text.replace(/\x1d/g, '<GS>');
              await verify(text, started);
            } catch (err) {
              fill(out, note('error', err instanceof ScanError ? err.message : explain(err)));
              out.firstChild.id = 'scan-error';
            } finally { e.target.value = ''; }
          } })),
        h('button', { type: 'button', class: 'secondary', id: 'camera', onclick: async () => {
          if (stopCamera) { stopCamera(); stopCamera = null; video.hidden = true; return; }
          try {
            const { startCamera } = await import('../scan.js');
            video.hidden = false;
            stopCamera = await startCamera(video, (text) => {
              stopCamera = null; video.hidden = true;
              input.value = text.replace(/\x1d/g, '<GS>');
              verify(text);
            });
          } catch (err) {
            video.hidden = true;
            fill(out, note('error', err instanceof ScanError ? err.message : explain(err)));
            out.firstChild.id = 'camera-error';
          }
        } }, 'Use camera')),
      video);

    fill(root, h('h1', {}, 'Verify a unit'), status ? note('warn', status) : null, form, out);
    input.focus();
  },
};
