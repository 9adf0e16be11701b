"""Gasless patients: EIP-712 signed actions submitted by an active relayer, and every way a
signature must be refused (wrong signer, chain, deployment, nonce, deadline, high-s)."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import DAY, FULL_SCOPE, modify_terms, terms

from careledger.codes import Category, Purpose
from careledger.consent import eip712

OBS, TR = int(Category.OBSERVATION), int(Purpose.TREAT)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def high_s(sig: bytes) -> bytes:
    """The same signature with s replaced by n - s (and v flipped): valid for ecrecover, but
    malleable, so OpenZeppelin's ECDSA refuses it."""
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


@pytest.fixture
def grant_terms(clinic, now):
    return terms(clinic, until=now() + 30 * DAY)


@pytest.fixture
def deadline(now):
    return now() + 3600


def test_grant_by_sig_grants_with_patient_as_actor_and_uses_nonce(
    registry, patient, relayer, keys, signer_for, grant_terms, deadline
):
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    tx = registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)
    ev = tx.events[0]
    assert (ev.patient, ev.grantee, ev.actor) == (patient.address, grant_terms.grantee, patient.address)
    # The pair's action counter moved; the patient's own (patient-wide) nonce did not.
    assert registry.pairNonce(patient, grant_terms.grantee) == 1
    assert registry.nonces(patient) == 0
    assert registry.canAccess(patient, grant_terms.grantee, OBS, TR) == (True, ev.consentId)


def test_signed_modify_revoke_and_deny(registry, patient, clinic, relayer, keys, signer_for, granted, deadline, now):
    key = keys("patient")
    mt = modify_terms(until=now() + 7 * DAY)
    sig = signer_for("modify", key, patient.address, clinic.address, granted, mt, deadline=deadline)
    tx = registry.modifyBySig(patient, clinic, granted, mt.as_tuple(), patient, deadline, sig, sender=relayer)
    assert tx.events[0].validUntil == mt.valid_until
    sig = signer_for("set_patient_deny", key, patient.address, 1 << OBS, 1, deadline=deadline)
    tx = registry.setPatientDenyBySig(patient, 1 << OBS, 1, patient, deadline, sig, sender=relayer)
    assert tx.events == [registry.PatientDenySet(patient=patient, categories=1 << OBS, purposes=1, actor=patient)]
    sig = signer_for("revoke", key, patient.address, clinic.address, granted, deadline=deadline)
    tx = registry.revokeBySig(patient, clinic, granted, patient, deadline, sig, sender=relayer)
    assert tx.events == [registry.ConsentRevoked(consentId=granted, patient=patient, grantee=clinic, actor=patient)]
    # grant (direct), modify, revoke on the pair; one patient-wide signed action
    assert registry.pairNonce(patient, clinic) == 3
    assert registry.nonces(patient) == 1


def test_signed_delegate_appoint_and_remove(registry, patient, patient2, relayer, keys, signer_for, deadline):
    key = keys("patient")
    sig = signer_for("appoint_delegate", key, patient.address, patient2.address, 2, *FULL_SCOPE, deadline=deadline)
    tx = registry.appointDelegateBySig(patient, patient2, 2, *FULL_SCOPE, deadline, sig, sender=relayer)
    assert tx.events == [
        registry.DelegateAppointed(
            patient=patient, delegate=patient2, kind=2, categories=FULL_SCOPE[0], purposes=FULL_SCOPE[1]
        )
    ]
    sig = signer_for("remove_delegate", key, patient.address, patient2.address, deadline=deadline)
    tx = registry.removeDelegateBySig(patient, patient2, deadline, sig, sender=relayer)
    assert tx.events == [registry.DelegateRemoved(patient=patient, delegate=patient2)]


def test_grant_by_sig_wrong_signer_refused(registry, patient, relayer, keys, signer_for, grant_terms, deadline):
    # patient2's key signs, but the message claims the patient signed it.
    sig = signer_for("grant", keys("patient2"), patient.address, grant_terms, deadline=deadline, signer=patient.address)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)


def test_grant_by_sig_signer_not_patient_or_delegate_refused(
    registry, patient, patient2, relayer, keys, signer_for, grant_terms, deadline
):
    sig = signer_for("grant", keys("patient2"), patient.address, grant_terms, deadline=deadline)
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=patient2.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient2, deadline, sig, sender=relayer)


def test_grant_by_sig_other_chain_id_refused(registry, patient, relayer, keys, signer_for, grant_terms, deadline):
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline, chain_id=1)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)


def test_grant_by_sig_other_deployment_refused(
    project, registry, directory, admin, patient, relayer, keys, signer_for, grant_terms, deadline
):
    other = project.ConsentRegistry.deploy(directory, sender=admin)
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline, contract=other.address)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)
    other.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)  # where it belongs


def test_grant_by_sig_used_nonce_refused(registry, patient, clinic, relayer, keys, signer_for, grant_terms, deadline):
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    cid = (
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer).events[0].consentId
    )
    registry.revoke(patient, clinic, cid, sender=patient)  # so only the nonce can stop a replay
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)
    stale = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline, nonce=0)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, stale, sender=relayer)


def test_grant_by_sig_passed_deadline_refused(registry, patient, relayer, keys, signer_for, grant_terms, chain, now):
    deadline = now() + 10
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    chain.pending_timestamp = deadline + 1
    with ape.reverts(registry.SignatureExpired, deadline=deadline):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)


