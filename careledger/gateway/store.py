"""The gateway's record store: FHIR resources encrypted at rest in an embedded SQLite database by
default, or PostgreSQL when given a ``postgresql://`` URL (SQLAlchemy Core, as the index).

Each record is encrypted with its own AES-256-GCM key (the record id is the associated data, so
a ciphertext moved to another row fails to open) and committed with its own 32-byte salt
(:mod:`careledger.gateway.protocol`). Keys and salts do **not** live in the database: they are
the sealed key file of :class:`careledger.consent.records.KeyFile` (scrypt-derived key from a
passphrase, AES-GCM over the whole table), kept apart from the data, so a copy of the database
holds ciphertext, commitments and audit entries only. Erasure destroys the key and the salt
(crypto-shredding), drops the ciphertext, and keeps an audit entry.

Tables: ``records`` (id, pseudonym, category, resource type, ciphertext, commitment, anchor
transaction, times, erasure entry), ``requests`` (every read request id ever accepted: replay
protection) and ``disclosures`` (the gateway's own log of what it served to whom and why).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils.address import to_checksum_address

from careledger._extras import needs_extra
from careledger.codes import Category
from careledger.consent.records import KeyFile
from careledger.errors import InvalidInput, NotVerified
from careledger.gateway.protocol import canonical, record_commitment

with needs_extra("gateway", "the record gateway"):
    import sqlalchemy as sa

__all__ = ["GatewayStore", "StoredRecord", "category_of", "gateway_store_url", "validate_resource"]

metadata = sa.MetaData()
records = sa.Table(
    "records",
    metadata,
    sa.Column("record_id", sa.String(32), primary_key=True),
    sa.Column("pseudonym", sa.String(42), nullable=False, index=True),
    sa.Column("category", sa.Integer, nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=True),  # NULL once erased
    sa.Column("commitment", sa.String(66), nullable=False, unique=True),
    sa.Column("anchor_tx", sa.String(66), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("erased_at", sa.BigInteger, nullable=True),
    sa.Column("erasure", sa.Text, nullable=True),  # the erasure's audit entry (JSON)
)
requests_seen = sa.Table(
    "requests",
    metadata,
    sa.Column("request_id", sa.String(66), primary_key=True),
    sa.Column("requester", sa.String(42), nullable=False),
    sa.Column("seen_at", sa.BigInteger, nullable=False),
)
disclosures = sa.Table(
    "disclosures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(66), nullable=False),
    sa.Column("requester", sa.String(42), nullable=False),
    sa.Column("pseudonym", sa.String(42), nullable=False, index=True),
    sa.Column("grantor", sa.String(42), nullable=False),
    sa.Column("category", sa.Integer, nullable=False),
    sa.Column("purpose", sa.Integer, nullable=False),
    sa.Column("consent_id", sa.String(80), nullable=False),
    sa.Column("break_glass", sa.Boolean, nullable=False),
    sa.Column("access_tx", sa.String(66), nullable=False),
    sa.Column("records", sa.Text, nullable=False),  # JSON list of record ids served
    sa.Column("served_at", sa.BigInteger, nullable=False),
)

# FHIR resource type -> consent category (the registry's Category codes). A resource carrying a
# sensitive security label (meta.security PSY / GDIS / ETH) falls in that sensitive category
# instead, so a consent that excludes it (or a deny provision) keeps it out.
_TYPE_CATEGORY: dict[str, Category] = {
    "Patient": Category.PATIENT,
    "Encounter": Category.ENCOUNTER,
    "Condition": Category.CONDITION,
    "Observation": Category.OBSERVATION,
    "MedicationRequest": Category.MEDICATION,
    "MedicationStatement": Category.MEDICATION,
    "Immunization": Category.IMMUNIZATION,
    "AllergyIntolerance": Category.ALLERGY,
    "Procedure": Category.PROCEDURE,
    "DiagnosticReport": Category.DIAGNOSTIC_REPORT,
    "DocumentReference": Category.DOCUMENT,
    "ImagingStudy": Category.IMAGING,
    "Claim": Category.FINANCIAL,
    "Coverage": Category.FINANCIAL,
    "ExplanationOfBenefit": Category.FINANCIAL,
    "MolecularSequence": Category.GENOMIC,
}
_SENSITIVE: dict[str, Category] = {
    "PSY": Category.MENTAL_HEALTH,
    "GDIS": Category.GENOMIC,
    "ETH": Category.SUBSTANCE_USE,
}


def gateway_store_url(target: str | Path) -> str:
    """A SQLAlchemy URL: ``postgresql://…`` (psycopg 3), ``sqlite:///…``, or a file path (SQLite)."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith(("postgresql+", "sqlite:")):
        return text
    if "://" in text:
        raise InvalidInput(f"unsupported gateway database {text!r}: give a file path or a postgresql:// URL")
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def validate_resource(resource: Any) -> dict[str, Any]:
    """Parse ``resource`` with fhir.resources' R4B model of its ``resourceType``; returns it
    unchanged when valid, raises :class:`InvalidInput` with the first problems otherwise."""
    with needs_extra("fhir", "the record gateway"):
        from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource, dict):
        raise InvalidInput("a record is one FHIR resource (a JSON object)")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise InvalidInput("the FHIR resource has no resourceType")
    if rtype not in _TYPE_CATEGORY:
        raise InvalidInput(f"resourceType {rtype!r} is not a record type the gateway holds")
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        if callable(errors):
            first = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()[:3])
        else:
            first = str(exc).splitlines()[0]
        raise InvalidInput(f"invalid FHIR R4 {rtype}: {first}") from None
    return resource


