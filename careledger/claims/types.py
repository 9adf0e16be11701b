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
    "Adjudication",
    "Carc",
    "ClaimStatus",
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
LINE_ABI = "(bytes32,uint32,uint96,bytes32)"


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

    Accepts ``SYSTEM:CODE`` with SYSTEM one of CPT, HCPCS, NDC, LOINC (public vocabularies; no
    patient data) or a ``0x`` 32-byte hex string (a commitment)."""
    if code.startswith("0x") and len(code) == 66:
        try:
            return bytes.fromhex(code[2:])
        except ValueError:
            raise InvalidInput(f"service code {code!r} is not valid hex") from None
    system, sep, value = code.partition(":")
    if not sep or system.upper() not in {"CPT", "HCPCS", "NDC", "LOINC"} or not value:
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
    """One claim line (``Line`` in ClaimTypes.sol)."""

    code: bytes
    units: int
    billed: int
    unit_id: bytes = b"\0" * 32

    def as_tuple(self) -> tuple[bytes, int, int, bytes]:
        return (self.code, self.units, self.billed, self.unit_id)


@dataclass(frozen=True)
class CoverageRule:
    """A plan's rule for one code (``CoverageRule``)."""

    covered: bool = True
    pre_auth: bool = False
    requires_unit: bool = False
    coinsurance_bps: int = 0
    copay: int = 0
    max_per_unit: int = 0

    def as_tuple(self) -> tuple[bool, bool, bool, int, int, int]:
        return (self.covered, self.pre_auth, self.requires_unit, self.coinsurance_bps, self.copay, self.max_per_unit)


@dataclass(frozen=True)
class PlanTerms:
    """A plan's fixed terms (``PlanTerms``); amounts in token units, window in seconds."""

    deductible: int
    annual_max: int
    auto_approve_limit: int
    appeal_window: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.deductible, self.annual_max, self.auto_approve_limit, self.appeal_window)


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


def claim_id(member: str, payee: str, service_day: int, codes: Sequence[bytes], resubmission: int = 0) -> bytes:
    """The deterministic claim id (``IClaimSettlement.claimIdOf``): keccak256 of
    ``abi.encode(member, payee, serviceDay, resubmission, keccak256(codes))``.

    The five arguments are static ABI types, one 32-byte word each, so the encoding is written
    out here (a tenth of the time ``eth_abi`` takes, which matters at tens of thousands of claims)."""
    if not 0 <= service_day < 2**32 or not 0 <= resubmission < 2**16:
        raise InvalidInput(f"service day {service_day} or resubmission {resubmission} is out of range")
    codes_hash = keccak(b"".join(codes))
    return keccak(
        _address_word(member)
        + _address_word(payee)
        + service_day.to_bytes(32, "big")
        + resubmission.to_bytes(32, "big")
        + codes_hash
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
