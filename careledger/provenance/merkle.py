"""OpenZeppelin ``StandardMerkleTree``-compatible trees (``@openzeppelin/merkle-tree`` 1.x).

Leaves are double-hashed ``keccak256(keccak256(abi.encode(values)))``, sorted ascending, laid out
in one array the way the JavaScript library does (leaf ``i`` of the sorted list at
``len(tree) - 1 - i``), and every inner node hashes its two children in sorted order, which is
what OpenZeppelin's ``MerkleProof`` checks. ``dump()`` gives the library's ``standard-v1`` JSON,
so ``StandardMerkleTree.load(dump)`` in the web client yields the same root and proofs.

For a batch of unit serials the values are ``(gtin, serial)`` with types ``["uint256","bytes32"]``.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger._hash import keccak256 as keccak
from careledger.errors import InvalidInput

__all__ = ["MerkleTree", "hash_pair", "process_proof", "standard_leaf"]


def standard_leaf(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``keccak256(bytes.concat(keccak256(abi.encode(values))))``."""
    from eth_abi.abi import encode as abi_encode  # only for generic leaf types (slow to import)

    return keccak(keccak(abi_encode(list(types), list(values))))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to (``MerkleProof.processProof``)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


@dataclass
class MerkleTree:
    """A built tree: ``nodes`` in the library's array layout, leaves sorted ascending."""

    nodes: list[bytes]
    leaf_count: int

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build from already double-hashed leaves (any order; sorted here). Duplicates refused."""
        if not leaves:
            raise InvalidInput("a Merkle tree needs at least one leaf")
        ordered = sorted(leaves)
        for a, b in itertools.pairwise(ordered):
            if a == b:
                raise InvalidInput(f"duplicate leaf 0x{a.hex()}: the same value appears twice")
        n = len(ordered)
        nodes: list[bytes] = [b""] * (2 * n - 1)
        for i, leaf in enumerate(ordered):
            nodes[len(nodes) - 1 - i] = leaf
        for i in range(len(nodes) - 1 - n, -1, -1):
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
        return cls(nodes, n)

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str]) -> MerkleTree:
        return cls.from_leaves([standard_leaf(types, v) for v in values])

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def tree_index(self, leaf: bytes) -> int | None:
        """Array index of ``leaf``, by binary search over the sorted leaves; None if absent."""
        n = self.leaf_count
        # Leaves in ascending order are nodes[-1], nodes[-2], ..., nodes[n-1].
        ascending = _ReversedView(self.nodes, n)
        i = bisect_left(ascending, leaf)
        if i < n and ascending[i] == leaf:
            return len(self.nodes) - 1 - i
        return None

    def proof(self, leaf: bytes) -> list[bytes]:
        """Sibling hashes from ``leaf`` to the root; :class:`InvalidInput` if not a leaf."""
        index = self.tree_index(leaf)
        if index is None:
            raise InvalidInput(f"leaf 0x{leaf.hex()} is not in this tree")
        return self.proof_at(index)

    def proof_at(self, index: int) -> list[bytes]:
        proof: list[bytes] = []
        while index > 0:
            sibling = index + 1 if index % 2 == 1 else index - 1
            proof.append(self.nodes[sibling])
            index = (index - 1) // 2
        return proof

    # ------------------------------------------------------------------ files

    def to_bytes(self) -> bytes:
        return b"".join(self.nodes)

    @classmethod
    def from_bytes(cls, data: bytes) -> MerkleTree:
        if len(data) % 32 or not data:
            raise InvalidInput("a Merkle tree file must hold a whole number of 32-byte nodes")
        nodes = [data[i : i + 32] for i in range(0, len(data), 32)]
        return cls(nodes, (len(nodes) + 1) // 2)

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> MerkleTree:
        return cls.from_bytes(path.read_bytes())

    def dump(self, types: Sequence[str], values: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """The ``standard-v1`` JSON of ``@openzeppelin/merkle-tree`` for these values."""
        out_values: list[dict[str, Any]] = []
        for value in values:
            index = self.tree_index(standard_leaf(types, value))
            if index is None:
                raise InvalidInput(f"value {value!r} is not in this tree")
            out_values.append({"value": [_json_value(v) for v in value], "treeIndex": index})
        return {
            "format": "standard-v1",
            "leafEncoding": list(types),
            "tree": ["0x" + n.hex() for n in self.nodes],
            "values": out_values,
        }


def _json_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, int):
        return str(v)
    return v


class _ReversedView(Sequence[bytes]):
    """The leaves of a tree array in ascending order, without copying."""

    def __init__(self, nodes: list[bytes], n: int) -> None:
        self._nodes = nodes
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        return self._nodes[len(self._nodes) - 1 - i]
