// The identifiers the ProvenanceRegistry derives (unitIdOf, batchIdOf), mirrored byte for byte.
// Only viem: no page state, so Node runs it against the shared vectors of tests/data/id_vectors.json
// (frontend/tests/ids.test.mjs) as the contracts and the Python SDK do.
import { encodeAbiParameters, keccak256, pad, stringToHex } from 'viem';

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
