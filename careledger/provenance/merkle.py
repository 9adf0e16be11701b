"""Positional serial trees: the tree the ProvenanceRegistry checks, position by position.

A batch of ``n`` serials is a perfect binary tree of depth ``d = ceil(log2(n))``. Position ``i``
(0-based) holds the leaf of the i-th serial, the OpenZeppelin ``StandardMerkleTree`` leaf of
``(uint256 gtin, bytes32 serial)`` = ``keccak256(keccak256(abi.encode(gtin, serial)))``; positions
``n .. 2^d - 1`` hold 32 zero bytes. An inner node is ``keccak256(left ‖ right)`` (not sorted: the
order is the position). A proof is the ``d`` siblings from the leaf up; bit ``k`` of the position
says whether the node at height ``k`` is a right child. The registry accepts only a proof of
exactly ``d`` siblings for a position below ``n``, so exactly ``n`` serials verify in a batch (an
OpenZeppelin sorted-pair tree cannot bind that: any node of it can be given as a "leaf").

``nodes`` is the heap array: ``nodes[1]`` the root, the children of ``i`` at ``2i`` and ``2i+1``,
leaf ``i`` at ``2^d + i``; ``nodes[0]`` is unused. The ``.tree`` file is ``nodes[1:]``, 32 bytes each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careledger._hash import keccak256 as keccak
from careledger.errors import InvalidInput

__all__ = ["ZERO_LEAF", "MerkleTree", "depth_for", "process_proof", "standard_leaf"]

ZERO_LEAF = bytes(32)


def standard_leaf(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``keccak256(bytes.concat(keccak256(abi.encode(values))))``."""
    from eth_abi.abi import encode as abi_encode  # only for generic leaf types (slow to import)

    return keccak(keccak(abi_encode(list(types), list(values))))


def depth_for(quantity: int) -> int:
    """``ceil(log2(quantity))``: the depth of the tree of a batch of ``quantity`` units."""
    if quantity < 1:
        raise InvalidInput(f"a batch needs at least one unit, not {quantity}")
    return (quantity - 1).bit_length()


def process_proof(leaf: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    """The root the proof of position ``index`` leads to (what the registry computes)."""
    node = leaf
    for sibling in proof:
        node = keccak(node + sibling) if index & 1 == 0 else keccak(sibling + node)
        index >>= 1
    return node


@dataclass
class MerkleTree:
    """A built positional tree (see the module docstring)."""

    nodes: list[bytes]
    leaf_count: int
    _positions: dict[bytes, int] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build from double-hashed leaves in position order. Duplicates refused."""
        n = len(leaves)
        if not n:
            raise InvalidInput("a Merkle tree needs at least one leaf")
        if len(set(leaves)) != n:
            seen: set[bytes] = set()
            dup = next(x for x in leaves if x in seen or seen.add(x))  # type: ignore[func-returns-value]
            raise InvalidInput(f"duplicate leaf 0x{dup.hex()}: the same value appears twice")
        width = 1 << depth_for(n)
        nodes: list[bytes] = [b""] * width + list(leaves) + [ZERO_LEAF] * (width - n)
        for i in range(width - 1, 0, -1):
            nodes[i] = keccak(nodes[2 * i] + nodes[2 * i + 1])
        return cls(nodes, n)

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str]) -> MerkleTree:
        """Build from values (leaf = :func:`standard_leaf`), in position order."""
        return cls.from_leaves([standard_leaf(types, v) for v in values])

    @property
    def depth(self) -> int:
        return (len(self.nodes) // 2).bit_length() - 1

    @property
    def root(self) -> bytes:
        return self.nodes[1]

    def index_of(self, leaf: bytes) -> int | None:
        """Position of ``leaf``; None if absent."""
        if self._positions is None:
            width = len(self.nodes) // 2
            self._positions = {leaf: i for i, leaf in enumerate(self.nodes[width : width + self.leaf_count])}
        return self._positions.get(leaf)

    def proof_at(self, index: int) -> list[bytes]:
        """The siblings from position ``index`` up to the root."""
        if not 0 <= index < self.leaf_count:
            raise InvalidInput(f"position {index} is outside the tree of {self.leaf_count} leaves")
        i = len(self.nodes) // 2 + index
        proof: list[bytes] = []
        while i > 1:
            proof.append(self.nodes[i ^ 1])
            i >>= 1
        return proof

    def proof(self, leaf: bytes) -> tuple[int, list[bytes]]:
        """(position, proof) of ``leaf``; :class:`InvalidInput` if it is not a leaf."""
        index = self.index_of(leaf)
        if index is None:
            raise InvalidInput(f"leaf 0x{leaf.hex()} is not in this tree")
        return index, self.proof_at(index)

    # ------------------------------------------------------------------ files

    def to_bytes(self) -> bytes:
        return b"".join(self.nodes[1:])

    @classmethod
    def from_bytes(cls, data: bytes) -> MerkleTree:
        count = len(data) // 32
        if len(data) % 32 or not data or (count + 1) & count:
            raise InvalidInput("a tree file must hold 2^(d+1)-1 nodes of 32 bytes")
        nodes = [b""] + [data[i : i + 32] for i in range(0, len(data), 32)]
        width = (count + 1) // 2
        leaves = nodes[width:]
        n = width
        while n > 1 and leaves[n - 1] == ZERO_LEAF:
            n -= 1
        return cls(nodes, n)

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> MerkleTree:
        return cls.from_bytes(path.read_bytes())
