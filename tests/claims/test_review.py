"""Review by an adjuster, withdrawal and appeal: who may, when, and what they may decide."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import MRI, RULES, TERMS, USD, Line, claim_input, office, status_of, submit, today

from careledger.claims.types import Carc, ClaimStatus, Decision, adjudicate

BIG = office(1_000 * USD)  # above the auto-approve limit: review
APPROVE, PARTIAL, DENY = int(Decision.APPROVE), int(Decision.PARTIALLY_APPROVE), int(Decision.DENY)


@pytest.fixture
def pending(claims, clinic, patient):
    cid, _ = submit(claims, clinic, patient, [BIG])
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    return cid


def lines(*ls):
    return [ln.as_tuple() for ln in ls]


def test_review_approve_pays_what_rules_compute(claims, insurer, pending, plan_id):
    expected = adjudicate(RULES, TERMS, 0, 0, [BIG])
    tx = claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=insurer)
    la = expected.lines[0]
    assert tx.events == [
        claims.ClaimAdjudicated(
            claimId=pending,
            status=int(ClaimStatus.APPROVED),
            amount=expected.benefit,
            deductible=expected.deductible,
            reason=0,
            adjuster=insurer,
            lines=[(la.eligible, la.deductible, la.copay, la.coinsurance, la.benefit, la.reason)],
        )
    ]
    assert claims.claimOf(pending).amount == expected.benefit == 704 * USD
    assert claims.poolOf(plan_id).owed == 704 * USD


def test_review_partial_approval_with_reason(claims, insurer, pending):
    tx = claims.review(pending, lines(BIG), PARTIAL, 500 * USD, int(Carc.NOT_MEDICALLY_NECESSARY), sender=insurer)
    ev = tx.events.filter(claims.ClaimAdjudicated)[0]
    assert (ev.status, ev.amount, ev.reason) == (int(ClaimStatus.PARTIALLY_APPROVED), 500 * USD, 50)
    e = claims.coverOf(claims.claimOf(pending).member, 0)
    assert (e.deductibleMet, e.benefitPaid) == (TERMS.deductible, 500 * USD)


@pytest.mark.parametrize("amount", [0, 704 * USD, 705 * USD])
def test_review_partial_amount_out_of_range_refused(claims, insurer, pending, amount):
    with ape.reverts(claims.InvalidPartialAmount, claimId=pending, amount=amount, rulesBenefit=704 * USD):
        claims.review(pending, lines(BIG), PARTIAL, amount, 50, sender=insurer)


@pytest.mark.parametrize(("decision", "reason"), [(APPROVE, 50), (PARTIAL, 0), (DENY, 0), (DENY, 1000)])
def test_review_bad_reason_refused(claims, insurer, pending, decision, reason):
    with ape.reverts(claims.InvalidReason, decision=decision, reason=reason):
        claims.review(pending, lines(BIG), decision, 100 * USD, reason, sender=insurer)


def test_review_deny_leaves_accumulators(claims, insurer, pending, patient, plan_id):
    tx = claims.review(pending, lines(BIG), DENY, 0, int(Carc.NOT_MEDICALLY_NECESSARY), sender=insurer)
    assert status_of(claims, pending) == ClaimStatus.DENIED
    assert tx.events.filter(claims.ClaimAdjudicated)[0].amount == 0
    e = claims.coverOf(patient, 0)
    assert (e.deductibleMet, e.benefitPaid) == (0, 0)
    assert claims.poolOf(plan_id).owed == 0
    assert claims.claimOf(pending).deniedAt == ape.chain.blocks[tx.block_number].timestamp


def test_review_by_appointed_adjuster(claims, insurer, regulator, pending):
    with ape.reverts(claims.NotAdjuster, planId=1, caller=regulator.address):
        claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=regulator)
    tx = claims.setAdjuster(regulator, True, sender=insurer)
    assert tx.events == [claims.AdjusterSet(insurer=insurer, adjuster=regulator, allowed=True)]
    claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=regulator)
    assert status_of(claims, pending) == ClaimStatus.APPROVED


@pytest.mark.parametrize("who", ["clinic", "lab", "patient", "outsider"])
def test_review_by_non_adjuster_refused(claims, request, pending, who):
    acct = request.getfixturevalue(who)
    with ape.reverts(claims.NotAdjuster, planId=1, caller=acct.address):
        claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=acct)


def test_adjuster_who_is_payee_refused(claims, insurer, clinic, pending):
    claims.setAdjuster(clinic, True, sender=insurer)
    with ape.reverts(claims.AdjusterIsPayee, claimId=pending, adjuster=clinic.address):
        claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=clinic)


def test_review_with_other_lines_refused(claims, insurer, pending):
    with ape.reverts(claims.LinesMismatch):
        claims.review(pending, lines(office(10 * USD)), APPROVE, 0, 0, sender=insurer)


def test_review_when_pool_short_refused(project, admin, directory, consent, dispense, token, insurer, patient, clinic):
    from claims_fixtures import setup_plan

    c = project.ClaimSettlement.deploy(directory, consent, dispense, token, sender=admin)
    pid = setup_plan(c, token, insurer, patient, consent, [clinic], pool=100 * USD)
    cid, _ = submit(c, clinic, patient, [BIG])
    with ape.reverts(c.InsufficientFreeFunds, planId=pid, needed=704 * USD, free=100 * USD):
        c.review(cid, lines(BIG), APPROVE, 0, 0, sender=insurer)


def test_review_of_undecidable_status_refused(claims, insurer, clinic, patient):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    with ape.reverts(claims.InvalidClaimStatus, claimId=cid, status=int(ClaimStatus.APPROVED)):
        claims.review(cid, lines(office(300 * USD)), APPROVE, 0, 0, sender=insurer)


def test_review_approve_pre_auth_claim(claims, insurer, clinic, patient):
    mri = Line(MRI, 1, 400 * USD)
    cid, _ = submit(claims, clinic, patient, [mri])
    claims.review(cid, lines(mri), APPROVE, 0, 0, sender=insurer)
    # 400: 100 deductible, 20 % of 300 = 60 coinsurance, plan pays 240.
    assert claims.claimOf(cid).amount == 240 * USD


# ------------------------------------------------------------------ withdraw


def test_withdraw_by_payee_before_decision(claims, clinic, pending):
    tx = claims.withdraw(pending, sender=clinic)
    assert tx.events == [claims.ClaimWithdrawn(claimId=pending, by=clinic)]
    assert status_of(claims, pending) == ClaimStatus.WITHDRAWN


def test_withdraw_by_insurer_of_providers_claim_refused(claims, insurer, pending):
    # Attack (#13 point 6): the insurer withdrew a provider's pending claim to dodge paying it.
    with ape.reverts(claims.NotClaimParty, claimId=pending, caller=insurer.address):
        claims.withdraw(pending, sender=insurer)
    assert status_of(claims, pending) == ClaimStatus.PENDING_REVIEW


@pytest.mark.parametrize("who", ["lab", "patient", "outsider"])
def test_withdraw_by_others_refused(claims, request, pending, who):
    acct = request.getfixturevalue(who)
    with ape.reverts(claims.NotClaimParty, claimId=pending, caller=acct.address):
        claims.withdraw(pending, sender=acct)


def test_withdraw_after_decision_refused(claims, insurer, clinic, pending):
    claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=insurer)
    with ape.reverts(claims.InvalidClaimStatus, claimId=pending, status=int(ClaimStatus.APPROVED)):
        claims.withdraw(pending, sender=clinic)


def test_withdrawn_claim_cannot_be_reviewed(claims, insurer, clinic, pending):
    claims.withdraw(pending, sender=clinic)
    with ape.reverts(claims.InvalidClaimStatus, claimId=pending, status=int(ClaimStatus.WITHDRAWN)):
        claims.review(pending, lines(BIG), APPROVE, 0, 0, sender=insurer)


# ------------------------------------------------------------------ appeal


@pytest.fixture
def denied(claims, insurer, pending):
    claims.review(pending, lines(BIG), DENY, 0, int(Carc.NOT_MEDICALLY_NECESSARY), sender=insurer)
    return pending


def test_appeal_once_within_window(claims, clinic, insurer, denied):
    tx = claims.appeal(denied, sender=clinic)
    assert tx.events == [
        claims.ClaimAppealed(claimId=denied, by=clinic),
        claims.ClaimPendingReview(claimId=denied, preAuth=False, appeal=True),
    ]
    assert status_of(claims, denied) == ClaimStatus.PENDING_REVIEW
    claims.review(denied, lines(BIG), DENY, 0, int(Carc.NOT_MEDICALLY_NECESSARY), sender=insurer)
    with ape.reverts(claims.AppealAlreadyUsed, claimId=denied):
        claims.appeal(denied, sender=clinic)


def test_appeal_by_member_allowed_and_others_refused(claims, patient, lab, denied):
    with ape.reverts(claims.NotClaimParty, claimId=denied, caller=lab.address):
        claims.appeal(denied, sender=lab)
    claims.appeal(denied, sender=patient)


def test_appeal_one_second_before_deadline_allowed(claims, clinic, denied):
    deadline = claims.claimOf(denied).deniedAt + TERMS.appeal_window
    ape.chain.pending_timestamp = deadline - 1
    claims.appeal(denied, sender=clinic)


def test_appeal_at_deadline_refused(claims, clinic, denied):
    deadline = claims.claimOf(denied).deniedAt + TERMS.appeal_window
    ape.chain.pending_timestamp = deadline
    with ape.reverts(claims.AppealWindowClosed, claimId=denied, deadline=deadline):
        claims.appeal(denied, sender=clinic)


def test_appeal_of_approved_claim_refused(claims, clinic, patient):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    with ape.reverts(claims.InvalidClaimStatus, claimId=cid, status=int(ClaimStatus.APPROVED)):
        claims.appeal(cid, sender=clinic)


def test_auto_denied_claim_can_be_appealed_and_approved(claims, clinic, insurer, patient):
    from claims_fixtures import COSMETIC

    line = Line(COSMETIC, 1, 200 * USD)
    cid, _ = submit(claims, clinic, patient, [line])
    claims.appeal(cid, sender=clinic)
    # The rules still cover nothing: an approval cannot pay what the rules refuse.
    claims.review(cid, lines(line), APPROVE, 0, 0, sender=insurer)
    assert status_of(claims, cid) == ClaimStatus.DENIED


def test_claim_input_helper_day(claims):
    from claims_fixtures import episode

    member, payee = "0x" + "11" * 20, "0x" + "22" * 20
    ci = claim_input(member, payee, [office()])
    assert (ci[2], ci[3]) == (0, episode(member, payee, today() - 1))  # plan period; the day only in the MAC
