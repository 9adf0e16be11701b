"""Guardian recovery of a lost patient pseudonym (issue #16 point 4): guardians appointed in
advance approve M-of-N (M >= 2), a delay lets the real key cancel, execution retires the lost
pseudonym for good (no access on it again, whatever its key does), and the successor moves its
consents one pair at a time. The seed backup needs nothing on chain."""

from __future__ import annotations

import ape
import pytest
from consent_helpers import DAY, LABS, RECORD, TREAT, modify_terms, terms
from eth_account import Account

from careledger.accounts import DEV_MNEMONIC, PersonIdentity
from careledger.codes import Category, Purpose
from careledger.consent import eip712, replay
from careledger.consent.recovery import GuardianSet, guardian_address, guardians_hash, recovery_typed
from careledger.consent.terms import ALL_CATEGORIES, ALL_PURPOSES, mask
from careledger.errors import InvalidInput
from careledger.indexer import DecodedEvent

OBS = int(Category.OBSERVATION)
TREAT_CODE = int(Purpose.TREAT)
ZERO = "0x" + "00" * 20

# Guardian persons (their own seeds): the address each shows a ward is its pseudonym for that ward.
GUARDIAN_PERSONS = tuple(PersonIdentity(DEV_MNEMONIC, 300 + i) for i in range(3))
# The patient's new seed (the old one is lost): its pseudonyms become the successors.
NEW_SEED = PersonIdentity(DEV_MNEMONIC, 400)
HOSTILE = PersonIdentity(DEV_MNEMONIC, 666)


@pytest.fixture(scope="session")
def recovery(project, registry):
    return project.ConsentRecovery.at(registry.recovery())


@pytest.fixture
def guardian_keys(patient):
    """The three guardians' keys for the ward ``patient``."""
    return [g.pseudonym(patient.address) for g in GUARDIAN_PERSONS]


@pytest.fixture
def gset(guardian_keys):
    return GuardianSet.of([k.address for k in guardian_keys], 2, 2 * DAY)


@pytest.fixture
def guarded(recovery, patient, gset):
    """The patient's pseudonym committed to 2-of-3 guardians with a 2-day delay."""
    recovery.setGuardians(patient, gset.hash, gset.threshold, gset.delay, sender=patient)
    return gset


@pytest.fixture
def successor(clinic):
    """The patient's new seed's pseudonym for the clinic."""
    return NEW_SEED.pseudonym(clinic.address)


def _approve(recovery, chain, key, patient, successor, deadline):
    msg = {
        "patient": str(patient),
        "successor": str(successor),
        "recoveryNonce": recovery.recoveryNonce(patient),
        "deadline": deadline,
    }
    typed = recovery_typed("Recover", msg, chain_id=chain.chain_id, module=recovery.address)
    return eip712.sign(key, typed)


def _start(recovery, chain, relayer, patient, successor, gset, signers, deadline=None):
    """Collect approvals from ``signers`` (keys) and start; returns the receipt."""
    d = int(chain.pending_timestamp) + 3600 if deadline is None else deadline
    approvals = {k.address: _approve(recovery, chain, k, patient, successor, d) for k in signers}
    sigs = [approvals.get(g, b"") for g in gset.guardians]
    return recovery.startRecovery(patient, successor, list(gset.guardians), d, sigs, sender=relayer)


def _signed(recovery, chain, primary, key, msg):
    return eip712.sign(key, recovery_typed(primary, msg, chain_id=chain.chain_id, module=recovery.address))


def _recover(chain, recovery, relayer, patient, successor, gset, guardian_keys):
    _start(recovery, chain, relayer, patient, successor, gset, guardian_keys[:2])
    chain.pending_timestamp += gset.delay
    return recovery.executeRecovery(patient, sender=relayer)


# ---------------------------------------------------------------------- set-up


