// Drug provenance for the pharmacy view: ids as the registry derives them, Merkle proofs from
// the batch's serial tree (StandardMerkleTree dump the manufacturer shares with its trading
// partners), one verify() call for the verdict, the custody timeline rebuilt from events.
import { bytesToHex, decodeEventLog, encodeAbiParameters, keccak256, pad, stringToHex, zeroAddress } from 'viem';
import { config, contract, has, publicClient, read, who, write, UserError } from './chain.js';

const REGISTRY = 'ProvenanceRegistry';
// IProvenanceRegistry.Verdict, in enum order, as DSCSA Verification Router words.
export const VERDICTS = ['Verified', 'No_match_GTIN_Serial', 'No_match_Lot', 'No_match_Expiry', 'Recalled',
  'Expired', 'Suspect', 'Dispensed', 'Unknown_batch'];

export function available() {
  return has(REGISTRY) ? null : 'Drug provenance is not deployed on this chain yet (no ProvenanceRegistry in the deployments file): scans are parsed but cannot be verified.';
}

/** ASCII value left-aligned in bytes32, as the registry stores lot and serial. */
export const asBytes32 = (text) => stringToHex(text, { size: 32 });
export const bytes32Text = (hex) => {
  const bytes = hex.slice(2).match(/../g).map((b) => parseInt(b, 16)).filter(Boolean);
  return String.fromCharCode(...bytes);
};

export function unitIdOf(gtin, serial) {
  return keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [BigInt(gtin), asBytes32(serial)]));
}

export function batchIdOf(gtin, lot) {
  const h = BigInt(keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [BigInt(gtin), asBytes32(lot)])));
  return pad(`0x${(h >> 160n).toString(16)}`, { size: 32 });
}

// ------------------------------------------------------------------ proofs

const trees = new Map(); // batchId -> Promise<{nodes: string[], leafCount} | null>

/**
 * The serial tree of a batch, fetched once per page from `<trees>/<batchId>.tree`: the file the
 * provenance SDK keeps per batch (careledger.provenance.store, `.careledger/provenance/`, served
 * read-only by the web server under /trees/): every node of the
 * OpenZeppelin StandardMerkleTree array, 32 bytes each, leaves sorted ascending at the end.
 */
function loadTree(batchId) {
  if (!trees.has(batchId)) {
    trees.set(batchId, (async () => {
      const url = `${config.treesUrl}/${batchId}.tree`;
      let resp;
      try { resp = await fetch(url); } catch { return null; }
      if (!resp.ok) return null;
      const bytes = new Uint8Array(await resp.arrayBuffer());
      if (!bytes.length || bytes.length % 32) throw new UserError(`The serial list at ${url} is not a tree file (${bytes.length} bytes).`);
      const nodes = [];
      for (let i = 0; i < bytes.length; i += 32) nodes.push(bytesToHex(bytes.subarray(i, i + 32)));
      return { nodes, leafCount: (nodes.length + 1) / 2 };
    })().catch((e) => { trees.delete(batchId); throw e; }));
  }
  return trees.get(batchId);
}

/** Array index of `leaf` by binary search over the sorted leaves (nodes[-1] is the smallest). */
function treeIndex({ nodes, leafCount }, leaf) {
  let lo = 0; let hi = leafCount;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (nodes[nodes.length - 1 - mid] < leaf) lo = mid + 1; else hi = mid;
  }
  return lo < leafCount && nodes[nodes.length - 1 - lo] === leaf ? nodes.length - 1 - lo : -1;
}

/** Sibling hashes from the leaf up to the root (OpenZeppelin's getProof on the array). */
function proofFrom(nodes, i) {
  const proof = [];
  while (i > 0) {
    proof.push(nodes[i % 2 === 0 ? i - 1 : i + 1]);
    i = Math.floor((i - 1) / 2);
  }
  return proof;
}

/** {proof, known}: known=false when this pharmacy has no serial list for the batch. */
async function proofFor(batchId, unit) {
  const t = await loadTree(batchId);
  if (!t) return { proof: [], known: false };
  // StandardMerkleTree leaf of (uint256 gtin, bytes32 serial): keccak256(keccak256(abi.encode(..))) = keccak256(unitId).
  const leaf = keccak256(unitIdOf(unit.gtin, unit.serial));
  const i = treeIndex(t, leaf);
  return { proof: i < 0 ? [] : proofFrom(t.nodes, i), known: true };
}

// ------------------------------------------------------------------ verify, custody, dispense

