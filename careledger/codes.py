"""Python mirrors of the code tables in ``contracts/common`` (Roles, Purpose, Category).

They are bit indexes (Purpose, Category) or bit flags (Role) exactly as on chain, so values pass
through ABI encoding unchanged.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from careledger.errors import InvalidInput

__all__ = ["Category", "Purpose", "Role", "mask_of", "parse_role"]


class Role(IntFlag):
    """Participant roles (``contracts/common/Roles.sol``)."""

    PROVIDER = 1 << 0
    INSURER = 1 << 1
    MANUFACTURER = 1 << 2
    DISTRIBUTOR = 1 << 3
    PHARMACY = 1 << 4
    REGULATOR = 1 << 5
    RELAYER = 1 << 6


class Purpose(IntEnum):
    """HL7 v3 PurposeOfUse codes (``contracts/common/CareTypes.sol``)."""

    TREAT = 0
    HPAYMT = 1
    HOPERAT = 2
    HRESCH = 3
    PUBHLTH = 4
    ETREAT = 5
    BTG = 6


class Category(IntEnum):
    """Data categories over FHIR R4 resource types (``contracts/common/CareTypes.sol``)."""

    PATIENT = 0
    ENCOUNTER = 1
    CONDITION = 2
    OBSERVATION = 3
    MEDICATION = 4
    IMMUNIZATION = 5
    ALLERGY = 6
    PROCEDURE = 7
    DIAGNOSTIC_REPORT = 8
    DOCUMENT = 9
    IMAGING = 10
    FINANCIAL = 11
    MENTAL_HEALTH = 12
    GENOMIC = 13
    SUBSTANCE_USE = 14


def mask_of(*codes: IntEnum) -> int:
    """The bit set holding each code (``1 << code``)."""
    mask = 0
    for code in codes:
        mask |= 1 << int(code)
    return mask


def parse_role(text: str) -> Role:
    """``"pharmacy"`` or ``"provider,relayer"`` -> :class:`Role` flags; raises ``ValueError``."""
    role = Role(0)
    for part in text.split(","):
        name = part.strip().upper()
        if name not in Role.__members__:
            known = ", ".join(m.lower() for m in Role.__members__)
            raise InvalidInput(f"unknown role {part.strip()!r} (known: {known})")
        role |= Role[name]
    if not role:
        raise InvalidInput("no role given")
    return role
