// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICareErrors} from "../common/ICareErrors.sol";
import {IConsentCheck} from "../common/IConsentCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";

/// @title IConsentRegistry
/// @notice Patient-controlled, time-bound, audited access to health data, on chain only as codes,
///         pseudonymous addresses and salted commitments (FHIR R4 `Consent`, HL7 PurposeOfUse).
///
///         A patient (or a guardian / proxy the patient appointed) grants one grantee access to a
///         bit set of data {Category}s for a bit set of {Purpose}s within `[validFrom, validUntil)`,
///         optionally minus a deny provision (categories x purposes the consent excludes). At most
///         one consent is current per (patient, grantee); modify keeps its id, revoke ends it (not
///         retroactively: recorded accesses stay), and a re-grant gets a new id. A patient-wide
///         deny overrides every permit. Expiry is enforced by {canAccess} itself, so no job runs
///         to expire anything.
///
///         Providers record each access against the consent that allowed it; an access without a
///         valid consent is refused. Break-glass (reason ETREAT or BTG) opens a time-boxed
///         emergency window for one provider and is logged loudly for the patient to review.
///         Research studies publish a versioned consent-form commitment; when the protocol is
///         amended, participants must re-consent to the new form before further access.
///
///         Every patient action also exists as an EIP-712 signed message (nonce, deadline of at
///         most {MAX_SIGNATURE_LIFETIME}, bound to chain id and this contract; high-s signatures
///         refused; ERC-1271 wallets accepted through a gas-limited static call) that an active
///         relayer of the {ParticipantDirectory} submits, so patients need no ether. Actions on a
///         (patient, grantee) pair are bound to the pair's action counter ({pairNonce}), which
///         every action on the pair, direct or signed, advances: a signature held back is void
///         once the patient acts on that pair. Patient-wide actions use the signer's OZ nonce,
///         which the direct forms consume; {cancel} voids outstanding signatures explicitly.
///
///         A patient is expected to use one pairwise pseudonym per counterparty (docs/consent.md):
///         nothing here links two of them.
/// @dev    Events alone rebuild the state: see docs/consent.md.
interface IConsentRegistry is ICareErrors, IConsentCheck {
    // ================================================================== TYPES

    /// @notice The current consent of one (patient, grantee) pair (one storage slot, plus its id).
    /// @param id             id of the pair's latest consent, keccak256(abi.encode(patient,
    ///                       grantee, seq)); 0 when the pair never had one. It is live only
    ///                       while `validUntil != 0` (a revoked consent keeps just its `seq`)
    /// @param seq            how many consents the pair has had (the current one's number)
    /// @param categories     permitted {Category} bit set
    /// @param purposes       permitted {Purpose} bit set
    /// @param denyCategories with `denyPurposes`: the deny provision (category in it AND purpose
    ///                       in `denyPurposes` is refused even if permitted)
    /// @param denyPurposes   see `denyCategories`
    /// @param validFrom      first second the consent is valid
    /// @param validUntil     first second the consent is no longer valid (0: revoked / none)
    /// @param formVersion    research consent: the study's form version consented to (0: not research)
    struct Consent {
        uint256 id;
        uint64 seq;
        uint32 categories;
        uint16 purposes;
        uint32 denyCategories;
        uint16 denyPurposes;
        uint40 validFrom;
        uint40 validUntil;
        uint16 formVersion;
    }

    /// @notice What a patient grants. `validFrom == 0` means "from this block".
    /// @param document commitment to the signed consent document (for a study: its current form).
    struct GrantTerms {
        address grantee;
        uint32 categories;
        uint16 purposes;
        uint32 denyCategories;
        uint16 denyPurposes;
        uint40 validFrom;
        uint40 validUntil;
        bytes32 document;
    }

    /// @notice What a patient may change in a current consent (its id and start stay).
    struct ModifyTerms {
        uint32 categories;
        uint16 purposes;
        uint32 denyCategories;
        uint16 denyPurposes;
        uint40 validUntil;
    }

    /// @notice A research study: its sponsor (a provider, which must stay active for the study
    ///         to read), current consent form, and status ({STUDY_ACTIVE} or {STUDY_CLOSED}).
    struct Study {
        address sponsor;
        uint16 version;
        uint8 status;
        bytes32 form;
    }

