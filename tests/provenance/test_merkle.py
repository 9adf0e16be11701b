"""Merkle trees: the SDK's roots and proofs equal @openzeppelin/merkle-tree's, run under Node."""

from __future__ import annotations

import json
import subprocess

import pytest

from careledger._paths import project_root
from careledger.errors import InvalidInput
from careledger.provenance.ids import leaf_hash, serial_to_bytes32
from careledger.provenance.merkle import MerkleTree, process_proof, standard_leaf
from careledger.provenance.store import ProvenanceStore, build_batch, read_serials

GTIN = 9506000134352

NODE = """
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const tree = StandardMerkleTree.of(input.values, ['uint256', 'bytes32']);
const loaded = StandardMerkleTree.load(input.dump);
const proofs = input.probe.map(i => tree.getProof(input.values[i]));
const verified = input.probe.map((i, k) => StandardMerkleTree.verify(tree.root, ['uint256', 'bytes32'],
  input.values[i], input.sdkProofs[k]));
process.stdout.write(JSON.stringify({ root: tree.root, loadedRoot: loaded.root, proofs, verified,
  loadedOk: (loaded.validate(), true) }));
"""


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000])
def test_root_and_proofs_match_openzeppelin_js(n):
    serials = [f"SN{i:06d}" for i in range(n)]
    values = [[str(GTIN), "0x" + serial_to_bytes32(s).hex()] for s in serials]
    tree = MerkleTree.of([[GTIN, serial_to_bytes32(s)] for s in serials], ["uint256", "bytes32"])
    probe = sorted({0, n // 2, n - 1})
    sdk_proofs = [["0x" + p.hex() for p in tree.proof(leaf_hash(GTIN, serials[i]))] for i in probe]
    dump = tree.dump(["uint256", "bytes32"], [[GTIN, serial_to_bytes32(s)] for s in serials])
    payload = json.dumps({"values": values, "probe": probe, "sdkProofs": sdk_proofs, "dump": dump})
    out = subprocess.run(
        ["node", "-e", NODE], input=payload, capture_output=True, text=True, check=True, cwd=project_root(), timeout=60
    )
    js = json.loads(out.stdout)
    assert js["root"] == "0x" + tree.root.hex()
    assert js["loadedRoot"] == js["root"]
    assert js["proofs"] == sdk_proofs
    assert js["verified"] == [True] * len(probe)


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
    proof = store.proof_only(GTIN, "LOT-S", "X7")
    assert proof is not None
    assert process_proof(leaf_hash(GTIN, "X7"), proof) == batch.root
    assert store.proof_only(GTIN, "LOT-S", "NOPE") == []
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
