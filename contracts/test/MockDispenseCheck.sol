// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDispenseCheck} from "../common/IDispenseCheck.sol";

/// @notice Test double of the provenance registry: answers what the test set per unit.
contract MockDispenseCheck is IDispenseCheck {
    struct Answer {
        address pharmacy;
        bytes32 batchId;
        bool recalled;
    }

    mapping(bytes32 unitId => Answer) private _answers;

    function setDispensed(bytes32 unitId, address pharmacy, bytes32 batchId, bool recalled) external {
        _answers[unitId] = Answer(pharmacy, batchId, recalled);
    }

    function dispenseOf(bytes32 unitId) external view returns (address pharmacy, bytes32 batchId, bool recalled) {
        Answer memory a = _answers[unitId];
        return (a.pharmacy, a.batchId, a.recalled);
    }
}
