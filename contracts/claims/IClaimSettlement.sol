// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICareErrors} from "../common/ICareErrors.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {
    Adjudication,
    Claim,
    ClaimId,
    ClaimInput,
    ClaimStatus,
    Cover,
    CoverageRule,
    Decision,
    Enrolment,
    Line,
    LineAdjudication,
    PlanId,
    PlanTerms,
    PoolView
} from "./ClaimTypes.sol";

/// @title IClaimSettlement
/// @notice Insurance claim settlement by rule table, with no one's care readable on chain.
///         Insurers define plans (terms fixed at creation; rule tables in versions that take
///         effect at a future time), enrol members under a plan-scoped pseudonym with the
///         member's signature, for whole plan periods, and fund a pool per plan in one ERC-20.
///         Providers and pharmacies submit claims whose codes are plan-keyed digests (the key is
///         shared off chain with the plan's network; rules are keyed by the same digests), with
///         no service date (the plan period only; the date is inside the committed FHIR Claim).
///         The contract asks the consent registry for the pseudonym's HPAYMT consent and, for
///         drug lines, the provenance registry for each dispensed unit; the rules in force at
///         submission adjudicate; adjusters review what the rules may not settle alone;
///         approved claims are paid from the pool.
/// @dev    Accounting per plan: `funded = paid + owed + free` at all times, where
///         `funded = deposited - withdrawn`, `owed` is the sum of approved unpaid claims, and the
///         insurer may withdraw only `free` (and, after PAYOUT_TIMEOUT, a payout its payee could
///         never receive). Claim ids are deterministic (see {claimIdOf}).
interface IClaimSettlement is ICareErrors {
    // ================================================================== errors

