// GS1 scan parsing in the browser: a GS1 element string with parentheses, the raw string a
// DataMatrix scanner yields (FNC1 as ASCII 29 / <GS>, optional ]d2 prefix), or a GS1 Digital
// Link URI. Returns {gtin, lot, expiry: 'YYMMDD', serial (, expiryDate: 'YYYY-MM-DD')} or throws
// ScanError with a sentence for the pharmacist. Nothing is sent anywhere before this passes.

export class ScanError extends Error {}

// AI -> [fixed length | null, max length, name]
const AIS = {
  '00': [18, 18, 'SSCC'], '01': [14, 14, 'GTIN'], '02': [14, 14, 'content GTIN'],
  '10': [null, 20, 'lot'], '11': [6, 6, 'production date'], '12': [6, 6, 'due date'],
  '13': [6, 6, 'packaging date'], '15': [6, 6, 'best before'], '16': [6, 6, 'sell by'],
  '17': [6, 6, 'expiry'], '20': [2, 2, 'variant'], '21': [null, 20, 'serial'], '22': [null, 20, 'consumer variant'],
  '30': [null, 8, 'count'], '37': [null, 8, 'count'], '240': [null, 30, 'additional id'],
  '241': [null, 30, 'customer part number'], '710': [null, 20, 'NHRN (DE)'], '711': [null, 20, 'NHRN (FR)'],
  '712': [null, 20, 'NHRN (ES)'], '713': [null, 20, 'NHRN (BR)'], '714': [null, 20, 'NHRN (PT)'],
};
const GS = '\x1d';
// GS1 AI encodable character set 82 (General Specifications, figure 7.11-1).
const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$/;

function aiAt(s, i) {
  for (const len of [2, 3, 4]) {
    const ai = s.slice(i, i + len);
    if (AIS[ai]) return ai;
  }
  return null;
}

/** GS1 mod-10 check digit over the first 13 digits of a GTIN-14. */
export function gtinCheckDigit(first13) {
  let sum = 0;
  for (let i = 0; i < 13; i++) sum += Number(first13[i]) * (i % 2 === 0 ? 3 : 1);
  return (10 - (sum % 10)) % 10;
}

