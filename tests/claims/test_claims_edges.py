"""ClaimSettlement edges the scenario tests do not reach (found by `make coverage`): constructor
and setter guards, the wiring and adjuster reads, approval of a claim with a denied line or with
nothing to pay, withdrawal of a queued claim, reads of unknown plans or members, and a member
whose annual maximum is used up."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import COSMETIC, MRI, OFFICE, RULES, TERMS, USD, Line, office, setup_plan, status_of, submit

from careledger.claims.types import Carc, ClaimStatus, Decision, PlanTerms, adjudicate

ZERO_ADDR = "0x" + "00" * 20
APPROVE = int(Decision.APPROVE)


def as_tuples(*lines: Line) -> list[tuple[bytes, int, int]]:
    return [ln.as_tuple() for ln in lines]


def adjudicated(claims, tx):
    return tx.events.filter(claims.ClaimAdjudicated)[0]


@pytest.mark.parametrize("zeroed", ["directory", "consent", "token"])
def test_constructor_refuses_a_missing_contract(project, admin, directory, consent, dispense, token, zeroed):
    wiring = {"directory": directory, "consent": consent, "provenance": dispense, "token": token}
    wiring[zeroed] = ZERO_ADDR
    with ape.reverts(project.ClaimSettlement.ZeroAddress):
        project.ClaimSettlement.deploy(*wiring.values(), sender=admin)


def test_wiring_reads_back_the_constructor_arguments(bare, directory, consent, dispense, token):
    assert tuple(bare.wiring()) == (directory.address, consent.address, dispense.address, token.address)


def test_set_adjuster_grants_and_revokes(claims, insurer, lab):
    assert claims.isAdjuster(insurer, lab) is False
    tx = claims.setAdjuster(lab, True, sender=insurer)
    assert tx.events == [claims.AdjusterSet(insurer=insurer, adjuster=lab, allowed=True)]
    assert claims.isAdjuster(insurer, lab) is True
    claims.setAdjuster(lab, False, sender=insurer)
    assert claims.isAdjuster(insurer, lab) is False
    with ape.reverts(claims.ZeroAddress):
        claims.setAdjuster(ZERO_ADDR, True, sender=insurer)


def test_set_coverage_empty_table_refused(claims, insurer, plan_id):
    from claims_fixtures import schedule

    version = schedule(claims, insurer, plan_id, {OFFICE: RULES[OFFICE]}, wait=False)
    with ape.reverts(claims.InvalidRuleTable, codes=0, rules=0):
        claims.setCoverage(plan_id, version, [], [], [], sender=insurer)


def test_reads_of_unknown_plan_or_member_refused(claims, patient2):
    with ape.reverts(claims.UnknownPlan, planId=99):
        claims.poolOf(99)
    with ape.reverts(claims.NotEnrolled, member=patient2.address, period=0):
        claims.quote(patient2, 0, as_tuples(office()))


def test_review_approve_with_a_denied_line_is_partial(claims, insurer, clinic, patient):
    # Above the auto-approve limit, so it waits for review; the cosmetic line is not covered.
    ordered = sorted([office(1_000 * USD), Line(COSMETIC, 1, 300 * USD)], key=lambda ln: ln.code)
    cid, _ = submit(claims, clinic, patient, ordered)
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    expected = adjudicate(RULES, TERMS, 0, 0, ordered)
    assert expected.any_denied and expected.benefit > 0
    ev = adjudicated(claims, claims.review(cid, as_tuples(*ordered), APPROVE, 0, 0, sender=insurer))
    assert (ev.status, ev.amount, ev.reason) == (
        int(ClaimStatus.PARTIALLY_APPROVED),
        expected.benefit,
        int(Carc.NOT_COVERED),
    )
    assert status_of(claims, cid) == ClaimStatus.PARTIALLY_APPROVED


def test_review_approve_with_nothing_to_pay_closes_the_claim(claims, insurer, clinic, patient, plan_id):
    # A pre-authorised MRI billed below the deductible: approved, all of it is the member's.
    mri = Line(MRI, 1, 60 * USD)
    expected = adjudicate(RULES, TERMS, 0, 0, [mri])
    assert (expected.needs_review, expected.benefit, expected.deductible) == (True, 0, 60 * USD)
    cid, _ = submit(claims, clinic, patient, [mri])
    tx = claims.review(cid, as_tuples(mri), APPROVE, 0, 0, sender=insurer)
    assert adjudicated(claims, tx).status == int(ClaimStatus.APPROVED)
    assert tx.events.filter(claims.ClaimPaid) == [claims.ClaimPaid(claimId=cid, payee=clinic, planId=plan_id, amount=0)]
    assert status_of(claims, cid) == ClaimStatus.PAID
    assert claims.claimOf(cid).payee == ZERO_ADDR
    cover = claims.coverOf(patient, 0)
    assert (cover.deductibleMet, cover.benefitPaid) == (60 * USD, 0)


def test_queued_claim_can_be_withdrawn(bare, token, insurer, clinic, patient, consent):
    plan = setup_plan(bare, token, insurer, patient, consent, [clinic], pool=0)
    cid, tx = submit(bare, clinic, patient, [office(300 * USD)])  # auto-approved, but nothing to pay with
    assert len(tx.events.filter(bare.ClaimQueued)) == 1
    assert status_of(bare, cid) == ClaimStatus.SUBMITTED
    assert bare.poolOf(plan).funded == 0
    assert bare.withdraw(cid, sender=clinic).events == [bare.ClaimWithdrawn(claimId=cid, by=clinic)]
    assert status_of(bare, cid) == ClaimStatus.WITHDRAWN


def test_used_up_annual_maximum_leaves_no_benefit(bare, token, insurer, clinic, patient, consent):
    terms = PlanTerms(deductible=0, annual_max=100 * USD, auto_approve_limit=500 * USD, appeal_window=0)
    setup_plan(bare, token, insurer, patient, consent, [clinic], terms=terms)
    first = office(200 * USD)
    paid = adjudicate(RULES, terms, 0, 0, [first])
    assert paid.benefit == terms.annual_max  # capped: the maximum is used up by this claim
    cid, _ = submit(bare, clinic, patient, [first])
    assert status_of(bare, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)
    assert bare.coverOf(patient, 0).benefitPaid == terms.annual_max

    second = office(50 * USD)
    expected = adjudicate(RULES, terms, 0, terms.annual_max, [second])
    q = bare.quote(patient, 0, as_tuples(second))
    assert q.benefit == expected.benefit == 0
    assert [tuple(x) for x in q.lines] == [
        (la.eligible, la.deductible, la.copay, la.coinsurance, la.benefit, la.reason) for la in expected.lines
    ]
    assert q.lines[0].reason == int(Carc.BENEFIT_MAXIMUM)
