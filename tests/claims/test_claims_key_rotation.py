"""Claims follow organisations that rotated their directory keys: the insurer's new key takes its
plan over (succeedInsurer) and the old key decides nothing; a pharmacy's new key claims a unit its
old key dispensed; a payee's new key redirects an approved payout still addressed to the old key."""

from __future__ import annotations

import ape
from claims_fixtures import DRUG, DRUG_GTIN, DRUG_SALT, USD, office, status_of, submit

from careledger.claims.types import ClaimStatus, Line
from careledger.codes import Category, Purpose

UNIT = b"\x56" * 32
BATCH = b"\xbb" * 32


def test_insurer_new_key_takes_the_plan_over(rotate, claims, token, admin, insurer, plan_id):
    new = rotate(insurer)
    with ape.reverts(claims.NotPlanInsurer, planId=plan_id, account=admin.address):
        claims.succeedInsurer(plan_id, sender=admin)
    claims.pause(sender=admin)  # taking a plan over works during an emergency pause too
    tx = claims.succeedInsurer(plan_id, sender=new)
    claims.unpause(sender=admin)
    assert tx.events == [claims.PlanInsurerSucceeded(planId=plan_id, previous=insurer, insurer=new)]
    assert claims.planOf(plan_id)[0] == new.address
    free = int(claims.poolOf(plan_id).free)
    claims.withdrawFree(plan_id, free, new, sender=new)  # the pool answers to the new key
    assert token.balanceOf(new) == free
    with ape.reverts(claims.NotPlanInsurer, planId=plan_id, account=insurer.address):
        claims.fund(plan_id, USD, sender=insurer)
    with ape.reverts(claims.NotPlanInsurer, planId=plan_id, account=new.address):
        claims.succeedInsurer(plan_id, sender=new)  # once


def test_pharmacy_new_key_claims_what_the_old_key_dispensed(
    rotate, claims, consent, dispense, insurer, pharmacy, patient
):
    dispense.setDispensed(UNIT, pharmacy, DRUG_GTIN, BATCH, sender=insurer)
    new = rotate(pharmacy)
    consent.setAllowed(patient, new, int(Category.FINANCIAL), int(Purpose.HPAYMT), 8, sender=insurer)
    line = Line(DRUG, 1, 40 * USD, DRUG_SALT, (UNIT,))
    cid, _ = submit(claims, new, patient, [line])
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)


def test_payee_new_key_redirects_an_approved_payout(rotate, claims, token, clinic, lab, patient):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    assert status_of(claims, cid) == ClaimStatus.APPROVED
    new = rotate(clinic)
    with ape.reverts(claims.NotClaimParty, claimId=cid, account=lab.address):
        claims.redirectPayout(cid, lab, sender=lab)
    claims.redirectPayout(cid, new, sender=new)
    claims.pay(cid, sender=lab)
    assert token.balanceOf(new) == 144 * USD
