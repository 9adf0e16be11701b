"""Consents follow an organisation that rotated its directory key: a consent given to the
organisation (its first key) answers for its current key, accesses are recorded under it, the old
key is refused; a study's sponsor goes on sponsoring under its new key; a new consent to the new
key replaces the old one rather than adding to it."""

from __future__ import annotations

import ape
from consent_helpers import DAY, FORM_V1, register_study, terms

from careledger.codes import Category, Purpose

RECORD = b"\x42" * 32
OBS, TREAT = int(Category.OBSERVATION), int(Purpose.TREAT)


def test_consent_to_the_organisation_answers_for_its_new_key(
    rotate, registry, directory, patient, clinic, granted, now
):
    new = rotate(clinic)
    assert tuple(registry.canAccess(patient, new, OBS, TREAT)) == (True, granted)
    registry.recordAccess(patient, granted, OBS, TREAT, RECORD, sender=new)
    assert tuple(registry.canAccess(patient, clinic, OBS, TREAT)) == (False, 0)  # the old key: refused
    with ape.reverts(directory.KeyRetired, account=clinic.address, current=new.address):
        registry.recordAccess(patient, granted, OBS, TREAT, RECORD, sender=clinic)
    # The patient revokes the consent they gave (under the organisation's name): access ends.
    registry.revoke(patient, clinic, granted, sender=patient)
    assert tuple(registry.canAccess(patient, new, OBS, TREAT)) == (False, 0)


def test_a_consent_to_the_new_key_replaces_the_old_one(rotate, registry, patient, clinic, granted, now):
    new = rotate(clinic)
    tx = registry.grant(patient, terms(new, until=now() + DAY).as_tuple(), sender=patient)
    fresh = tx.events[0].consentId
    assert tuple(registry.canAccess(patient, new, OBS, TREAT)) == (True, fresh)
    registry.revoke(patient, new, fresh, sender=patient)
    # The older consent (to the organisation's first key) does not come back.
    assert tuple(registry.canAccess(patient, new, OBS, TREAT)) == (False, 0)


def test_study_sponsorship_follows_the_sponsor_new_key(rotate, chain, registry, directory, accounts, patient, lab, now):
    study = accounts.generate_test_account()
    register_study(registry, chain, study, FORM_V1, lab)
    research = int(Purpose.HRESCH)
    registry.grant(
        patient, terms(study, purposes=1 << research, until=now() + DAY, document=FORM_V1).as_tuple(), sender=patient
    )
    new = rotate(lab)
    assert registry.canAccess(patient, study, OBS, research)[0]  # the sponsor is active under its new key
    registry.amendStudy(study, b"\x02" * 32, sender=new)
    with ape.reverts(directory.KeyRetired, account=lab.address, current=new.address):
        registry.amendStudy(study, b"\x03" * 32, sender=lab)
