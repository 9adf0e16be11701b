"""Submission: who may submit, for whom, which lines; duplicates; drug units; auto-adjudication."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import (
    COSMETIC,
    DRUG,
    MRI,
    OFFICE,
    RULES,
    TERMS,
    UNLISTED,
    USD,
    XRAY,
    ZERO32,
    claim_input,
    office,
    status_of,
    submit,
    today,
)

from careledger.claims.types import Carc, ClaimStatus, Line, adjudicate, claim_id, service_code
from careledger.codes import Category, Purpose, Role

UNIT = b"\x55" * 32
BATCH = b"\xba" * 32
DRUG_GTIN = 300_021_433_801_0  # GTIN-14 of NDC 0002-1433-80 (a test value)


def test_submit_small_claim_auto_approves_with_deductible(claims, clinic, patient, plan_id):
    day = today() - 1
    line = office(180 * USD)
    tx = claims.submit(claim_input(patient, clinic, [line], day=day), sender=clinic)
    cid = claim_id(patient.address, clinic.address, day, [OFFICE])
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
            enrolment=1,
            submitter=clinic,
            consentId=7,
            serviceDay=day,
            resubmission=0,
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
    _, e = claims.enrolmentOf(patient)
    assert (e.deductibleMet, e.benefitPaid) == (100 * USD, 48 * USD)
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
    with ape.reverts(claims.NotEnrolled, member=patient2.address):
        claims.submit(claim_input(patient2, clinic, [office()]), sender=clinic)


def test_submit_outside_coverage_refused(claims, clinic, patient):
    _, e = claims.enrolmentOf(patient)
    day = e.startDay - 1
    with ape.reverts(
        claims.ServiceNotCovered, member=patient.address, serviceDay=day, startDay=e.startDay, endDay=e.endDay
    ):
        claims.submit(claim_input(patient, clinic, [office()], day=day), sender=clinic)
    # The first day of coverage is covered.
    cid, _ = submit(claims, clinic, patient, [office()], day=e.startDay)
    assert status_of(claims, cid) != ClaimStatus.NONE


def test_submit_future_service_day_refused(claims, clinic, patient):
    t = today()
    with ape.reverts(claims.ServiceDayInFuture, serviceDay=t + 1, today=t):
        claims.submit(claim_input(patient, clinic, [office()], day=t + 1), sender=clinic)
    cid, _ = submit(claims, clinic, patient, [office()], day=t)
    assert status_of(claims, cid) != ClaimStatus.NONE


@pytest.mark.parametrize("count", [0, 17])
def test_submit_line_count_out_of_range_refused(claims, clinic, patient, count):
    with ape.reverts(claims.InvalidLineCount, count=count, max=16):
        claims.submit(claim_input(patient, clinic, [office()] * count), sender=clinic)


def test_submit_sixteen_lines_accepted(claims, clinic, patient):
    codes = sorted(service_code(f"CPT:992{i:02d}") for i in range(16))
    cid, _ = submit(claims, clinic, patient, [Line(c, 1, 10 * USD) for c in codes])
    assert status_of(claims, cid) != ClaimStatus.NONE


@pytest.mark.parametrize("line", [Line(OFFICE, 0, 10), Line(OFFICE, 1, 0)])
def test_submit_zero_units_or_amount_refused(claims, clinic, patient, line):
    with ape.reverts(claims.InvalidLine, index=1):
        claims.submit(claim_input(patient, clinic, [office(), line]), sender=clinic)


def test_submit_unsorted_codes_refused(claims, clinic, patient):
    lines = sorted([office(), Line(XRAY, 1, 100 * USD)], key=lambda ln: ln.code, reverse=True)
    with ape.reverts(claims.LinesNotSorted, index=1):
        claims.submit(claim_input(patient, clinic, lines), sender=clinic)


def test_submit_duplicate_refused(claims, clinic, patient):
    day = today() - 3
    cid, _ = submit(claims, clinic, patient, [office()], day=day)
    # Same member, provider, day and codes: a duplicate even with other amounts and commitment.
    with ape.reverts(claims.DuplicateClaim, claimId=cid):
        claims.submit(claim_input(patient, clinic, [office(999 * USD)], day=day, fhir=b"\x99" * 32), sender=clinic)
    # Another day, another provider or other codes are different claims.
    submit(claims, clinic, patient, [office()], day=day - 1)
    submit(claims, clinic, patient, [Line(XRAY, 1, 50 * USD)], day=day)


def test_resubmission_allowed_only_after_withdrawal(claims, clinic, patient):
    day = today() - 4
    cid, _ = submit(claims, clinic, patient, [office(900 * USD)], day=day)  # above the limit: in review
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    with ape.reverts(claims.ResubmissionNotAllowed, previous=cid, status=int(ClaimStatus.PENDING_REVIEW)):
        claims.submit(claim_input(patient, clinic, [office(400 * USD)], day=day, resubmission=1), sender=clinic)
    claims.withdraw(cid, sender=clinic)
    cid1, _ = submit(claims, clinic, patient, [office(400 * USD)], day=day, resubmission=1)
    assert cid1 == claim_id(patient.address, clinic.address, day, [OFFICE], resubmission=1)
    assert status_of(claims, cid1) == ClaimStatus.APPROVED
    with ape.reverts(claims.ResubmissionNotAllowed, previous=cid1, status=int(ClaimStatus.APPROVED)):
        claims.submit(claim_input(patient, clinic, [office()], day=day, resubmission=2), sender=clinic)


def test_claim_id_matches_python(claims, clinic, patient):
    codes = [OFFICE, XRAY]
    assert claims.claimIdOf(patient, clinic, 20_000, 3, codes) == claim_id(
        patient.address, clinic.address, 20_000, codes, 3
    )


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


def drug(unit=UNIT, billed=40 * USD):
    return Line(DRUG, 1, billed, unit)


def test_pharmacy_line_with_dispensed_unit_settles(claims, dispense, pharmacy, patient, insurer):
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    cid, _ = submit(claims, pharmacy, patient, [drug()])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def test_drug_code_without_unit_refused(claims, pharmacy, patient):
    with ape.reverts(claims.DrugUnitRequired, index=0, code=DRUG):
        claims.submit(claim_input(patient, pharmacy, [drug(unit=ZERO32)]), sender=pharmacy)


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
    # Two lines of one code are refused outright (one line per code: no splitting a line in two).
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    with ape.reverts(claims.LinesNotSorted, index=1):
        claims.submit(claim_input(patient, pharmacy, [drug(), drug()]), sender=pharmacy)


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
    cid = claim_id(patient.address, clinic.address, today() - 1, [OFFICE])
    with ape.reverts(claims.DuplicateClaim, claimId=cid):
        claims.submitBatch(inputs, sender=clinic)
    assert status_of(claims, cid) == ClaimStatus.NONE


def test_service_code_compact_id():
    assert service_code("CPT:99213") == b"CPT:99213".ljust(32, b"\0")