    /// @notice One provider's latest break-glass window on one patient (`id` is derived from
    ///         `seq`), and how many windows it opened on the UTC day `day` (days since 1970).
    struct BreakGlass {
        uint256 id;
        uint64 seq;
        uint40 until;
        uint8 reason;
        uint32 day;
        uint8 openedToday;
    }

    // ================================================================== ERRORS

    /// @notice `actor` is neither `patient` nor (where allowed) a delegate the patient appointed.
    error NotPatientOrDelegate(address patient, address actor);
    /// @notice A permit needs at least one category in {Category.COUNT} bits.
    error InvalidCategories(uint32 categories);
    /// @notice Purposes must be non-empty, within TREAT..PUBHLTH (break-glass codes are not
    ///         grantable), and exactly HRESCH for a study.
    error InvalidPurposes(uint16 purposes);
    /// @notice A deny provision has bits outside the code tables, or only one of its two masks.
    error InvalidDeny(uint32 categories, uint16 purposes);
    /// @notice `validUntil` must be after both `validFrom` and now.
    error InvalidPeriod(uint40 validFrom, uint40 validUntil);
    /// @notice The pair already has a current consent: modify or revoke it first.
    error ConsentAlreadyActive(address patient, address grantee, uint256 consentId);
    /// @notice `consentId` is not the current consent of (patient, grantee); `currentId` is.
    error ConsentNotCurrent(address patient, address grantee, uint256 consentId, uint256 currentId);
    /// @notice No consent of `patient` covers `grantee`.
    error NoActiveConsent(address patient, address grantee);
    /// @notice The consent starts at `validFrom`, later than now.
    error ConsentNotYetValid(uint256 consentId, uint40 validFrom);
    /// @notice The consent ended at `validUntil` (at or before now).
    error ConsentExpired(uint256 consentId, uint40 validUntil);
    /// @notice The consent does not permit `category` for `purpose`.
    error AccessNotPermitted(uint256 consentId, uint8 category, uint8 purpose);
    /// @notice A deny provision (of the consent, or the patient's own) excludes the request.
    error AccessDenied(uint256 consentId, uint8 category, uint8 purpose);
    /// @notice The study amended its protocol: the participant consented to `consentedVersion`,
    ///         the study is at `currentVersion`; re-consent is needed.
    error ConsentFormOutdated(uint256 consentId, uint16 consentedVersion, uint16 currentVersion);
    /// @notice A study grant must commit to the study's current form `form`.
    error ConsentFormMismatch(address study, bytes32 form, bytes32 given);
    /// @notice The access names consent `consentId`, but the allowing consent is `currentId`.
    error ConsentMismatch(uint256 consentId, uint256 currentId);
    /// @notice `category` or `purpose` is not a code of the tables.
    error InvalidCode(uint8 category, uint8 purpose);
    /// @notice Break-glass needs reason ETREAT or BTG.
    error InvalidBreakGlassReason(uint8 reason);
    /// @notice `provider` has no open break-glass window on `patient` for `consentId`.
    error BreakGlassNotActive(address patient, address provider, uint256 consentId);
    /// @notice Delegate kinds are GUARDIAN (1) and PROXY (2).
    error InvalidDelegateKind(uint8 kind);
    /// @notice `delegate` is not a delegate of `patient`.
    error NotADelegate(address patient, address delegate);
    /// @notice A delegate asked for `categories` x `purposes` outside the scope the patient gave it
    ///         (or, for a proxy, touched a consent outside that scope).
    error DelegateOutOfScope(address patient, address delegate, uint32 categories, uint16 purposes);
    /// @notice A delegate cannot grant to itself, nor modify a consent of which it is the grantee.
    error DelegateSelfGrant(address patient, address delegate);
    /// @notice A delegate may only widen a deny provision (the consent's or the patient-wide one).
    error DelegateCannotRelaxDeny(address patient, address delegate);
    /// @notice Only a GUARDIAN (not a PROXY) may set the patient-wide deny.
    error GuardianOnly(address patient, address delegate);
    /// @notice The signature's `deadline` is later than `latest` (now + {MAX_SIGNATURE_LIFETIME}).
    error SignatureDeadlineTooFar(uint256 deadline, uint256 latest);
    /// @notice `provider` opened `openedToday` windows on `patient` today (the cap): the next one
    ///         needs a co-signature ({coSignBreakGlass}) for the same encounter commitment.
    error BreakGlassCapReached(address patient, address provider, uint8 openedToday);
    /// @notice A co-signer must be an active provider or regulator other than the opening provider.
    error InvalidCoSigner(address cosigner);
    /// @notice `provider` never opened break-glass window number `seq` on `patient`.
    error BreakGlassUnknown(address patient, address provider, uint64 seq);
    /// @notice Break-glass window `breakGlassId` was already marked reviewed.
    error BreakGlassAlreadyReviewed(uint256 breakGlassId);
    /// @notice `study` is closed: no new research consent, no access.
    error StudyClosed(address study);
    /// @notice The sponsor of `study` is not an active provider (suspended or removed).
    error StudySponsorInactive(address study, address sponsor);
    /// @notice Study status must be {STUDY_ACTIVE} (1) or {STUDY_CLOSED} (2).
    error InvalidStudyStatus(uint8 status);
    /// @notice `caller` may not set this status of `study` (the sponsor may only close it; a
    ///         registrar or an active regulator may close or reopen it).
    error NotStudyAuthority(address study, address caller);
    /// @notice `study` is already registered.
    error StudyAlreadyRegistered(address study);
    /// @notice `study` is not registered.
    error StudyNotRegistered(address study);
    /// @notice Only the study's `sponsor` may amend it.
    error NotStudySponsor(address study, address caller);
    /// @notice `patient` was retired by a recovery in favour of `successor`: its patient-wide
    ///         deny (everything) is final, and it cannot be retired again.
    error PatientIsRetired(address patient, address successor);
    /// @notice `successor` cannot take over `lost` (zero, `lost` itself, or retired itself); or
    ///         (`successor` zero) `lost` was never retired, so it has no consent to move.
    error InvalidSuccessor(address lost, address successor);
    /// @notice Only the recovery module ({recovery}) may call this; `caller` is not it.
    error NotRecoveryModule(address caller);
    /// @notice The pair (lost, grantee) was acted on since the successor reviewed it: its action
    ///         counter is `nonce`, not `expectedNonce`.
    error ConsentChanged(address lost, address grantee, uint256 expectedNonce, uint256 nonce);

