"""ProvenanceRegistry: GTIN ownership, commissioning, parcel custody, dispensing, recall /
quarantine / void, verification. The tests named ``test_attack_*`` play a dishonest participant
(PRIVACY.md trust boundaries) and fail on the v1 registry."""

from __future__ import annotations

import ape
import pytest
from provenance_fixtures import DOC, EXPIRY, GTIN, GTIN2, REASON, ZERO, dispense, make_batch, parcel, verify

from careledger.codes import Role
from careledger.provenance.client import Verdict
from careledger.provenance.ids import batch_id, leaf_hash, text_to_bytes32, unit_id
from careledger.provenance.merkle import MerkleTree, depth_for

S32 = text_to_bytes32


@pytest.fixture
def rival(accounts, directory, admin):
    """A second vetted manufacturer with its own GS1 company prefix (0614141), not the test GTINs'."""
    acct = accounts.generate_test_account()
    accounts[0].transfer(acct, 10**20)
    directory.register(acct, int(Role.MANUFACTURER), b"\xc2" * 32, sender=admin)
    directory.attestPrefix(acct, 614141, 7, b"\xc3" * 32, sender=admin)
    return acct


@pytest.fixture
def pharmacy2(accounts, directory, admin):
    acct = accounts.generate_test_account()
    accounts[0].transfer(acct, 10**20)
    directory.register(acct, int(Role.PHARMACY), b"\xc4" * 32, sender=admin)
    return acct


# ---------------------------------------------------------------------------- ids


def test_ids_match_python_mirror(registry):
    assert registry.unitIdOf(GTIN, S32("SN1")) == unit_id(GTIN, "SN1")
    assert registry.batchIdOf(GTIN, S32("LOT-A1", "lot")) == batch_id(GTIN, "LOT-A1")
    assert batch_id(GTIN, "LOT-A1")[:25] == bytes(25)  # 56 bits


# ---------------------------------------------------------------------------- commission


def test_commission_records_batch_and_first_parcel(registry, manufacturer, batch):
    tx = registry.commission(batch.gtin, batch.lot32, EXPIRY, 8, batch.tree.root, sender=manufacturer)
    info = registry.batchInfo(batch.id)
    assert (info.merkleRoot, info.gtin, info.quantity, info.expiry, info.status) == (
        batch.tree.root,
        GTIN,
        8,
        EXPIRY,
        1,
    )
    assert info.expiresAt == 1924992000  # 2031-01-01T00:00:00Z, the day after 2030-12-31
    assert parcel(registry, batch, 0) == (manufacturer.address, 8, ZERO)
    assert tx.events == [
        registry.BatchCommissioned(
            batchId=batch.id,
            manufacturer=manufacturer,
            gtin=GTIN,
            lot=batch.lot32,
            expiry=EXPIRY,
            quantity=8,
            merkleRoot=batch.tree.root,
        )
    ]


def test_commission_gas_same_for_any_quantity(registry, manufacturer):
    gas = []
    for i, n in enumerate((1, 1000, 100_000)):
        b = make_batch(lot=f"LOT-Q{i}", n=1)  # the root is a constant-size value: quantity is a number
        tx = registry.commission(b.gtin, b.lot32, EXPIRY, n, b.tree.root, sender=manufacturer)
        gas.append(tx.gas_used)
    assert max(gas) - min(gas) <= 24  # calldata bytes of the quantity differ by at most 2 nonzero bytes


def test_commission_twice_refused(registry, manufacturer, commissioned):
    b = commissioned
    with ape.reverts(registry.BatchAlreadyCommissioned, batchId=b.id):
        registry.commission(b.gtin, b.lot32, EXPIRY, 8, b.tree.root, sender=manufacturer)


def test_commission_day_00_means_last_day_of_month(registry, manufacturer):
    b = make_batch(lot="LOT-FEB", expiry=280200)
    registry.commission(b.gtin, b.lot32, 280200, 8, b.tree.root, sender=manufacturer)
    assert registry.batchInfo(b.id).expiresAt == 1835481600  # 2028-03-01: Feb 2028 has 29 days


@pytest.mark.parametrize("gtin", [0, GTIN + 1, 10**14])
def test_commission_invalid_gtin_refused(registry, manufacturer, gtin):
    b = make_batch()
    with ape.reverts(registry.InvalidGtin, gtin=gtin):
        registry.commission(gtin, b.lot32, EXPIRY, 8, b.tree.root, sender=manufacturer)


@pytest.mark.parametrize("expiry", [301301, 1_000_000, 300000])
def test_commission_invalid_expiry_refused(registry, manufacturer, expiry):
    b = make_batch()
    with ape.reverts(registry.InvalidGs1Date, value=expiry):
        registry.commission(b.gtin, b.lot32, expiry, 8, b.tree.root, sender=manufacturer)