def test_grant_by_sig_at_deadline_accepted(registry, patient, relayer, keys, signer_for, grant_terms, chain, now):
    deadline = now() + 10
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    chain.pending_timestamp = deadline
    registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)


def test_grant_by_sig_high_s_refused(registry, patient, relayer, keys, signer_for, grant_terms, deadline):
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, high_s(sig), sender=relayer)
    registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)  # low-s twin


def test_grant_by_sig_tampered_terms_refused(registry, patient, lab, relayer, keys, signer_for, grant_terms, deadline):
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    tampered = terms(lab, until=grant_terms.valid_until)
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.grantBySig(patient, tampered.as_tuple(), patient, deadline, sig, sender=relayer)


@pytest.mark.parametrize("who", ["clinic", "insurer", "patient2"])
def test_signed_action_submitted_by_non_relayer_refused(
    registry, directory, patient, keys, signer_for, grant_terms, deadline, request, who
):
    sender = request.getfixturevalue(who)
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    expected = (
        (directory.ParticipantNotRegistered, {"account": sender.address})
        if who == "patient2"
        else (directory.ParticipantLacksRole, {"account": sender.address, "requiredRoles": 64})
    )
    with ape.reverts(expected[0], **expected[1]):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=sender)


def test_signed_action_by_suspended_relayer_refused(
    registry, directory, admin, patient, relayer, keys, signer_for, grant_terms, deadline
):
    directory.suspend(relayer, b"ABUSE".ljust(32, b"\0"), sender=admin)
    sig = signer_for("grant", keys("patient"), patient.address, grant_terms, deadline=deadline)
    with ape.reverts(directory.ParticipantIsSuspended, account=relayer.address):
        registry.grantBySig(patient, grant_terms.as_tuple(), patient, deadline, sig, sender=relayer)


def test_delegate_signature_accepted_then_refused_after_removal(
    registry, patient, patient2, relayer, keys, signer_for, grant_terms, deadline
):
    registry.appointDelegate(patient, patient2, 1, *FULL_SCOPE, sender=patient)
    sig = signer_for("grant", keys("patient2"), patient.address, grant_terms, deadline=deadline)
    tx = registry.grantBySig(patient, grant_terms.as_tuple(), patient2, deadline, sig, sender=relayer)
    assert tx.events[0].actor == patient2.address
    cid = tx.events[0].consentId
    registry.removeDelegate(patient, patient2, sender=patient)
    sig = signer_for("revoke", keys("patient2"), patient.address, grant_terms.grantee, cid, deadline=deadline)
    with ape.reverts(registry.NotPatientOrDelegate, patient=patient.address, actor=patient2.address):
        registry.revokeBySig(patient, grant_terms.grantee, cid, patient2, deadline, sig, sender=relayer)


def test_delegate_cannot_sign_delegate_changes(registry, patient, patient2, lab, relayer, keys, signer_for, deadline):
    registry.appointDelegate(patient, patient2, 1, *FULL_SCOPE, sender=patient)
    sig = signer_for(
        "appoint_delegate",
        keys("patient2"),
        patient.address,
        lab.address,
        2,
        *FULL_SCOPE,
        deadline=deadline,
        signer=patient.address,
    )
    with ape.reverts(registry.InvalidSignature, signer=patient.address):
        registry.appointDelegateBySig(patient, lab, 2, *FULL_SCOPE, deadline, sig, sender=relayer)


def test_erc1271_wallet_patient_grants_by_signature(
    registry, wallet, wallet_owner, relayer, signer_for, grant_terms, deadline
):
    sig = signer_for("grant", wallet_owner, wallet.address, grant_terms, deadline=deadline, signer=wallet.address)
    tx = registry.grantBySig(wallet, grant_terms.as_tuple(), wallet, deadline, sig, sender=relayer)
    assert (tx.events[0].patient, tx.events[0].actor) == (wallet.address, wallet.address)
    assert registry.pairNonce(wallet, grant_terms.grantee) == 1


def test_erc1271_wallet_refusing_signature_refused(
    registry, wallet, wallet_owner, patient2, relayer, signer_for, grant_terms, deadline, keys
):
    wallet.setAccepting(False, sender=patient2)  # patient2's key is the wallet owner
    sig = signer_for("grant", wallet_owner, wallet.address, grant_terms, deadline=deadline, signer=wallet.address)
    with ape.reverts(registry.InvalidSignature, signer=wallet.address):
        registry.grantBySig(wallet, grant_terms.as_tuple(), wallet, deadline, sig, sender=relayer)
    # and a key that is not the owner's never works
    wallet.setAccepting(True, sender=patient2)
    other = signer_for("grant", keys("patient"), wallet.address, grant_terms, deadline=deadline, signer=wallet.address)
    with ape.reverts(registry.InvalidSignature, signer=wallet.address):
        registry.grantBySig(wallet, grant_terms.as_tuple(), wallet, deadline, other, sender=relayer)


def test_sdk_digest_matches_contract_domain(registry, chain):
    typed = eip712.revoke(
        "0x" + "11" * 20, "0x" + "22" * 20, 5, 0, 99, chain_id=chain.chain_id, registry=registry.address
    )
    from eth_account.messages import encode_typed_data

    assert encode_typed_data(full_message=typed).header == registry.DOMAIN_SEPARATOR()
    domain = registry.eip712Domain()
    assert (domain.name, domain.version, domain.chainId, domain.verifyingContract) == (
        eip712.DOMAIN_NAME,
        eip712.DOMAIN_VERSION,
        chain.chain_id,
        registry.address,
    )
