// Drug provenance for the pharmacy view: ids as the registry derives them, one unit's Merkle
// proof from the web server for a signed request (never a whole serial tree), one verify() call
// for the verdict, the unit's custody timeline and parcel rebuilt from events.
import typed from '@generated/eip712.json';
import { decodeEventLog, zeroAddress } from 'viem';
import { config, contract, has, network, publicClient, read, who, write, UserError } from './chain.js';
import { enumNames, enumValue } from './codes.js';
import { asBytes32, batchIdOf, bytes32Text, unitIdOf } from './ids.js';

const REGISTRY = 'ProvenanceRegistry';
// IProvenanceRegistry.Verdict (order from the build: @generated/codes.json), as DSCSA
// Verification Router words.
const DSCSA_WORDS = {
  Verified: 'Verified', NoMatchGtinSerial: 'No_match_GTIN_Serial', NoMatchLot: 'No_match_Lot',
  NoMatchExpiry: 'No_match_Expiry', Recalled: 'Recalled', Expired: 'Expired', Suspect: 'Suspect',
  Dispensed: 'Dispensed', UnknownBatch: 'Unknown_batch', Voided: 'Voided',
};
export const VERDICTS = enumNames('Verdict').map((name) => DSCSA_WORDS[name] || name);

export function available() {
  return has(REGISTRY) ? null : 'Drug provenance is not deployed on this chain yet (no ProvenanceRegistry in the deployments file): scans are parsed but cannot be verified.';
}

export { asBytes32, batchIdOf, bytes32Text, unitIdOf };

// ------------------------------------------------------------------ proofs

// The web server answers one unit's proof to a trading partner's signed request (frontend/
// proof-service.mjs); it never hands out a batch's whole serial tree. Domain and types are the
// SDK's (careledger/provenance/proofs.py, written to @generated/eip712.json by generate.py).
const PROOF = typed.proof;
const PROOF_DEADLINE_S = 120n;

/** {index, proof, known, missing}: the unit's position and proof, signed for by `signer`. */
async function proofFor(unit, signer) {
  if (!signer) return { index: 0, proof: [], known: false, missing: 'Sign in as a trading partner to fetch the unit\'s proof.' };
  const latest = await publicClient.getBlock();
  const nonce = BigInt(`0x${[...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('')}`);
  const message = {
    pharmacy: signer.address, gtin: BigInt(unit.gtin), lot: asBytes32(unit.lot), serial: asBytes32(unit.serial),
    nonce, deadline: latest.timestamp + PROOF_DEADLINE_S,
  };
  const signature = await signer.wallet.signTypedData({
    account: signer.account,
    domain: { name: PROOF.name, version: PROOF.version, chainId: network.chainId, verifyingContract: contract(REGISTRY).address },
    types: PROOF.types, primaryType: 'ProofRequest', message,
  });
  const request = Object.fromEntries(Object.entries(message).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
  let resp;
  try {
    resp = await fetch(config.proofsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ request, signature }) });
  } catch {
    throw new UserError(`The proof service at ${config.proofsUrl} does not answer.`);
  }
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 404) return { index: 0, proof: [], known: false, missing: body.error || 'no serial list here' };
  if (!resp.ok) throw new UserError(`The proof service refused: ${body.error || resp.status}.`);
  return body.known ? { index: body.index, proof: body.proof, known: true } : { index: 0, proof: [], known: true };
}

// ------------------------------------------------------------------ verify, custody, dispense

/** One scan -> {verdict, dispensedBy, batchId, index, proof, reason?}: the proof from the server,
 *  then a single eth_call (whose answer does not depend on who asks). */
export async function verify(unit, signer) {
  const c = contract(REGISTRY);
  const batchId = batchIdOf(unit.gtin, unit.lot);
  const { index, proof, known, missing } = await proofFor(unit, signer);
  const [code, by] = await publicClient.readContract({
    ...c, functionName: 'verify',
    args: [BigInt(unit.gtin), asBytes32(unit.lot), Number(unit.expiry), asBytes32(unit.serial), index, proof],
  });
  let verdict = VERDICTS[code] || `verdict ${code}`;
  let reason = null;
  if (verdict === 'No_match_GTIN_Serial' && !known) {
    // The batch exists but its serial list is not here: say so instead of "fake".
    const batch = await read(REGISTRY, 'batchInfo', [batchId]);
    if (batch.status !== enumValue('BatchStatus', 'None')) {
      verdict = 'Unverifiable';
      reason = `The serial list of batch ${batchId.slice(0, 10)}… is not available here (${missing}); ask the supplier for it.`;
    }
  }
  return { verdict, dispensedBy: by === zeroAddress ? null : by, batchId, index, proof, unitId: unitIdOf(unit.gtin, unit.serial), reason };
}

