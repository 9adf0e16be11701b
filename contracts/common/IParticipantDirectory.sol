// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IParticipantDirectory
/// @notice The consortium's register of vetted organisations. Every CareLedger contract asks it
///         who may act: a provider submitting a claim, a pharmacy dispensing, a relayer
///         forwarding a patient's signature. Only pseudonymous addresses and a commitment to the
///         organisation's credential (licence, NPI or GLN, salted and hashed off chain) are kept.
/// @dev    Roles are the bit flags of {Roles}. The events are enough to rebuild every entry.
interface IParticipantDirectory {
    /// @notice One organisation's entry. `roles == 0` means "not registered".
    struct Participant {
        uint8 roles;
        bool suspended;
        uint40 registeredAt;
        bytes32 credentialCommitment;
    }

    // ------------------------------------------------------------------ errors

    /// @notice `account` is already in the directory.
    error ParticipantAlreadyRegistered(address account);
    /// @notice `account` is not in the directory.
    error ParticipantNotRegistered(address account);
    /// @notice `account` is suspended and may not act.
    error ParticipantIsSuspended(address account);
    /// @notice `account` is not suspended, so it cannot be reinstated.
    error ParticipantNotSuspended(address account);
    /// @notice `account` is active but holds none of the roles in `requiredRoles`.
    error ParticipantLacksRole(address account, uint8 requiredRoles);
    /// @notice `roles` is zero or has bits outside {Roles.ALL}.
    error InvalidRoles(uint8 roles);
    /// @notice The zero address cannot be a participant.
    error ZeroAddressParticipant();
    /// @notice A credential commitment must not be zero.
    error EmptyCredentialCommitment();
    /// @notice A registrar cannot register its own address (it would vet itself).
    error RegistrarCannotRegisterItself(address account);

    // ------------------------------------------------------------------ events

    /// @notice `account` joined the directory with `roles` and a credential commitment.
    event ParticipantRegistered(address indexed account, uint8 roles, bytes32 credentialCommitment);
    /// @notice The roles of `account` changed to `roles`.
    event ParticipantRolesChanged(address indexed account, uint8 roles);
    /// @notice The credential commitment of `account` was replaced (licence renewed, say).
    event CredentialUpdated(address indexed account, bytes32 credentialCommitment);
    /// @notice `account` was suspended for `reasonCode` (a short code, never free text).
    event ParticipantSuspended(address indexed account, bytes32 reasonCode);
    /// @notice `account` was reinstated after a suspension.
    event ParticipantReinstated(address indexed account);

    // ------------------------------------------------------------------ admin

    /// @notice Registers `account` with `roles` and a commitment to its credential.
    /// @dev    Registrar only. Reverts {ParticipantAlreadyRegistered}, {InvalidRoles},
    ///         {ZeroAddressParticipant}, {EmptyCredentialCommitment}, {RegistrarCannotRegisterItself}.
    function register(address account, uint8 roles, bytes32 credentialCommitment) external;

    /// @notice Replaces the roles of a registered `account`.
    function setRoles(address account, uint8 roles) external;

    /// @notice Replaces the credential commitment of a registered `account`.
    function updateCredential(address account, bytes32 credentialCommitment) external;

    /// @notice Suspends `account`: from now on {isActive} is false for it in every role.
    /// @dev    Emergency role only (the emergency council: a smaller quorum, no delay).
    function suspend(address account, bytes32 reasonCode) external;

    /// @notice Lifts the suspension of `account`.
    function reinstate(address account) external;

    // ------------------------------------------------------------------ reads

    /// @notice The entry of `account` (all zero when not registered).
    function participant(address account) external view returns (Participant memory);

    /// @notice True when `account` is registered, not suspended and holds any role in `anyOfRoles`.
    function isActive(address account, uint8 anyOfRoles) external view returns (bool);

    /// @notice Reverts with the precise reason unless {isActive}(account, anyOfRoles).
    /// @dev    Domain contracts call this so a refusal names the account and what it lacked.
    function requireActive(address account, uint8 anyOfRoles) external view;
}
