"""Claim vocabulary shared by the client, the CLI, the FHIR export and the tests.

Python mirrors of ``contracts/claims/ClaimTypes.sol`` (enums, structs), the deterministic claim
id, and :func:`adjudicate_line`: the rule arithmetic of ``AdjudicationMath.sol`` written again
in Python, so tests compare the contract with an independent model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from careledger.errors import InvalidInput

__all__ = [
    "BPS",
    "PLAN_YEAR",
    "Adjudication",
    "Carc",
    "ClaimStatus",
    "CodeKey",
    "CoverageRule",
    "Decision",
    "Line",
    "LineAdjudication",
    "PlanTerms",
    "adjudicate",
    "adjudicate_line",
    "claim_id",
    "day_of",
    "lines_hash",
    "service_code",
]

BPS = 10_000
PLAN_YEAR = 365 * 86_400
LINE_ABI = "(bytes32,uint32,uint96,bytes32,bytes32[])"


class ClaimStatus(IntEnum):
    """``ClaimStatus`` in ClaimTypes.sol."""

    NONE = 0
    SUBMITTED = 1
    PENDING_REVIEW = 2
    APPROVED = 3
    PARTIALLY_APPROVED = 4
    DENIED = 5
    WITHDRAWN = 6
    PAID = 7
    LAPSED = 8


class Decision(IntEnum):
    """An adjuster's decision (``Decision`` in ClaimTypes.sol)."""

    APPROVE = 0
    PARTIALLY_APPROVE = 1
    DENY = 2


class Carc(IntEnum):
    """X12 835 Claim Adjustment Reason Codes the rules use (``Carc`` in ClaimTypes.sol)."""

    DEDUCTIBLE = 1
    COINSURANCE = 2
    COPAY = 3
    DUPLICATE = 18
    FEE_SCHEDULE = 45
    NOT_MEDICALLY_NECESSARY = 50
    NOT_COVERED = 96
    BENEFIT_MAXIMUM = 119
    AUTHORIZATION_ABSENT = 197


def service_code(code: str) -> bytes:
    """A service code as its on-chain compact id: ``"CPT:99213"`` -> 32 bytes, ASCII, zero-padded.

    Accepts ``SYSTEM:CODE`` with SYSTEM one of CPT, HCPCS, NDC, LOINC, GTIN (public vocabularies;
    no patient data) or a ``0x`` 32-byte hex string (a commitment)."""
    if code.startswith("0x") and len(code) == 66:
        try:
            return bytes.fromhex(code[2:])
        except ValueError:
            raise InvalidInput(f"service code {code!r} is not valid hex") from None
    system, sep, value = code.partition(":")
    if not sep or system.upper() not in {"CPT", "HCPCS", "NDC", "LOINC", "GTIN"} or not value:
        raise InvalidInput(f"service code {code!r} must look like CPT:99213, HCPCS:J1100 or NDC:0002-1433-80")
    raw = f"{system.upper()}:{value}".encode()
    if len(raw) > 32 or not all(0x21 <= b < 0x7F for b in raw):
        raise InvalidInput(f"service code {code!r} must be at most 32 printable ASCII characters")
    return raw.ljust(32, b"\0")


def code_text(code: bytes) -> str:
    """The readable form of a compact code id (or its hex when it is a commitment)."""
    stripped = code.rstrip(b"\0")
    if stripped and all(0x21 <= b < 0x7F for b in stripped) and b":" in stripped:
        return stripped.decode()
    return "0x" + code.hex()


def day_of(timestamp: int) -> int:
    """Days since 1970-01-01 (UTC) of a unix time: the on-chain service-day unit."""
    return timestamp // 86_400


@dataclass(frozen=True)
class Line:
    """One claim line (``Line`` in ClaimTypes.sol). ``code`` is the plan-keyed digest of the
    service code (:meth:`CodeKey.digest`); a drug line cites one unit per package and the salt
    that opens the plan's GTIN binding (:meth:`CodeKey.gtin_salt`)."""

    code: bytes
    units: int
    billed: int
    gtin_salt: bytes = b"\0" * 32
    unit_ids: tuple[bytes, ...] = ()

    def as_tuple(self) -> tuple[bytes, int, int, bytes, list[bytes]]:
        return (self.code, self.units, self.billed, self.gtin_salt, list(self.unit_ids))


