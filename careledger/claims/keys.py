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
from dataclasses import dataclass
from pathlib import Path

from careledger.claims.client import ClaimRequest
from careledger.claims.types import CodeKey, Line, PlanTerms, service_code
from careledger.errors import InvalidInput

__all__ = ["KeyStore", "PlanContext", "default_key_file", "new_code_key"]


def new_code_key() -> CodeKey:
    return CodeKey(secrets.token_bytes(32))


def default_key_file() -> Path:
    """``CARELEDGER_CLAIMS_KEYS``, else ``claims-keys.json`` in ``~/.careledger``."""
    explicit = os.environ.get("CARELEDGER_CLAIMS_KEYS")
    return Path(explicit) if explicit else Path.home() / ".careledger" / "claims-keys.json"


class KeyStore:
    """Plan code keys in one JSON file: ``{"plans": {"<planId>": ["0x<key>", ...]}}`` (oldest first)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_key_file()

    def _read(self) -> dict[str, list[str]]:
        if not self.path.exists():
            return {}
        try:
            doc = json.loads(self.path.read_text())
            plans = doc["plans"]
            assert isinstance(plans, dict)
            return {str(k): [str(x) for x in v] for k, v in plans.items()}
        except (ValueError, KeyError, AssertionError, TypeError):
            raise InvalidInput(f"{self.path} is not a claims key file") from None

    def keys(self, plan_id: int) -> list[CodeKey]:
        out = []
        for text in self._read().get(str(plan_id), []):
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
        plans = self._read()
        plans.setdefault(str(plan_id), []).append("0x" + key.key.hex())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"plans": plans}, indent=1))
        self.path.chmod(0o600)


@dataclass(frozen=True)
class PlanContext:
    """What a plan's network needs to write and read claims: the plan, its terms and code key."""

    plan_id: int
    key: CodeKey
    terms: PlanTerms

    def code(self, text: str) -> bytes:
        service_code(text)  # the readable form is checked first (clear message)
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