    /// @notice `caller` is not the insurer that owns plan `planId`.
    error NotPlanInsurer(PlanId planId, address caller);
    /// @notice Plan `planId` does not exist.
    error UnknownPlan(PlanId planId);
    /// @notice Plan terms are unusable: annual maximum 0, a limit above 2^80 - 1, a period that
    ///         is not a plan year (365 or 366 days) or a filing window above 366 days.
    error InvalidPlanTerms(uint96 deductible, uint96 annualMax, uint32 periodLength, uint32 filingWindow);
    /// @notice Coinsurance above 100 % (10,000 bps).
    error InvalidCoinsurance(bytes32 code, uint16 coinsuranceBps);
    /// @notice A code of zero cannot carry a rule.
    error InvalidCode(bytes32 code);
    /// @notice `codes` and `rules` differ in length (or are empty / above {MAX_BATCH}).
    error InvalidRuleTable(uint256 codes, uint256 rules);
    /// @notice An enrolment covers 1..{MAX_ENROLMENT_PERIODS} whole periods, starting in the
    ///         current period or the next (`current`).
    error InvalidEnrolmentPeriods(uint32 fromPeriod, uint32 toPeriod, uint32 current);
    /// @notice `member` is already covered in `period` (by enrolment `enrolment`).
    error PeriodAlreadyCovered(address member, uint32 period, uint32 enrolment);
    /// @notice `member` has no (valid) enrolment covering `period`.
    error NotEnrolled(address member, uint32 period);
    /// @notice Enrolment `enrolment` of `member` does not exist or was voided.
    error UnknownEnrolment(address member, uint32 enrolment);
    /// @notice Termination only shortens an enrolment, never into the past: `lastPeriod` must
    ///         be below the enrolment's last period and not before the current one.
    error InvalidTermination(uint32 lastPeriod, uint32 toPeriod, uint32 current);
    /// @notice Only the directory's registrars may void an enrolment.
    error NotRegistrar(address caller);
    /// @notice The enrolment's insurer is active: only a suspended insurer's enrolments are voided.
    error InsurerStillActive(address insurer);
    /// @notice The plan has not started (plan period 0 starts at `periodStart`).
    error PlanNotStarted(PlanId planId, uint256 periodStart);
    /// @notice A claim cannot be for a period after the current one.
    error ServicePeriodInFuture(uint32 servicePeriod, uint32 current);
    /// @notice Timely filing for `servicePeriod` closed at `deadline` (unix time).
    error FilingWindowClosed(uint32 servicePeriod, uint256 deadline);
    /// @notice The episode digest of a claim must be set.
    error EmptyEpisode();
    /// @notice Plan `planId` has no rule table in force yet.
    error NoRulesInForce(PlanId planId);
    /// @notice A rule table takes effect at `effectiveFrom`, which must be at least the plan's
    ///         notice after now (`earliest`) and after the previous version's start.
    error InvalidEffectiveTime(uint256 effectiveFrom, uint256 earliest);
    /// @notice Version `version` of plan `planId` is in force (or unknown): its rules are fixed.
    error RulesFrozen(PlanId planId, uint32 version);
    /// @notice A rule table (`version`) is already scheduled and not yet in force.
    error RulesAlreadyScheduled(PlanId planId, uint32 version);
    /// @notice A provider or pharmacy may only claim for itself.
    error PayeeNotSubmitter(address payee, address submitter);
    /// @notice The consent registry reports no active HPAYMT consent of `member` for `submitter`.
    error NoPaymentConsent(address member, address submitter);
    /// @notice A claim has 1..{MAX_LINES} lines.
    error InvalidLineCount(uint256 count, uint256 max);
    /// @notice Line `index` has zero units or a zero billed amount.
    error InvalidLine(uint256 index);
    /// @notice Line codes must be in non-decreasing order (line `index` is out of order).
    error LinesNotSorted(uint256 index);
    /// @notice Line `index` bills a drug code: it must cite one dispensed unit per package
    ///         (`units`), it cites `given`.
    error DrugUnitsRequired(uint256 index, uint256 units, uint256 given);
    /// @notice Line `index` cites drug units but its code is no drug code of the plan.
    error UnitsNotExpected(uint256 index);
    /// @notice The product of `unitId` (line `index`) is not the one the plan binds to the
    ///         line's code (or the line's GTIN salt does not open the binding).
    error UnitProductMismatch(uint256 index, bytes32 unitId);
    /// @notice A code the plan allows once per period is already billed in `period` by live
    ///         claim `claimId`.
    error CodeAlreadyClaimedInPeriod(bytes32 code, uint32 period, ClaimId claimId);
    /// @notice No provenance registry is configured, so a drug unit cannot be checked.
    error DrugUnitsUnsupported(bytes32 unitId);
    /// @notice The provenance registry says `unitId` was dispensed by `dispensedBy`, not `payee`.
    error UnitNotDispensedByPayee(bytes32 unitId, address dispensedBy, address payee);
    /// @notice The batch of `unitId` is recalled (or voided): the claim is refused.
    error UnitRecalled(bytes32 unitId, bytes32 batchId);
    /// @notice The batch of `unitId` is quarantined: the claim is refused while it stays so.
    error UnitQuarantined(bytes32 unitId, bytes32 batchId);
    /// @notice `unitId` was dispensed at `dispensedAt`, outside the window before the claim
    ///         ({DISPENSE_WINDOW} seconds up to now).
    error UnitDispenseOutsideWindow(bytes32 unitId, uint256 dispensedAt, uint256 window);
    /// @notice `unitId` is already cited by claim `claimId` (which is not withdrawn).
    error UnitAlreadyClaimed(bytes32 unitId, ClaimId claimId);
    /// @notice A claim with the same fingerprint (member, payee, period, episode) exists.
    error DuplicateClaim(ClaimId claimId);
    /// @notice A resubmission is allowed only after the previous submission was withdrawn.
    error ResubmissionNotAllowed(ClaimId previous, ClaimStatus status);
    /// @notice A batch holds 1..{MAX_BATCH} items.
    error InvalidBatchSize(uint256 size, uint256 max);
    /// @notice Claim `claimId` is in `status`, where this action is not allowed.
    error InvalidClaimStatus(ClaimId claimId, ClaimStatus status);
    /// @notice Only the payee, the member or (withdrawal of a claim it submitted) the plan's
    ///         insurer may do this.
    error NotClaimParty(ClaimId claimId, address caller);
    /// @notice The payout of `claimId` may be released to the pool only after a failed transfer
    ///         and {PAYOUT_TIMEOUT}: not before `releasableAt` (0: no transfer has failed).
    error PayoutNotLapsed(ClaimId claimId, uint256 releasableAt);
    /// @notice A claim may be appealed once.
    error AppealAlreadyUsed(ClaimId claimId);
    /// @notice The appeal window closed at `deadline` (a unix time; the deadline itself is late).
    error AppealWindowClosed(ClaimId claimId, uint256 deadline);
    /// @notice `caller` is neither the plan's insurer nor one of its adjusters.
    error NotAdjuster(PlanId planId, address caller);
    /// @notice The adjuster would decide on a claim that pays itself.
    error AdjusterIsPayee(ClaimId claimId, address adjuster);
    /// @notice The lines given do not hash to the lines the claim was submitted with.
    error LinesMismatch(ClaimId claimId, bytes32 expected, bytes32 given);
    /// @notice A partial approval or a denial needs a CARC in 1..999; an approval takes none.
    error InvalidReason(Decision decision, uint16 reason);
    /// @notice A partial approval pays more than 0 and less than the rules compute.
    error InvalidPartialAmount(ClaimId claimId, uint96 amount, uint96 rulesBenefit);
    /// @notice Plan `planId` has `free` unowed funds, less than the `needed` amount.
    error InsufficientFreeFunds(PlanId planId, uint256 needed, uint256 free);
    /// @notice Amounts must be above zero.
    error ZeroAmount();
    /// @notice The token delivered `received` instead of `expected`: fee-on-transfer tokens are
    ///         refused (a provider must receive what was approved).
    error TokenFeeOnTransfer(uint256 expected, uint256 received);
    /// @notice The token transfer to `payee` failed (in {pay}; {payBatch} defers instead).
    error PayoutTransferFailed(ClaimId claimId, address payee);

