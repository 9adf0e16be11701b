"""Research consent: versioned consent-form commitment; an amended protocol needs re-consent."""

from __future__ import annotations

import ape
from consent_helpers import DAY, FORM_V1, FORM_V2, RECORD, register_study, terms

from careledger.codes import Category, Purpose
from careledger.consent.terms import mask

GEN, RES = int(Category.GENOMIC), int(Purpose.HRESCH)
RESEARCH = mask([Purpose.HRESCH])


def research_terms(study, now, form=FORM_V1):
    return terms(
        study, categories=mask([Category.GENOMIC]), purposes=RESEARCH, until=now() + 365 * DAY, document=form
    ).as_tuple()


def test_register_study_emits_and_reads_back(chain, registry, study, clinic):
    tx = register_study(registry, chain, study, FORM_V1, clinic)
    assert tx.events == [registry.StudyRegistered(study=study, sponsor=clinic, version=1, form=FORM_V1)]
    assert tuple(registry.studyOf(study)) == (clinic.address, 1, 1, FORM_V1)


def test_register_study_refusals(chain, registry, directory, study, clinic, insurer, lab):
    with ape.reverts(directory.ParticipantLacksRole, account=insurer.address, requiredRoles=1):
        register_study(registry, chain, study, FORM_V1, insurer)
    with ape.reverts(registry.EmptyCommitment):
        register_study(registry, chain, study, b"\0" * 32, clinic)
    with ape.reverts(registry.StudyAlreadyRegistered, study=lab.address):  # a participant is not a study
        register_study(registry, chain, lab, FORM_V1, clinic)
    register_study(registry, chain, study, FORM_V1, clinic)
    with ape.reverts(registry.StudyAlreadyRegistered, study=study.address):
        register_study(registry, chain, study, FORM_V2, clinic)


def test_research_consent_records_form_version_and_allows_access(registry, registered_study, patient, now):
    tx = registry.grant(patient, research_terms(registered_study, now), sender=patient)
    ev = tx.events[0]
    assert (ev.formVersion, ev.document, ev.purposes) == (1, FORM_V1, RESEARCH)
    assert registry.canAccess(patient, registered_study, GEN, RES) == (True, ev.consentId)
    registry.recordAccess(patient, ev.consentId, GEN, RES, RECORD, sender=registered_study)


def test_amended_protocol_requires_reconsent(registry, registered_study, patient, clinic, now):
    old = registry.grant(patient, research_terms(registered_study, now), sender=patient).events[0].consentId
    tx = registry.amendStudy(registered_study, FORM_V2, sender=clinic)
    assert tx.events == [registry.StudyAmended(study=registered_study, version=2, form=FORM_V2)]
    assert registry.canAccess(patient, registered_study, GEN, RES) == (False, 0)
    with ape.reverts(registry.ConsentFormOutdated, consentId=old, consentedVersion=1, currentVersion=2):
        registry.recordAccess(patient, old, GEN, RES, RECORD, sender=registered_study)
    # Re-consenting to the old form is refused; to the new form it works, with a new id.
    with ape.reverts(registry.ConsentFormMismatch, study=registered_study.address, form=FORM_V2, given=FORM_V1):
        registry.grant(patient, research_terms(registered_study, now), sender=patient)
    new = registry.grant(patient, research_terms(registered_study, now, FORM_V2), sender=patient).events[0]
    assert new.formVersion == 2
    assert new.consentId != old
    assert registry.canAccess(patient, registered_study, GEN, RES) == (True, new.consentId)


def test_research_consent_current_form_cannot_be_granted_twice(registry, registered_study, patient, now):
    cid = registry.grant(patient, research_terms(registered_study, now), sender=patient).events[0].consentId
    with ape.reverts(registry.ConsentAlreadyActive, consentId=cid):
        registry.grant(patient, research_terms(registered_study, now), sender=patient)


def test_research_consent_purposes_must_be_research(registry, registered_study, patient, now):
    t = terms(registered_study, purposes=mask([Purpose.TREAT, Purpose.HRESCH]), until=now() + DAY, document=FORM_V1)
    with ape.reverts(registry.InvalidPurposes, purposes=t.purposes):
        registry.grant(patient, t.as_tuple(), sender=patient)


def test_amend_study_only_by_sponsor(registry, registered_study, lab, study, outsider):
    with ape.reverts(registry.NotStudySponsor, study=registered_study.address, caller=lab.address):
        registry.amendStudy(registered_study, FORM_V2, sender=lab)
    with ape.reverts(registry.StudyNotRegistered, study=outsider.address):
        registry.amendStudy(outsider, FORM_V2, sender=lab)


def test_research_study_gets_nothing_without_consent(registry, registered_study, patient):
    assert registry.canAccess(patient, registered_study, GEN, RES) == (False, 0)
