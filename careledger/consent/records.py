"""Off-chain encrypted record store with crypto-shredding (GDPR Art. 17).

Each record is encrypted with its own AES-256-GCM key; the chain only ever sees a salted
commitment ``keccak256(salt || plaintext)``. :meth:`RecordStore.erase` destroys the key and the
salt and writes a tombstone: the ciphertext (and any backup of it) can no longer be read, and the
on-chain commitment can no longer be linked to any content, since nobody can recompute it.

Layout of a store folder::

    records/<id>.bin   12-byte nonce || AES-GCM ciphertext (with tag)
    keys.json          id -> {key, salt, commitment, createdAt}     (would live in a KMS/HSM)
    tombstones.json    id -> {commitment, erasedAt}
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils.crypto import keccak

from careledger.errors import InvalidInput, NotVerified

__all__ = ["RecordRef", "RecordStore", "commitment_of"]


def commitment_of(salt: bytes, plaintext: bytes) -> bytes:
    """The salted commitment put on chain: keccak256(salt || plaintext). The 32-byte random salt
    stops anyone confirming a guess of the content (a name, a diagnosis) against the chain."""
    return keccak(salt + plaintext)


@dataclass(frozen=True)
class RecordRef:
    record_id: str
    commitment: bytes

    def to_json(self) -> dict[str, str]:
        return {"recordId": self.record_id, "commitment": "0x" + self.commitment.hex()}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class RecordStore:
    """A folder of encrypted records (see the module docstring for the layout)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def _keys_path(self) -> Path:
        return self.folder / "keys.json"

    @property
    def _tombstones_path(self) -> Path:
        return self.folder / "tombstones.json"

    def _blob(self, record_id: str) -> Path:
        if not record_id or not all(c in "0123456789abcdef" for c in record_id):
            raise InvalidInput(f"record id {record_id!r} is not a hex id from 'records store'")
        return self.folder / "records" / f"{record_id}.bin"

    def _load(self, path: Path) -> dict[str, Any]:
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise InvalidInput(f"{path} is not a record store file: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path} is not a record store file")
        return data

    # ------------------------------------------------------------------ writes

    def store(self, plaintext: bytes) -> RecordRef:
        """Encrypt ``plaintext`` under a fresh key; return its id and on-chain commitment."""
        record_id = secrets.token_hex(16)
        key, salt, nonce = AESGCM.generate_key(bit_length=256), secrets.token_bytes(32), secrets.token_bytes(12)
        commitment = commitment_of(salt, plaintext)
        # The record id is bound as associated data: a blob moved under another id fails to open.
        blob = nonce + AESGCM(key).encrypt(nonce, plaintext, record_id.encode())
        path = self._blob(record_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
        keys = self._load(self._keys_path)
        keys[record_id] = {
            "key": key.hex(),
            "salt": salt.hex(),
            "commitment": "0x" + commitment.hex(),
            "createdAt": int(time.time()),
        }
        _write_json(self._keys_path, keys)
        return RecordRef(record_id, commitment)

    def erase(self, record_id: str) -> dict[str, Any]:
        """Crypto-shred: destroy key and salt, remove the ciphertext, write a tombstone."""
        self._blob(record_id)
        keys = self._load(self._keys_path)
        entry = keys.pop(record_id, None)
        tombstones = self._load(self._tombstones_path)
        if entry is None:
            if record_id in tombstones:
                raise InvalidInput(f"record {record_id} was already erased at {tombstones[record_id]['erasedAt']}")
            raise InvalidInput(f"no record {record_id} in {self.folder}")
        tombstone = {"commitment": entry["commitment"], "erasedAt": int(time.time())}
        tombstones[record_id] = tombstone
        # Tombstone first, then drop the key: a crash in between leaves a key that 'show' still
        # refuses (tombstoned), never an erased record without its tombstone.
        _write_json(self._tombstones_path, tombstones)
        _write_json(self._keys_path, keys)
        self._blob(record_id).unlink(missing_ok=True)
        return {"recordId": record_id, **tombstone}

    # ------------------------------------------------------------------ reads

    def read(self, record_id: str) -> bytes:
        """Decrypt a record; :class:`NotVerified` if it was erased or does not match its commitment."""
        path = self._blob(record_id)
        tombstones = self._load(self._tombstones_path)
        if record_id in tombstones:
            raise NotVerified(
                f"record {record_id} was erased at {tombstones[record_id]['erasedAt']}: its key and salt are destroyed"
            )
        entry = self._load(self._keys_path).get(record_id)
        if entry is None or not path.is_file():
            raise InvalidInput(f"no record {record_id} in {self.folder}")
        blob = path.read_bytes()
        try:
            plaintext = AESGCM(bytes.fromhex(entry["key"])).decrypt(blob[:12], blob[12:], record_id.encode())
        except InvalidTag:
            raise NotVerified(f"record {record_id} failed authentication (tampered ciphertext)") from None
        if commitment_of(bytes.fromhex(entry["salt"]), plaintext) != bytes.fromhex(entry["commitment"][2:]):
            raise NotVerified(f"record {record_id} does not match its commitment")
        return plaintext

    def info(self, record_id: str) -> dict[str, Any]:
        """Metadata only (never the content): commitment, and whether the record was erased."""
        self._blob(record_id)
        tomb = self._load(self._tombstones_path).get(record_id)
        if tomb is not None:
            return {"recordId": record_id, "status": "erased", **tomb}
        entry = self._load(self._keys_path).get(record_id)
        if entry is None:
            raise InvalidInput(f"no record {record_id} in {self.folder}")
        return {
            "recordId": record_id,
            "status": "stored",
            "commitment": entry["commitment"],
            "createdAt": entry["createdAt"],
        }

    def find(self, commitment: bytes) -> dict[str, Any] | None:
        """Which record an on-chain commitment refers to (None: it links to nothing we hold)."""
        want = "0x" + commitment.hex()
        for rid, entry in self._load(self._keys_path).items():
            if entry["commitment"] == want:
                return {"recordId": rid, "status": "stored"}
        for rid, tomb in self._load(self._tombstones_path).items():
            if tomb["commitment"] == want:
                return {"recordId": rid, "status": "erased", "erasedAt": tomb["erasedAt"]}
        return None
