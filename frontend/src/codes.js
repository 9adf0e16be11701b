// The contracts' code tables and enums, for display. Values and order come from the build
// (frontend/generate.py writes @generated/codes.json with careledger.abi: contracts/common/
// CareTypes.sol, Roles.sol, ClaimTypes.sol, IProvenanceRegistry.sol); only the words shown to
// people are written here, keyed by the contracts' names (tests/frontend/test_codes.py checks
// every name has one).
import codes from '@generated/codes.json';

/** [name, value] of a generated code table in value order, without its COUNT/ALL/MAX bounds. */
function entries(table) {
  return Object.entries(codes.tables[table])
    .filter(([name]) => !['COUNT', 'ALL', 'MAX'].includes(name))
    .sort(([, a], [, b]) => a - b);
}

/** A bit-index table as [name, label] by bit index, from the generated values. */
function indexTable(table, labels) {
  const out = [];
  for (const [name, value] of entries(table)) out[value] = [name, labels[name] || name];
  return out;
}

export const CATEGORY_LABELS = {
  PATIENT: 'Demographics', ENCOUNTER: 'Visits', CONDITION: 'Conditions', OBSERVATION: 'Vitals & lab results',
  MEDICATION: 'Medications', IMMUNIZATION: 'Immunizations', ALLERGY: 'Allergies', PROCEDURE: 'Procedures',
  DIAGNOSTIC_REPORT: 'Diagnostic reports', DOCUMENT: 'Clinical notes', IMAGING: 'Imaging',
  FINANCIAL: 'Claims & billing', MENTAL_HEALTH: 'Mental health', GENOMIC: 'Genomic data',
  SUBSTANCE_USE: 'Substance use (42 CFR Part 2)',
};
export const PURPOSE_LABELS = {
  TREAT: 'Treatment', HPAYMT: 'Payment', HOPERAT: 'Operations', HRESCH: 'Research',
  PUBHLTH: 'Public health', ETREAT: 'Emergency treatment', BTG: 'Break the glass',
};
export const CATEGORIES = indexTable('Category', CATEGORY_LABELS);
export const PURPOSES = indexTable('Purpose', PURPOSE_LABELS);
// TREAT..PUBHLTH: ETREAT and the purposes after it are break-glass only.
export const GRANTABLE_PURPOSES = codes.tables.Purpose.ETREAT;

/** Member names of a contract enum, in value order (ClaimStatus, Decision, BatchStatus, Verdict). */
export const enumNames = (name) => codes.enums[name];
/** The value of member `member` of contract enum `name`. */
export function enumValue(name, member) {
  const i = codes.enums[name].indexOf(member);
  if (i < 0) throw new Error(`${name} has no member ${member}`);
  return i;
}

export function names(mask, table) {
  const out = table.filter((_, i) => Number(mask) & (1 << i)).map(([, label]) => label);
  return out.length ? out.join(', ') : '—';
}

export function maskOf(indexes) {
  return indexes.reduce((m, i) => m | (1 << Number(i)), 0);
}

// contracts/common/Roles.sol bit flags, from the build.
const ROLES = entries('Roles');

export function roleNames(bits) {
  const out = ROLES.filter(([, flag]) => Number(bits) & flag).map(([name]) => name.toLowerCase());
  return out.length ? out.join(', ') : '—';
}
