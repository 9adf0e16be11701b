"""ProvenanceRegistry: commissioning, custody, dispensing, recall/quarantine, verification."""

from __future__ import annotations

import ape
import pytest
from provenance_fixtures import DOC, EXPIRY, GTIN, GTIN2, REASON, ZERO, custody, make_batch

from careledger.codes import Role
from careledger.provenance.client import Verdict
from careledger.provenance.ids import batch_id, text_to_bytes32, unit_id

S32 = text_to_bytes32


# ---------------------------------------------------------------------------- ids


def test_ids_match_python_mirror(registry):
    assert registry.unitIdOf(GTIN, S32("SN1")) == unit_id(GTIN, "SN1")
    assert registry.batchIdOf(GTIN, S32("LOT-A1", "lot")) == batch_id(GTIN, "LOT-A1")


# ---------------------------------------------------------------------------- commission


def test_commission_records_batch_and_custody(registry, manufacturer, batch):
    tx = registry.commission(batch.gtin, batch.lot32, EXPIRY, 8, batch.tree.root, sender=manufacturer)
    info = registry.batchInfo(batch.id)
    assert (info.merkleRoot, info.manufacturer, info.expiry, info.status) == (
        batch.tree.root,
        manufacturer.address,
        EXPIRY,
        1,
    )
    assert info.expiresAt == 1924992000  # 2031-01-01T00:00:00Z, the day after 2030-12-31
    assert custody(registry, batch, manufacturer) == (8, 0, ZERO)
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
    with ape.reverts(registry.EmptyValue, what="lot"):
        registry.commission(GTIN, b"\0" * 32, EXPIRY, 8, batch.tree.root, sender=manufacturer)
    with ape.reverts(registry.EmptyValue, what="merkleRoot"):
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


# ---------------------------------------------------------------------------- custody


def test_ship_then_accept_moves_custody(registry, manufacturer, distributor, commissioned):
    b = commissioned
    tx = registry.ship(b.id, distributor, 3, DOC, sender=manufacturer)
    assert tx.events == [
        registry.ShipmentSent(batchId=b.id, **{"from": manufacturer}, to=distributor, quantity=3, document=DOC)
    ]
    assert custody(registry, b, manufacturer) == (5, 0, ZERO)
    assert custody(registry, b, distributor) == (0, 3, manufacturer.address)
    tx = registry.accept(b.id, sender=distributor)
    assert tx.events == [registry.ShipmentAccepted(batchId=b.id, **{"from": manufacturer}, to=distributor, quantity=3)]
    assert custody(registry, b, distributor) == (3, 0, ZERO)


def test_reject_returns_units_to_sender(registry, manufacturer, distributor, commissioned):
    b = commissioned
    registry.ship(b.id, distributor, 8, DOC, sender=manufacturer)
    tx = registry.reject(b.id, REASON, sender=distributor)
    assert tx.events == [
        registry.ShipmentRejected(batchId=b.id, **{"from": manufacturer}, to=distributor, quantity=8, reasonCode=REASON)
    ]
    assert custody(registry, b, manufacturer) == (8, 0, ZERO)
    assert custody(registry, b, distributor) == (0, 0, ZERO)


def test_ship_by_non_holder_refused(registry, distributor, pharmacy, commissioned):
    b = commissioned
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, account=distributor.address, held=0, wanted=1):
        registry.ship(b.id, pharmacy, 1, DOC, sender=distributor)


def test_ship_more_than_held_refused(registry, manufacturer, distributor, commissioned):
    b = commissioned
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, account=manufacturer.address, held=8, wanted=9):
        registry.ship(b.id, distributor, 9, DOC, sender=manufacturer)


def test_units_in_transit_cannot_be_shipped_by_receiver(registry, manufacturer, distributor, pharmacy, commissioned):
    b = commissioned
    registry.ship(b.id, distributor, 8, DOC, sender=manufacturer)
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, account=distributor.address, held=0, wanted=1):
        registry.ship(b.id, pharmacy, 1, DOC, sender=distributor)


