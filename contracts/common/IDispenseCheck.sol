// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDispenseCheck
/// @notice What claims asks the provenance registry about a drug unit a pharmacy claim cites.
///         Implemented by the provenance registry (contracts/provenance/).
interface IDispenseCheck {
    /// @notice The custody facts of one dispensed unit, as the claims contract needs them to bind
    ///         a drug line: which product, when, by whom, and whether its batch may still be sold.
    ///         All zero when the unit was never dispensed.
    struct Dispense {
        address pharmacy; // the pharmacy that dispensed the unit
        uint40 dispensedAt; // block time of the dispense
        uint256 gtin; // the unit's product (GTIN-14)
        bytes32 batchId; // the batch the unit was dispensed from
        bool recalled; // the batch is recalled or voided now
        bool quarantined; // the batch is quarantined now
    }

    /// @param unitId the unit's id as the provenance registry derives it from GTIN and serial.
    /// @return the dispense record of the unit (all zero when never dispensed).
    function dispenseOf(bytes32 unitId) external view returns (Dispense memory);
}
