// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {IConsentCheck} from "../common/IConsentCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {Category, Purpose} from "../common/CareTypes.sol";
import {IConsentRegistry} from "./IConsentRegistry.sol";
import {PackedConsent, PackedConsentLib} from "./PackedConsent.sol";

/// @title ConsentRegistry
/// @notice See {IConsentRegistry}.
/// @dev    Storage is laid out for the gas budget (docs/consent.md): the current consent of a
///         (patient, grantee) pair is ONE packed slot holding a per-pair sequence number (the id
///         is derived from it, so there is no global counter): a grant writes one slot, a revoke
///         rewrites it, a check reads it (plus the patient-wide deny and the directory). Nothing
///         loops over a user-growable list; lists (a patient's consents, accesses, break-glass
///         uses) are rebuilt from indexed events.
contract ConsentRegistry is IConsentRegistry, EIP712, Nonces {
    // ================================================================== CONSTANTS

    /// @notice How long a break-glass window stays open.
    uint40 public constant BREAK_GLASS_WINDOW = 4 hours;
    /// @notice Delegate kinds (FHIR Consent.provision.actor.role: guardian, proxy).
    uint8 public constant GUARDIAN = 1;
    uint8 public constant PROXY = 2;

    uint32 private constant _ALL_CATEGORIES = uint32((1 << Category.COUNT) - 1);
    uint16 private constant _ALL_PURPOSES = uint16((1 << Purpose.COUNT) - 1);
    // Break-glass codes are not grantable: only {breakGlass} opens emergency access.
    uint16 private constant _GRANTABLE_PURPOSES = uint16((1 << Purpose.ETREAT) - 1);
    uint16 private constant _RESEARCH = uint16(1 << Purpose.HRESCH);

    bytes32 private constant _GRANT_TYPEHASH =
        keccak256(
            "Grant(address patient,address grantee,uint32 categories,uint16 purposes,uint32 denyCategories,"
            "uint16 denyPurposes,uint40 validFrom,uint40 validUntil,bytes32 document,uint256 nonce,uint256 deadline)"
        );
    bytes32 private constant _MODIFY_TYPEHASH =
        keccak256(
            "Modify(address patient,address grantee,uint256 consentId,uint32 categories,uint16 purposes,"
            "uint32 denyCategories,uint16 denyPurposes,uint40 validUntil,uint256 nonce,uint256 deadline)"
        );
    bytes32 private constant _REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,uint256 consentId,uint256 nonce,uint256 deadline)");
    bytes32 private constant _DENY_TYPEHASH =
        keccak256("SetPatientDeny(address patient,uint32 categories,uint16 purposes,uint256 nonce,uint256 deadline)");
    bytes32 private constant _APPOINT_TYPEHASH =
        keccak256("AppointDelegate(address patient,address delegate,uint8 kind,uint256 nonce,uint256 deadline)");
    bytes32 private constant _REMOVE_TYPEHASH =
        keccak256("RemoveDelegate(address patient,address delegate,uint256 nonce,uint256 deadline)");

    // ================================================================== STORAGE

    IParticipantDirectory private immutable _directory;

    /// @dev Tags the break-glass id derivation so it never equals a consent id.
    bytes32 private constant _BREAK_GLASS_TAG = keccak256("careledger.consent.BREAK_GLASS");

    /// @dev One break-glass window in one slot (the id is derived from `seq`).
    struct BreakGlassSlot {
        uint64 seq;
        uint40 until;
        uint8 reason;
    }

    /// @dev No global id counter: a consent's id is keccak256(patient, grantee, seq) with `seq`
    ///      kept in the pair's own slot, so a grant writes exactly one slot (docs/consent.md).
    mapping(address patient => mapping(address grantee => PackedConsent)) private _consents;
    /// @dev Patient-wide deny: categories (low 32 bits) and purposes (bits 32..47).
    mapping(address patient => uint256 packedDeny) private _patientDeny;
    mapping(address patient => mapping(address delegate => uint8 kind)) private _delegates;
    mapping(address patient => mapping(address provider => BreakGlassSlot)) private _breakGlass;
    mapping(address study => Study) private _studies;

    constructor(IParticipantDirectory directory_) EIP712("CareLedger Consent", "1") {
        if (address(directory_) == address(0)) revert ZeroAddress();
        _directory = directory_;
    }

    // ================================================================== PATIENT ACTIONS

    /// @inheritdoc IConsentRegistry
    function grant(address patient, GrantTerms calldata terms) external returns (uint256) {
        _authorise(patient, msg.sender, true);
        return _grant(patient, terms, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function modify(address patient, address grantee, uint256 consentId, ModifyTerms calldata terms) external {
        _authorise(patient, msg.sender, true);
        _modify(patient, grantee, consentId, terms, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function revoke(address patient, address grantee, uint256 consentId) external {
        _authorise(patient, msg.sender, true);
        _revoke(patient, grantee, consentId, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function setPatientDeny(address patient, uint32 categories, uint16 purposes) external {
        _authorise(patient, msg.sender, true);
        _setPatientDeny(patient, categories, purposes, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function appointDelegate(address patient, address delegate, uint8 kind) external {
        // Only the patient chooses who may act for them (a delegate cannot appoint another).
        _authorise(patient, msg.sender, false);
        _appoint(patient, delegate, kind);
    }

    /// @inheritdoc IConsentRegistry
    function removeDelegate(address patient, address delegate) external {
        _authorise(patient, msg.sender, false);
        _remove(patient, delegate);
    }

    // ================================================================== SIGNED PATIENT ACTIONS

    /// @inheritdoc IConsentRegistry
    function grantBySig(
        address patient,
        GrantTerms calldata terms,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256) {
        _preSigned(deadline);
        // GrantTerms holds only static fields, so abi.encode(terms) is exactly its fields' words:
        // the EIP-712 encoding of the flat `Grant` type.
        bytes32 structHash = keccak256(abi.encode(_GRANT_TYPEHASH, patient, terms, _useNonce(signer), deadline));
        _verify(signer, structHash, signature);
        _authorise(patient, signer, true);
        return _grant(patient, terms, signer);
    }

    /// @inheritdoc IConsentRegistry
    function modifyBySig(
        address patient,
        address grantee,
        uint256 consentId,
        ModifyTerms calldata terms,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_MODIFY_TYPEHASH, patient, grantee, consentId, terms, _useNonce(signer), deadline)
        );
        _verify(signer, structHash, signature);
        _authorise(patient, signer, true);
        _modify(patient, grantee, consentId, terms, signer);
    }

    /// @inheritdoc IConsentRegistry
    function revokeBySig(
        address patient,
        address grantee,
        uint256 consentId,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_REVOKE_TYPEHASH, patient, grantee, consentId, _useNonce(signer), deadline)
        );
        _verify(signer, structHash, signature);
        _authorise(patient, signer, true);
        _revoke(patient, grantee, consentId, signer);
    }

    /// @inheritdoc IConsentRegistry
    function setPatientDenyBySig(
        address patient,
        uint32 categories,
        uint16 purposes,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_DENY_TYPEHASH, patient, categories, purposes, _useNonce(signer), deadline)
        );
        _verify(signer, structHash, signature);
        _authorise(patient, signer, true);
        _setPatientDeny(patient, categories, purposes, signer);
    }

    /// @inheritdoc IConsentRegistry
    function appointDelegateBySig(
        address patient,
        address delegate,
        uint8 kind,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_APPOINT_TYPEHASH, patient, delegate, kind, _useNonce(patient), deadline)
        );
        _verify(patient, structHash, signature);
        _appoint(patient, delegate, kind);
    }

    /// @inheritdoc IConsentRegistry
    function removeDelegateBySig(
        address patient,
        address delegate,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(abi.encode(_REMOVE_TYPEHASH, patient, delegate, _useNonce(patient), deadline));
        _verify(patient, structHash, signature);
        _remove(patient, delegate);
    }

    // ================================================================== PROVIDERS, STUDIES

    /// @inheritdoc IConsentRegistry
    function recordAccess(address patient, uint256 consentId, uint8 category, uint8 purpose, bytes32 record) external {
        if (record == bytes32(0)) revert EmptyCommitment();
        if (purpose == Purpose.ETREAT || purpose == Purpose.BTG) {
            if (category >= Category.COUNT) revert InvalidCode(category, purpose);
            // Break-glass: the provider must still be active, and the window open.
            _directory.requireActive(msg.sender, Roles.PROVIDER);
            BreakGlassSlot memory bg = _breakGlass[patient][msg.sender];
            if (bg.seq == 0 || block.timestamp >= bg.until || _breakGlassId(patient, msg.sender, bg.seq) != consentId) {
                revert BreakGlassNotActive(patient, msg.sender, consentId);
            }
        } else {
            uint256 current = _evaluate(patient, msg.sender, category, purpose, true);
            if (current != consentId) revert ConsentMismatch(consentId, current);
        }
        emit AccessRecorded(consentId, patient, msg.sender, category, purpose, record);
    }

    /// @inheritdoc IConsentRegistry
    function breakGlass(address patient, uint8 reason, bytes32 justification) external returns (uint256 id) {
        if (reason != Purpose.ETREAT && reason != Purpose.BTG) revert InvalidBreakGlassReason(reason);
        if (patient == address(0)) revert ZeroAddress();
        if (justification == bytes32(0)) revert EmptyCommitment();
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        BreakGlassSlot storage slot = _breakGlass[patient][msg.sender];
        uint64 seq = slot.seq + 1;
        uint40 until = uint40(block.timestamp) + BREAK_GLASS_WINDOW;
        _breakGlass[patient][msg.sender] = BreakGlassSlot({seq: seq, until: until, reason: reason});
        id = _breakGlassId(patient, msg.sender, seq);
        emit BreakGlassOpened(id, patient, msg.sender, reason, until, justification);
    }

    /// @inheritdoc IConsentRegistry
    function registerStudy(address study, bytes32 form) external {
        if (study == address(0)) revert ZeroAddress();
        if (form == bytes32(0)) revert EmptyCommitment();
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        if (_studies[study].version != 0) revert StudyAlreadyRegistered(study);
        // A study is a grantee outside the directory: an address that is a participant stays one.
        if (_directory.participant(study).roles != 0) revert StudyAlreadyRegistered(study);
        _studies[study] = Study({sponsor: msg.sender, version: 1, form: form});
        emit StudyRegistered(study, msg.sender, 1, form);
    }

    /// @inheritdoc IConsentRegistry
    function amendStudy(address study, bytes32 form) external returns (uint16 version) {
        if (form == bytes32(0)) revert EmptyCommitment();
        Study storage s = _studies[study];
        if (s.version == 0) revert StudyNotRegistered(study);
        if (s.sponsor != msg.sender) revert NotStudySponsor(study, msg.sender);
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        version = s.version + 1; // checked: reverts after 65,535 amendments
        s.version = version;
        s.form = form;
        emit StudyAmended(study, version, form);
    }

    // ================================================================== READS

    /// @inheritdoc IConsentCheck
    function canAccess(
        address patient,
        address grantee,
        uint8 category,
        uint8 purpose
    ) external view returns (bool allowed, uint256 consentId) {
        if (purpose == Purpose.ETREAT || purpose == Purpose.BTG) {
            BreakGlassSlot memory bg = _breakGlass[patient][grantee];
            if (
                category < Category.COUNT &&
                bg.seq != 0 &&
                block.timestamp < bg.until &&
                _directory.isActive(grantee, Roles.PROVIDER)
            ) return (true, _breakGlassId(patient, grantee, bg.seq));
            return (false, 0);
        }
        consentId = _evaluate(patient, grantee, category, purpose, false);
        allowed = consentId != 0;
    }

    /// @inheritdoc IConsentRegistry
    function consentOf(address patient, address grantee) external view returns (Consent memory) {
        PackedConsent c = _consents[patient][grantee];
        return c.unpack(c.seq() == 0 ? 0 : _consentId(patient, grantee, c.seq()));
    }

    /// @inheritdoc IConsentRegistry
    function patientDenyOf(address patient) external view returns (uint32 categories, uint16 purposes) {
        uint256 packed = _patientDeny[patient];
        return (uint32(packed), uint16(packed >> 32));
    }

    /// @inheritdoc IConsentRegistry
    function delegateKind(address patient, address delegate) external view returns (uint8) {
        return _delegates[patient][delegate];
    }

    /// @inheritdoc IConsentRegistry
    function studyOf(address study) external view returns (Study memory) {
        return _studies[study];
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassOf(address patient, address provider) external view returns (BreakGlass memory) {
        BreakGlassSlot memory bg = _breakGlass[patient][provider];
        uint256 id = bg.seq == 0 ? 0 : _breakGlassId(patient, provider, bg.seq);
        return BreakGlass({id: id, seq: bg.seq, until: bg.until, reason: bg.reason});
    }

    /// @inheritdoc IConsentRegistry
    function consentIdOf(address patient, address grantee, uint64 seq) external pure returns (uint256) {
        return _consentId(patient, grantee, seq);
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassIdOf(address patient, address provider, uint64 seq) external pure returns (uint256) {
        return _breakGlassId(patient, provider, seq);
    }

    /// @notice The directory this registry asks who may act.
    function directory() external view returns (IParticipantDirectory) {
        return _directory;
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address are in it).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ================================================================== INTERNAL: EFFECTS

    function _grant(address patient, GrantTerms calldata t, address actor) private returns (uint256 id) {
        address grantee = t.grantee;
        if (grantee == address(0)) revert ZeroAddress();
        _checkPermit(t.categories, t.purposes);
        _checkDeny(t.denyCategories, t.denyPurposes);
        uint40 from = t.validFrom == 0 ? uint40(block.timestamp) : t.validFrom;
        if (t.validUntil <= from || t.validUntil <= block.timestamp) revert InvalidPeriod(from, t.validUntil);

        // A registered study gets a research consent to its current form. Every other grantee is
        // vetted where it matters, at access ({_evaluate} asks the directory): checking here too
        // would cost an external call (about 5,500 gas) and break the grant budget.
        Study storage study = _studies[grantee];
        uint16 formVersion = study.version;
        if (formVersion != 0) {
            if (t.purposes != _RESEARCH) revert InvalidPurposes(t.purposes);
            if (t.document != study.form) revert ConsentFormMismatch(grantee, study.form, t.document);
        }

        PackedConsent old = _consents[patient][grantee];
        // A current (or pending) consent must be modified or revoked, not silently replaced; a
        // research consent to an amended form no longer counts (the participant re-consents).
        if (old.validUntil() > block.timestamp && old.formVersion() == formVersion) {
            revert ConsentAlreadyActive(patient, grantee, _consentId(patient, grantee, old.seq()));
        }
        // checked: 2^64 consents of one pair cannot happen, and would revert rather than wrap.
        uint64 seq = old.seq() + 1;
        id = _consentId(patient, grantee, seq);
        _consents[patient][grantee] = PackedConsentLib.pack(
            seq,
            t.categories,
            t.purposes,
            t.denyCategories,
            t.denyPurposes,
            from,
            t.validUntil,
            formVersion
        );
        _emitGranted(id, patient, t, from, formVersion, actor);
    }

    function _emitGranted(
        uint256 id,
        address patient,
        GrantTerms calldata t,
        uint40 from,
        uint16 formVersion,
        address actor
    ) private {
        emit ConsentGranted(
            id,
            patient,
            t.grantee,
            t.categories,
            t.purposes,
            t.denyCategories,
            t.denyPurposes,
            from,
            t.validUntil,
            formVersion,
            t.document,
            actor
        );
    }

    function _modify(
        address patient,
        address grantee,
        uint256 consentId,
        ModifyTerms calldata t,
        address actor
    ) private {
        PackedConsent c = _consents[patient][grantee];
        uint256 current = _currentId(patient, grantee, c);
        if (current == 0 || current != consentId) revert ConsentNotCurrent(patient, grantee, consentId, current);
        if (c.validUntil() <= block.timestamp) revert ConsentExpired(consentId, c.validUntil());
        _checkPermit(t.categories, t.purposes);
        if (c.formVersion() != 0 && t.purposes != _RESEARCH) revert InvalidPurposes(t.purposes);
        _checkDeny(t.denyCategories, t.denyPurposes);
        if (t.validUntil <= c.validFrom() || t.validUntil <= block.timestamp) {
            revert InvalidPeriod(c.validFrom(), t.validUntil);
        }
        _consents[patient][grantee] = PackedConsentLib.pack(
            c.seq(),
            t.categories,
            t.purposes,
            t.denyCategories,
            t.denyPurposes,
            c.validFrom(),
            t.validUntil,
            c.formVersion()
        );
        emit ConsentModified(
            consentId,
            patient,
            grantee,
            t.categories,
            t.purposes,
            t.denyCategories,
            t.denyPurposes,
            t.validUntil,
            actor
        );
    }

    function _revoke(address patient, address grantee, uint256 consentId, address actor) private {
        PackedConsent c = _consents[patient][grantee];
        uint256 current = _currentId(patient, grantee, c);
        if (current == 0 || current != consentId) revert ConsentNotCurrent(patient, grantee, consentId, current);
        // Keep only the sequence number: the consent ends now, and the next grant to the pair
        // gets the next (different) id. Accesses already recorded stay in the log: revocation
        // is not retroactive.
        _consents[patient][grantee] = PackedConsentLib.pack(c.seq(), 0, 0, 0, 0, 0, 0, 0);
        emit ConsentRevoked(consentId, patient, grantee, actor);
    }

    function _setPatientDeny(address patient, uint32 categories, uint16 purposes, address actor) private {
        _checkDeny(categories, purposes);
        _patientDeny[patient] = uint256(categories) | (uint256(purposes) << 32);
        emit PatientDenySet(patient, categories, purposes, actor);
    }

    function _appoint(address patient, address delegate, uint8 kind) private {
        if (delegate == address(0)) revert ZeroAddress();
        if (delegate == patient) revert NotPatientOrDelegate(patient, delegate);
        if (kind != GUARDIAN && kind != PROXY) revert InvalidDelegateKind(kind);
        _delegates[patient][delegate] = kind;
        emit DelegateAppointed(patient, delegate, kind);
    }

    function _remove(address patient, address delegate) private {
        if (_delegates[patient][delegate] == 0) revert NotADelegate(patient, delegate);
        delete _delegates[patient][delegate];
        emit DelegateRemoved(patient, delegate);
    }

    /// @dev Current consent id of the pair, 0 when none is live (never granted or revoked).
    function _currentId(address patient, address grantee, PackedConsent c) private pure returns (uint256) {
        return c.live() ? _consentId(patient, grantee, c.seq()) : 0;
    }

    function _consentId(address patient, address grantee, uint64 seq) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(patient, grantee, seq)));
    }

    function _breakGlassId(address patient, address provider, uint64 seq) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(_BREAK_GLASS_TAG, patient, provider, seq)));
    }

    // ================================================================== INTERNAL: CHECKS

    /// @dev The one access rule. Returns the allowing consent id, or 0 (`strict == false`), or
    ///      reverts with the precise reason (`strict == true`, used by {recordAccess}).
    function _evaluate(
        address patient,
        address grantee,
        uint8 category,
        uint8 purpose,
        bool strict
    ) private view returns (uint256) {
        if (category >= Category.COUNT || purpose >= Purpose.COUNT) {
            if (strict) revert InvalidCode(category, purpose);
            return 0;
        }
        PackedConsent packed = _consents[patient][grantee];
        if (!packed.live()) {
            if (strict) revert NoActiveConsent(patient, grantee);
            return 0;
        }
        Consent memory c = packed.unpack(_consentId(patient, grantee, packed.seq()));
        uint256 cBit = 1 << category;
        uint256 pBit = 1 << purpose;
        if (block.timestamp < c.validFrom) {
            if (strict) revert ConsentNotYetValid(c.id, c.validFrom);
            return 0;
        }
        if (block.timestamp >= c.validUntil) {
            if (strict) revert ConsentExpired(c.id, c.validUntil);
            return 0;
        }
        if (c.categories & cBit == 0 || c.purposes & pBit == 0) {
            if (strict) revert AccessNotPermitted(c.id, category, purpose);
            return 0;
        }
        // Deny overrides permit: the consent's own deny provision, then the patient-wide one.
        uint256 pd = _patientDeny[patient];
        if (
            (c.denyCategories & cBit != 0 && c.denyPurposes & pBit != 0) ||
            (uint32(pd) & cBit != 0 && uint16(pd >> 32) & pBit != 0)
        ) {
            if (strict) revert AccessDenied(c.id, category, purpose);
            return 0;
        }
        if (c.formVersion != 0) {
            // Research: the study must still be at the form version the participant consented to.
            uint16 current = _studies[grantee].version;
            if (current != c.formVersion) {
                if (strict) revert ConsentFormOutdated(c.id, c.formVersion, current);
                return 0;
            }
        } else if (strict) {
            _directory.requireActive(grantee, Roles.ALL); // reverts naming the suspension
        } else if (!_directory.isActive(grantee, Roles.ALL)) {
            return 0;
        }
        return c.id;
    }

    function _authorise(address patient, address actor, bool delegateAllowed) private view {
        if (patient == address(0)) revert ZeroAddress();
        // Why: a removed delegate has kind 0 here, so it is refused from the next block on.
        if (actor != patient && (!delegateAllowed || _delegates[patient][actor] == 0)) {
            revert NotPatientOrDelegate(patient, actor);
        }
    }

    function _preSigned(uint256 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        // Only a vetted relayer forwards signatures (rate limits and abuse handling live there).
        _directory.requireActive(msg.sender, Roles.RELAYER);
    }

    function _verify(address signer, bytes32 structHash, bytes calldata signature) private view {
        // SignatureChecker: ECDSA for EOAs (OZ ECDSA rejects high-s and malformed signatures),
        // ERC-1271 `isValidSignature` for contract wallets.
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(signer);
        }
    }

    function _checkPermit(uint32 categories, uint16 purposes) private pure {
        if (categories == 0 || categories & ~_ALL_CATEGORIES != 0) revert InvalidCategories(categories);
        if (purposes == 0 || purposes & ~_GRANTABLE_PURPOSES != 0) revert InvalidPurposes(purposes);
    }

    function _checkDeny(uint32 categories, uint16 purposes) private pure {
        // Both masks or neither: a deny of "these categories" with no purposes would deny nothing.
        if (
            (categories == 0) != (purposes == 0) || categories & ~_ALL_CATEGORIES != 0 || purposes & ~_ALL_PURPOSES != 0
        ) revert InvalidDeny(categories, purposes);
    }
}