/** One scan -> {verdict, holder, batchId, proof, reason?} with a single eth_call. */
export async function verify(unit, account) {
  const c = contract(REGISTRY);
  const batchId = batchIdOf(unit.gtin, unit.lot);
  const { proof, known } = await proofFor(batchId, unit);
  const [code, holder] = await publicClient.readContract({
    ...c, functionName: 'verify', account,
    args: [BigInt(unit.gtin), asBytes32(unit.lot), Number(unit.expiry), asBytes32(unit.serial), proof],
  });
  let verdict = VERDICTS[code] || `verdict ${code}`;
  let reason = null;
  if (verdict === 'No_match_GTIN_Serial' && !known) {
    // The batch exists but this pharmacy has no serial list for it: say so instead of "fake".
    const batch = await read(REGISTRY, 'batchInfo', [batchId]);
    if (batch.manufacturer !== zeroAddress) {
      verdict = 'Unverifiable';
      reason = `The serial list of batch ${batchId.slice(0, 10)}… is not available here (${config.treesUrl}); ask the supplier for it.`;
    }
  }
  return { verdict, holder: holder === zeroAddress ? null : holder, batchId, proof, unitId: unitIdOf(unit.gtin, unit.serial), reason };
}

/** Who holds units of the batch now (rebuilt from custody events): [{account, held}]. */
function holdersFrom(logs) {
  const held = new Map();
  const add = (a, q) => held.set(a, (held.get(a) || 0n) + BigInt(q));
  for (const { eventName, args } of logs) {
    if (eventName === 'BatchCommissioned') add(args.manufacturer, args.quantity);
    if (eventName === 'ShipmentSent') add(args.from, -BigInt(args.quantity));
    if (eventName === 'ShipmentAccepted') add(args.to, args.quantity);
  }
  return [...held].filter(([, q]) => q > 0n).map(([account, q]) => ({ account, held: q }));
}

const STEPS = {
  BatchCommissioned: (a) => ['Commissioning', `${who(a.manufacturer)} commissioned ${a.quantity} units of lot ${bytes32Text(a.lot)}, expiry ${a.expiry}`],
  ShipmentSent: (a) => ['Shipping', `${who(a.from)} shipped ${a.quantity} units to ${who(a.to)}`],
  ShipmentAccepted: (a) => ['Receiving', `${who(a.to)} received ${a.quantity} units from ${who(a.from)}`],
  ShipmentRejected: (a) => ['Returning', `${who(a.to)} rejected ${a.quantity} units; back with ${who(a.from)} (${bytes32Text(a.reasonCode)})`],
  UnitDispensed: (a) => ['Dispensing', `${who(a.pharmacy)} dispensed this unit`],
  BatchQuarantined: (a) => ['Quarantine', `${who(a.by)} quarantined the batch as suspect (${bytes32Text(a.reasonCode)})`],
  QuarantineLifted: (a) => ['Release', `${who(a.by)} lifted the quarantine (${bytes32Text(a.reasonCode)})`],
  BatchRecalled: (a) => ['Recall', `${who(a.by)} recalled the batch (${bytes32Text(a.reasonCode)})`],
};

/** The custody timeline of the unit: batch events plus this unit's dispense, oldest first. */
export async function custody(result) {
  const c = contract(REGISTRY);
  const range = { address: c.address, fromBlock: `0x${c.block.toString(16)}`, toBlock: 'latest' };
  const [batchLogs, unitLogs] = await Promise.all([
    publicClient.request({ method: 'eth_getLogs', params: [{ ...range, topics: [null, result.batchId] }] }),
    publicClient.request({ method: 'eth_getLogs', params: [{ ...range, topics: [null, result.unitId] }] }),
  ]);
  const logs = [...batchLogs, ...unitLogs].map((log) => {
    try { return { ...log, ...decodeEventLog({ abi: c.abi, data: log.data, topics: log.topics }) }; } catch { return null; }
  }).filter((l) => l && STEPS[l.eventName]);
  logs.sort((a, b) => Number(BigInt(a.blockNumber) - BigInt(b.blockNumber)) || Number(BigInt(a.logIndex) - BigInt(b.logIndex)));
  const times = new Map();
  const steps = await Promise.all(logs.map(async (l) => {
    if (!times.has(l.blockNumber)) times.set(l.blockNumber, publicClient.getBlock({ blockNumber: BigInt(l.blockNumber) }));
    const [step, text] = STEPS[l.eventName](l.args);
    return { step, text, block: Number(BigInt(l.blockNumber)), time: (await times.get(l.blockNumber)).timestamp };
  }));
  return { steps, holders: holdersFrom(logs) };
}

/** Units of the batch `account` holds now (custodyOf). */
export async function heldBy(batchId, account) {
  const cu = await read(REGISTRY, 'custodyOf', [batchId, account]);
  return BigInt(cu.held);
}

export function dispense(signer, unit, result) {
  return write(signer, REGISTRY, 'dispense', [BigInt(unit.gtin), asBytes32(unit.lot), asBytes32(unit.serial), result.proof]);
}
