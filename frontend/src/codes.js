// Names of the code tables of contracts/common/CareTypes.sol (bit indexes), for display.
// The order is the bit index; the test suite checks it against careledger.codes.
export const CATEGORIES = [
  ['PATIENT', 'Demographics'], ['ENCOUNTER', 'Visits'], ['CONDITION', 'Conditions'], ['OBSERVATION', 'Vitals & lab results'],
  ['MEDICATION', 'Medications'], ['IMMUNIZATION', 'Immunizations'], ['ALLERGY', 'Allergies'], ['PROCEDURE', 'Procedures'],
  ['DIAGNOSTIC_REPORT', 'Diagnostic reports'], ['DOCUMENT', 'Clinical notes'], ['IMAGING', 'Imaging'],
  ['FINANCIAL', 'Claims & billing'], ['MENTAL_HEALTH', 'Mental health'], ['GENOMIC', 'Genomic data'],
  ['SUBSTANCE_USE', 'Substance use (42 CFR Part 2)'],
];
export const PURPOSES = [
  ['TREAT', 'Treatment'], ['HPAYMT', 'Payment'], ['HOPERAT', 'Operations'], ['HRESCH', 'Research'],
  ['PUBHLTH', 'Public health'], ['ETREAT', 'Emergency treatment'], ['BTG', 'Break the glass'],
];
export const GRANTABLE_PURPOSES = 5; // TREAT..PUBHLTH; ETREAT and BTG are break-glass only

export function names(mask, table) {
  const out = table.filter((_, i) => Number(mask) & (1 << i)).map(([, label]) => label);
  return out.length ? out.join(', ') : '—';
}

export function maskOf(indexes) {
  return indexes.reduce((m, i) => m | (1 << Number(i)), 0);
}

// contracts/common/Roles.sol bit flags, in bit order.
const ROLE_BITS = ['provider', 'insurer', 'manufacturer', 'distributor', 'pharmacy', 'regulator', 'relayer'];

export function roleNames(bits) {
  const out = ROLE_BITS.filter((_, i) => Number(bits) & (1 << i));
  return out.length ? out.join(', ') : '—';
}
