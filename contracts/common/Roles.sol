// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice Participant roles of the CareLedger consortium, as bit flags in one byte so that one
///         organisation can hold several (a hospital can be a provider and a relayer).
/// @dev    Mirrored in Python by `careledger.directory.Role` (an IntFlag).
library Roles {
    uint8 internal constant PROVIDER = 1 << 0;
    uint8 internal constant INSURER = 1 << 1;
    uint8 internal constant MANUFACTURER = 1 << 2;
    uint8 internal constant DISTRIBUTOR = 1 << 3;
    uint8 internal constant PHARMACY = 1 << 4;
    uint8 internal constant REGULATOR = 1 << 5;
    uint8 internal constant RELAYER = 1 << 6;
    /// @dev Every defined bit; anything outside it is not a role.
    uint8 internal constant ALL = (1 << 7) - 1;
}
