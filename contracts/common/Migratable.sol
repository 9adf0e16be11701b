// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EmergencyPausable} from "./EmergencyPausable.sol";
import {IMigratable, IVersioned} from "./IMigratable.sol";
import {Migration} from "./Migration.sol";

/// @title Migratable
/// @notice {IMigratable} for a successor version of an {EmergencyPausable} domain contract. The
///         successor's constructor calls {_startAsSuccessor}; a first deployment does not and
///         refuses every import ({IMigratable-NotASuccessor}).
/// @dev    The successor inherits its predecessor's contract, so its layout only appends to it
///         (docs/upgrades.md); this contract's own state is namespaced ({Migration}).
abstract contract Migratable is IMigratable, EmergencyPausable {
    /// @notice The most slots one {importState} call writes.
    uint256 public constant MAX_IMPORT_BATCH = Migration.MAX_IMPORT_BATCH;

    /// @dev For the successor's constructor: name the predecessor (an older version) and start
    ///      paused, so nothing runs on the successor before its import is sealed and the
    ///      consortium resumes it.
    function _startAsSuccessor(address predecessor_) internal {
        Migration.start(predecessor_, version());
        _pause();
    }

    /// @inheritdoc IMigratable
    function predecessor() external view returns (address) {
        return Migration.state().predecessor;
    }

    /// @inheritdoc IMigratable
    function importStatus() external view returns (bool isSealed, uint256 slotCount, bytes32 digest) {
        return Migration.status();
    }

    /// @inheritdoc IMigratable
    function importState(bytes32[] calldata slots, bytes32[] calldata values) external whenPaused {
        Migration.write(_pauseAuthority(), slots, values);
        if (!paused()) revert ImportUnpaused();
    }

    /// @inheritdoc IMigratable
    function sealImport(uint256 snapshotBlock) external {
        Migration.seal(_pauseAuthority(), snapshotBlock);
    }

    function _beforeUnpause() internal view virtual override {
        Migration.requireSealedIfSuccessor();
    }

    /// @inheritdoc IVersioned
    function version() public pure virtual returns (uint16);
}
