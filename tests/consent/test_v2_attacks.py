"""Consent v2 (issue #15): each attack found on the v1 registry, played against v2.

Every test here fails on the v1 contract (it either lacks the refusal or the function) and
passes on v2: a proxy clearing the patient's deny and granting itself; a relayer replaying a
held-back signature after the patient acted directly; unbounded break-glass; a study reading
after its sponsor's suspension, and a provider squatting an address as a "study"; an ERC-1271
wallet burning the relayer's gas."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import DAY, ENCOUNTER, FORM_V1, RECORD, modify_terms, register_study, terms
from eth_account import Account

from careledger.codes import Category, Purpose
from careledger.consent import eip712
from careledger.consent.terms import mask

GUARDIAN, PROXY = 1, 2
SUD = mask([Category.SUBSTANCE_USE])
LABS = mask([Category.OBSERVATION, Category.DIAGNOSTIC_REPORT])
TREAT = mask([Purpose.TREAT])
ALL_PURPOSES = (1 << 7) - 1
ET = int(Purpose.ETREAT)
NOTE = bytes.fromhex("4e" * 32)
OTHER_ENCOUNTER = bytes.fromhex("ed" * 32)


# ---------------------------------------------------------------------- 3. delegates have a scope


def test_proxy_cannot_clear_the_patients_deny_nor_grant_itself(registry, patient, patient2, now):
    """v1: a PROXY cleared the patient's substance-use deny and granted that access to itself."""
    registry.setPatientDeny(patient, SUD, ALL_PURPOSES, sender=patient)
    registry.appointDelegate(patient, patient2, PROXY, SUD | LABS, TREAT, sender=patient)
    with ape.reverts(registry.GuardianOnly, patient=patient.address, delegate=patient2.address):
        registry.setPatientDeny(patient, 0, 0, sender=patient2)
    with ape.reverts(registry.DelegateSelfGrant, patient=patient.address, delegate=patient2.address):
        registry.grant(patient, terms(patient2, categories=SUD, until=now() + DAY).as_tuple(), sender=patient2)
    assert tuple(registry.patientDenyOf(patient)) == (SUD, ALL_PURPOSES)


def test_guardian_may_widen_but_never_relax_the_patient_deny(registry, patient, patient2):
    registry.setPatientDeny(patient, SUD, TREAT, sender=patient)
    registry.appointDelegate(patient, patient2, GUARDIAN, LABS, TREAT, sender=patient)
    for cats, purps in ((0, 0), (LABS, TREAT), (SUD, mask([Purpose.HPAYMT]))):
        with ape.reverts(registry.DelegateCannotRelaxDeny, patient=patient.address, delegate=patient2.address):
            registry.setPatientDeny(patient, cats, purps, sender=patient2)
    tx = registry.setPatientDeny(patient, SUD | LABS, ALL_PURPOSES, sender=patient2)
    assert tx.events[0].actor == patient2.address
    registry.setPatientDeny(patient, 0, 0, sender=patient)  # the patient alone may relax it


def test_delegate_grants_only_within_its_scope(registry, patient, patient2, clinic, now):
    registry.appointDelegate(patient, patient2, PROXY, LABS, TREAT, sender=patient)
    wide = mask([Category.GENOMIC])
    with ape.reverts(
        registry.DelegateOutOfScope, patient=patient.address, delegate=patient2.address, categories=wide, purposes=1
    ):
        registry.grant(patient, terms(clinic, categories=wide, until=now() + DAY).as_tuple(), sender=patient2)
    payment = mask([Purpose.HPAYMT])
    with ape.reverts(registry.DelegateOutOfScope):
        registry.grant(patient, terms(clinic, purposes=payment, until=now() + DAY).as_tuple(), sender=patient2)
    registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=patient2)


@pytest.mark.parametrize("kind", [GUARDIAN, PROXY])
def test_delegate_cannot_relax_a_consents_deny_by_modify(registry, patient, patient2, clinic, now, kind):
    registry.appointDelegate(patient, patient2, kind, LABS | SUD, TREAT, sender=patient)
    t = terms(clinic, categories=LABS | SUD, until=now() + DAY, deny_categories=SUD, deny_purposes=TREAT)
    cid = registry.grant(patient, t.as_tuple(), sender=patient).events[0].consentId
    relaxed = modify_terms(categories=LABS | SUD, until=now() + 2 * DAY)
    with ape.reverts(registry.DelegateCannotRelaxDeny, patient=patient.address, delegate=patient2.address):
        registry.modify(patient, clinic, cid, relaxed.as_tuple(), sender=patient2)
    kept = modify_terms(categories=LABS, until=now() + 2 * DAY, deny_categories=SUD, deny_purposes=TREAT)
    registry.modify(patient, clinic, cid, kept.as_tuple(), sender=patient2)


