// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Carc, CoverageRule, LineAdjudication} from "./ClaimTypes.sol";

/// @title AdjudicationMath
/// @notice The rule table applied to one claim line: pure arithmetic, no storage, so it can be
///         tested on its own and quoted before anything is written (validation and computation
///         apart from the transition that applies them, as in Aave's ValidationLogic).
/// @dev    Order: fee schedule cap -> deductible -> copay -> coinsurance -> annual maximum.
///         The member's coinsurance share is rounded UP, so the plan's benefit is rounded down:
///         rounding never pays more than billed. Every result is <= `billed` (a uint96), so the
///         narrowing casts below are safe.
library AdjudicationMath {
    uint256 internal constant BPS = 10_000;

    /// @param rule          the plan's rule for the line's code.
    /// @param units         units on the line.
    /// @param billed        amount billed for the line.
    /// @param deductibleLeft what remains of the member's deductible.
    /// @param maxLeft        what remains of the member's annual maximum.
    function line(
        CoverageRule memory rule,
        uint256 units,
        uint256 billed,
        uint256 deductibleLeft,
        uint256 maxLeft
    ) internal pure returns (LineAdjudication memory a) {
        if (!rule.covered) {
            a.reason = Carc.NOT_COVERED;
            return a;
        }
        uint256 eligible = billed;
        if (rule.maxPerUnit != 0) {
            uint256 cap = uint256(rule.maxPerUnit) * units;
            if (cap < eligible) {
                eligible = cap;
                a.reason = Carc.FEE_SCHEDULE;
            }
        }
        uint256 ded = eligible < deductibleLeft ? eligible : deductibleLeft;
        uint256 rest = eligible - ded;
        uint256 copay = rest < rule.copay ? rest : rule.copay;
        rest -= copay;
        // Member share rounded up (ceil): the plan never pays the fraction of a token unit.
        uint256 coins = (rest * rule.coinsuranceBps + BPS - 1) / BPS;
        rest -= coins; // coins <= rest because coinsuranceBps <= BPS (checked when the rule is set)
        uint256 benefit = rest < maxLeft ? rest : maxLeft;
        if (benefit < rest) a.reason = Carc.BENEFIT_MAXIMUM;
        a.eligible = uint96(eligible);
        a.deductible = uint96(ded);
        a.copay = uint96(copay);
        a.coinsurance = uint96(coins);
        a.benefit = uint96(benefit);
    }
}