@pytest.mark.parametrize("threshold", [0, 1, 9])
def test_threshold_outside_two_to_max_refused_at_setup(recovery, patient, gset, threshold):
    """One guardian alone can never recover: a threshold below 2 is refused when it is committed."""
    with ape.reverts(recovery.InvalidThreshold, threshold=threshold):
        recovery.setGuardians(patient, gset.hash, threshold, 2 * DAY, sender=patient)
    with pytest.raises(InvalidInput, match="at least 2"):
        GuardianSet.of(list(gset.guardians), 1, 2 * DAY)


@pytest.mark.parametrize("delay", [DAY, 2 * DAY - 1, 30 * DAY + 1])
def test_delay_outside_bounds_refused(recovery, patient, gset, delay):
    assert recovery.MIN_DELAY() == 2 * DAY and recovery.MAX_DELAY() == 30 * DAY
    with ape.reverts(recovery.InvalidDelay, delay=delay):
        recovery.setGuardians(patient, gset.hash, 2, delay, sender=patient)


def test_only_the_pseudonym_sets_its_guardians(recovery, patient, patient2, gset):
    with ape.reverts(recovery.NotPatient, patient=patient.address, caller=patient2.address):
        recovery.setGuardians(patient, gset.hash, 2, 2 * DAY, sender=patient2)


def test_set_guardians_by_signature_stores_only_the_hash(chain, recovery, relayer, gset, clinic):
    """A fresh pseudonym (no ether) commits through a relayer; only the hash is on chain."""
    person = PersonIdentity(DEV_MNEMONIC, 500)
    key = person.pseudonym(clinic.address)
    d = int(chain.pending_timestamp) + 600
    msg = {
        "patient": key.address,
        "guardiansHash": gset.hash,
        "threshold": 2,
        "delay": 2 * DAY,
        "nonce": recovery.nonces(key.address),
        "deadline": d,
    }
    sig = _signed(recovery, chain, "SetGuardians", key, msg)
    tx = recovery.setGuardiansBySig(key.address, gset.hash, 2, 2 * DAY, d, sig, sender=relayer)
    assert tx.events[0].guardiansHash == gset.hash
    assert tuple(recovery.guardiansOf(key.address)) == (gset.hash, 2, 2 * DAY)
    assert recovery.nonces(key.address) == 1
    for g in gset.guardians:  # the guardians' addresses appear nowhere in the transaction
        assert bytes.fromhex(g[2:].lower()) not in bytes(chain.provider.web3.eth.get_transaction(tx.txn_hash)["input"])
    # replayed: the same signature is spent
    with ape.reverts(recovery.InvalidSignature, signer=key.address):
        recovery.setGuardiansBySig(key.address, gset.hash, 2, 2 * DAY, d, sig, sender=relayer)
    # the deadline may not be further than the registry's signature lifetime
    far = int(chain.pending_timestamp) + 2 * DAY
    with ape.reverts(recovery.SignatureDeadlineTooFar):
        recovery.setGuardiansBySig(key.address, gset.hash, 2, 2 * DAY, far, sig, sender=relayer)


def test_guardian_addresses_are_pairwise(patient, patient2):
    """One guardian person guarding two pseudonyms (of one patient) shows each a different address."""
    g = GUARDIAN_PERSONS[0]
    assert guardian_address(g, patient.address) != guardian_address(g, patient2.address)
    assert guardians_hash([guardian_address(x, patient.address) for x in GUARDIAN_PERSONS]) != guardians_hash(
        [guardian_address(x, patient2.address) for x in GUARDIAN_PERSONS]
    )


# ---------------------------------------------------------------------- start


