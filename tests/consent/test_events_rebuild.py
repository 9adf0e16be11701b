"""Events alone rebuild the state: replay the registry's log into dictionaries and compare them
with every storage read the contract offers."""

from __future__ import annotations

import ape
from consent_helpers import DAY, ENCOUNTER, FORM_V1, FORM_V2, FULL_SCOPE, RECORD, modify_terms, register_study, terms

from careledger.codes import Category, Purpose
from careledger.consent import replay
from careledger.consent.terms import mask
from careledger.indexer import DecodedEvent

EVENTS = (
    "ConsentGranted",
    "ConsentModified",
    "ConsentRevoked",
    "PatientDenySet",
    "DelegateAppointed",
    "DelegateRemoved",
    "BreakGlassOpened",
    "StudyRegistered",
    "StudyAmended",
    "StudyStatusSet",
    "AccessRecorded",
    "BreakGlassReviewed",
    "SignaturesCancelled",
)


def _replay(registry, start: int) -> dict:
    """The registry's log from ``start``, in chain order, through the SDK's reducer
    (careledger.consent.replay, the one the indexer uses)."""
    logs = []
    stop = ape.chain.blocks.head.number + 1
    for name in EVENTS:
        for log in getattr(registry, name).range(start, stop):
            logs.append(
                DecodedEvent("ConsentRegistry", name, dict(log.event_arguments), log.block_number, log.log_index, "")
            )
    logs.sort(key=lambda e: (e.block, e.log_index))
    state: dict = {}
    for event in logs:
        replay.reduce(state, event)
    return state


def test_events_rebuild_every_mapping(chain, registry, study, patient, patient2, clinic, lab, er, insurer, now):
    start = ape.chain.blocks.head.number
    registry.appointDelegate(patient, patient2, 1, *FULL_SCOPE, sender=patient)
    a = registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=patient).events[0].consentId
    registry.grant(
        patient, terms(lab, until=now() + 2 * DAY, deny_categories=1, deny_purposes=1).as_tuple(), sender=patient2
    )
    registry.modify(
        patient,
        clinic,
        a,
        modify_terms(categories=mask([Category.IMAGING]), until=now() + 9 * DAY).as_tuple(),
        sender=patient,
    )
    registry.recordAccess(patient, a, int(Category.IMAGING), int(Purpose.TREAT), RECORD, sender=clinic)
    registry.revoke(patient, clinic, a, sender=patient2)
    registry.grant(patient, terms(clinic, until=now() + 3 * DAY).as_tuple(), sender=patient)
    registry.grant(
        patient2,
        terms(insurer, categories=mask([Category.FINANCIAL]), purposes=2, until=now() + DAY).as_tuple(),
        sender=patient2,
    )
    registry.setPatientDeny(patient, mask([Category.GENOMIC]), (1 << 7) - 1, sender=patient)
    registry.removeDelegate(patient, patient2, sender=patient)
    registry.breakGlass(patient, int(Purpose.ETREAT), RECORD, ENCOUNTER, sender=er)
    registry.breakGlass(patient, int(Purpose.BTG), RECORD, ENCOUNTER, sender=er)
    register_study(registry, chain, study, FORM_V1, clinic)
    registry.grant(
        patient2,
        terms(
            study,
            categories=mask([Category.GENOMIC]),
            purposes=mask([Purpose.HRESCH]),
            until=now() + DAY,
            document=FORM_V1,
        ).as_tuple(),
        sender=patient2,
    )
    registry.amendStudy(study, FORM_V2, sender=clinic)
    registry.setStudyStatus(study, 2, sender=clinic)
    registry.cancel(patient, lab, sender=patient)
    registry.cancel(patient, "0x" + "00" * 20, sender=patient)
    registry.cancel(patient2, er, sender=patient2)  # a pair that never had a consent
    registry.reviewBreakGlass(patient, er, 1, sender=patient)

    model = _replay(registry, start)
    fields = (
        "id",
        "seq",
        "categories",
        "purposes",
        "denyCategories",
        "denyPurposes",
        "validFrom",
        "validUntil",
        "formVersion",
    )
    assert len(model["consents"]) == 5
    for (p, g), want in model["consents"].items():
        if want["seq"]:
            assert tuple(registry.consentOf(p, g)) == tuple(want[f] for f in fields)
        assert registry.pairNonce(p, g) == want["nonce"]
    assert model["consents"][(patient.address, lab.address)]["nonce"] == 2
    assert model["reviewed"] == {registry.breakGlassIdOf(patient, er, 1)}
    assert registry.breakGlassReviewed(registry.breakGlassIdOf(patient, er, 1))
    assert not registry.breakGlassReviewed(registry.breakGlassIdOf(patient, er, 2))
    assert model["delegates"] == {(patient.address, patient2.address): (0, 0, 0)}
    assert len(model["glass"]) == 1
    assert len(model["studies"]) == 1
    for p, (c, u) in model["deny"].items():
        assert tuple(registry.patientDenyOf(p)) == (c, u)
    for (p, d), scope in model["delegates"].items():
        assert tuple(registry.delegateOf(p, d)) == scope
    for (p, prov), want in model["glass"].items():
        got = tuple(registry.breakGlassOf(p, prov))
        assert got == tuple(want[k] for k in ("id", "seq", "until", "reason", "day", "openedToday"))
        assert got[-1] == 2  # two windows opened the same day
    for s, want in model["studies"].items():
        assert tuple(registry.studyOf(s)) == want
        assert want[2] == 2  # closed by its sponsor
