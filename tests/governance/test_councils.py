"""The consortium's councils on the embedded chain: one vote per member, a quorum, a delay for
ordinary decisions, a smaller emergency path that cannot register or grant, and a compromised
member key that decides nothing alone."""

from __future__ import annotations

import ape
import pytest
from eth_utils.crypto import keccak

from careledger.codes import Role

CRED = bytes.fromhex("c1" * 32)
REASON = b"LICENCE-LAPSED".ljust(32, b"\0")
DELAY = 3600
PERIOD = 86_400
AGAINST, FOR, ABSTAIN = 0, 1, 2
ACTIVE, CANCELED, DEFEATED, SUCCEEDED, QUEUED, EXECUTED = 1, 2, 3, 4, 5, 7


@pytest.fixture
def consortium(project, chain, directory, admin, clinic, insurer, regulator):
    """A 2-of-3 consortium (clinic, insurer, regulator) holding the directory's powers, set up as
    `careledger deploy --consortium` does, with the deployer's roles renounced."""
    membership = project.ConsortiumMembership.deploy(admin, sender=admin)
    for m in (clinic, insurer, regulator):
        membership.admit(m, sender=admin)
    timelock = project.ConsortiumTimelock.deploy(DELAY, admin, sender=admin)
    council = project.ConsortiumCouncil.deploy(membership, timelock, 2, PERIOD, sender=admin)
    emergency = project.EmergencyCouncil.deploy(membership, 2, PERIOD, sender=admin)
    timelock.grantRole(timelock.PROPOSER_ROLE(), council, sender=admin)
    timelock.grantRole(timelock.CANCELLER_ROLE(), council, sender=admin)
    timelock.grantRole(timelock.CANCELLER_ROLE(), emergency, sender=admin)
    membership.transferOwnership(timelock, sender=admin)
    admin_role, registrar, emergency_role = (
        directory.DEFAULT_ADMIN_ROLE(),
        directory.REGISTRAR_ROLE(),
        directory.EMERGENCY_ROLE(),
    )
    directory.grantRole(admin_role, timelock, sender=admin)
    directory.grantRole(registrar, timelock, sender=admin)
    directory.grantRole(emergency_role, emergency, sender=admin)
    for role in (emergency_role, registrar, admin_role):
        directory.renounceRole(role, admin, sender=admin)
    timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), admin, sender=admin)
    chain.mine(1)  # votes are counted from the second after admission
    return membership, timelock, council, emergency


def _propose(gov, proposer, target, data, description):
    gov.propose([target.address], [0], [data], description, sender=proposer)
    return gov.hashProposal([target.address], [0], [data], keccak(text=description))


def _register_call(directory, account):
    return directory.register.encode_input(account, int(Role.PROVIDER), CRED)


def test_deployer_holds_nothing_after_handover(consortium, directory, admin, outsider):
    membership, timelock, _, _ = consortium
    for role in (directory.DEFAULT_ADMIN_ROLE(), directory.REGISTRAR_ROLE(), directory.EMERGENCY_ROLE()):
        assert not directory.hasRole(role, admin)
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), admin)
    assert membership.owner() == timelock.address
    with ape.reverts(
        directory.AccessControlUnauthorizedAccount, account=admin.address, neededRole=directory.REGISTRAR_ROLE()
    ):
        directory.register(outsider, int(Role.PROVIDER), CRED, sender=admin)


def test_ordinary_decision_needs_quorum_then_the_delay(consortium, directory, chain, clinic, insurer, outsider):
    _, timelock, council, _ = consortium
    data = _register_call(directory, outsider)
    pid = _propose(council, clinic, directory, data, "register a provider")
    chain.mine(1)
    council.castVote(pid, FOR, sender=clinic)
    assert council.state(pid) == ACTIVE  # one member's key alone decides nothing
    with ape.reverts(council.GovernorUnexpectedProposalState):
        council.queue(pid, sender=clinic)
    council.castVote(pid, FOR, sender=insurer)
    assert council.state(pid) == SUCCEEDED  # the quorum passes it at once, before the period ends
    council.queue(pid, sender=clinic)
    assert council.state(pid) == QUEUED
    with ape.reverts(timelock.TimelockUnexpectedOperationState):
        council.execute(pid, sender=outsider)
    chain.pending_timestamp += DELAY
    council.execute(pid, sender=outsider)  # anyone may run a ready decision
    assert council.state(pid) == EXECUTED
    assert directory.isActive(outsider, int(Role.PROVIDER))


