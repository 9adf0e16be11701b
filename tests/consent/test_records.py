"""The off-chain encrypted record store: per-record keys, salted commitments, crypto-shredding."""

from __future__ import annotations

import json

import pytest

from careledger.consent.records import KeyFile, RecordStore, commitment_of
from careledger.errors import InvalidInput, NotVerified

LAB_RESULT = b"Jane Q. Doe, DOB 1984-03-12: HbA1c 6.1 %"
PASS = "correct horse battery staple"


def _store(tmp_path):
    return RecordStore(tmp_path / "data", passphrase=PASS)


def _keys(tmp_path) -> dict:
    return KeyFile(tmp_path / "data.keys", PASS).load()


def test_store_encrypts_and_reads_back(tmp_path):
    store = _store(tmp_path)
    ref = store.store(LAB_RESULT)
    assert store.read(ref.record_id) == LAB_RESULT
    blob = (tmp_path / "data" / "records" / f"{ref.record_id}.bin").read_bytes()
    assert b"Jane" not in blob
    assert b"HbA1c" not in blob
    salt = bytes.fromhex(_keys(tmp_path)[ref.record_id]["salt"])
    assert ref.commitment == commitment_of(salt, LAB_RESULT)


def test_same_content_gets_unlinkable_commitments_and_keys(tmp_path):
    store = _store(tmp_path)
    a, b = store.store(LAB_RESULT), store.store(LAB_RESULT)
    assert a.commitment != b.commitment
    assert a.record_id != b.record_id
    keys = _keys(tmp_path)
    assert keys[a.record_id]["key"] != keys[b.record_id]["key"]


def test_erase_destroys_key_and_salt_and_leaves_tombstone(tmp_path):
    store = _store(tmp_path)
    ref, other = store.store(LAB_RESULT), store.store(b"another record")
    out = store.erase(ref.record_id)
    assert out["commitment"] == "0x" + ref.commitment.hex()
    assert ref.record_id not in _keys(tmp_path)
    with pytest.raises(NotVerified, match="erased"):
        store.read(ref.record_id)
    assert store.info(ref.record_id)["status"] == "erased"
    assert store.find(ref.commitment) == {"recordId": ref.record_id, "status": "erased", "erasedAt": out["erasedAt"]}
    assert store.read(other.record_id) == b"another record"  # other records unaffected


def test_erase_twice_or_unknown_refused(tmp_path):
    store = _store(tmp_path)
    ref = store.store(LAB_RESULT)
    store.erase(ref.record_id)
    with pytest.raises(InvalidInput, match="already erased"):
        store.erase(ref.record_id)
    with pytest.raises(InvalidInput, match="no record"):
        store.erase("ab" * 16)
    with pytest.raises(InvalidInput, match="not a hex id"):
        store.erase("../keys")


def test_tampered_ciphertext_refused(tmp_path):
    store = _store(tmp_path)
    ref = store.store(LAB_RESULT)
    path = tmp_path / "data" / "records" / f"{ref.record_id}.bin"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(NotVerified, match="tampered"):
        store.read(ref.record_id)


def test_find_unknown_commitment_links_to_nothing(tmp_path):
    assert _store(tmp_path).find(b"\x01" * 32) is None


def test_keys_are_not_in_the_data_folder_and_are_sealed(tmp_path):
    """v1 kept every key in a plaintext keys.json beside the ciphertext: a backup of the folder
    kept them. v2 seals them in a key file outside the folder, under a passphrase-derived key."""
    store = _store(tmp_path)
    ref = store.store(LAB_RESULT)
    data_files = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    key = bytes.fromhex(_keys(tmp_path)[ref.record_id]["key"])
    assert key not in data_files and key.hex().encode() not in data_files
    sealed = (tmp_path / "data.keys").read_bytes()
    assert key.hex().encode() not in sealed and ref.record_id.encode() not in sealed
    assert json.loads(sealed)["kdf"]["name"] == "scrypt"
    with pytest.raises(NotVerified, match="wrong passphrase"):
        RecordStore(tmp_path / "data", passphrase="guess").read(ref.record_id)
    with pytest.raises(InvalidInput, match="passphrase"):
        RecordStore(tmp_path / "data", passphrase="")
    with pytest.raises(InvalidInput, match="inside the data folder"):
        RecordStore(tmp_path / "data", passphrase=PASS, keys=tmp_path / "data" / "k.keys")


def test_first_version_plaintext_keys_are_sealed_on_first_use(tmp_path):
    folder = tmp_path / "data"
    (folder / "records").mkdir(parents=True)
    old = _store(tmp_path / "old")
    ref = old.store(LAB_RESULT)
    # rebuild a v1 folder: the blob and a plaintext keys.json beside it
    (folder / "records" / f"{ref.record_id}.bin").write_bytes(
        (tmp_path / "old" / "data" / "records" / f"{ref.record_id}.bin").read_bytes()
    )
    (folder / "keys.json").write_text(json.dumps(KeyFile(tmp_path / "old" / "data.keys", PASS).load()))
    store = RecordStore(folder, passphrase=PASS)
    assert not (folder / "keys.json").exists()
    assert store.read(ref.record_id) == LAB_RESULT
