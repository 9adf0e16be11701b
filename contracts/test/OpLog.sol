// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev Test double for the client fault tests: records each operation id once. A doubled
///      operation would revert (`AlreadyRecorded`), a lost one would be missing from `count`.
contract OpLog {
    mapping(bytes32 opId => uint256 order) public orderOf;
    uint256 public count;

    error AlreadyRecorded(bytes32 opId);

    event Recorded(bytes32 indexed opId, uint256 order);

    function record(bytes32 opId) external {
        if (orderOf[opId] != 0) revert AlreadyRecorded(opId);
        orderOf[opId] = ++count;
        emit Recorded(opId, count);
    }
}
