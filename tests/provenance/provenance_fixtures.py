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

    def proof(self, serial: str) -> list[bytes]:
        return self.tree.proof(leaf_hash(self.gtin, serial))

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
    """The default batch moved manufacturer -> distributor (8) -> pharmacy (5)."""
    b = commissioned
    registry.ship(b.id, distributor, 8, DOC, sender=manufacturer)
    registry.accept(b.id, sender=distributor)
    registry.ship(b.id, pharmacy, 5, DOC, sender=distributor)
    registry.accept(b.id, sender=pharmacy)
    return b


def custody(registry, b, account) -> tuple[int, int, str]:
    c = registry.custodyOf(b.id, account)
    return int(c.held), int(c.incoming), str(c.sender)


ZERO = "0x" + "00" * 20
__all__ = ["DOC", "EXPIRY", "GTIN", "GTIN2", "REASON", "ZERO", "Batch", "ape", "custody", "make_batch"]
