"""The off-chain encrypted record store: per-record keys, salted commitments, crypto-shredding."""

from __future__ import annotations

import json

import pytest

from careledger.consent.records import RecordStore, commitment_of
from careledger.errors import InvalidInput, NotVerified

LAB_RESULT = b"Jane Q. Doe, DOB 1984-03-12: HbA1c 6.1 %"


def test_store_encrypts_and_reads_back(tmp_path):
    store = RecordStore(tmp_path)
    ref = store.store(LAB_RESULT)
    assert store.read(ref.record_id) == LAB_RESULT
    blob = (tmp_path / "records" / f"{ref.record_id}.bin").read_bytes()
    assert b"Jane" not in blob
    assert b"HbA1c" not in blob
    salt = bytes.fromhex(json.loads((tmp_path / "keys.json").read_text())[ref.record_id]["salt"])
    assert ref.commitment == commitment_of(salt, LAB_RESULT)


def test_same_content_gets_unlinkable_commitments_and_keys(tmp_path):
    store = RecordStore(tmp_path)
    a, b = store.store(LAB_RESULT), store.store(LAB_RESULT)
    assert a.commitment != b.commitment
    assert a.record_id != b.record_id
    keys = json.loads((tmp_path / "keys.json").read_text())
    assert keys[a.record_id]["key"] != keys[b.record_id]["key"]


def test_erase_destroys_key_and_salt_and_leaves_tombstone(tmp_path):
    store = RecordStore(tmp_path)
    ref, other = store.store(LAB_RESULT), store.store(b"another record")
    out = store.erase(ref.record_id)
    assert out["commitment"] == "0x" + ref.commitment.hex()
    keys_text = (tmp_path / "keys.json").read_text()
    assert ref.record_id not in keys_text
    with pytest.raises(NotVerified, match="erased"):
        store.read(ref.record_id)
    assert store.info(ref.record_id)["status"] == "erased"
    assert store.find(ref.commitment) == {"recordId": ref.record_id, "status": "erased", "erasedAt": out["erasedAt"]}
    assert store.read(other.record_id) == b"another record"  # other records unaffected


def test_erase_twice_or_unknown_refused(tmp_path):
    store = RecordStore(tmp_path)
    ref = store.store(LAB_RESULT)
    store.erase(ref.record_id)
    with pytest.raises(InvalidInput, match="already erased"):
        store.erase(ref.record_id)
    with pytest.raises(InvalidInput, match="no record"):
        store.erase("ab" * 16)
    with pytest.raises(InvalidInput, match="not a hex id"):
        store.erase("../keys")


def test_tampered_ciphertext_refused(tmp_path):
    store = RecordStore(tmp_path)
    ref = store.store(LAB_RESULT)
    path = tmp_path / "records" / f"{ref.record_id}.bin"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(NotVerified, match="tampered"):
        store.read(ref.record_id)


def test_find_unknown_commitment_links_to_nothing(tmp_path):
    assert RecordStore(tmp_path).find(b"\x01" * 32) is None