/** The parcels of the batch (rebuilt from its events): start -> {holder, end, to}. */
function parcelsFrom(logs) {
  const parcels = new Map();
  for (const { eventName, args } of logs) {
    if (eventName === 'BatchCommissioned') parcels.set(0, { holder: args.manufacturer, end: Number(args.quantity), to: null });
    if (eventName === 'ShipmentSent') {
      const start = Number(args.start); const p = parcels.get(start); const cut = start + Number(args.quantity);
      if (p && cut < p.end) parcels.set(cut, { holder: p.holder, end: p.end, to: null });
      parcels.set(start, { holder: args.from, end: cut, to: args.to });
    }
    if (eventName === 'ParcelSplit') {
      const p = parcels.get(Number(args.start));
      if (p) { parcels.set(Number(args.at), { ...p, to: null }); p.end = Number(args.at); }
    }
    if (eventName === 'ShipmentAccepted') parcels.set(Number(args.start), { ...parcels.get(Number(args.start)), holder: args.to, to: null });
    if (eventName === 'ShipmentRejected' || eventName === 'ShipmentCancelled') {
      const p = parcels.get(Number(args.start)); if (p) p.to = null;
    }
  }
  return parcels;
}

/** The parcel that holds serial position `index`: {start, holder, end, to} or null. */
function parcelAt(parcels, index) {
  let best = null;
  for (const [start, p] of parcels) if (start <= index && index < p.end) best = { start, ...p };
  return best;
}

const STEPS = {
  BatchCommissioned: (a) => ['Commissioning', `${who(a.manufacturer)} commissioned ${a.quantity} units of lot ${bytes32Text(a.lot)}, expiry ${a.expiry}`],
  ShipmentSent: (a) => ['Shipping', `${who(a.from)} shipped ${a.quantity} units (positions ${a.start}–${a.start + a.quantity - 1}) to ${who(a.to)}`],
  ShipmentAccepted: (a) => ['Receiving', `${who(a.to)} received ${a.quantity} units from ${who(a.from)}`],
  ShipmentRejected: (a) => ['Returning', `${who(a.to)} rejected ${a.quantity} units; back with ${who(a.from)} (${bytes32Text(a.reasonCode)})`],
  ShipmentCancelled: (a) => ['Returning', `${who(a.from)} called back ${a.quantity} units sent to ${who(a.to)} (${bytes32Text(a.reasonCode)})`],
  UnitDispensed: (a) => ['Dispensing', `${who(a.pharmacy)} dispensed this unit`],
  BatchQuarantined: (a) => ['Quarantine', `${who(a.by)} quarantined the batch as suspect (${bytes32Text(a.reasonCode)})`],
  QuarantineLifted: (a) => ['Release', `${who(a.by)} lifted the quarantine (${bytes32Text(a.reasonCode)})`],
  BatchRecalled: (a) => ['Recall', `${who(a.by)} recalled the batch (${bytes32Text(a.reasonCode)})`],
  BatchVoided: (a) => ['Void', `${who(a.by)} voided the batch: its commissioning is annulled (${bytes32Text(a.reasonCode)})`],
};
const MOVES = new Set(['ShipmentSent', 'ShipmentAccepted', 'ShipmentRejected', 'ShipmentCancelled']);

/** The custody timeline of the unit: batch events plus this unit's dispense, oldest first. */
export async function custody(result) {
  const c = contract(REGISTRY);
  const range = { address: c.address, fromBlock: `0x${c.block.toString(16)}`, toBlock: 'latest' };
  const [batchLogs, unitLogs] = await Promise.all([
    publicClient.request({ method: 'eth_getLogs', params: [{ ...range, topics: [null, result.batchId] }] }),
    publicClient.request({ method: 'eth_getLogs', params: [{ ...range, topics: [null, result.unitId] }] }),
  ]);
  const all = [...batchLogs, ...unitLogs].map((log) => {
    try { return { ...log, ...decodeEventLog({ abi: c.abi, data: log.data, topics: log.topics }) }; } catch { return null; }
  }).filter(Boolean);
  all.sort((a, b) => Number(BigInt(a.blockNumber) - BigInt(b.blockNumber)) || Number(BigInt(a.logIndex) - BigInt(b.logIndex)));
  const parcel = parcelAt(parcelsFrom(all), result.index);
  // The unit's own chain of custody: only the shipments whose positions contain it.
  const inRange = (a) => !result.proof.length || (result.index >= Number(a.start) && result.index < Number(a.start) + Number(a.quantity));
  const logs = all.filter((l) => STEPS[l.eventName] && (!MOVES.has(l.eventName) || inRange(l.args)));
  const times = new Map();
  const steps = await Promise.all(logs.map(async (l) => {
    if (!times.has(l.blockNumber)) times.set(l.blockNumber, publicClient.getBlock({ blockNumber: BigInt(l.blockNumber) }));
    const [step, text] = STEPS[l.eventName](l.args);
    return { step, text, block: Number(BigInt(l.blockNumber)), time: (await times.get(l.blockNumber)).timestamp };
  }));
  return { steps, parcel };
}

export function dispense(signer, unit, result, parcel) {
  return write(signer, REGISTRY, 'dispense',
    [BigInt(unit.gtin), asBytes32(unit.lot), asBytes32(unit.serial), result.index, parcel.start, result.proof]);
}
