"""Plans, coverage rules, enrolment, the pool (fund / withdraw) and odd tokens."""

from __future__ import annotations

import ape
import pytest
from claims_fixtures import OFFICE, POOL, RULES, TERMS, USD, office, setup_plan, status_of, submit

from careledger.claims.types import ClaimStatus, PlanTerms
from careledger.codes import Role

ZERO_ADDR = "0x" + "00" * 20
DAY = 86_400
YEAR = 365 * DAY


def test_create_plan_emits_and_stores(bare, insurer):
    tx = bare.createPlan(TERMS.as_tuple(), sender=insurer)  # period 0 from 1970: a valid (old) plan
    # (Ape cannot build an expected event with a struct argument: compare the fields in full.)
    assert len(tx.events) == 1
    ev = tx.events[0]
    assert (ev.event_name, ev.planId, ev.insurer, tuple(ev.terms)) == (
        "PlanCreated",
        1,
        insurer.address,
        TERMS.as_tuple(),
    )
    who, terms = bare.planOf(1)
    assert (who, tuple(terms)) == (insurer.address, TERMS.as_tuple())
    assert tuple(bare.poolOf(1)) == (0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize("who", ["clinic", "pharmacy", "outsider"])
def test_create_plan_by_non_insurer_refused(bare, directory, request, who):
    acct = request.getfixturevalue(who)
    err = directory.ParticipantNotRegistered if who == "outsider" else directory.ParticipantLacksRole
    kwargs = (
        {"account": acct.address}
        if who == "outsider"
        else {"account": acct.address, "requiredRoles": int(Role.INSURER)}
    )
    with ape.reverts(err, **kwargs):
        bare.createPlan(TERMS.as_tuple(), sender=acct)


@pytest.mark.parametrize(
    ("deductible", "annual_max", "length", "filing"),
    [
        (0, 0, YEAR, 0),
        (0, 2**80, YEAR, 0),
        (2**80, 10, YEAR, 0),
        (0, 10, YEAR - 1, 0),
        (0, 10, YEAR + 2 * DAY, 0),
        (0, 10, YEAR, 366 * DAY + 1),
    ],
)
def test_create_plan_invalid_terms_refused(bare, insurer, deductible, annual_max, length, filing):
    """Limits fit 80 bits; a period is a plan year (365 or 366 days: a claim names its year,
    no finer date); timely filing at most 366 days."""
    terms = PlanTerms(deductible, annual_max, 0, 0, 0, length, filing)
    with ape.reverts(
        bare.InvalidPlanTerms, deductible=deductible, annualMax=annual_max, periodLength=length, filingWindow=filing
    ):
        bare.createPlan(terms.as_tuple(), sender=insurer)


def test_create_plan_limits_at_max_accepted(bare, insurer):
    bare.createPlan(PlanTerms(2**80 - 1, 2**80 - 1, 0, 0, 0, 366 * DAY, 366 * DAY).as_tuple(), sender=insurer)


def test_fund_and_withdraw_only_free(claims, token, insurer, clinic, patient, plan_id):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    owed = claims.claimOf(cid).amount
    pool = claims.poolOf(plan_id)
    assert (pool.funded, pool.owed, pool.free) == (POOL, owed, POOL - owed)
    with ape.reverts(claims.InsufficientFreeFunds, planId=plan_id, needed=POOL - owed + 1, free=POOL - owed):
        claims.withdrawFree(plan_id, POOL - owed + 1, insurer, sender=insurer)
    tx = claims.withdrawFree(plan_id, POOL - owed, insurer, sender=insurer)
    assert tx.events.filter(claims.PoolWithdrawn)[0].amount == POOL - owed
    pool = claims.poolOf(plan_id)
    assert (pool.funded, pool.paid + pool.owed + pool.free) == (owed, owed)
    assert token.balanceOf(claims) == owed
    # What is owed still pays out.
    claims.pay(cid, sender=clinic)
    assert token.balanceOf(claims) == 0


def test_fund_withdraw_by_others_refused(claims, clinic, plan_id):
    with ape.reverts(claims.NotPlanInsurer, planId=plan_id, caller=clinic.address):
        claims.fund(plan_id, 1, sender=clinic)
    with ape.reverts(claims.NotPlanInsurer, planId=plan_id, caller=clinic.address):
        claims.withdrawFree(plan_id, 1, clinic, sender=clinic)


def test_fund_zero_and_withdraw_zero_refused(claims, insurer, plan_id):
    with ape.reverts(claims.ZeroAmount):
        claims.fund(plan_id, 0, sender=insurer)
    with ape.reverts(claims.ZeroAmount):
        claims.withdrawFree(plan_id, 0, insurer, sender=insurer)
    with ape.reverts(claims.ZeroAddress):
        claims.withdrawFree(plan_id, 1, ZERO_ADDR, sender=insurer)


def test_suspended_insurer_cannot_fund(claims, directory, admin, insurer, plan_id):
    directory.suspend(insurer, b"X".ljust(32, b"\0"), sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=insurer.address):
        claims.fund(plan_id, 1, sender=insurer)


def test_tokens_forced_into_contract_are_not_credited(claims, token, insurer, plan_id):
    before = claims.poolOf(plan_id)
    token.mint(claims, 123, sender=insurer)
    assert tuple(claims.poolOf(plan_id)) == tuple(before)
    with ape.reverts(claims.InsufficientFreeFunds, planId=plan_id, needed=before.free + 1, free=before.free):
        claims.withdrawFree(plan_id, before.free + 1, insurer, sender=insurer)


# ------------------------------------------------------------------ odd tokens


def test_fee_on_transfer_token_refused(project, admin, directory, consent, dispense, insurer, patient):
    fee = project.MockFeeOnTransferToken.deploy(sender=admin)
    c = project.ClaimSettlement.deploy(directory, consent, dispense, fee, sender=admin)
    pid = setup_plan(c, fee, insurer, patient, consent, [], pool=0)
    fee.mint(insurer, 1_000, sender=insurer)
    fee.approve(c, 1_000, sender=insurer)
    with ape.reverts(c.TokenFeeOnTransfer, expected=1_000, received=990):
        c.fund(pid, 1_000, sender=insurer)
    assert fee.balanceOf(c) == 0


def test_no_return_token_funds_and_pays(project, admin, directory, consent, dispense, insurer, patient, clinic):
    odd = project.MockNoReturnToken.deploy(sender=admin)
    c = project.ClaimSettlement.deploy(directory, consent, dispense, odd, sender=admin)
    pid = setup_plan(c, odd, insurer, patient, consent, [clinic], pool=0)
    odd.mint(insurer, 1_000 * USD, sender=insurer)
    odd.approve(c, 1_000 * USD, sender=insurer)
    c.fund(pid, 1_000 * USD, sender=insurer)
    cid, _ = submit(c, clinic, patient, [office(300 * USD)])
    c.pay(cid, sender=clinic)
    assert odd.balanceOf(clinic) == 144 * USD
    c.withdrawFree(pid, 856 * USD, insurer, sender=insurer)
    assert odd.balanceOf(c) == 0
    # A failing transfer (more than it holds) reverts through SafeERC20 instead of passing silently.
    with ape.reverts(c.InsufficientFreeFunds):
        c.withdrawFree(pid, 1, insurer, sender=insurer)


def test_status_of_unknown_claim_is_none(claims):
    assert status_of(claims, b"\x01" * 32) == ClaimStatus.NONE


def test_rules_fixture_sane():
    assert RULES[OFFICE].covered
