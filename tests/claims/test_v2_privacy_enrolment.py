"""Claims v2 (#13) points 1-4 and 6 at the contract: codes only as plan-keyed digests (rotation
keeps old claims' meaning), no date of service anywhere, enrolment the member agrees to for
capped whole plan periods (terminated shorter only by the plan's insurer, voided by a registrar
once that insurer is suspended), and rule tables in versions that apply from a future time.
Tests named ..._attack_... play an attack the v1 contract let through."""

from __future__ import annotations

from pathlib import Path

import ape
import pytest
from claims_fixtures import (
    CREDENTIAL_FOR_TESTS,
    DAY,
    KEY,
    MRI,
    OFFICE,
    RECORD,
    RULES,
    TERMS,
    USD,
    XRAY,
    claim_input,
    enrol,
    enrolment_signature,
    office,
    schedule,
    signer_of,
    status_of,
    submit,
    today,
)

from careledger.audit import code_needles, dates_in, load_code_list
from careledger.claims.types import ClaimStatus, CodeKey, CoverageRule, Decision, Line
from careledger.codes import Role

CODES = load_code_list(Path(__file__).parents[1] / "data" / "public_service_codes.json")
APPROVE = int(Decision.APPROVE)
KEY2 = CodeKey(bytes.fromhex("9c" * 32))  # plan year 2's key


