// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IEmergencyPausable} from "./IEmergencyPausable.sol";

/// @title EmergencyPausable
/// @notice OpenZeppelin `Pausable` whose powers are the directory's roles: see {IEmergencyPausable}.
/// @dev    The inheriting contract names its directory ({_pauseAuthority}) and marks its pausable
///         functions `whenNotPaused`. One cold storage read (2,100 gas) per pausable call.
abstract contract EmergencyPausable is IEmergencyPausable, Pausable {
    /// @dev ParticipantDirectory.EMERGENCY_ROLE.
    bytes32 private constant _EMERGENCY_ROLE = keccak256("careledger.directory.EMERGENCY");
    /// @dev AccessControl.DEFAULT_ADMIN_ROLE.
    bytes32 private constant _ADMIN_ROLE = 0x00;

    /// @inheritdoc IEmergencyPausable
    function pause() external {
        if (!_pauseAuthority().hasRole(_EMERGENCY_ROLE, msg.sender)) revert NotEmergencyCouncil(msg.sender);
        _pause();
    }

    /// @inheritdoc IEmergencyPausable
    function unpause() external {
        if (!_pauseAuthority().hasRole(_ADMIN_ROLE, msg.sender)) revert NotConsortiumAdmin(msg.sender);
        _beforeUnpause();
        _unpause();
    }

    /// @dev A check before resuming (a successor version refuses until its import is sealed).
    function _beforeUnpause() internal view virtual {}

    /// @dev The ParticipantDirectory whose roles decide who pauses and who resumes.
    function _pauseAuthority() internal view virtual returns (IAccessControl);
}
