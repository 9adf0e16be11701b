// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {GS1} from "./GS1.sol";
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

    /// @dev One GS1 company prefix: its owner, and how many longer attested prefixes lie inside it
    ///      (so a nesting prefix is refused and {gtinOwner} knows when to stop walking down).
    struct PrefixEntry {
        address owner;
        uint96 nested;
    }

    /// @dev Width of one per-length counter in a {_lengthsUnder} word.
    uint256 private constant _COUNTER_BITS = 32;

    mapping(address account => Participant) private _participants;
    mapping(uint8 length => mapping(uint256 prefix => PrefixEntry)) private _prefixes;
    /// @dev Per first 6 digits, how many attested prefixes of each length 6..12 start with them:
    ///      7 counters of 32 bits (length 6 in the lowest). One read tells {gtinOwner} which
    ///      lengths to look at, so a GTIN's owner costs 2 reads whatever its prefix length.
    mapping(uint256 head => uint256 counts) private _lengthsUnder;
    /// @dev Key rotation: every key an organisation took over by rotation -> its first key (the
    ///      organisation's name); the first key -> the key it acts with now (unset: never rotated).
    mapping(address key => address organisation) private _organisationOf;
    mapping(address organisation => address key) private _currentKeyOf;
    mapping(address oldKey => address newKey) private _pendingRotation;

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
        Participant storage existing = _participants[account];
        if (existing.roles != 0) revert ParticipantAlreadyRegistered(account);
        // A retired key keeps its registration time (same slot, so no extra read here) and stays
        // retired: registering it again would split an organisation in two.
        if (existing.registeredAt != 0) revert KeyRetired(account, currentKey(account));
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

    // ------------------------------------------------------------------ key rotation

    /// @inheritdoc IParticipantDirectory
    function proposeRotation(address oldKey, address newKey) external onlyRole(REGISTRAR_ROLE) {
        _registered(oldKey);
        if (newKey != address(0)) _checkNewKey(newKey);
        _pendingRotation[oldKey] = newKey;
        emit KeyRotationProposed(oldKey, newKey);
    }

    /// @inheritdoc IParticipantDirectory
    function acceptRotation(address oldKey) external {
        if (msg.sender == address(0) || _pendingRotation[oldKey] != msg.sender) {
            revert NoRotationPending(oldKey, msg.sender);
        }
        // Still free: nothing registered it (or proposed it elsewhere and completed) since.
        _checkNewKey(msg.sender);
        Participant memory entry = _registered(oldKey);
        address organisation = _organisation(oldKey);
        delete _pendingRotation[oldKey];
        // The old key's entry keeps only its registration time: the mark of a retired key.
        _participants[oldKey] = Participant({
            roles: 0,
            suspended: false,
            registeredAt: entry.registeredAt,
            credentialCommitment: bytes32(0)
        });
        _participants[msg.sender] = entry;
        _organisationOf[oldKey] = organisation;
        _organisationOf[msg.sender] = organisation;
        _currentKeyOf[organisation] = msg.sender;
        emit KeyRotated(organisation, oldKey, msg.sender);
    }

    /// @inheritdoc IParticipantDirectory
    function currentKey(address key) public view returns (address) {
        address current = _currentKeyOf[_organisation(key)];
        return current == address(0) ? key : current;
    }

    /// @inheritdoc IParticipantDirectory
    function organisationOf(address key) external view returns (address) {
        return _organisation(key);
    }

    /// @inheritdoc IParticipantDirectory
    function pendingRotation(address oldKey) external view returns (address) {
        return _pendingRotation[oldKey];
    }

    // ------------------------------------------------------------------ GS1 company prefixes

    /// @inheritdoc IParticipantDirectory
    function attestPrefix(
        address owner,
        uint256 prefix,
        uint8 length,
        bytes32 evidence
    ) external onlyRole(REGISTRAR_ROLE) {
        _checkPrefix(prefix, length);
        if (evidence == bytes32(0)) revert EmptyCredentialCommitment();
        Participant storage p = _registered(owner);
        if ((p.roles & Roles.MANUFACTURER) == 0) revert ParticipantLacksRole(owner, Roles.MANUFACTURER);
        PrefixEntry storage e = _prefixes[length][prefix];
        if (e.owner != address(0)) revert CompanyPrefixTaken(prefix, length, e.owner);
        if (e.nested != 0) revert CompanyPrefixContainsAttested(prefix, length, e.nested);
        // At most 6 shorter lengths: none of them may be attested; each counts one more inside it.
        for (uint8 len = GS1.MIN_PREFIX; len < length; ++len) {
            uint256 outer = prefix / 10 ** (length - len);
            PrefixEntry storage o = _prefixes[len][outer];
            if (o.owner != address(0)) revert CompanyPrefixOverlaps(prefix, length, outer, len);
            ++o.nested;
        }
        e.owner = owner;
        _lengthsUnder[GS1.head(prefix, length)] += 1 << (_COUNTER_BITS * (length - GS1.MIN_PREFIX));
        emit CompanyPrefixAttested(prefix, length, owner, evidence);
    }

    /// @inheritdoc IParticipantDirectory
    function revokePrefix(uint256 prefix, uint8 length, bytes32 reasonCode) external onlyRole(REGISTRAR_ROLE) {
        _checkPrefix(prefix, length);
        PrefixEntry storage e = _prefixes[length][prefix];
        address owner = e.owner;
        if (owner == address(0)) revert CompanyPrefixNotAttested(prefix, length);
        e.owner = address(0);
        _lengthsUnder[GS1.head(prefix, length)] -= 1 << (_COUNTER_BITS * (length - GS1.MIN_PREFIX));
        for (uint8 len = GS1.MIN_PREFIX; len < length; ++len) {
            --_prefixes[len][prefix / 10 ** (length - len)].nested;
        }
        emit CompanyPrefixRevoked(prefix, length, owner, reasonCode);
    }

    /// @inheritdoc IParticipantDirectory
    function prefixOwner(uint256 prefix, uint8 length) external view returns (address) {
        return _prefixes[length][prefix].owner;
    }

    /// @inheritdoc IParticipantDirectory
    function gtinOwner(uint256 gtin) external view returns (address owner, uint256 prefix, uint8 length) {
        (owner, prefix, length) = _gtinOwner(gtin);
        if (owner != address(0)) owner = currentKey(owner);
    }

    function _gtinOwner(uint256 gtin) private view returns (address owner, uint256 prefix, uint8 length) {
        uint256 body = GS1.body(gtin);
        uint256 counts = _lengthsUnder[GS1.bodyHead(body)];
        // Only the lengths with an attested prefix under these first 6 digits (prefixes never
        // nest, so at most one of them matches): at most 7, usually 1.
        for (uint8 len = GS1.MIN_PREFIX; counts != 0; ++len) {
            if (counts & type(uint32).max != 0) {
                uint256 candidate = GS1.prefixOf(body, len);
                address found = _prefixes[len][candidate].owner;
                if (found != address(0)) return (found, candidate, len);
            }
            counts >>= _COUNTER_BITS;
        }
    }

    /// @inheritdoc IParticipantDirectory
    function requireGtinOwner(address account, uint256 gtin) external view {
        _requireActive(account, Roles.MANUFACTURER);
        (address owner, , ) = _gtinOwner(gtin);
        // The prefix stays attested to the key it was attested to; a rotated owner acts with its
        // current key (looked up only then, so commissioning pays nothing for rotation).
        if (owner != account) {
            owner = owner == address(0) ? owner : currentKey(owner);
            if (owner != account) revert NotGtinOwner(account, gtin, owner);
        }
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
        _requireActive(account, anyOfRoles);
    }

    /// @inheritdoc IParticipantDirectory
    function requireActivePair(address first, address second, uint8 anyOfRoles) external view {
        _requireActive(first, anyOfRoles);
        _requireActive(second, anyOfRoles);
    }

    // ------------------------------------------------------------------ internal

    function _requireActive(address account, uint8 anyOfRoles) private view {
        Participant storage p = _participants[account];
        if (p.roles == 0) _revertUnregistered(account);
        if (p.suspended) revert ParticipantIsSuspended(account);
        if ((p.roles & anyOfRoles) == 0) revert ParticipantLacksRole(account, anyOfRoles);
    }

    function _registered(address account) private view returns (Participant storage p) {
        p = _participants[account];
        if (p.roles == 0) _revertUnregistered(account);
    }

    /// @dev A retired key is named as such, with the key its organisation uses now.
    function _revertUnregistered(address account) private view {
        address current = currentKey(account);
        if (current != account) revert KeyRetired(account, current);
        revert ParticipantNotRegistered(account);
    }

    /// @dev The organisation's first key (`key` itself unless `key` came by rotation or was retired).
    function _organisation(address key) private view returns (address) {
        address organisation = _organisationOf[key];
        return organisation == address(0) ? key : organisation;
    }

    /// @dev A new key must be fresh: never registered, never an organisation's key.
    function _checkNewKey(address newKey) private view {
        Participant storage p = _participants[newKey];
        if (
            newKey == address(0) ||
            p.roles != 0 ||
            p.registeredAt != 0 ||
            _organisationOf[newKey] != address(0) ||
            _currentKeyOf[newKey] != address(0)
        ) revert InvalidNewKey(newKey);
    }

    function _checkPrefix(uint256 prefix, uint8 length) private pure {
        if (!GS1.isValidPrefix(prefix, length)) {
            revert InvalidCompanyPrefix(prefix, length);
        }
    }

    function _checkRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
    }
}