    // ================================================================== events

    /// @notice `insurer` created plan `planId` with `terms`.
    event PlanCreated(PlanId indexed planId, address indexed insurer, PlanTerms terms);
    /// @notice Rule table `version` of `planId` takes effect at `effectiveFrom`; its code digests
    ///         are keyed with the plan's code key `codeKeyId` (an id of the key, e.g. the hash
    ///         of a key fingerprint; never the key), so old claims keep their meaning for those
    ///         who hold the old key after a rotation.
    event RulesScheduled(PlanId indexed planId, uint32 indexed version, uint40 effectiveFrom, bytes32 codeKeyId);
    /// @notice In rule table `version` of `planId`, the rule for code digest `code` is `rule`
    ///         (`gtinBinding`: drug codes, the salted commitment to the product's GTIN).
    event CoverageSet(
        PlanId indexed planId,
        uint32 indexed version,
        bytes32 indexed code,
        CoverageRule rule,
        bytes32 gtinBinding
    );
    /// @notice `insurer` appointed (`allowed`) or removed `adjuster`.
    event AdjusterSet(address indexed insurer, address indexed adjuster, bool allowed);
    /// @notice `member` (a plan pseudonym) agreed to enrolment number `enrolment` in `planId` for
    ///         the plan periods `[fromPeriod, toPeriod]`; accumulators start at zero.
    event MemberEnrolled(
        PlanId indexed planId,
        address indexed member,
        uint32 enrolment,
        bytes32 memberRecord,
        uint32 fromPeriod,
        uint32 toPeriod
    );
    /// @notice The plan's insurer ended enrolment `enrolment` of `member` after `lastPeriod`.
    event EnrolmentTerminated(address indexed member, uint32 enrolment, uint32 lastPeriod);
    /// @notice The insurer of `planId` rotated its directory key from `previous` to `insurer`, and
    ///         the plan (its pool, rules and enrolments) now answers to the new key.
    event PlanInsurerSucceeded(PlanId indexed planId, address indexed previous, address indexed insurer);
    /// @notice Registrar `by` voided enrolment `enrolment` of `member`, made by a suspended insurer.
    event EnrolmentVoided(address indexed member, uint32 enrolment, address by);
    /// @notice `from` added `amount` (as received) to the pool of `planId`.
    event PoolFunded(PlanId indexed planId, address indexed from, uint256 amount);
    /// @notice The insurer took `amount` of free funds of `planId` to `to`.
    event PoolWithdrawn(PlanId indexed planId, address indexed to, uint256 amount);
    /// @notice A claim was accepted (status {ClaimStatus.Submitted}); its lines are here, and
    ///         `consentId` is the member's consent (in the consent registry) that allowed it.
    event ClaimSubmitted(
        ClaimId indexed claimId,
        address indexed member,
        address indexed payee,
        PlanId planId,
        uint32 version,
        uint32 servicePeriod,
        address submitter,
        uint256 consentId,
        uint16 resubmission,
        bytes32 episode,
        bytes32 fhirClaim,
        Line[] lines
    );
    /// @notice A claim was decided: by the rules (`adjuster == 0`) or by `adjuster`. `amount` is
    ///         payable, `deductible` was added to the member's accumulator, `reason` a CARC.
    event ClaimAdjudicated(
        ClaimId indexed claimId,
        ClaimStatus status,
        uint96 amount,
        uint96 deductible,
        uint16 reason,
        address adjuster,
        LineAdjudication[] lines
    );
    /// @notice The claim waits for an adjuster: it needs prior authorisation (`preAuth`), bills
    ///         above the auto-approve limit, or was appealed (`appeal`).
    event ClaimPendingReview(ClaimId indexed claimId, bool preAuth, bool appeal);
    /// @notice The claim stays {ClaimStatus.Submitted}: the pool's free funds (`free`) did not
    ///         cover `amount`; anyone may {adjudicate} it once the pool is funded.
    event ClaimQueued(ClaimId indexed claimId, uint96 amount, uint256 free);
    /// @notice `by` withdrew the claim before any decision.
    event ClaimWithdrawn(ClaimId indexed claimId, address indexed by);
    /// @notice `by` appealed the denied claim (it is back in review).
    event ClaimAppealed(ClaimId indexed claimId, address indexed by);
    /// @notice `amount` was paid to `payee` from the pool of `planId`.
    event ClaimPaid(ClaimId indexed claimId, address indexed payee, PlanId planId, uint96 amount);
    /// @notice In a batch, the transfer to `payee` failed; the claim stays payable.
    event PayoutDeferred(ClaimId indexed claimId, address indexed payee);
    /// @notice In a batch, `claimId` was not payable (it is in `status`) and was skipped.
    event PayoutSkipped(ClaimId indexed claimId, ClaimStatus status);
    /// @notice The payee `from` of an approved claim asked to be paid at `to` instead.
    event PayoutRedirected(ClaimId indexed claimId, address indexed from, address indexed to);
    /// @notice The payout to `payee` failed and stayed unclaimed for {PAYOUT_TIMEOUT}: `amount`
    ///         went back to the free funds of `planId` (status {ClaimStatus.Lapsed}).
    event PayoutLapsed(ClaimId indexed claimId, address indexed payee, PlanId planId, uint96 amount);

