// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IConsentRecovery
/// @notice Recovery of a patient pseudonym whose key is lost, by guardians appointed in advance:
///         M-of-N approvals (M >= 2, so one guardian alone never recovers), then a delay during
///         which the real key can cancel. Execution retires the lost pseudonym in the consent
///         registry (every access refused on it from then on, for good) in favour of a successor
///         (the person's new pseudonym for the same counterparty), which then moves the lost
///         pseudonym's consents one pair at a time.
///
///         Only a commitment to the guardian list is stored (`guardiansHash`); guardians are
///         revealed when they recover. A guardian's address for a ward is the guardian person's
///         own pairwise pseudonym for that ward, so one guardian guarding several pseudonyms of
///         one person shows unlinkable addresses (docs/consent.md, "Recovery").
///
///         Every patient or successor action also exists in a signed form (EIP-712 domain
///         "CareLedger Consent Recovery" version 1, OZ nonce of the signer, deadline at most the
///         registry's MAX_SIGNATURE_LIFETIME ahead, high-s refused, ERC-1271 wallets through a
///         gas-limited static call) that an active relayer submits: pseudonyms hold no ether.
interface IConsentRecovery {
    /// @notice A patient's committed guardian set.
    /// @param guardiansHash keccak256(abi.encode(address[] guardians)), guardians strictly ascending
    /// @param threshold     approvals needed, 2..MAX_GUARDIANS
    /// @param delay         seconds between the start of a recovery and its earliest execution
    struct GuardianConfig {
        bytes32 guardiansHash;
        uint8 threshold;
        uint32 delay;
    }

    /// @notice A started recovery of a patient: who takes over, and from when.
    struct PendingRecovery {
        address successor;
        uint40 executableAt;
    }

    // ================================================================== ERRORS

    /// @notice `caller` (or signer) is not `patient`, the only key that may do this.
    error NotPatient(address patient, address caller);
    /// @notice `caller` (or signer) is not the successor `successor` of retired `lost`.
    error NotSuccessor(address lost, address caller, address successor);
    /// @notice The threshold must be within [MIN_THRESHOLD, MAX_GUARDIANS]: one guardian alone can never recover.
    error InvalidThreshold(uint8 threshold);
    /// @notice The delay must be within [MIN_DELAY, MAX_DELAY].
    error InvalidDelay(uint32 delay);
    /// @notice `patient` has no guardian set (or it was consumed by a recovery).
    error NoGuardians(address patient);
    /// @notice The revealed guardian list is not the committed one, not strictly ascending, holds
    ///         the zero address or the patient, is longer than MAX_GUARDIANS or shorter than the
    ///         threshold (`count` guardians).
    error GuardiansMismatch(address patient, uint256 count);
    /// @notice One signature per guardian (empty for a guardian who did not sign): `count` given.
    error SignatureCountMismatch(uint256 guardians, uint256 count);
    /// @notice Only `approvals` guardians signed; `threshold` are needed.
    error NotEnoughApprovals(uint256 approvals, uint8 threshold);
    /// @notice `patient` already has a recovery to `successor` pending (cancel it first; one whose
    ///         successor has since been retired no longer counts).
    error RecoveryAlreadyPending(address patient, address successor, uint40 executableAt);
    /// @notice `patient` has no pending recovery.
    error NoRecoveryPending(address patient);
    /// @notice The recovery of `patient` may be executed from `executableAt`, not before.
    error RecoveryNotReady(address patient, uint40 executableAt);
    /// @notice The successor is zero, the patient itself, or a retired pseudonym.
    error InvalidSuccessor(address patient, address successor);
    /// @notice `patient` was retired already (in favour of `successor`).
    error PatientIsRetired(address patient, address successor);
    /// @notice The signed message's `deadline` has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature's `deadline` is later than `latest` (now + MAX_SIGNATURE_LIFETIME).
    error SignatureDeadlineTooFar(uint256 deadline, uint256 latest);
    /// @notice The signature is not `signer`'s over this message.
    error InvalidSignature(address signer);

