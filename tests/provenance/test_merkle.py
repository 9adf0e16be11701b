"""Merkle trees: the SDK's roots and proofs equal @openzeppelin/merkle-tree's, run under Node."""

from __future__ import annotations

import json
import subprocess

import pytest

from careledger._paths import project_root
from careledger.errors import InvalidInput
from careledger.provenance.ids import leaf_hash, serial_to_bytes32
from careledger.provenance.merkle import MerkleTree, depth_for, process_proof, standard_leaf
from careledger.provenance.store import ProvenanceStore, build_batch, read_serials

GTIN = 9506000134352

NODE = """
// Independent rebuild of the positional serial tree in Node: leaves from @openzeppelin/merkle-tree's
// own StandardMerkleTree leaf hash of (uint256 gtin, bytes32 serial), inner nodes keccak256(left || right)
// with OpenZeppelin's keccak256, padding positions zero, proofs checked the way the registry does.
const { standardLeafHash, keccak256 } = require('@openzeppelin/merkle-tree/dist/hashes');
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const { concat } = require('@openzeppelin/merkle-tree/dist/bytes');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const leaves = input.values.map(v => standardLeafHash(['uint256', 'bytes32'], v));
const n = leaves.length;
let width = 1; while (width < n) width *= 2;
const zero = '0x' + '00'.repeat(32);
let level = leaves.concat(Array(width - n).fill(zero));
const levels = [level];
while (level.length > 1) {
  const up = [];
  for (let i = 0; i < level.length; i += 2) up.push(keccak256(concat([level[i], level[i + 1]])));
  levels.push(up); level = up;
}
const root = level[0];
const proofs = input.probe.map(i => {
  const p = []; let j = i;
  for (let d = 0; d < levels.length - 1; d++) { p.push(levels[d][j ^ 1]); j >>= 1; }
  return p;
});
const verify = (leaf, i, proof) => {
  if (i >= n || proof.length !== levels.length - 1) return false;
  let node = leaf;
  for (const s of proof) {
    node = (i & 1) === 0 ? keccak256(concat([node, s])) : keccak256(concat([s, node]));
    i >>= 1;
  }
  return node === root;
};
const verified = input.probe.map((i, k) => verify(leaves[i], i, input.sdkProofs[k]));
// The same leaves, as OpenZeppelin's own (sorted-pair) StandardMerkleTree: a different root.
const sorted = StandardMerkleTree.of(input.values, ['uint256', 'bytes32']).root;
// A padding position or a short proof never verifies.
const padding = n < width ? verify(leaves[0], n, proofs[0]) : false;
process.stdout.write(JSON.stringify({ root, proofs, verified, sorted, padding }));
"""


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000])
def test_root_and_proofs_match_an_independent_node_build(n):
    serials = [f"SN{i:06d}" for i in range(n)]
    values = [[str(GTIN), "0x" + serial_to_bytes32(s).hex()] for s in serials]
    tree = MerkleTree.of([[GTIN, serial_to_bytes32(s)] for s in serials], ["uint256", "bytes32"])
    probe = sorted({0, n // 2, n - 1})
    sdk_proofs = [["0x" + p.hex() for p in tree.proof(leaf_hash(GTIN, serials[i]))[1]] for i in probe]
    payload = json.dumps({"values": values, "probe": probe, "sdkProofs": sdk_proofs})
    out = subprocess.run(
        ["node", "-e", NODE], input=payload, capture_output=True, text=True, check=True, cwd=project_root(), timeout=60
    )
    js = json.loads(out.stdout)
    assert js["root"] == "0x" + tree.root.hex()
    assert js["proofs"] == sdk_proofs
    assert js["verified"] == [True] * len(probe)
    assert js["padding"] is False
    if n >= 64:
        assert js["sorted"] != js["root"]  # positional, not OpenZeppelin's sorted-pair layout
    assert [tree.proof(leaf_hash(GTIN, serials[i]))[0] for i in probe] == probe  # position = list order
    for i in probe:
        assert process_proof(leaf_hash(GTIN, serials[i]), i, tree.proof_at(i)) == tree.root


def test_depth_is_ceil_log2():
    assert [depth_for(n) for n in (1, 2, 3, 4, 5, 8, 9, 100_000, 131_072, 131_073)] == [0, 1, 2, 2, 3, 3, 4, 17, 17, 18]
    with pytest.raises(InvalidInput):
        depth_for(0)


def test_leaf_is_double_hash_of_abi_encoding():
    assert leaf_hash(GTIN, "S1") == standard_leaf(["uint256", "bytes32"], [GTIN, serial_to_bytes32("S1")])


def test_proof_of_absent_leaf_refused_and_duplicates_refused():
    tree = MerkleTree.from_leaves([leaf_hash(GTIN, "A"), leaf_hash(GTIN, "B")])
    with pytest.raises(InvalidInput, match="not in this tree"):
        tree.proof(leaf_hash(GTIN, "C"))
    with pytest.raises(InvalidInput, match="duplicate leaf"):
        MerkleTree.from_leaves([leaf_hash(GTIN, "A"), leaf_hash(GTIN, "A")])


def test_tree_file_round_trip_and_store(tmp_path):
    batch = build_batch(GTIN, "LOT-S", 301231, [f"X{i}" for i in range(50)])
    store = ProvenanceStore(tmp_path)
    store.save(batch)
    found = store.proof_only(GTIN, "LOT-S", "X7")
    assert found is not None
    index, proof = found
    assert index == 7
    assert process_proof(leaf_hash(GTIN, "X7"), index, proof) == batch.root
    assert MerkleTree.load(store.folder / f"0x{batch.batch_id.hex()}.tree").leaf_count == 50
    assert store.proof_only(GTIN, "LOT-S", "NOPE") == (0, [])
    assert store.proof_only(GTIN, "OTHER", "X7") is None
    assert store.find(GTIN, "LOT-S").serials == batch.serials
    assert store.duplicates(GTIN, ["X3", "Y"]) == ["X3"]
    assert store.duplicates(GTIN, ["X3"], exclude=batch.batch_id) == []


def test_read_serials_lines_and_csv(tmp_path):
    lines = tmp_path / "s.txt"
    lines.write_text("# serials\nA1\n\nA2\n")
    assert read_serials(lines) == ["A1", "A2"]
    csv = tmp_path / "s.csv"
    csv.write_text("gtin,serial\n09506000134352,B1\n09506000134352,B2\n")
    assert read_serials(csv) == ["B1", "B2"]
    bad = tmp_path / "bad.txt"
    bad.write_text("A1\nA1\n")
    with pytest.raises(InvalidInput, match="appears twice"):
        read_serials(bad)
    bad.write_text("A" * 21 + "\n")
    with pytest.raises(InvalidInput, match="21 characters"):
        read_serials(bad)