@pytest.mark.parametrize(("expiry", "day", "days"), [(300231, 31, 28), (301232, 32, 31)])
def test_commission_expiry_day_the_month_lacks_refused(registry, manufacturer, expiry, day, days):
    b = make_batch()
    with ape.reverts(registry.NoSuchDay, value=expiry, year=2030, day=day, daysInMonth=days):
        registry.commission(b.gtin, b.lot32, expiry, 8, b.tree.root, sender=manufacturer)


def test_commission_past_expiry_refused(registry, manufacturer):
    b = make_batch()
    with ape.reverts(registry.ExpiryInPast, expiry=200101, expiresAt=1577923200):
        registry.commission(b.gtin, b.lot32, 200101, 8, b.tree.root, sender=manufacturer)


def test_commission_empty_values_refused(registry, manufacturer, batch):
    with ape.reverts(registry.EmptyLot):
        registry.commission(GTIN, b"\0" * 32, EXPIRY, 8, batch.tree.root, sender=manufacturer)
    with ape.reverts(registry.EmptyCommitment):
        registry.commission(GTIN, batch.lot32, EXPIRY, 8, b"\0" * 32, sender=manufacturer)
    with ape.reverts(registry.InvalidQuantity, quantity=0):
        registry.commission(GTIN, batch.lot32, EXPIRY, 0, batch.tree.root, sender=manufacturer)


@pytest.mark.parametrize("who", ["distributor", "pharmacy", "regulator", "outsider"])
def test_commission_by_non_manufacturer_refused(registry, directory, request, who, batch):
    acct = request.getfixturevalue(who)
    err = directory.ParticipantNotRegistered if who == "outsider" else directory.ParticipantLacksRole
    kwargs = (
        {"account": acct.address}
        if who == "outsider"
        else {"account": acct.address, "requiredRoles": int(Role.MANUFACTURER)}
    )
    with ape.reverts(err, **kwargs):
        registry.commission(GTIN, batch.lot32, EXPIRY, 8, batch.tree.root, sender=acct)


def test_commission_by_suspended_manufacturer_refused(registry, directory, admin, manufacturer, batch):
    directory.suspend(manufacturer, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=manufacturer.address):
        registry.commission(GTIN, batch.lot32, EXPIRY, 8, batch.tree.root, sender=manufacturer)


# ---------------------------------------------------------------------------- 1. a brand's GTINs are its own


def test_attack_rival_cannot_commission_a_brands_gtin(registry, directory, manufacturer, rival, batch):
    """v1: any vetted manufacturer commissioned a competitor's GTIN under the lot it would print
    next; counterfeits verified and the real lot could no longer be commissioned."""
    with ape.reverts(directory.NotGtinOwner, account=rival.address, gtin=GTIN, owner=manufacturer.address):
        registry.commission(GTIN, batch.lot32, EXPIRY, 8, batch.tree.root, sender=rival)
    # The real maker's lot is still free, and the rival's own GTINs work.
    registry.commission(GTIN, batch.lot32, EXPIRY, 8, batch.tree.root, sender=manufacturer)
    own = make_batch(gtin=614141000012, lot="RIVAL-1")
    registry.commission(own.gtin, own.lot32, EXPIRY, 8, own.tree.root, sender=rival)


def test_commission_of_gtin_with_no_attested_prefix_refused(registry, directory, manufacturer, batch):
    gtin = 7612345678900  # valid check digit, prefix 761234x attested to nobody
    with ape.reverts(directory.NotGtinOwner, account=manufacturer.address, gtin=gtin, owner=ZERO):
        registry.commission(gtin, batch.lot32, EXPIRY, 8, batch.tree.root, sender=manufacturer)


def test_attack_rival_cannot_recall_or_quarantine_a_brands_batch(registry, manufacturer, rival, commissioned):
    """v1: the real maker could not recall an impostor's batch, and a rival's 'NotBatchManufacturer'
    test keyed on who commissioned; now authority is the GTIN's owner (or a regulator)."""
    for fn in (registry.recall, registry.quarantine, registry.liftQuarantine):
        with ape.reverts(
            registry.NotGtinOwnerOfBatch, batchId=commissioned.id, account=rival.address, owner=manufacturer.address
        ):
            fn(commissioned.id, REASON, sender=rival)


def test_authority_follows_the_prefix_when_it_moves(registry, directory, admin, manufacturer, rival, commissioned):
    """A brand sold to another company: the registrar moves the prefix; the new owner may recall
    the batches of its GTIN and the old owner no longer may."""
    directory.revokePrefix(9506000, 7, REASON, sender=admin)
    directory.attestPrefix(rival, 9506000, 7, b"\xc5" * 32, sender=admin)
    with ape.reverts(
        registry.NotGtinOwnerOfBatch, batchId=commissioned.id, account=manufacturer.address, owner=rival.address
    ):
        registry.quarantine(commissioned.id, REASON, sender=manufacturer)
    tx = registry.recall(commissioned.id, REASON, sender=rival)
    assert [e.by for e in tx.events.filter(registry.BatchRecalled)] == [rival.address]


