"""ParticipantDirectory: registration, roles, suspension, and who may call what."""

from __future__ import annotations

import ape
import pytest

from careledger.codes import Role

CRED = bytes.fromhex("ab" * 32)
REASON = b"LICENCE-LAPSED".ljust(32, b"\0")


def test_register_records_entry_and_emits(directory, admin, outsider):
    tx = directory.register(outsider, int(Role.PHARMACY), CRED, sender=admin)
    roles, suspended, registered_at, commitment = directory.participant(outsider)
    assert (roles, suspended, commitment) == (int(Role.PHARMACY), False, CRED)
    assert registered_at == ape.chain.blocks[tx.block_number].timestamp
    assert tx.events == [
        directory.ParticipantRegistered(account=outsider, roles=int(Role.PHARMACY), credentialCommitment=CRED)
    ]


def test_register_twice_refused(directory, admin, clinic):
    with ape.reverts(directory.ParticipantAlreadyRegistered, account=clinic.address):
        directory.register(clinic, int(Role.PROVIDER), CRED, sender=admin)


@pytest.mark.parametrize("roles", [0, 1 << 7, 0xFF])
def test_register_invalid_roles_refused(directory, admin, outsider, roles):
    with ape.reverts(directory.InvalidRoles, roles=roles):
        directory.register(outsider, roles, CRED, sender=admin)


def test_constructor_refuses_zero_admin(project, admin):
    with ape.reverts(project.ParticipantDirectory.ZeroAddressParticipant):
        project.ParticipantDirectory.deploy("0x" + "00" * 20, sender=admin)


def test_update_credential_to_empty_refused(directory, admin, clinic):
    before = directory.participant(clinic).credentialCommitment
    with ape.reverts(directory.EmptyCredentialCommitment):
        directory.updateCredential(clinic, b"\0" * 32, sender=admin)
    assert directory.participant(clinic).credentialCommitment == before != b"\0" * 32


def test_register_zero_address_and_empty_credential_refused(directory, admin, outsider):
    with ape.reverts(directory.ZeroAddressParticipant):
        directory.register("0x" + "00" * 20, int(Role.PROVIDER), CRED, sender=admin)
    with ape.reverts(directory.EmptyCredentialCommitment):
        directory.register(outsider, int(Role.PROVIDER), b"\0" * 32, sender=admin)


@pytest.mark.parametrize("caller", ["clinic", "insurer", "regulator", "outsider"])
def test_admin_functions_refused_to_non_registrars(directory, request, caller, pharmacy, outsider):
    who = request.getfixturevalue(caller)
    registrar, emergency = directory.REGISTRAR_ROLE(), directory.EMERGENCY_ROLE()
    for role, call in (
        (registrar, lambda: directory.register(outsider, int(Role.PROVIDER), CRED, sender=who)),
        (registrar, lambda: directory.setRoles(pharmacy, int(Role.PROVIDER), sender=who)),
        (registrar, lambda: directory.updateCredential(pharmacy, CRED, sender=who)),
        (emergency, lambda: directory.suspend(pharmacy, REASON, sender=who)),
        (registrar, lambda: directory.reinstate(pharmacy, sender=who)),
    ):
        with ape.reverts(directory.AccessControlUnauthorizedAccount, account=who.address, neededRole=role):
            call()


def test_registrar_cannot_register_itself(directory, admin, regulator):
    with ape.reverts(directory.RegistrarCannotRegisterItself, account=admin.address):
        directory.register(admin, int(Role.PROVIDER), CRED, sender=admin)
    directory.grantRole(directory.REGISTRAR_ROLE(), regulator, sender=admin)
    with ape.reverts(directory.RegistrarCannotRegisterItself, account=regulator.address):
        directory.register(regulator, int(Role.REGULATOR), CRED, sender=regulator)


