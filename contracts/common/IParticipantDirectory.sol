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
    /// @notice `prefix` is not a GS1 company prefix of `length` digits (length 6-12, prefix < 10^length).
    error InvalidCompanyPrefix(uint256 prefix, uint8 length);
    /// @notice The company prefix (`prefix`, `length`) is already attested to `owner`.
    error CompanyPrefixTaken(uint256 prefix, uint8 length, address owner);
    /// @notice The company prefix (`prefix`, `length`) would sit inside the attested prefix
    ///         (`other`, `otherLength`): GS1 company prefixes never nest.
    error CompanyPrefixOverlaps(uint256 prefix, uint8 length, uint256 other, uint8 otherLength);
    /// @notice The company prefix (`prefix`, `length`) would contain `attested` longer prefixes
    ///         already attested: GS1 company prefixes never nest.
    error CompanyPrefixContainsAttested(uint256 prefix, uint8 length, uint256 attested);
    /// @notice The company prefix (`prefix`, `length`) is not attested to anyone.
    error CompanyPrefixNotAttested(uint256 prefix, uint8 length);
    /// @notice `account` does not own `gtin`: its company prefix is attested to `owner` (zero: to nobody).
    error NotGtinOwner(address account, uint256 gtin, address owner);
    /// @notice `account` was an organisation's key; the organisation now acts as `current`.
    error KeyRetired(address account, address current);
    /// @notice `newKey` cannot become an organisation's key: it is zero, registered, retired or
    ///         already proposed for another organisation.
    error InvalidNewKey(address newKey);
    /// @notice No rotation of `oldKey` to the caller (`caller`) is waiting.
    error NoRotationPending(address oldKey, address caller);

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
    /// @notice The registrar proposed moving the organisation that acts as `oldKey` to `newKey`
    ///         (zero: a pending proposal withdrawn); `newKey` completes it with {acceptRotation}.
    event KeyRotationProposed(address indexed oldKey, address indexed newKey);
    /// @notice The organisation first registered as `organisation` moved from `oldKey` to
    ///         `newKey`: its entry (roles, suspension, credential) now sits under `newKey`, and
    ///         `oldKey` is refused everywhere ({KeyRetired}).
    event KeyRotated(address indexed organisation, address indexed oldKey, address indexed newKey);
    /// @notice The registrar attested that the GS1 company prefix (`prefix`, `length` digits) belongs
    ///         to the manufacturer `owner`; `evidence` commits to the GS1 licence record it checked.
    event CompanyPrefixAttested(uint256 indexed prefix, uint8 length, address indexed owner, bytes32 evidence);
    /// @notice The registrar withdrew the attestation of (`prefix`, `length`) from `owner`.
    event CompanyPrefixRevoked(uint256 indexed prefix, uint8 length, address indexed owner, bytes32 reasonCode);

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

    // ------------------------------------------------------------------ key rotation

    /// @notice Proposes moving the organisation that acts as `oldKey` to `newKey` (a lost or
    ///         leaked key, or routine rotation); `newKey` proves control by {acceptRotation}.
    ///         Proposing zero withdraws a pending proposal. Registrar only (an ordinary,
    ///         delayed consortium decision); the emergency council can suspend `oldKey` meanwhile.
    /// @dev    Reverts {ParticipantNotRegistered}, {KeyRetired} for `oldKey`, {InvalidNewKey}.
    function proposeRotation(address oldKey, address newKey) external;

    /// @notice Called by the proposed new key: the organisation's entry moves from `oldKey` to the
    ///         caller, and `oldKey` is retired. What the organisation holds in the domain
    ///         contracts (custody, GS1 prefixes, plans, consents given to it, study sponsorships,
    ///         payouts) follows through {currentKey} and {organisationOf}: docs/governance.md.
    /// @dev    Reverts {NoRotationPending}, {InvalidNewKey}.
    function acceptRotation(address oldKey) external;

    /// @notice The key `key`'s organisation acts with now: `key` itself unless it was retired.
    /// @dev    Two storage reads, no loop: every key maps to its organisation's first key, which
    ///         maps to the current one.
    function currentKey(address key) external view returns (address);

    /// @notice The organisation `key` belongs or belonged to, named by its first key (`key` itself
    ///         for an organisation that never rotated, and for any unknown address).
    function organisationOf(address key) external view returns (address);

    /// @notice The new key proposed for `oldKey` (zero: none).
    function pendingRotation(address oldKey) external view returns (address);

    // ------------------------------------------------------------------ GS1 company prefixes

    /// @notice Attests that the GS1 company prefix `prefix` of `length` digits (6-12; the digits
    ///         right after a GTIN-14's indicator digit) is licensed to the manufacturer `owner`.
    /// @dev    Registrar only; `owner` must be a registered MANUFACTURER. Prefixes never nest: one
    ///         that contains or extends an attested prefix is refused ({CompanyPrefixOverlaps}),
    ///         so every GTIN has at most one owner. Bounded: at most 6 ancestor entries are
    ///         checked and counted. Reverts {InvalidCompanyPrefix}, {CompanyPrefixTaken},
    ///         {CompanyPrefixOverlaps}, {CompanyPrefixContainsAttested},
    ///         {ParticipantNotRegistered}, {ParticipantLacksRole}.
    function attestPrefix(address owner, uint256 prefix, uint8 length, bytes32 evidence) external;

    /// @notice Withdraws the attestation of (`prefix`, `length`) (licence lapsed, or moved to
    ///         another company: revoke, then attest to the new owner). Registrar only.
    function revokePrefix(uint256 prefix, uint8 length, bytes32 reasonCode) external;

    /// @notice The manufacturer the company prefix (`prefix`, `length`) is attested to (zero: none).
    function prefixOwner(uint256 prefix, uint8 length) external view returns (address);

    /// @notice The owner of `gtin` (a GTIN-14 as a number): the current key of the manufacturer its
    ///         company prefix is attested to, with that prefix and its length; all zero when none is
    ///         attested.
    /// @dev    One storage read says which prefix lengths are attested under the GTIN's first 6
    ///         digits, then one read per such length (prefixes never nest, so usually one): 2
    ///         reads whatever the prefix's length, at most 8.
    function gtinOwner(uint256 gtin) external view returns (address owner, uint256 prefix, uint8 length);

    /// @notice Reverts unless `account` is an active MANUFACTURER and owns `gtin` ({NotGtinOwner}).
    function requireGtinOwner(address account, uint256 gtin) external view;

    // ------------------------------------------------------------------ reads

    /// @notice The entry of `account` (all zero when never registered; a retired key keeps only
    ///         its `registeredAt`).
    function participant(address account) external view returns (Participant memory);

    /// @notice True when `account` is registered, not suspended and holds any role in `anyOfRoles`.
    function isActive(address account, uint8 anyOfRoles) external view returns (bool);

    /// @notice Reverts with the precise reason unless {isActive}(account, anyOfRoles).
    /// @dev    Domain contracts call this so a refusal names the account and what it lacked.
    function requireActive(address account, uint8 anyOfRoles) external view;

    /// @notice {requireActive} for both ends of a transfer in one call: `first`, then `second`.
    /// @dev    One external call instead of two on the custody hot path (about 700 gas less).
    function requireActivePair(address first, address second, uint8 anyOfRoles) external view;
}
