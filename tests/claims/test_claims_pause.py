"""The emergency pause of ClaimSettlement: claims and decisions stop, payees still get what they
are owed, an insurer can still remove an adjuster; only the directory's roles pause and resume
(the function-by-function table is checked in tests/test_access_matrix.py)."""

from __future__ import annotations

import ape
from claims_fixtures import USD, claim_input, office, status_of, submit

from careledger.claims.types import ClaimStatus


def test_paused_claims_stop_but_approved_claims_are_paid(claims, token, admin, clinic, lab, patient, plan_id):
    cid, _ = submit(claims, clinic, patient, [office(300 * USD)])
    assert status_of(claims, cid) == ClaimStatus.APPROVED
    tx = claims.pause(sender=admin)  # the test directory's admin holds the EMERGENCY role too
    assert tx.events.filter(claims.Paused) == [claims.Paused(account=admin)]
    with ape.reverts(claims.EnforcedPause):
        claims.submit(claim_input(patient, clinic, [office(80 * USD)], day=1, claims=claims), sender=clinic)
    # What the payee is owed still reaches it.
    claims.pay(cid, sender=lab)
    assert token.balanceOf(clinic) == 144 * USD
    assert status_of(claims, cid) == ClaimStatus.PAID
    claims.unpause(sender=admin)
    submit(claims, clinic, patient, [office(80 * USD)], day=1)


def test_adjuster_removal_continues_appointment_stops(claims, admin, insurer, lab):
    claims.setAdjuster(lab, True, sender=insurer)
    claims.pause(sender=admin)
    with ape.reverts(claims.EnforcedPause):
        claims.setAdjuster(lab, True, sender=insurer)
    claims.setAdjuster(lab, False, sender=insurer)  # narrowing who decides works while paused
    assert not claims.isAdjuster(insurer, lab)


def test_only_the_directory_roles_pause_and_resume(claims, admin, insurer, regulator):
    with ape.reverts(claims.NotEmergencyCouncil, account=insurer.address):
        claims.pause(sender=insurer)
    with ape.reverts(claims.ExpectedPause):
        claims.unpause(sender=admin)
    claims.pause(sender=admin)
    with ape.reverts(claims.EnforcedPause):
        claims.pause(sender=admin)
    with ape.reverts(claims.NotConsortiumAdmin, account=regulator.address):
        claims.unpause(sender=regulator)
    assert claims.paused()
