"""Custody and GS1 prefixes follow an organisation that rotated its directory key: the new key
commissions under the manufacturer's prefix, ships what the old key held, accepts what was sent
to the old key, dispenses; the old key is refused."""

from __future__ import annotations

import ape
from provenance_fixtures import DOC, EXPIRY, dispense, make_batch, parcel


def test_manufacturer_prefix_and_custody_follow_the_new_key(
    rotate, registry, directory, manufacturer, distributor, commissioned
):
    b = commissioned
    new = rotate(manufacturer)
    assert directory.gtinOwner(b.gtin)[0] == new.address
    # The prefix was attested to the old key; the new key commissions under it.
    fresh = make_batch(lot="LOT-ROT")
    registry.commission(fresh.gtin, fresh.lot32, EXPIRY, 8, fresh.tree.root, sender=new)
    # Custody recorded under the old key moves with the new one; the old key is refused.
    with ape.reverts(directory.KeyRetired, account=manufacturer.address, current=new.address):
        registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    tx = registry.ship(b.id, 0, distributor, 8, DOC, sender=new)
    assert tx.events.filter(registry.ShipmentSent)[0]["from"] == new.address
    assert parcel(registry, b, 0) == (manufacturer.address, 8, distributor.address)  # recorded, not rewritten
    # The batch's authority (quarantine) is the prefix owner's current key.
    registry.quarantine(b.id, b"\x01" * 32, sender=new)


def test_receiver_and_pharmacy_act_with_their_new_keys(
    rotate, registry, directory, manufacturer, distributor, pharmacy, commissioned
):
    b = commissioned
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    distributor2 = rotate(distributor)
    with ape.reverts(
        registry.NotParcelReceiver, batchId=b.id, start=0, account=pharmacy.address, to=distributor.address
    ):
        registry.accept(b.id, 0, sender=pharmacy)
    registry.accept(b.id, 0, sender=distributor2)  # sent to the old key, accepted by the new
    registry.ship(b.id, 0, pharmacy, 5, DOC, sender=distributor2)
    registry.accept(b.id, 0, sender=pharmacy)
    pharmacy2 = rotate(pharmacy)
    with ape.reverts(directory.KeyRetired, account=pharmacy.address, current=pharmacy2.address):
        dispense(registry, b, b.serials[0], pharmacy)
    dispense(registry, b, b.serials[0], pharmacy2)
    assert registry.dispenseOf(b.unit(b.serials[0])).pharmacy == pharmacy2.address
