// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDispenseCheck} from "../common/IDispenseCheck.sol";

/// @notice Test double of the provenance registry: answers what the test set per unit.
contract MockDispenseCheck is IDispenseCheck {
    mapping(bytes32 unitId => Dispense) private _answers;

    function setDispensed(bytes32 unitId, address pharmacy, bytes32 batchId, bool recalled) external {
        _answers[unitId] = Dispense(pharmacy, uint40(block.timestamp), 0, batchId, recalled, false);
    }

    function dispenseOf(bytes32 unitId) external view returns (Dispense memory) {
        return _answers[unitId];
    }
}
