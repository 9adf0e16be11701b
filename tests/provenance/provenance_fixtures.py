"""Provenance fixtures: the registry on the shared directory, and batches with their trees."""

from __future__ import annotations

from dataclasses import dataclass

import ape
import pytest

from careledger.provenance.ids import batch_id, leaf_hash, text_to_bytes32, unit_id
from careledger.provenance.merkle import MerkleTree

GTIN = 9506000134352  # GS1's example GTIN (check digit 2)
GTIN2 = 4006381333931  # another valid GTIN-13 as GTIN-14
EXPIRY = 301231  # 31 Dec 2030
DOC = bytes.fromhex("d0" * 32)
REASON = b"RECALL-CLASS-I".ljust(32, b"\0")


@dataclass
class Batch:
    gtin: int
    lot: str
    expiry: int
    serials: list[str]
    tree: MerkleTree

    @property
    def id(self) -> bytes:
        return batch_id(self.gtin, self.lot)

    @property
    def lot32(self) -> bytes:
        return text_to_bytes32(self.lot, "lot")

    def index(self, serial: str) -> int:
        return self.tree.proof(leaf_hash(self.gtin, serial))[0]

    def proof(self, serial: str) -> list[bytes]:
        return self.tree.proof(leaf_hash(self.gtin, serial))[1]

    def unit(self, serial: str) -> bytes:
        return unit_id(self.gtin, serial)


def make_batch(gtin: int = GTIN, lot: str = "LOT-A1", n: int = 8, prefix: str = "SN", expiry: int = EXPIRY) -> Batch:
    serials = [f"{prefix}{i:06d}" for i in range(n)]
    tree = MerkleTree.from_leaves([leaf_hash(gtin, s) for s in serials])
    return Batch(gtin, lot, expiry, serials, tree)


@pytest.fixture(scope="session")
def registry(project, directory, admin):
    return project.ProvenanceRegistry.deploy(directory, sender=admin)


@pytest.fixture
def batch():
    return make_batch()


@pytest.fixture
def commissioned(registry, manufacturer, batch):
    """The default batch of 8 units, commissioned by the manufacturer."""
    registry.commission(batch.gtin, batch.lot32, batch.expiry, len(batch.serials), batch.tree.root, sender=manufacturer)
    return batch


@pytest.fixture
def at_pharmacy(registry, commissioned, manufacturer, distributor, pharmacy):
    """The default batch moved manufacturer -> distributor (all 8) -> pharmacy (positions 0-4);
    the distributor keeps positions 5-7 (parcel 5)."""
    b = commissioned
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    registry.accept(b.id, 0, sender=distributor)
    registry.ship(b.id, 0, pharmacy, 5, DOC, sender=distributor)
    registry.accept(b.id, 0, sender=pharmacy)
    return b


def parcel(registry, b, start) -> tuple[str, int, str]:
    """(holder, end, in transit to) of the parcel ``start`` of the batch."""
    p = registry.parcelOf(b.id, start)
    return str(p.holder), int(p.end), str(p.to)


def dispense(registry, b, serial, sender, parcel_start=0, **kw):
    return registry.dispense(
        b.gtin, b.lot32, text_to_bytes32(serial), b.index(serial), parcel_start, b.proof(serial), sender=sender, **kw
    )


def verify(registry, b, serial, expiry=EXPIRY, index=None, proof=None, **kw):
    """(Verdict code, dispensedBy) of the serial as scanned."""
    i = b.index(serial) if index is None else index
    p = b.proof(serial) if proof is None else proof
    return registry.verify(b.gtin, b.lot32, expiry, text_to_bytes32(serial), i, p, **kw)


ZERO = "0x" + "00" * 20
__all__ = [
    "DOC",
    "EXPIRY",
    "GTIN",
    "GTIN2",
    "REASON",
    "ZERO",
    "Batch",
    "ape",
    "dispense",
    "make_batch",
    "parcel",
    "verify",
]