def test_regulator_voids_a_batch(registry, directory, manufacturer, regulator, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[1]
    dispense(registry, b, s, pharmacy)
    with ape.reverts(directory.ParticipantLacksRole, account=manufacturer.address, requiredRoles=int(Role.REGULATOR)):
        registry.voidBatch(b.id, REASON, sender=manufacturer)  # the owner recalls; only a regulator voids
    registry.recall(b.id, REASON, sender=manufacturer)
    tx = registry.voidBatch(b.id, REASON, sender=regulator)  # void overrides a recall
    assert tx.events == [registry.BatchVoided(batchId=b.id, by=regulator, reasonCode=REASON)]
    assert registry.batchInfo(b.id).status == 4
    assert Verdict(verify(registry, b, b.serials[0])[0]) is Verdict.VOIDED
    with ape.reverts(registry.BatchIsVoided, batchId=b.id):
        dispense(registry, b, b.serials[0], pharmacy)
    with ape.reverts(registry.BatchIsVoided, batchId=b.id):
        registry.voidBatch(b.id, REASON, sender=regulator)
    for fn in (registry.recall, registry.liftQuarantine):
        with ape.reverts(registry.BatchIsVoided, batchId=b.id):
            fn(b.id, REASON, sender=regulator)
    d = registry.dispenseOf(b.unit(s))
    assert (d.pharmacy, d.recalled, d.quarantined) == (pharmacy.address, True, False)


def test_void_needs_reason_and_known_batch(registry, regulator, commissioned):
    with ape.reverts(registry.EmptyReasonCode):
        registry.voidBatch(commissioned.id, b"\0" * 32, sender=regulator)
    unknown = batch_id(GTIN2, "NOPE")
    with ape.reverts(registry.UnknownBatch, batchId=unknown):
        registry.voidBatch(unknown, REASON, sender=regulator)


# ---------------------------------------------------------------------------- custody: parcels


def test_ship_then_accept_moves_a_parcel(registry, manufacturer, distributor, commissioned):
    b = commissioned
    tx = registry.ship(b.id, 0, distributor, 3, DOC, sender=manufacturer)
    assert tx.events == [
        registry.ShipmentSent(batchId=b.id, **{"from": manufacturer}, to=distributor, start=0, quantity=3, document=DOC)
    ]
    assert parcel(registry, b, 0) == (manufacturer.address, 3, distributor.address)
    assert parcel(registry, b, 3) == (manufacturer.address, 8, ZERO)  # the rest stays with the sender
    tx = registry.accept(b.id, 0, sender=distributor)
    assert tx.events == [
        registry.ShipmentAccepted(batchId=b.id, **{"from": manufacturer}, to=distributor, start=0, quantity=3)
    ]
    assert parcel(registry, b, 0) == (distributor.address, 3, ZERO)


def test_whole_parcel_ship_writes_no_rest(registry, manufacturer, distributor, commissioned):
    b = commissioned
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    assert parcel(registry, b, 8) == (ZERO, 0, ZERO)


def test_reject_returns_the_parcel_to_sender(registry, manufacturer, distributor, commissioned):
    b = commissioned
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    tx = registry.reject(b.id, 0, REASON, sender=distributor)
    assert tx.events == [
        registry.ShipmentRejected(
            batchId=b.id, **{"from": manufacturer}, to=distributor, start=0, quantity=8, reasonCode=REASON
        )
    ]
    assert parcel(registry, b, 0) == (manufacturer.address, 8, ZERO)
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)  # and it can be shipped again


def test_sender_cancels_a_shipment_not_yet_accepted(registry, manufacturer, distributor, commissioned):
    b = commissioned
    registry.ship(b.id, 0, distributor, 2, DOC, sender=manufacturer)
    with ape.reverts(
        registry.NotParcelHolder, batchId=b.id, start=0, account=distributor.address, holder=manufacturer.address
    ):
        registry.cancel(b.id, 0, REASON, sender=distributor)
    tx = registry.cancel(b.id, 0, REASON, sender=manufacturer)
    assert tx.events == [
        registry.ShipmentCancelled(
            batchId=b.id, **{"from": manufacturer}, to=distributor, start=0, quantity=2, reasonCode=REASON
        )
    ]
    with ape.reverts(registry.NotParcelReceiver, batchId=b.id, start=0, account=distributor.address, to=ZERO):
        registry.accept(b.id, 0, sender=distributor)
    with ape.reverts(registry.ParcelNotInTransit, batchId=b.id, start=0):
        registry.cancel(b.id, 0, REASON, sender=manufacturer)


