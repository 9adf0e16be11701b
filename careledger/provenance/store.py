"""The local store of commissioned batches: serial lists and Merkle trees stay off chain.

Layout, under ``$CARELEDGER_HOME/.careledger/provenance/`` (``$CARELEDGER_PROVENANCE_DIR``
moves it):

- ``<batchId>.json``: ``{batchId, gtin, lot, expiry, quantity, root, serials}``;
- ``<batchId>.tree``: the positional tree's nodes, 32 bytes each, root first and the leaves in
  serial order at the end (:mod:`careledger.provenance.merkle`), so a proof is a leaf lookup plus
  ``log2(n)`` reads;
- ``index.json``: ``{"<gtin>/<lot>": batchId}`` so a scan finds its batch without the chain.

The chain holds only the root: whoever verifies a unit needs the tree (this store, a file from the
manufacturer, or ``--serials FILE``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger._paths import project_root
from careledger.errors import InvalidInput
from careledger.provenance.ids import batch_id, leaf_hash, text_to_bytes32
from careledger.provenance.merkle import MerkleTree

__all__ = ["BatchFile", "ProvenanceStore", "build_batch", "read_serials"]


def read_serials(path: Path, progress: Callable[[int], None] | None = None) -> list[str]:
    """Serials from a file: one per line, or CSV whose first column (or ``serial`` column) holds them.
    Blank lines and ``#`` comments are skipped; every serial is checked (1-20 GS1 characters)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"serials file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"serials file {str(path)!r} is not UTF-8 text") from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    column = 0
    if lines and "," in lines[0]:
        header = [h.strip().lower() for h in lines[0].split(",")]
        if "serial" in header:
            column = header.index("serial")
            lines = lines[1:]
    serials: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        value = line.split(",")[column].strip().strip('"') if "," in line else line
        text_to_bytes32(value, f"serial on line {n}")
        if value in seen:
            raise InvalidInput(f"serial {value!r} appears twice in {str(path)!r}")
        seen.add(value)
        serials.append(value)
        if progress is not None and n % 1000 == 0:
            progress(1000)
    if not serials:
        raise InvalidInput(f"serials file {str(path)!r} holds no serials")
    if progress is not None:
        progress(len(serials) % 1000)
    return serials


@dataclass
class BatchFile:
    gtin: int
    lot: str
    expiry: int
    serials: list[str]
    tree: MerkleTree

    @property
    def batch_id(self) -> bytes:
        return batch_id(self.gtin, self.lot)

    @property
    def root(self) -> bytes:
        return self.tree.root

    def index(self, serial: str) -> int | None:
        """The position of ``serial`` in the batch (its line in the serial list), or None."""
        return self.tree.index_of(leaf_hash(self.gtin, serial))

    def proof(self, serial: str) -> list[bytes] | None:
        """The proof of ``serial`` at its position, or None when it is not one of this batch's serials."""
        index = self.index(serial)
        return None if index is None else self.tree.proof_at(index)

    def locate(self, serial: str) -> tuple[int, list[bytes]] | None:
        """(position, proof) of ``serial``, or None when it is not one of this batch's serials."""
        index = self.index(serial)
        return None if index is None else (index, self.tree.proof_at(index))

    def to_json(self) -> dict[str, Any]:
        return {
            "batchId": "0x" + self.batch_id.hex(),
            "gtin": f"{self.gtin:014d}",
            "lot": self.lot,
            "expiry": f"{self.expiry:06d}",
            "quantity": len(self.serials),
            "root": "0x" + self.root.hex(),
            "serials": self.serials,
        }


def build_batch(gtin: int, lot: str, expiry: int, serials: Iterable[str]) -> BatchFile:
    items = list(serials)
    text_to_bytes32(lot, "lot")
    tree = MerkleTree.from_leaves([leaf_hash(gtin, s) for s in items])
    return BatchFile(gtin, lot, expiry, items, tree)


class ProvenanceStore:
    def __init__(self, folder: Path | None = None) -> None:
        env = os.environ.get("CARELEDGER_PROVENANCE_DIR")
        self.folder = folder or (Path(env) if env else project_root() / ".careledger" / "provenance")

    def _paths(self, bid: bytes) -> tuple[Path, Path]:
        name = "0x" + bid.hex()
        return self.folder / f"{name}.json", self.folder / f"{name}.tree"

    def _index(self) -> dict[str, str]:
        path = self.folder / "index.json"
        if not path.is_file():
            return {}
        data: dict[str, str] = json.loads(path.read_text())
        return data

    def save(self, batch: BatchFile) -> Path:
        # Imported here: exactjson pulls in eth_utils (~120 ms), which the scan-to-verdict path
        # (`drugs verify`, proof_only) must not pay.
        from careledger.exactjson import dumps

        self.folder.mkdir(parents=True, exist_ok=True)
        meta, tree = self._paths(batch.batch_id)
        batch.tree.save(tree)
        meta.write_text(dumps(batch.to_json(), indent=None))
        index = self._index()
        index[f"{batch.gtin:014d}/{batch.lot}"] = "0x" + batch.batch_id.hex()
        (self.folder / "index.json").write_text(dumps(index, indent=1))
        return meta

    def load(self, bid: bytes) -> BatchFile | None:
        meta, tree = self._paths(bid)
        if not meta.is_file():
            return None
        data = json.loads(meta.read_text())
        merkle = (
            MerkleTree.load(tree)
            if tree.is_file()
            else build_batch(int(data["gtin"]), data["lot"], int(data["expiry"]), data["serials"]).tree
        )
        return BatchFile(int(data["gtin"]), data["lot"], int(data["expiry"]), list(data["serials"]), merkle)

    def find(self, gtin: int, lot: str) -> BatchFile | None:
        return self.load(batch_id(gtin, lot))

    def proof_only(self, gtin: int, lot: str, serial: str) -> tuple[int, list[bytes]] | None:
        """(position, proof) from the ``.tree`` file alone (no serial list parsed): the fast path
        of verify. None when the batch is not in the store."""
        _, tree = self._paths(batch_id(gtin, lot))
        if not tree.is_file():
            return None
        merkle = MerkleTree.load(tree)
        index = merkle.index_of(leaf_hash(gtin, serial))
        # An unknown serial gets an empty proof: the chain then answers No_match_GTIN_Serial.
        return (0, []) if index is None else (index, merkle.proof_at(index))

    def duplicates(self, gtin: int, serials: Iterable[str], exclude: bytes | None = None) -> list[str]:
        """Serials of ``gtin`` already commissioned in another stored batch (refused off chain)."""
        wanted = set(serials)
        clash: list[str] = []
        for key, bid in self._index().items():
            g, _, _lot = key.partition("/")
            if int(g) != gtin or (exclude is not None and bid == "0x" + exclude.hex()):
                continue
            stored = self.load(bytes.fromhex(bid[2:]))
            if stored is not None:
                clash.extend(s for s in stored.serials if s in wanted)
        return clash
