"""The access rule: canAccess (the one read call) and recordAccess (the audited write)."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import DAY, LABS, RECORD, TREAT, terms

from careledger.codes import Category, Purpose
from careledger.consent.terms import mask

OBS, TR = int(Category.OBSERVATION), int(Purpose.TREAT)
REASON = b"LICENCE-LAPSED".ljust(32, b"\0")


def test_can_access_covered_request_returns_consent_id(registry, patient, clinic, granted):
    assert registry.canAccess(patient, clinic, OBS, TR) == (True, granted)
    assert registry.canAccess(patient, clinic, int(Category.DIAGNOSTIC_REPORT), TR) == (True, granted)


@pytest.mark.parametrize(
    ("category", "purpose"),
    [
        (Category.MENTAL_HEALTH, Purpose.TREAT),  # category outside the permit
        (Category.OBSERVATION, Purpose.HPAYMT),  # purpose outside the permit
        (15, 0),
        (0, 7),
        (255, 255),  # not codes at all
    ],
)
def test_can_access_outside_permit_denied(registry, patient, clinic, granted, category, purpose):
    assert registry.canAccess(patient, clinic, int(category), int(purpose)) == (False, 0)


def test_can_access_other_patient_or_grantee_denied(registry, patient, patient2, clinic, lab, granted):
    assert registry.canAccess(patient2, clinic, OBS, TR) == (False, 0)
    assert registry.canAccess(patient, lab, OBS, TR) == (False, 0)


def test_record_access_logs_against_consent(registry, patient, clinic, granted):
    tx = registry.recordAccess(patient, granted, OBS, TR, RECORD, sender=clinic)
    assert tx.events == [
        registry.AccessRecorded(
            consentId=granted, patient=patient, grantee=clinic, category=OBS, purpose=TR, record=RECORD
        )
    ]


def test_record_access_without_consent_refused(registry, patient, lab):
    with ape.reverts(registry.NoActiveConsent, patient=patient.address, grantee=lab.address):
        registry.recordAccess(patient, 1, OBS, TR, RECORD, sender=lab)


def test_record_access_outside_permit_refused(registry, patient, clinic, granted):
    mh = int(Category.MENTAL_HEALTH)
    with ape.reverts(registry.AccessNotPermitted, consentId=granted, category=mh, purpose=TR):
        registry.recordAccess(patient, granted, mh, TR, RECORD, sender=clinic)
    with ape.reverts(registry.InvalidCode, category=15, purpose=TR):
        registry.recordAccess(patient, granted, 15, TR, RECORD, sender=clinic)


def test_record_access_wrong_consent_id_or_empty_record_refused(registry, patient, clinic, granted):
    with ape.reverts(registry.ConsentMismatch, consentId=granted + 1, currentId=granted):
        registry.recordAccess(patient, granted + 1, OBS, TR, RECORD, sender=clinic)
    with ape.reverts(registry.EmptyCommitment):
        registry.recordAccess(patient, granted, OBS, TR, b"\0" * 32, sender=clinic)


def test_expiry_allowed_one_second_before_denied_at_valid_until(registry, patient, clinic, chain, now):
    until = now() + 1000
    cid = registry.grant(patient, terms(clinic, until=until).as_tuple(), sender=patient).events[0].consentId
    chain.pending_timestamp = until - 1
    tx = registry.recordAccess(patient, cid, OBS, TR, RECORD, sender=clinic)
    assert ape.chain.blocks[tx.block_number].timestamp == until - 1
    assert registry.canAccess(patient, clinic, OBS, TR) == (True, cid)  # read at the block of until - 1
    chain.pending_timestamp = until
    with ape.reverts(registry.ConsentExpired, consentId=cid, validUntil=until):
        registry.recordAccess(patient, cid, OBS, TR, RECORD, sender=clinic)
    chain.mine()
    assert chain.blocks.head.timestamp >= until
    assert registry.canAccess(patient, clinic, OBS, TR) == (False, 0)


def test_valid_from_in_future_denied_until_it_starts(registry, patient, clinic, chain, now):
    start = now() + 500
    cid = (
        registry.grant(patient, terms(clinic, valid_from=start, until=start + DAY).as_tuple(), sender=patient)
        .events[0]
        .consentId
    )
    assert registry.canAccess(patient, clinic, OBS, TR) == (False, 0)
    chain.pending_timestamp = start - 1
    with ape.reverts(registry.ConsentNotYetValid, consentId=cid, validFrom=start):
        registry.recordAccess(patient, cid, OBS, TR, RECORD, sender=clinic)
    chain.pending_timestamp = start
    registry.recordAccess(patient, cid, OBS, TR, RECORD, sender=clinic)
    assert registry.canAccess(patient, clinic, OBS, TR) == (True, cid)


def test_consent_deny_provision_overrides_its_permit(registry, patient, clinic, now):
    # Permit every category for treatment and payment, except mental health for payment.
    everything = (1 << 15) - 1
    t = terms(
        clinic,
        categories=everything,
        purposes=mask([Purpose.TREAT, Purpose.HPAYMT]),
        until=now() + DAY,
        deny_categories=mask([Category.MENTAL_HEALTH]),
        deny_purposes=mask([Purpose.HPAYMT]),
    )
    cid = registry.grant(patient, t.as_tuple(), sender=patient).events[0].consentId
    mh, pay = int(Category.MENTAL_HEALTH), int(Purpose.HPAYMT)
    assert registry.canAccess(patient, clinic, mh, pay) == (False, 0)
    assert registry.canAccess(patient, clinic, mh, TR) == (True, cid)
    assert registry.canAccess(patient, clinic, OBS, pay) == (True, cid)
    with ape.reverts(registry.AccessDenied, consentId=cid, category=mh, purpose=pay):
        registry.recordAccess(patient, cid, mh, pay, RECORD, sender=clinic)


def test_patient_deny_overrides_every_permit_and_clears(registry, patient, clinic, granted):
    tx = registry.setPatientDeny(patient, mask([Category.OBSERVATION]), (1 << 7) - 1, sender=patient)
    assert tx.events == [
        registry.PatientDenySet(
            patient=patient, categories=mask([Category.OBSERVATION]), purposes=(1 << 7) - 1, actor=patient
        )
    ]
    assert registry.canAccess(patient, clinic, OBS, TR) == (False, 0)
    assert registry.canAccess(patient, clinic, int(Category.DIAGNOSTIC_REPORT), TR) == (True, granted)
    with ape.reverts(registry.AccessDenied, consentId=granted, category=OBS, purpose=TR):
        registry.recordAccess(patient, granted, OBS, TR, RECORD, sender=clinic)
    registry.setPatientDeny(patient, 0, 0, sender=patient)
    assert registry.canAccess(patient, clinic, OBS, TR) == (True, granted)


def test_patient_deny_set_by_others_refused(registry, patient, clinic):
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=clinic.address):
        registry.setPatientDeny(patient, 1, 1, sender=clinic)


def test_suspended_grantee_denied_in_check_and_record(registry, directory, admin, patient, clinic, granted):
    directory.suspend(clinic, REASON, sender=admin)
    assert registry.canAccess(patient, clinic, OBS, TR) == (False, 0)
    with ape.reverts(directory.ParticipantIsSuspended, account=clinic.address):
        registry.recordAccess(patient, granted, OBS, TR, RECORD, sender=clinic)
    directory.reinstate(clinic, sender=admin)
    assert registry.canAccess(patient, clinic, OBS, TR) == (True, granted)


def test_claims_style_payment_check(registry, patient, insurer, now):
    fin, pay = int(Category.FINANCIAL), int(Purpose.HPAYMT)
    t = terms(insurer, categories=mask([Category.FINANCIAL]), purposes=mask([Purpose.HPAYMT]), until=now() + DAY)
    cid = registry.grant(patient, t.as_tuple(), sender=patient).events[0].consentId
    assert registry.canAccess(patient, insurer, fin, pay) == (True, cid)
    assert registry.canAccess(patient, insurer, fin, TR) == (False, 0)


def test_consent_terms_read_back(registry, patient, clinic, granted):
    c = registry.consentOf(patient, clinic)
    assert (c.id, c.categories, c.purposes) == (granted, LABS, TREAT)