def test_second_shipment_to_same_receiver_while_in_transit_refused(registry, manufacturer, distributor, commissioned):
    b = commissioned
    registry.ship(b.id, distributor, 2, DOC, sender=manufacturer)
    with ape.reverts(
        registry.ShipmentInTransit, batchId=b.id, to=distributor.address, **{"from": manufacturer.address}
    ):
        registry.ship(b.id, distributor, 2, DOC, sender=manufacturer)
    registry.accept(b.id, sender=distributor)
    registry.ship(b.id, distributor, 2, DOC, sender=manufacturer)  # after acceptance: fine
    assert custody(registry, b, distributor) == (2, 2, manufacturer.address)


def test_ship_to_unregistered_or_non_trading_receiver_refused(
    registry, directory, manufacturer, insurer, outsider, commissioned
):
    b = commissioned
    with ape.reverts(directory.ParticipantNotRegistered, account=outsider.address):
        registry.ship(b.id, outsider, 1, DOC, sender=manufacturer)
    trading = int(Role.MANUFACTURER | Role.DISTRIBUTOR | Role.PHARMACY)
    with ape.reverts(directory.ParticipantLacksRole, account=insurer.address, requiredRoles=trading):
        registry.ship(b.id, insurer, 1, DOC, sender=manufacturer)


def test_ship_by_or_to_suspended_refused(registry, directory, admin, manufacturer, distributor, commissioned):
    b = commissioned
    directory.suspend(distributor, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=distributor.address):
        registry.ship(b.id, distributor, 1, DOC, sender=manufacturer)
    directory.reinstate(distributor, sender=admin)
    registry.ship(b.id, distributor, 1, DOC, sender=manufacturer)
    directory.suspend(manufacturer, REASON, sender=admin)
    registry.accept(b.id, sender=distributor)  # the sender's suspension does not strand goods in transit
    with ape.reverts(directory.ParticipantIsSuspended, account=manufacturer.address):
        registry.ship(b.id, distributor, 1, DOC, sender=manufacturer)


def test_ship_argument_checks(registry, manufacturer, distributor, commissioned):
    b = commissioned
    with ape.reverts(registry.InvalidQuantity, quantity=0):
        registry.ship(b.id, distributor, 0, DOC, sender=manufacturer)
    with ape.reverts(registry.EmptyValue, what="document"):
        registry.ship(b.id, distributor, 1, b"\0" * 32, sender=manufacturer)
    with ape.reverts(registry.ShipToSelf, account=manufacturer.address):
        registry.ship(b.id, manufacturer, 1, DOC, sender=manufacturer)
    unknown = batch_id(GTIN2, "NOPE")
    with ape.reverts(registry.UnknownBatch, batchId=unknown):
        registry.ship(unknown, distributor, 1, DOC, sender=manufacturer)


def test_accept_or_reject_without_shipment_refused(registry, distributor, pharmacy, commissioned):
    b = commissioned
    with ape.reverts(registry.NoShipmentInTransit, batchId=b.id, receiver=pharmacy.address):
        registry.accept(b.id, sender=pharmacy)
    with ape.reverts(registry.NoShipmentInTransit, batchId=b.id, receiver=distributor.address):
        registry.reject(b.id, REASON, sender=distributor)


def test_accept_by_suspended_receiver_refused_but_reject_allowed(
    registry, directory, admin, manufacturer, distributor, commissioned
):
    b = commissioned
    registry.ship(b.id, distributor, 4, DOC, sender=manufacturer)
    directory.suspend(distributor, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=distributor.address):
        registry.accept(b.id, sender=distributor)
    registry.reject(b.id, REASON, sender=distributor)
    assert custody(registry, b, manufacturer) == (8, 0, ZERO)


# ---------------------------------------------------------------------------- dispense


