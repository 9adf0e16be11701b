"""The off-chain side of a plan's code key: where the insurer and its network keep it, and the
plan context that turns readable codes and service dates into what the chain takes.

The chain holds only digests (:class:`careledger.claims.types.CodeKey`). A key file
(``CARELEDGER_CLAIMS_KEYS``, default ``~/.careledger/claims-keys.json``; hex strings) maps each plan to its keys,
one per rule table that introduced a new one, so claims keep their meaning after a rotation
for whoever holds the old key. The file is a secret of the plan's network: keep it out of
version control and share it off chain.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from careledger.claims.client import ClaimRequest
from careledger.claims.types import CodeKey, Line, PlanTerms, service_code
from careledger.errors import InvalidInput

__all__ = ["CodeReader", "KeyStore", "PlanContext", "default_key_file", "new_code_key", "service_date_of"]


def new_code_key() -> CodeKey:
    return CodeKey(secrets.token_bytes(32))


def default_key_file() -> Path:
    """``CARELEDGER_CLAIMS_KEYS``, else ``claims-keys.json`` in ``~/.careledger``."""
    explicit = os.environ.get("CARELEDGER_CLAIMS_KEYS")
    return Path(explicit) if explicit else Path.home() / ".careledger" / "claims-keys.json"


class KeyStore:
    """Plan code keys in one JSON file: ``{"plans": {"<planId>": ["0x<key>", ...]}, "codes":
    {"<planId>": ["CPT:99213", ...]}}`` (keys oldest first; codes: those of the plan's rule tables
    and the ones this holder billed, so it can read digests back).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_key_file()

    def _doc(self) -> dict[str, dict[str, list[str]]]:
        if not self.path.exists():
            return {"plans": {}, "codes": {}}
        try:
            doc = json.loads(self.path.read_text())
            out: dict[str, dict[str, list[str]]] = {}
            for part in ("plans", "codes"):
                entries = doc.get(part, {})
                assert isinstance(entries, dict)
                out[part] = {str(k): [str(x) for x in v] for k, v in entries.items()}
            return out
        except (ValueError, KeyError, AssertionError, TypeError, AttributeError):
            raise InvalidInput(f"{self.path} is not a claims key file") from None

    def _write(self, doc: dict[str, dict[str, list[str]]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(doc, indent=1))
        self.path.chmod(0o600)

    def keys(self, plan_id: int) -> list[CodeKey]:
        out = []
        for text in self._doc()["plans"].get(str(plan_id), []):
            try:
                out.append(CodeKey(bytes.fromhex(text.removeprefix("0x"))))
            except ValueError:
                raise InvalidInput(f"{self.path}: a key of plan {plan_id} is not 32 bytes of hex") from None
        return out

    def current(self, plan_id: int) -> CodeKey:
        keys = self.keys(plan_id)
        if not keys:
            raise InvalidInput(f"no code key for plan {plan_id} in {self.path} (the insurer shares it off chain)")
        return keys[-1]

    def add(self, plan_id: int, key: CodeKey) -> None:
        doc = self._doc()
        doc["plans"].setdefault(str(plan_id), []).append("0x" + key.key.hex())
        self._write(doc)

    def codes(self, plan_id: int) -> list[str]:
        """The readable codes this holder knows for ``plan_id`` (its rule tables', those it billed)."""
        return list(self._doc()["codes"].get(str(plan_id), []))

    def add_codes(self, plan_id: int, codes: Iterable[str]) -> None:
        """Remember ``codes`` (``SYSTEM:CODE``) for ``plan_id``: digests of them read back later."""
        doc = self._doc()
        known = doc["codes"].setdefault(str(plan_id), [])
        fresh = [c for c in dict.fromkeys(_canonical(c) for c in codes) if c not in known]
        if fresh:
            known.extend(fresh)
            self._write(doc)

    def reader(self, plan_id: int, extra_codes: Iterable[str] = ()) -> CodeReader:
        """What this holder can read of ``plan_id``'s digests: every key it holds over every code
        it knows (``extra_codes``: e.g. a public code list)."""
        codes = [*self.codes(plan_id), *(c for c in map(_billable, extra_codes) if c is not None)]
        table: dict[bytes, str] = {}
        for key in self.keys(plan_id):
            table |= key.codes_of(plan_id, list(dict.fromkeys(codes)))
        return CodeReader(table, bool(self.keys(plan_id)))


def _canonical(code: str) -> str:
    """``cpt:99213`` -> ``CPT:99213`` (the text the digest is taken of)."""
    if code.startswith("0x"):
        raise InvalidInput(f"{code!r} is a digest, not a readable code")
    return service_code(code).rstrip(b"\0").decode()


def _billable(code: str) -> str | None:
    """A code of a list as a claim line bills it, or None (a system claims do not bill: ICD-10)."""
    try:
        return _canonical(code)
    except InvalidInput:
        return None


@dataclass(frozen=True)
class CodeReader:
    """Digest -> readable code for one plan, as far as the holder's keys and codes reach."""

    table: dict[bytes, str]
    has_key: bool

    def label(self, digest: bytes) -> str:
        """The code, else ``keyed 0x<digest>`` (no key, or a code this holder does not know)."""
        return self.table.get(digest) or f"keyed 0x{digest.hex()}"

    def code(self, digest: bytes) -> str | None:
        return self.table.get(digest)


@dataclass(frozen=True)
class PlanContext:
    """What a plan's network needs to write and read claims: the plan, its terms and code key."""

    plan_id: int
    key: CodeKey
    terms: PlanTerms
    used: set[str] = field(default_factory=set, compare=False)  # codes digested (to remember them)

    def code(self, text: str) -> bytes:
        service_code(text)  # the readable form is checked first (clear message)
        if not text.startswith("0x"):
            self.used.add(_canonical(text))
        return self.key.digest(self.plan_id, text)

    def line(self, code: str, units: int, billed: int, gtin: int | None = None, unit_ids: Sequence[bytes] = ()) -> Line:
        salt = self.key.gtin_salt(self.plan_id, code, gtin) if gtin is not None else b"\0" * 32
        return Line(self.code(code), units, billed, salt, tuple(unit_ids))

    def period_of_day(self, day: int) -> int:
        """The plan period of service day ``day`` (days since 1970-01-01)."""
        return self.terms.period_of(day * 86_400 + 43_200)

    def request(
        self,
        member: str,
        payee: str,
        service_day: int,
        lines: Iterable[Line],
        fhir_claim: bytes,
        resubmission: int = 0,
    ) -> ClaimRequest:
        """A claim for the chain: the day goes into the episode digest and the plan period only."""
        return ClaimRequest(
            member,
            payee,
            self.period_of_day(service_day),
            self.key.episode(self.plan_id, member, payee, service_day),
            tuple(lines),
            fhir_claim,
            resubmission,
        )

    def codes_of(self, codes: Iterable[str]) -> dict[bytes, str]:
        return self.key.codes_of(self.plan_id, list(codes))


def service_date_of(document: bytes) -> str | None:
    """The service date (``YYYY-MM-DD``) of a FHIR ``Claim`` document held off chain: its
    first item's ``servicedDate``, else its ``billablePeriod.start``; None if it names none."""
    try:
        doc = json.loads(document)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("resourceType") != "Claim":
        return None
    for item in doc.get("item") or []:
        if isinstance(item, dict) and isinstance(item.get("servicedDate"), str):
            return str(item["servicedDate"])[:10]
    period = doc.get("billablePeriod")
    if isinstance(period, dict) and isinstance(period.get("start"), str):
        return str(period["start"])[:10]
    return None
