"""Payouts: once only, never for a denied claim, hostile payees, batches."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import CREDENTIAL_FOR_TESTS, USD, claim_input, office, setup_plan, status_of, submit, today

from careledger.claims.types import ClaimStatus, Decision
from careledger.codes import Category, Purpose, Role


def test_pay_transfers_once(claims, token, clinic, lab, patient, plan_id):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    tx = claims.pay(cid, sender=lab)  # anyone may trigger; the payee is fixed
    assert tx.events.filter(claims.ClaimPaid) == [
        claims.ClaimPaid(claimId=cid, payee=clinic, planId=plan_id, amount=144 * USD)
    ]
    assert token.balanceOf(clinic) == 144 * USD
    assert status_of(claims, cid) == ClaimStatus.PAID
    pool = claims.poolOf(plan_id)
    assert (pool.paid, pool.owed) == (144 * USD, 0)
    with ape.reverts(claims.InvalidClaimStatus, claimId=cid, status=int(ClaimStatus.PAID)):
        claims.pay(cid, sender=clinic)


def test_denied_claim_never_paid(claims, insurer, clinic, patient):
    big = office(1_000 * USD)
    cid, _ = submit(claims, clinic, patient, [big])
    with ape.reverts(claims.InvalidClaimStatus, claimId=cid, status=int(ClaimStatus.PENDING_REVIEW)):
        claims.pay(cid, sender=clinic)
    claims.review(cid, [big.as_tuple()], int(Decision.DENY), 0, 50, sender=insurer)
    with ape.reverts(claims.InvalidClaimStatus, claimId=cid, status=int(ClaimStatus.DENIED)):
        claims.pay(cid, sender=clinic)


def test_pay_batch_pays_all(claims, token, clinic, patient):
    ids = []
    for i in range(5):
        cid, _ = submit(claims, clinic, patient, [office(200 * USD)], day=today() - 1 - i)
        ids.append(cid)
    tx = claims.payBatch(ids, sender=clinic)
    assert len(tx.events.filter(claims.ClaimPaid)) == 5
    assert all(status_of(claims, c) == ClaimStatus.PAID for c in ids)


def test_pay_batch_with_same_claim_twice_pays_once(claims, token, clinic, patient):
    cid, _ = submit(claims, clinic, patient, [office(200 * USD)])
    before = token.balanceOf(clinic)
    tx = claims.payBatch([cid, cid], sender=clinic)
    assert len(tx.events.filter(claims.ClaimPaid)) == 1
    assert tx.events.filter(claims.PayoutSkipped) == [claims.PayoutSkipped(claimId=cid, status=int(ClaimStatus.PAID))]
    assert token.balanceOf(clinic) - before == 64 * USD


@pytest.mark.parametrize("size", [0, 101])
def test_pay_batch_size_out_of_range_refused(claims, clinic, size):
    with ape.reverts(claims.InvalidBatchSize, size=size, max=100):
        claims.payBatch([b"\x01" * 32] * size, sender=clinic)


# ------------------------------------------------------------------ hostile payees (hook token)


@pytest.fixture
def hooked(project, admin, directory, consent, dispense, insurer, patient, clinic):
    """A settlement paying in MockHookToken (calls the recipient back), with two hostile payees
    registered as providers and consented to by the patient."""
    hook = project.MockHookToken.deploy(sender=admin)
    c = project.ClaimSettlement.deploy(directory, consent, dispense, hook, sender=admin)
    setup_plan(c, hook, insurer, patient, consent, [clinic])
    reentrant = project.HostileReentrantPayee.deploy(c, sender=admin)
    reverting = project.HostileRevertingPayee.deploy(c, sender=admin)
    for p in (reentrant, reverting):
        hook.setHooked(p, True, sender=admin)
        directory.register(p, int(Role.PROVIDER), CREDENTIAL_FOR_TESTS, sender=admin)
        consent.setAllowed(patient, p, int(Category.FINANCIAL), int(Purpose.HPAYMT), 5, sender=admin)
    return c, hook, reentrant, reverting


def hostile_submit(c, payee_contract, patient, day, admin):
    tx = payee_contract.submit(claim_input(patient, payee_contract.address, [office(300 * USD)], day=day), sender=admin)
    return bytes(tx.events.filter(c.ClaimSubmitted)[0].claimId)


def test_reentrant_payee_paid_once(hooked, patient, admin):
    c, hook, reentrant, _ = hooked
    cid = hostile_submit(c, reentrant, patient, today() - 1, admin)
    reentrant.setTarget(cid, sender=admin)
    c.pay(cid, sender=admin)
    assert reentrant.attempts() == 1
    assert reentrant.successes() == 0
    assert hook.balanceOf(reentrant) == 144 * USD
    assert reentrant.lastError()[:4] == bytes.fromhex("3ee5aeb5")  # ReentrancyGuardReentrantCall()
    assert status_of(c, cid) == ClaimStatus.PAID


def test_reverting_payee_blocks_nobody_in_batch(hooked, patient, clinic, admin):
    c, hook, _, reverting = hooked
    bad = hostile_submit(c, reverting, patient, today() - 1, admin)
    good, _ = submit(c, clinic, patient, [office(300 * USD)], day=today() - 2)
    owed_before = c.poolOf(1).owed
    tx = c.payBatch([bad, good], sender=admin)
    assert tx.events.filter(c.PayoutDeferred) == [c.PayoutDeferred(claimId=bad, payee=reverting)]
    assert status_of(c, good) == ClaimStatus.PAID
    assert hook.balanceOf(clinic) > 0
    # The failed one is untouched and still owed; it pays once the payee accepts.
    assert status_of(c, bad) == ClaimStatus.APPROVED
    assert c.claimOf(bad).payee == reverting.address
    assert c.poolOf(1).owed == owed_before - c.poolOf(1).paid
    with ape.reverts(c.PayoutTransferFailed, claimId=bad, payee=reverting.address):
        c.pay(bad, sender=admin)
    reverting.setRefusing(False, sender=admin)
    c.pay(bad, sender=admin)
    assert hook.balanceOf(reverting) == 144 * USD


def test_paid_claim_keeps_status_and_clears_payee(claims, clinic, patient):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    claims.pay(cid, sender=clinic)
    c = claims.claimOf(cid)
    assert (c.status, c.payee, c.amount) == (int(ClaimStatus.PAID), "0x" + "00" * 20, 0)
    zero, _ = submit(claims, clinic, patient, [office(10 * USD)], day=today() - 2)  # all to the deductible
    z = claims.claimOf(zero)
    assert (z.status, z.payee, z.amount) == (int(ClaimStatus.PAID), "0x" + "00" * 20, 0)
