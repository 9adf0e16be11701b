// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {GS1Date} from "../provenance/GS1Date.sol";

/// @dev Test harness: GS1Date's functions at any reference time, so the shared vectors in
///      tests/data/gs1_expiry_vectors.json run against the exact code the registry uses without
///      moving the chain's clock for each case.
contract MockGS1Date {
    function expiresAt(uint256 yymmdd, uint256 timestamp) external pure returns (uint256) {
        return GS1Date.expiresAt(yymmdd, timestamp);
    }

    function toDate(uint256 yymmdd, uint256 timestamp) external pure returns (uint256, uint256, uint256) {
        return GS1Date.toDate(yymmdd, timestamp);
    }

    function yearOf(uint256 timestamp) external pure returns (uint256) {
        return GS1Date.yearOf(timestamp);
    }
}
