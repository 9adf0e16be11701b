// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IEmergencyPausable
/// @notice The consortium's emergency stop for one CareLedger contract. The emergency council
///         (the directory's EMERGENCY role) may pause it at once; only the consortium's ordinary,
///         delayed path (the directory's admin: the timelock) may resume it, so a captured
///         emergency quorum can stop the suite but never restart what the consortium stopped.
///         While paused, whatever creates or widens a right, moves custody or commits money stops
///         with OpenZeppelin's `EnforcedPause()`; reads, and what only narrows or pays out what is
///         already owed (a patient's revoke and deny, recalls, a payee's payout), keep working.
///         Each contract lists what stops in its NatSpec; docs/governance.md has the whole table.
/// @dev    The state and the `Paused(account)` / `Unpaused(account)` events are OpenZeppelin
///         `Pausable`'s, as is `paused()`.
interface IEmergencyPausable {
    /// @notice `account` does not hold the directory's EMERGENCY role, so it cannot pause.
    error NotEmergencyCouncil(address account);
    /// @notice `account` is not the directory's admin (the consortium's timelock), so it cannot resume.
    error NotConsortiumAdmin(address account);

    /// @notice Stop this contract's pausable functions. Only the directory's EMERGENCY role.
    ///         Reverts `EnforcedPause()` if it is already paused.
    function pause() external;

    /// @notice Resume this contract. Only the directory's admin (the consortium timelock, after
    ///         its delay). Reverts `ExpectedPause()` if it is not paused.
    function unpause() external;
}