    // ================================================================== EVENTS

    /// @notice A new consent `consentId` of `patient` for `grantee`; `actor` is the patient or delegate.
    event ConsentGranted(
        uint256 indexed consentId,
        address indexed patient,
        address indexed grantee,
        uint32 categories,
        uint16 purposes,
        uint32 denyCategories,
        uint16 denyPurposes,
        uint40 validFrom,
        uint40 validUntil,
        uint16 formVersion,
        bytes32 document,
        address actor
    );
    /// @notice Consent `consentId` now has these terms (same id, same start).
    event ConsentModified(
        uint256 indexed consentId,
        address indexed patient,
        address indexed grantee,
        uint32 categories,
        uint16 purposes,
        uint32 denyCategories,
        uint16 denyPurposes,
        uint40 validUntil,
        address actor
    );
    /// @notice Consent `consentId` ended now; accesses recorded before stay valid.
    event ConsentRevoked(uint256 indexed consentId, address indexed patient, address indexed grantee, address actor);
    /// @notice The patient-wide deny of `patient` is now categories x purposes (0, 0: none).
    event PatientDenySet(address indexed patient, uint32 categories, uint16 purposes, address actor);
    /// @notice `patient` appointed `delegate` as `kind` (1 guardian, 2 proxy) with the scope
    ///         `categories` x `purposes` (what the delegate may grant).
    event DelegateAppointed(
        address indexed patient,
        address indexed delegate,
        uint8 kind,
        uint32 categories,
        uint16 purposes
    );
    /// @notice `patient` removed `delegate`; from now on its actions are refused.
    event DelegateRemoved(address indexed patient, address indexed delegate);
    /// @notice `grantee` accessed `category` of `patient` for `purpose` under `consentId`
    ///         (a consent or a break-glass id); `record` commits to the record read.
    event AccessRecorded(
        uint256 indexed consentId,
        address indexed patient,
        address indexed grantee,
        uint8 category,
        uint8 purpose,
        bytes32 record
    );
    /// @notice Emergency access: `provider` opened break-glass window `breakGlassId` on
    ///         `patient` for `reason` (ETREAT or BTG) until `until`; `justification` commits to
    ///         the off-chain note, `encounter` to the encounter it serves; `coSigned` when it was
    ///         over the daily cap and a co-signature allowed it. Unreviewed until
    ///         {BreakGlassReviewed}.
    event BreakGlassOpened(
        uint256 indexed breakGlassId,
        address indexed patient,
        address indexed provider,
        uint8 reason,
        uint40 until,
        bytes32 justification,
        bytes32 encounter,
        bool coSigned
    );
    /// @notice `cosigner` (a second provider or a regulator) allows `provider` one more
    ///         break-glass window on `patient` today, for `encounter`.
    event BreakGlassCoSigned(
        address indexed patient,
        address indexed provider,
        address indexed cosigner,
        bytes32 encounter
    );
    /// @notice The patient (or `actor`, a delegate) reviewed break-glass window `breakGlassId`.
    event BreakGlassReviewed(
        uint256 indexed breakGlassId,
        address indexed patient,
        address indexed provider,
        address actor
    );
    /// @notice Signatures of `patient`'s pair with `grantee` carrying action counter `nonce`
    ///         (or, `grantee == 0`, patient-wide signatures of `actor` with OZ nonce `nonce`) are
    ///         void.
    event SignaturesCancelled(address indexed patient, address indexed grantee, uint256 nonce, address actor);
    /// @notice `sponsor` registered research `study` (which signed for it) with consent form
    ///         version 1; the study is active.
    event StudyRegistered(address indexed study, address indexed sponsor, uint16 version, bytes32 form);
    /// @notice `actor` set the status of `study` to `status` (1 active, 2 closed).
    event StudyStatusSet(address indexed study, uint8 status, address actor);
    /// @notice `study` amended its protocol: form `version` is now current; consents to older
    ///         versions no longer allow access.
    event StudyAmended(address indexed study, uint16 version, bytes32 form);

