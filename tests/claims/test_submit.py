"""Submission: who may submit, for whom, which lines; duplicates; drug units; auto-adjudication."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import (
    COSMETIC,
    DRUG,
    DRUG_GTIN,
    DRUG_SALT,
    MRI,
    OFFICE,
    RULES,
    TERMS,
    UNLISTED,
    USD,
    XRAY,
    ZERO32,
    claim_input,
    enrol,
    episode,
    office,
    status_of,
    submit,
    today,
)

from careledger.claims.types import Carc, ClaimStatus, Line, adjudicate, claim_id, service_code
from careledger.codes import Category, Purpose, Role

UNIT = b"\x55" * 32
BATCH = b"\xba" * 32
DAY = 86_400


def test_submit_small_claim_auto_approves_with_deductible(claims, clinic, patient, plan_id):
    day = today() - 1
    line = office(180 * USD)
    tx = claims.submit(claim_input(patient, clinic, [line], day=day), sender=clinic)
    ep = episode(patient, clinic, day)
    cid = claim_id(patient.address, clinic.address, 0, ep)
    expected = adjudicate(RULES, TERMS, 0, 0, [line])
    # 180 billed: 100 deductible, then 20 copay, then 20 % of 60 = 12 coinsurance: plan pays 48.
    assert [la.benefit for la in expected.lines] == [48 * USD]
    la = expected.lines[0]
    assert tx.events == [
        claims.ClaimSubmitted(
            claimId=cid,
            member=patient,
            payee=clinic,
            planId=plan_id,
            version=1,
            servicePeriod=0,
            submitter=clinic,
            consentId=7,
            resubmission=0,
            episode=ep,
            fhirClaim=b"\x11" * 32,
            lines=[line.as_tuple()],
        ),
        claims.ClaimAdjudicated(
            claimId=cid,
            status=int(ClaimStatus.APPROVED),
            amount=48 * USD,
            deductible=100 * USD,
            reason=0,
            adjuster=ZERO_ADDR,
            lines=[(la.eligible, la.deductible, la.copay, la.coinsurance, la.benefit, la.reason)],
        ),
    ]
    c = claims.claimOf(cid)
    assert (c.member, c.status, c.payee, c.amount) == (
        patient.address,
        int(ClaimStatus.APPROVED),
        clinic.address,
        48 * USD,
    )
    cover = claims.coverOf(patient, 0)
    assert (cover.enrolment, cover.deductibleMet, cover.benefitPaid) == (1, 100 * USD, 48 * USD)
    assert claims.poolOf(plan_id).owed == 48 * USD


ZERO_ADDR = "0x" + "00" * 20


def test_submit_all_to_deductible_settles_at_zero(claims, clinic, patient):
    cid, tx = submit(claims, clinic, patient, [office(60 * USD)])
    assert status_of(claims, cid) == ClaimStatus.PAID
    assert tx.events.filter(claims.ClaimPaid)[0].amount == 0


def test_submit_without_consent_refused(claims, er, patient, admin, directory):
    # The ER is an active provider, but the patient never consented to it for payment.
    with ape.reverts(claims.NoPaymentConsent, member=patient.address, submitter=er.address):
        claims.submit(claim_input(patient, er, [office()]), sender=er)


def test_submit_consent_for_other_purpose_refused(claims, consent, er, patient, insurer):
    consent.setAllowed(patient, er, int(Category.FINANCIAL), int(Purpose.TREAT), 9, sender=insurer)
    with ape.reverts(claims.NoPaymentConsent, member=patient.address, submitter=er.address):
        claims.submit(claim_input(patient, er, [office()]), sender=er)
    consent.setAllowed(patient, er, int(Category.FINANCIAL), int(Purpose.HPAYMT), 9, sender=insurer)
    cid, _ = submit(claims, er, patient, [office()])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def test_submit_for_another_payee_refused(claims, clinic, lab, patient):
    with ape.reverts(claims.PayeeNotSubmitter, payee=lab.address, submitter=clinic.address):
        claims.submit(claim_input(patient, lab, [office()]), sender=clinic)


@pytest.mark.parametrize("who", ["outsider", "manufacturer", "regulator"])
def test_submit_by_non_provider_refused(claims, request, patient, directory, who):
    acct = request.getfixturevalue(who)
    if who == "outsider":
        with ape.reverts(directory.ParticipantNotRegistered, account=acct.address):
            claims.submit(claim_input(patient, acct, [office()]), sender=acct)
    else:
        with ape.reverts(
            directory.ParticipantLacksRole, account=acct.address, requiredRoles=int(Role.PROVIDER | Role.PHARMACY)
        ):
            claims.submit(claim_input(patient, acct, [office()]), sender=acct)


def test_submit_by_suspended_provider_refused(claims, directory, admin, clinic, patient):
    directory.suspend(clinic, b"AUDIT".ljust(32, b"\0"), sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=clinic.address):
        claims.submit(claim_input(patient, clinic, [office()]), sender=clinic)


def test_submit_insurer_on_behalf_pays_member_or_provider(claims, insurer, patient, clinic, outsider, directory):
    cid, _ = submit(claims, insurer, patient, [office(150 * USD)], payee=patient)
    assert claims.claimOf(cid).payee == patient.address
    cid2, _ = submit(claims, insurer, patient, [office(150 * USD)], payee=clinic, day=today() - 2)
    assert claims.claimOf(cid2).payee == clinic.address
    with ape.reverts(directory.ParticipantNotRegistered, account=outsider.address):
        claims.submit(claim_input(patient, outsider, [office()]), sender=insurer)


def test_submit_for_unenrolled_member_refused(claims, clinic, patient2):
    with ape.reverts(claims.NotEnrolled, member=patient2.address, period=0):
        claims.submit(claim_input(patient2, clinic, [office()]), sender=clinic)


def test_submit_for_a_period_not_covered_refused_and_filing_window(claims, clinic, patient, plan_id):
    """Claims resolve the cover of their plan period; a period ends, its claims stay fileable
    for the filing window (judged by block time), then close."""
    start = claims.planOf(plan_id)[1][4]  # PlanTerms.periodStart
    next_period = start + TERMS.period_length
    ape.chain.mine(timestamp=next_period)
    with ape.reverts(claims.NotEnrolled, member=patient.address, period=1):
        claims.submit(claim_input(patient, clinic, [office()], period=1), sender=clinic)
    cid, _ = submit(claims, clinic, patient, [office()], period=0)  # last year's service, filed in time
    assert status_of(claims, cid) != ClaimStatus.NONE
    deadline = next_period + TERMS.filing_window
    ape.chain.mine(timestamp=deadline)
    with ape.reverts(claims.FilingWindowClosed, servicePeriod=0, deadline=deadline):
        claims.submit(claim_input(patient, clinic, [office()], day=today() - 400, period=0), sender=clinic)


def test_submit_future_service_period_refused(claims, clinic, patient, insurer):
    enrol(claims, insurer, patient, from_period=1)  # next plan year, agreed ahead
    with ape.reverts(claims.ServicePeriodInFuture, servicePeriod=1, current=0):
        claims.submit(claim_input(patient, clinic, [office()], period=1), sender=clinic)


def test_submit_without_episode_refused(claims, clinic, patient):
    ci = list(claim_input(patient, clinic, [office()]))
    ci[3] = ZERO32
    with ape.reverts(claims.EmptyEpisode):
        claims.submit(tuple(ci), sender=clinic)


@pytest.mark.parametrize("count", [0, 17])
def test_submit_line_count_out_of_range_refused(claims, clinic, patient, count):
    with ape.reverts(claims.InvalidLineCount, count=count, max=16):
        claims.submit(claim_input(patient, clinic, [office()] * count), sender=clinic)


def test_submit_sixteen_lines_accepted(claims, clinic, patient):
    codes = sorted(service_code(f"CPT:992{i:02d}") for i in range(16))  # no rule: not covered
    cid, _ = submit(claims, clinic, patient, [Line(c, 1, 10 * USD) for c in codes])
    assert status_of(claims, cid) != ClaimStatus.NONE


@pytest.mark.parametrize("line", [Line(OFFICE, 0, 10), Line(OFFICE, 1, 0)])
def test_submit_zero_units_or_amount_refused(claims, clinic, patient, line):
    with ape.reverts(claims.InvalidLine, index=1):
        claims.submit(claim_input(patient, clinic, [office(), line]), sender=clinic)


def test_submit_unsorted_codes_refused(claims, clinic, patient):
    lines = sorted([office(), Line(XRAY, 1, 100 * USD)], key=lambda ln: ln.code, reverse=True)
    with ape.reverts(claims.LinesNotSorted, index=1):
        claims.submit(claim_input(patient, clinic, lines, sort=False), sender=clinic)


def test_submit_duplicate_refused(claims, clinic, patient):
    day = today() - 3
    cid, _ = submit(claims, clinic, patient, [office()], day=day)
    # Same member, provider and encounter (the day is inside the episode digest): a duplicate
    # even with other amounts and commitment.
    with ape.reverts(claims.DuplicateClaim, claimId=cid):
        claims.submit(claim_input(patient, clinic, [office(999 * USD)], day=day, fhir=b"\x99" * 32), sender=clinic)
    # Another day (another encounter) is a different claim.
    submit(claims, clinic, patient, [office()], day=day - 1)


def test_attack_split_encounter_over_two_claims_refused(claims, clinic, patient):
    """v1 keyed duplicates by the codes: the same visit billed as [office] and then [x-ray] (or a
    line split in two) passed as two claims. One claim per encounter now: the id has no codes."""
    day = today() - 3
    cid, _ = submit(claims, clinic, patient, [office()], day=day)
    with ape.reverts(claims.DuplicateClaim, claimId=cid):
        claims.submit(claim_input(patient, clinic, [Line(XRAY, 1, 50 * USD)], day=day), sender=clinic)


def test_resubmission_allowed_only_after_withdrawal(claims, clinic, patient):
    day = today() - 4
    cid, _ = submit(claims, clinic, patient, [office(900 * USD)], day=day)  # above the limit: in review
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    with ape.reverts(claims.ResubmissionNotAllowed, previous=cid, status=int(ClaimStatus.PENDING_REVIEW)):
        claims.submit(claim_input(patient, clinic, [office(400 * USD)], day=day, resubmission=1), sender=clinic)
    claims.withdraw(cid, sender=clinic)
    cid1, _ = submit(claims, clinic, patient, [office(400 * USD)], day=day, resubmission=1)
    assert cid1 == claim_id(patient.address, clinic.address, 0, episode(patient, clinic, day), resubmission=1)
    assert status_of(claims, cid1) == ClaimStatus.APPROVED
    with ape.reverts(claims.ResubmissionNotAllowed, previous=cid1, status=int(ClaimStatus.APPROVED)):
        claims.submit(claim_input(patient, clinic, [office()], day=day, resubmission=2), sender=clinic)


def test_claim_id_matches_python(claims, clinic, patient):
    ep = episode(patient, clinic, 20_000)
    assert claims.claimIdOf(patient, clinic, 3, ep, 2) == claim_id(patient.address, clinic.address, 3, ep, 2)


def test_uncovered_lines_partially_approve_or_deny(claims, clinic, patient):
    cid, tx = submit(claims, clinic, patient, [Line(COSMETIC, 1, 300 * USD)])
    assert status_of(claims, cid) == ClaimStatus.DENIED
    ev = tx.events.filter(claims.ClaimAdjudicated)[0]
    assert (ev.status, ev.amount, ev.reason) == (int(ClaimStatus.DENIED), 0, int(Carc.NOT_COVERED))
    lines = sorted([office(300 * USD), Line(UNLISTED, 1, 50 * USD)], key=lambda ln: ln.code)
    cid2, tx2 = submit(claims, clinic, patient, lines, day=today() - 2)
    assert status_of(claims, cid2) == ClaimStatus.PARTIALLY_APPROVED
    assert tx2.events.filter(claims.ClaimAdjudicated)[0].reason == int(Carc.NOT_COVERED)


def test_pre_auth_line_goes_to_review(claims, clinic, patient):
    cid, tx = submit(claims, clinic, patient, [Line(MRI, 1, 100 * USD)])
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    assert tx.events.filter(claims.ClaimPendingReview)[0].preAuth == 1


def test_claim_at_limit_auto_and_above_limit_review(claims, clinic, patient):
    cid, _ = submit(claims, clinic, patient, [office(TERMS.auto_approve_limit)])
    assert status_of(claims, cid) == ClaimStatus.APPROVED
    cid2, tx = submit(claims, clinic, patient, [office(TERMS.auto_approve_limit + 1)], day=today() - 2)
    assert status_of(claims, cid2) == ClaimStatus.PENDING_REVIEW
    assert tx.events.filter(claims.ClaimPendingReview)[0].preAuth == 0


# ------------------------------------------------------------------ drug lines


def drug(unit=UNIT, billed=40 * USD, units=None):
    units = (unit,) if units is None else units
    return Line(DRUG, max(len(units), 1), billed, DRUG_SALT, tuple(units))


def test_pharmacy_line_with_dispensed_unit_settles(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    cid, _ = submit(claims, pharmacy, patient, [drug()])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def test_drug_code_without_unit_refused(claims, pharmacy, patient):
    with ape.reverts(claims.DrugUnitsRequired, index=0, units=1, given=0):
        claims.submit(claim_input(patient, pharmacy, [drug(units=())]), sender=pharmacy)


def test_attack_one_pack_backs_many_packages_refused(claims, dispense, pharmacy, patient, insurer):
    """v1: one dispensed pack backed any quantity. Now one unit per package billed."""
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    three = Line(DRUG, 3, 120 * USD, DRUG_SALT, (UNIT,))
    with ape.reverts(claims.DrugUnitsRequired, index=0, units=3, given=1):
        claims.submit(claim_input(patient, pharmacy, [three]), sender=pharmacy)


def test_attack_cheap_pack_backs_another_drug_refused(claims, dispense, pharmacy, patient, insurer):
    """v1: any dispensed unit backed any code. The unit's GTIN must open the code's binding."""
    dispense.setDispensed(UNIT, pharmacy, 300_000_000_000_9, BATCH, sender=insurer)  # another product
    with ape.reverts(claims.UnitProductMismatch, index=0, unitId=UNIT):
        claims.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)
    # The right product but a salt that is not the plan's: refused the same way.
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    forged = Line(DRUG, 1, 40 * USD, b"\x01" * 32, (UNIT,))
    with ape.reverts(claims.UnitProductMismatch, index=0, unitId=UNIT):
        claims.submit(claim_input(patient, pharmacy, [forged]), sender=pharmacy)


def test_units_on_a_code_that_is_no_drug_refused(claims, clinic, patient):
    with ape.reverts(claims.UnitsNotExpected, index=0):
        claims.submit(claim_input(patient, clinic, [Line(OFFICE, 1, 80 * USD, ZERO32, (UNIT,))]), sender=clinic)


def test_two_packages_two_units_settle(claims, dispense, pharmacy, patient, insurer):
    other = b"\x56" * 32
    for u in (UNIT, other):
        dispense.setDispensed(u, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    cid, _ = submit(claims, pharmacy, patient, [drug(units=(UNIT, other), billed=80 * USD)])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def test_unit_dispensed_by_another_pharmacy_refused(claims, dispense, pharmacy, clinic, patient, insurer):
    dispense.setDispensed(UNIT, clinic, DRUG_GTIN, BATCH, sender=insurer)
    with ape.reverts(claims.UnitNotDispensedByPayee, unitId=UNIT, dispensedBy=clinic.address, payee=pharmacy.address):
        claims.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)


def test_unit_never_dispensed_refused(claims, pharmacy, patient):
    unit = b"\x77" * 32
    with ape.reverts(claims.UnitNotDispensedByPayee, unitId=unit, dispensedBy=ZERO_ADDR, payee=pharmacy.address):
        claims.submit(claim_input(patient, pharmacy, [drug(unit=unit)]), sender=pharmacy)


def test_unit_from_recalled_batch_refused(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    dispense.setFlags(UNIT, True, False, sender=insurer)
    with ape.reverts(claims.UnitRecalled, unitId=UNIT, batchId=BATCH):
        claims.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)


def test_unit_claimed_twice_refused(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    cid, _ = submit(claims, pharmacy, patient, [drug()])
    with ape.reverts(claims.UnitAlreadyClaimed, unitId=UNIT, claimId=cid):
        claims.submit(claim_input(patient, pharmacy, [drug()], day=today() - 2), sender=pharmacy)


def test_unit_cited_twice_in_one_claim_refused(claims, dispense, pharmacy, patient, insurer):
    # Two lines of one code are refused outright (one line per code: no splitting a line in two),
    # and one unit twice on a line is caught as already claimed (by this very claim).
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    with ape.reverts(claims.LinesNotSorted, index=1):
        claims.submit(claim_input(patient, pharmacy, [drug(), drug()], sort=False), sender=pharmacy)
    cid = claim_id(patient.address, pharmacy.address, 0, episode(patient, pharmacy))
    with ape.reverts(claims.UnitAlreadyClaimed, unitId=UNIT, claimId=cid):
        claims.submit(claim_input(patient, pharmacy, [drug(units=(UNIT, UNIT), billed=80 * USD)]), sender=pharmacy)


def test_unit_of_withdrawn_claim_can_be_cited_again(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    cid, _ = submit(claims, pharmacy, patient, [drug(billed=600 * USD)])  # above the limit: review
    claims.withdraw(cid, sender=pharmacy)
    cid2, _ = submit(claims, pharmacy, patient, [drug(billed=60 * USD)], resubmission=1)
    assert status_of(claims, cid2) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def test_unit_lines_refused_without_provenance(project, admin, directory, consent, token, pharmacy, patient, insurer):
    from claims_fixtures import setup_plan

    c = project.ClaimSettlement.deploy(directory, consent, ZERO_ADDR, token, sender=admin)
    setup_plan(c, token, insurer, patient, consent, [pharmacy])
    with ape.reverts(c.DrugUnitsUnsupported, unitId=UNIT):
        c.submit(claim_input(patient, pharmacy, [drug()]), sender=pharmacy)


# ------------------------------------------------------------------ queue when the pool is short


def test_claim_queued_when_pool_short_then_adjudicated(
    project, admin, directory, consent, dispense, token, insurer, patient, clinic
):
    from claims_fixtures import setup_plan

    c = project.ClaimSettlement.deploy(directory, consent, dispense, token, sender=admin)
    pid = setup_plan(c, token, insurer, patient, consent, [clinic], pool=10 * USD)
    line = office(300 * USD)  # pays 144 after deductible, copay and coinsurance
    cid, tx = submit(c, clinic, patient, [line])
    assert status_of(c, cid) == ClaimStatus.SUBMITTED
    ev = tx.events.filter(c.ClaimQueued)[0]
    assert (ev.amount, ev.free) == (144 * USD, 10 * USD)
    with ape.reverts(c.InsufficientFreeFunds, planId=pid, needed=144 * USD, free=10 * USD):
        c.adjudicate(cid, [line.as_tuple()], sender=clinic)
    with ape.reverts(c.LinesMismatch):
        c.adjudicate(cid, [office(301 * USD).as_tuple()], sender=clinic)
    token.mint(insurer, 200 * USD, sender=insurer)
    token.approve(c, 200 * USD, sender=insurer)
    c.fund(pid, 200 * USD, sender=insurer)
    c.adjudicate(cid, [line.as_tuple()], sender=clinic)
    assert status_of(c, cid) == ClaimStatus.APPROVED
    with ape.reverts(c.InvalidClaimStatus, claimId=cid, status=int(ClaimStatus.APPROVED)):
        c.adjudicate(cid, [line.as_tuple()], sender=clinic)


# ------------------------------------------------------------------ batches


def test_submit_batch_many_claims(claims, clinic, patient):
    inputs = [claim_input(patient, clinic, [office(50 * USD)], day=today() - 1 - i) for i in range(10)]
    tx = claims.submitBatch(inputs, sender=clinic)
    assert len(tx.events.filter(claims.ClaimSubmitted)) == 10


@pytest.mark.parametrize("size", [0, 101])
def test_submit_batch_size_out_of_range_refused(claims, clinic, patient, size):
    inputs = [claim_input(patient, clinic, [office(5 * USD)], day=today() - 1 - i) for i in range(size)]
    with ape.reverts(claims.InvalidBatchSize, size=size, max=100):
        claims.submitBatch(inputs, sender=clinic)


def test_submit_batch_all_or_nothing(claims, clinic, patient):
    inputs = [claim_input(patient, clinic, [office(50 * USD)], day=today() - 1) for _ in range(2)]
    cid = claim_id(patient.address, clinic.address, 0, episode(patient, clinic, today() - 1))
    with ape.reverts(claims.DuplicateClaim, claimId=cid):
        claims.submitBatch(inputs, sender=clinic)
    assert status_of(claims, cid) == ClaimStatus.NONE


def test_service_code_compact_id():
    assert service_code("CPT:99213") == b"CPT:99213".ljust(32, b"\0")
