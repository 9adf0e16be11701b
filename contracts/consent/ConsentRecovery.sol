// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {BoundedSignature} from "../common/BoundedSignature.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {IConsentRecovery} from "./IConsentRecovery.sol";
import {IConsentRegistry} from "./IConsentRegistry.sol";

/// @title ConsentRecovery
/// @notice See {IConsentRecovery}. Deployed by the ConsentRegistry's constructor, which accepts
///         {IConsentRegistry.retirePatient} and {IConsentRegistry.moveConsent} from it alone.
/// @dev    Bounded: at most {MAX_GUARDIANS} guardians are checked per recovery; everything else
///         touches one patient's slots.
contract ConsentRecovery is IConsentRecovery, EIP712, Nonces {
    /// @notice The most guardians one pseudonym may have (bounds {startRecovery}).
    uint256 public constant MAX_GUARDIANS = 8;
    /// @notice The fewest approvals a recovery needs: one guardian alone can never recover.
    uint8 public constant MIN_THRESHOLD = 2;
    /// @notice The shortest delay between a recovery's start and its execution (the real key's
    ///         window to cancel).
    uint32 public constant MIN_DELAY = 2 days;
    /// @notice The longest delay a patient may choose.
    uint32 public constant MAX_DELAY = 30 days;
    /// @notice Same as ConsentRegistry.MAX_SIGNATURE_LIFETIME.
    uint256 public constant MAX_SIGNATURE_LIFETIME = 1 days;
    /// @notice Same as ConsentRegistry.ERC1271_GAS_LIMIT.
    uint256 public constant ERC1271_GAS_LIMIT = 50_000;

    bytes32 private constant _SET_GUARDIANS_TYPEHASH =
        keccak256(
            "SetGuardians(address patient,bytes32 guardiansHash,uint8 threshold,uint32 delay,"
            "uint256 nonce,uint256 deadline)"
        );
    bytes32 private constant _RECOVER_TYPEHASH =
        keccak256("Recover(address patient,address successor,uint256 recoveryNonce,uint256 deadline)");
    bytes32 private constant _CANCEL_RECOVERY_TYPEHASH =
        keccak256("CancelRecovery(address patient,uint256 nonce,uint256 deadline)");
    bytes32 private constant _MOVE_TYPEHASH =
        keccak256("MoveConsent(address lost,address grantee,uint256 expectedNonce,uint256 nonce,uint256 deadline)");

    /// @notice The consent registry this module recovers pseudonyms of.
    IConsentRegistry public immutable registry;
    IParticipantDirectory private immutable _directory;

    mapping(address patient => GuardianConfig) private _guardians;
    mapping(address patient => PendingRecovery) private _pending;
    mapping(address patient => uint256) private _recoveryNonce;

    constructor(
        IConsentRegistry registry_,
        IParticipantDirectory directory_
    ) EIP712("CareLedger Consent Recovery", "1") {
        registry = registry_;
        _directory = directory_;
    }

    // ================================================================== GUARDIANS

    /// @inheritdoc IConsentRecovery
    function setGuardians(address patient, bytes32 guardiansHash, uint8 threshold, uint32 delay) external {
        if (msg.sender != patient) revert NotPatient(patient, msg.sender);
        // A direct action consumes the patient's nonce: a signed set-up it held back dies.
        _useNonce(patient);
        _setGuardians(patient, guardiansHash, threshold, delay);
    }

    /// @inheritdoc IConsentRecovery
    function setGuardiansBySig(
        address patient,
        bytes32 guardiansHash,
        uint8 threshold,
        uint32 delay,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_SET_GUARDIANS_TYPEHASH, patient, guardiansHash, threshold, delay, _useNonce(patient), deadline)
        );
        _verify(patient, structHash, signature);
        _setGuardians(patient, guardiansHash, threshold, delay);
    }

    // ================================================================== RECOVERY

    /// @inheritdoc IConsentRecovery
    function startRecovery(
        address patient,
        address successor,
        address[] calldata guardians,
        uint256 deadline,
        bytes[] calldata signatures
    ) external {
        _preSigned(deadline);
        uint256 approvals = _countApprovals(patient, guardians, _recoverHash(patient, successor, deadline), signatures);
        GuardianConfig storage config = _guardians[patient];
        if (approvals < config.threshold) revert NotEnoughApprovals(approvals, config.threshold);
        uint40 executableAt = uint40(block.timestamp) + config.delay;
        _pending[patient] = PendingRecovery({successor: successor, executableAt: executableAt});
        emit RecoveryStarted(patient, successor, executableAt, _recoveryNonce[patient], guardians, approvals);
    }

    /// @inheritdoc IConsentRecovery
    function cancelRecovery(address patient) external {
        if (msg.sender != patient) revert NotPatient(patient, msg.sender);
        _useNonce(patient);
        _cancel(patient);
    }

    /// @inheritdoc IConsentRecovery
    function cancelRecoveryBySig(address patient, uint256 deadline, bytes calldata signature) external {
        _preSigned(deadline);
        bytes32 structHash = keccak256(abi.encode(_CANCEL_RECOVERY_TYPEHASH, patient, _useNonce(patient), deadline));
        _verify(patient, structHash, signature);
        _cancel(patient);
    }

    /// @inheritdoc IConsentRecovery
    function executeRecovery(address patient) external {
        PendingRecovery memory pending = _pending[patient];
        if (pending.successor == address(0)) revert NoRecoveryPending(patient);
        if (block.timestamp < pending.executableAt) revert RecoveryNotReady(patient, pending.executableAt);
        delete _pending[patient];
        delete _guardians[patient];
        ++_recoveryNonce[patient];
        emit RecoveryExecuted(patient, pending.successor);
        // The registry re-checks the successor (it may have been retired during the delay).
        registry.retirePatient(patient, pending.successor);
    }

    /// @inheritdoc IConsentRecovery
    function moveConsent(address lost, address grantee, uint256 expectedNonce) external returns (uint256) {
        _requireSuccessor(lost, msg.sender);
        return registry.moveConsent(lost, grantee, expectedNonce);
    }

    /// @inheritdoc IConsentRecovery
    function moveConsentBySig(
        address lost,
        address grantee,
        uint256 expectedNonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256) {
        _preSigned(deadline);
        address successor = registry.successorOf(lost);
        if (successor == address(0)) revert NotSuccessor(lost, address(0), successor);
        bytes32 structHash = keccak256(
            abi.encode(_MOVE_TYPEHASH, lost, grantee, expectedNonce, _useNonce(successor), deadline)
        );
        _verify(successor, structHash, signature);
        return registry.moveConsent(lost, grantee, expectedNonce);
    }

    // ================================================================== READS

    /// @inheritdoc IConsentRecovery
    function guardiansOf(address patient) external view returns (GuardianConfig memory) {
        return _guardians[patient];
    }

    /// @inheritdoc IConsentRecovery
    function pendingRecoveryOf(address patient) external view returns (PendingRecovery memory) {
        return _pending[patient];
    }

    /// @inheritdoc IConsentRecovery
    function recoveryNonce(address patient) external view returns (uint256) {
        return _recoveryNonce[patient];
    }

    /// @notice The EIP-712 domain separator (chain id and this contract's address are in it).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ================================================================== INTERNAL

    function _setGuardians(address patient, bytes32 guardiansHash, uint8 threshold, uint32 delay) private {
        _requireNotRetired(patient);
        if (threshold < MIN_THRESHOLD || threshold > MAX_GUARDIANS) revert InvalidThreshold(threshold);
        if (delay < MIN_DELAY || delay > MAX_DELAY) revert InvalidDelay(delay);
        PendingRecovery memory pending = _pending[patient];
        if (pending.successor != address(0)) {
            revert RecoveryAlreadyPending(patient, pending.successor, pending.executableAt);
        }
        _guardians[patient] = GuardianConfig({guardiansHash: guardiansHash, threshold: threshold, delay: delay});
        // Approvals collected under the old set are void.
        ++_recoveryNonce[patient];
        emit GuardiansSet(patient, guardiansHash, threshold, delay);
    }

    /// @dev Checks the revealed list against the commitment and counts the valid approvals
    ///      (at most {MAX_GUARDIANS} signatures; an invalid one reverts naming its guardian).
    function _countApprovals(
        address patient,
        address[] calldata guardians,
        bytes32 structHash,
        bytes[] calldata signatures
    ) private view returns (uint256 approvals) {
        uint256 n = guardians.length;
        if (n > MAX_GUARDIANS || keccak256(abi.encode(guardians)) != _guardians[patient].guardiansHash) {
            revert GuardiansMismatch(patient, n);
        }
        if (signatures.length != n) revert SignatureCountMismatch(n, signatures.length);
        address previous = address(0); // guardians are non-zero: the first must be above it
        for (uint256 i; i < n; ++i) {
            address guardian = guardians[i];
            // Strictly ascending: distinct guardians, so one guardian counts once.
            if (guardian <= previous || guardian == patient) revert GuardiansMismatch(patient, n);
            previous = guardian;
            if (signatures[i].length == 0) continue;
            _verify(guardian, structHash, signatures[i]);
            ++approvals;
        }
    }

    /// @dev Checks that a recovery of `patient` to `successor` may start; the guardians' struct hash.
    function _recoverHash(address patient, address successor, uint256 deadline) private view returns (bytes32) {
        _requireNotRetired(patient);
        if (successor == address(0) || successor == patient || registry.successorOf(successor) != address(0)) {
            revert InvalidSuccessor(patient, successor);
        }
        if (_guardians[patient].threshold == 0) revert NoGuardians(patient);
        PendingRecovery memory pending = _pending[patient];
        // A pending recovery whose successor was retired meanwhile can never execute: it no
        // longer blocks a new one (the lost key may not be there to cancel it).
        if (pending.successor != address(0) && registry.successorOf(pending.successor) == address(0)) {
            revert RecoveryAlreadyPending(patient, pending.successor, pending.executableAt);
        }
        return keccak256(abi.encode(_RECOVER_TYPEHASH, patient, successor, _recoveryNonce[patient], deadline));
    }

    function _cancel(address patient) private {
        _requireNotRetired(patient);
        delete _pending[patient];
        uint256 used = _recoveryNonce[patient]++;
        emit RecoveryCancelled(patient, used);
    }

    function _requireNotRetired(address patient) private view {
        if (patient == address(0)) revert InvalidSuccessor(patient, address(0));
        address successor = registry.successorOf(patient);
        if (successor != address(0)) revert PatientIsRetired(patient, successor);
    }

    function _requireSuccessor(address lost, address caller) private view {
        address successor = registry.successorOf(lost);
        if (successor == address(0) || caller != successor) revert NotSuccessor(lost, caller, successor);
    }

    function _preSigned(uint256 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 latest = block.timestamp + MAX_SIGNATURE_LIFETIME;
        if (deadline > latest) revert SignatureDeadlineTooFar(deadline, latest);
        // Only a vetted relayer forwards signatures (as for the registry's signed actions).
        _directory.requireActive(msg.sender, Roles.RELAYER);
    }

    /// @dev {BoundedSignature}, as the registry: ECDSA for an EOA, a gas-limited ERC-1271 call
    ///      for a contract signer ({ERC1271_GAS_LIMIT}).
    function _verify(address signer, bytes32 structHash, bytes calldata signature) private view {
        if (!BoundedSignature.isValid(signer, _hashTypedDataV4(structHash), signature, ERC1271_GAS_LIMIT)) {
            revert InvalidSignature(signer);
        }
    }
}
