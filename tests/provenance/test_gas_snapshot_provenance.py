"""Provenance gas on the embedded chain, against the committed snapshot (tests/gas_snapshot.py):
commissioning a 1,000-unit batch, a partial shipment, its acceptance, a dispense."""

from __future__ import annotations

import gas_snapshot
from provenance_fixtures import DOC, EXPIRY, dispense, make_batch


def test_provenance_gas_matches_snapshot(registry, directory, manufacturer, distributor, pharmacy):
    b = make_batch(lot="LOT-GAS", n=1000)
    commission = registry.commission(b.gtin, b.lot32, EXPIRY, 1000, b.tree.root, sender=manufacturer)
    ship = registry.ship(b.id, 0, distributor, 500, DOC, sender=manufacturer)  # the rest stays: a new parcel
    accept = registry.accept(b.id, 0, sender=distributor)
    registry.ship(b.id, 0, pharmacy, 100, DOC, sender=distributor)
    registry.accept(b.id, 0, sender=pharmacy)
    unit = dispense(registry, b, b.serials[42], pharmacy)
    gas_snapshot.check(
        {
            "drugs.commission": commission.gas_used,
            "drugs.ship": ship.gas_used,
            "drugs.accept": accept.gas_used,
            "drugs.dispense": unit.gas_used,
        }
    )
