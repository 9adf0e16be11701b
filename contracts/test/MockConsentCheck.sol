// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsentCheck} from "../common/IConsentCheck.sol";

/// @notice Test double of the consent registry: answers what the test set, per
///         (patient, grantee, category, purpose). Unit tests of the claim rules only.
contract MockConsentCheck is IConsentCheck {
    mapping(bytes32 key => uint256 consentId) private _answers;

    function setAllowed(address patient, address grantee, uint8 category, uint8 purpose, uint256 consentId) external {
        _answers[keccak256(abi.encode(patient, grantee, category, purpose))] = consentId;
    }

    function canAccess(
        address patient,
        address grantee,
        uint8 category,
        uint8 purpose
    ) external view returns (bool allowed, uint256 consentId) {
        consentId = _answers[keccak256(abi.encode(patient, grantee, category, purpose))];
        allowed = consentId != 0;
    }
}