def test_dispense_marks_unit_and_decrements_custody(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[2]
    tx = registry.dispense(b.gtin, b.lot32, S32(s), b.proof(s), sender=pharmacy)
    uid = b.unit(s)
    assert tx.events == [registry.UnitDispensed(unitId=uid, batchId=b.id, pharmacy=pharmacy, serial=S32(s))]
    assert _dispense(registry, uid) == (pharmacy.address, b.id, False)
    assert custody(registry, b, pharmacy) == (4, 0, ZERO)
    verdict, holder = registry.verify(b.gtin, b.lot32, EXPIRY, S32(s), b.proof(s))
    assert (Verdict(verdict), holder) == (Verdict.DISPENSED, pharmacy.address)


def test_dispense_twice_refused_as_clone(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[0]
    registry.dispense(b.gtin, b.lot32, S32(s), b.proof(s), sender=pharmacy)
    with ape.reverts(registry.UnitAlreadyDispensed, unitId=b.unit(s), pharmacy=pharmacy.address, batchId=b.id):
        registry.dispense(b.gtin, b.lot32, S32(s), b.proof(s), sender=pharmacy)


def test_dispense_unknown_serial_refused(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    fake = "FAKE0001"
    with ape.reverts(registry.SerialNotInBatch, batchId=b.id, serial=S32(fake)):
        registry.dispense(b.gtin, b.lot32, S32(fake), b.proof(b.serials[0]), sender=pharmacy)


def test_dispense_without_custody_refused(registry, distributor, pharmacy, commissioned, manufacturer):
    b = commissioned
    s = b.serials[0]
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, account=pharmacy.address, held=0, wanted=1):
        registry.dispense(b.gtin, b.lot32, S32(s), b.proof(s), sender=pharmacy)
    registry.ship(b.id, pharmacy, 1, DOC, sender=manufacturer)  # in transit is not held
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, account=pharmacy.address, held=0, wanted=1):
        registry.dispense(b.gtin, b.lot32, S32(s), b.proof(s), sender=pharmacy)


def test_dispense_beyond_held_quantity_refused(registry, manufacturer, pharmacy, commissioned):
    b = commissioned
    registry.ship(b.id, pharmacy, 1, DOC, sender=manufacturer)
    registry.accept(b.id, sender=pharmacy)
    registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)
    with ape.reverts(registry.InsufficientCustody, batchId=b.id, account=pharmacy.address, held=0, wanted=1):
        registry.dispense(b.gtin, b.lot32, S32(b.serials[1]), b.proof(b.serials[1]), sender=pharmacy)


def test_dispense_by_non_pharmacy_refused(registry, directory, distributor, manufacturer, commissioned):
    b = commissioned
    registry.ship(b.id, distributor, 8, DOC, sender=manufacturer)
    registry.accept(b.id, sender=distributor)
    with ape.reverts(directory.ParticipantLacksRole, account=distributor.address, requiredRoles=int(Role.PHARMACY)):
        registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=distributor)


def test_dispense_by_suspended_pharmacy_refused(registry, directory, admin, pharmacy, at_pharmacy):
    b = at_pharmacy
    directory.suspend(pharmacy, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=pharmacy.address):
        registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)


def test_dispense_expired_batch_refused(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    expires_at = registry.batchInfo(b.id).expiresAt
    ape.chain.mine(timestamp=expires_at)
    with ape.reverts(registry.BatchExpired, batchId=b.id, expiresAt=expires_at):
        registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)
    verdict, _ = registry.verify(b.gtin, b.lot32, EXPIRY, S32(b.serials[0]), b.proof(b.serials[0]))
    assert Verdict(verdict) is Verdict.EXPIRED


def test_dispense_one_second_before_expiry_allowed(registry, pharmacy, at_pharmacy):
    b = at_pharmacy
    expires_at = registry.batchInfo(b.id).expiresAt
    ape.chain.pending_timestamp = expires_at - 1
    registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)


def test_duplicate_serial_across_batches_refused_at_dispense(registry, manufacturer, pharmacy, at_pharmacy):
    """A second batch of the same GTIN (another lot) whose tree repeats a serial: the unit record is
    keyed by GTIN+serial, so once either copy is dispensed the other is refused and reported."""
    a = at_pharmacy
    clone = make_batch(lot="LOT-CLONE", n=8)  # same GTIN, same serials, another lot
    registry.commission(clone.gtin, clone.lot32, EXPIRY, 8, clone.tree.root, sender=manufacturer)
    registry.ship(clone.id, pharmacy, 8, DOC, sender=manufacturer)
    registry.accept(clone.id, sender=pharmacy)
    s = a.serials[1]
    registry.dispense(a.gtin, a.lot32, S32(s), a.proof(s), sender=pharmacy)
    with ape.reverts(registry.UnitAlreadyDispensed, unitId=a.unit(s), pharmacy=pharmacy.address, batchId=a.id):
        registry.dispense(clone.gtin, clone.lot32, S32(s), clone.proof(s), sender=pharmacy)
    verdict, holder = registry.verify(clone.gtin, clone.lot32, EXPIRY, S32(s), clone.proof(s))
    assert (Verdict(verdict), holder) == (Verdict.DISPENSED, pharmacy.address)