    // ================================================================== plans

    /// @notice Creates a plan owned by the caller (an active insurer of the directory).
    /// @dev    Reverts {InvalidPlanTerms} when `annualMax` is 0; directory errors otherwise.
    function createPlan(PlanTerms calldata terms) external returns (PlanId planId);

    /// @notice Schedules rule table `version` (the next number) of `planId`, in force from
    ///         `effectiveFrom` (at least the plan's `ruleNotice` from now) until the next
    ///         version starts. Its rules are set with {setCoverage} until then and frozen after.
    ///         A claim is adjudicated under the version in force when it was submitted.
    /// @dev    Plan insurer only; one version at a time may wait for its start.
    function scheduleRules(PlanId planId, uint40 effectiveFrom, bytes32 codeKeyId) external returns (uint32 version);

    /// @notice Sets, in rule table `version` (not yet in force), the rule of each code digest.
    ///         `gtinBindings` is empty or one per code (0 for codes that are no drug code).
    /// @dev    Plan insurer only; 1..{MAX_BATCH} codes; coinsurance <= 10,000 bps.
    function setCoverage(
        PlanId planId,
        uint32 version,
        bytes32[] calldata codes,
        CoverageRule[] calldata rules,
        bytes32[] calldata gtinBindings
    ) external;

    /// @notice Appoints or removes an adjuster (an active directory participant when it decides)
    ///         who may review claims on the caller's plans.
    function setAdjuster(address adjuster, bool allowed) external;

