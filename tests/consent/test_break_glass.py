"""Break-glass: ETREAT/BTG only, providers only, time-boxed, loud, reviewable by the patient."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import ENCOUNTER, RECORD

from careledger.codes import Category, Purpose
from careledger.consent.terms import mask

NOTE = bytes.fromhex("b7" * 32)
MH, ET, BTG = int(Category.MENTAL_HEALTH), int(Purpose.ETREAT), int(Purpose.BTG)
WINDOW = 4 * 3600


@pytest.mark.parametrize("reason", [Purpose.ETREAT, Purpose.BTG])
def test_break_glass_opens_window_and_emits(registry, patient, er, reason):
    tx = registry.breakGlass(patient, int(reason), NOTE, ENCOUNTER, sender=er)
    at = ape.chain.blocks[tx.block_number].timestamp
    bg_id = registry.breakGlassIdOf(patient, er, 1)
    assert tx.events == [
        registry.BreakGlassOpened(
            breakGlassId=bg_id, patient=patient, provider=er, reason=int(reason), until=at + WINDOW, justification=NOTE
        )
    ]
    assert registry.canAccess(patient, er, MH, int(reason)) == (True, bg_id)
    rec = registry.recordAccess(patient, bg_id, MH, int(reason), RECORD, sender=er)
    assert rec.events == [
        registry.AccessRecorded(
            consentId=bg_id, patient=patient, grantee=er, category=MH, purpose=int(reason), record=RECORD
        )
    ]


@pytest.mark.parametrize("reason", [Purpose.TREAT, Purpose.HPAYMT, Purpose.PUBHLTH, 7, 255])
def test_break_glass_other_reason_refused(registry, patient, er, reason):
    with ape.reverts(registry.InvalidBreakGlassReason, reason=int(reason)):
        registry.breakGlass(patient, int(reason), NOTE, ENCOUNTER, sender=er)


@pytest.mark.parametrize("who", ["insurer", "pharmacy", "relayer"])
def test_break_glass_by_registered_non_provider_refused(registry, directory, patient, request, who):
    caller = request.getfixturevalue(who)
    with ape.reverts(directory.ParticipantLacksRole, account=caller.address, requiredRoles=1):
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=caller)


@pytest.mark.parametrize("who", ["outsider", "patient2"])
def test_break_glass_by_unregistered_account_refused(registry, directory, patient, request, who):
    caller = request.getfixturevalue(who)
    with ape.reverts(directory.ParticipantNotRegistered, account=caller.address):
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=caller)


def test_break_glass_by_suspended_provider_refused(registry, directory, admin, patient, er):
    registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    bg_id = registry.breakGlassIdOf(patient, er, 1)
    directory.suspend(er, b"X".ljust(32, b"\0"), sender=admin)
    assert registry.canAccess(patient, er, MH, ET) == (False, 0)
    with ape.reverts(directory.ParticipantIsSuspended, account=er.address):
        registry.recordAccess(patient, bg_id, MH, ET, RECORD, sender=er)
    with ape.reverts(directory.ParticipantIsSuspended, account=er.address):
        registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)


def test_break_glass_window_closes(registry, patient, er, chain):
    tx = registry.breakGlass(patient, BTG, NOTE, ENCOUNTER, sender=er)
    until = ape.chain.blocks[tx.block_number].timestamp + WINDOW
    bg_id = registry.breakGlassIdOf(patient, er, 1)
    chain.pending_timestamp = until - 1
    registry.recordAccess(patient, bg_id, MH, BTG, RECORD, sender=er)
    chain.pending_timestamp = until
    with ape.reverts(registry.BreakGlassNotActive, patient=patient.address, provider=er.address, consentId=bg_id):
        registry.recordAccess(patient, bg_id, MH, BTG, RECORD, sender=er)


def test_break_glass_is_per_provider_and_id(registry, patient, er, clinic):
    registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    bg_id = registry.breakGlassIdOf(patient, er, 1)
    assert registry.canAccess(patient, clinic, MH, ET) == (False, 0)
    with ape.reverts(registry.BreakGlassNotActive, patient=patient.address, provider=clinic.address, consentId=bg_id):
        registry.recordAccess(patient, bg_id, MH, ET, RECORD, sender=clinic)
    with ape.reverts(registry.BreakGlassNotActive, consentId=bg_id + 1):
        registry.recordAccess(patient, bg_id + 1, MH, ET, RECORD, sender=er)
    second = registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er).events[0].breakGlassId
    assert second == registry.breakGlassIdOf(patient, er, 2) != bg_id


def test_break_glass_ignores_patient_deny(registry, patient, er):
    registry.setPatientDeny(patient, mask([Category.MENTAL_HEALTH]), (1 << 7) - 1, sender=patient)
    registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    assert registry.canAccess(patient, er, MH, ET)[0]


def test_break_glass_needs_justification_and_patient(registry, patient, er):
    with ape.reverts(registry.EmptyCommitment):
        registry.breakGlass(patient, ET, b"\0" * 32, ENCOUNTER, sender=er)
    with ape.reverts(registry.ZeroAddress):
        registry.breakGlass("0x" + "00" * 20, ET, NOTE, ENCOUNTER, sender=er)


def test_break_glass_listed_for_patient_review(registry, patient, patient2, er, clinic):
    start = ape.chain.blocks.head.number
    registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    registry.breakGlass(patient2, BTG, NOTE, ENCOUNTER, sender=er)
    registry.breakGlass(patient, BTG, NOTE, ENCOUNTER, sender=clinic)
    mine = list(
        registry.BreakGlassOpened.range(
            start, ape.chain.blocks.head.number + 1, search_topics={"patient": patient.address}
        )
    )
    # ("provider" is also an attribute of Ape logs: read the event arguments directly)
    assert [(e.event_arguments["provider"], e.reason) for e in mine] == [(er.address, ET), (clinic.address, BTG)]


def test_normal_purpose_does_not_use_break_glass(registry, patient, er):
    registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    assert registry.canAccess(patient, er, MH, int(Purpose.TREAT)) == (False, 0)
