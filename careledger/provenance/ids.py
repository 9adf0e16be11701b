"""The identifiers the ProvenanceRegistry derives on chain, mirrored byte for byte.

- GS1 lot (AI 10) and serial (AI 21) values travel as ``bytes32``: the ASCII bytes left-aligned
  and zero-padded (what Solidity's ``bytes32("ABC")`` gives).
- ``unit_id(gtin, serial) = keccak256(abi.encode(uint256 gtin, bytes32 serial))``: one id per
  GTIN+serial across every batch (cloned serials collide on purpose).
- ``batch_id(gtin, lot)`` = the top 56 bits of ``keccak256(abi.encode(uint256 gtin, bytes32 lot))``,
  right-aligned in 32 bytes.
- The Merkle leaf of a unit is the OpenZeppelin StandardMerkleTree leaf of types
  ``["uint256", "bytes32"]`` = ``(gtin, serial)``: ``keccak256(unit_id)``, placed at the unit's
  position in the batch's positional tree (:mod:`careledger.provenance.merkle`).
"""

from __future__ import annotations

import re

from careledger._hash import keccak256 as keccak
from careledger.errors import InvalidInput

__all__ = [
    "GS1_CHARS",
    "LEAF_TYPES",
    "batch_id",
    "bytes32_to_text",
    "leaf_hash",
    "serial_to_bytes32",
    "text_to_bytes32",
    "unit_id",
]

# GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
GS1_CHARS = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_GS1_RE = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
LEAF_TYPES = ("uint256", "bytes32")


def text_to_bytes32(value: str, what: str = "serial") -> bytes:
    """A GS1 lot or serial (1-20 characters of GS1 set 82) as left-aligned, zero-padded bytes32."""
    if not isinstance(value, str) or not _GS1_RE.match(value):
        if isinstance(value, str) and len(value) > 20:
            raise InvalidInput(f"{what} {value!r} has {len(value)} characters; GS1 allows 1 to 20")
        if isinstance(value, str) and not value:
            raise InvalidInput(f"{what} is empty; GS1 needs 1 to 20 characters")
        bad = next((c for c in str(value) if c not in GS1_CHARS), None)
        raise InvalidInput(f"{what} {value!r} has a character outside the GS1 set: {bad!r}")
    return value.encode("ascii").ljust(32, b"\0")


serial_to_bytes32 = text_to_bytes32


def bytes32_to_text(value: bytes | str) -> str:
    """The inverse of :func:`text_to_bytes32` (accepts raw bytes or 0x-hex)."""
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)
    return raw.rstrip(b"\0").decode("ascii", errors="replace")


def _gtin_word(gtin: int) -> bytes:
    if not 0 < gtin <= 99_999_999_999_999:
        raise InvalidInput(f"GTIN {gtin} is not a GTIN-14")
    return gtin.to_bytes(32, "big")


def unit_id(gtin: int, serial: str | bytes) -> bytes:
    """``keccak256(abi.encode(gtin, serial))`` as 32 bytes."""
    s = text_to_bytes32(serial) if isinstance(serial, str) else serial
    return keccak(_gtin_word(gtin) + s)


def batch_id(gtin: int, lot: str | bytes) -> bytes:
    """The 56-bit batch id the contract derives from GTIN and lot, right-aligned in 32 bytes."""
    lot32 = text_to_bytes32(lot, "lot") if isinstance(lot, str) else lot
    return bytes(25) + keccak(_gtin_word(gtin) + lot32)[:7]


def leaf_hash(gtin: int, serial: str | bytes) -> bytes:
    """The StandardMerkleTree leaf of ``(gtin, serial)``: ``keccak256(keccak256(abi.encode(...)))``."""
    return keccak(unit_id(gtin, serial))