    // ================================================================== EVENTS

    /// @notice `patient` committed to a guardian set (the list itself stays off chain).
    event GuardiansSet(address indexed patient, bytes32 guardiansHash, uint8 threshold, uint32 delay);
    /// @notice Guardians (revealed, `approvals` of them signed) started a recovery of `patient`
    ///         to `successor`, executable from `executableAt`; `recoveryNonce` is the approvals' nonce.
    event RecoveryStarted(
        address indexed patient,
        address indexed successor,
        uint40 executableAt,
        uint256 recoveryNonce,
        address[] guardians,
        uint256 approvals
    );
    /// @notice The real key cancelled: approvals carrying `recoveryNonce` are void (and any
    ///         pending recovery is gone).
    event RecoveryCancelled(address indexed patient, uint256 recoveryNonce);
    /// @notice The recovery of `patient` ran: `patient` is retired in favour of `successor`;
    ///         its guardian set is consumed.
    event RecoveryExecuted(address indexed patient, address indexed successor);

    // ================================================================== ACTIONS

    /// @notice Commits `patient`'s guardian set (replacing any; voids approvals in flight).
    ///         Caller: the patient. Refused while a recovery is pending (cancel it first).
    function setGuardians(address patient, bytes32 guardiansHash, uint8 threshold, uint32 delay) external;

    /// @notice {setGuardians} signed as EIP-712 `SetGuardians(address patient,bytes32 guardiansHash,
    ///         uint8 threshold,uint32 delay,uint256 nonce,uint256 deadline)` by the patient.
    function setGuardiansBySig(
        address patient,
        bytes32 guardiansHash,
        uint8 threshold,
        uint32 delay,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Starts a recovery of `patient` to `successor`. Caller: an active relayer.
    ///         `guardians` is the committed list (strictly ascending); `signatures[i]` is
    ///         guardians[i]'s EIP-712 `Recover(address patient,address successor,uint256
    ///         recoveryNonce,uint256 deadline)`, or empty when that guardian did not sign. At least
    ///         the threshold must sign.
    function startRecovery(
        address patient,
        address successor,
        address[] calldata guardians,
        uint256 deadline,
        bytes[] calldata signatures
    ) external;

    /// @notice Cancels any pending recovery of `patient` and voids every approval collected for
    ///         it (bumps {recoveryNonce}). Caller: the patient (the real key).
    function cancelRecovery(address patient) external;

    /// @notice {cancelRecovery} signed as EIP-712 `CancelRecovery(address patient,uint256 nonce,
    ///         uint256 deadline)` by the patient.
    function cancelRecoveryBySig(address patient, uint256 deadline, bytes calldata signature) external;

    /// @notice Executes the pending recovery of `patient` once its delay has passed: retires
    ///         `patient` in the registry in favour of the successor. Caller: anyone. Works while
    ///         the registry is paused (it only takes access away).
    function executeRecovery(address patient) external;

    /// @notice Moves the consent of (lost, grantee) to the successor (see the registry's
    ///         `moveConsent`; `expectedNonce` is the pair's action counter the successor
    ///         reviewed). Caller: the successor.
    /// @return consentId the successor's new consent id.
    function moveConsent(address lost, address grantee, uint256 expectedNonce) external returns (uint256 consentId);

    /// @notice {moveConsent} signed as EIP-712 `MoveConsent(address lost,address grantee,uint256
    ///         expectedNonce,uint256 nonce,uint256 deadline)` by the successor.
    function moveConsentBySig(
        address lost,
        address grantee,
        uint256 expectedNonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 consentId);

    // ================================================================== READS

    /// @notice The committed guardian set of `patient` (zero hash: none).
    function guardiansOf(address patient) external view returns (GuardianConfig memory);

    /// @notice The pending recovery of `patient` (zero successor: none).
    function pendingRecoveryOf(address patient) external view returns (PendingRecovery memory);

    /// @notice The nonce guardians' `Recover` approvals of `patient` must carry now.
    function recoveryNonce(address patient) external view returns (uint256);
}
