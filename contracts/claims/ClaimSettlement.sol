// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {Category, Purpose} from "../common/CareTypes.sol";
import {IConsentCheck} from "../common/IConsentCheck.sol";
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
    CoverageRule,
    Decision,
    Enrolment,
    Line,
    LineAdjudication,
    PlanId,
    PlanTerms,
    PoolView
} from "./ClaimTypes.sol";
import {IClaimSettlement} from "./IClaimSettlement.sol";

/// @title ClaimSettlement
/// @notice See {IClaimSettlement}. Plans, enrolments, pools, claims and payouts in one contract;
///         the rule arithmetic lives in {AdjudicationMath}.
/// @dev    Storage is laid out for the hot path (submit + auto-approve, then pay): a claim takes
///         two fresh slots (member/status/plan/enrolment, payee/amount); the lines hash and the
///         denial time are written only on the review and denial paths.
contract ClaimSettlement is IClaimSettlement, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    // ================================================================== constants

    /// @notice Most claims per {submitBatch} / {payBatch} call and most codes per {setCoverage}.
    ///         100 one-line claims use about 7M gas, well inside a 30M block.
    uint256 public constant MAX_BATCH = 100;
    /// @notice Most lines per claim.
    uint256 public constant MAX_LINES = 16;
    /// @notice A drug unit backs a claim only if dispensed at most this long before it.
    uint256 public constant DISPENSE_WINDOW = 90 days;
    /// @notice How long an approved payout whose transfer failed waits for its payee to
    ///         receive it or redirect it before the insurer may release it to the pool.
    uint256 public constant PAYOUT_TIMEOUT = 180 days;

    uint8 private constant _SUBMITTERS = Roles.PROVIDER | Roles.PHARMACY;

    // ================================================================== storage

    struct Plan {
        address insurer;
        uint96 autoApproveLimit;
        uint96 deductible;
        uint96 annualMax;
        uint32 appealWindow;
    }

    struct Pool {
        uint128 deposited;
        uint128 withdrawn;
        uint128 paid;
        uint128 owed;
    }

    IParticipantDirectory private immutable _directory;
    IConsentCheck private immutable _consent;
    IDispenseCheck private immutable _provenance;
    IERC20 private immutable _token;

    uint32 private _planCount;
    mapping(PlanId planId => Plan) private _plans;
    mapping(PlanId planId => mapping(bytes32 code => CoverageRule)) private _rules;
    mapping(PlanId planId => Pool) private _pools;
    mapping(address insurer => mapping(address account => bool)) private _adjusters;
    mapping(address member => uint32) private _enrolmentCount;
    mapping(address member => mapping(uint32 enrolment => Enrolment)) private _enrolments;
    mapping(ClaimId claimId => Claim) private _claims;
    mapping(bytes32 unitId => ClaimId) private _unitClaims;

    /// @param directory_  the ParticipantDirectory asked who may act.
    /// @param consent_    the consent registry asked for the member's HPAYMT consent.
    /// @param provenance_ the provenance registry asked about drug units (0: drug lines refused).
    /// @param token_      the ERC-20 the pools are funded and claims paid in.
    constructor(IParticipantDirectory directory_, IConsentCheck consent_, IDispenseCheck provenance_, IERC20 token_) {
        if (address(directory_) == address(0) || address(consent_) == address(0) || address(token_) == address(0)) {
            revert ZeroAddress();
        }
        _directory = directory_;
        _consent = consent_;
        _provenance = provenance_;
        _token = token_;
    }

    // ================================================================== plans

    /// @inheritdoc IClaimSettlement
    function createPlan(PlanTerms calldata terms) external returns (PlanId planId) {
        _directory.requireActive(msg.sender, Roles.INSURER);
        if (terms.annualMax == 0 || terms.annualMax > type(uint80).max || terms.deductible > type(uint80).max) {
            revert InvalidPlanTerms(terms.deductible, terms.annualMax);
        }
        planId = PlanId.wrap(++_planCount);
        // `owed` is stored plus one so the slot never returns to zero: paying the last claim
        // and approving the next would otherwise cost a fresh 20,000-gas write each time.
        _pools[planId].owed = 1;
        _plans[planId] = Plan({
            insurer: msg.sender,
            autoApproveLimit: terms.autoApproveLimit,
            deductible: terms.deductible,
            annualMax: terms.annualMax,
            appealWindow: terms.appealWindow
        });
        emit PlanCreated(planId, msg.sender, terms);
    }

    /// @inheritdoc IClaimSettlement
    function setCoverage(PlanId planId, bytes32[] calldata codes, CoverageRule[] calldata rules) external {
        _onlyActiveInsurer(planId);
        uint256 n = codes.length;
        if (n == 0 || n != rules.length || n > MAX_BATCH) revert InvalidRuleTable(n, rules.length);
        for (uint256 i; i < n; ++i) {
            bytes32 code = codes[i];
            CoverageRule calldata rule = rules[i];
            if (code == bytes32(0)) revert InvalidCode(code);
            if (rule.coinsuranceBps > AdjudicationMath.BPS) revert InvalidCoinsurance(code, rule.coinsuranceBps);
            _rules[planId][code] = rule;
            emit CoverageSet(planId, code, rule);
        }
    }

    /// @inheritdoc IClaimSettlement
    function setAdjuster(address adjuster, bool allowed) external {
        _directory.requireActive(msg.sender, Roles.INSURER);
        if (adjuster == address(0)) revert ZeroAddress();
        _adjusters[msg.sender][adjuster] = allowed;
        emit AdjusterSet(msg.sender, adjuster, allowed);
    }

    /// @inheritdoc IClaimSettlement
    function enrol(
        PlanId planId,
        address member,
        bytes32 memberRecord,
        uint32 startDay,
        uint32 endDay
    ) external returns (uint32 enrolment) {
        _onlyActiveInsurer(planId);
        if (member == address(0)) revert ZeroAddress();
        if (memberRecord == bytes32(0)) revert EmptyCommitment();
        if (startDay > endDay) revert InvalidCoveragePeriod(startDay, endDay);
        uint32 current = _enrolmentCount[member];
        if (current != 0) {
            // One enrolment at a time: accumulators belong to one coverage period.
            Enrolment storage prev = _enrolments[member][current];
            if (prev.endDay >= startDay) revert MemberStillEnrolled(member, prev.planId, prev.endDay);
        }
        enrolment = current + 1;
        _enrolmentCount[member] = enrolment;
        Enrolment storage e = _enrolments[member][enrolment];
        e.planId = planId;
        e.startDay = startDay;
        e.endDay = endDay;
        e.memberRecord = memberRecord;
        emit MemberEnrolled(planId, member, enrolment, memberRecord, startDay, endDay);
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
        Pool storage pool = _pools[planId];
        pool.deposited = (uint256(pool.deposited) + amount).toUint128();
        emit PoolFunded(planId, msg.sender, amount);
    }

    /// @inheritdoc IClaimSettlement
    function withdrawFree(PlanId planId, uint256 amount, address to) external nonReentrant {
        _onlyActiveInsurer(planId);
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        Pool storage pool = _pools[planId];
        uint256 free = _free(pool);
        // What approved claims are owed is never the insurer's to take back.
        if (amount > free) revert InsufficientFreeFunds(planId, amount, free);
        pool.withdrawn += uint128(amount); // amount <= free <= deposited, a uint128
        _token.safeTransfer(to, amount);
        emit PoolWithdrawn(planId, to, amount);
    }

    // ================================================================== claims

    /// @inheritdoc IClaimSettlement
    function submit(ClaimInput calldata claim) external returns (ClaimId claimId, ClaimStatus status) {
        return _submit(claim);
    }

    /// @inheritdoc IClaimSettlement
    function submitBatch(ClaimInput[] calldata claims) external returns (ClaimId[] memory claimIds) {
        uint256 n = claims.length;
        if (n == 0 || n > MAX_BATCH) revert InvalidBatchSize(n, MAX_BATCH);
        claimIds = new ClaimId[](n);
        for (uint256 i; i < n; ++i) {
            (claimIds[i], ) = _submit(claims[i]);
        }
    }

    /// @inheritdoc IClaimSettlement
    function adjudicate(ClaimId claimId, Line[] calldata lines) external returns (ClaimStatus status) {
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.Submitted) revert InvalidClaimStatus(claimId, cl.status);
        _checkLines(claimId, cl, lines);
        PlanId planId = cl.planId;
        Plan storage p = _plans[planId];
        Enrolment storage e = _enrolments[cl.member][cl.enrolment];
        Adjudication memory a = _compute(planId, p, e, lines);
        status = _decideByRules(claimId, cl, planId, e, a, false);
    }

    /// @inheritdoc IClaimSettlement
    function review(
        ClaimId claimId,
        Line[] calldata lines,
        Decision decision,
        uint96 amount,
        uint16 reason
    ) external returns (ClaimStatus status) {
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.PendingReview) revert InvalidClaimStatus(claimId, cl.status);
        PlanId planId = cl.planId;
        Plan storage p = _plans[planId];
        address insurer = p.insurer;
        if (msg.sender != insurer && !_adjusters[insurer][msg.sender]) revert NotAdjuster(planId, msg.sender);
        // Whoever decides must not be paid by the decision.
        if (msg.sender == cl.payee) revert AdjusterIsPayee(claimId, msg.sender);
        // A suspended insurer decides nothing, and neither does a suspended adjuster: adjusters
        // are directory participants, each checked on every decision.
        _directory.requireActive(insurer, Roles.INSURER);
        if (msg.sender != insurer) _directory.requireActive(msg.sender, Roles.ALL);
        if (decision == Decision.Approve ? reason != 0 : (reason == 0 || reason > Carc.MAX)) {
            revert InvalidReason(decision, reason);
        }
        _checkLines(claimId, cl, lines);
        Enrolment storage e = _enrolments[cl.member][cl.enrolment];
        Adjudication memory a = _compute(planId, p, e, lines);

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
            _approve(claimId, cl, planId, e, status, pays, deductible, true);
            emit ClaimAdjudicated(claimId, status, pays, uint96(deductible), reason, msg.sender, a.lines);
            if (pays == 0) _closeZero(claimId, cl, planId);
        }
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
                Pool storage pool = _pools[planId];
                pool.paid -= amount;
                pool.owed += amount;
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
        if (msg.sender != from) revert NotClaimParty(claimId, msg.sender);
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
        _pools[planId].owed -= amount;
        emit PayoutLapsed(claimId, payee, planId, amount);
    }

    // ================================================================== reads

    /// @inheritdoc IClaimSettlement
    function quote(address member, Line[] calldata lines) external view returns (Adjudication memory) {
        uint32 idx = _enrolmentCount[member];
        if (idx == 0) revert NotEnrolled(member);
        Enrolment storage e = _enrolments[member][idx];
        PlanId planId = e.planId;
        return _compute(planId, _plans[planId], e, lines);
    }

    /// @inheritdoc IClaimSettlement
    function claimIdOf(
        address member,
        address payee,
        uint32 serviceDay,
        uint16 resubmission,
        bytes32[] calldata codes
    ) external pure returns (ClaimId) {
        return _claimId(member, payee, serviceDay, resubmission, keccak256(abi.encodePacked(codes)));
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
            appealWindow: p.appealWindow
        });
    }

    /// @inheritdoc IClaimSettlement
    function coverageOf(PlanId planId, bytes32 code) external view returns (CoverageRule memory) {
        return _rules[planId][code];
    }

    /// @inheritdoc IClaimSettlement
    function enrolmentOf(address member) external view returns (uint32 enrolment, Enrolment memory) {
        enrolment = _enrolmentCount[member];
        return (enrolment, _enrolments[member][enrolment]);
    }

    /// @inheritdoc IClaimSettlement
    function poolOf(PlanId planId) external view returns (PoolView memory v) {
        if (_plans[planId].insurer == address(0)) revert UnknownPlan(planId);
        Pool storage pool = _pools[planId];
        v.deposited = pool.deposited;
        v.withdrawn = pool.withdrawn;
        v.funded = v.deposited - v.withdrawn;
        v.paid = pool.paid;
        v.owed = pool.owed - 1; // stored plus one (see createPlan)
        v.free = v.funded - v.paid - v.owed;
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
        (uint32 idx, PlanId planId, uint256 consentId) = _checkSubmission(c);
        claimId = _record(c, idx, planId, consentId);
        Claim storage cl = _claims[claimId];
        Enrolment storage e = _enrolments[c.member][idx];
        Adjudication memory a = _compute(planId, _plans[planId], e, c.lines);
        status = _decideByRules(claimId, cl, planId, e, a, true);
        // Claims a person (or a later crank) must still decide keep a hash of their lines; the
        // decider passes the lines back (from ClaimSubmitted) and they are checked against it.
        if (status == ClaimStatus.Submitted || status == ClaimStatus.PendingReview || status == ClaimStatus.Denied) {
            cl.linesHash = keccak256(abi.encode(c.lines));
        }
    }

    /// @dev Who may submit, for which member and day, with which consent. Returns the member's
    ///      enrolment number and plan.
    function _checkSubmission(
        ClaimInput calldata c
    ) private view returns (uint32 idx, PlanId planId, uint256 consentId) {
        address member = c.member;
        address payee = c.payee;
        idx = _enrolmentCount[member];
        if (idx == 0) revert NotEnrolled(member);
        Enrolment storage e = _enrolments[member][idx];
        planId = e.planId;

        // A provider/pharmacy claims for itself; the plan's insurer may claim for the member.
        if (msg.sender == _plans[planId].insurer) {
            _directory.requireActive(msg.sender, Roles.INSURER);
            if (payee != member) _directory.requireActive(payee, _SUBMITTERS);
        } else {
            _directory.requireActive(msg.sender, _SUBMITTERS);
            if (payee != msg.sender) revert PayeeNotSubmitter(payee, msg.sender);
        }

        uint32 day = c.serviceDay;
        uint32 today = uint32(block.timestamp / 1 days);
        if (day > today) revert ServiceDayInFuture(day, today);
        if (day < e.startDay || day > e.endDay) revert ServiceNotCovered(member, day, e.startDay, e.endDay);

        // The member's consent to share financial data for payment, with this submitter.
        bool allowed;
        (allowed, consentId) = _consent.canAccess(member, msg.sender, Category.FINANCIAL, Purpose.HPAYMT);
        if (!allowed) revert NoPaymentConsent(member, msg.sender);
    }

    /// @dev Derives the id (duplicates refused by it), checks drug units, stores the claim as
    ///      {ClaimStatus.Submitted} and emits {ClaimSubmitted}.
    function _record(
        ClaimInput calldata c,
        uint32 idx,
        PlanId planId,
        uint256 consentId
    ) private returns (ClaimId claimId) {
        Line[] calldata lines = c.lines;
        bytes32 codesHash = _validateLines(planId, lines);
        claimId = _claimId(c.member, c.payee, c.serviceDay, c.resubmission, codesHash);
        Claim storage cl = _claims[claimId];
        if (cl.status != ClaimStatus.None) revert DuplicateClaim(claimId);
        if (c.resubmission != 0) {
            ClaimId prev = _claimId(c.member, c.payee, c.serviceDay, c.resubmission - 1, codesHash);
            ClaimStatus ps = _claims[prev].status;
            if (ps != ClaimStatus.Withdrawn) revert ResubmissionNotAllowed(prev, ps);
        }
        _checkUnits(claimId, c.payee, lines);
        cl.member = c.member;
        cl.planId = planId;
        cl.enrolment = idx;
        cl.status = ClaimStatus.Submitted;
        cl.payee = c.payee;
        if (msg.sender == _plans[planId].insurer) cl.byInsurer = true;
        _emitSubmitted(claimId, c, planId, idx, consentId);
    }

    function _emitSubmitted(
        ClaimId claimId,
        ClaimInput calldata c,
        PlanId planId,
        uint32 idx,
        uint256 consentId
    ) private {
        emit ClaimSubmitted(
            claimId,
            c.member,
            c.payee,
            planId,
            idx,
            msg.sender,
            consentId,
            c.serviceDay,
            c.resubmission,
            c.fhirClaim,
            c.lines
        );
    }

    /// @dev Shape checks on the lines; returns the hash of their codes (for the claim id).
    function _validateLines(PlanId planId, Line[] calldata lines) private view returns (bytes32 codesHash) {
        uint256 n = lines.length;
        if (n == 0 || n > MAX_LINES) revert InvalidLineCount(n, MAX_LINES);
        bytes32 prevCode = bytes32(0);
        for (uint256 i; i < n; ++i) {
            Line calldata ln = lines[i];
            if (ln.units == 0 || ln.billed == 0) revert InvalidLine(i);
            // Strictly sorted codes make the fingerprint independent of line order (no duplicate
            // by shuffling) and one line per code (no duplicate by splitting a line in two).
            if (ln.code <= prevCode) revert LinesNotSorted(i);
            prevCode = ln.code;
            if (ln.unitId == bytes32(0) && _rules[planId][ln.code].requiresUnit) revert DrugUnitRequired(i, ln.code);
        }
        codesHash = _codesHash(lines);
    }

    /// @dev Drug lines: the unit was dispensed by the payee within {DISPENSE_WINDOW} before
    ///      now, its batch is neither recalled nor quarantined, and no live claim cites it.
    ///      Records the unit against this claim. The rule on recall and quarantine: they are
    ///      checked here, once, at submission; a claim accepted before its batch was recalled
    ///      or quarantined (the unit was dispensed in good faith) goes on to be decided and paid.
    function _checkUnits(ClaimId claimId, address payee, Line[] calldata lines) private {
        uint256 n = lines.length;
        for (uint256 i; i < n; ++i) {
            bytes32 unitId = lines[i].unitId;
            if (unitId == bytes32(0)) continue;
            if (address(_provenance) == address(0)) revert DrugUnitsUnsupported(unitId);
            IDispenseCheck.Dispense memory d = _provenance.dispenseOf(unitId);
            if (d.pharmacy != payee) revert UnitNotDispensedByPayee(unitId, d.pharmacy, payee);
            if (d.recalled) revert UnitRecalled(unitId, d.batchId);
            if (d.quarantined) revert UnitQuarantined(unitId, d.batchId);
            // dispensedAt <= block.timestamp: the registry stamps it with the dispensing block.
            if (block.timestamp - d.dispensedAt > DISPENSE_WINDOW) {
                revert UnitDispenseOutsideWindow(unitId, d.dispensedAt, DISPENSE_WINDOW);
            }
            ClaimId holder = _unitClaims[unitId];
            if (ClaimId.unwrap(holder) != bytes32(0) && _claims[holder].status != ClaimStatus.Withdrawn) {
                revert UnitAlreadyClaimed(unitId, holder);
            }
            _unitClaims[unitId] = claimId;
        }
    }

    function _codesHash(Line[] calldata lines) private pure returns (bytes32 h) {
        uint256 n = lines.length;
        bytes32[] memory codes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            codes[i] = lines[i].code;
        }
        h = keccak256(abi.encodePacked(codes));
    }

    function _claimId(
        address member,
        address payee,
        uint32 day,
        uint16 resubmission,
        bytes32 codesHash
    ) private pure returns (ClaimId) {
        return ClaimId.wrap(keccak256(abi.encode(member, payee, day, resubmission, codesHash)));
    }

    function _checkLines(ClaimId claimId, Claim storage cl, Line[] calldata lines) private view {
        bytes32 given = keccak256(abi.encode(lines));
        if (given != cl.linesHash) revert LinesMismatch(claimId, cl.linesHash, given);
    }

    // ================================================================== internal: adjudication

    /// @dev The rule table over the lines, from the enrolment's accumulators now. View only.
    function _compute(
        PlanId planId,
        Plan storage p,
        Enrolment storage e,
        Line[] calldata lines
    ) private view returns (Adjudication memory a) {
        (uint256 dedLeft, uint256 maxLeft) = _remaining(p, e);
        uint256 n = lines.length;
        a.lines = new LineAdjudication[](n);
        for (uint256 i; i < n; ++i) {
            Line calldata ln = lines[i];
            CoverageRule memory rule = _rules[planId][ln.code];
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
    function _remaining(Plan storage p, Enrolment storage e) private view returns (uint256 dedLeft, uint256 maxLeft) {
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
        Enrolment storage e,
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
            uint256 free = _free(_pools[planId]);
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
        Enrolment storage e,
        ClaimStatus status,
        uint96 pays,
        uint256 deductible,
        bool checkFunds
    ) private {
        Pool storage pool = _pools[planId];
        if (checkFunds) {
            uint256 free = _free(pool);
            if (pays > free) revert InsufficientFreeFunds(planId, pays, free);
        }
        // Both stay within their limits (< 2^80): the rules cap deductible and benefit by what remains.
        e.deductibleMet += uint80(deductible);
        e.benefitPaid += uint80(pays);
        pool.owed += pays;
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
        Pool storage pool = _pools[planId];
        pool.owed -= amount;
        pool.paid += amount;
    }

    function _free(Pool storage pool) private view returns (uint256) {
        return uint256(pool.deposited) + 1 - pool.withdrawn - pool.paid - pool.owed; // owed is stored + 1
    }

    function _onlyActiveInsurer(PlanId planId) private view {
        address insurer = _plans[planId].insurer;
        if (insurer == address(0)) revert UnknownPlan(planId);
        if (msg.sender != insurer) revert NotPlanInsurer(planId, msg.sender);
        _directory.requireActive(msg.sender, Roles.INSURER);
    }
}
