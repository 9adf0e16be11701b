"""Delegates (guardian, proxy): appointed and removed by the patient only, evented, and a
removed delegate is refused."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import DAY, FULL_SCOPE, terms

GUARDIAN, PROXY = 1, 2


def test_appoint_delegate_emits_and_delegate_can_grant_revoke(registry, patient, patient2, clinic, now):
    tx = registry.appointDelegate(patient, patient2, GUARDIAN, *FULL_SCOPE, sender=patient)
    assert tx.events == [registry.DelegateAppointed(patient=patient, delegate=patient2, kind=GUARDIAN)]
    assert registry.delegateKind(patient, patient2) == GUARDIAN
    g = registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=patient2)
    assert g.events[0].actor == patient2.address
    assert g.events[0].patient == patient.address
    r = registry.revoke(patient, clinic, g.events[0].consentId, sender=patient2)
    assert r.events[0].actor == patient2.address


def test_removed_delegate_refused(registry, patient, patient2, clinic, now):
    registry.appointDelegate(patient, patient2, PROXY, *FULL_SCOPE, sender=patient)
    tx = registry.removeDelegate(patient, patient2, sender=patient)
    assert tx.events == [registry.DelegateRemoved(patient=patient, delegate=patient2)]
    assert registry.delegateKind(patient, patient2) == 0
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=patient2.address):
        registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=patient2)


def test_delegate_cannot_appoint_or_remove_delegates(registry, patient, patient2, lab):
    registry.appointDelegate(patient, patient2, GUARDIAN, *FULL_SCOPE, sender=patient)
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=patient2.address):
        registry.appointDelegate(patient, lab, PROXY, *FULL_SCOPE, sender=patient2)
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=patient2.address):
        registry.removeDelegate(patient, patient2, sender=patient2)


@pytest.mark.parametrize("kind", [0, 3, 255])
def test_appoint_invalid_kind_refused(registry, patient, patient2, kind):
    with ape.reverts(registry.InvalidDelegateKind, kind=kind):
        registry.appointDelegate(patient, patient2, kind, *FULL_SCOPE, sender=patient)


def test_appoint_self_or_zero_refused_and_remove_stranger_refused(registry, patient, lab):
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=patient.address):
        registry.appointDelegate(patient, patient, GUARDIAN, *FULL_SCOPE, sender=patient)
    with ape.reverts(registry.ZeroAddress):
        registry.appointDelegate(patient, "0x" + "00" * 20, GUARDIAN, *FULL_SCOPE, sender=patient)
    with ape.reverts(registry.NotADelegate, patient=patient.address, delegate=lab.address):
        registry.removeDelegate(patient, lab, sender=patient)


def test_delegate_of_one_patient_cannot_act_for_another(registry, patient, patient2, lab, clinic, now):
    registry.appointDelegate(patient, lab, PROXY, *FULL_SCOPE, sender=patient)
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient2.address, actor=lab.address):
        registry.grant(patient2, terms(clinic, until=now() + DAY).as_tuple(), sender=lab)
