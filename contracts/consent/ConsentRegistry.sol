// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {EmergencyPausable} from "../common/EmergencyPausable.sol";
import {IVersioned} from "../common/IMigratable.sol";

import {IConsentCheck} from "../common/IConsentCheck.sol";
import {BoundedSignature} from "../common/BoundedSignature.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {Category, Purpose} from "../common/CareTypes.sol";
import {IConsentRegistry} from "./IConsentRegistry.sol";
import {ConsentRecovery} from "./ConsentRecovery.sol";
import {PackedConsent, PackedConsentLib} from "./PackedConsent.sol";

/// @title ConsentRegistry
/// @notice See {IConsentRegistry}.
/// @dev    Storage is laid out for the gas budget (docs/consent.md): the current consent of a
///         (patient, grantee) pair is ONE packed slot holding a per-pair sequence number (the id
///         is derived from it, so there is no global counter) and the pair's action counter (the
///         nonce of its signed actions): a grant writes one slot, a revoke rewrites it, a check
///         reads it (plus the patient-wide deny and the directory). Nothing loops over a
///         user-growable list; lists (a patient's consents, accesses, break-glass uses) are
///         rebuilt from indexed events.
contract ConsentRegistry is IConsentRegistry, IVersioned, EIP712, Nonces, EmergencyPausable {
    // ================================================================== CONSTANTS

    /// @notice How long a break-glass window stays open.
    uint40 public constant BREAK_GLASS_WINDOW = 4 hours;
    /// @notice Break-glass windows one provider may open on one patient per UTC day without a
    ///         co-signature.
    uint8 public constant BREAK_GLASS_DAILY_CAP = 2;
    /// @notice Delegate kinds (FHIR Consent.provision.actor.role: guardian, proxy).
    uint8 public constant GUARDIAN = 1;
    uint8 public constant PROXY = 2;
    /// @notice Study statuses.
    uint8 public constant STUDY_ACTIVE = 1;
    uint8 public constant STUDY_CLOSED = 2;
    /// @notice The latest deadline a signature may carry, from now: a held-back signature dies soon.
    uint256 public constant MAX_SIGNATURE_LIFETIME = 1 days;
    /// @notice Gas given to an ERC-1271 wallet's `isValidSignature` (a contract signer cannot make
    ///         the relayer pay more than this for its check).
    uint256 public constant ERC1271_GAS_LIMIT = 50_000;

    uint32 private constant _ALL_CATEGORIES = uint32((1 << Category.COUNT) - 1);
    uint16 private constant _ALL_PURPOSES = uint16((1 << Purpose.COUNT) - 1);
    // Break-glass codes are not grantable: only {breakGlass} opens emergency access.
    uint16 private constant _GRANTABLE_PURPOSES = uint16((1 << Purpose.ETREAT) - 1);
    uint16 private constant _RESEARCH = uint16(1 << Purpose.HRESCH);
    /// @dev ParticipantDirectory.REGISTRAR_ROLE (the directory is an OZ AccessControl).
    bytes32 private constant _REGISTRAR_ROLE = keccak256("careledger.directory.REGISTRAR");

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
    bytes32 private constant _CANCEL_TYPEHASH =
        keccak256("Cancel(address patient,address grantee,uint256 nonce,uint256 deadline)");
    bytes32 private constant _DENY_TYPEHASH =
        keccak256("SetPatientDeny(address patient,uint32 categories,uint16 purposes,uint256 nonce,uint256 deadline)");
    bytes32 private constant _APPOINT_TYPEHASH =
        keccak256(
            "AppointDelegate(address patient,address delegate,uint8 kind,uint32 categories,uint16 purposes,"
            "uint256 nonce,uint256 deadline)"
        );
    bytes32 private constant _REMOVE_TYPEHASH =
        keccak256("RemoveDelegate(address patient,address delegate,uint256 nonce,uint256 deadline)");
    bytes32 private constant _REVIEW_TYPEHASH =
        keccak256("ReviewBreakGlass(address patient,address provider,uint64 seq,uint256 nonce,uint256 deadline)");
    bytes32 private constant _REGISTER_STUDY_TYPEHASH =
        keccak256("RegisterStudy(address study,address sponsor,bytes32 form,uint256 deadline)");

    // ================================================================== STORAGE

    IParticipantDirectory private immutable _directory;

    /// @dev Tags the break-glass id derivation so it never equals a consent id.
    bytes32 private constant _BREAK_GLASS_TAG = keccak256("careledger.consent.BREAK_GLASS");

    /// @dev One break-glass window and the day's count in one slot (the id is derived from `seq`).
    struct BreakGlassSlot {
        uint64 seq;
        uint40 until;
        uint8 reason;
        uint32 day;
        uint8 openedToday;
    }

    /// @dev No global id counter: a consent's id is keccak256(patient, grantee, seq) with `seq`
    ///      kept in the pair's own slot, so a grant writes exactly one slot (docs/consent.md).
    mapping(address patient => mapping(address grantee => PackedConsent)) private _consents;
    /// @dev Patient-wide deny: categories (low 32 bits) and purposes (bits 32..47); a retired
    ///      pseudonym also holds its successor in bits 48..207 (then the masks are all ones, and
    ///      {_setPatientDeny} refuses to change the word). {_evaluate} reads only the masks, so
    ///      retirement costs the access paths nothing.
    mapping(address patient => uint256 packedDeny) private _patientDeny;
    /// @dev kind (bits 0..7) | scope categories (8..39) | scope purposes (40..55); 0: none.
    mapping(address patient => mapping(address delegate => uint256 packedDelegate)) private _delegates;
    mapping(address patient => mapping(address provider => BreakGlassSlot)) private _breakGlass;
    /// @dev The encounter a co-signer allowed one over-cap opening for (consumed by it).
    mapping(address patient => mapping(address provider => bytes32 encounter)) private _coSigned;
    mapping(uint256 breakGlassId => bool) private _reviewed;
    mapping(address study => Study) private _studies;

    /// @inheritdoc IConsentRegistry
    address public immutable recovery;

    constructor(IParticipantDirectory directory_) EIP712("CareLedger Consent", "2") {
        if (address(directory_) == address(0)) revert ZeroAddress();
        _directory = directory_;
        // The registry deploys its recovery module itself: no admin can name or swap it.
        recovery = address(new ConsentRecovery(this, directory_));
    }

    // ================================================================== PATIENT ACTIONS

    /// @inheritdoc IConsentRegistry
    function grant(address patient, GrantTerms calldata terms) external whenNotPaused returns (uint256) {
        uint256 scope = _authorise(patient, msg.sender, true);
        if (scope != 0) _checkDelegate(patient, msg.sender, scope, terms.grantee, terms.categories, terms.purposes);
        return _grant(patient, terms, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function modify(
        address patient,
        address grantee,
        uint256 consentId,
        ModifyTerms calldata terms
    ) external whenNotPaused {
        uint256 scope = _authorise(patient, msg.sender, true);
        _modify(patient, grantee, consentId, terms, msg.sender, scope);
    }

    /// @inheritdoc IConsentRegistry
    function revoke(address patient, address grantee, uint256 consentId) external {
        uint256 scope = _authorise(patient, msg.sender, true);
        _revoke(patient, grantee, consentId, msg.sender, scope);
    }

    /// @inheritdoc IConsentRegistry
    function setPatientDeny(address patient, uint32 categories, uint16 purposes) external {
        uint256 scope = _authorise(patient, msg.sender, true);
        // A direct action consumes the actor's nonce: a patient-wide signature it held back dies.
        _useNonce(msg.sender);
        _setPatientDeny(patient, categories, purposes, msg.sender, scope);
    }

    /// @inheritdoc IConsentRegistry
    function appointDelegate(
        address patient,
        address delegate,
        uint8 kind,
        uint32 categories,
        uint16 purposes
    ) external whenNotPaused {
        // Only the patient chooses who may act for them (a delegate cannot appoint another).
        _authorise(patient, msg.sender, false);
        _useNonce(patient);
        _appoint(patient, delegate, kind, categories, purposes);
    }

    /// @inheritdoc IConsentRegistry
    function removeDelegate(address patient, address delegate) external {
        _authorise(patient, msg.sender, false);
        _useNonce(patient);
        _remove(patient, delegate);
    }

    /// @inheritdoc IConsentRegistry
    function cancel(address patient, address grantee) external {
        _authorise(patient, msg.sender, true);
        if (grantee == address(0)) {
            emit SignaturesCancelled(patient, address(0), _useNonce(msg.sender), msg.sender);
        } else {
            _cancelPair(patient, grantee, msg.sender);
        }
    }

    /// @inheritdoc IConsentRegistry
    function reviewBreakGlass(address patient, address provider, uint64 seq) external {
        _authorise(patient, msg.sender, true);
        _review(patient, provider, seq, msg.sender);
    }

    // ================================================================== SIGNED PATIENT ACTIONS

    /// @inheritdoc IConsentRegistry
    function grantBySig(
        address patient,
        GrantTerms calldata terms,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused returns (uint256) {
        _preSigned(deadline);
        // GrantTerms holds only static fields, so abi.encode(terms) is exactly its fields' words:
        // the EIP-712 encoding of the flat `Grant` type. The nonce is the pair's action counter,
        // which {_grant} advances.
        uint256 n = _consents[patient][terms.grantee].nonce();
        _verify(signer, keccak256(abi.encode(_GRANT_TYPEHASH, patient, terms, n, deadline)), signature);
        uint256 scope = _authorise(patient, signer, true);
        if (scope != 0) _checkDelegate(patient, signer, scope, terms.grantee, terms.categories, terms.purposes);
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
    ) external whenNotPaused {
        _preSigned(deadline);
        uint256 n = _consents[patient][grantee].nonce();
        bytes32 structHash = keccak256(abi.encode(_MODIFY_TYPEHASH, patient, grantee, consentId, terms, n, deadline));
        _verify(signer, structHash, signature);
        uint256 scope = _authorise(patient, signer, true);
        _modify(patient, grantee, consentId, terms, signer, scope);
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
        uint256 n = _consents[patient][grantee].nonce();
        bytes32 structHash = keccak256(abi.encode(_REVOKE_TYPEHASH, patient, grantee, consentId, n, deadline));
        _verify(signer, structHash, signature);
        uint256 scope = _authorise(patient, signer, true);
        _revoke(patient, grantee, consentId, signer, scope);
    }

    /// @inheritdoc IConsentRegistry
    function cancelBySig(
        address patient,
        address grantee,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        if (grantee == address(0)) {
            uint256 used = _useNonce(signer);
            _verify(signer, keccak256(abi.encode(_CANCEL_TYPEHASH, patient, grantee, used, deadline)), signature);
            _authorise(patient, signer, true);
            emit SignaturesCancelled(patient, address(0), used, signer);
        } else {
            uint256 n = _consents[patient][grantee].nonce();
            _verify(signer, keccak256(abi.encode(_CANCEL_TYPEHASH, patient, grantee, n, deadline)), signature);
            _authorise(patient, signer, true);
            _cancelPair(patient, grantee, signer);
        }
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
        uint256 scope = _authorise(patient, signer, true);
        _setPatientDeny(patient, categories, purposes, signer, scope);
    }

    /// @inheritdoc IConsentRegistry
    function appointDelegateBySig(
        address patient,
        address delegate,
        uint8 kind,
        uint32 categories,
        uint16 purposes,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_APPOINT_TYPEHASH, patient, delegate, kind, categories, purposes, _useNonce(patient), deadline)
        );
        _verify(patient, structHash, signature);
        _appoint(patient, delegate, kind, categories, purposes);
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

    /// @inheritdoc IConsentRegistry
    function reviewBreakGlassBySig(
        address patient,
        address provider,
        uint64 seq,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_REVIEW_TYPEHASH, patient, provider, seq, _useNonce(signer), deadline)
        );
        _verify(signer, structHash, signature);
        _authorise(patient, signer, true);
        _review(patient, provider, seq, signer);
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
    function breakGlass(
        address patient,
        uint8 reason,
        bytes32 justification,
        bytes32 encounter
    ) external returns (uint256 id) {
        if (reason != Purpose.ETREAT && reason != Purpose.BTG) revert InvalidBreakGlassReason(reason);
        if (patient == address(0)) revert ZeroAddress();
        if (justification == bytes32(0) || encounter == bytes32(0)) revert EmptyCommitment();
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        BreakGlassSlot memory bg = _breakGlass[patient][msg.sender];
        uint32 today = uint32(block.timestamp / 1 days);
        uint8 opened = bg.day == today ? bg.openedToday : 0;
        bool coSigned = opened >= BREAK_GLASS_DAILY_CAP;
        if (coSigned) {
            // Over the cap: a second provider or a regulator must have co-signed this encounter.
            if (_coSigned[patient][msg.sender] != encounter) {
                revert BreakGlassCapReached(patient, msg.sender, opened);
            }
            delete _coSigned[patient][msg.sender];
        }
        uint64 seq = bg.seq + 1;
        uint40 until = uint40(block.timestamp) + BREAK_GLASS_WINDOW;
        // checked: the 256th opening of one day (each co-signed) reverts rather than wraps.
        _breakGlass[patient][msg.sender] = BreakGlassSlot({
            seq: seq,
            until: until,
            reason: reason,
            day: today,
            openedToday: opened + 1
        });
        id = _breakGlassId(patient, msg.sender, seq);
        emit BreakGlassOpened(id, patient, msg.sender, reason, until, justification, encounter, coSigned);
    }

    /// @inheritdoc IConsentRegistry
    function coSignBreakGlass(address patient, address provider, bytes32 encounter) external {
        if (patient == address(0) || provider == address(0)) revert ZeroAddress();
        if (encounter == bytes32(0)) revert EmptyCommitment();
        if (msg.sender == provider) revert InvalidCoSigner(msg.sender);
        if (!_directory.isActive(msg.sender, Roles.PROVIDER | Roles.REGULATOR)) revert InvalidCoSigner(msg.sender);
        _coSigned[patient][provider] = encounter;
        emit BreakGlassCoSigned(patient, provider, msg.sender, encounter);
    }

    /// @inheritdoc IConsentRegistry
    function registerStudy(
        address study,
        bytes32 form,
        uint256 deadline,
        bytes calldata signature
    ) external whenNotPaused {
        if (study == address(0)) revert ZeroAddress();
        if (form == bytes32(0)) revert EmptyCommitment();
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        if (_studies[study].version != 0) revert StudyAlreadyRegistered(study);
        // A study is a grantee outside the directory: an address that is a participant stays one.
        if (_directory.participant(study).roles != 0) revert StudyAlreadyRegistered(study);
        // The study proves it controls its address, so no provider can squat a patient's address.
        // No nonce: registration happens once, and the message names the sponsor.
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        _verify(study, keccak256(abi.encode(_REGISTER_STUDY_TYPEHASH, study, msg.sender, form, deadline)), signature);
        _studies[study] = Study({sponsor: msg.sender, version: 1, status: STUDY_ACTIVE, form: form});
        emit StudyRegistered(study, msg.sender, 1, form);
    }

    /// @inheritdoc IConsentRegistry
    function amendStudy(address study, bytes32 form) external whenNotPaused returns (uint16 version) {
        if (form == bytes32(0)) revert EmptyCommitment();
        Study storage s = _studies[study];
        if (s.version == 0) revert StudyNotRegistered(study);
        if (!_isSponsor(s.sponsor)) revert NotStudySponsor(study, msg.sender);
        if (s.status != STUDY_ACTIVE) revert StudyClosed(study);
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        version = s.version + 1; // checked: reverts after 65,535 amendments
        s.version = version;
        s.form = form;
        emit StudyAmended(study, version, form);
    }

    /// @inheritdoc IConsentRegistry
    function setStudyStatus(address study, uint8 status) external {
        Study storage s = _studies[study];
        if (s.version == 0) revert StudyNotRegistered(study);
        if (status != STUDY_ACTIVE && status != STUDY_CLOSED) revert InvalidStudyStatus(status);
        // Closing a study narrows access, so it works while paused; reopening one does not.
        if (status == STUDY_ACTIVE) _requireNotPaused();
        bool authority = IAccessControl(address(_directory)).hasRole(_REGISTRAR_ROLE, msg.sender) ||
            _directory.isActive(msg.sender, Roles.REGULATOR);
        // The sponsor may stop its own study, never restart one a registrar or regulator closed.
        if (!authority && (!_isSponsor(s.sponsor) || status != STUDY_CLOSED)) {
            revert NotStudyAuthority(study, msg.sender);
        }
        s.status = status;
        emit StudyStatusSet(study, status, msg.sender);
    }

    // ================================================================== RECOVERY (module only)

    /// @inheritdoc IConsentRegistry
    function retirePatient(address lost, address successor) external {
        if (msg.sender != recovery) revert NotRecoveryModule(msg.sender);
        if (successor == address(0) || successor == lost || _patientDeny[successor] >> 48 != 0) {
            revert InvalidSuccessor(lost, successor);
        }
        uint256 old = _patientDeny[lost];
        if (old >> 48 != 0) revert PatientIsRetired(lost, address(uint160(old >> 48)));
        // Works while paused: it only takes access away.
        _patientDeny[lost] =
            uint256(_ALL_CATEGORIES) |
            (uint256(_ALL_PURPOSES) << 32) |
            (uint256(uint160(successor)) << 48);
        emit PatientRetired(lost, successor);
    }

    /// @inheritdoc IConsentRegistry
    function moveConsent(
        address lost,
        address grantee,
        uint256 expectedNonce
    ) external whenNotPaused returns (uint256 id) {
        // Raw bit operations, not the PackedConsentLib helpers or _consentId: a third caller of
        // those would stop the optimizer inlining them into grant, revoke and the access checks.
        if (msg.sender != recovery) revert NotRecoveryModule(msg.sender);
        address successor = address(uint160(_patientDeny[lost] >> 48));
        if (successor == address(0)) revert InvalidSuccessor(lost, successor);
        uint256 c = PackedConsent.unwrap(_consents[lost][grantee]);
        uint256 until = uint40(c >> 200);
        if (until == 0) revert NoActiveConsent(lost, grantee);
        uint256 oldId = uint256(keccak256(abi.encode(lost, grantee, uint32(c))));
        // What the successor reviewed is what moves: any later action of the old key on the
        // pair (a thief widening it) advanced the counter.
        uint256 counter = uint32(c >> 32);
        if (counter != expectedNonce) revert ConsentChanged(lost, grantee, expectedNonce, counter);
        if (until <= block.timestamp) revert ConsentExpired(oldId, uint40(until));
        uint256 old = PackedConsent.unwrap(_consents[successor][grantee]);
        uint256 seq = uint32(old) + 1;
        if (uint40(old >> 200) > block.timestamp && old >> 240 == c >> 240) {
            revert ConsentAlreadyActive(
                successor,
                grantee,
                uint256(keccak256(abi.encode(successor, grantee, seq - 1)))
            );
        }
        id = uint256(keccak256(abi.encode(successor, grantee, seq)));
        // Same terms, period and form version; the successor pair's own seq and counter (checked:
        // 2^32 consents of one pair cannot happen, and would revert rather than wrap).
        _consents[successor][grantee] = PackedConsent.wrap(
            (c & ~uint256(type(uint64).max)) | seq | (uint256(uint32(uint32(old >> 32) + 1)) << 32)
        );
        // The old pair keeps only its seq and counter, as after a revoke.
        _consents[lost][grantee] = PackedConsent.wrap(uint32(c) | ((counter + 1) << 32));
        _emitMoved(c, oldId, id, lost, successor, grantee);
    }

    /// @dev {ConsentRevoked} of the old consent (actor: the successor), then {ConsentGranted} of
    ///      the moved one (actor: `lost`; document: the moved consent's id). Encoded by hand: the
    ///      compiler's shared encoder for a second `emit ConsentGranted` would no longer be
    ///      inlined into {grant}, which would then pay about 70 gas more.
    function _emitMoved(
        uint256 c,
        uint256 oldId,
        uint256 id,
        address lost,
        address successor,
        address grantee
    ) private {
        bytes32 revoked = ConsentRevoked.selector;
        bytes32 granted = ConsentGranted.selector;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, successor)
            log4(p, 0x20, revoked, oldId, lost, grantee)
            mstore(p, and(shr(64, c), 0xffffffff))
            mstore(add(p, 0x20), and(shr(96, c), 0xffff))
            mstore(add(p, 0x40), and(shr(112, c), 0xffffffff))
            mstore(add(p, 0x60), and(shr(144, c), 0xffff))
            mstore(add(p, 0x80), and(shr(160, c), 0xffffffffff))
            mstore(add(p, 0xa0), and(shr(200, c), 0xffffffffff))
            mstore(add(p, 0xc0), shr(240, c))
            mstore(add(p, 0xe0), oldId)
            mstore(add(p, 0x100), lost)
            log4(p, 0x120, granted, id, successor, grantee)
        }
    }

    /// @inheritdoc IConsentRegistry
    function successorOf(address patient) external view returns (address) {
        return address(uint160(_patientDeny[patient] >> 48));
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
    function pairNonce(address patient, address grantee) external view returns (uint256) {
        return _consents[patient][grantee].nonce();
    }

    /// @inheritdoc IConsentRegistry
    function patientDenyOf(address patient) external view returns (uint32 categories, uint16 purposes) {
        uint256 packed = _patientDeny[patient];
        return (uint32(packed), uint16(packed >> 32));
    }

    /// @inheritdoc IConsentRegistry
    function delegateKind(address patient, address delegate) external view returns (uint8) {
        return uint8(_delegates[patient][delegate]);
    }

    /// @inheritdoc IConsentRegistry
    function delegateOf(
        address patient,
        address delegate
    ) external view returns (uint8 kind, uint32 categories, uint16 purposes) {
        uint256 d = _delegates[patient][delegate];
        return (uint8(d), uint32(d >> 8), uint16(d >> 40));
    }

    /// @inheritdoc IConsentRegistry
    function studyOf(address study) external view returns (Study memory) {
        return _studies[study];
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassOf(address patient, address provider) external view returns (BreakGlass memory) {
        BreakGlassSlot memory bg = _breakGlass[patient][provider];
        uint256 id = bg.seq == 0 ? 0 : _breakGlassId(patient, provider, bg.seq);
        return
            BreakGlass({
                id: id,
                seq: bg.seq,
                until: bg.until,
                reason: bg.reason,
                day: bg.day,
                openedToday: bg.openedToday
            });
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassReviewed(uint256 breakGlassId) external view returns (bool) {
        return _reviewed[breakGlassId];
    }

    /// @inheritdoc IConsentRegistry
    function consentIdOf(address patient, address grantee, uint64 seq) external pure returns (uint256) {
        return _consentId(patient, grantee, seq);
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassIdOf(address patient, address provider, uint64 seq) external pure returns (uint256) {
        return _breakGlassId(patient, provider, seq);
    }

    /// @inheritdoc IConsentRegistry
    function directory() external view returns (IParticipantDirectory) {
        return _directory;
    }

    /// @inheritdoc IConsentRegistry
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ================================================================== INTERNAL: EFFECTS

    /// @dev A delegate's scope is checked by the caller ({_checkDelegate}) before this.
    /// @dev The caller is `sponsor`, or the key it rotated to.
    function _isSponsor(address sponsor) private view returns (bool) {
        return sponsor == msg.sender || _directory.currentKey(sponsor) == msg.sender;
    }

    /// @inheritdoc IVersioned
    function version() public pure virtual returns (uint16) {
        return 1;
    }

    function _pauseAuthority() internal view override returns (IAccessControl) {
        return IAccessControl(address(_directory));
    }

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
            if (study.status != STUDY_ACTIVE) revert StudyClosed(grantee);
            if (t.purposes != _RESEARCH) revert InvalidPurposes(t.purposes);
            if (t.document != study.form) revert ConsentFormMismatch(grantee, study.form, t.document);
        }

        PackedConsent old = _consents[patient][grantee];
        // A current (or pending) consent must be modified or revoked, not silently replaced; a
        // research consent to an amended form no longer counts (the participant re-consents).
        if (old.validUntil() > block.timestamp && old.formVersion() == formVersion) {
            revert ConsentAlreadyActive(patient, grantee, _consentId(patient, grantee, old.seq()));
        }
        // checked: 2^32 consents (or actions) of one pair cannot happen, and would revert rather
        // than wrap.
        uint32 seq = old.seq() + 1;
        id = _consentId(patient, grantee, seq);
        _consents[patient][grantee] = PackedConsentLib.pack(
            PackedConsentLib.counters(seq, old.nonce() + 1),
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
        address actor,
        uint256 scope
    ) private {
        PackedConsent c = _consents[patient][grantee];
        uint256 current = _currentId(patient, grantee, c);
        if (current == 0 || current != consentId) revert ConsentNotCurrent(patient, grantee, consentId, current);
        if (c.validUntil() <= block.timestamp) revert ConsentExpired(consentId, c.validUntil());
        _checkPermit(t.categories, t.purposes);
        if (c.formVersion() != 0 && t.purposes != _RESEARCH) revert InvalidPurposes(t.purposes);
        _checkDeny(t.denyCategories, t.denyPurposes);
        if (scope != 0) {
            _checkDelegate(patient, actor, scope, grantee, t.categories, t.purposes);
            _checkWidens(patient, actor, c.denyCategories(), c.denyPurposes(), t.denyCategories, t.denyPurposes);
        }
        if (t.validUntil <= c.validFrom() || t.validUntil <= block.timestamp) {
            revert InvalidPeriod(c.validFrom(), t.validUntil);
        }
        _consents[patient][grantee] = PackedConsentLib.pack(
            PackedConsentLib.counters(c.seq(), c.nonce() + 1),
            t.categories,
            t.purposes,
            t.denyCategories,
            t.denyPurposes,
            c.validFrom(),
            t.validUntil,
            c.formVersion()
        );
        _emitModified(consentId, patient, grantee, t, actor);
    }

    function _emitModified(
        uint256 consentId,
        address patient,
        address grantee,
        ModifyTerms calldata t,
        address actor
    ) private {
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

    function _revoke(address patient, address grantee, uint256 consentId, address actor, uint256 scope) private {
        PackedConsent c = _consents[patient][grantee];
        uint256 current = _currentId(patient, grantee, c);
        if (current == 0 || current != consentId) revert ConsentNotCurrent(patient, grantee, consentId, current);
        // A proxy revokes only what it could have granted; a guardian may revoke any consent.
        if (uint8(scope) == PROXY) _checkScope(patient, actor, scope, c.categories(), c.purposes());
        // Keep only the sequence number and the action counter: the consent ends now, and the
        // next grant to the pair gets the next (different) id. Accesses already recorded stay
        // in the log: revocation is not retroactive.
        _consents[patient][grantee] = PackedConsentLib.pack(
            PackedConsentLib.counters(c.seq(), c.nonce() + 1),
            0,
            0,
            0,
            0,
            0,
            0,
            0
        );
        emit ConsentRevoked(consentId, patient, grantee, actor);
    }

    function _cancelPair(address patient, address grantee, address actor) private {
        PackedConsent c = _consents[patient][grantee];
        uint32 used = c.nonce();
        // Only the counter moves; the terms stay as they are.
        _consents[patient][grantee] = PackedConsent.wrap(
            (PackedConsent.unwrap(c) & ~(uint256(type(uint32).max) << 32)) | (uint256(used + 1) << 32)
        );
        emit SignaturesCancelled(patient, grantee, used, actor);
    }

    function _setPatientDeny(
        address patient,
        uint32 categories,
        uint16 purposes,
        address actor,
        uint256 scope
    ) private {
        _checkDeny(categories, purposes);
        uint256 old = _patientDeny[patient];
        // A retired pseudonym's deny is final: no key, the lost one included, reopens it.
        if (old >> 48 != 0) revert PatientIsRetired(patient, address(uint160(old >> 48)));
        // Adding to the deny works while paused (a patient can always say no); clearing any of it
        // widens access, which a pause stops.
        if ((uint32(old) & ~categories) != 0 || (uint16(old >> 32) & ~purposes) != 0) _requireNotPaused();
        if (scope != 0) {
            // The patient-wide deny is the patient's own standing "no": a guardian may widen it,
            // a proxy may not touch it, and no delegate may narrow or clear it.
            if (uint8(scope) != GUARDIAN) revert GuardianOnly(patient, actor);
            _checkWidens(patient, actor, uint32(old), uint16(old >> 32), categories, purposes);
        }
        _patientDeny[patient] = uint256(categories) | (uint256(purposes) << 32);
        emit PatientDenySet(patient, categories, purposes, actor);
    }

    function _appoint(address patient, address delegate, uint8 kind, uint32 categories, uint16 purposes) private {
        if (delegate == address(0)) revert ZeroAddress();
        if (delegate == patient) revert NotPatientOrDelegate(patient, delegate);
        if (kind != GUARDIAN && kind != PROXY) revert InvalidDelegateKind(kind);
        _checkPermit(categories, purposes);
        _delegates[patient][delegate] = uint256(kind) | (uint256(categories) << 8) | (uint256(purposes) << 40);
        emit DelegateAppointed(patient, delegate, kind, categories, purposes);
    }

    function _remove(address patient, address delegate) private {
        if (_delegates[patient][delegate] == 0) revert NotADelegate(patient, delegate);
        delete _delegates[patient][delegate];
        emit DelegateRemoved(patient, delegate);
    }

    function _review(address patient, address provider, uint64 seq, address actor) private {
        if (seq == 0 || seq > _breakGlass[patient][provider].seq) revert BreakGlassUnknown(patient, provider, seq);
        uint256 id = _breakGlassId(patient, provider, seq);
        if (_reviewed[id]) revert BreakGlassAlreadyReviewed(id);
        _reviewed[id] = true;
        emit BreakGlassReviewed(id, patient, provider, actor);
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
        address holder = grantee;
        if (packed.seq() == 0) {
            // Never a consent to this key: an organisation that rotated its key keeps the consents
            // given to it under its first key (the organisation's name in the directory). Asked
            // only here, so a consent given to the key itself costs nothing more.
            holder = _directory.organisationOf(grantee);
            if (holder != grantee) packed = _consents[patient][holder];
        }
        if (!packed.live()) {
            if (strict) revert NoActiveConsent(patient, grantee);
            return 0;
        }
        Consent memory c = packed.unpack(_consentId(patient, holder, packed.seq()));
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
            return _evaluateStudy(grantee, c.id, c.formVersion, strict);
        } else if (strict) {
            _directory.requireActive(grantee, Roles.ALL); // reverts naming the suspension
        } else if (!_directory.isActive(grantee, Roles.ALL)) {
            return 0;
        }
        return c.id;
    }

    /// @dev Research: the study must be active, its sponsor an active provider, and the study
    ///      still at the form version the participant consented to.
    function _evaluateStudy(
        address study,
        uint256 consentId,
        uint16 formVersion,
        bool strict
    ) private view returns (uint256) {
        Study storage s = _studies[study];
        if (s.status != STUDY_ACTIVE) {
            if (strict) revert StudyClosed(study);
            return 0;
        }
        uint16 current = s.version;
        if (current != formVersion) {
            if (strict) revert ConsentFormOutdated(consentId, formVersion, current);
            return 0;
        }
        address sponsor = s.sponsor;
        if (!_directory.isActive(sponsor, Roles.PROVIDER)) {
            // A sponsor that rotated its key sponsors on under its current key.
            address current = _directory.currentKey(sponsor);
            if (current == sponsor || !_directory.isActive(current, Roles.PROVIDER)) {
                if (strict) revert StudySponsorInactive(study, sponsor);
                return 0;
            }
        }
        return consentId;
    }

    /// @dev 0 for the patient; the delegate's packed word (kind, scope) for a delegate.
    function _authorise(address patient, address actor, bool delegateAllowed) private view returns (uint256 scope) {
        if (patient == address(0)) revert ZeroAddress();
        if (actor != patient) {
            // Why: a removed delegate has word 0 here, so it is refused from the next block on.
            scope = delegateAllowed ? _delegates[patient][actor] : 0;
            if (scope == 0) revert NotPatientOrDelegate(patient, actor);
        }
    }

    /// @dev A delegate grants or modifies only within its scope, and never for itself.
    function _checkDelegate(
        address patient,
        address delegate,
        uint256 scope,
        address grantee,
        uint32 categories,
        uint16 purposes
    ) private pure {
        if (grantee == delegate) revert DelegateSelfGrant(patient, delegate);
        _checkScope(patient, delegate, scope, categories, purposes);
    }

    function _checkScope(
        address patient,
        address delegate,
        uint256 scope,
        uint32 categories,
        uint16 purposes
    ) private pure {
        if (categories & ~uint32(scope >> 8) != 0 || purposes & ~uint16(scope >> 40) != 0) {
            revert DelegateOutOfScope(patient, delegate, categories, purposes);
        }
    }

    /// @dev A delegate's new deny rectangle must contain the old one (it may only add to it).
    function _checkWidens(
        address patient,
        address delegate,
        uint32 oldCategories,
        uint16 oldPurposes,
        uint32 newCategories,
        uint16 newPurposes
    ) private pure {
        if (oldCategories & ~newCategories != 0 || oldPurposes & ~newPurposes != 0) {
            revert DelegateCannotRelaxDeny(patient, delegate);
        }
    }

    function _preSigned(uint256 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 latest = block.timestamp + MAX_SIGNATURE_LIFETIME;
        if (deadline > latest) revert SignatureDeadlineTooFar(deadline, latest);
        // Only a vetted relayer forwards signatures (rate limits and abuse handling live there).
        _directory.requireActive(msg.sender, Roles.RELAYER);
    }

    /// @dev {BoundedSignature}: OpenZeppelin ECDSA for an EOA, a gas-limited ERC-1271 call for a
    ///      contract signer ({ERC1271_GAS_LIMIT}).
    function _verify(address signer, bytes32 structHash, bytes calldata signature) private view {
        if (!BoundedSignature.isValid(signer, _hashTypedDataV4(structHash), signature, ERC1271_GAS_LIMIT)) {
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