def test_proxy_revokes_only_within_scope_guardian_any(registry, patient, patient2, lab, clinic, now):
    genomic = mask([Category.GENOMIC])
    cid = registry.grant(patient, terms(clinic, categories=genomic, until=now() + DAY).as_tuple(), sender=patient)
    cid = cid.events[0].consentId
    registry.appointDelegate(patient, patient2, PROXY, LABS, TREAT, sender=patient)
    with ape.reverts(registry.DelegateOutOfScope):
        registry.revoke(patient, clinic, cid, sender=patient2)
    registry.appointDelegate(patient, lab, GUARDIAN, LABS, TREAT, sender=patient)
    registry.revoke(patient, clinic, cid, sender=lab)


def test_delegate_scope_must_be_valid_and_is_readable(registry, patient, patient2):
    with ape.reverts(registry.InvalidCategories, categories=0):
        registry.appointDelegate(patient, patient2, PROXY, 0, TREAT, sender=patient)
    with ape.reverts(registry.InvalidPurposes, purposes=1 << ET):
        registry.appointDelegate(patient, patient2, PROXY, LABS, 1 << ET, sender=patient)
    registry.appointDelegate(patient, patient2, PROXY, LABS, TREAT, sender=patient)
    assert tuple(registry.delegateOf(patient, patient2)) == (PROXY, LABS, TREAT)


# ---------------------------------------------------------------------- 4. cancellable signatures


@pytest.fixture
def sign_grant(registry, chain, keys):
    def sign(t, deadline=None, patient_name="patient"):
        key = keys(patient_name)
        d = deadline or int(chain.pending_timestamp) + 600
        n = registry.pairNonce(key.address, t.grantee)
        typed = eip712.grant(key.address, t, n, d, chain_id=chain.chain_id, registry=registry.address)
        return d, eip712.sign(key, typed)

    return sign


def test_held_back_grant_is_void_after_direct_grant_and_revoke(registry, patient, clinic, relayer, sign_grant, now):
    """v1: a relayer held a signed grant, the patient granted and revoked directly, and the relayer
    then submitted it, restoring access the patient had ended."""
    t = terms(clinic, until=now() + 30 * DAY)
    deadline, held = sign_grant(t)
    cid = registry.grant(patient, t.as_tuple(), sender=patient).events[0].consentId
    registry.revoke(patient, clinic, cid, sender=patient)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, t.as_tuple(), patient, deadline, held, sender=relayer)
    assert registry.canAccess(patient, clinic, int(Category.OBSERVATION), int(Purpose.TREAT)) == (False, 0)


def test_cancel_voids_outstanding_pair_signatures(registry, patient, clinic, relayer, sign_grant, now):
    t = terms(clinic, until=now() + 30 * DAY)
    deadline, held = sign_grant(t)
    tx = registry.cancel(patient, clinic, sender=patient)
    assert tx.events == [registry.SignaturesCancelled(patient=patient, grantee=clinic, nonce=0, actor=patient)]
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, t.as_tuple(), patient, deadline, held, sender=relayer)


def test_signed_cancel_through_another_relayer(registry, chain, patient, clinic, relayer, keys, sign_grant, now):
    t = terms(clinic, until=now() + 30 * DAY)
    deadline, held = sign_grant(t)
    key = keys("patient")
    typed = eip712.cancel(
        patient.address, clinic.address, 0, deadline, chain_id=chain.chain_id, registry=registry.address
    )
    registry.cancelBySig(patient, clinic, patient, deadline, eip712.sign(key, typed), sender=relayer)
    with ape.reverts(registry.InvalidSignature):
        registry.grantBySig(patient, t.as_tuple(), patient, deadline, held, sender=relayer)


def test_held_back_deny_clear_is_void_after_direct_deny(registry, chain, patient, relayer, keys, now):
    key = keys("patient")
    d = now() + 600
    n = registry.nonces(patient)
    clear = eip712.set_patient_deny(patient.address, 0, 0, n, d, chain_id=chain.chain_id, registry=registry.address)
    held = eip712.sign(key, clear)
    registry.setPatientDeny(patient, SUD, ALL_PURPOSES, sender=patient)  # consumes nonce n
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.setPatientDenyBySig(patient, 0, 0, patient, d, held, sender=relayer)
    assert tuple(registry.patientDenyOf(patient)) == (SUD, ALL_PURPOSES)


def test_deadline_longer_than_a_day_refused(registry, patient, clinic, relayer, sign_grant, chain, now):
    t = terms(clinic, until=now() + 30 * DAY)
    far = now() + 2 * DAY
    _, sig = sign_grant(t, deadline=far)
    with ape.reverts(registry.SignatureDeadlineTooFar):
        registry.grantBySig(patient, t.as_tuple(), patient, far, sig, sender=relayer)
    assert registry.MAX_SIGNATURE_LIFETIME() == DAY


