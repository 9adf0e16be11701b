"""Granting: who may grant, what a grant must look like, and one current consent per pair."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import DAY, DOC, LABS, TREAT, terms

from careledger.codes import Category, Purpose
from careledger.consent.terms import GRANTABLE_PURPOSES, mask


def test_grant_stores_packed_consent_and_emits_full_event(registry, patient, clinic, now):
    until = now() + 30 * DAY
    tx = registry.grant(patient, terms(clinic, until=until).as_tuple(), sender=patient)
    start = ape.chain.blocks[tx.block_number].timestamp
    cid = registry.consentIdOf(patient, clinic, 1)
    assert tx.events == [
        registry.ConsentGranted(
            consentId=cid,
            patient=patient,
            grantee=clinic,
            categories=LABS,
            purposes=TREAT,
            denyCategories=0,
            denyPurposes=0,
            validFrom=start,
            validUntil=until,
            formVersion=0,
            document=DOC,
            actor=patient,
        )
    ]
    c = registry.consentOf(patient, clinic)
    assert (c.id, c.seq, c.categories, c.purposes, c.validFrom, c.validUntil, c.formVersion) == (
        cid,
        1,
        LABS,
        TREAT,
        start,
        until,
        0,
    )


def test_grant_consent_ids_differ_per_pair_and_per_grant(registry, patient, patient2, clinic, lab, now):
    until = now() + DAY
    ids = set()
    for p, g in ((patient, clinic), (patient, lab), (patient2, clinic)):
        ids.add(registry.grant(p, terms(g, until=until).as_tuple(), sender=p).events[0].consentId)
    assert len(ids) == 3
    assert 0 not in ids


def test_grant_by_other_account_refused(registry, patient, clinic, lab, now):
    for who in (clinic, lab):
        with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=who.address):
            registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=who)


def test_grant_while_active_refused_until_revoked(registry, patient, clinic, now, granted):
    t = terms(clinic, until=now() + DAY).as_tuple()
    with ape.reverts(registry.ConsentAlreadyActive, patient=patient.address, grantee=clinic.address, consentId=granted):
        registry.grant(patient, t, sender=patient)
    registry.revoke(patient, clinic, granted, sender=patient)
    tx = registry.grant(patient, t, sender=patient)
    new_id = tx.events[0].consentId
    assert new_id == registry.consentIdOf(patient, clinic, 2) != granted  # a re-grant is a new consent


def test_grant_after_expiry_allowed_with_new_id(registry, patient, clinic, chain, now):
    until = now() + 100
    first = registry.grant(patient, terms(clinic, until=until).as_tuple(), sender=patient).events[0].consentId
    chain.pending_timestamp = until
    second = registry.grant(patient, terms(clinic, until=until + DAY).as_tuple(), sender=patient)
    assert second.events[0].consentId not in (0, first)


def test_grant_pending_start_blocks_second_grant(registry, patient, clinic, now):
    start = now() + DAY
    cid = (
        registry.grant(patient, terms(clinic, valid_from=start, until=start + DAY).as_tuple(), sender=patient)
        .events[0]
        .consentId
    )
    with ape.reverts(registry.ConsentAlreadyActive, consentId=cid):
        registry.grant(patient, terms(clinic, until=now() + DAY).as_tuple(), sender=patient)


@pytest.mark.parametrize("categories", [0, 1 << 15, (1 << 32) - 1])
def test_grant_invalid_categories_refused(registry, patient, clinic, now, categories):
    with ape.reverts(registry.InvalidCategories, categories=categories):
        registry.grant(patient, terms(clinic, categories=categories, until=now() + DAY).as_tuple(), sender=patient)


@pytest.mark.parametrize("purposes", [0, mask([Purpose.ETREAT]), mask([Purpose.BTG]), 1 << 7, GRANTABLE_PURPOSES + 1])
def test_grant_invalid_or_break_glass_purposes_refused(registry, patient, clinic, now, purposes):
    with ape.reverts(registry.InvalidPurposes, purposes=purposes):
        registry.grant(patient, terms(clinic, purposes=purposes, until=now() + DAY).as_tuple(), sender=patient)


@pytest.mark.parametrize(("deny_c", "deny_p"), [(1, 0), (0, 1), (1 << 15, 1), (1, 1 << 7)])
def test_grant_malformed_deny_refused(registry, patient, clinic, now, deny_c, deny_p):
    with ape.reverts(registry.InvalidDeny, categories=deny_c, purposes=deny_p):
        registry.grant(
            patient,
            terms(clinic, until=now() + DAY, deny_categories=deny_c, deny_purposes=deny_p).as_tuple(),
            sender=patient,
        )


def test_grant_period_must_end_after_start_and_now(registry, patient, clinic, chain, now):
    t0 = now()
    with ape.reverts(registry.InvalidPeriod, validFrom=t0 + 10, validUntil=t0 + 10):
        registry.grant(patient, terms(clinic, valid_from=t0 + 10, until=t0 + 10).as_tuple(), sender=patient)
    chain.pending_timestamp = t0 + 50
    with ape.reverts(registry.InvalidPeriod, validFrom=1, validUntil=t0 + 50):
        registry.grant(patient, terms(clinic, valid_from=1, until=t0 + 50).as_tuple(), sender=patient)


def test_grant_zero_addresses_refused(registry, patient, now):
    zero = "0x" + "00" * 20
    with ape.reverts(registry.ZeroAddress):
        registry.grant(patient, terms(zero, until=now() + DAY).as_tuple(), sender=patient)
    with ape.reverts(registry.ZeroAddress):
        registry.grant(zero, terms(patient, until=now() + DAY).as_tuple(), sender=patient)


def test_grant_to_unregistered_grantee_is_inert(registry, patient, outsider, now):
    registry.grant(patient, terms(outsider, until=now() + DAY).as_tuple(), sender=patient)
    assert registry.canAccess(patient, outsider, int(Category.OBSERVATION), int(Purpose.TREAT)) == (False, 0)


def test_sdk_ids_match_contract(registry, patient, clinic, er):
    from careledger.consent.terms import break_glass_id, consent_id

    for seq in (1, 2, 2**64 - 1):
        assert registry.consentIdOf(patient, clinic, seq) == consent_id(patient.address, clinic.address, seq)
        assert registry.breakGlassIdOf(patient, er, seq) == break_glass_id(patient.address, er.address, seq)
