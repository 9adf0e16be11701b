"""The emergency pause of ConsentRegistry: new or wider access stops; a patient can still revoke
and add to their deny, the audit trail keeps recording, emergency care (break-glass) keeps
working, reads keep answering; clearing a deny or reopening a study stops."""

from __future__ import annotations

import ape
from consent_helpers import DAY, FORM_V1, LABS, TREAT, register_study, terms

from careledger.codes import Category, Purpose
from careledger.consent.terms import mask

RECORD = b"\x42" * 32


def test_paused_registry_keeps_revoke_reads_and_audit(registry, admin, patient, clinic, lab, granted, now):
    registry.pause(sender=admin)
    with ape.reverts(registry.EnforcedPause):
        registry.grant(patient, terms(lab, until=now() + DAY).as_tuple(), sender=patient)
    # Reads answer, and the provider's reads are still recorded.
    allowed, cid = registry.canAccess(patient, clinic, int(Category.OBSERVATION), int(Purpose.TREAT))
    assert allowed and cid == granted
    registry.recordAccess(patient, granted, int(Category.OBSERVATION), int(Purpose.TREAT), RECORD, sender=clinic)
    # A patient can always revoke.
    registry.revoke(patient, clinic, granted, sender=patient)
    assert registry.canAccess(patient, clinic, int(Category.OBSERVATION), int(Purpose.TREAT))[0] is False
    registry.unpause(sender=admin)
    registry.grant(patient, terms(lab, until=now() + DAY).as_tuple(), sender=patient)


def test_deny_can_grow_but_not_shrink_while_paused(registry, admin, patient):
    registry.setPatientDeny(patient, LABS, TREAT, sender=patient)
    registry.pause(sender=admin)
    wider, more = LABS | mask([Category.MEDICATION]), TREAT | mask([Purpose.HRESCH])
    registry.setPatientDeny(patient, wider, more, sender=patient)  # saying no always works
    assert tuple(registry.patientDenyOf(patient)) == (wider, more)
    for categories, purposes in ((LABS, more), (wider, TREAT), (0, 0)):  # each clears part of the deny
        with ape.reverts(registry.EnforcedPause):
            registry.setPatientDeny(patient, categories, purposes, sender=patient)


def test_study_can_close_but_not_reopen_while_paused(chain, registry, accounts, admin, clinic):
    # A study of this test's own (the session's `registered_study` would outlive the test).
    registered_study = accounts.generate_test_account()
    register_study(registry, chain, registered_study, FORM_V1, clinic)
    registry.pause(sender=admin)
    registry.setStudyStatus(registered_study, 2, sender=clinic)  # the sponsor closes its study
    assert registry.studyOf(registered_study).status == 2
    with ape.reverts(registry.EnforcedPause):
        registry.setStudyStatus(registered_study, 1, sender=admin)  # a registrar reopening it waits


def test_break_glass_is_not_stopped_by_a_pause(registry, admin, patient, er):
    registry.pause(sender=admin)
    tx = registry.breakGlass(patient, int(Purpose.ETREAT), b"\x01" * 32, b"\x02" * 32, sender=er)
    assert tx.events.filter(registry.BreakGlassOpened)
