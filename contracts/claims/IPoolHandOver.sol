// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMigratable} from "../common/IMigratable.sol";

/// @title IPoolHandOver
/// @notice ClaimSettlement's part of an upgrade (docs/upgrades.md): it imports its predecessor's
///         state ({IMigratable}) and, as a predecessor, hands every token it holds to its
///         successor. Both run in its ClaimAdmin module, reached through its fallback.
interface IPoolHandOver is IMigratable {
    /// @notice `successor` does not name this contract as its predecessor, or pays in another token.
    error NotMySuccessor(address successor);

    /// @notice `amount` tokens (the whole balance) moved to `successor`.
    event PoolHandedOver(address indexed successor, uint256 amount);

    /// @notice Move this contract's whole token balance (every pool, and what payees are owed)
    ///         to `successor`, a ClaimSettlement whose `predecessor()` is this contract and whose
    ///         token is this contract's. Only the directory's admin (the consortium timelock,
    ///         after its delay), only while paused. Afterwards nothing here can pay out, so the
    ///         pools' accounting can no longer change here: it moves with the state import.
    function handOver(address successor) external;
}