def test_member_cannot_vote_twice_or_delegate_or_transfer(consortium, directory, chain, clinic, insurer, outsider):
    membership, _, council, _ = consortium
    pid = _propose(council, clinic, directory, _register_call(directory, outsider), "register twice-voted")
    chain.mine(1)
    council.castVote(pid, FOR, sender=clinic)
    with ape.reverts(council.GovernorAlreadyCastVote, voter=clinic.address):
        council.castVote(pid, FOR, sender=clinic)
    with ape.reverts(membership.DelegationDisabled):  # pure: refused before any state is read
        membership.call_view_method("delegate", clinic)  # (`.delegate` is Ape's EIP-7702 property)
    token = int(clinic.address, 16)
    with ape.reverts(membership.MembershipNotTransferable, tokenId=token):
        membership.transferFrom(clinic, insurer, token, sender=clinic)
    assert membership.getVotes(clinic) == 1 and membership.getVotes(insurer) == 1


def test_outsider_cannot_propose_and_compromised_member_cannot_act_directly(
    consortium, directory, chain, clinic, outsider, pharmacy
):
    membership, timelock, council, _ = consortium
    with ape.reverts(council.GovernorInsufficientProposerVotes):
        council.propose([directory.address], [0], [_register_call(directory, outsider)], "x", sender=outsider)
    # A member's key, stolen, can neither act on the directory nor schedule in the timelock.
    with ape.reverts(directory.AccessControlUnauthorizedAccount):
        directory.suspend(pharmacy, REASON, sender=clinic)
    with ape.reverts(timelock.AccessControlUnauthorizedAccount):
        timelock.schedule(
            directory.address, 0, _register_call(directory, outsider), b"\0" * 32, b"\0" * 32, DELAY, sender=clinic
        )
    with ape.reverts(membership.OwnableUnauthorizedAccount, account=clinic.address):
        membership.admit(outsider, sender=clinic)


def test_emergency_suspends_at_once_but_cannot_register(
    consortium, directory, chain, clinic, regulator, pharmacy, outsider
):
    _, _, _, emergency = consortium
    pid = _propose(emergency, clinic, directory, directory.suspend.encode_input(pharmacy, REASON), "suspend")
    chain.mine(1)
    emergency.castVote(pid, FOR, sender=clinic)
    assert emergency.state(pid) == ACTIVE
    emergency.castVote(pid, FOR, sender=regulator)
    emergency.execute(pid, sender=clinic)  # no queue, no delay
    assert not directory.isActive(pharmacy, int(Role.PHARMACY))
    # The same quorum trying to register gets the directory's refusal at execution.
    pid = _propose(emergency, clinic, directory, _register_call(directory, outsider), "emergency register")
    chain.mine(1)
    emergency.castVote(pid, FOR, sender=clinic)
    emergency.castVote(pid, FOR, sender=regulator)
    with ape.reverts(
        directory.AccessControlUnauthorizedAccount, account=emergency.address, neededRole=directory.REGISTRAR_ROLE()
    ):
        emergency.execute(pid, sender=clinic)


def test_emergency_council_cancels_an_ordinary_decision_in_its_delay(
    consortium, directory, chain, clinic, insurer, regulator, outsider
):
    _, timelock, council, emergency = consortium
    description = "register a doubtful provider"
    data = _register_call(directory, outsider)
    pid = _propose(council, clinic, directory, data, description)
    chain.mine(1)
    council.castVote(pid, FOR, sender=clinic)
    council.castVote(pid, FOR, sender=insurer)
    council.queue(pid, sender=clinic)
    # GovernorTimelockControl's salt: the council's address (left-aligned) XOR the description hash.
    council_word = bytes.fromhex(council.address[2:]).ljust(32, b"\0")
    salt = bytes(a ^ b for a, b in zip(council_word, keccak(text=description), strict=True))
    op = timelock.hashOperationBatch([directory.address], [0], [data], b"\0" * 32, salt)
    assert timelock.isOperationPending(op)
    cid = _propose(emergency, regulator, timelock, timelock.cancel.encode_input(op), "stop it")
    chain.mine(1)
    emergency.castVote(cid, FOR, sender=regulator)
    emergency.castVote(cid, FOR, sender=insurer)
    emergency.execute(cid, sender=regulator)
    assert council.state(pid) == CANCELED
    chain.pending_timestamp += DELAY
    with ape.reverts(council.GovernorUnexpectedProposalState):
        council.execute(pid, sender=clinic)
    assert not directory.isActive(outsider, int(Role.PROVIDER))