    /// @notice Enrols `member` (the plan pseudonym on the member's card) in `planId` for the
    ///         whole periods `[fromPeriod, toPeriod]`, with the member's EIP-712 signature
    ///         (`Enrolment(uint32 planId,address member,bytes32 memberRecord,uint32 fromPeriod,
    ///         uint32 toPeriod,uint256 nonce,uint256 deadline)`; ERC-1271 wallets accepted).
    /// @dev    Plan insurer only; 1..{MAX_ENROLMENT_PERIODS} periods, starting now or next period;
    ///         refused for a period the member is already covered in.
    function enrol(
        PlanId planId,
        address member,
        bytes32 memberRecord,
        uint32 fromPeriod,
        uint32 toPeriod,
        uint256 deadline,
        bytes calldata signature
    ) external returns (uint32 enrolment);

    /// @notice The plan's insurer ends an enrolment early: after `lastPeriod`, which is before
    ///         its last period and not before the current one (shorter only, never retroactive).
    function terminate(address member, uint32 enrolment, uint32 lastPeriod) external;

    /// @notice A directory registrar voids an enrolment made by an insurer that is now
    ///         suspended: the member is covered by it no more and may enrol elsewhere.
    function voidEnrolment(address member, uint32 enrolment) external;

    /// @notice After the plan's insurer rotated its directory key (ParticipantDirectory
    ///         `acceptRotation`), its current key takes the plan over: pool, rule tables,
    ///         enrolments and pending decisions follow; adjusters are appointed again. Only the
    ///         current key of the plan's insurer. Reverts {NotPlanInsurer} for anyone else.
    function succeedInsurer(PlanId planId) external;

    // ================================================================== pool

    /// @notice Moves `amount` tokens from the caller (the plan's insurer) into the plan's pool.
    /// @dev    The balance change is measured; a token that delivers less is refused
    ///         ({TokenFeeOnTransfer}). Tokens that return nothing are handled by SafeERC20.
    function fund(PlanId planId, uint256 amount) external;

    /// @notice Sends `amount` of the plan's free funds (never what is owed) to `to`.
    function withdrawFree(PlanId planId, uint256 amount, address to) external;

    // ================================================================== claims

    /// @notice Submits a claim and, when the rules can decide alone, adjudicates it at once.
    /// @dev    Caller: an active provider or pharmacy claiming for itself, or the plan's insurer
    ///         on the member's behalf (payee: an active provider/pharmacy, or the member).
    ///         Refused without the member's HPAYMT consent for the caller, for a drug line whose
    ///         unit was not dispensed by the payee or is recalled, and for a duplicate.
    /// @return claimId the claim's id ({claimIdOf}); @return status where it landed.
    function submit(ClaimInput calldata claim) external returns (ClaimId claimId, ClaimStatus status);

    /// @notice {submit} for 1..{MAX_BATCH} claims in one transaction; all or none.
    function submitBatch(ClaimInput[] calldata claims) external returns (ClaimId[] memory claimIds);

    /// @notice Adjudicates a queued ({ClaimStatus.Submitted}) claim once the pool can cover it.
    ///         Anyone may call it: the rules, not the caller, decide.
    function adjudicate(ClaimId claimId, Line[] calldata lines) external returns (ClaimStatus status);

    /// @notice An adjuster's decision on a claim in review. `amount` is read for
    ///         {Decision.PartiallyApprove} only (0 < amount < what the rules compute).
    /// @dev    Caller: the plan's insurer or its adjuster, never the payee. `lines` must be the
    ///         claim's lines (from its {ClaimSubmitted} event).
    function review(
        ClaimId claimId,
        Line[] calldata lines,
        Decision decision,
        uint96 amount,
        uint16 reason
    ) external returns (ClaimStatus status);

    /// @notice Withdraws a claim before a decision: its payee, or the plan's insurer when the
    ///         insurer submitted it (while the insurer is active). Never a claim a provider or
    ///         pharmacy submitted for itself: that is the provider's claim, not the insurer's.
    function withdraw(ClaimId claimId) external;

    /// @notice Appeals a denied claim once, before the plan's appeal window closes (payee or member).
    function appeal(ClaimId claimId) external;

    /// @notice Pays an approved claim to its payee from the pool (anyone may trigger it).
    function pay(ClaimId claimId) external;