def category_of(resource: dict[str, Any]) -> Category:
    """The consent category a (validated) resource is served under."""
    labels = (resource.get("meta") or {}).get("security") or []
    for label in labels:
        code = label.get("code") if isinstance(label, dict) else None
        if code in _SENSITIVE:
            return _SENSITIVE[code]
    return _TYPE_CATEGORY[str(resource["resourceType"])]


@dataclass(frozen=True)
class StoredRecord:
    record_id: str
    pseudonym: str
    category: int
    resource_type: str
    commitment: bytes
    created_at: int
    anchor_tx: str | None
    erasure: dict[str, Any] | None

    @property
    def erased(self) -> bool:
        return self.erasure is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "recordId": self.record_id,
            "pseudonym": self.pseudonym,
            "category": Category(self.category).name,
            "resourceType": self.resource_type,
            "commitment": "0x" + self.commitment.hex(),
            "createdAt": self.created_at,
            "anchorTx": self.anchor_tx,
            "status": "erased" if self.erased else "stored",
        }
        if self.erasure is not None:
            out["erasure"] = self.erasure
        return out


def _row(r: Any) -> StoredRecord:
    return StoredRecord(
        record_id=str(r.record_id),
        pseudonym=str(r.pseudonym),
        category=int(r.category),
        resource_type=str(r.resource_type),
        commitment=bytes.fromhex(str(r.commitment)[2:]),
        created_at=int(r.created_at),
        anchor_tx=None if r.anchor_tx is None else str(r.anchor_tx),
        erasure=None if r.erasure is None else json.loads(r.erasure),
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL with synchronous=NORMAL (as the index): a killed process never tears a commit, and a
    # read's two small commits (replay claim, disclosure log) do not each wait for an fsync.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class GatewayStore:
    """Records in a database, their keys and salts in a sealed key file apart from it. ``db``
    and ``keys`` default to ``.gateway/records.sqlite`` and ``.gateway/records.keys`` in the
    checkout (the CLI's defaults)."""

    def __init__(self, db: str | Path | None, keys: Path | None, passphrase: str) -> None:
        if db is None or keys is None:
            from careledger._paths import project_root

            home = project_root() / ".gateway"
            home.mkdir(parents=True, exist_ok=True)
            db = home / "records.sqlite" if db is None else db
            keys = home / "records.keys" if keys is None else keys
        url = gateway_store_url(db)
        if url.startswith("sqlite:///"):
            file = Path(url[len("sqlite:///") :])
            if file.resolve() == Path(keys).resolve():
                raise InvalidInput("the key file must not be the database")
            file.parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self.keyfile = KeyFile(Path(keys), passphrase)
        self._keys: dict[str, Any] = self.keyfile.load()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ writes

    def put(
        self, pseudonym: str, resource: dict[str, Any], category: Category | None = None
    ) -> tuple[StoredRecord, bytes]:
        """Validate, encrypt and store ``resource`` for ``pseudonym``; returns the record (not yet
        anchored) and its salt. Nothing is written when validation fails."""
        resource = validate_resource(resource)
        pseudonym = to_checksum_address(pseudonym)
        cat = category if category is not None else category_of(resource)
        body = canonical(resource)
        record_id = secrets.token_hex(16)
        key, salt, nonce = AESGCM.generate_key(bit_length=256), secrets.token_bytes(32), secrets.token_bytes(12)
        commitment = record_commitment(salt, pseudonym, body)
        blob = nonce + AESGCM(key).encrypt(nonce, body, record_id.encode())
        now = int(time.time())
        with self._lock:
            # Key first (sealed, durable), then the row: a crash in between leaves an orphan key
            # for no row, never a row whose key is lost.
            self._keys[record_id] = {"key": key.hex(), "salt": salt.hex()}
            self.keyfile.save(self._keys)
            with self.engine.begin() as c:
                c.execute(
                    sa.insert(records).values(
                        record_id=record_id,
                        pseudonym=pseudonym,
                        category=int(cat),
                        resource_type=str(resource["resourceType"]),
                        ciphertext=blob,
                        commitment="0x" + commitment.hex(),
                        created_at=now,
                    )
                )
        rec = StoredRecord(record_id, pseudonym, int(cat), str(resource["resourceType"]), commitment, now, None, None)
        return rec, salt

    def set_anchor(self, record_id: str, tx_hash: str) -> None:
        with self.engine.begin() as c:
            c.execute(sa.update(records).where(records.c.record_id == record_id).values(anchor_tx=tx_hash))

    def discard(self, record_id: str) -> None:
        """Forget a record whose anchoring failed (nothing half-written stays behind)."""
        with self._lock:
            with self.engine.begin() as c:
                c.execute(sa.delete(records).where(records.c.record_id == record_id))
            if self._keys.pop(record_id, None) is not None:
                self.keyfile.save(self._keys)

    def erase(self, record_id: str, by: str, reason: str) -> dict[str, Any]:
        """Crypto-shred a record: destroy its key and salt, drop the ciphertext, keep the audit
        entry (returned, and served with every later 410)."""
        with self._lock:
            rec = self.get(record_id)
            if rec.erasure is not None:
                raise InvalidInput(f"record {record_id} was already erased at {rec.erasure['erasedAt']}")
            entry = {
                "recordId": record_id,
                "commitment": "0x" + rec.commitment.hex(),
                "erasedAt": int(time.time()),
                "erasedBy": to_checksum_address(by),
                "reason": reason,
                "destroyed": ["key", "salt", "ciphertext"],
            }
            # The audit entry and the dropped ciphertext first; then the key and salt: a crash in
            # between leaves a key nobody can use (the row says erased), never an erased record
            # without its entry.
            with self.engine.begin() as c:
                c.execute(
                    sa.update(records)
                    .where(records.c.record_id == record_id)
                    .values(ciphertext=None, erased_at=entry["erasedAt"], erasure=json.dumps(entry, sort_keys=True))
                )
            self._keys.pop(record_id, None)
            self.keyfile.save(self._keys)
        return entry

    def claim_request(self, request_id: bytes, requester: str, now: int) -> bool:
        """Record a read request id; False when it was seen before (a replay)."""
        try:
            with self.engine.begin() as c:
                c.execute(
                    sa.insert(requests_seen).values(
                        request_id="0x" + request_id.hex(), requester=requester, seen_at=now
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def log_disclosure(self, entry: dict[str, Any]) -> None:
        with self.engine.begin() as c:
            c.execute(sa.insert(disclosures).values(**entry))

    # ------------------------------------------------------------------ reads

    def get(self, record_id: str) -> StoredRecord:
        if len(record_id) != 32 or not all(ch in "0123456789abcdef" for ch in record_id):
            raise InvalidInput(f"record id {record_id!r} is not 32 hex digits")
        with self.engine.connect() as c:
            r = c.execute(sa.select(records).where(records.c.record_id == record_id)).first()
        if r is None:
            raise InvalidInput(f"no record {record_id} at this gateway")
        return _row(r)

    def held(self, pseudonym: str, category: int | None = None) -> list[StoredRecord]:
        q = sa.select(records).where(records.c.pseudonym == to_checksum_address(pseudonym))
        if category is not None:
            q = q.where(records.c.category == int(category))
        with self.engine.connect() as c:
            return [_row(r) for r in c.execute(q.order_by(records.c.created_at, records.c.record_id))]

    def open(self, rec: StoredRecord) -> tuple[bytes, bytes]:
        """(canonical resource bytes, salt) of a stored record, after checking the ciphertext
        authenticates and the content matches its commitment. :class:`NotVerified` otherwise."""
        if rec.erasure is not None:
            raise NotVerified(f"record {rec.record_id} was erased at {rec.erasure['erasedAt']}")
        with self.engine.connect() as c:
            blob = c.execute(sa.select(records.c.ciphertext).where(records.c.record_id == rec.record_id)).scalar()
        entry = self._keys.get(rec.record_id)
        if blob is None or entry is None:
            raise NotVerified(f"record {rec.record_id} has no ciphertext or no key")
        try:
            body = AESGCM(bytes.fromhex(entry["key"])).decrypt(blob[:12], blob[12:], rec.record_id.encode())
        except InvalidTag:
            raise NotVerified(f"record {rec.record_id} failed authentication (tampered ciphertext)") from None
        salt = bytes.fromhex(entry["salt"])
        if record_commitment(salt, rec.pseudonym, body) != rec.commitment:
            raise NotVerified(f"record {rec.record_id} does not match its commitment")
        return body, salt

    def disclosures(self, pseudonym: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(disclosures).order_by(disclosures.c.id)
        if pseudonym is not None:
            q = q.where(disclosures.c.pseudonym == to_checksum_address(pseudonym))
        with self.engine.connect() as c:
            return [
                {
                    "requestId": r.request_id,
                    "requester": r.requester,
                    "pseudonym": r.pseudonym,
                    "grantor": r.grantor,
                    "category": Category(r.category).name,
                    "purpose": int(r.purpose),
                    "consentId": r.consent_id,
                    "breakGlass": bool(r.break_glass),
                    "accessTx": r.access_tx,
                    "records": json.loads(r.records),
                    "servedAt": int(r.served_at),
                }
                for r in c.execute(q)
            ]
