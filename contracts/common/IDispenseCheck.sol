// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDispenseCheck
/// @notice What claims asks the provenance registry about a drug unit a pharmacy claim cites.
///         Implemented by the provenance registry (contracts/provenance/).
interface IDispenseCheck {
    /// @param unitId the unit's id as the provenance registry derives it from GTIN and serial.
    /// @return pharmacy the pharmacy that dispensed the unit (zero if never dispensed);
    /// @return batchId  the batch the unit was dispensed from;
    /// @return recalled true when that batch is recalled (now).
    function dispenseOf(bytes32 unitId) external view returns (address pharmacy, bytes32 batchId, bool recalled);
}