def test_same_serial_under_other_gtin_is_another_unit(registry, manufacturer, pharmacy, at_pharmacy):
    a = at_pharmacy
    other = make_batch(gtin=GTIN2, lot="LOT-A1", n=8)
    registry.commission(other.gtin, other.lot32, EXPIRY, 8, other.tree.root, sender=manufacturer)
    registry.ship(other.id, pharmacy, 8, DOC, sender=manufacturer)
    registry.accept(other.id, sender=pharmacy)
    s = a.serials[0]
    registry.dispense(a.gtin, a.lot32, S32(s), a.proof(s), sender=pharmacy)
    registry.dispense(other.gtin, other.lot32, S32(s), other.proof(s), sender=pharmacy)
    assert _dispense(registry, other.unit(s)) == (pharmacy.address, other.id, False)


# ---------------------------------------------------------------------------- recall / quarantine


@pytest.mark.parametrize("who", ["manufacturer", "regulator"])
def test_recall_stops_ship_accept_dispense(registry, request, who, manufacturer, distributor, pharmacy, at_pharmacy):
    b = at_pharmacy
    actor = request.getfixturevalue(who)
    registry.ship(b.id, manufacturer, 1, DOC, sender=distributor)  # a return in transit when the recall lands
    tx = registry.recall(b.id, REASON, sender=actor)
    assert tx.events == [registry.BatchRecalled(batchId=b.id, by=actor, reasonCode=REASON)]
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.ship(b.id, distributor, 1, DOC, sender=pharmacy)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.accept(b.id, sender=manufacturer)
    with ape.reverts(registry.BatchIsRecalled, batchId=b.id):
        registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)
    registry.reject(b.id, REASON, sender=manufacturer)  # goods may still go back
    verdict, _ = registry.verify(b.gtin, b.lot32, EXPIRY, S32(b.serials[0]), b.proof(b.serials[0]))
    assert Verdict(verdict) is Verdict.RECALLED


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
        registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        registry.ship(b.id, distributor, 1, DOC, sender=pharmacy)
    verdict, holder = registry.verify(
        b.gtin, b.lot32, EXPIRY, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy
    )
    assert (Verdict(verdict), holder) == (Verdict.SUSPECT, pharmacy.address)
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        registry.quarantine(b.id, REASON, sender=regulator)
    tx = registry.liftQuarantine(b.id, REASON, sender=regulator)
    assert tx.events == [registry.QuarantineLifted(batchId=b.id, by=regulator, reasonCode=REASON)]
    registry.dispense(b.gtin, b.lot32, S32(b.serials[0]), b.proof(b.serials[0]), sender=pharmacy)


def test_lift_without_quarantine_refused(registry, regulator, commissioned):
    with ape.reverts(registry.BatchNotQuarantined, batchId=commissioned.id):
        registry.liftQuarantine(commissioned.id, REASON, sender=regulator)


@pytest.mark.parametrize("who", ["distributor", "pharmacy", "clinic"])
def test_recall_by_others_refused(registry, directory, request, who, commissioned):
    acct = request.getfixturevalue(who)
    for fn in (registry.recall, registry.quarantine):
        with ape.reverts(directory.ParticipantLacksRole, account=acct.address, requiredRoles=int(Role.REGULATOR)):
            fn(commissioned.id, REASON, sender=acct)


