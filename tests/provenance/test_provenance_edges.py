"""ProvenanceRegistry edges the scenario tests do not reach (found by `make coverage`): constructor
and argument guards, dispensing from an unknown batch, a bad proof for a unit already dispensed,
and the Gregorian century rule (2000 is a leap year) in the expiry calendar."""

from __future__ import annotations

import datetime as dt

import ape
import pytest
from provenance_fixtures import DOC, GTIN2, make_batch

from careledger.provenance.client import Verdict
from careledger.provenance.ids import batch_id, text_to_bytes32

ZERO_ADDR = "0x" + "00" * 20
S32 = text_to_bytes32


def test_constructor_refuses_zero_directory(project, admin):
    with ape.reverts(project.ProvenanceRegistry.ZeroAddress):
        project.ProvenanceRegistry.deploy(ZERO_ADDR, sender=admin)


def test_directory_reads_back(registry, directory):
    assert registry.directory() == directory.address


def test_reject_and_cancel_need_a_reason(registry, manufacturer, distributor, commissioned):
    registry.ship(commissioned.id, 0, distributor, 2, DOC, sender=manufacturer)
    with ape.reverts(registry.EmptyReasonCode):
        registry.reject(commissioned.id, 0, b"\0" * 32, sender=distributor)
    with ape.reverts(registry.EmptyReasonCode):
        registry.cancel(commissioned.id, 0, b"\0" * 32, sender=manufacturer)
    assert registry.parcelOf(commissioned.id, 0).to == distributor.address


def test_dispense_from_unknown_batch_refused(registry, pharmacy):
    unknown = batch_id(GTIN2, "NOPE")
    with ape.reverts(registry.UnknownBatch, batchId=unknown):
        registry.dispense(GTIN2, S32("NOPE", "lot"), S32("SN000001"), 0, 0, [], sender=pharmacy)


def test_split_and_accept_of_a_held_batch_need_it_active(registry, regulator, distributor, pharmacy, at_pharmacy):
    b = at_pharmacy
    registry.ship(b.id, 5, pharmacy, 3, DOC, sender=distributor)
    registry.quarantine(b.id, b"HOLD".ljust(32, b"\0"), sender=regulator)
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        registry.split(b.id, 0, 2, sender=pharmacy)
    with ape.reverts(registry.BatchIsQuarantined, batchId=b.id):
        registry.accept(b.id, 5, sender=pharmacy)
    registry.cancel(b.id, 5, b"HOLD".ljust(32, b"\0"), sender=distributor)  # calling goods back is allowed


def test_verify_bad_proof_of_a_dispensed_unit(registry, manufacturer, pharmacy, at_pharmacy):
    a = at_pharmacy
    s = a.serials[0]
    registry.dispense(a.gtin, a.lot32, S32(s), 0, 0, a.proof(s), sender=pharmacy)
    other = make_batch(lot="LOT-B2", prefix="SNB")
    registry.commission(other.gtin, other.lot32, other.expiry, 4, other.tree.root, sender=manufacturer)

    def verdict(b, proof):
        v, holder = registry.verify(b.gtin, b.lot32, b.expiry, S32(s), 0, proof)
        return Verdict(v), holder

    # The pack names another (real) lot, and its proof fails there: the serial is on record
    # under the lot it was dispensed from.
    assert verdict(other, a.proof(s)) == (Verdict.NO_MATCH_LOT, pharmacy.address)
    # The right lot but a proof that does not lead to its root: not a unit of the batch.
    assert verdict(a, []) == (Verdict.NO_MATCH_GTIN_SERIAL, pharmacy.address)
    assert verdict(a, a.proof(s)) == (Verdict.DISPENSED, pharmacy.address)


def expires_at(year: int, month: int, day: int) -> int:
    """00:00 UTC of the day after the expiry date, as the contract computes it."""
    return int((dt.datetime(year, month, day, tzinfo=dt.UTC) + dt.timedelta(days=1)).timestamp())


@pytest.mark.parametrize(("yymmdd", "last_day"), [(200, 29), (229, 29), (400, 30)])
def test_expiry_calendar_century_leap_year(registry, manufacturer, yymmdd, last_day):
    # 2000 is divisible by 100 and by 400: a leap year. Dates in 2000 are past, so commissioning
    # is refused, with the computed instant in the error.
    b = make_batch(lot=f"LOT-{yymmdd}", expiry=yymmdd)
    month = yymmdd // 100
    with ape.reverts(registry.ExpiryInPast, expiry=yymmdd, expiresAt=expires_at(2000, month, last_day)):
        registry.commission(b.gtin, b.lot32, yymmdd, 8, b.tree.root, sender=manufacturer)


def test_expiry_calendar_no_feb_30_in_2000(registry, manufacturer):
    b = make_batch(lot="LOT-230", expiry=230)
    with ape.reverts(registry.NoSuchDay, value=230, year=2000, month=2, day=30, daysInMonth=29):
        registry.commission(b.gtin, b.lot32, 230, 8, b.tree.root, sender=manufacturer)