# ---------------------------------------------------------------------- 5. break-glass bounded


def test_break_glass_cap_then_co_signature(registry, patient, er, lab, regulator, outsider):
    """v1: five back-to-back windows. v2: two a day, then a co-signed encounter each."""
    for _ in range(2):
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    with ape.reverts(registry.BreakGlassCapReached, patient=patient.address, provider=er.address, openedToday=2):
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    with ape.reverts(registry.InvalidCoSigner, cosigner=er.address):
        registry.coSignBreakGlass(patient, er, ENCOUNTER, sender=er)
    with ape.reverts(registry.InvalidCoSigner, cosigner=outsider.address):
        registry.coSignBreakGlass(patient, er, ENCOUNTER, sender=outsider)
    tx = registry.coSignBreakGlass(patient, er, ENCOUNTER, sender=lab)
    assert tx.events == [registry.BreakGlassCoSigned(patient=patient, provider=er, cosigner=lab, encounter=ENCOUNTER)]
    with ape.reverts(registry.BreakGlassCapReached):  # the co-signature names another encounter
        registry.breakGlass(patient, ET, NOTE, OTHER_ENCOUNTER, sender=er)
    opened = registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er).events[0]
    assert (opened.coSigned, opened.encounter) == (True, ENCOUNTER)
    with ape.reverts(registry.BreakGlassCapReached, openedToday=3):  # one co-signature, one opening
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    registry.coSignBreakGlass(patient, er, OTHER_ENCOUNTER, sender=regulator)
    registry.breakGlass(patient, ET, NOTE, OTHER_ENCOUNTER, sender=er)
    assert registry.breakGlassOf(patient, er).openedToday == 4


def test_break_glass_cap_resets_next_day(registry, chain, patient, er):
    for _ in range(2):
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    chain.pending_timestamp = (int(chain.pending_timestamp) // DAY + 1) * DAY + 60
    assert not registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er).events[0].coSigned
    assert registry.breakGlassOf(patient, er).openedToday == 1


def test_break_glass_needs_an_encounter_commitment(registry, patient, er):
    with ape.reverts(registry.EmptyCommitment):
        registry.breakGlass(patient, ET, NOTE, b"\0" * 32, sender=er)


def test_patient_or_delegate_marks_break_glass_reviewed(registry, patient, patient2, er, clinic):
    first = registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er).events[0].breakGlassId
    second = registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er).events[0].breakGlassId
    tx = registry.reviewBreakGlass(patient, er, 1, sender=patient)
    assert tx.events == [registry.BreakGlassReviewed(breakGlassId=first, patient=patient, provider=er, actor=patient)]
    assert registry.breakGlassReviewed(first) and not registry.breakGlassReviewed(second)
    with ape.reverts(registry.BreakGlassAlreadyReviewed, breakGlassId=first):
        registry.reviewBreakGlass(patient, er, 1, sender=patient)
    with ape.reverts(registry.BreakGlassUnknown, patient=patient.address, provider=er.address, seq=3):
        registry.reviewBreakGlass(patient, er, 3, sender=patient)
    with ape.reverts(registry.NotPatientOrDelegate):
        registry.reviewBreakGlass(patient, er, 2, sender=clinic)
    registry.appointDelegate(patient, patient2, PROXY, LABS, TREAT, sender=patient)
    registry.reviewBreakGlass(patient, er, 2, sender=patient2)
    assert registry.breakGlassReviewed(second)


# ---------------------------------------------------------------------- 6. studies follow the directory

RESEARCH = mask([Purpose.HRESCH])
GENOMIC = mask([Category.GENOMIC])


def _enrol(registry, study, patient, now):
    t = terms(study, categories=GENOMIC, purposes=RESEARCH, until=now() + 365 * DAY, document=FORM_V1)
    return registry.grant(patient, t.as_tuple(), sender=patient).events[0].consentId


@pytest.fixture
def fresh_study(accounts, admin):
    acct = accounts.generate_test_account()
    admin.transfer(acct, 10**18)
    return acct


def test_study_stops_reading_when_its_sponsor_is_suspended(
    registry, directory, chain, admin, fresh_study, lab, patient, now
):
    """v1: a study kept reading after its sponsor's suspension."""
    register_study(registry, chain, fresh_study, FORM_V1, lab)
    cid = _enrol(registry, fresh_study, patient, now)
    g, r = int(Category.GENOMIC), int(Purpose.HRESCH)
    assert registry.canAccess(patient, fresh_study, g, r) == (True, cid)
    directory.suspend(lab, b"AUDIT".ljust(32, b"\0"), sender=admin)
    assert registry.canAccess(patient, fresh_study, g, r) == (False, 0)
    with ape.reverts(registry.StudySponsorInactive, study=fresh_study.address, sponsor=lab.address):
        registry.recordAccess(patient, cid, g, r, RECORD, sender=fresh_study)
    directory.reinstate(lab, sender=admin)
    assert registry.canAccess(patient, fresh_study, g, r) == (True, cid)