def test_one_yes_and_abstentions_never_pass(consortium, directory, chain, clinic, insurer, regulator, outsider):
    """GovernorCountingSimple would count abstentions towards the quorum; ours counts only yes."""
    _, _, council, emergency = consortium
    for gov in (council, emergency):
        pid = _propose(gov, clinic, directory, _register_call(directory, outsider), f"abstained {gov.address}")
        chain.mine(1)
        gov.castVote(pid, FOR, sender=clinic)
        gov.castVote(pid, ABSTAIN, sender=insurer)
        gov.castVote(pid, ABSTAIN, sender=regulator)
        assert gov.state(pid) == ACTIVE
        chain.pending_timestamp += PERIOD + 1
        chain.mine(1)
        assert gov.state(pid) == DEFEATED


def test_membership_changes_are_ordinary_decisions(consortium, directory, chain, clinic, insurer, outsider):
    membership, _, council, _ = consortium
    pid = _propose(council, clinic, membership, membership.expel.encode_input(insurer), "expel insurer")
    chain.mine(1)
    council.castVote(pid, FOR, sender=clinic)
    council.castVote(pid, FOR, sender=insurer)
    council.queue(pid, sender=clinic)
    chain.pending_timestamp += DELAY
    council.execute(pid, sender=clinic)
    assert not membership.isMember(insurer)
    chain.mine(1)
    pid = _propose(council, clinic, directory, _register_call(directory, outsider), "after expulsion")
    chain.mine(1)
    with ape.reverts(council.GovernorInsufficientProposerVotes):
        council.propose([directory.address], [0], [b"\x00"], "expelled proposes", sender=insurer)
    council.castVote(pid, FOR, sender=insurer)  # counted with weight 0: the vote is recorded, not counted
    assert council.proposalVotes(pid)[1] == 0
    assert council.state(pid) == ACTIVE


def test_quorum_of_zero_refused(project, admin):
    membership = project.ConsortiumMembership.deploy(admin, sender=admin)
    with ape.reverts(project.EmergencyCouncil.InvalidQuorum, quorumVotes=0):
        project.EmergencyCouncil.deploy(membership, 0, PERIOD, sender=admin)


def test_pause_needs_the_emergency_quorum_and_resume_the_timelock(
    project, consortium, directory, chain, admin, clinic, insurer, regulator, patient
):
    """One member's key cannot pause (directly or by voting alone); the emergency quorum pauses at
    once but cannot resume; the ordinary council resumes after the timelock's delay."""
    _, _, council, emergency = consortium
    registry = project.ConsentRegistry.deploy(directory, sender=admin)
    for who in (clinic, admin):  # a member's own key, or the deployer's after the handover
        with ape.reverts(registry.NotEmergencyCouncil, account=who.address):
            registry.pause(sender=who)
    pid = _propose(emergency, clinic, registry, registry.pause.encode_input(), "pause consent")
    chain.mine(1)
    emergency.castVote(pid, FOR, sender=clinic)
    with ape.reverts(emergency.GovernorUnexpectedProposalState):
        emergency.execute(pid, sender=clinic)  # one vote of two
    emergency.castVote(pid, FOR, sender=regulator)
    emergency.execute(pid, sender=clinic)
    assert registry.paused()
    # The emergency path cannot restart what it stopped.
    rid = _propose(emergency, clinic, registry, registry.unpause.encode_input(), "resume by emergency")
    chain.mine(1)
    emergency.castVote(rid, FOR, sender=clinic)
    emergency.castVote(rid, FOR, sender=insurer)
    with ape.reverts(registry.NotConsortiumAdmin, account=emergency.address):
        emergency.execute(rid, sender=clinic)
    # The ordinary council resumes it, after the delay everyone can watch.
    oid = _propose(council, insurer, registry, registry.unpause.encode_input(), "resume consent")
    chain.mine(1)
    council.castVote(oid, FOR, sender=insurer)
    council.castVote(oid, FOR, sender=regulator)
    council.queue(oid, sender=insurer)
    with ape.reverts():
        council.execute(oid, sender=insurer)  # still in its delay
    assert registry.paused()
    chain.pending_timestamp += DELAY
    council.execute(oid, sender=insurer)
    assert not registry.paused()
