// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {Category, Purpose} from "../common/CareTypes.sol";
import {IConsentCheck} from "../common/IConsentCheck.sol";
import {DelegateForward} from "../common/DelegateForward.sol";
import {EmergencyPausable} from "../common/EmergencyPausable.sol";
import {IVersioned} from "../common/IMigratable.sol";
import {Migration} from "../common/Migration.sol";
import {IDispenseCheck} from "../common/IDispenseCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {AdjudicationMath} from "./AdjudicationMath.sol";
import {
    Adjudication,
    Carc,
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
import {ClaimAdmin} from "./ClaimAdmin.sol";
import {ClaimStorage} from "./ClaimStorage.sol";
import {IClaimSettlement} from "./IClaimSettlement.sol";
import {Pool, PoolLedger} from "./PoolLedger.sol";

/// @title ClaimSettlement
/// @notice See {IClaimSettlement}. Plans, enrolments, pools, claims and payouts in one contract;
///         the rule arithmetic lives in {AdjudicationMath}.
/// @dev    Storage is laid out for the hot path (submit + auto-approve, then pay): a claim takes
///         two fresh slots (member/status/plan/period, payee/amount); the lines hash, rule
///         version and denial time are written only on the queue, review and denial paths. The
///         member's cover in the service period (enrolment and accumulators) is one slot.
contract ClaimSettlement is IClaimSettlement, IVersioned, ClaimStorage, ReentrancyGuardTransient, EmergencyPausable {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using PoolLedger for Pool;

    // ================================================================== constants

    /// @notice Most lines per claim.
    uint256 public constant MAX_LINES = 16;
    /// @notice A drug unit backs a claim only if dispensed at most this long before it.
    uint256 public constant DISPENSE_WINDOW = 90 days;
    /// @notice How long an approved payout whose transfer failed waits for its payee to
    ///         receive it or redirect it before the insurer may release it to the pool.
    uint256 public constant PAYOUT_TIMEOUT = 180 days;
    /// @inheritdoc IClaimSettlement
    uint256 public constant MAX_BATCH = _MAX_BATCH;
    /// @inheritdoc IClaimSettlement
    uint32 public constant MAX_ENROLMENT_PERIODS = _MAX_ENROLMENT_PERIODS;
    /// @inheritdoc IClaimSettlement
    bytes32 public constant REGISTRAR_ROLE = _REGISTRAR_ROLE;
    /// @inheritdoc IClaimSettlement
    bytes32 public constant ENROLMENT_TYPEHASH = _ENROLMENT_TYPEHASH;

    uint8 private constant _SUBMITTERS = Roles.PROVIDER | Roles.PHARMACY;

    IConsentCheck private immutable _consent;
    IDispenseCheck private immutable _provenance;
    IERC20 private immutable _token;
    ClaimAdmin private immutable _admin;

    /// @param directory_  the ParticipantDirectory asked who may act.
    /// @param consent_    the consent registry asked for the member's HPAYMT consent.
    /// @param provenance_ the provenance registry asked about drug units (0: drug lines refused).
    /// @param token_      the ERC-20 the pools are funded and claims paid in.
    constructor(
        IParticipantDirectory directory_,
        IConsentCheck consent_,
        IDispenseCheck provenance_,
        IERC20 token_
    ) ClaimStorage(directory_) {
        if (address(directory_) == address(0) || address(consent_) == address(0) || address(token_) == address(0)) {
            revert ZeroAddress();
        }
        _consent = consent_;
        _provenance = provenance_;
        _token = token_;
        // Deployed from this constructor: its code counts against this contract's init code,
        // not its runtime code.
        _admin = new ClaimAdmin(directory_);
    }

    // ================================================================== plans and enrolment
    // Implemented by {ClaimAdmin}, run here by delegatecall (same storage, this contract's
    // address and events): it keeps this contract's runtime code under the 24,576-byte limit.

    /// @inheritdoc IClaimSettlement
    function createPlan(PlanTerms calldata) external whenNotPaused returns (PlanId) {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function scheduleRules(PlanId, uint40, bytes32) external whenNotPaused returns (uint32) {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function setCoverage(
        PlanId,
        uint32,
        bytes32[] calldata,
        CoverageRule[] calldata,
        bytes32[] calldata
    ) external whenNotPaused {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function setAdjuster(address, bool enabled) external {
        // Removing an adjuster works while paused (it narrows who decides); appointing does not.
        if (enabled) _requireNotPaused();
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function enrol(
        PlanId,
        address,
        bytes32,
        uint32,
        uint32,
        uint256,
        bytes calldata
    ) external whenNotPaused returns (uint32) {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function terminate(address, uint32, uint32) external whenNotPaused {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function voidEnrolment(address, uint32) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function succeedInsurer(PlanId) external {
        _delegateToAdmin();
    }

    /// @inheritdoc IClaimSettlement
    function directory() external view returns (IParticipantDirectory) {
        return _directory;
    }

    /// @notice The module that runs plan, rule and enrolment administration (see {ClaimAdmin}).
    function admin() external view returns (address) {
        return address(_admin);
    }

    /// @inheritdoc IVersioned
    function version() public pure virtual returns (uint16) {
        return 1;
    }

    /// @notice Every other call (the state import of a successor version and the pool's hand-over
    ///         to one: {IMigratable}, {ClaimAdmin-handOver}) runs in {ClaimAdmin}, which refuses
    ///         a selector it does not know.
    fallback() external {
        _delegateToAdmin();
    }

    /// @dev A successor version resumes only once its import is sealed.
    function _beforeUnpause() internal view virtual override {
        Migration.requireSealedIfSuccessor();
    }

    function _pauseAuthority() internal view override returns (IAccessControl) {
        return IAccessControl(address(_directory));
    }

    /// @dev Runs the call in {ClaimAdmin} on this contract's storage and returns (or reverts)
    ///      with exactly what it returned.
    function _delegateToAdmin() private {
        DelegateForward.forward(address(_admin));
    }

    // ================================================================== pool

    /// @inheritdoc IClaimSettlement
    function fund(PlanId planId, uint256 amount) external nonReentrant {
        _onlyActiveInsurer(planId);
        if (amount == 0) revert ZeroAmount();
        // Measure what arrived: a token that takes a fee would leave the pool short of what it
        // records, and a provider short of what was approved. Refuse it outright.
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert TokenFeeOnTransfer(amount, received);
        _pools[planId].deposit(amount);
        emit PoolFunded(planId, msg.sender, amount);
    }

    /// @inheritdoc IClaimSettlement
    function withdrawFree(PlanId planId, uint256 amount, address to) external whenNotPaused nonReentrant {
        _onlyActiveInsurer(planId);
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        Pool storage pool = _pools[planId];
        uint256 free = pool.free();
        // What approved claims are owed is never the insurer's to take back.
        if (amount > free) revert InsufficientFreeFunds(planId, amount, free);
        pool.withdraw(amount);
        _token.safeTransfer(to, amount);
        emit PoolWithdrawn(planId, to, amount);
    }

    // ================================================================== claims

    /// @inheritdoc IClaimSettlement
    function submit(ClaimInput calldata claim) external whenNotPaused returns (ClaimId claimId, ClaimStatus status) {
        return _submit(claim);
    }

    /// @inheritdoc IClaimSettlement
    function submitBatch(ClaimInput[] calldata claims) external whenNotPaused returns (ClaimId[] memory claimIds) {
        uint256 n = claims.length;
        if (n == 0 || n > MAX_BATCH) revert InvalidBatchSize(n, MAX_BATCH);
        claimIds = new ClaimId[](n);
        for (uint256 i; i < n; ++i) {
            (claimIds[i], ) = _submit(claims[i]);
        }
    }

    /// @inheritdoc IClaimSettlement
    function adjudicate(ClaimId claimId, Line[] calldata lines) external whenNotPaused returns (ClaimStatus status) {
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.Submitted) revert InvalidClaimStatus(claimId, cl.status);
        _checkLines(claimId, cl, lines);
        PlanId planId = cl.planId;
        Plan storage p = _plans[planId];
        Cover storage cover = _claimCover(cl, planId);
        Adjudication memory a = _compute(planId, cl.version, p, cover, lines);
        status = _decideByRules(claimId, cl, planId, cover, a, false);
    }

    /// @inheritdoc IClaimSettlement
    function review(
        ClaimId claimId,
        Line[] calldata lines,
        Decision decision,
        uint96 amount,
        uint16 reason
    ) external whenNotPaused returns (ClaimStatus status) {
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.PendingReview) revert InvalidClaimStatus(claimId, cl.status);
        PlanId planId = cl.planId;
        _checkReviewer(claimId, cl, planId);
        if (decision == Decision.Approve ? reason != 0 : (reason == 0 || reason > Carc.MAX)) {
            revert InvalidReason(decision, reason);
        }
        _checkLines(claimId, cl, lines);
        Cover storage cover = _claimCover(cl, planId);
        // The rules the claim was submitted under, whatever the insurer scheduled since.
        Adjudication memory a = _compute(planId, cl.version, _plans[planId], cover, lines);

        uint96 pays = 0;
        uint256 deductible = 0;
        if (decision == Decision.Deny || !a.anyCovered) {
            status = ClaimStatus.Denied;
            if (reason == 0) reason = Carc.NOT_COVERED;
        } else if (decision == Decision.PartiallyApprove) {
            if (amount == 0 || amount >= a.benefit) revert InvalidPartialAmount(claimId, amount, uint96(a.benefit));
            status = ClaimStatus.PartiallyApproved;
            pays = amount;
            deductible = a.deductible;
        } else {
            status = a.anyDenied ? ClaimStatus.PartiallyApproved : ClaimStatus.Approved;
            if (a.anyDenied) reason = Carc.NOT_COVERED;
            pays = uint96(a.benefit); // benefit <= annualMax, a uint96
            deductible = a.deductible;
        }
        if (status == ClaimStatus.Denied) {
            cl.status = status;
            cl.deniedAt = uint40(block.timestamp);
            emit ClaimAdjudicated(claimId, status, 0, 0, reason, msg.sender, a.lines);
        } else {
            _approve(claimId, cl, planId, cover, status, pays, deductible, true);
            emit ClaimAdjudicated(claimId, status, pays, uint96(deductible), reason, msg.sender, a.lines);
            if (pays == 0) _closeZero(claimId, cl, planId);
        }
    }

    /// @dev The caller may decide on the claim: the plan's insurer or its adjuster, not the
    ///      payee, and both the insurer and the adjuster active in the directory.
    function _checkReviewer(ClaimId claimId, Claim storage cl, PlanId planId) private view {
        address insurer = _plans[planId].insurer;
        if (msg.sender != insurer && !_adjusters[insurer][msg.sender]) revert NotAdjuster(planId, msg.sender);
        // Whoever decides must not be paid by the decision.
        if (msg.sender == cl.payee) revert AdjusterIsPayee(claimId, msg.sender);
        // A suspended insurer decides nothing, and neither does a suspended adjuster: adjusters
        // are directory participants, each checked on every decision.
        _directory.requireActive(insurer, Roles.INSURER);
        if (msg.sender != insurer) _directory.requireActive(msg.sender, Roles.ALL);
    }

    /// @inheritdoc IClaimSettlement
    function withdraw(ClaimId claimId) external {
        Claim storage cl = _claims[claimId];
        ClaimStatus s = cl.status;
        if (s != ClaimStatus.Submitted && s != ClaimStatus.PendingReview) revert InvalidClaimStatus(claimId, s);
        if (msg.sender != cl.payee) {
            // The insurer withdraws only what it submitted itself, and only while it is active:
            // a provider's claim is the provider's to withdraw.
            if (!cl.byInsurer || msg.sender != _plans[cl.planId].insurer) revert NotClaimParty(claimId, msg.sender);
            _directory.requireActive(msg.sender, Roles.INSURER);
        }
        cl.status = ClaimStatus.Withdrawn;
        emit ClaimWithdrawn(claimId, msg.sender);
    }

    /// @inheritdoc IClaimSettlement
    function appeal(ClaimId claimId) external {
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.Denied) revert InvalidClaimStatus(claimId, cl.status);
        if (msg.sender != cl.payee && msg.sender != cl.member) revert NotClaimParty(claimId, msg.sender);
        if (cl.appealed) revert AppealAlreadyUsed(claimId);
        uint256 deadline = uint256(cl.deniedAt) + _plans[cl.planId].appealWindow;
        if (block.timestamp >= deadline) revert AppealWindowClosed(claimId, deadline);
        cl.appealed = true;
        cl.status = ClaimStatus.PendingReview;
        emit ClaimAppealed(claimId, msg.sender);
        emit ClaimPendingReview(claimId, false, true);
    }

    /// @inheritdoc IClaimSettlement
    function pay(ClaimId claimId) external nonReentrant {
        Claim storage cl = _claims[claimId];
        (address payee, uint96 amount, PlanId planId, ) = _markPaid(claimId, cl);
        // State is final before the transfer (checks-effects-interactions, plus the guard).
        if (!_token.trySafeTransfer(payee, amount)) revert PayoutTransferFailed(claimId, payee);
        emit ClaimPaid(claimId, payee, planId, amount);
    }

    /// @inheritdoc IClaimSettlement
    function payBatch(ClaimId[] calldata claimIds) external nonReentrant returns (uint256 paidCount) {
        uint256 n = claimIds.length;
        if (n == 0 || n > MAX_BATCH) revert InvalidBatchSize(n, MAX_BATCH);
        for (uint256 i; i < n; ++i) {
            ClaimId claimId = claimIds[i];
            Claim storage cl = _claims[claimId];
            ClaimStatus now_ = cl.status;
            if (now_ != ClaimStatus.Approved && now_ != ClaimStatus.PartiallyApproved) {
                // Paid already, withdrawn, lapsed...: skip it, the rest of the batch goes on.
                emit PayoutSkipped(claimId, now_);
                continue;
            }
            (address payee, uint96 amount, PlanId planId, ClaimStatus was) = _markPaid(claimId, cl);
            if (_token.trySafeTransfer(payee, amount)) {
                emit ClaimPaid(claimId, payee, planId, amount);
                ++paidCount;
            } else {
                // A payee that cannot receive blocks nobody: undo its payout and go on.
                cl.status = was;
                cl.payee = payee;
                cl.amount = amount;
                _pools[planId].unpay(amount);
                if (cl.deferredAt == 0) cl.deferredAt = uint40(block.timestamp);
                emit PayoutDeferred(claimId, payee);
            }
        }
    }

    /// @inheritdoc IClaimSettlement
    function redirectPayout(ClaimId claimId, address to) external {
        Claim storage cl = _claims[claimId];
        ClaimStatus s = cl.status;
        if (s != ClaimStatus.Approved && s != ClaimStatus.PartiallyApproved) revert InvalidClaimStatus(claimId, s);
        address from = cl.payee;
        // The payee, or the key it rotated to in the directory (its payouts follow it).
        if (msg.sender != from && _directory.currentKey(from) != msg.sender) revert NotClaimParty(claimId, msg.sender);
        if (to == address(0)) revert ZeroAddress();
        cl.payee = to;
        cl.deferredAt = 0; // a fresh payee gets a fresh timeout
        emit PayoutRedirected(claimId, from, to);
    }

    /// @inheritdoc IClaimSettlement
    function releaseLapsed(ClaimId claimId) external {
        Claim storage cl = _claims[claimId];
        ClaimStatus s = cl.status;
        if (s != ClaimStatus.Approved && s != ClaimStatus.PartiallyApproved) revert InvalidClaimStatus(claimId, s);
        PlanId planId = cl.planId;
        _onlyActiveInsurer(planId);
        uint256 deferredAt = cl.deferredAt;
        // Only a payout the token refused, and only after the payee had PAYOUT_TIMEOUT to fix
        // it (or redirect): the insurer never takes back what a payee can still receive.
        if (deferredAt == 0 || block.timestamp < deferredAt + PAYOUT_TIMEOUT) {
            revert PayoutNotLapsed(claimId, deferredAt == 0 ? 0 : deferredAt + PAYOUT_TIMEOUT);
        }
        address payee = cl.payee;
        uint96 amount = cl.amount;
        cl.status = ClaimStatus.Lapsed;
        cl.payee = address(0);
        cl.amount = 0;
        _pools[planId].release(amount);
        emit PayoutLapsed(claimId, payee, planId, amount);
    }

    // ================================================================== reads

    /// @inheritdoc IClaimSettlement
    function quote(
        address member,
        uint32 servicePeriod,
        Line[] calldata lines
    ) external view returns (Adjudication memory) {
        Cover storage cover = _covers[member][servicePeriod];
        if (cover.enrolment == 0 || cover.voided) revert NotEnrolled(member, servicePeriod);
        PlanId planId = cover.planId;
        Plan storage p = _plans[planId];
        return _compute(planId, _versionInForce(p), p, cover, lines);
    }

    /// @inheritdoc IClaimSettlement
    function claimIdOf(
        address member,
        address payee,
        uint32 servicePeriod,
        bytes32 episode,
        uint16 resubmission
    ) external pure returns (ClaimId) {
        return _claimId(member, payee, servicePeriod, episode, resubmission);
    }

    /// @inheritdoc IClaimSettlement
    function claimOf(ClaimId claimId) external view returns (Claim memory) {
        return _claims[claimId];
    }

    /// @inheritdoc IClaimSettlement
    function planOf(PlanId planId) external view returns (address insurer, PlanTerms memory terms) {
        Plan storage p = _plans[planId];
        insurer = p.insurer;
        terms = PlanTerms({
            deductible: p.deductible,
            annualMax: p.annualMax,
            autoApproveLimit: p.autoApproveLimit,
            appealWindow: p.appealWindow,
            periodStart: p.periodStart,
            periodLength: p.periodLength,
            filingWindow: p.filingWindow,
            ruleNotice: p.ruleNotice
        });
    }

    /// @inheritdoc IClaimSettlement
    function coverageOf(
        PlanId planId,
        uint32 version,
        bytes32 code
    ) external view returns (CoverageRule memory rule, bytes32 gtinBinding) {
        return (_rules[planId][version][code], _gtinBindings[planId][version][code]);
    }

    /// @inheritdoc IClaimSettlement
    function rulesInForce(PlanId planId) external view returns (uint32 version, uint32 latest) {
        Plan storage p = _plans[planId];
        return (_versionInForce(p), p.versions);
    }

    /// @inheritdoc IClaimSettlement
    function periodAt(PlanId planId, uint256 timestamp) external view returns (uint32) {
        Plan storage p = _plans[planId];
        if (p.insurer == address(0)) revert UnknownPlan(planId);
        if (timestamp < p.periodStart) revert PlanNotStarted(planId, p.periodStart);
        return ((timestamp - p.periodStart) / p.periodLength).toUint32();
    }

    /// @inheritdoc IClaimSettlement
    function enrolmentOf(address member, uint32 enrolment) external view returns (Enrolment memory, uint32 count) {
        return (_enrolments[member][enrolment], _enrolmentCount[member]);
    }

    /// @inheritdoc IClaimSettlement
    function coverOf(address member, uint32 period) external view returns (Cover memory) {
        return _covers[member][period];
    }

    /// @inheritdoc IClaimSettlement
    function poolOf(PlanId planId) external view returns (PoolView memory v) {
        if (_plans[planId].insurer == address(0)) revert UnknownPlan(planId);
        v = _pools[planId].read();
    }

    /// @inheritdoc IClaimSettlement
    function isAdjuster(address insurer, address account) external view returns (bool) {
        return _adjusters[insurer][account];
    }

    /// @notice The directory, consent registry, provenance registry and token this contract uses.
    function wiring()
        external
        view
        returns (IParticipantDirectory directory, IConsentCheck consent, IDispenseCheck provenance, IERC20 token)
    {
        return (_directory, _consent, _provenance, _token);
    }

    // ================================================================== internal: submission

    function _submit(ClaimInput calldata c) private returns (ClaimId claimId, ClaimStatus status) {
        (Cover storage cover, Plan storage p, uint32 version, uint256 consentId) = _checkSubmission(c);
        PlanId planId = cover.planId;
        claimId = _record(c, planId, version, consentId, msg.sender == p.insurer);
        Claim storage cl = _claims[claimId];
        Adjudication memory a = _compute(planId, version, p, cover, c.lines);
        status = _decideByRules(claimId, cl, planId, cover, a, true);
        // Claims a person (or a later crank) must still decide keep a hash of their lines and
        // the rule version; the decider passes the lines back (from ClaimSubmitted) and they
        // are checked against the hash.
        if (status == ClaimStatus.Submitted || status == ClaimStatus.PendingReview || status == ClaimStatus.Denied) {
            cl.linesHash = keccak256(abi.encode(c.lines));
            cl.version = version;
        }
    }

    /// @dev Who may submit, for which member and period, with which consent. Returns the plan
    ///      member's cover in the service period, its plan and the rule version in force.
    function _checkSubmission(
        ClaimInput calldata c
    ) private view returns (Cover storage cover, Plan storage p, uint32 version, uint256 consentId) {
        address member = c.member;
        address payee = c.payee;
        uint32 period = c.servicePeriod;
        // The enrolment that covers the service period, not the member's latest one.
        cover = _covers[member][period];
        if (cover.enrolment == 0 || cover.voided) revert NotEnrolled(member, period);
        PlanId planId = cover.planId;
        p = _plans[planId];

        // A provider/pharmacy claims for itself; the plan's insurer may claim for the member.
        if (msg.sender == p.insurer) {
            _directory.requireActive(msg.sender, Roles.INSURER);
            if (payee != member) _directory.requireActive(payee, _SUBMITTERS);
        } else {
            _directory.requireActive(msg.sender, _SUBMITTERS);
            if (payee != msg.sender) revert PayeeNotSubmitter(payee, msg.sender);
        }

        // Windows by block time and plan periods: no date of service on chain.
        uint256 start = p.periodStart;
        if (block.timestamp < start) revert PlanNotStarted(planId, start);
        uint256 length = p.periodLength;
        uint32 current = uint32((block.timestamp - start) / length); // periods since start fit 32 bits for 4e9 years
        if (period > current) revert ServicePeriodInFuture(period, current);
        uint256 deadline = start + (uint256(period) + 1) * length + p.filingWindow;
        if (block.timestamp >= deadline) revert FilingWindowClosed(period, deadline);
        if (c.episode == bytes32(0)) revert EmptyEpisode();
        version = _versionInForce(p);
        if (version == 0) revert NoRulesInForce(planId);

        // The member's consent (under the plan pseudonym) to share financial data for payment.
        bool allowed;
        (allowed, consentId) = _consent.canAccess(member, msg.sender, Category.FINANCIAL, Purpose.HPAYMT);
        if (!allowed) revert NoPaymentConsent(member, msg.sender);
    }

    /// @dev Derives the id (duplicates refused by it), checks lines and drug units, stores the
    ///      claim as {ClaimStatus.Submitted} and emits {ClaimSubmitted}.
    function _record(
        ClaimInput calldata c,
        PlanId planId,
        uint32 version,
        uint256 consentId,
        bool byInsurer
    ) private returns (ClaimId claimId) {
        claimId = _claimId(c.member, c.payee, c.servicePeriod, c.episode, c.resubmission);
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.None) revert DuplicateClaim(claimId);
        if (c.resubmission != 0) {
            ClaimId prev = _claimId(c.member, c.payee, c.servicePeriod, c.episode, c.resubmission - 1);
            ClaimStatus ps = _claims[prev].status;
            if (ps != ClaimStatus.Withdrawn) revert ResubmissionNotAllowed(prev, ps);
        }
        _checkLinesAndUnits(claimId, c, planId, version);
        cl.member = c.member;
        cl.planId = planId;
        cl.period = c.servicePeriod;
        cl.status = ClaimStatus.Submitted;
        cl.payee = c.payee;
        if (byInsurer) cl.byInsurer = true;
        _emitSubmitted(claimId, c, planId, version, consentId);
    }

    function _emitSubmitted(
        ClaimId claimId,
        ClaimInput calldata c,
        PlanId planId,
        uint32 version,
        uint256 consentId
    ) private {
        emit ClaimSubmitted(
            claimId,
            c.member,
            c.payee,
            planId,
            version,
            c.servicePeriod,
            msg.sender,
            consentId,
            c.resubmission,
            c.episode,
            c.fhirClaim,
            c.lines
        );
    }

    /// @dev Shape checks on the lines, per-period codes, and drug units.
    function _checkLinesAndUnits(ClaimId claimId, ClaimInput calldata c, PlanId planId, uint32 version) private {
        uint256 n = c.lines.length;
        if (n == 0 || n > MAX_LINES) revert InvalidLineCount(n, MAX_LINES);
        bytes32 prevCode = bytes32(0);
        for (uint256 i; i < n; ++i) {
            prevCode = _checkLine(claimId, c, planId, version, i, prevCode);
        }
    }

    function _checkLine(
        ClaimId claimId,
        ClaimInput calldata c,
        PlanId planId,
        uint32 version,
        uint256 i,
        bytes32 prevCode
    ) private returns (bytes32 code) {
        Line calldata ln = c.lines[i];
        if (ln.units == 0 || ln.billed == 0) revert InvalidLine(i);
        code = ln.code;
        // Strictly increasing codes: the lines' order is fixed and a code has one line (no
        // duplicate by splitting a line in two).
        if (code <= prevCode) revert LinesNotSorted(i);
        CoverageRule storage rule = _rules[planId][version][code];
        if (rule.oncePerPeriod) _claimOncePerPeriod(claimId, c.member, c.servicePeriod, code);
        if (rule.requiresUnit) {
            if (ln.unitIds.length != ln.units) revert DrugUnitsRequired(i, ln.units, ln.unitIds.length);
            _checkUnits(claimId, c.payee, i, ln, _gtinBindings[planId][version][code]);
        } else if (ln.unitIds.length != 0) {
            revert UnitsNotExpected(i);
        }
    }

    /// @dev A code the plan allows once per member and period: one live claim holds it (a
    ///      duplicate by shifting the day inside the FHIR claim is refused here).
    function _claimOncePerPeriod(ClaimId claimId, address member, uint32 period, bytes32 code) private {
        ClaimId holder = _periodClaims[member][period][code];
        if (ClaimId.unwrap(holder) != bytes32(0) && _claims[holder].status != ClaimStatus.Withdrawn) {
            revert CodeAlreadyClaimedInPeriod(code, period, holder);
        }
        _periodClaims[member][period][code] = claimId;
    }

    /// @dev Drug line `index`: each unit was dispensed by the payee within {DISPENSE_WINDOW}
    ///      before now, is of the product the plan binds to the code, from a batch neither
    ///      recalled nor quarantined, and cited by no other live claim. The rule on recall and
    ///      quarantine: checked here, once, at submission; a claim accepted before its batch
    ///      was recalled or quarantined (dispensed in good faith) goes on to be decided and paid.
    function _checkUnits(ClaimId claimId, address payee, uint256 index, Line calldata ln, bytes32 binding) private {
        uint256 n = ln.unitIds.length;
        bytes32 salt = ln.gtinSalt;
        for (uint256 j; j < n; ++j) {
            bytes32 unitId = ln.unitIds[j];
            if (address(_provenance) == address(0)) revert DrugUnitsUnsupported(unitId);
            IDispenseCheck.Dispense memory d = _provenance.dispenseOf(unitId);
            if (d.pharmacy != payee && _directory.currentKey(d.pharmacy) != payee) {
                // Dispensed under the pharmacy's previous key counts for its current one.
                revert UnitNotDispensedByPayee(unitId, d.pharmacy, payee);
            }
            if (d.recalled) revert UnitRecalled(unitId, d.batchId);
            if (d.quarantined) revert UnitQuarantined(unitId, d.batchId);
            // dispensedAt <= block.timestamp: the registry stamps it with the dispensing block.
            if (block.timestamp - d.dispensedAt > DISPENSE_WINDOW) {
                revert UnitDispenseOutsideWindow(unitId, d.dispensedAt, DISPENSE_WINDOW);
            }
            // The product matches the plan's keyed code<->GTIN binding (the table reveals no GTIN).
            if (keccak256(abi.encode(d.gtin, salt)) != binding) revert UnitProductMismatch(index, unitId);
            ClaimId holder = _unitClaims[unitId];
            if (ClaimId.unwrap(holder) != bytes32(0) && _claims[holder].status != ClaimStatus.Withdrawn) {
                revert UnitAlreadyClaimed(unitId, holder);
            }
            _unitClaims[unitId] = claimId;
        }
    }

    function _claimId(
        address member,
        address payee,
        uint32 period,
        bytes32 episode,
        uint16 resubmission
    ) private pure returns (ClaimId) {
        return ClaimId.wrap(keccak256(abi.encode(member, payee, period, episode, resubmission)));
    }

    /// @dev The member's cover of the claim's period, still in the claim's plan: a claim left
    ///      waiting when its enrolment was voided (and the member perhaps joined another plan for
    ///      that year) is decided by no one; its payee withdraws it.
    function _claimCover(Claim storage cl, PlanId planId) private view returns (Cover storage cover) {
        cover = _covers[cl.member][cl.period];
        if (PlanId.unwrap(cover.planId) != PlanId.unwrap(planId) || cover.voided)
            revert NotEnrolled(cl.member, cl.period);
    }

    function _checkLines(ClaimId claimId, Claim storage cl, Line[] calldata lines) private view {
        bytes32 given = keccak256(abi.encode(lines));
        if (given != cl.linesHash) revert LinesMismatch(claimId, cl.linesHash, given);
    }

    // ================================================================== internal: adjudication

    /// @dev The rule table over the lines, from the enrolment's accumulators now. View only.
    function _compute(
        PlanId planId,
        uint32 version,
        Plan storage p,
        Cover storage e,
        Line[] calldata lines
    ) private view returns (Adjudication memory a) {
        (uint256 dedLeft, uint256 maxLeft) = _remaining(p, e);
        uint256 n = lines.length;
        a.lines = new LineAdjudication[](n);
        for (uint256 i; i < n; ++i) {
            Line calldata ln = lines[i];
            CoverageRule memory rule = _rules[planId][version][ln.code];
            LineAdjudication memory la = AdjudicationMath.line(rule, ln.units, ln.billed, dedLeft, maxLeft);
            a.lines[i] = la;
            dedLeft -= la.deductible;
            maxLeft -= la.benefit;
            a.billed += ln.billed;
            a.deductible += la.deductible;
            a.benefit += la.benefit;
            if (rule.covered) {
                a.anyCovered = true;
                if (rule.preAuth) a.preAuth = true;
            } else {
                a.anyDenied = true;
            }
        }
        a.needsReview = a.preAuth || a.billed > p.autoApproveLimit;
    }

    /// @dev What remains of the member's deductible and annual maximum in this enrolment.
    function _remaining(Plan storage p, Cover storage e) private view returns (uint256 dedLeft, uint256 maxLeft) {
        uint256 deductible = p.deductible;
        uint256 annualMax = p.annualMax;
        uint256 met = e.deductibleMet;
        uint256 used = e.benefitPaid;
        dedLeft = met < deductible ? deductible - met : 0;
        maxLeft = used < annualMax ? annualMax - used : 0;
    }

    /// @dev Applies the rules' decision: review, denial, queue (pool short) or approval.
    function _decideByRules(
        ClaimId claimId,
        Claim storage cl,
        PlanId planId,
        Cover storage e,
        Adjudication memory a,
        bool queueIfShort
    ) private returns (ClaimStatus status) {
        if (a.needsReview) {
            status = ClaimStatus.PendingReview;
            cl.status = status;
            emit ClaimPendingReview(claimId, a.preAuth, false);
            return status;
        }
        if (!a.anyCovered) {
            status = ClaimStatus.Denied;
            cl.status = status;
            cl.deniedAt = uint40(block.timestamp);
            emit ClaimAdjudicated(claimId, status, 0, 0, Carc.NOT_COVERED, address(0), a.lines);
            return status;
        }
        uint96 pays = uint96(a.benefit); // benefit <= annualMax, a uint96
        if (queueIfShort) {
            uint256 free = _pools[planId].free();
            if (pays > free) {
                emit ClaimQueued(claimId, pays, free);
                return ClaimStatus.Submitted;
            }
        }
        status = a.anyDenied ? ClaimStatus.PartiallyApproved : ClaimStatus.Approved;
        _approve(claimId, cl, planId, e, status, pays, a.deductible, !queueIfShort);
        emit ClaimAdjudicated(
            claimId,
            status,
            pays,
            uint96(a.deductible),
            a.anyDenied ? Carc.NOT_COVERED : 0,
            address(0),
            a.lines
        );
        if (pays == 0) _closeZero(claimId, cl, planId);
    }

    /// @dev Books an approval: accumulators, the pool's debt to the payee, the claim's status.
    function _approve(
        ClaimId,
        Claim storage cl,
        PlanId planId,
        Cover storage e,
        ClaimStatus status,
        uint96 pays,
        uint256 deductible,
        bool checkFunds
    ) private {
        Pool storage pool = _pools[planId];
        if (checkFunds) {
            uint256 free = pool.free();
            if (pays > free) revert InsufficientFreeFunds(planId, pays, free);
        }
        // Both stay within their limits (< 2^80): the rules cap deductible and benefit by what remains.
        e.deductibleMet += uint80(deductible);
        e.benefitPaid += uint80(pays);
        pool.owe(pays);
        cl.status = status;
        cl.amount = pays;
    }

    /// @dev An approval worth nothing (all to the deductible, say) is settled at once.
    function _closeZero(ClaimId claimId, Claim storage cl, PlanId planId) private {
        address payee = cl.payee;
        cl.status = ClaimStatus.Paid;
        cl.payee = address(0); // as after any payout: the payee lives in the ClaimPaid event
        emit ClaimPaid(claimId, payee, planId, 0);
    }

    // ================================================================== internal: payout and access

    function _markPaid(
        ClaimId claimId,
        Claim storage cl
    ) private returns (address payee, uint96 amount, PlanId planId, ClaimStatus was) {
        was = cl.status;
        if (was != ClaimStatus.Approved && was != ClaimStatus.PartiallyApproved)
            revert InvalidClaimStatus(claimId, was);
        planId = cl.planId;
        payee = cl.payee;
        amount = cl.amount;
        cl.status = ClaimStatus.Paid;
        // Payee and amount now live in the ClaimPaid event; clearing the slot refunds gas.
        cl.payee = address(0);
        cl.amount = 0;
        _pools[planId].pay(amount);
    }
}