def test_one_guardian_alone_cannot_recover(chain, recovery, relayer, patient, guarded, guardian_keys, successor):
    with ape.reverts(recovery.NotEnoughApprovals, approvals=1, threshold=2):
        _start(recovery, chain, relayer, patient, successor.address, guarded, guardian_keys[:1])
    # nor by listing itself twice (the list must be the committed, strictly ascending one)
    g = guardian_keys[0]
    d = int(chain.pending_timestamp) + 3600
    sig = _approve(recovery, chain, g, patient, successor.address, d)
    with ape.reverts(recovery.GuardiansMismatch, patient=patient.address, count=2):
        recovery.startRecovery(patient, successor.address, [g.address, g.address], d, [sig, sig], sender=relayer)
    # nor by signing in another guardian's place
    other = sorted(guarded.guardians, key=lambda a: int(a, 16)).index(guardian_keys[1].address)
    sigs = [b""] * 3
    sigs[guarded.guardians.index(g.address)] = sig
    sigs[other] = sig
    with ape.reverts(recovery.InvalidSignature, signer=guardian_keys[1].address):
        recovery.startRecovery(patient, successor.address, list(guarded.guardians), d, sigs, sender=relayer)
    assert recovery.pendingRecoveryOf(patient).successor == ZERO


def test_start_needs_committed_guardians_and_a_relayer(
    chain, recovery, directory, relayer, clinic, patient, gset, guardian_keys
):
    successor = NEW_SEED.address_for(clinic.address)
    with ape.reverts(recovery.NoGuardians, patient=patient.address):
        _start(recovery, chain, relayer, patient, successor, gset, guardian_keys)
    recovery.setGuardians(patient, gset.hash, 2, 2 * DAY, sender=patient)
    strangers = GuardianSet.of([HOSTILE.address_for(patient.address), *gset.guardians[1:]], 2, 2 * DAY)
    with ape.reverts(recovery.GuardiansMismatch, patient=patient.address, count=3):
        _start(recovery, chain, relayer, patient, successor, strangers, guardian_keys[1:])
    with ape.reverts(recovery.InvalidSuccessor, patient=patient.address, successor=patient.address):
        _start(recovery, chain, relayer, patient, patient.address, gset, guardian_keys)
    with ape.reverts(directory.ParticipantLacksRole):
        _start(recovery, chain, clinic, patient, successor, gset, guardian_keys)  # registered, not a relayer
    tx = _start(recovery, chain, relayer, patient, successor, gset, guardian_keys)
    ev = tx.events[0]
    assert ev.successor == successor and ev.approvals == 3 and ev.executableAt == tx.timestamp + 2 * DAY
    with ape.reverts(recovery.RecoveryAlreadyPending, patient=patient.address, successor=successor):
        _start(recovery, chain, relayer, patient, successor, gset, guardian_keys)


# ---------------------------------------------------------------------- cancel, delay


def test_real_key_cancels_a_hostile_recovery(chain, recovery, registry, relayer, patient, guarded, guardian_keys):
    """Two colluding guardians start a recovery to their own address; the real key cancels it in
    the delay, and the approvals they collected are void."""
    thief = HOSTILE.pseudonym(patient.address)
    d = int(chain.pending_timestamp) + 3600
    approvals = {k.address: _approve(recovery, chain, k, patient, thief.address, d) for k in guardian_keys[:2]}
    sigs = [approvals.get(g, b"") for g in guarded.guardians]
    recovery.startRecovery(patient, thief.address, list(guarded.guardians), d, sigs, sender=relayer)
    tx = recovery.cancelRecovery(patient, sender=patient)
    assert tx.events[0].recoveryNonce == 1  # set-up used nonce 0
    assert recovery.pendingRecoveryOf(patient).successor == ZERO
    with ape.reverts(recovery.InvalidSignature):  # the same approvals, replayed
        recovery.startRecovery(patient, thief.address, list(guarded.guardians), d, sigs, sender=relayer)
    chain.pending_timestamp += guarded.delay
    with ape.reverts(recovery.NoRecoveryPending, patient=patient.address):
        recovery.executeRecovery(patient, sender=relayer)
    assert registry.successorOf(patient) == ZERO
    # only the real key cancels
    with ape.reverts(recovery.NotPatient, patient=patient.address, caller=relayer.address):
        recovery.cancelRecovery(patient, sender=relayer)