def test_recall_by_another_manufacturer_refused(registry, directory, admin, patient, manufacturer, commissioned):
    directory.register(patient, int(Role.MANUFACTURER), b"\xc0" * 32, sender=admin)
    for fn in (registry.recall, registry.quarantine, registry.liftQuarantine):
        with ape.reverts(
            registry.NotBatchManufacturer,
            batchId=commissioned.id,
            account=patient.address,
            manufacturer=manufacturer.address,
        ):
            fn(commissioned.id, REASON, sender=patient)


def test_manufacturer_that_is_also_regulator_may_act_on_any_batch(registry, directory, admin, patient, commissioned):
    directory.register(patient, int(Role.MANUFACTURER | Role.REGULATOR), b"\xc1" * 32, sender=admin)
    tx = registry.quarantine(commissioned.id, REASON, sender=patient)
    assert [(e.batchId, e.by) for e in tx.events.filter(registry.BatchQuarantined)] == [
        (commissioned.id, patient.address)
    ]


def test_recall_needs_reason_and_known_batch(registry, regulator, commissioned):
    with ape.reverts(registry.EmptyValue, what="reasonCode"):
        registry.recall(commissioned.id, b"\0" * 32, sender=regulator)
    unknown = batch_id(GTIN2, "NOPE")
    with ape.reverts(registry.UnknownBatch, batchId=unknown):
        registry.recall(unknown, REASON, sender=regulator)


def _dispense(registry, unit):
    """Pharmacy, batch and recall flag of IDispenseCheck.dispenseOf (the fields #14 extends)."""
    d = registry.dispenseOf(unit)
    return (d.pharmacy, d.batchId, d.recalled)


def test_dispense_of_recalled_batch_reported_to_claims(registry, regulator, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[4]
    registry.dispense(b.gtin, b.lot32, S32(s), b.proof(s), sender=pharmacy)
    registry.recall(b.id, REASON, sender=regulator)
    assert _dispense(registry, b.unit(s)) == (pharmacy.address, b.id, True)
    assert _dispense(registry, b.unit("NEVER")) == (ZERO, b"\0" * 32, False)


# ---------------------------------------------------------------------------- verify


def test_verify_verdicts(registry, manufacturer, pharmacy, at_pharmacy):
    b = at_pharmacy
    s = b.serials[0]
    p = b.proof(s)

    s32 = S32(s)

    def v(gtin=b.gtin, lot=b.lot32, expiry=EXPIRY, serial=s32, proof=p, sender=None):
        verdict, holder = registry.verify(gtin, lot, expiry, serial, proof, **({"sender": sender} if sender else {}))
        return Verdict(verdict), holder

    assert v() == (Verdict.VERIFIED, ZERO)
    assert v(sender=pharmacy) == (Verdict.VERIFIED, pharmacy.address)  # the caller holds units of the batch
    assert v(serial=S32("FAKE"))[0] is Verdict.NO_MATCH_GTIN_SERIAL
    assert v(proof=[])[0] is Verdict.NO_MATCH_GTIN_SERIAL
    assert v(expiry=301130)[0] is Verdict.NO_MATCH_EXPIRY
    assert v(lot=S32("OTHER", "lot"))[0] is Verdict.UNKNOWN_BATCH
    assert v(gtin=GTIN2)[0] is Verdict.UNKNOWN_BATCH
    registry.dispense(b.gtin, b.lot32, S32(s), p, sender=pharmacy)
    assert v(lot=S32("OTHER", "lot")) == (Verdict.NO_MATCH_LOT, pharmacy.address)  # serial on record elsewhere


def test_verify_exec_gas_at_100000_units(registry, manufacturer):
    b = make_batch(lot="LOT-BIG", n=1)
    # A 17-level proof (what 100,000 units need) against a root built from it.
    from careledger.provenance.ids import leaf_hash
    from careledger.provenance.merkle import process_proof

    proof = [bytes([i + 1]) * 32 for i in range(17)]
    root = process_proof(leaf_hash(b.gtin, "SN000000"), proof)
    registry.commission(b.gtin, b.lot32, EXPIRY, 100_000, root, sender=manufacturer)
    assert Verdict(registry.verify(b.gtin, b.lot32, EXPIRY, S32("SN000000"), proof)[0]) is Verdict.VERIFIED
