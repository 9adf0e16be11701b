"""EIP-55 checksummed addresses without eth_utils (start-up cost)."""

from __future__ import annotations

from careledger._hash import keccak256


def to_checksum(address: str) -> str:
    hex_addr = address.lower().removeprefix("0x")
    digest = keccak256(hex_addr.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_addr))