def test_real_key_cancels_by_signature(chain, recovery, relayer, clinic, gset):
    """A pseudonym without ether cancels through a relayer."""
    person = PersonIdentity(DEV_MNEMONIC, 501)
    key = person.pseudonym(clinic.address)
    keys = [g.pseudonym(key.address) for g in GUARDIAN_PERSONS]
    gs = GuardianSet.of([k.address for k in keys], 2, 3 * DAY)
    d = int(chain.pending_timestamp) + 600
    msg = {
        "patient": key.address,
        "guardiansHash": gs.hash,
        "threshold": 2,
        "delay": 3 * DAY,
        "nonce": 0,
        "deadline": d,
    }
    recovery.setGuardiansBySig(
        key.address, gs.hash, 2, 3 * DAY, d, _signed(recovery, chain, "SetGuardians", key, msg), sender=relayer
    )
    _start(recovery, chain, relayer, key.address, HOSTILE.address_for(key.address), gs, keys[1:])
    msg = {"patient": key.address, "nonce": recovery.nonces(key.address), "deadline": d}
    recovery.cancelRecoveryBySig(key.address, d, _signed(recovery, chain, "CancelRecovery", key, msg), sender=relayer)
    assert recovery.pendingRecoveryOf(key.address).successor == ZERO
    forged = _signed(recovery, chain, "CancelRecovery", keys[0], {**msg, "nonce": recovery.nonces(key.address)})
    with ape.reverts(recovery.InvalidSignature, signer=key.address):
        recovery.cancelRecoveryBySig(key.address, d, forged, sender=relayer)


def test_execution_before_the_delay_refused(chain, recovery, relayer, patient, guarded, guardian_keys, successor):
    tx = _start(recovery, chain, relayer, patient, successor.address, guarded, guardian_keys[:2])
    at = tx.timestamp + guarded.delay
    chain.pending_timestamp = at - 1
    with ape.reverts(recovery.RecoveryNotReady, patient=patient.address, executableAt=at):
        recovery.executeRecovery(patient, sender=relayer)
    chain.pending_timestamp = at
    ev = recovery.executeRecovery(patient, sender=relayer).events
    assert [e.event_name for e in ev] == ["RecoveryExecuted", "PatientRetired"]
    assert tuple(recovery.guardiansOf(patient)) == (b"\0" * 32, 0, 0)  # consumed


# ---------------------------------------------------------------------- after recovery


def test_retired_pseudonym_never_allows_access_again(
    chain, recovery, registry, relayer, patient, lab, registered_study, guarded, guardian_keys, successor, now
):
    _recover(chain, recovery, relayer, patient, successor.address, guarded, guardian_keys)
    assert registry.successorOf(patient) == successor.address
    assert tuple(registry.patientDenyOf(patient)) == (ALL_CATEGORIES, ALL_PURPOSES)
    # the old key (or a thief holding it) grants: the consent exists but never allows access
    cid = registry.grant(patient, terms(lab, until=now() + 9 * DAY).as_tuple(), sender=patient).events[0].consentId
    assert tuple(registry.canAccess(patient, lab, OBS, TREAT_CODE)) == (False, 0)
    with ape.reverts(registry.AccessDenied, consentId=cid, category=OBS, purpose=TREAT_CODE):
        registry.recordAccess(patient, cid, OBS, TREAT_CODE, RECORD, sender=lab)
    # ... and cannot lift the deny, directly or through a guardian delegate it appoints
    with ape.reverts(registry.PatientIsRetired, patient=patient.address, successor=successor.address):
        registry.setPatientDeny(patient, 0, 0, sender=patient)
    with ape.reverts(registry.PatientIsRetired, patient=patient.address, successor=successor.address):
        registry.setPatientDeny(patient, 1, 1, sender=patient)
    # a research consent is refused the same way (the study path runs through the same deny)
    research = mask([Purpose.HRESCH])
    registry.grant(
        patient,
        terms(registered_study, purposes=research, until=now() + 9 * DAY, document=bytes.fromhex("f1" * 32)).as_tuple(),
        sender=patient,
    )
    assert tuple(registry.canAccess(patient, registered_study, OBS, int(Purpose.HRESCH))) == (False, 0)
    # it cannot be recovered again, nor set guardians, nor be a successor
    with ape.reverts(recovery.PatientIsRetired, patient=patient.address, successor=successor.address):
        recovery.setGuardians(patient, guarded.hash, 2, 2 * DAY, sender=patient)
    with ape.reverts(recovery.PatientIsRetired, patient=patient.address, successor=successor.address):
        recovery.cancelRecovery(patient, sender=patient)


