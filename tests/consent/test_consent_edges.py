"""ConsentRegistry edges the scenario tests do not reach (found by `make coverage`): constructor
and argument guards, reads of what was never granted or opened, break-glass with a category
outside the code table, and modifying a consent that does not exist or is a research consent."""

from __future__ import annotations

import ape
from consent_helpers import DAY, ENCOUNTER, FORM_V1, RECORD, modify_terms, register_study, terms

from careledger.codes import Category, Purpose
from careledger.consent.terms import mask

ZERO_ADDR = "0x" + "00" * 20
NOTE = bytes.fromhex("b7" * 32)
COUNT = max(Category) + 1  # first category code outside the table (Category.COUNT in Solidity)
ET = int(Purpose.ETREAT)
GENOMIC = mask([Category.GENOMIC])
RESEARCH = mask([Purpose.HRESCH])


def test_constructor_refuses_zero_directory(project, admin):
    with ape.reverts(project.ConsentRegistry.ZeroAddress):
        project.ConsentRegistry.deploy(ZERO_ADDR, sender=admin)


def test_directory_reads_back(registry, directory):
    assert registry.directory() == directory.address


def test_never_granted_or_opened_reads_as_zero(registry, patient, clinic, er):
    c = registry.consentOf(patient, clinic)
    assert (c.id, c.seq, c.categories, c.purposes, c.validUntil) == (0, 0, 0, 0, 0)
    bg = registry.breakGlassOf(patient, er)
    assert (bg.id, bg.seq, bg.until, bg.reason) == (0, 0, 0, 0)


def test_break_glass_category_outside_table_refused(registry, patient, er):
    registry.breakGlass(patient, ET, NOTE, ENCOUNTER, sender=er)
    bg_id = registry.breakGlassIdOf(patient, er, 1)
    assert registry.canAccess(patient, er, int(Category.MENTAL_HEALTH), ET) == (True, bg_id)
    assert registry.canAccess(patient, er, COUNT, ET) == (False, 0)
    with ape.reverts(registry.InvalidCode, category=COUNT, purpose=ET):
        registry.recordAccess(patient, bg_id, COUNT, ET, RECORD, sender=er)


# These register the study inside the test: the session fixture `registered_study` would leave it
# registered for test_research.py, which runs later and expects it not to be.


def test_study_arguments_checked(chain, registry, study, clinic):
    with ape.reverts(registry.ZeroAddress):
        registry.registerStudy(ZERO_ADDR, FORM_V1, int(chain.pending_timestamp) + 60, b"", sender=clinic)
    register_study(registry, chain, study, FORM_V1, clinic)
    with ape.reverts(registry.EmptyCommitment):
        registry.amendStudy(study, b"\0" * 32, sender=clinic)
    assert registry.studyOf(study).version == 1


def test_modify_without_consent_refused(registry, patient, clinic, now):
    claimed = registry.consentIdOf(patient, clinic, 1)
    with ape.reverts(
        registry.ConsentNotCurrent, patient=patient.address, grantee=clinic.address, consentId=claimed, currentId=0
    ):
        registry.modify(patient, clinic, claimed, modify_terms(until=now() + DAY).as_tuple(), sender=patient)


def test_modify_research_consent_keeps_research_purpose(chain, registry, study, clinic, patient, now):
    register_study(registry, chain, study, FORM_V1, clinic)
    registered_study = study
    t = terms(registered_study, categories=GENOMIC, purposes=RESEARCH, until=now() + 30 * DAY, document=FORM_V1)
    cid = registry.grant(patient, t.as_tuple(), sender=patient).events[0].consentId
    treat = modify_terms(categories=GENOMIC, purposes=mask([Purpose.TREAT]), until=now() + 60 * DAY)
    with ape.reverts(registry.InvalidPurposes, purposes=treat.purposes):
        registry.modify(patient, registered_study, cid, treat.as_tuple(), sender=patient)

    until = now() + 60 * DAY
    tx = registry.modify(
        patient,
        registered_study,
        cid,
        modify_terms(categories=GENOMIC, purposes=RESEARCH, until=until).as_tuple(),
        sender=patient,
    )
    assert tx.events == [
        registry.ConsentModified(
            consentId=cid,
            patient=patient,
            grantee=registered_study,
            categories=GENOMIC,
            purposes=RESEARCH,
            denyCategories=0,
            denyPurposes=0,
            validUntil=until,
            actor=patient,
        )
    ]
    c = registry.consentOf(patient, registered_study)
    assert (c.id, c.validUntil, c.formVersion) == (cid, until, 1)