    /// @notice Pays 1..{MAX_BATCH} approved claims; a payee whose transfer fails is skipped
    ///         ({PayoutDeferred}, the first failure's time recorded) and a claim that is not
    ///         payable (any status but approved) is skipped ({PayoutSkipped}): neither blocks
    ///         the others. Returns how many were paid.
    function payBatch(ClaimId[] calldata claimIds) external returns (uint256 paidCount);

    /// @notice The payee of an approved, unpaid claim names another address to receive it (a
    ///         payee the token will not pay, e.g. blocklisted, is not stuck).
    function redirectPayout(ClaimId claimId, address to) external;

    /// @notice The plan's insurer releases an approved claim's amount back to the pool's free
    ///         funds, once a transfer to its payee failed at least {PAYOUT_TIMEOUT} ago and the
    ///         payee did not redirect it. The claim becomes {ClaimStatus.Lapsed}.
    function releaseLapsed(ClaimId claimId) external;

    // ================================================================== reads

    /// @notice What the rules in force would decide for `lines` of `member` in `servicePeriod`
    ///         now (nothing is written).
    function quote(
        address member,
        uint32 servicePeriod,
        Line[] calldata lines
    ) external view returns (Adjudication memory);

    /// @notice The deterministic id of a claim: keccak256(abi.encode(member, payee,
    ///         servicePeriod, episode, resubmission)). One claim per encounter: splitting its
    ///         lines over two claims gives the same id.
    function claimIdOf(
        address member,
        address payee,
        uint32 servicePeriod,
        bytes32 episode,
        uint16 resubmission
    ) external pure returns (ClaimId);

    /// @notice The stored state of a claim.
    function claimOf(ClaimId claimId) external view returns (Claim memory);

    /// @notice The insurer and terms of a plan.
    function planOf(PlanId planId) external view returns (address insurer, PlanTerms memory terms);

    /// @notice The rule of `planId`'s table `version` for code digest `code`, and its GTIN binding.
    function coverageOf(
        PlanId planId,
        uint32 version,
        bytes32 code
    ) external view returns (CoverageRule memory rule, bytes32 gtinBinding);

    /// @notice The rule table of `planId` in force now (0: none yet) and the latest version.
    function rulesInForce(PlanId planId) external view returns (uint32 version, uint32 latest);

    /// @notice The plan period (plan year) of `planId` that `timestamp` falls in.
    function periodAt(PlanId planId, uint256 timestamp) external view returns (uint32);

    /// @notice Enrolment number `enrolment` of `member` and how many `member` has had.
    function enrolmentOf(address member, uint32 enrolment) external view returns (Enrolment memory, uint32 count);

    /// @notice The cover of `member` in plan period `period` (enrolment 0: not covered).
    function coverOf(address member, uint32 period) external view returns (Cover memory);

    /// @notice The pool of `planId`; `funded == paid + owed + free` always.
    function poolOf(PlanId planId) external view returns (PoolView memory);

    /// @notice Whether `account` may review claims on `insurer`'s plans (besides the insurer).
    function isAdjuster(address insurer, address account) external view returns (bool);

    // ================================================================== constants and wiring

    /// @notice Most lines per claim.
    function MAX_LINES() external view returns (uint256);

    /// @notice A drug unit backs a claim only if dispensed at most this long before it (seconds).
    function DISPENSE_WINDOW() external view returns (uint256);

    /// @notice How long a failed payout waits for its payee before the insurer may release it.
    function PAYOUT_TIMEOUT() external view returns (uint256);

    /// @notice Most claims per {submitBatch} / {payBatch} call and most codes per {setCoverage}.
    function MAX_BATCH() external view returns (uint256);

    /// @notice Most plan periods one enrolment covers.
    function MAX_ENROLMENT_PERIODS() external view returns (uint32);

    /// @notice The directory's registrar role (may void a suspended insurer's enrolments).
    function REGISTRAR_ROLE() external view returns (bytes32);

    /// @notice EIP-712 type hash of the member's agreement to an enrolment. The domain is read with
    ///         ERC-5267 `eip712Domain()` (no `DOMAIN_SEPARATOR()` getter: this contract is within
    ///         a few hundred bytes of the EIP-170 size limit).
    function ENROLMENT_TYPEHASH() external view returns (bytes32);

    /// @notice The directory this contract asks who may act.
    function directory() external view returns (IParticipantDirectory);
}
