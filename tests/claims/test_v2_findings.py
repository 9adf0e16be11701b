"""Contract findings of the claims v2 close-out (#13), fixed in the contract: each test played the
attack that once succeeded."""

from __future__ import annotations

import ape
from claims_fixtures import CREDENTIAL_FOR_TESTS, OFFICE, RULES, USD, enrol, office, schedule, status_of, submit

from careledger.claims.types import ClaimStatus
from careledger.codes import Role


def test_queued_claim_of_a_voided_enrolment_leaves_the_next_plans_accumulators_alone(
    claims, directory, admin, insurer, clinic, patient, outsider, token
):
    """A claim queued in plan 1 (pool short); the insurer is suspended, the registrar voids the
    member's enrolment and the member joins another insurer's plan for the same year (as point 4
    allows); plan 1's insurer is reinstated and funds the pool; anyone adjudicates the queued claim.
    The new plan's deductible and benefit accumulators must not move for another plan's claim."""
    claims.withdrawFree(1, claims.poolOf(1).free, insurer, sender=insurer)
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    assert status_of(claims, cid) == ClaimStatus.SUBMITTED  # queued: the pool is empty
    directory.suspend(insurer, b"AUDIT".ljust(32, b"\0"), sender=admin)
    claims.voidEnrolment(patient, 1, sender=admin)
    directory.register(outsider, int(Role.INSURER), CREDENTIAL_FOR_TESTS, sender=admin)
    other = int(claims.createPlan(claims.planOf(1)[1], sender=outsider).events.filter(claims.PlanCreated)[0].planId)
    schedule(claims, outsider, other, {OFFICE: RULES[OFFICE]})
    enrol(claims, outsider, patient, plan_id=other)
    directory.reinstate(insurer, sender=admin)
    token.mint(insurer, 1_000 * USD, sender=insurer)
    token.approve(claims, 1_000 * USD, sender=insurer)
    claims.fund(1, 1_000 * USD, sender=insurer)
    before = claims.coverOf(patient, 0)
    assert (before.planId, before.deductibleMet, before.benefitPaid) == (other, 0, 0)
    # The claim's cover is no longer its plan's: nobody decides it, and its payee withdraws it.
    with ape.reverts(claims.NotEnrolled, member=patient.address, period=0):
        claims.adjudicate(cid, [office(300 * USD).as_tuple()], sender=clinic)
    after = claims.coverOf(patient, 0)
    assert (after.planId, after.deductibleMet, after.benefitPaid) == (other, 0, 0)
    claims.withdraw(cid, sender=clinic)
    assert status_of(claims, cid) == ClaimStatus.WITHDRAWN
