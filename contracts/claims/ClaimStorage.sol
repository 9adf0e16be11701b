// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {Claim, ClaimId, Cover, CoverageRule, Enrolment, PlanId} from "./ClaimTypes.sol";
import {IClaimSettlement} from "./IClaimSettlement.sol";
import {Pool} from "./PoolLedger.sol";

/// @title ClaimStorage
/// @notice The state of claim settlement, shared by {ClaimSettlement} and the {ClaimAdmin}
///         module it delegatecalls: both inherit exactly this and declare no state of their own,
///         so the storage layout is one. Also the EIP-712 domain and nonces of the members'
///         enrolment signatures, and the helpers both sides use. The emergency pause flag
///         (OpenZeppelin `Pausable`) is part of the layout too: {ClaimSettlement} checks it
///         before it delegates, and {ClaimAdmin} shares the slot.
abstract contract ClaimStorage is EIP712, Nonces, Pausable {
    using SafeCast for uint256;

    /// @dev Most claims per {submitBatch} / {payBatch} call and most codes per {setCoverage}.
    ///         100 one-line claims use about 7M gas, well inside a 30M block.
    uint256 internal constant _MAX_BATCH = 100;
    /// @dev Most plan periods one enrolment covers (a member re-agrees at least this often).
    uint32 internal constant _MAX_ENROLMENT_PERIODS = 2;
    /// @dev The directory's registrar role (may void a suspended insurer's enrolments).
    bytes32 internal constant _REGISTRAR_ROLE = keccak256("careledger.directory.REGISTRAR");
    /// @dev EIP-712 type of the member's agreement to an enrolment.
    bytes32 internal constant _ENROLMENT_TYPEHASH =
        keccak256(
            abi.encodePacked(
                "Enrolment(uint32 planId,address member,bytes32 memberRecord,uint32 fromPeriod,",
                "uint32 toPeriod,uint256 nonce,uint256 deadline)"
            )
        );

    /// @dev Three slots: [insurer, autoApproveLimit] [deductible, annualMax, appealWindow,
    ///      filingWindow] [periodStart, periodLength, ruleNotice, versions, latestFrom].
    struct Plan {
        address insurer;
        uint96 autoApproveLimit;
        uint96 deductible;
        uint96 annualMax;
        uint32 appealWindow;
        uint32 filingWindow;
        uint40 periodStart;
        uint32 periodLength;
        uint32 ruleNotice;
        uint32 versions;
        uint40 latestFrom;
    }

    IParticipantDirectory internal immutable _directory;

    uint32 internal _planCount;
    mapping(PlanId planId => Plan) internal _plans;
    mapping(PlanId planId => mapping(uint32 version => mapping(bytes32 code => CoverageRule))) internal _rules;
    mapping(PlanId planId => mapping(uint32 version => mapping(bytes32 code => bytes32))) internal _gtinBindings;
    mapping(PlanId planId => mapping(uint32 version => uint40)) internal _versionFrom;
    mapping(PlanId planId => Pool) internal _pools;
    mapping(address insurer => mapping(address account => bool)) internal _adjusters;
    mapping(address member => uint32) internal _enrolmentCount;
    mapping(address member => mapping(uint32 enrolment => Enrolment)) internal _enrolments;
    mapping(address member => mapping(uint32 period => Cover)) internal _covers;
    mapping(ClaimId claimId => Claim) internal _claims;
    mapping(bytes32 unitId => ClaimId) internal _unitClaims;
    mapping(address member => mapping(uint32 period => mapping(bytes32 code => ClaimId))) internal _periodClaims;

    constructor(IParticipantDirectory directory_) EIP712("CareLedger Claims", "2") {
        _directory = directory_;
    }

    /// @dev The rule table in force now: the latest version once it started, else the one
    ///      before it (only one version waits at a time; see scheduleRules). 0: none yet.
    function _versionInForce(Plan storage p) internal view returns (uint32) {
        uint32 latest = p.versions;
        if (latest == 0) return 0;
        // The latest start lives in the plan's slot: no per-version read on the hot path.
        if (p.latestFrom <= block.timestamp) return latest;
        return latest - 1;
    }

    /// @dev The plan period now (0 before the plan starts: enrolments may precede it).
    function _currentPeriod(Plan storage p) internal view returns (uint32) {
        uint256 start = p.periodStart;
        if (block.timestamp < start) return 0;
        return ((block.timestamp - start) / p.periodLength).toUint32();
    }

    function _onlyActiveInsurer(PlanId planId) internal view {
        address insurer = _plans[planId].insurer;
        if (insurer == address(0)) revert IClaimSettlement.UnknownPlan(planId);
        if (msg.sender != insurer) revert IClaimSettlement.NotPlanInsurer(planId, msg.sender);
        _directory.requireActive(msg.sender, Roles.INSURER);
    }
}