def test_break_glass_still_opens_on_a_retired_pseudonym(
    chain, recovery, registry, relayer, patient, er, guarded, guardian_keys, successor
):
    """Documented: an emergency window overrides every deny, the retired one included."""
    _recover(chain, recovery, relayer, patient, successor.address, guarded, guardian_keys)
    bg = registry.breakGlass(patient, int(Purpose.ETREAT), b"\x01" * 32, b"\x02" * 32, sender=er).events[0]
    assert registry.canAccess(patient, er, OBS, int(Purpose.ETREAT))[0]
    assert bg.patient == patient.address


def test_successor_moves_consents_and_they_work(
    chain, recovery, registry, relayer, admin, patient, clinic, lab, guarded, guardian_keys, successor, now
):
    until = now() + 40 * DAY
    old = registry.grant(
        patient, terms(clinic, until=until, deny_categories=2, deny_purposes=2).as_tuple(), sender=patient
    ).events[0]
    _recover(chain, recovery, relayer, patient, successor.address, guarded, guardian_keys)
    assert not registry.canAccess(patient, clinic, OBS, TREAT_CODE)[0]
    # only the successor moves
    with ape.reverts(recovery.NotSuccessor, lost=patient.address, caller=lab.address, successor=successor.address):
        recovery.moveConsent(patient, clinic, 1, sender=lab)
    # signed by the successor (a pseudonym with no ether), relayed
    d = int(chain.pending_timestamp) + 600
    n = registry.pairNonce(patient, clinic)
    msg = {"lost": patient.address, "grantee": clinic.address, "expectedNonce": n, "nonce": 0, "deadline": d}
    tx = recovery.moveConsentBySig(
        patient, clinic, n, d, _signed(recovery, chain, "MoveConsent", successor, msg), sender=relayer
    )
    revoked, granted = tx.events
    assert (revoked.event_name, revoked.consentId, revoked.actor) == (
        "ConsentRevoked",
        old.consentId,
        successor.address,
    )
    assert granted.event_name == "ConsentGranted"
    assert (granted.patient, granted.grantee, granted.actor) == (successor.address, clinic.address, patient.address)
    assert granted.document == old.consentId.to_bytes(32, "big")
    moved = registry.consentOf(successor.address, clinic)
    assert moved.id == granted.consentId == registry.consentIdOf(successor.address, clinic, 1)
    assert (moved.categories, moved.purposes, moved.denyCategories, moved.denyPurposes) == (LABS, TREAT, 2, 2)
    assert (moved.validFrom, moved.validUntil) == (old.validFrom, until)
    assert registry.consentOf(patient, clinic).validUntil == 0
    # it works for the grantee
    assert tuple(registry.canAccess(successor.address, clinic, OBS, TREAT_CODE)) == (True, moved.id)
    registry.recordAccess(successor.address, moved.id, OBS, TREAT_CODE, RECORD, sender=clinic)
    # nothing left to move
    msg = {**msg, "expectedNonce": n + 1, "nonce": 1}
    with ape.reverts(registry.NoActiveConsent, patient=patient.address, grantee=clinic.address):
        recovery.moveConsentBySig(
            patient, clinic, n + 1, d, _signed(recovery, chain, "MoveConsent", successor, msg), sender=relayer
        )