def test_split_then_ship_a_middle_range(registry, manufacturer, distributor, commissioned):
    b = commissioned
    tx = registry.split(b.id, 0, 2, sender=manufacturer)
    assert tx.events == [registry.ParcelSplit(batchId=b.id, holder=manufacturer, start=0, at=2)]
    registry.ship(b.id, 2, distributor, 3, DOC, sender=manufacturer)  # positions 2, 3, 4
    assert [parcel(registry, b, s) for s in (0, 2, 5)] == [
        (manufacturer.address, 2, ZERO),
        (manufacturer.address, 5, distributor.address),
        (manufacturer.address, 8, ZERO),
    ]
    for at in (0, 5, 8, 9):
        with ape.reverts(registry.InvalidSplit, batchId=b.id, start=5, end=8, at=at):
            registry.split(b.id, 5, at, sender=manufacturer)


def test_ship_by_non_holder_refused(registry, manufacturer, distributor, pharmacy, commissioned):
    b = commissioned
    with ape.reverts(
        registry.NotParcelHolder, batchId=b.id, start=0, account=distributor.address, holder=manufacturer.address
    ):
        registry.ship(b.id, 0, pharmacy, 1, DOC, sender=distributor)
    with ape.reverts(registry.NotParcelHolder, batchId=b.id, start=3, account=manufacturer.address, holder=ZERO):
        registry.ship(b.id, 3, pharmacy, 1, DOC, sender=manufacturer)  # no parcel starts at 3


def test_ship_more_than_the_parcel_refused(registry, manufacturer, distributor, commissioned):
    b = commissioned
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, start=0, size=8, wanted=9):
        registry.ship(b.id, 0, distributor, 9, DOC, sender=manufacturer)


def test_parcel_in_transit_cannot_move_again(registry, manufacturer, distributor, pharmacy, commissioned):
    b = commissioned
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    with ape.reverts(registry.ParcelInTransit, batchId=b.id, start=0, to=distributor.address):
        registry.ship(b.id, 0, pharmacy, 1, DOC, sender=manufacturer)
    with ape.reverts(
        registry.NotParcelHolder, batchId=b.id, start=0, account=distributor.address, holder=manufacturer.address
    ):
        registry.ship(b.id, 0, pharmacy, 1, DOC, sender=distributor)  # not the receiver's until accepted


def test_attack_one_unit_send_no_longer_blocks_a_receiver(registry, manufacturer, distributor, pharmacy, at_pharmacy):
    """v1 allowed one shipment per (batch, receiver) in transit: any holder could block every other
    sender to that receiver with a 1-unit shipment it never resolved. Now each parcel is its own."""
    b = at_pharmacy
    registry.ship(b.id, 0, distributor, 1, DOC, sender=pharmacy)  # a 1-unit send, left in transit
    registry.ship(b.id, 1, distributor, 1, DOC, sender=pharmacy)  # a second one
    # The distributor still receives and accepts other shipments, in any order.
    registry.accept(b.id, 1, sender=distributor)
    registry.reject(b.id, 0, REASON, sender=distributor)
    assert parcel(registry, b, 1) == (distributor.address, 2, ZERO)
    assert parcel(registry, b, 0) == (pharmacy.address, 1, ZERO)


def test_ship_to_unregistered_or_non_trading_receiver_refused(
    registry, directory, manufacturer, insurer, outsider, commissioned
):
    b = commissioned
    with ape.reverts(directory.ParticipantNotRegistered, account=outsider.address):
        registry.ship(b.id, 0, outsider, 1, DOC, sender=manufacturer)
    trading = int(Role.MANUFACTURER | Role.DISTRIBUTOR | Role.PHARMACY)
    with ape.reverts(directory.ParticipantLacksRole, account=insurer.address, requiredRoles=trading):
        registry.ship(b.id, 0, insurer, 1, DOC, sender=manufacturer)


def test_ship_by_or_to_suspended_refused(registry, directory, admin, manufacturer, distributor, commissioned):
    b = commissioned
    directory.suspend(distributor, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=distributor.address):
        registry.ship(b.id, 0, distributor, 1, DOC, sender=manufacturer)
    directory.reinstate(distributor, sender=admin)
    registry.ship(b.id, 0, distributor, 1, DOC, sender=manufacturer)
    directory.suspend(manufacturer, REASON, sender=admin)
    registry.accept(b.id, 0, sender=distributor)  # the sender's suspension does not strand goods in transit
    with ape.reverts(directory.ParticipantIsSuspended, account=manufacturer.address):
        registry.ship(b.id, 1, distributor, 1, DOC, sender=manufacturer)


def test_ship_argument_checks(registry, manufacturer, distributor, commissioned):
    b = commissioned
    with ape.reverts(registry.InvalidQuantity, quantity=0):
        registry.ship(b.id, 0, distributor, 0, DOC, sender=manufacturer)
    with ape.reverts(registry.EmptyCommitment):
        registry.ship(b.id, 0, distributor, 1, b"\0" * 32, sender=manufacturer)
    with ape.reverts(registry.ShipToSelf, account=manufacturer.address):
        registry.ship(b.id, 0, manufacturer, 1, DOC, sender=manufacturer)
    unknown = batch_id(GTIN2, "NOPE")
    with ape.reverts(registry.UnknownBatch, batchId=unknown):
        registry.ship(unknown, 0, distributor, 1, DOC, sender=manufacturer)


