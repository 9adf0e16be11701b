"""Modify keeps the consent id; revoke ends it now and is not retroactive."""

from __future__ import annotations

import ape
from consent_helpers import DAY, LABS, RECORD, TREAT, modify_terms, terms

from careledger.codes import Category, Purpose
from careledger.consent.terms import mask

OBS, TR = int(Category.OBSERVATION), int(Purpose.TREAT)
IMG = mask([Category.IMAGING])


def test_modify_changes_terms_keeps_id_and_emits(registry, patient, clinic, now, granted):
    until = now() + 60 * DAY
    start = registry.consentOf(patient, clinic).validFrom
    tx = registry.modify(patient, clinic, granted, modify_terms(categories=IMG, until=until).as_tuple(), sender=patient)
    assert tx.events == [
        registry.ConsentModified(
            consentId=granted,
            patient=patient,
            grantee=clinic,
            categories=IMG,
            purposes=TREAT,
            denyCategories=0,
            denyPurposes=0,
            validUntil=until,
            actor=patient,
        )
    ]
    c = registry.consentOf(patient, clinic)
    assert (c.id, c.categories, c.validFrom, c.validUntil) == (granted, IMG, start, until)
    assert registry.canAccess(patient, clinic, OBS, TR) == (False, 0)
    assert registry.canAccess(patient, clinic, int(Category.IMAGING), TR) == (True, granted)


def test_modify_not_current_or_expired_refused(registry, patient, clinic, chain, now, granted):
    t = modify_terms(until=now() + 90 * DAY).as_tuple()
    with ape.reverts(
        registry.ConsentNotCurrent,
        patient=patient.address,
        grantee=clinic.address,
        consentId=granted + 1,
        currentId=granted,
    ):
        registry.modify(patient, clinic, granted + 1, t, sender=patient)
    until = registry.consentOf(patient, clinic).validUntil
    chain.pending_timestamp = until
    with ape.reverts(registry.ConsentExpired, consentId=granted, validUntil=until):
        registry.modify(patient, clinic, granted, t, sender=patient)


def test_modify_bad_period_or_masks_refused(registry, patient, clinic, now, granted):
    with ape.reverts(registry.InvalidCategories, categories=0):
        registry.modify(
            patient, clinic, granted, modify_terms(categories=0, until=now() + DAY).as_tuple(), sender=patient
        )
    start = registry.consentOf(patient, clinic).validFrom
    with ape.reverts(registry.InvalidPeriod, validFrom=start, validUntil=start):
        registry.modify(patient, clinic, granted, modify_terms(until=start).as_tuple(), sender=patient)


def test_modify_by_grantee_refused(registry, patient, clinic, now, granted):
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=clinic.address):
        registry.modify(patient, clinic, granted, modify_terms(until=now() + DAY).as_tuple(), sender=clinic)


def test_revoke_ends_access_but_not_the_log(registry, patient, clinic, granted):
    before = registry.recordAccess(patient, granted, OBS, TR, RECORD, sender=clinic)
    tx = registry.revoke(patient, clinic, granted, sender=patient)
    assert tx.events == [registry.ConsentRevoked(consentId=granted, patient=patient, grantee=clinic, actor=patient)]
    assert registry.canAccess(patient, clinic, OBS, TR) == (False, 0)
    with ape.reverts(registry.NoActiveConsent, patient=patient.address, grantee=clinic.address):
        registry.recordAccess(patient, granted, OBS, TR, RECORD, sender=clinic)
    # Not retroactive: the access recorded before stays in the log.
    logs = list(
        registry.AccessRecorded.range(
            before.block_number, tx.block_number + 1, search_topics={"patient": patient.address}
        )
    )
    assert [(e.consentId, e.grantee) for e in logs] == [(granted, clinic.address)]
    c = registry.consentOf(patient, clinic)
    assert (c.id, c.seq, c.validUntil, c.categories) == (granted, 1, 0, 0)  # the last id, no longer live


def test_revoke_twice_or_wrong_id_refused(registry, patient, clinic, granted):
    with ape.reverts(registry.ConsentNotCurrent, consentId=granted + 1, currentId=granted):
        registry.revoke(patient, clinic, granted + 1, sender=patient)
    registry.revoke(patient, clinic, granted, sender=patient)
    with ape.reverts(registry.ConsentNotCurrent, consentId=granted, currentId=0):
        registry.revoke(patient, clinic, granted, sender=patient)


def test_revoke_by_grantee_refused(registry, patient, clinic, granted):
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=clinic.address):
        registry.revoke(patient, clinic, granted, sender=clinic)


def test_regrant_after_revoke_new_id_old_id_refused(registry, patient, clinic, now, granted):
    registry.revoke(patient, clinic, granted, sender=patient)
    new = registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=patient).events[0].consentId
    assert new != granted
    with ape.reverts(registry.ConsentMismatch, consentId=granted, currentId=new):
        registry.recordAccess(patient, granted, OBS, TR, RECORD, sender=clinic)
    assert registry.consentOf(patient, clinic).categories == LABS
