"""The value types of the consent registry, mirrored from ``IConsentRegistry.sol``.

Masks are the bit sets of :mod:`careledger.codes` (``1 << Category.X``, ``1 << Purpose.Y``),
exactly as on chain, so they pass through ABI encoding and EIP-712 unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from careledger.codes import Category, Purpose
from careledger.errors import InvalidInput
from careledger.exactjson import quantity, uint_id

__all__ = [
    "ALL_CATEGORIES",
    "ALL_PURPOSES",
    "BREAK_GLASS_PURPOSES",
    "GRANTABLE_PURPOSES",
    "ConsentState",
    "DelegateKind",
    "GrantTerms",
    "ModifyTerms",
    "break_glass_id",
    "categories_of",
    "consent_id",
    "mask",
    "parse_categories",
    "parse_mask",
    "parse_purposes",
    "purposes_of",
]

ALL_CATEGORIES = (1 << len(Category)) - 1
ALL_PURPOSES = (1 << len(Purpose)) - 1
GRANTABLE_PURPOSES = (1 << Purpose.ETREAT) - 1
BREAK_GLASS_PURPOSES = (Purpose.ETREAT, Purpose.BTG)
UINT40_MAX = (1 << 40) - 1


class DelegateKind(IntEnum):
    """Who may act for a patient (``ConsentRegistry.GUARDIAN`` / ``PROXY``)."""

    GUARDIAN = 1
    PROXY = 2


_BREAK_GLASS_TAG = keccak(text="careledger.consent.BREAK_GLASS")


def consent_id(patient: str, grantee: str, seq: int) -> int:
    """Id of consent number ``seq`` of (patient, grantee), as ``ConsentRegistry.consentIdOf``."""
    encoded = abi_encode(
        ["address", "address", "uint64"], [to_checksum_address(patient), to_checksum_address(grantee), seq]
    )
    return int.from_bytes(keccak(encoded), "big")


def break_glass_id(patient: str, provider: str, seq: int) -> int:
    """Id of break-glass window number ``seq`` (``ConsentRegistry.breakGlassIdOf``)."""
    encoded = abi_encode(
        ["bytes32", "address", "address", "uint64"],
        [_BREAK_GLASS_TAG, to_checksum_address(patient), to_checksum_address(provider), seq],
    )
    return int.from_bytes(keccak(encoded), "big")


def mask(codes: Iterable[IntEnum]) -> int:
    """The bit set of ``codes``."""
    m = 0
    for code in codes:
        m |= 1 << int(code)
    return m


def categories_of(m: int) -> list[Category]:
    return [c for c in Category if m >> int(c) & 1]


def purposes_of(m: int) -> list[Purpose]:
    return [p for p in Purpose if m >> int(p) & 1]


def parse_mask(text: str, enum: type[IntEnum], what: str) -> int:
    """Comma-separated names of ``enum`` (case-insensitive, ``-`` for ``_``), or ``all`` -> bit mask."""
    if text.strip().lower() == "all":
        return (1 << len(enum)) - 1
    m = 0
    for part in text.split(","):
        name = part.strip().upper().replace("-", "_")
        if not name:
            continue
        if name not in enum.__members__:
            known = ", ".join(n.lower() for n in enum.__members__)
            raise InvalidInput(f"unknown {what} {part.strip()!r} (known: {known}, or 'all')")
        m |= 1 << int(enum[name])
    if m == 0:
        raise InvalidInput(f"no {what} given")
    return m


def parse_categories(text: str) -> int:
    """``"observation,condition"`` or ``"all"`` -> category mask; :class:`InvalidInput` otherwise."""
    return parse_mask(text, Category, "category")


def parse_purposes(text: str) -> int:
    """``"treat,hpaymt"`` -> purpose mask; :class:`InvalidInput` otherwise."""
    return parse_mask(text, Purpose, "purpose")


@dataclass(frozen=True)
class GrantTerms:
    """``IConsentRegistry.GrantTerms``. ``valid_from == 0`` means "from the block it lands in"."""

    grantee: str
    categories: int
    purposes: int
    valid_until: int
    valid_from: int = 0
    deny_categories: int = 0
    deny_purposes: int = 0
    document: bytes = b"\0" * 32

    def as_tuple(self) -> tuple[str, int, int, int, int, int, int, bytes]:
        """ABI order of the Solidity struct."""
        return (
            self.grantee,
            self.categories,
            self.purposes,
            self.deny_categories,
            self.deny_purposes,
            self.valid_from,
            self.valid_until,
            self.document,
        )

    def check(self) -> None:
        """The same shape rules the contract applies, caught before anything is signed or sent."""
        _check_masks(self.categories, self.purposes, self.deny_categories, self.deny_purposes)
        if not 0 <= self.valid_from <= UINT40_MAX or not 0 < self.valid_until <= UINT40_MAX:
            raise InvalidInput(f"period {self.valid_from}..{self.valid_until} is not a pair of uint40 timestamps")
        if self.valid_until <= self.valid_from:
            raise InvalidInput(f"valid-until {self.valid_until} must be after valid-from {self.valid_from}")
        if len(self.document) != 32:
            raise InvalidInput("a document commitment is 32 bytes")


@dataclass(frozen=True)
class ModifyTerms:
    """``IConsentRegistry.ModifyTerms``."""

    categories: int
    purposes: int
    valid_until: int
    deny_categories: int = 0
    deny_purposes: int = 0

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.categories, self.purposes, self.deny_categories, self.deny_purposes, self.valid_until)

    def check(self) -> None:
        _check_masks(self.categories, self.purposes, self.deny_categories, self.deny_purposes)
        if not 0 < self.valid_until <= UINT40_MAX:
            raise InvalidInput(f"valid-until {self.valid_until} is not a uint40 timestamp")


def _check_masks(categories: int, purposes: int, deny_categories: int, deny_purposes: int) -> None:
    if categories <= 0 or categories & ~ALL_CATEGORIES:
        raise InvalidInput(f"categories mask {categories:#x} must be non-empty and within {ALL_CATEGORIES:#x}")
    if purposes <= 0 or purposes & ~GRANTABLE_PURPOSES:
        raise InvalidInput(
            f"purposes mask {purposes:#x} must be non-empty and within TREAT..PUBHLTH ({GRANTABLE_PURPOSES:#x}); "
            "ETREAT/BTG are break-glass only"
        )
    if (
        (deny_categories == 0) != (deny_purposes == 0)
        or deny_categories & ~ALL_CATEGORIES
        or (deny_purposes & ~ALL_PURPOSES)
    ):
        raise InvalidInput(f"deny provision {deny_categories:#x} x {deny_purposes:#x} needs both masks (or neither)")


@dataclass(frozen=True)
class ConsentState:
    """``IConsentRegistry.Consent``: the current consent slot of one (patient, grantee)."""

    id: int
    seq: int
    categories: int
    purposes: int
    deny_categories: int
    deny_purposes: int
    valid_from: int
    valid_until: int
    form_version: int

    @classmethod
    def from_tuple(cls, t: tuple[int, ...] | list[int]) -> ConsentState:
        return cls(*(int(x) for x in t))

    @property
    def exists(self) -> bool:
        return self.id != 0

    def active_at(self, timestamp: int) -> bool:
        return self.id != 0 and self.valid_from <= timestamp < self.valid_until

    def to_json(self) -> dict[str, object]:
        return {
            "consentId": uint_id(self.id),
            "seq": quantity(self.seq),  # a uint64: a string, like every integer wider than 48 bits
            "categories": [c.name.lower() for c in categories_of(self.categories)],
            "purposes": [p.name for p in purposes_of(self.purposes)],
            "denyCategories": [c.name.lower() for c in categories_of(self.deny_categories)],
            "denyPurposes": [p.name for p in purposes_of(self.deny_purposes)],
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "formVersion": self.form_version,
        }
