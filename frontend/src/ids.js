// Identifiers derived as the contracts and the SDK derive them, byte for byte: the
// ProvenanceRegistry's unitIdOf and batchIdOf, and a person's pairwise pseudonym path
// (careledger.accounts.pairwise_path).
// Only viem: no page state, so Node runs it against the shared vectors of tests/data/id_vectors.json
// (frontend/tests/ids.test.mjs) as the contracts and the Python SDK do.
import { concat, encodeAbiParameters, getAddress, hexToBytes, keccak256, pad, stringToBytes, stringToHex } from 'viem';

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
  return pad(`0x${(h >> 200n).toString(16)}`, { size: 32 });
}

/**
 * The BIP-32 path of a person's pairwise pseudonym for `counterparty` (an organisation or study
 * address), exactly as careledger.accounts.pairwise_path: m/44'/60'/{identity}'/a'/b'/c'/d', the
 * four 31-bit words of the first 124 bits of keccak256("careledger.pairwise.v1" || counterparty).
 */
export function pairwisePath(counterparty, identity) {
  const digest = BigInt(keccak256(concat([stringToBytes('careledger.pairwise.v1'), hexToBytes(getAddress(counterparty))])));
  const top = (digest >> 128n) >> 4n;
  const words = [3n, 2n, 1n, 0n].map((i) => (top >> (31n * i)) & 0x7fffffffn);
  return `m/44'/60'/${identity}'/${words.map((w) => `${w}'`).join('/')}`;
}
