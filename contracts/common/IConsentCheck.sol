// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IConsentCheck
/// @notice The one question other CareLedger contracts ask the consent registry (claims asks it
///         before accepting a claim): may `grantee` access data `category` of `patient` for
///         `purpose` now? Implemented by the ConsentRegistry (contracts/consent/).
interface IConsentCheck {
    /// @param category a {Category} bit index; @param purpose a {Purpose} bit index.
    /// @return allowed    true when an active, unexpired permit covers the request and no deny
    ///                    provision excludes it;
    /// @return consentId  the consent that allows it (0 when not allowed).
    function canAccess(
        address patient,
        address grantee,
        uint8 category,
        uint8 purpose
    ) external view returns (bool allowed, uint256 consentId);
}
