"""Claims v2 (#13) points 5-7 at the contract: a drug line's unit is dispensed by the payee within
the window and from a batch that is neither recalled nor quarantined (the rule: checked once, at
submission); the insurer withdraws only claims it submitted; suspended adjusters decide nothing;
payBatch skips claims that are not payable; a payee that cannot receive redirects, or the amount
returns to the pool after PAYOUT_TIMEOUT. Tests named ..._attack_... fail on the v1 contract."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import (
    CREDENTIAL_FOR_TESTS,
    DRUG,
    DRUG_GTIN,
    DRUG_SALT,
    USD,
    claim_input,
    office,
    setup_plan,
    status_of,
    submit,
    today,
)

from careledger.claims.types import ClaimStatus, Decision, Line
from careledger.codes import Category, Purpose, Role

UNIT = b"\x56" * 32
BATCH = b"\xbb" * 32
GTIN = DRUG_GTIN
WINDOW = 90 * 86_400
TIMEOUT = 180 * 86_400
APPROVE = int(Decision.APPROVE)


def drug(billed=40 * USD, unit=UNIT):
    return Line(DRUG, 1, billed, DRUG_SALT, (unit,))


def now() -> int:
    return ape.chain.pending_timestamp


# ------------------------------------------------------------------ point 5/7: units, recall, quarantine


def test_constants_are_the_documented_ones(claims):
    assert (claims.DISPENSE_WINDOW(), claims.PAYOUT_TIMEOUT()) == (WINDOW, TIMEOUT)


def test_attack_unit_from_quarantined_batch_refused(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, GTIN, BATCH, sender=insurer)
    dispense.setFlags(UNIT, False, True, sender=insurer)
    with ape.reverts(claims.UnitQuarantined, unitId=UNIT, batchId=BATCH):
        claims.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)


def test_quarantine_lifted_unit_can_be_claimed(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, GTIN, BATCH, sender=insurer)
    dispense.setFlags(UNIT, False, True, sender=insurer)
    with ape.reverts(claims.UnitQuarantined, unitId=UNIT, batchId=BATCH):
        claims.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)
    dispense.setFlags(UNIT, False, False, sender=insurer)
    cid, _ = submit(claims, pharmacy, patient, [drug()])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def _dispensed_at(dispense, insurer, pharmacy, at):
    dispense.setDispense(UNIT, (pharmacy.address, at, GTIN, BATCH, False, False), sender=insurer)


def test_attack_unit_dispensed_before_the_window_refused(claims, dispense, pharmacy, patient, insurer):
    ape.chain.mine(deltatime=WINDOW + 10)
    at = now() - WINDOW - 2
    _dispensed_at(dispense, insurer, pharmacy, at)
    with ape.reverts(claims.UnitDispenseOutsideWindow, unitId=UNIT, dispensedAt=at, window=WINDOW):
        claims.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)


def test_unit_dispensed_at_the_window_edge_accepted(claims, dispense, pharmacy, patient, insurer):
    ape.chain.mine(deltatime=WINDOW + 10)
    # The claim's block is pending_timestamp (no other transaction in between on this chain).
    _dispensed_at(dispense, insurer, pharmacy, now() - WINDOW + 1)
    cid, _ = submit(claims, pharmacy, patient, [drug()])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


@pytest.mark.parametrize("flags", [(True, False), (False, True)], ids=["recalled", "quarantined"])
def test_recall_or_quarantine_after_submission_does_not_undo_the_claim(
    claims, dispense, pharmacy, patient, insurer, flags
):
    """The documented rule, its other side: checked at submission only; a claim accepted before
    the batch was recalled or quarantined is decided and paid as usual."""
    dispense.setDispensed(UNIT, pharmacy, GTIN, BATCH, sender=insurer)
    big = drug(billed=900 * USD)  # above the auto-approve limit: waits for review
    cid, _ = submit(claims, pharmacy, patient, [big])
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    dispense.setFlags(UNIT, *flags, sender=insurer)
    claims.review(cid, [big.as_tuple()], APPROVE, 0, 0, sender=insurer)
    claims.pay(cid, sender=pharmacy)
    assert status_of(claims, cid) == ClaimStatus.PAID


# ------------------------------------------------------------------ point 6: insurer powers


def test_insurer_withdraws_a_claim_it_submitted(claims, insurer, patient, clinic):
    cid, _ = submit(claims, insurer, patient, [office(1_000 * USD)], payee=clinic)
    assert claims.claimOf(cid).byInsurer
    tx = claims.withdraw(cid, sender=insurer)
    assert tx.events == [claims.ClaimWithdrawn(claimId=cid, by=insurer)]


def test_attack_insurer_withdraws_providers_queued_claim_refused(claims, insurer, patient, clinic, plan_id):
    claims.withdrawFree(plan_id, claims.poolOf(plan_id).free, insurer, sender=insurer)  # queue the next claim
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    assert status_of(claims, cid) == ClaimStatus.SUBMITTED
    assert not claims.claimOf(cid).byInsurer
    with ape.reverts(claims.NotClaimParty, claimId=cid, caller=insurer.address):
        claims.withdraw(cid, sender=insurer)


def test_attack_suspended_insurer_cannot_withdraw(claims, directory, admin, insurer, patient, clinic):
    cid, _ = submit(claims, insurer, patient, [office(1_000 * USD)], payee=clinic)
    directory.suspend(insurer, b"AUDIT".ljust(32, b"\0"), sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=insurer.address):
        claims.withdraw(cid, sender=insurer)


def test_attack_suspended_adjuster_decides_nothing(claims, directory, admin, insurer, regulator, patient, clinic):
    cid, _ = submit(claims, clinic, patient, [office(1_000 * USD)])
    claims.setAdjuster(regulator, True, sender=insurer)
    directory.suspend(regulator, b"AUDIT".ljust(32, b"\0"), sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=regulator.address):
        claims.review(cid, [office(1_000 * USD).as_tuple()], APPROVE, 0, 0, sender=regulator)
    directory.reinstate(regulator, sender=admin)
    claims.review(cid, [office(1_000 * USD).as_tuple()], APPROVE, 0, 0, sender=regulator)
    assert status_of(claims, cid) == ClaimStatus.APPROVED


def test_adjuster_of_suspended_insurer_decides_nothing(claims, directory, admin, insurer, regulator, patient, clinic):
    cid, _ = submit(claims, clinic, patient, [office(1_000 * USD)])
    claims.setAdjuster(regulator, True, sender=insurer)
    directory.suspend(insurer, b"AUDIT".ljust(32, b"\0"), sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=insurer.address):
        claims.review(cid, [office(1_000 * USD).as_tuple()], APPROVE, 0, 0, sender=regulator)


# ------------------------------------------------------------------ point 7: settlement


def test_attack_pay_batch_with_unpayable_claims_pays_the_rest(claims, token, clinic, lab, patient, insurer):
    """v1 reverted the whole batch on one withdrawn (or unknown) claim: a griefer stalled it."""
    good, _ = submit(claims, clinic, patient, [office(300 * USD)])
    pending, _ = submit(claims, lab, patient, [office(1_000 * USD)], day=today() - 2)
    claims.withdraw(pending, sender=lab)
    unknown = b"\x99" * 32
    tx = claims.payBatch([unknown, pending, good], sender=lab)
    assert len(tx.events.filter(claims.ClaimPaid)) == 1
    assert tx.events.filter(claims.PayoutSkipped) == [
        claims.PayoutSkipped(claimId=unknown, status=int(ClaimStatus.NONE)),
        claims.PayoutSkipped(claimId=pending, status=int(ClaimStatus.WITHDRAWN)),
    ]
    assert status_of(claims, good) == ClaimStatus.PAID


@pytest.fixture
def hooked(project, admin, directory, consent, dispense, insurer, patient, clinic):
    hook = project.MockHookToken.deploy(sender=admin)
    c = project.ClaimSettlement.deploy(directory, consent, dispense, hook, sender=admin)
    setup_plan(c, hook, insurer, patient, consent, [clinic])
    reverting = project.HostileRevertingPayee.deploy(c, sender=admin)
    hook.setHooked(reverting, True, sender=admin)
    directory.register(reverting, int(Role.PROVIDER), CREDENTIAL_FOR_TESTS, sender=admin)
    consent.setAllowed(patient, reverting, int(Category.FINANCIAL), int(Purpose.HPAYMT), 5, sender=admin)
    tx = reverting.submit(claim_input(patient, reverting.address, [office(300 * USD)]), sender=admin)
    cid = bytes(tx.events.filter(c.ClaimSubmitted)[0].claimId)
    return c, hook, reverting, cid


def test_unreceivable_payee_redirects_and_is_paid(hooked, admin, er):
    c, hook, reverting, cid = hooked
    tx = c.payBatch([cid], sender=admin)
    assert c.claimOf(cid).deferredAt == ape.chain.blocks[tx.block_number].timestamp
    tx = reverting.redirect(cid, er, sender=admin)
    assert tx.events.filter(c.PayoutRedirected) == [c.PayoutRedirected(claimId=cid, **{"from": reverting}, to=er)]
    c.pay(cid, sender=admin)
    assert hook.balanceOf(er) == 144 * USD
    assert status_of(c, cid) == ClaimStatus.PAID


def test_redirect_by_anyone_but_the_payee_refused(hooked, insurer, er):
    c, _, _, cid = hooked
    with ape.reverts(c.NotClaimParty, claimId=cid, caller=insurer.address):
        c.redirectPayout(cid, er, sender=insurer)


def test_unreceivable_payout_returns_to_pool_after_timeout(hooked, admin, insurer):
    c, _, reverting, cid = hooked
    with ape.reverts(c.PayoutNotLapsed, claimId=cid, releasableAt=0):
        c.releaseLapsed(cid, sender=insurer)  # no transfer has failed yet
    tx = c.payBatch([cid], sender=admin)
    deadline = ape.chain.blocks[tx.block_number].timestamp + TIMEOUT
    with ape.reverts(c.PayoutNotLapsed, claimId=cid, releasableAt=deadline):
        c.releaseLapsed(cid, sender=insurer)
    ape.chain.mine(deltatime=TIMEOUT)
    with ape.reverts(c.NotPlanInsurer, planId=1, caller=admin.address):
        c.releaseLapsed(cid, sender=admin)
    pool = c.poolOf(1)
    tx = c.releaseLapsed(cid, sender=insurer)
    assert tx.events == [c.PayoutLapsed(claimId=cid, payee=reverting, planId=1, amount=144 * USD)]
    after = c.poolOf(1)
    assert (after.owed, after.free) == (pool.owed - 144 * USD, pool.free + 144 * USD)
    assert after.funded == after.paid + after.owed + after.free
    assert status_of(c, cid) == ClaimStatus.LAPSED
    tx = c.payBatch([cid], sender=admin)
    assert tx.events == [c.PayoutSkipped(claimId=cid, status=int(ClaimStatus.LAPSED))]