function parseElementString(text) {
  const out = {};
  let s = text;
  if (s.startsWith(']d2') || s.startsWith(']C1') || s.startsWith(']Q3')) s = s.slice(3);
  s = s.replace(/<GS>|\{GS\}/gi, GS);
  if (s.startsWith('(')) {
    const re = /\((\d{2,4})\)([^(]*)/g;
    let m; let consumed = 0;
    while ((m = re.exec(s)) !== null) {
      if (m.index !== consumed) break;
      consumed = re.lastIndex;
      if (!AIS[m[1]]) throw new ScanError(`Unknown GS1 Application Identifier (${m[1]}).`);
      put(out, m[1], m[2]);
    }
    if (consumed !== s.length) throw new ScanError(`Cannot read the scan after "${s.slice(0, consumed)}": expected (AI)value pairs.`);
    return out;
  }
  s = s.replace(/^\x1d+/, '');
  let i = 0;
  while (i < s.length) {
    const ai = aiAt(s, i);
    if (!ai) throw new ScanError(`Unknown GS1 Application Identifier at position ${i + 1} ("${s.slice(i, i + 4)}…").`);
    const [fixed, max] = AIS[ai];
    i += ai.length;
    let value;
    if (fixed) {
      value = s.slice(i, i + fixed);
      i += fixed;
      if (s[i] === GS) i++;
    } else {
      const end = s.indexOf(GS, i);
      value = s.slice(i, end === -1 ? s.length : end);
      i = end === -1 ? s.length : end + 1;
      if (value.length > max) throw new ScanError(`AI (${ai}) ${AIS[ai][2]} is ${value.length} characters; GS1 allows at most ${max} (is a group separator missing?).`);
    }
    put(out, ai, value);
  }
  return out;
}

function parseDigitalLink(text) {
  let url;
  try { url = new URL(text); } catch { throw new ScanError('This looks like a link but is not a valid URL.'); }
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const start = parts.findIndex((p, k) => (p === '01' || p === 'gtin') && k + 1 < parts.length);
  if (start === -1) throw new ScanError('This link is not a GS1 Digital Link: no /01/{GTIN} in its path.');
  const out = {};
  for (let k = start; k + 1 < parts.length; k += 2) {
    const ai = parts[k] === 'gtin' ? '01' : parts[k] === 'lot' ? '10' : parts[k] === 'ser' ? '21' : parts[k];
    if (!AIS[ai]) throw new ScanError(`Unknown GS1 Application Identifier /${parts[k]}/ in the link.`);
    put(out, ai, parts[k + 1]);
  }
  for (const [key, value] of url.searchParams) {
    const ai = key === 'exp' ? '17' : key;
    if (AIS[ai]) put(out, ai, value);
  }
  return out;
}

function put(out, ai, value) {
  if (out[ai] !== undefined) throw new ScanError(`AI (${ai}) ${AIS[ai][2]} appears twice in the scan.`);
  const [fixed] = AIS[ai];
  if (fixed && value.length !== fixed) throw new ScanError(`AI (${ai}) ${AIS[ai][2]} must be ${fixed} digits, got "${value}".`);
  out[ai] = value;
}

// ------------------------------------------------------------------ GS1 dates
// One rule with the registry (contracts/provenance/GS1Date.sol) and the Python client
// (careledger/provenance/gs1.py), checked by all three against tests/data/gs1_expiry_vectors.json:
// GS1 General Specifications section 7.12 ("Determination of century in dates"): with CY the last
// two digits of the current year, YY - CY >= 51 is in the previous century, YY - CY <= -50 in the
// next one, anything else in the current century (49 years back to 50 years ahead). The "current
// year" is the UTC year of an explicit reference time: the chain's latest block, never the PC's
// clock. DD = 00 is the last day of the month.

/** The UTC year of a reference time: a Date, or unix seconds as a number or bigint (block.timestamp). */
export function referenceYear(reference) {
  if (reference instanceof Date && !Number.isNaN(reference.getTime())) return reference.getUTCFullYear();
  if (typeof reference === 'bigint' || (typeof reference === 'number' && Number.isFinite(reference))) {
    return new Date(Number(reference) * 1000).getUTCFullYear();
  }
  throw new TypeError('a GS1 date needs a reference time (the latest block\'s timestamp), got ' + String(reference));
}

/** The four-digit year of two-digit year `yy` read in `currentYear` (GS1 GS 7.12). */
export function centuryYear(yy, currentYear) {
  const cy = currentYear % 100;
  const century = currentYear - cy;
  if (yy - cy >= 51) return century - 100 + yy;
  if (yy - cy <= -50) return century + 100 + yy;
  return century + yy;
}

const daysIn = (year, month) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** The checks that do not depend on the century: six digits, month 01-12, a day the month can have. */
export function checkYymmdd(yymmdd) {
  if (!/^\d{6}$/.test(yymmdd)) throw new ScanError(`Expiry (17) must be 6 digits YYMMDD, got "${yymmdd}".`);
  const yy = Number(yymmdd.slice(0, 2)); const mm = Number(yymmdd.slice(2, 4)); const dd = Number(yymmdd.slice(4, 6));
  if (mm < 1 || mm > 12) throw new ScanError(`Expiry ${yymmdd} has month ${mm}, which does not exist.`);
  // 2000 and 2001 stand for "YY divisible by 4" and "not": 29 February only in the former.
  const most = daysIn(yy % 4 === 0 ? 2000 : 2001, mm);
  if (dd > most) throw new ScanError(`Expiry ${yymmdd} is not a real date (month ${mm} has no day ${dd}).`);
  return yymmdd;
}

/** YYMMDD read at `reference` -> 'YYYY-MM-DD' (century per GS1 GS 7.12; day 00 = last day of the month). */
export function expiryDate(yymmdd, reference) {
  checkYymmdd(yymmdd);
  const yy = Number(yymmdd.slice(0, 2)); const mm = Number(yymmdd.slice(2, 4)); let dd = Number(yymmdd.slice(4, 6));
  const year = centuryYear(yy, referenceYear(reference));
  const last = daysIn(year, mm);
  if (dd === 0) dd = last;
  if (dd > last) throw new ScanError(`Expiry ${yymmdd} is not a real date (${year}-${String(mm).padStart(2, '0')} has ${last} days).`);
  return `${String(year).padStart(4, '0')}-${String(mm).padStart(2, '0')}-${String(dd).padStart(2, '0')}`;
}

/** Parse what the scanner (or the pharmacist) entered. With `reference` (the latest block's
 *  timestamp) the expiry is also resolved to `expiryDate`; without it only checked. */
export function parseScan(raw, reference) {
  const text = String(raw || '').trim();
  if (!text) throw new ScanError('Nothing was scanned: paste or scan a GS1 code first.');
  if (!/^(https?:\/\/|\(\d|\]|\x1d|\d)/i.test(text)) {
    throw new ScanError('This is not a GS1 code: expected an element string like (01)…(17)…(10)…(21)… or a GS1 Digital Link https://…/01/….');
  }
  const ais = /^https?:\/\//i.test(text) ? parseDigitalLink(text) : parseElementString(text);
  const missing = [['01', 'GTIN'], ['17', 'expiry'], ['10', 'lot'], ['21', 'serial']].filter(([ai]) => ais[ai] === undefined);
  if (missing.length) {
    throw new ScanError(`The scan lacks the DSCSA product identifier part${missing.length > 1 ? 's' : ''} `
      + `${missing.map(([ai, n]) => `(${ai}) ${n}`).join(', ')}.`);
  }
  const gtin = ais['01'];
  if (!/^\d{14}$/.test(gtin)) throw new ScanError(`GTIN (01) must be 14 digits, got "${gtin}".`);
  const check = gtinCheckDigit(gtin);
  if (Number(gtin[13]) !== check) throw new ScanError(`GTIN ${gtin} has a wrong check digit (${gtin[13]}; expected ${check}): a misread or a fake label.`);
  for (const [ai, name] of [['10', 'Lot'], ['21', 'Serial']]) {
    const v = ais[ai];
    if (!v.length || v.length > 20) throw new ScanError(`${name} (${ai}) must be 1 to 20 characters, got ${v.length}.`);
    if (!CSET82.test(v)) throw new ScanError(`${name} (${ai}) "${v}" has characters GS1 does not allow.`);
  }
  const expiry = checkYymmdd(ais['17']);
  const unit = { gtin, lot: ais['10'], serial: ais['21'], expiry, ais };
  if (reference !== undefined) unit.expiryDate = expiryDate(expiry, reference);
  return unit;
}