    /// @notice A guardian recovery retired pseudonym `patient` (its key was lost): its patient-wide
    ///         deny is now every category x every purpose for good, and `successor` (the person's
    ///         new pseudonym for the same counterparty) may move its consents ({moveConsent}).
    event PatientRetired(address indexed patient, address indexed successor);

    // ================================================================== PATIENT ACTIONS

    /// @notice Grants `terms` as a new consent of `patient`. Caller: the patient or a delegate.
    /// @dev    A grantee that is a registered study gets a research consent: purposes must be
    ///         exactly HRESCH and `document` the study's current form. Any other grantee must be an
    ///         active directory participant *when it accesses* ({canAccess}, {recordAccess}): a
    ///         consent to an unvetted or suspended organisation stays inert (see docs/consent.md
    ///         for why this is not checked here). Reverts {ConsentAlreadyActive} while the pair's
    ///         consent is valid or not yet started.
    /// @return consentId the new consent's id.
    function grant(address patient, GrantTerms calldata terms) external returns (uint256 consentId);

    /// @notice Changes the current consent `consentId` of (patient, grantee); keeps its id.
    function modify(address patient, address grantee, uint256 consentId, ModifyTerms calldata terms) external;

    /// @notice Ends the current consent `consentId` of (patient, grantee) now.
    function revoke(address patient, address grantee, uint256 consentId) external;

    /// @notice Sets the patient-wide deny provision (overrides every permit; 0, 0 clears it).
    function setPatientDeny(address patient, uint32 categories, uint16 purposes) external;

    /// @notice Appoints (or changes the kind and scope of) `delegate`. Caller: the patient only.
    /// @dev    A delegate may grant and modify only within `categories` x `purposes`, never to
    ///         itself, and never relaxes a deny. A GUARDIAN also sets the patient-wide deny
    ///         (widen only) and revokes any consent; a PROXY revokes only consents within its
    ///         scope. See docs/consent.md.
    function appointDelegate(
        address patient,
        address delegate,
        uint8 kind,
        uint32 categories,
        uint16 purposes
    ) external;

    /// @notice Removes `delegate`. Caller: the patient only.
    function removeDelegate(address patient, address delegate) external;

    /// @notice Voids outstanding signatures: with a `grantee`, every signed Grant/Modify/Revoke/
    ///         Cancel of the pair (advances {pairNonce}); with `grantee == 0`, the caller's
    ///         patient-wide signatures (consumes its OZ nonce). Caller: the patient or a delegate.
    function cancel(address patient, address grantee) external;