@dataclass(frozen=True)
class CoverageRule:
    """A plan's rule for one code (``CoverageRule``)."""

    covered: bool = True
    pre_auth: bool = False
    requires_unit: bool = False
    once_per_period: bool = False
    coinsurance_bps: int = 0
    copay: int = 0
    max_per_unit: int = 0

    def as_tuple(self) -> tuple[bool, bool, bool, bool, int, int, int]:
        return (
            self.covered,
            self.pre_auth,
            self.requires_unit,
            self.once_per_period,
            self.coinsurance_bps,
            self.copay,
            self.max_per_unit,
        )


@dataclass(frozen=True)
class PlanTerms:
    """A plan's fixed terms (``PlanTerms``); amounts in token units, times and windows in
    seconds. A period is a plan year (365 or 366 days) from ``period_start``."""

    deductible: int
    annual_max: int
    auto_approve_limit: int
    appeal_window: int
    period_start: int = 0
    period_length: int = PLAN_YEAR
    filing_window: int = 90 * 86_400
    rule_notice: int = 0

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int, int]:
        return (
            self.deductible,
            self.annual_max,
            self.auto_approve_limit,
            self.appeal_window,
            self.period_start,
            self.period_length,
            self.filing_window,
            self.rule_notice,
        )

    def period_of(self, timestamp: int) -> int:
        """The plan period (plan year) ``timestamp`` falls in (``periodAt`` on chain)."""
        if timestamp < self.period_start:
            raise InvalidInput(f"time {timestamp} is before the plan starts ({self.period_start})")
        return (timestamp - self.period_start) // self.period_length