def test_move_refuses_what_the_old_key_changed_after_review(
    chain, recovery, registry, relayer, patient, clinic, guarded, guardian_keys, successor, now
):
    """A thief holding the old key widens the consent after retirement: the move the successor
    signed (pinned to the pair counter it reviewed) is refused."""
    cid = registry.grant(patient, terms(clinic, until=now() + 9 * DAY).as_tuple(), sender=patient).events[0].consentId
    _recover(chain, recovery, relayer, patient, successor.address, guarded, guardian_keys)
    n = registry.pairNonce(patient, clinic)
    d = int(chain.pending_timestamp) + 600
    msg = {"lost": patient.address, "grantee": clinic.address, "expectedNonce": n, "nonce": 0, "deadline": d}
    sig = _signed(recovery, chain, "MoveConsent", successor, msg)
    wide = mask(list(Category))
    registry.modify(
        patient, clinic, cid, modify_terms(categories=wide, until=now() + 9 * DAY).as_tuple(), sender=patient
    )
    with ape.reverts(
        registry.ConsentChanged, lost=patient.address, grantee=clinic.address, expectedNonce=n, nonce=n + 1
    ):
        recovery.moveConsentBySig(patient, clinic, n, d, sig, sender=relayer)


def test_registry_hooks_answer_only_the_module(registry, recovery, patient, patient2, clinic):
    assert registry.recovery() == recovery.address and recovery.registry() == registry.address
    with ape.reverts(registry.NotRecoveryModule, caller=patient.address):
        registry.retirePatient(patient, patient2, sender=patient)
    with ape.reverts(registry.NotRecoveryModule, caller=patient2.address):
        registry.moveConsent(patient, clinic, 0, sender=patient2)
    assert recovery.MAX_SIGNATURE_LIFETIME() == registry.MAX_SIGNATURE_LIFETIME()


def test_pause_lets_a_recovery_retire_but_not_move(
    chain, recovery, registry, relayer, admin, patient, clinic, guarded, guardian_keys, successor, now
):
    """Retiring only takes access away, so it runs while the registry is paused; moving a consent
    gives access to the successor, which the pause stops."""
    registry.grant(patient, terms(clinic, until=now() + 9 * DAY).as_tuple(), sender=patient)
    _start(recovery, chain, relayer, patient, successor.address, guarded, guardian_keys[:2])
    registry.pause(sender=admin)
    chain.pending_timestamp += guarded.delay
    recovery.executeRecovery(patient, sender=relayer)
    assert registry.successorOf(patient) == successor.address
    n = registry.pairNonce(patient, clinic)
    d = int(chain.pending_timestamp) + 600
    msg = {"lost": patient.address, "grantee": clinic.address, "expectedNonce": n, "nonce": 0, "deadline": d}
    sig = _signed(recovery, chain, "MoveConsent", successor, msg)
    with ape.reverts(registry.EnforcedPause):
        recovery.moveConsentBySig(patient, clinic, n, d, sig, sender=relayer)
    registry.unpause(sender=admin)
    recovery.moveConsentBySig(patient, clinic, n, d, sig, sender=relayer)


def test_successor_retired_during_the_delay_is_refused_and_unblocks(
    chain, recovery, registry, relayer, patient, patient2, guarded, guardian_keys
):
    """A successor that was itself retired meanwhile cannot take over (no chains of retirements)."""
    target = patient2.address
    _start(recovery, chain, relayer, patient, target, guarded, guardian_keys[:2])
    keys2 = [g.pseudonym(target) for g in GUARDIAN_PERSONS]
    gs2 = GuardianSet.of([k.address for k in keys2], 2, 2 * DAY)
    recovery.setGuardians(patient2, gs2.hash, 2, 2 * DAY, sender=patient2)
    _start(recovery, chain, relayer, patient2, NEW_SEED.address_for(target), gs2, keys2[:2])
    chain.pending_timestamp += 2 * DAY
    recovery.executeRecovery(patient2, sender=relayer)
    # the registry's InvalidSuccessor(lost, successor), decoded by the module's ABI
    with ape.reverts(recovery.InvalidSuccessor, patient=patient.address, successor=target):
        recovery.executeRecovery(patient, sender=relayer)
    # that pending recovery can never run, so it does not block the guardians' next one
    other = NEW_SEED.address_for(patient.address)
    _start(recovery, chain, relayer, patient, other, guarded, guardian_keys[1:])
    chain.pending_timestamp += guarded.delay
    recovery.executeRecovery(patient, sender=relayer)
    assert registry.successorOf(patient) == other