def test_accept_or_reject_without_shipment_refused(registry, distributor, pharmacy, commissioned):
    b = commissioned
    with ape.reverts(registry.NotParcelReceiver, batchId=b.id, start=0, account=pharmacy.address, to=ZERO):
        registry.accept(b.id, 0, sender=pharmacy)
    with ape.reverts(registry.NotParcelReceiver, batchId=b.id, start=0, account=distributor.address, to=ZERO):
        registry.reject(b.id, 0, REASON, sender=distributor)


def test_only_the_receiver_accepts(registry, manufacturer, distributor, pharmacy, commissioned):
    b = commissioned
    registry.ship(b.id, 0, distributor, 4, DOC, sender=manufacturer)
    with ape.reverts(
        registry.NotParcelReceiver, batchId=b.id, start=0, account=pharmacy.address, to=distributor.address
    ):
        registry.accept(b.id, 0, sender=pharmacy)


def test_accept_by_suspended_receiver_refused_but_reject_allowed(
    registry, directory, admin, manufacturer, distributor, commissioned
):
    b = commissioned
    registry.ship(b.id, 0, distributor, 4, DOC, sender=manufacturer)
    directory.suspend(distributor, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=distributor.address):
        registry.accept(b.id, 0, sender=distributor)
    registry.reject(b.id, 0, REASON, sender=distributor)
    assert parcel(registry, b, 0) == (manufacturer.address, 4, ZERO)


def test_return_to_the_distributor(registry, distributor, pharmacy, at_pharmacy):
    b = at_pharmacy
    registry.split(b.id, 0, 4, sender=pharmacy)
    registry.ship(b.id, 4, distributor, 1, DOC, sender=pharmacy)  # position 4 goes back
    registry.accept(b.id, 4, sender=distributor)
    assert parcel(registry, b, 4) == (distributor.address, 5, ZERO)
    with ape.reverts(registry.SerialNotInParcel, batchId=b.id, index=4, start=0, end=4):
        dispense(registry, b, b.serials[4], pharmacy)


# ---------------------------------------------------------------------------- dispense


