"""keccak256 without importing eth_utils (which costs ~0.2-0.4 s at start-up): the CLI's
one-scan verify must answer in under a second from process start."""

from __future__ import annotations

from Crypto.Hash import keccak as _keccak

__all__ = ["keccak256"]


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()
