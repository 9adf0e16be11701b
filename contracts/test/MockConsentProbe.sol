// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsentCheck} from "../common/IConsentCheck.sol";

/// @dev Test helper: asks `canAccess` for many (patient, grantee, category, purpose) queries in
///      one eth_call, so a property test can compare the whole access matrix with its model after
///      every step. Query `i` is (patients[i], grantees[i], categories[i], purposes[i]); the
///      answer is the allowing consent id, or 0.
contract MockConsentProbe {
    struct Query {
        address patient;
        address grantee;
        uint8 category;
        uint8 purpose;
    }

    function matrix(IConsentCheck registry, Query[] calldata queries) external view returns (uint256[] memory ids) {
        ids = new uint256[](queries.length);
        for (uint256 i; i < queries.length; ++i) {
            Query calldata q = queries[i];
            (bool allowed, uint256 id) = registry.canAccess(q.patient, q.grantee, q.category, q.purpose);
            ids[i] = allowed ? id : 0;
        }
    }
}
