// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IParticipantDirectory} from "./IParticipantDirectory.sol";
import {Roles} from "./Roles.sol";

/// @title ParticipantDirectory
/// @notice See {IParticipantDirectory}. The consortium admin (DEFAULT_ADMIN_ROLE) appoints
///         registrars and the emergency role; registrars vet and register organisations, change
///         their roles and credentials and reinstate them; the emergency role suspends them.
///         After `careledger deploy` on any chain but a local devnet, the admin and registrar
///         roles sit with the consortium's timelock (ordinary, delayed decisions of the
///         {ConsortiumCouncil}) and the emergency role with the {EmergencyCouncil}: no single key
///         holds any of them (docs/governance.md).
contract ParticipantDirectory is IParticipantDirectory, AccessControl {
    /// @notice May register, re-role, re-credential and reinstate participants.
    bytes32 public constant REGISTRAR_ROLE = keccak256("careledger.directory.REGISTRAR");
    /// @notice May suspend a participant at once (the emergency path: it cannot register or grant).
    bytes32 public constant EMERGENCY_ROLE = keccak256("careledger.directory.EMERGENCY");

    mapping(address account => Participant) private _participants;

    constructor(address consortiumAdmin) {
        if (consortiumAdmin == address(0)) revert ZeroAddressParticipant();
        _grantRole(DEFAULT_ADMIN_ROLE, consortiumAdmin);
        _grantRole(REGISTRAR_ROLE, consortiumAdmin);
        _grantRole(EMERGENCY_ROLE, consortiumAdmin);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IParticipantDirectory
    function register(address account, uint8 roles, bytes32 credentialCommitment) external onlyRole(REGISTRAR_ROLE) {
        if (account == address(0)) revert ZeroAddressParticipant();
        // A registrar vets others; an organisation that registers itself was vetted by no one.
        if (account == msg.sender) revert RegistrarCannotRegisterItself(account);
        _checkRoles(roles);
        if (credentialCommitment == bytes32(0)) revert EmptyCredentialCommitment();
        if (_participants[account].roles != 0) revert ParticipantAlreadyRegistered(account);
        _participants[account] = Participant({
            roles: roles,
            suspended: false,
            registeredAt: uint40(block.timestamp),
            credentialCommitment: credentialCommitment
        });
        emit ParticipantRegistered(account, roles, credentialCommitment);
    }

    /// @inheritdoc IParticipantDirectory
    function setRoles(address account, uint8 roles) external onlyRole(REGISTRAR_ROLE) {
        _checkRoles(roles);
        Participant storage p = _registered(account);
        p.roles = roles;
        emit ParticipantRolesChanged(account, roles);
    }

    /// @inheritdoc IParticipantDirectory
    function updateCredential(address account, bytes32 credentialCommitment) external onlyRole(REGISTRAR_ROLE) {
        if (credentialCommitment == bytes32(0)) revert EmptyCredentialCommitment();
        Participant storage p = _registered(account);
        p.credentialCommitment = credentialCommitment;
        emit CredentialUpdated(account, credentialCommitment);
    }

    /// @inheritdoc IParticipantDirectory
    function suspend(address account, bytes32 reasonCode) external onlyRole(EMERGENCY_ROLE) {
        Participant storage p = _registered(account);
        // Suspending twice would hide the first reason in the log: refuse it.
        if (p.suspended) revert ParticipantIsSuspended(account);
        p.suspended = true;
        emit ParticipantSuspended(account, reasonCode);
    }

    /// @inheritdoc IParticipantDirectory
    function reinstate(address account) external onlyRole(REGISTRAR_ROLE) {
        Participant storage p = _registered(account);
        if (!p.suspended) revert ParticipantNotSuspended(account);
        p.suspended = false;
        emit ParticipantReinstated(account);
    }

    // ------------------------------------------------------------------ reads

    /// @inheritdoc IParticipantDirectory
    function participant(address account) external view returns (Participant memory) {
        return _participants[account];
    }

    /// @inheritdoc IParticipantDirectory
    function isActive(address account, uint8 anyOfRoles) external view returns (bool) {
        Participant storage p = _participants[account];
        return !p.suspended && (p.roles & anyOfRoles) != 0;
    }

    /// @inheritdoc IParticipantDirectory
    function requireActive(address account, uint8 anyOfRoles) external view {
        Participant storage p = _participants[account];
        if (p.roles == 0) revert ParticipantNotRegistered(account);
        if (p.suspended) revert ParticipantIsSuspended(account);
        if ((p.roles & anyOfRoles) == 0) revert ParticipantLacksRole(account, anyOfRoles);
    }

    // ------------------------------------------------------------------ internal

    function _registered(address account) private view returns (Participant storage p) {
        p = _participants[account];
        if (p.roles == 0) revert ParticipantNotRegistered(account);
    }

    function _checkRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
    }
}
