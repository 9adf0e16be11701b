"""Off-chain encrypted record store with crypto-shredding (GDPR Art. 17).

Each record is encrypted with its own AES-256-GCM key; the chain only ever sees a salted
commitment ``keccak256(salt || plaintext)``. :meth:`RecordStore.erase` destroys the key and the
salt and writes a tombstone: the ciphertext (and any backup of the data folder) can no longer be
read, and the on-chain commitment can no longer be linked to any content, since nobody can
recompute it.

The keys live **apart from the data**, in a key file sealed under a key derived from a
passphrase (scrypt, N = 2^15, r = 8, p = 1, from ``cryptography``; AES-256-GCM over the whole
key table, a fresh nonce per write), by default next to the data folder, never inside it
(``<folder>.keys``; ``--keys`` / ``$CARELEDGER_RECORD_KEYS`` put it elsewhere, e.g. on another
volume). A backup of the data folder holds ciphertext and tombstones only. A backup of the key
file taken *before* an erasure still holds that record's key: keep key-file backups apart and
short-lived (or rotate the passphrase), as the docs say.

Layout::

    <folder>/records/<id>.bin    12-byte nonce || AES-GCM ciphertext (with tag)
    <folder>/tombstones.json     id -> {commitment, erasedAt}
    <keys file>                  {"kdf": scrypt params + salt, "nonce", "sealed"}: the sealed
                                 table id -> {key, salt, commitment, createdAt}

A folder written by the first version (a plaintext ``keys.json`` inside it) is sealed into the
key file and its ``keys.json`` deleted on first use (:meth:`RecordStore.migrate`).
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
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_utils.crypto import keccak

from careledger.errors import InvalidInput, NotVerified

__all__ = ["KeyFile", "RecordRef", "RecordStore", "commitment_of"]

PASSPHRASE_ENV = "CARELEDGER_RECORDS_PASSPHRASE"
KEYS_ENV = "CARELEDGER_RECORD_KEYS"
FOLDER_ENV = "CARELEDGER_RECORDS"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


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


class KeyFile:
    """The record keys, sealed under a passphrase-derived key, in a file of their own."""

    def __init__(self, path: Path, passphrase: str) -> None:
        if not passphrase:
            raise InvalidInput(f"the record keys need a passphrase (set ${PASSPHRASE_ENV})")
        self.path, self._passphrase = Path(path), passphrase.encode()
        self._key: bytes | None = None
        self._salt: bytes | None = None

    def _derive(self, salt: bytes, params: dict[str, int]) -> bytes:
        kdf = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"])
        return kdf.derive(self._passphrase)

    def load(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            sealed = json.loads(self.path.read_text())
            kdf, nonce, body = sealed["kdf"], bytes.fromhex(sealed["nonce"]), bytes.fromhex(sealed["sealed"])
            salt = bytes.fromhex(kdf["salt"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{self.path} is not a record key file: {exc}") from None
        if self._key is None or self._salt != salt:
            self._key, self._salt = self._derive(salt, {k: int(kdf[k]) for k in ("n", "r", "p")}), salt
        try:
            table = json.loads(AESGCM(self._key).decrypt(nonce, body, b"careledger.record-keys.v1"))
        except InvalidTag:
            raise NotVerified(f"wrong passphrase for {self.path} (or the file was tampered with)") from None
        if not isinstance(table, dict):
            raise InvalidInput(f"{self.path} is not a record key file")
        return table

    def save(self, table: dict[str, Any]) -> None:
        if self._key is None or self._salt is None:
            self._salt = secrets.token_bytes(16)
            self._key = self._derive(self._salt, _SCRYPT)
        nonce = secrets.token_bytes(12)
        body = AESGCM(self._key).encrypt(
            nonce, json.dumps(table, sort_keys=True).encode(), b"careledger.record-keys.v1"
        )
        _write_json(
            self.path,
            {
                "kdf": {"name": "scrypt", **_SCRYPT, "salt": self._salt.hex()},
                "nonce": nonce.hex(),
                "sealed": body.hex(),
            },
        )


class RecordStore:
    """A folder of encrypted records, and their keys in a sealed key file apart from it (see the
    module docstring). ``folder`` defaults to ``$CARELEDGER_RECORDS`` or ``.records/`` in the
    checkout (the one default of the CLI's ``records`` commands and ``consent grant
    --document``); ``keys`` to ``$CARELEDGER_RECORD_KEYS`` or ``<folder>.keys``; ``passphrase``
    to ``$CARELEDGER_RECORDS_PASSPHRASE``."""

    def __init__(self, folder: Path | None = None, passphrase: str | None = None, keys: Path | None = None) -> None:
        if folder is None:
            from careledger._paths import project_root

            env_folder = os.environ.get(FOLDER_ENV)
            folder = Path(env_folder) if env_folder else project_root() / ".records"
        self.folder = Path(folder)
        env_keys = os.environ.get(KEYS_ENV)
        path = keys or (Path(env_keys) if env_keys else self.folder.with_name(self.folder.name + ".keys"))
        if path.resolve().is_relative_to(self.folder.resolve()):
            raise InvalidInput(f"the key file {path} must not be inside the data folder {self.folder}")
        self.keyfile = KeyFile(path, passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV, ""))
        self.migrate()

    def migrate(self) -> int:
        """Seal a first-version plaintext ``keys.json`` into the key file and delete it; returns
        how many keys moved."""
        legacy = self.folder / "keys.json"
        if not legacy.is_file():
            return 0
        old = self._load(legacy)
        table = self.keyfile.load()
        table.update(old)
        self.keyfile.save(table)
        legacy.unlink()
        return len(old)

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
        keys = self.keyfile.load()
        keys[record_id] = {
            "key": key.hex(),
            "salt": salt.hex(),
            "commitment": "0x" + commitment.hex(),
            "createdAt": int(time.time()),
        }
        self.keyfile.save(keys)
        return RecordRef(record_id, commitment)

    def erase(self, record_id: str) -> dict[str, Any]:
        """Crypto-shred: destroy key and salt, remove the ciphertext, write a tombstone."""
        self._blob(record_id)
        keys = self.keyfile.load()
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
        self.keyfile.save(keys)
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
        entry = self.keyfile.load().get(record_id)
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
        entry = self.keyfile.load().get(record_id)
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
        for rid, entry in self.keyfile.load().items():
            if entry["commitment"] == want:
                return {"recordId": rid, "status": "stored"}
        for rid, tomb in self._load(self._tombstones_path).items():
            if tomb["commitment"] == want:
                return {"recordId": rid, "status": "erased", "erasedAt": tomb["erasedAt"]}
        return None