def test_study_status_set_by_sponsor_registrar_or_regulator(
    registry, chain, admin, fresh_study, lab, clinic, regulator, outsider, patient, now
):
    """v1: nothing could stop a study."""
    register_study(registry, chain, fresh_study, FORM_V1, lab)
    cid = _enrol(registry, fresh_study, patient, now)
    g, r = int(Category.GENOMIC), int(Purpose.HRESCH)
    for who in (clinic, outsider):
        with ape.reverts(registry.NotStudyAuthority, study=fresh_study.address, caller=who.address):
            registry.setStudyStatus(fresh_study, 2, sender=who)
    tx = registry.setStudyStatus(fresh_study, 2, sender=lab)
    assert tx.events == [registry.StudyStatusSet(study=fresh_study, status=2, actor=lab)]
    assert registry.canAccess(patient, fresh_study, g, r) == (False, 0)
    with ape.reverts(registry.StudyClosed, study=fresh_study.address):
        registry.recordAccess(patient, cid, g, r, RECORD, sender=fresh_study)
    with ape.reverts(registry.NotStudyAuthority):  # the sponsor cannot reopen
        registry.setStudyStatus(fresh_study, 1, sender=lab)
    with ape.reverts(registry.InvalidStudyStatus, status=3):
        registry.setStudyStatus(fresh_study, 3, sender=regulator)
    registry.setStudyStatus(fresh_study, 1, sender=regulator)
    assert registry.canAccess(patient, fresh_study, g, r) == (True, cid)
    registry.setStudyStatus(fresh_study, 2, sender=admin)  # the directory's registrar
    with ape.reverts(registry.StudyClosed):
        registry.amendStudy(fresh_study, FORM_V1, sender=lab)


def test_closed_study_takes_no_new_consent(registry, chain, fresh_study, lab, patient, now):
    register_study(registry, chain, fresh_study, FORM_V1, lab)
    registry.setStudyStatus(fresh_study, 2, sender=lab)
    with ape.reverts(registry.StudyClosed, study=fresh_study.address):
        _enrol(registry, fresh_study, patient, now)


def test_provider_cannot_squat_an_address_as_a_study(registry, chain, lab, patient2, keys):
    """v1: any provider registered any address (a future participant's) as a study."""
    deadline = int(chain.pending_timestamp) + 600
    typed = eip712.register_study(
        patient2.address, lab.address, FORM_V1, deadline, chain_id=chain.chain_id, registry=registry.address
    )
    forged = eip712.sign(Account.create(), typed)  # the provider's own key, not the address's
    with ape.reverts(registry.InvalidSignature, signer=patient2.address):
        registry.registerStudy(patient2, FORM_V1, deadline, forged, sender=lab)
    other_sponsor = eip712.register_study(
        patient2.address, "0x" + "00" * 19 + "01", FORM_V1, deadline, chain_id=chain.chain_id, registry=registry.address
    )
    with ape.reverts(registry.InvalidSignature):  # a signature for another sponsor does not transfer
        registry.registerStudy(patient2, FORM_V1, deadline, eip712.sign(keys("patient2"), other_sponsor), sender=lab)
    assert registry.studyOf(patient2).version == 0


# ---------------------------------------------------------------------- 7. bounded ERC-1271


@pytest.mark.parametrize(("burn", "accepted"), [(0, True), (30_000, True), (8_000_000, False)])
def test_erc1271_check_is_gas_bounded(
    project, registry, chain, admin, relayer, wallet_owner, clinic, now, burn, accepted
):
    """v1: a wallet burning 8 million gas in isValidSignature made the relayer pay for all of it.
    v2 gives the wallet ERC1271_GAS_LIMIT (50,000) gas: past that the signature is refused."""
    wallet = project.MockGreedyWallet.deploy(wallet_owner.address, burn, sender=admin)
    t = terms(clinic, until=now() + DAY)
    d = now() + 600
    typed = eip712.grant(wallet.address, t, 0, d, chain_id=chain.chain_id, registry=registry.address)
    sig = eip712.sign(wallet_owner, typed)
    if accepted:
        tx = registry.grantBySig(wallet, t.as_tuple(), wallet, d, sig, sender=relayer)
        assert tx.gas_used < 85_000 + burn + 10_000
    else:
        with ape.reverts(registry.InvalidSignature, signer=wallet.address):
            registry.grantBySig(wallet, t.as_tuple(), wallet, d, sig, sender=relayer, gas_limit=9_000_000)
