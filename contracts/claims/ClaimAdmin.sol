// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {ICareErrors} from "../common/ICareErrors.sol";
import {IMigratable} from "../common/IMigratable.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Migration} from "../common/Migration.sol";
import {Roles} from "../common/Roles.sol";
import {AdjudicationMath} from "./AdjudicationMath.sol";
import {ClaimStorage} from "./ClaimStorage.sol";
import {Cover, CoverageRule, Enrolment, PlanId, PlanTerms} from "./ClaimTypes.sol";
import {IClaimSettlement} from "./IClaimSettlement.sol";
import {PoolLedger} from "./PoolLedger.sol";
import {IPoolHandOver} from "./IPoolHandOver.sol";

/// @title ClaimAdmin
/// @notice Plan, rule-table and enrolment administration of {ClaimSettlement}: createPlan,
///         scheduleRules, setCoverage, setAdjuster, enrol, terminate, voidEnrolment. It runs
///         only by delegatecall from the ClaimSettlement that deployed it, on that contract's
///         storage ({ClaimStorage}); errors, events and NatSpec are {IClaimSettlement}'s.
///         It also runs the settlement's upgrade: the state import of a successor version and
///         the pool's hand-over to one ({IPoolHandOver}, docs/upgrades.md).
contract ClaimAdmin is ClaimStorage {
    using SafeERC20 for IERC20;

    address private immutable _self;

    /// @notice Called directly instead of through its ClaimSettlement.
    error DirectCallRefused();

    constructor(IParticipantDirectory directory_) ClaimStorage(directory_) {
        _self = address(this);
    }

    /// @dev Every entry point: only in the settlement's context (its storage, its address).
    modifier onlyDelegated() {
        if (address(this) == _self) revert DirectCallRefused();
        _;
    }

    /// @dev See {IClaimSettlement-createPlan}.
    function createPlan(PlanTerms calldata terms) external onlyDelegated returns (PlanId planId) {
        _directory.requireActive(msg.sender, Roles.INSURER);
        // A period is a plan year: the finest date an enrolment or a claim names is its year.
        if (
            terms.annualMax == 0 ||
            terms.annualMax > type(uint80).max ||
            terms.deductible > type(uint80).max ||
            terms.periodLength < 365 days ||
            terms.periodLength > 366 days ||
            terms.filingWindow > 366 days
        ) {
            revert IClaimSettlement.InvalidPlanTerms(
                terms.deductible,
                terms.annualMax,
                terms.periodLength,
                terms.filingWindow
            );
        }
        planId = PlanId.wrap(++_planCount);
        PoolLedger.open(_pools[planId]);
        _plans[planId] = Plan({
            insurer: msg.sender,
            autoApproveLimit: terms.autoApproveLimit,
            deductible: terms.deductible,
            annualMax: terms.annualMax,
            appealWindow: terms.appealWindow,
            filingWindow: terms.filingWindow,
            periodStart: terms.periodStart,
            periodLength: terms.periodLength,
            ruleNotice: terms.ruleNotice,
            versions: 0,
            latestFrom: 0
        });
        emit IClaimSettlement.PlanCreated(planId, msg.sender, terms);
    }

    /// @dev See {IClaimSettlement-scheduleRules}.
    function scheduleRules(
        PlanId planId,
        uint40 effectiveFrom,
        bytes32 codeKeyId
    ) external onlyDelegated returns (uint32 version) {
        _onlyActiveInsurer(planId);
        Plan storage p = _plans[planId];
        uint32 latest = p.versions;
        // One version waits at a time, so the version in force is always the latest or the one
        // before it (two reads at most, no loop).
        if (latest != 0 && p.latestFrom > block.timestamp)
            revert IClaimSettlement.RulesAlreadyScheduled(planId, latest);
        // Rules change from a future time only: pending claims keep the version they were
        // submitted under, and providers see the new table before it applies.
        uint256 earliest = block.timestamp + p.ruleNotice + 1;
        if (effectiveFrom < earliest) revert IClaimSettlement.InvalidEffectiveTime(effectiveFrom, earliest);
        version = latest + 1;
        p.versions = version;
        p.latestFrom = effectiveFrom;
        _versionFrom[planId][version] = effectiveFrom;
        emit IClaimSettlement.RulesScheduled(planId, version, effectiveFrom, codeKeyId);
    }

    /// @dev See {IClaimSettlement-setCoverage}.
    function setCoverage(
        PlanId planId,
        uint32 version,
        bytes32[] calldata codes,
        CoverageRule[] calldata rules,
        bytes32[] calldata gtinBindings
    ) external onlyDelegated {
        _onlyActiveInsurer(planId);
        // A table in force (or never scheduled) is frozen: no rule changes under anyone's feet.
        uint256 from = _versionFrom[planId][version];
        if (from == 0 || from <= block.timestamp) revert IClaimSettlement.RulesFrozen(planId, version);
        uint256 n = codes.length;
        if (n == 0 || n != rules.length || n > _MAX_BATCH || (gtinBindings.length != 0 && gtinBindings.length != n)) {
            revert IClaimSettlement.InvalidRuleTable(n, rules.length);
        }
        for (uint256 i; i < n; ++i) {
            _setRule(planId, version, codes[i], rules[i], gtinBindings.length == 0 ? bytes32(0) : gtinBindings[i]);
        }
    }

    function _setRule(
        PlanId planId,
        uint32 version,
        bytes32 code,
        CoverageRule calldata rule,
        bytes32 binding
    ) private {
        if (code == bytes32(0)) revert IClaimSettlement.InvalidCode(code);
        if (rule.coinsuranceBps > AdjudicationMath.BPS)
            revert IClaimSettlement.InvalidCoinsurance(code, rule.coinsuranceBps);
        _rules[planId][version][code] = rule;
        if (binding != bytes32(0) || _gtinBindings[planId][version][code] != bytes32(0)) {
            _gtinBindings[planId][version][code] = binding;
        }
        emit IClaimSettlement.CoverageSet(planId, version, code, rule, binding);
    }

    /// @dev See {IClaimSettlement-setAdjuster}.
    function setAdjuster(address adjuster, bool allowed) external onlyDelegated {
        _directory.requireActive(msg.sender, Roles.INSURER);
        if (adjuster == address(0)) revert ICareErrors.ZeroAddress();
        _adjusters[msg.sender][adjuster] = allowed;
        emit IClaimSettlement.AdjusterSet(msg.sender, adjuster, allowed);
    }

    /// @dev See {IClaimSettlement-enrol}.
    function enrol(
        PlanId planId,
        address member,
        bytes32 memberRecord,
        uint32 fromPeriod,
        uint32 toPeriod,
        uint256 deadline,
        bytes calldata signature
    ) external onlyDelegated returns (uint32 enrolment) {
        _onlyActiveInsurer(planId);
        if (member == address(0)) revert ICareErrors.ZeroAddress();
        if (memberRecord == bytes32(0)) revert ICareErrors.EmptyCommitment();
        uint32 current = _currentPeriod(_plans[planId]);
        // Whole periods, capped, starting now or next period: no insurer enrols anyone for
        // decades ahead, and the member re-agrees at least every MAX_ENROLMENT_PERIODS.
        if (
            fromPeriod > toPeriod ||
            fromPeriod < current ||
            fromPeriod > current + 1 ||
            toPeriod - fromPeriod >= _MAX_ENROLMENT_PERIODS
        ) {
            revert IClaimSettlement.InvalidEnrolmentPeriods(fromPeriod, toPeriod, current);
        }
        // The member agrees (EIP-712, ERC-1271 wallets too): no insurer enrols an address alone.
        if (block.timestamp > deadline) revert ICareErrors.SignatureExpired(deadline);
        bytes32 digest = _enrolmentDigest(planId, member, memberRecord, fromPeriod, toPeriod, deadline);
        if (!SignatureChecker.isValidSignatureNow(member, digest, signature))
            revert ICareErrors.InvalidSignature(member);
        enrolment = _writeEnrolment(planId, member, memberRecord, fromPeriod, toPeriod);
        emit IClaimSettlement.MemberEnrolled(planId, member, enrolment, memberRecord, fromPeriod, toPeriod);
    }

    /// @dev The EIP-712 digest the member signs; consumes the member's nonce.
    function _enrolmentDigest(
        PlanId planId,
        address member,
        bytes32 memberRecord,
        uint32 fromPeriod,
        uint32 toPeriod,
        uint256 deadline
    ) private returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        _ENROLMENT_TYPEHASH,
                        planId,
                        member,
                        memberRecord,
                        fromPeriod,
                        toPeriod,
                        _useNonce(member),
                        deadline
                    )
                )
            );
    }

    /// @dev Stores an agreed enrolment and the member's cover in each of its periods.
    function _writeEnrolment(
        PlanId planId,
        address member,
        bytes32 memberRecord,
        uint32 fromPeriod,
        uint32 toPeriod
    ) private returns (uint32 enrolment) {
        enrolment = _enrolmentCount[member] + 1;
        _enrolmentCount[member] = enrolment;
        _enrolments[member][enrolment] = Enrolment({
            planId: planId,
            fromPeriod: fromPeriod,
            toPeriod: toPeriod,
            voided: false,
            memberRecord: memberRecord
        });
        for (uint32 period = fromPeriod; period <= toPeriod; ++period) {
            // At most MAX_ENROLMENT_PERIODS iterations (checked by enrol).
            Cover storage c = _covers[member][period];
            if (c.enrolment != 0 && !c.voided)
                revert IClaimSettlement.PeriodAlreadyCovered(member, period, c.enrolment);
            _covers[member][period] = Cover({
                planId: planId,
                enrolment: enrolment,
                deductibleMet: 0,
                benefitPaid: 0,
                voided: false
            });
        }
    }

    /// @dev See {IClaimSettlement-terminate}.
    function terminate(address member, uint32 enrolment, uint32 lastPeriod) external onlyDelegated {
        Enrolment storage e = _enrolments[member][enrolment];
        PlanId planId = e.planId;
        if (PlanId.unwrap(planId) == 0 || e.voided) revert IClaimSettlement.UnknownEnrolment(member, enrolment);
        _onlyActiveInsurer(planId);
        uint32 toPeriod = e.toPeriod;
        uint32 current = _currentPeriod(_plans[planId]);
        // Shorter only, and never retroactive: claims for periods already covered stand.
        if (lastPeriod >= toPeriod || lastPeriod < current)
            revert IClaimSettlement.InvalidTermination(lastPeriod, toPeriod, current);
        uint32 first = e.fromPeriod > lastPeriod ? e.fromPeriod : lastPeriod + 1;
        for (uint32 period = first; period <= toPeriod; ++period) {
            // Future periods only (> current): no claim can have used them. Bounded by the cap.
            delete _covers[member][period];
        }
        e.toPeriod = lastPeriod; // below fromPeriod: the enrolment never started
        emit IClaimSettlement.EnrolmentTerminated(member, enrolment, lastPeriod);
    }

    /// @dev See {IClaimSettlement-succeedInsurer}.
    function succeedInsurer(PlanId planId) external onlyDelegated {
        Plan storage p = _plans[planId];
        address previous = p.insurer;
        if (previous == address(0)) revert IClaimSettlement.UnknownPlan(planId);
        if (previous == msg.sender || _directory.currentKey(previous) != msg.sender) {
            revert IClaimSettlement.NotPlanInsurer(planId, msg.sender);
        }
        _directory.requireActive(msg.sender, Roles.INSURER);
        p.insurer = msg.sender;
        emit IClaimSettlement.PlanInsurerSucceeded(planId, previous, msg.sender);
    }

    /// @dev See {IClaimSettlement-voidEnrolment}.
    function voidEnrolment(address member, uint32 enrolment) external onlyDelegated {
        if (!IAccessControl(address(_directory)).hasRole(_REGISTRAR_ROLE, msg.sender))
            revert IClaimSettlement.NotRegistrar(msg.sender);
        Enrolment storage e = _enrolments[member][enrolment];
        PlanId planId = e.planId;
        if (PlanId.unwrap(planId) == 0 || e.voided) revert IClaimSettlement.UnknownEnrolment(member, enrolment);
        address insurer = _plans[planId].insurer;
        // Only what a suspended insurer made: the registrar cannot undo an active plan's members.
        if (_directory.isActive(insurer, Roles.INSURER)) revert IClaimSettlement.InsurerStillActive(insurer);
        e.voided = true;
        for (uint32 period = e.fromPeriod; period <= e.toPeriod; ++period) {
            // Bounded by the cap. The accumulators stay (claims already decided keep their books).
            Cover storage c = _covers[member][period];
            if (c.enrolment == enrolment) c.voided = true;
        }
        emit IClaimSettlement.EnrolmentVoided(member, enrolment, msg.sender);
    }

    // ================================================================== upgrade

    /// @dev See {IMigratable-predecessor}.
    function predecessor() external view onlyDelegated returns (address) {
        return Migration.state().predecessor;
    }

    /// @dev See {IMigratable-importStatus}.
    function importStatus() external view onlyDelegated returns (bool, uint256, bytes32) {
        return Migration.status();
    }

    /// @dev See {IMigratable-importState}.
    function importState(bytes32[] calldata slots, bytes32[] calldata values) external onlyDelegated {
        _requirePaused();
        Migration.write(_authority(), slots, values);
        if (!paused()) revert IMigratable.ImportUnpaused();
    }

    /// @dev See {IMigratable-sealImport}.
    function sealImport(uint256 snapshotBlock) external onlyDelegated {
        Migration.seal(_authority(), snapshotBlock);
    }

    /// @dev See {IPoolHandOver-handOver}.
    function handOver(address successor) external onlyDelegated {
        Migration.requireImporter(_authority());
        _requirePaused();
        IERC20 token = _tokenOf(address(this));
        if (
            successor.code.length == 0 ||
            IMigratable(successor).predecessor() != address(this) ||
            _tokenOf(successor) != token
        ) revert IPoolHandOver.NotMySuccessor(successor);
        uint256 amount = token.balanceOf(address(this));
        emit IPoolHandOver.PoolHandedOver(successor, amount);
        token.safeTransfer(successor, amount);
    }

    function _authority() private view returns (IAccessControl) {
        return IAccessControl(address(_directory));
    }

    function _tokenOf(address settlement) private view returns (IERC20 token) {
        (, , , token) = IWiring(settlement).wiring();
    }
}

/// @dev The one view of ClaimSettlement the hand-over reads (ClaimSettlement imports this file).
interface IWiring {
    function wiring() external view returns (address, address, address, IERC20);
}