# ---------------------------------------------------------------------- the seed backup


def test_seed_backup_restores_every_pseudonym_without_the_chain(chain, registry, relayer, clinic, lab, signer_for, now):
    """The person who still holds the mnemonic re-derives every pseudonym and keeps acting:
    nothing on chain, no guardian involved."""
    mnemonic = Account.create_with_mnemonic()[1]
    person = PersonIdentity(mnemonic)
    ids = {}
    for org in (clinic, lab):
        key = person.pseudonym(org.address)
        t = terms(org, until=now() + 9 * DAY)
        d = now() + 600
        sig = signer_for("grant", key, key.address, t, deadline=d)
        ids[org.address] = (
            registry.grantBySig(key.address, t.as_tuple(), key.address, d, sig, sender=relayer).events[0].consentId
        )
    restored = PersonIdentity(" ".join(mnemonic.split()))  # typed back from the paper backup
    assert restored.pseudonyms([clinic.address, lab.address]) == person.pseudonyms([clinic.address, lab.address])
    for org in (clinic, lab):
        key = restored.pseudonym(org.address)
        d = now() + 600
        sig = signer_for("revoke", key, key.address, org.address, ids[org.address], deadline=d)
        registry.revokeBySig(key.address, org, ids[org.address], key.address, d, sig, sender=relayer)
        assert not registry.canAccess(key.address, org, OBS, TREAT_CODE)[0]


# ---------------------------------------------------------------------- replay


def test_replay_rebuilds_recovery_state(
    chain, recovery, registry, relayer, patient, clinic, guarded, guardian_keys, successor, now
):
    start = 0  # from the registry's deployment: the fixture's GuardiansSet counts too
    registry.grant(patient, terms(clinic, until=now() + 9 * DAY).as_tuple(), sender=patient)
    _start(recovery, chain, relayer, patient, HOSTILE.address_for(patient.address), guarded, guardian_keys[1:])
    recovery.cancelRecovery(patient, sender=patient)
    _recover(chain, recovery, relayer, patient, successor.address, guarded, guardian_keys)
    n = registry.pairNonce(patient, clinic)
    d = int(chain.pending_timestamp) + 600
    msg = {"lost": patient.address, "grantee": clinic.address, "expectedNonce": n, "nonce": 0, "deadline": d}
    recovery.moveConsentBySig(
        patient, clinic, n, d, _signed(recovery, chain, "MoveConsent", successor, msg), sender=relayer
    )
    logs = []
    stop = ape.chain.blocks.head.number + 1
    for contract, name_, events in (
        (registry, "ConsentRegistry", ("ConsentGranted", "ConsentRevoked", "PatientRetired", "PatientDenySet")),
        (recovery, "ConsentRecovery", replay.RECOVERY_EVENTS),
    ):
        for ev in events:
            for log in getattr(contract, ev).range(start, stop):
                logs.append(DecodedEvent(name_, ev, dict(log.event_arguments), log.block_number, log.log_index, ""))
    logs.sort(key=lambda e: (e.block, e.log_index))
    state: dict = {}
    for event in logs:
        replay.reduce(state, event)
    assert state["successors"] == {patient.address: successor.address}
    assert state["deny"][patient.address] == (ALL_CATEGORIES, ALL_PURPOSES)
    moved = state["consents"][(successor.address, clinic.address)]
    assert moved["id"] == registry.consentOf(successor.address, clinic).id
    assert state["consents"][(patient.address, clinic.address)]["validUntil"] == 0
    rec = state["recovery"][patient.address]
    assert rec == {"guardians": (b"\0" * 32, 0, 0), "pending": (ZERO, 0), "nonce": recovery.recoveryNonce(patient)}
