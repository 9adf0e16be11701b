// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDispenseCheck} from "../common/IDispenseCheck.sol";

/// @notice Test double of the provenance registry: answers what the test set per unit, every
///         field of {IDispenseCheck.Dispense} settable.
contract MockDispenseCheck is IDispenseCheck {
    mapping(bytes32 unitId => Dispense) private _answers;

    /// @notice Sets the whole answer for `unitId`.
    function setDispense(bytes32 unitId, Dispense calldata answer) external {
        _answers[unitId] = answer;
    }

    /// @notice Shorthand: `unitId` dispensed by `pharmacy` now, product `gtin`, from `batchId`.
    function setDispensed(bytes32 unitId, address pharmacy, uint256 gtin, bytes32 batchId) external {
        _answers[unitId] = Dispense(pharmacy, uint40(block.timestamp), gtin, batchId, false, false);
    }

    /// @notice Sets the batch flags of `unitId`'s answer.
    function setFlags(bytes32 unitId, bool recalled, bool quarantined) external {
        Dispense storage d = _answers[unitId];
        d.recalled = recalled;
        d.quarantined = quarantined;
    }

    function dispenseOf(bytes32 unitId) external view returns (Dispense memory) {
        return _answers[unitId];
    }
}