    /// @notice Marks break-glass window `seq` of `provider` on `patient` reviewed.
    ///         Caller: the patient or a delegate.
    function reviewBreakGlass(address patient, address provider, uint64 seq) external;

    // ================================================================== SIGNED PATIENT ACTIONS
    // Submitted by an active relayer; `signer` is the patient (or delegate) whose nonce is used.

    /// @notice {grant} signed as EIP-712 `Grant` by `signer`.
    function grantBySig(
        address patient,
        GrantTerms calldata terms,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint256 consentId);

    /// @notice {modify} signed as EIP-712 `Modify` by `signer`.
    function modifyBySig(
        address patient,
        address grantee,
        uint256 consentId,
        ModifyTerms calldata terms,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {revoke} signed as EIP-712 `Revoke` by `signer`.
    function revokeBySig(
        address patient,
        address grantee,
        uint256 consentId,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {setPatientDeny} signed as EIP-712 `SetPatientDeny` by `signer`.
    function setPatientDenyBySig(
        address patient,
        uint32 categories,
        uint16 purposes,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {appointDelegate} signed as EIP-712 `AppointDelegate` by the patient.
    function appointDelegateBySig(
        address patient,
        address delegate,
        uint8 kind,
        uint32 categories,
        uint16 purposes,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {removeDelegate} signed as EIP-712 `RemoveDelegate` by the patient.
    function removeDelegateBySig(
        address patient,
        address delegate,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {cancel} signed as EIP-712 `Cancel` by `signer` (the message's nonce is the pair's
    ///         {pairNonce}, or for `grantee == 0` the signer's {nonces}).
    function cancelBySig(
        address patient,
        address grantee,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {reviewBreakGlass} signed as EIP-712 `ReviewBreakGlass` by `signer`.
    function reviewBreakGlassBySig(
        address patient,
        address provider,
        uint64 seq,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    // ================================================================== PROVIDERS, STUDIES

    /// @notice Records that the caller accessed `category` of `patient` for `purpose` under
    ///         `consentId` (a consent, or for ETREAT/BTG a break-glass id). Reverts with the
    ///         precise reason when no valid consent allows it.
    function recordAccess(address patient, uint256 consentId, uint8 category, uint8 purpose, bytes32 record) external;

    /// @notice Opens a break-glass window (ETREAT or BTG) for the caller, an active provider, on
    ///         `patient` for {BREAK_GLASS_WINDOW} seconds. Overrides deny provisions; logged loudly.
    ///         At most {BREAK_GLASS_DAILY_CAP} per provider and patient per UTC day; beyond it,
    ///         each opening needs a {coSignBreakGlass} for the same `encounter`.
    /// @param encounter commitment to the encounter this opening serves (salted, non-zero).
    /// @return breakGlassId the id accesses in the window are recorded against.
    function breakGlass(
        address patient,
        uint8 reason,
        bytes32 justification,
        bytes32 encounter
    ) external returns (uint256 breakGlassId);

    /// @notice A second provider or a regulator (active, not `provider`) allows `provider` one
    ///         break-glass opening on `patient` over the daily cap, for `encounter`.
    function coSignBreakGlass(address patient, address provider, bytes32 encounter) external;

    /// @notice Registers research `study` (caller: an active provider, its sponsor) with `form`.
    ///         The study proves control of its address: `signature` is the study's EIP-712
    ///         `RegisterStudy(study, sponsor, form, deadline)` (ECDSA, or bounded ERC-1271).
    function registerStudy(address study, bytes32 form, uint256 deadline, bytes calldata signature) external;

    /// @notice Sets `study` to {STUDY_ACTIVE} or {STUDY_CLOSED}: its sponsor may close it; a
    ///         registrar of the directory or an active regulator may close or reopen it.
    function setStudyStatus(address study, uint8 status) external;

    /// @notice Publishes a new consent form version of `study` (caller: its sponsor).
    function amendStudy(address study, bytes32 form) external returns (uint16 version);

    // ================================================================== RECOVERY
    // Called only by the recovery module the registry deployed itself ({recovery}), which checks
    // the guardians' approvals, the delay and the successor's own authorisation.

    /// @notice Retires pseudonym `lost` in favour of `successor`: sets its patient-wide deny to
    ///         every category x every purpose, for good (no access is allowed on `lost` again,
    ///         whatever its key grants later), and records {successorOf}. Emits {PatientRetired}.
    ///         Works while paused (it only takes access away). Break-glass windows, which
    ///         override every deny, stay possible on `lost` (docs/consent.md).
    function retirePatient(address lost, address successor) external;

    /// @notice Moves the current consent of (lost, grantee) to (successorOf(lost), grantee):
    ///         same categories, purposes, deny, period and form version under a new id; the old
    ///         one is revoked. Emits {ConsentRevoked} (actor: the successor) then
    ///         {ConsentGranted} (actor: `lost`, `document`: the moved consent's id). Refused
    ///         while paused, and with {ConsentChanged} unless the pair's action counter is still
    ///         `expectedNonce` (what the successor reviewed). Delegates are not moved.
    /// @return consentId the successor's new consent id.
    function moveConsent(address lost, address grantee, uint256 expectedNonce) external returns (uint256 consentId);

    /// @notice The pseudonym that took over retired `patient` (zero: not retired).
    function successorOf(address patient) external view returns (address);

    /// @notice The recovery module (ConsentRecovery), deployed by this registry's constructor.
    function recovery() external view returns (address);

    // ================================================================== READS

    /// @notice The current consent slot of (patient, grantee) (all zero when none).
    function consentOf(address patient, address grantee) external view returns (Consent memory);

    /// @notice The patient-wide deny provision.
    function patientDenyOf(address patient) external view returns (uint32 categories, uint16 purposes);

    /// @notice The kind of `delegate` for `patient` (0: not a delegate).
    function delegateKind(address patient, address delegate) external view returns (uint8);

    /// @notice The kind and scope of `delegate` for `patient` (all 0: not a delegate).
    function delegateOf(
        address patient,
        address delegate
    ) external view returns (uint8 kind, uint32 categories, uint16 purposes);

    /// @notice The action counter of (patient, grantee): the `nonce` of its next signed Grant,
    ///         Modify, Revoke or Cancel. Every action on the pair advances it.
    function pairNonce(address patient, address grantee) external view returns (uint256);

    /// @notice Whether break-glass window `breakGlassId` was marked reviewed.
    function breakGlassReviewed(uint256 breakGlassId) external view returns (bool);

    /// @notice The registered study (zero sponsor: none).
    function studyOf(address study) external view returns (Study memory);

    /// @notice The break-glass window of `provider` on `patient`.
    function breakGlassOf(address patient, address provider) external view returns (BreakGlass memory);

    /// @notice The id of consent number `seq` of (patient, grantee).
    function consentIdOf(address patient, address grantee, uint64 seq) external pure returns (uint256);

    /// @notice The id of break-glass window number `seq` of `provider` on `patient`.
    function breakGlassIdOf(address patient, address provider, uint64 seq) external pure returns (uint256);

    // ================================================================== CONSTANTS AND WIRING

    /// @notice How long a break-glass window stays open (seconds).
    function BREAK_GLASS_WINDOW() external view returns (uint40);

    /// @notice Break-glass windows one provider may open on one patient per UTC day without a
    ///         co-signature.
    function BREAK_GLASS_DAILY_CAP() external view returns (uint8);

    /// @notice Delegate kind GUARDIAN (FHIR Consent.provision.actor.role).
    function GUARDIAN() external view returns (uint8);

    /// @notice Delegate kind PROXY.
    function PROXY() external view returns (uint8);

    /// @notice Study status: open for consent and access.
    function STUDY_ACTIVE() external view returns (uint8);

    /// @notice Study status: closed (no new consent, no access).
    function STUDY_CLOSED() external view returns (uint8);

    /// @notice The latest deadline a signature may carry, from now (seconds).
    function MAX_SIGNATURE_LIFETIME() external view returns (uint256);

    /// @notice Gas given to an ERC-1271 wallet's `isValidSignature`.
    function ERC1271_GAS_LIMIT() external view returns (uint256);

    /// @notice The EIP-712 domain separator of the signed patient actions (chain id and this
    ///         contract's address are in it).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The directory this registry asks who may act.
    function directory() external view returns (IParticipantDirectory);
}