def test_emergency_role_suspends_and_nothing_else(directory, admin, regulator, pharmacy, outsider):
    """The emergency path stops a participant at once and can do nothing else."""
    directory.grantRole(directory.EMERGENCY_ROLE(), regulator, sender=admin)
    directory.suspend(pharmacy, REASON, sender=regulator)
    assert not directory.isActive(pharmacy, int(Role.PHARMACY))
    registrar = directory.REGISTRAR_ROLE()
    with ape.reverts(directory.AccessControlUnauthorizedAccount, account=regulator.address, neededRole=registrar):
        directory.register(outsider, int(Role.PROVIDER), CRED, sender=regulator)
    with ape.reverts(directory.AccessControlUnauthorizedAccount, account=regulator.address, neededRole=registrar):
        directory.reinstate(pharmacy, sender=regulator)
    admin_role = directory.DEFAULT_ADMIN_ROLE()
    with ape.reverts(directory.AccessControlUnauthorizedAccount, account=regulator.address, neededRole=admin_role):
        directory.grantRole(registrar, regulator, sender=regulator)


def test_suspend_blocks_every_role_and_reinstate_restores(directory, admin, pharmacy):
    assert directory.isActive(pharmacy, int(Role.PHARMACY))
    tx = directory.suspend(pharmacy, REASON, sender=admin)
    assert tx.events == [directory.ParticipantSuspended(account=pharmacy, reasonCode=REASON)]
    assert not directory.isActive(pharmacy, int(Role.PHARMACY))
    with ape.reverts(directory.ParticipantIsSuspended, account=pharmacy.address):
        directory.requireActive(pharmacy, int(Role.PHARMACY))
    tx = directory.reinstate(pharmacy, sender=admin)
    assert tx.events == [directory.ParticipantReinstated(account=pharmacy)]
    assert directory.isActive(pharmacy, int(Role.PHARMACY))


def test_suspend_twice_and_reinstate_active_refused(directory, admin, pharmacy):
    with ape.reverts(directory.ParticipantNotSuspended, account=pharmacy.address):
        directory.reinstate(pharmacy, sender=admin)
    directory.suspend(pharmacy, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=pharmacy.address):
        directory.suspend(pharmacy, REASON, sender=admin)


def test_unregistered_accounts_refused_in_admin_calls(directory, admin, outsider):
    for call in (
        lambda: directory.setRoles(outsider, int(Role.PROVIDER), sender=admin),
        lambda: directory.updateCredential(outsider, CRED, sender=admin),
        lambda: directory.suspend(outsider, REASON, sender=admin),
        lambda: directory.reinstate(outsider, sender=admin),
    ):
        with ape.reverts(directory.ParticipantNotRegistered, account=outsider.address):
            call()


def test_require_active_names_missing_role(directory, clinic, outsider):
    with ape.reverts(directory.ParticipantLacksRole, account=clinic.address, requiredRoles=int(Role.PHARMACY)):
        directory.requireActive(clinic, int(Role.PHARMACY))
    with ape.reverts(directory.ParticipantNotRegistered, account=outsider.address):
        directory.requireActive(outsider, int(Role.PHARMACY))
    directory.requireActive(clinic, int(Role.PROVIDER | Role.PHARMACY))  # any of the roles suffices


def test_set_roles_and_credential_emit(directory, admin, clinic):
    tx = directory.setRoles(clinic, int(Role.PROVIDER | Role.RELAYER), sender=admin)
    assert tx.events == [directory.ParticipantRolesChanged(account=clinic, roles=int(Role.PROVIDER | Role.RELAYER))]
    assert directory.isActive(clinic, int(Role.RELAYER))
    tx = directory.updateCredential(clinic, CRED, sender=admin)
    assert tx.events == [directory.CredentialUpdated(account=clinic, credentialCommitment=CRED)]
    assert directory.participant(clinic).credentialCommitment == CRED