def test_dispense_records_unit_without_serial_in_the_log(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[2]
    tx = dispense(registry, b, s, pharmacy)
    uid = b.unit(s)
    assert tx.events == [registry.UnitDispensed(unitId=uid, batchId=b.id, pharmacy=pharmacy, index=2)]
    raw = b"".join(bytes(t) for lg in tx.logs for t in lg["topics"]) + b"".join(bytes(lg["data"]) for lg in tx.logs)
    assert S32(s)[: len(s)] not in raw  # the serial is not in the event
    d = registry.dispenseOf(uid)
    assert (d.pharmacy, d.gtin, d.batchId, d.recalled, d.quarantined) == (pharmacy.address, GTIN, b.id, False, False)
    assert d.dispensedAt == ape.chain.blocks.head.timestamp
    assert tuple(verify(registry, b, s)) == (int(Verdict.DISPENSED), pharmacy.address)


def test_dispense_twice_refused_as_clone(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[0]
    dispense(registry, b, s, pharmacy)
    with ape.reverts(registry.UnitAlreadyDispensed, unitId=b.unit(s), pharmacy=pharmacy.address, batchId=b.id):
        dispense(registry, b, s, pharmacy)


def test_dispense_unknown_serial_refused(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    fake = "FAKE0001"
    with ape.reverts(registry.SerialNotInBatch, batchId=b.id, serial=S32(fake), index=0):
        registry.dispense(b.gtin, b.lot32, S32(fake), 0, 0, b.proof(b.serials[0]), sender=pharmacy)


def test_dispense_without_custody_refused(registry, pharmacy, commissioned, manufacturer):
    b = commissioned
    s = b.serials[0]
    with ape.reverts(
        registry.NotParcelHolder, batchId=b.id, start=0, account=pharmacy.address, holder=manufacturer.address
    ):
        dispense(registry, b, s, pharmacy)
    registry.ship(b.id, 0, pharmacy, 1, DOC, sender=manufacturer)  # in transit is not held
    with ape.reverts(
        registry.NotParcelHolder, batchId=b.id, start=0, account=pharmacy.address, holder=manufacturer.address
    ):
        dispense(registry, b, s, pharmacy)


def test_attack_pharmacy_cannot_dispense_a_serial_shipped_to_another(
    registry, manufacturer, distributor, pharmacy, pharmacy2, commissioned
):
    """v1 custody was a count per batch: a pharmacy holding one unit dispensed a serial shipped to
    another pharmacy, which then read as a clone there, and became the payee of record."""
    b = commissioned
    registry.ship(b.id, 0, pharmacy, 1, DOC, sender=manufacturer)  # position 0 to the first pharmacy
    registry.accept(b.id, 0, sender=pharmacy)
    registry.ship(b.id, 1, pharmacy2, 7, DOC, sender=manufacturer)  # positions 1-7 to the second
    registry.accept(b.id, 1, sender=pharmacy2)
    theirs = b.serials[5]
    with ape.reverts(registry.SerialNotInParcel, batchId=b.id, index=5, start=0, end=1):
        dispense(registry, b, theirs, pharmacy, parcel_start=0)
    with ape.reverts(
        registry.NotParcelHolder, batchId=b.id, start=1, account=pharmacy.address, holder=pharmacy2.address
    ):
        dispense(registry, b, theirs, pharmacy, parcel_start=1)
    # A wrong position for the serial (to land inside its own parcel) fails the tree.
    with ape.reverts(registry.SerialNotInBatch, batchId=b.id, serial=S32(theirs), index=0):
        registry.dispense(b.gtin, b.lot32, S32(theirs), 0, 0, b.proof(theirs), sender=pharmacy)
    dispense(registry, b, theirs, pharmacy2, parcel_start=1)
    assert registry.dispenseOf(b.unit(theirs)).pharmacy == pharmacy2.address


def test_attack_tree_with_more_leaves_than_quantity_does_not_verify(registry, manufacturer, pharmacy):
    """v1: a 64-leaf tree verified for a batch of 1, so 63 extra serials read Verified."""
    serials = [f"X{i:04d}" for i in range(64)]
    tree = MerkleTree.from_leaves([leaf_hash(GTIN, s) for s in serials])
    b = make_batch(lot="LOT-ONE", n=1)
    registry.commission(GTIN, b.lot32, EXPIRY, 1, tree.root, sender=manufacturer)
    for i in (0, 1, 63):
        s = serials[i]
        code, _ = registry.verify(GTIN, b.lot32, EXPIRY, S32(s), i, tree.proof_at(i))
        assert Verdict(code) is Verdict.NO_MATCH_GTIN_SERIAL
    # Honest: the tree of one serial is its leaf; exactly that one serial verifies.
    one = make_batch(lot="LOT-ONE-OK", n=1)
    registry.commission(GTIN, one.lot32, EXPIRY, 1, one.tree.root, sender=manufacturer)
    assert Verdict(verify(registry, one, one.serials[0])[0]) is Verdict.VERIFIED


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_exactly_quantity_positions_verify(registry, manufacturer, n):
    """Padding positions and inner nodes of the tree never verify as units."""
    b = make_batch(lot=f"LOT-N{n}", n=n)
    registry.commission(GTIN, b.lot32, EXPIRY, n, b.tree.root, sender=manufacturer)
    assert all(Verdict(verify(registry, b, s)[0]) is Verdict.VERIFIED for s in b.serials)
    d = depth_for(n)
    width = 1 << d
    for pos in range(n, width):  # a padding slot, claimed with a real proof path
        code, _ = registry.verify(GTIN, b.lot32, EXPIRY, S32(b.serials[0]), pos, b.tree.proof_at(0))
        assert Verdict(code) is Verdict.NO_MATCH_GTIN_SERIAL
    if d:  # a proof one level short (an inner node as a leaf) is refused by its length
        code, _ = registry.verify(GTIN, b.lot32, EXPIRY, S32(b.serials[0]), 0, b.proof(b.serials[0])[:-1])
        assert Verdict(code) is Verdict.NO_MATCH_GTIN_SERIAL


def test_dispense_by_non_pharmacy_refused(registry, directory, distributor, manufacturer, commissioned):
    b = commissioned
    registry.ship(b.id, 0, distributor, 8, DOC, sender=manufacturer)
    registry.accept(b.id, 0, sender=distributor)
    with ape.reverts(directory.ParticipantLacksRole, account=distributor.address, requiredRoles=int(Role.PHARMACY)):
        dispense(registry, b, b.serials[0], distributor)


def test_dispense_by_suspended_pharmacy_refused(registry, directory, admin, pharmacy, at_pharmacy):
    b = at_pharmacy
    directory.suspend(pharmacy, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=pharmacy.address):
        dispense(registry, b, b.serials[0], pharmacy)


def test_dispense_expired_batch_refused(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    expires_at = registry.batchInfo(b.id).expiresAt
    ape.chain.mine(timestamp=expires_at)
    with ape.reverts(registry.BatchExpired, batchId=b.id, expiresAt=expires_at):
        dispense(registry, b, b.serials[0], pharmacy)
    assert Verdict(verify(registry, b, b.serials[0])[0]) is Verdict.EXPIRED


def test_dispense_one_second_before_expiry_allowed(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    expires_at = registry.batchInfo(b.id).expiresAt
    ape.chain.pending_timestamp = expires_at - 1
    dispense(registry, b, b.serials[0], pharmacy)


def test_duplicate_serial_across_batches_refused_at_dispense(registry, manufacturer, pharmacy, at_pharmacy):
    """A second batch of the same GTIN (another lot) whose tree repeats a serial: the unit record is
    keyed by GTIN+serial, so once either copy is dispensed the other is refused and reported."""
    a = at_pharmacy
    clone = make_batch(lot="LOT-CLONE", n=8)  # same GTIN, same serials, another lot
    registry.commission(clone.gtin, clone.lot32, EXPIRY, 8, clone.tree.root, sender=manufacturer)
    registry.ship(clone.id, 0, pharmacy, 8, DOC, sender=manufacturer)
    registry.accept(clone.id, 0, sender=pharmacy)
    s = a.serials[1]
    dispense(registry, a, s, pharmacy)
    with ape.reverts(registry.UnitAlreadyDispensed, unitId=a.unit(s), pharmacy=pharmacy.address, batchId=a.id):
        dispense(registry, clone, s, pharmacy)
    assert tuple(verify(registry, clone, s)) == (int(Verdict.DISPENSED), pharmacy.address)


def test_same_serial_under_other_gtin_is_another_unit(registry, manufacturer, pharmacy, at_pharmacy):
    a = at_pharmacy
    other = make_batch(gtin=GTIN2, lot="LOT-A1", n=8)
    registry.commission(other.gtin, other.lot32, EXPIRY, 8, other.tree.root, sender=manufacturer)
    registry.ship(other.id, 0, pharmacy, 8, DOC, sender=manufacturer)
    registry.accept(other.id, 0, sender=pharmacy)
    s = a.serials[0]
    dispense(registry, a, s, pharmacy)
    dispense(registry, other, s, pharmacy)
    d = registry.dispenseOf(other.unit(s))
    assert (d.pharmacy, d.gtin, d.batchId) == (pharmacy.address, GTIN2, other.id)


# ---------------------------------------------------------------------------- recall / quarantine


@pytest.mark.parametrize("who", ["manufacturer", "regulator"])
def test_recall_stops_ship_accept_dispense(registry, request, who, manufacturer, distributor, pharmacy, at_pharmacy):
    b = at_pharmacy
    actor = request.getfixturevalue(who)
    registry.ship(b.id, 5, manufacturer, 1, DOC, sender=distributor)  # a return in transit when the recall lands
    tx = registry.recall(b.id, REASON, sender=actor)
    assert tx.events == [registry.BatchRecalled(batchId=b.id, by=actor, reasonCode=REASON)]
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.ship(b.id, 0, distributor, 1, DOC, sender=pharmacy)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.accept(b.id, 5, sender=manufacturer)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        dispense(registry, b, b.serials[0], pharmacy)
    registry.reject(b.id, 5, REASON, sender=manufacturer)  # goods may still go back
    assert Verdict(verify(registry, b, b.serials[0])[0]) is Verdict.RECALLED


def test_recall_cannot_be_lifted_or_repeated(registry, manufacturer, regulator, commissioned):
    b = commissioned
    registry.recall(b.id, REASON, sender=regulator)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.liftQuarantine(b.id, REASON, sender=regulator)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.recall(b.id, REASON, sender=manufacturer)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.quarantine(b.id, REASON, sender=manufacturer)


def test_quarantine_blocks_and_lift_restores(registry, regulator, pharmacy, distributor, at_pharmacy):
    b = at_pharmacy
    tx = registry.quarantine(b.id, REASON, sender=regulator)
    assert tx.events == [registry.BatchQuarantined(batchId=b.id, by=regulator, reasonCode=REASON)]
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        dispense(registry, b, b.serials[0], pharmacy)
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        registry.ship(b.id, 0, distributor, 1, DOC, sender=pharmacy)
    assert tuple(verify(registry, b, b.serials[0])) == (int(Verdict.SUSPECT), ZERO)
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        registry.quarantine(b.id, REASON, sender=regulator)
    tx = registry.liftQuarantine(b.id, REASON, sender=regulator)
    assert tx.events == [registry.QuarantineLifted(batchId=b.id, by=regulator, reasonCode=REASON)]
    dispense(registry, b, b.serials[0], pharmacy)


def test_lift_without_quarantine_refused(registry, regulator, commissioned):
    with ape.reverts(registry.BatchNotQuarantined, batchId=commissioned.id):
        registry.liftQuarantine(commissioned.id, REASON, sender=regulator)


@pytest.mark.parametrize("who", ["distributor", "pharmacy", "clinic"])
def test_recall_by_others_refused(registry, directory, request, who, commissioned):
    acct = request.getfixturevalue(who)
    for fn in (registry.recall, registry.quarantine, registry.voidBatch):
        with ape.reverts(directory.ParticipantLacksRole, account=acct.address, requiredRoles=int(Role.REGULATOR)):
            fn(commissioned.id, REASON, sender=acct)


def test_manufacturer_that_is_also_regulator_may_act_on_any_batch(registry, directory, admin, patient, commissioned):
    directory.register(patient, int(Role.MANUFACTURER | Role.REGULATOR), b"\xc1" * 32, sender=admin)
    tx = registry.quarantine(commissioned.id, REASON, sender=patient)
    assert [(e.batchId, e.by) for e in tx.events.filter(registry.BatchQuarantined)] == [
        (commissioned.id, patient.address)
    ]


def test_recall_needs_reason_and_known_batch(registry, regulator, commissioned):
    with ape.reverts(registry.EmptyReasonCode):
        registry.recall(commissioned.id, b"\0" * 32, sender=regulator)
    unknown = batch_id(GTIN2, "NOPE")
    with ape.reverts(registry.UnknownBatch, batchId=unknown):
        registry.recall(unknown, REASON, sender=regulator)


def test_dispense_of_reports_status_now_to_claims(registry, regulator, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[4]
    dispense(registry, b, s, pharmacy)
    registry.quarantine(b.id, REASON, sender=regulator)
    d = registry.dispenseOf(b.unit(s))
    assert (d.recalled, d.quarantined) == (False, True)
    registry.recall(b.id, REASON, sender=regulator)
    d = registry.dispenseOf(b.unit(s))
    assert (d.pharmacy, d.batchId, d.recalled, d.quarantined) == (pharmacy.address, b.id, True, False)
    never = registry.dispenseOf(b.unit("NEVER"))
    assert (never.pharmacy, never.dispensedAt, never.gtin, never.batchId, never.recalled, never.quarantined) == (
        ZERO,
        0,
        0,
        b"\0" * 32,
        False,
        False,
    )


# ---------------------------------------------------------------------------- verify


def test_verify_verdicts(registry, manufacturer, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[0]
    p = b.proof(s)
    s32 = S32(s)

    def v(gtin=b.gtin, lot=b.lot32, expiry=EXPIRY, serial=s32, index=0, proof=p):
        verdict, by = registry.verify(gtin, lot, expiry, serial, index, proof)
        return Verdict(verdict), by

    assert v() == (Verdict.VERIFIED, ZERO)
    assert v(serial=S32("FAKE"))[0] is Verdict.NO_MATCH_GTIN_SERIAL
    assert v(proof=[])[0] is Verdict.NO_MATCH_GTIN_SERIAL
    assert v(index=1)[0] is Verdict.NO_MATCH_GTIN_SERIAL
    assert v(expiry=301130)[0] is Verdict.NO_MATCH_EXPIRY
    assert v(lot=S32("OTHER", "lot"))[0] is Verdict.UNKNOWN_BATCH
    assert v(gtin=GTIN2)[0] is Verdict.UNKNOWN_BATCH
    dispense(registry, b, s, pharmacy)
    assert v(lot=S32("OTHER", "lot")) == (Verdict.NO_MATCH_LOT, pharmacy.address)  # serial on record elsewhere


def test_attack_verify_answer_does_not_depend_on_the_caller(registry, pharmacy, outsider, manufacturer, at_pharmacy):
    """v1 returned `holder = msg.sender` when the caller held units: any eth_call could set `from`
    to a pharmacy and read 'held by that pharmacy'. The answer is now the same for every caller."""
    b = at_pharmacy
    s = b.serials[0]
    answers = {tuple(verify(registry, b, s, sender=who)) for who in (pharmacy, outsider, manufacturer)}
    answers.add(tuple(verify(registry, b, s)))
    assert answers == {(int(Verdict.VERIFIED), ZERO)}
    dispense(registry, b, s, pharmacy)
    assert tuple(verify(registry, b, s, sender=outsider)) == (int(Verdict.DISPENSED), pharmacy.address)


def test_verify_at_100000_units(registry, manufacturer):
    b = make_batch(lot="LOT-BIG", n=1)
    # A 17-level proof (what 100,000 units need) against a root built from it, at position 99,999.
    from careledger.provenance.merkle import process_proof

    proof = [bytes([i + 1]) * 32 for i in range(17)]
    root = process_proof(leaf_hash(b.gtin, "SN000000"), 99_999, proof)
    registry.commission(b.gtin, b.lot32, EXPIRY, 100_000, root, sender=manufacturer)
    code, _ = registry.verify(b.gtin, b.lot32, EXPIRY, S32("SN000000"), 99_999, proof)
    assert Verdict(code) is Verdict.VERIFIED
    code, _ = registry.verify(b.gtin, b.lot32, EXPIRY, S32("SN000000"), 99_998, proof)
    assert Verdict(code) is Verdict.NO_MATCH_GTIN_SERIAL
