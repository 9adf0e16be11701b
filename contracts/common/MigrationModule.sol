// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IMigratable} from "./IMigratable.sol";
import {IParticipantDirectory} from "./IParticipantDirectory.sol";
import {Migration} from "./Migration.sol";

/// @notice What the module asks the successor it runs in (every domain contract answers it).
interface IDirectoryBound {
    function directory() external view returns (IParticipantDirectory);
}

/// @title MigrationModule
/// @notice {IMigratable}'s import, run by delegatecall from a successor's fallback ({Migratable})
///         on the successor's own storage: the import code then counts against this module's
///         runtime size, not the successor's (a consent registry v2 would otherwise pass the
///         24,576-byte limit). It asks the successor itself for its directory (whose admin is
///         the only importer) and whether it is paused.
contract MigrationModule {
    address private immutable _self;

    /// @notice Called directly instead of through a successor's fallback.
    error MigrationModuleCalledDirectly();

    constructor() {
        _self = address(this);
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert MigrationModuleCalledDirectly();
        _;
    }

    /// @notice See {IMigratable-predecessor}.
    function predecessor() external view onlyDelegated returns (address) {
        return Migration.state().predecessor;
    }

    /// @notice See {IMigratable-importStatus}.
    function importStatus() external view onlyDelegated returns (bool isSealed, uint256 slotCount, bytes32 digest) {
        return Migration.status();
    }

    /// @notice See {IMigratable-importState}. Only while the successor is paused, and it stays so.
    function importState(bytes32[] calldata slots, bytes32[] calldata values) external onlyDelegated {
        if (!_paused()) revert Pausable.ExpectedPause();
        Migration.write(_authority(), slots, values);
        if (!_paused()) revert IMigratable.ImportUnpaused();
    }

    /// @notice See {IMigratable-sealImport}.
    function sealImport(uint256 snapshotBlock) external onlyDelegated {
        Migration.seal(_authority(), snapshotBlock);
    }

    function _authority() private view returns (IAccessControl) {
        return IAccessControl(address(IDirectoryBound(address(this)).directory()));
    }

    function _paused() private view returns (bool) {
        return Pausable(address(this)).paused();
    }
}