def test_admin_can_appoint_registrar(directory, admin, regulator, outsider):
    directory.grantRole(directory.REGISTRAR_ROLE(), regulator, sender=admin)
    directory.register(outsider, int(Role.PROVIDER), CRED, sender=regulator)
    assert directory.isActive(outsider, int(Role.PROVIDER))


# ------------------------------------------------------------------ key rotation


def _fresh(accounts, admin):
    key = accounts.generate_test_account()
    admin.transfer(key, 10**18)
    return key


def test_rotation_moves_the_entry_and_retires_the_old_key(directory, accounts, admin, clinic):
    new = _fresh(accounts, admin)
    before = directory.participant(clinic)
    tx = directory.proposeRotation(clinic, new, sender=admin)
    assert tx.events == [directory.KeyRotationProposed(oldKey=clinic, newKey=new)]
    assert directory.isActive(clinic, int(Role.PROVIDER))  # nothing moves until the new key accepts
    tx = directory.acceptRotation(clinic, sender=new)
    assert tx.events == [directory.KeyRotated(organisation=clinic, oldKey=clinic, newKey=new)]
    assert directory.participant(new) == before
    assert directory.participant(clinic).roles == 0
    assert (directory.currentKey(clinic), directory.organisationOf(new)) == (new.address, clinic.address)
    assert directory.pendingRotation(clinic) == "0x" + "00" * 20
    with ape.reverts(directory.KeyRetired, account=clinic.address, current=new.address):
        directory.requireActive(clinic, int(Role.PROVIDER))
    with ape.reverts(directory.KeyRetired, account=clinic.address, current=new.address):
        directory.register(clinic, int(Role.PROVIDER), CRED, sender=admin)  # a retired key stays retired
    directory.requireActive(new, int(Role.PROVIDER))


def test_rotation_twice_keeps_one_organisation(directory, accounts, admin, lab):
    second, third = _fresh(accounts, admin), _fresh(accounts, admin)
    directory.proposeRotation(lab, second, sender=admin)
    directory.acceptRotation(lab, sender=second)
    directory.proposeRotation(second, third, sender=admin)
    tx = directory.acceptRotation(second, sender=third)
    assert tx.events == [directory.KeyRotated(organisation=lab, oldKey=second, newKey=third)]
    for key in (lab, second, third):
        assert (directory.currentKey(key), directory.organisationOf(key)) == (third.address, lab.address)


def test_rotation_needs_the_registrar_and_the_new_key(directory, accounts, admin, clinic, lab, pharmacy):
    new = _fresh(accounts, admin)
    with ape.reverts(directory.AccessControlUnauthorizedAccount):
        directory.proposeRotation(clinic, new, sender=clinic)  # an organisation cannot move itself
    with ape.reverts(directory.NoRotationPending, oldKey=clinic.address, caller=new.address):
        directory.acceptRotation(clinic, sender=new)
    directory.proposeRotation(clinic, new, sender=admin)
    with ape.reverts(directory.NoRotationPending, oldKey=clinic.address, caller=lab.address):
        directory.acceptRotation(clinic, sender=lab)  # only the proposed key
    with ape.reverts(directory.InvalidNewKey, newKey=lab.address):
        directory.proposeRotation(pharmacy, lab, sender=admin)  # a registered key is not fresh
    directory.proposeRotation(clinic, "0x" + "00" * 20, sender=admin)  # withdrawn
    with ape.reverts(directory.NoRotationPending, oldKey=clinic.address, caller=new.address):
        directory.acceptRotation(clinic, sender=new)


def test_a_suspended_organisation_stays_suspended_under_its_new_key(directory, accounts, admin, er):
    new = _fresh(accounts, admin)
    directory.suspend(er, REASON, sender=admin)
    directory.proposeRotation(er, new, sender=admin)
    directory.acceptRotation(er, sender=new)
    with ape.reverts(directory.ParticipantIsSuspended, account=new.address):
        directory.requireActive(new, int(Role.PROVIDER))