@dataclass(frozen=True)
class CodeKey:
    """A plan's code key: 32 secret bytes the insurer shares off chain with its network.

    Codes go on chain only as ``digest = keccak256("careledger.code.v1" ‖ key ‖ planId ‖ code)``
    (keccak has no length extension, so a secret prefix makes it a MAC, as in KMAC; one hash,
    the primitive the chain, viem and eth-utils share). Without the key the digest of a code
    from a public list of ~10^4 cannot be found by trying them all; with it, the holders map
    digests back to codes locally. Rotation: a new key per plan year goes with a new rule table
    (``scheduleRules(..., codeKeyId)``); the old key stays with whoever must read old claims.
    """

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise InvalidInput("a plan code key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        """A public id of the key (the hash of a key derivation; tells holders which key)."""
        return keccak(b"careledger.codekey.id.v1" + self.key)

    def _mac(self, label: bytes, plan_id: int, *parts: bytes) -> bytes:
        return keccak(label + self.key + plan_id.to_bytes(4, "big") + b"".join(parts))

    def digest(self, plan_id: int, code: str) -> bytes:
        """The on-chain digest of service code ``SYSTEM:CODE`` in plan ``plan_id``."""
        return self._mac(b"careledger.code.v1", plan_id, service_code(code).rstrip(b"\0"))

    def gtin_salt(self, plan_id: int, code: str, gtin: int) -> bytes:
        """The salt of the plan's binding of drug code ``code`` to product ``gtin``."""
        return self._mac(b"careledger.gtin.v1", plan_id, service_code(code).rstrip(b"\0"), gtin.to_bytes(8, "big"))

    def gtin_binding(self, plan_id: int, code: str, gtin: int) -> bytes:
        """keccak256(abi.encode(gtin, salt)): what the rule stores; the chain recomputes it from
        the dispensed unit's GTIN and the line's salt."""
        return keccak(gtin.to_bytes(32, "big") + self.gtin_salt(plan_id, code, gtin))

    def episode(self, plan_id: int, member: str, payee: str, service_day: int) -> bytes:
        """The encounter's digest: one claim per member, payee and day of service (the day is
        inside the MAC, never on chain)."""
        return self._mac(
            b"careledger.episode.v1",
            plan_id,
            _address_word(member),
            _address_word(payee),
            service_day.to_bytes(4, "big"),
        )

    def codes_of(self, plan_id: int, codes: Sequence[str]) -> dict[bytes, str]:
        """digest -> code for a code list: how key holders read claims."""
        return {self.digest(plan_id, c): c for c in codes}


@dataclass(frozen=True)
class LineAdjudication:
    eligible: int
    deductible: int
    copay: int
    coinsurance: int
    benefit: int
    reason: int

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> LineAdjudication:
        return cls(*(int(v) for v in t))


@dataclass(frozen=True)
class Adjudication:
    billed: int
    deductible: int
    benefit: int
    needs_review: bool
    pre_auth: bool
    any_covered: bool
    any_denied: bool
    lines: tuple[LineAdjudication, ...] = field(default_factory=tuple)


def adjudicate_line(
    rule: CoverageRule | None, units: int, billed: int, deductible_left: int, max_left: int
) -> LineAdjudication:
    """The rule table for one line: fee schedule, deductible, copay, coinsurance (member share
    rounded up), annual maximum. Same arithmetic as ``AdjudicationMath.line``."""
    if rule is None or not rule.covered:
        return LineAdjudication(0, 0, 0, 0, 0, int(Carc.NOT_COVERED))
    reason = 0
    eligible = billed
    if rule.max_per_unit and rule.max_per_unit * units < eligible:
        eligible = rule.max_per_unit * units
        reason = int(Carc.FEE_SCHEDULE)
    ded = min(eligible, deductible_left)
    rest = eligible - ded
    copay = min(rest, rule.copay)
    rest -= copay
    coins = -(-rest * rule.coinsurance_bps // BPS)
    rest -= coins
    benefit = min(rest, max_left)
    if benefit < rest:
        reason = int(Carc.BENEFIT_MAXIMUM)
    return LineAdjudication(eligible, ded, copay, coins, benefit, reason)


def adjudicate(
    rules: dict[bytes, CoverageRule], terms: PlanTerms, deductible_met: int, benefit_paid: int, lines: Sequence[Line]
) -> Adjudication:
    """The whole claim, as ``ClaimSettlement.quote`` computes it."""
    ded_left = max(terms.deductible - deductible_met, 0)
    max_left = max(terms.annual_max - benefit_paid, 0)
    out: list[LineAdjudication] = []
    billed = ded = benefit = 0
    pre_auth = any_covered = any_denied = False
    for line in lines:
        rule = rules.get(line.code)
        la = adjudicate_line(rule, line.units, line.billed, ded_left, max_left)
        out.append(la)
        ded_left -= la.deductible
        max_left -= la.benefit
        billed += line.billed
        ded += la.deductible
        benefit += la.benefit
        if rule is not None and rule.covered:
            any_covered = True
            pre_auth = pre_auth or rule.pre_auth
        else:
            any_denied = True
    needs_review = pre_auth or billed > terms.auto_approve_limit
    return Adjudication(billed, ded, benefit, needs_review, pre_auth, any_covered, any_denied, tuple(out))


def claim_id(member: str, payee: str, service_period: int, episode: bytes, resubmission: int = 0) -> bytes:
    """The deterministic claim id (``IClaimSettlement.claimIdOf``): keccak256 of
    ``abi.encode(member, payee, servicePeriod, episode, resubmission)``.

    Five static ABI types, one 32-byte word each, written out here (a tenth of the time
    ``eth_abi`` takes, which matters at tens of thousands of claims)."""
    if not 0 <= service_period < 2**32 or not 0 <= resubmission < 2**16 or len(episode) != 32:
        raise InvalidInput(f"service period {service_period}, episode or resubmission {resubmission} is out of range")
    return keccak(
        _address_word(member)
        + _address_word(payee)
        + service_period.to_bytes(32, "big")
        + episode
        + resubmission.to_bytes(32, "big")
    )


def _address_word(address: str) -> bytes:
    text = address[2:] if address[:2] in ("0x", "0X") else address
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise InvalidInput(f"{address!r} is not an address")
    return b"\0" * 12 + raw


def lines_hash(lines: Sequence[Line]) -> bytes:
    """keccak256(abi.encode(lines)) as the contract stores it for claims awaiting a decision."""
    return keccak(abi_encode([f"{LINE_ABI}[]"], [[ln.as_tuple() for ln in lines]]))