def _chain_bytes(tx) -> bytes:
    """The transaction's calldata (past the selector) and its events, ABI-aligned."""
    calldata = bytes(ape.chain.provider.web3.eth.get_transaction(tx.txn_hash)["input"])[4:]
    logs = b"".join(bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"]) for log in tx.logs)
    return calldata + logs


# ------------------------------------------------------------------ point 1: keyed codes


def test_claim_carries_no_service_code_in_any_public_form(claims, clinic, patient):
    """Every code of the public list, clear, hex, ABI or unsalted-hashed: none in the claim's
    calldata or events (v1 sent bytes32("CPT:99213") in both)."""
    _, tx = submit(claims, clinic, patient, [office(), Line(XRAY, 1, 90 * USD)])
    seen = _chain_bytes(tx)
    leaks = [(label, enc) for code in CODES for label, enc, needle in code_needles(code) if needle in seen]
    assert leaks == []
    assert OFFICE in seen  # the plan-keyed digest is what travels


def test_key_holders_read_codes_back():
    table = KEY.codes_of(1, [c for c in CODES if not c.startswith("ICD10:")])  # billed codes, not diagnoses
    assert table[OFFICE] == "CPT:99213"
    assert KEY.digest(2, "CPT:99213") != OFFICE  # another plan, another digest: no cross-plan linking
    assert KEY2.digest(1, "CPT:99213") != OFFICE


def test_key_rotation_keeps_old_claims_meaning(claims, insurer, clinic, patient, plan_id):
    """A new plan-year key comes with a new rule table; a claim submitted under the old table is
    still decided by it (its digests keep meaning for holders of the old key)."""
    mri = Line(MRI, 1, 1_000 * USD)
    pending, _ = submit(claims, clinic, patient, [mri])  # pre-auth: waits for review
    new_rules = {KEY2.digest(plan_id, "CPT:70551"): CoverageRule(covered=False)}
    tx = claims.scheduleRules(plan_id, ape.chain.pending_timestamp + 60, KEY2.key_id, sender=insurer)
    assert tx.events.filter(claims.RulesScheduled)[0].codeKeyId == KEY2.key_id
    codes = list(new_rules)
    claims.setCoverage(plan_id, 2, codes, [new_rules[c].as_tuple() for c in codes], [], sender=insurer)
    ape.chain.mine(deltatime=61)
    assert tuple(claims.rulesInForce(plan_id)) == (2, 2)
    claims.review(pending, [mri.as_tuple()], APPROVE, 0, 0, sender=insurer)
    assert status_of(claims, pending) == ClaimStatus.APPROVED  # table 1: MRI covered
    # New claims use table 2: the old key's digest means nothing there (not covered).
    late, _ = submit(claims, clinic, patient, [Line(MRI, 1, 100 * USD)], day=today() - 5)
    assert status_of(claims, late) == ClaimStatus.DENIED


# ------------------------------------------------------------------ point 2: no dates


def test_claim_carries_no_date_near_chain_time(claims, clinic, patient):
    """v1 put the service day (days since 1970) beside the member; v2 carries the plan period
    (year index) and digests only."""
    _, tx = submit(claims, clinic, patient, [office()], day=today() - 2)
    at = ape.chain.blocks[tx.block_number].timestamp
    assert dates_in(_chain_bytes(tx), at) == []


def test_enrolment_carries_periods_not_dates(claims, insurer, patient2):
    tx = enrol(claims, insurer, patient2)
    at = ape.chain.blocks[tx.block_number].timestamp
    ev = tx.events.filter(claims.MemberEnrolled)[0]
    assert (ev.fromPeriod, ev.toPeriod) == (0, 0)
    # The signature's deadline (a week out) is the one time in it, and no date of care.
    assert dates_in(_chain_bytes(tx), at) == []


# ------------------------------------------------------------------ point 4: enrolment


def test_attack_enrol_without_the_members_agreement_refused(claims, insurer, patient2, clinic):
    """v1: any insurer enrolled any address, no consent, no end: a lock-out. The member signs."""
    deadline, forged = enrolment_signature(claims, patient2, 1, 0, 0, signer=signer_of(clinic.address))
    with ape.reverts(claims.InvalidSignature, signer=patient2.address):
        claims.enrol(1, patient2, RECORD, 0, 0, deadline, forged, sender=insurer)
    deadline, sig = enrolment_signature(claims, patient2, 1, 0, 0)
    claims.enrol(1, patient2, RECORD, 0, 0, deadline, sig, sender=insurer)
    with ape.reverts(claims.InvalidSignature, signer=patient2.address):  # replay: the nonce is used
        claims.enrol(1, patient2, RECORD, 0, 0, deadline, sig, sender=insurer)


def test_enrol_signature_expired_or_for_other_terms_refused(claims, insurer, patient2):
    deadline, sig = enrolment_signature(claims, patient2, 1, 0, 0, deadline=ape.chain.pending_timestamp - 1)
    with ape.reverts(claims.SignatureExpired, deadline=deadline):
        claims.enrol(1, patient2, RECORD, 0, 0, deadline, sig, sender=insurer)
    deadline, sig = enrolment_signature(claims, patient2, 1, 0, 0)
    with ape.reverts(claims.InvalidSignature, signer=patient2.address):  # signed period 0 only
        claims.enrol(1, patient2, RECORD, 0, 1, deadline, sig, sender=insurer)


@pytest.mark.parametrize(("frm", "to"), [(0, 2), (2, 2), (1, 0)])
def test_attack_enrolment_periods_capped(claims, insurer, patient2, frm, to):
    """v1: an enrolment with no end. Now 1..2 whole plan years, starting this year or next."""
    deadline, sig = enrolment_signature(claims, patient2, 1, frm, to)
    with ape.reverts(claims.InvalidEnrolmentPeriods, fromPeriod=frm, toPeriod=to, current=0):
        claims.enrol(1, patient2, RECORD, frm, to, deadline, sig, sender=insurer)


def test_attack_early_renewal_keeps_running_period_claims(claims, insurer, clinic, patient):
    """v1: renewing early made every claim of the running period fail for good (claims checked
    the latest enrolment only). Claims now resolve the cover of their own period."""
    enrol(claims, insurer, patient, from_period=1)
    cid, _ = submit(claims, clinic, patient, [office()])
    assert status_of(claims, cid) != ClaimStatus.NONE
    assert claims.coverOf(patient, 0).enrolment == 1
    assert claims.coverOf(patient, 1).enrolment == 2


def test_period_already_covered_refused(claims, insurer, patient):
    deadline, sig = enrolment_signature(claims, patient, 1, 0, 1)
    with ape.reverts(claims.PeriodAlreadyCovered, member=patient.address, period=0, enrolment=1):
        claims.enrol(1, patient, RECORD, 0, 1, deadline, sig, sender=insurer)


def test_terminate_shorter_only_never_retroactive(claims, insurer, clinic, patient2, plan_id):
    enrol(claims, insurer, patient2, from_period=0, to_period=1)
    with ape.reverts(claims.NotPlanInsurer, planId=plan_id, caller=clinic.address):
        claims.terminate(patient2, 1, 0, sender=clinic)
    with ape.reverts(claims.InvalidTermination, lastPeriod=1, toPeriod=1, current=0):
        claims.terminate(patient2, 1, 1, sender=insurer)  # not shorter
    tx = claims.terminate(patient2, 1, 0, sender=insurer)
    assert tx.events == [claims.EnrolmentTerminated(member=patient2, enrolment=1, lastPeriod=0)]
    assert claims.coverOf(patient2, 1).enrolment == 0
    assert claims.coverOf(patient2, 0).enrolment == 1  # the running year stands


def test_terminate_into_the_past_refused(claims, insurer, patient2, plan_id):
    enrol(claims, insurer, patient2, from_period=0, to_period=1)
    start = claims.planOf(plan_id)[1][4]
    ape.chain.mine(timestamp=start + TERMS.period_length)  # now in period 1
    with ape.reverts(claims.InvalidTermination, lastPeriod=0, toPeriod=1, current=1):
        claims.terminate(patient2, 1, 0, sender=insurer)


def test_attack_suspended_insurers_enrolment_voided_by_registrar(
    claims, directory, admin, insurer, clinic, patient, outsider
):
    """v1: an enrolment by a since-suspended insurer locked the member out forever."""
    with ape.reverts(claims.NotRegistrar, caller=clinic.address):
        claims.voidEnrolment(patient, 1, sender=clinic)
    with ape.reverts(claims.InsurerStillActive, insurer=insurer.address):
        claims.voidEnrolment(patient, 1, sender=admin)
    directory.suspend(insurer, b"FRAUD".ljust(32, b"\0"), sender=admin)
    tx = claims.voidEnrolment(patient, 1, sender=admin)
    assert tx.events == [claims.EnrolmentVoided(member=patient, enrolment=1, by=admin)]
    with ape.reverts(claims.NotEnrolled, member=patient.address, period=0):
        claims.submit(claim_input(patient, clinic, [office()]), sender=clinic)
    # Free to join another insurer's plan for the same year.
    directory.register(outsider, int(Role.INSURER), CREDENTIAL_FOR_TESTS, sender=admin)
    tx = claims.createPlan(claims.planOf(1)[1], sender=outsider)
    other = int(tx.events.filter(claims.PlanCreated)[0].planId)
    schedule(claims, outsider, other, {OFFICE: RULES[OFFICE]})
    enrol(claims, outsider, patient, plan_id=other)
    assert claims.coverOf(patient, 0).planId == other


# ------------------------------------------------------------------ point 6: rule versions


def test_attack_rule_change_under_pending_claim_does_not_apply(claims, insurer, clinic, patient, plan_id):
    """v1: setCoverage applied at once, to claims already pending. Now a claim is decided under
    the table in force when it was submitted."""
    big = office(1_000 * USD)
    cid, _ = submit(claims, clinic, patient, [big])
    schedule(claims, insurer, plan_id, {OFFICE: CoverageRule(covered=False)})
    claims.review(cid, [big.as_tuple()], APPROVE, 0, 0, sender=insurer)
    assert status_of(claims, cid) == ClaimStatus.APPROVED
    assert claims.claimOf(cid).amount > 0


def test_rules_frozen_once_in_force_and_notice_kept(claims, insurer, plan_id):
    with ape.reverts(claims.RulesFrozen, planId=plan_id, version=1):
        claims.setCoverage(plan_id, 1, [OFFICE], [CoverageRule().as_tuple()], [], sender=insurer)
    now = ape.chain.pending_timestamp
    with ape.reverts(claims.InvalidEffectiveTime, effectiveFrom=now, earliest=now + 1):
        claims.scheduleRules(plan_id, now, KEY.key_id, sender=insurer)
    claims.scheduleRules(plan_id, now + 100, KEY.key_id, sender=insurer)
    with ape.reverts(claims.RulesAlreadyScheduled, planId=plan_id, version=2):
        claims.scheduleRules(plan_id, now + 200, KEY.key_id, sender=insurer)
    assert tuple(claims.rulesInForce(plan_id)) == (1, 2)


def test_rule_notice_of_the_plan_is_enforced(bare, insurer):
    from dataclasses import replace

    from claims_fixtures import plan_terms

    terms = replace(plan_terms(), rule_notice=30 * DAY)
    bare.createPlan(terms.as_tuple(), sender=insurer)
    now = ape.chain.pending_timestamp
    with ape.reverts(bare.InvalidEffectiveTime, effectiveFrom=now + DAY, earliest=now + 30 * DAY + 1):
        bare.scheduleRules(1, now + DAY, KEY.key_id, sender=insurer)


def test_attack_shifted_day_duplicate_of_once_per_period_code_refused(claims, insurer, clinic, patient, plan_id):
    """Point 7: the same x-ray billed again 'a day later' (a new episode) is caught by the plan's
    once-per-period rule; withdrawing the first frees it."""
    rules = dict(RULES)
    rules[XRAY] = CoverageRule(covered=True, once_per_period=True, coinsurance_bps=1_000)
    schedule(claims, insurer, plan_id, rules)
    xray = Line(XRAY, 1, 90 * USD)
    first, _ = submit(claims, clinic, patient, [xray], day=today() - 3)
    with ape.reverts(claims.CodeAlreadyClaimedInPeriod, code=XRAY, period=0, claimId=first):
        claims.submit(claim_input(patient, clinic, [xray], day=today() - 2), sender=clinic)


def test_once_per_period_code_freed_by_withdrawal(claims, insurer, clinic, patient, plan_id):
    rules = dict(RULES)
    rules[XRAY] = CoverageRule(covered=True, once_per_period=True, coinsurance_bps=1_000)
    schedule(claims, insurer, plan_id, rules)
    big = Line(XRAY, 1, 900 * USD)  # above the auto-approve limit: in review, withdrawable
    first, _ = submit(claims, clinic, patient, [big], day=today() - 3)
    claims.withdraw(first, sender=clinic)
    again, _ = submit(claims, clinic, patient, [Line(XRAY, 1, 90 * USD)], day=today() - 2)
    assert status_of(claims, again) != ClaimStatus.NONE
