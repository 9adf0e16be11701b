// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DelegateForward} from "./DelegateForward.sol";
import {EmergencyPausable} from "./EmergencyPausable.sol";
import {IVersioned} from "./IMigratable.sol";
import {Migration} from "./Migration.sol";
import {MigrationModule} from "./MigrationModule.sol";

/// @title Migratable
/// @notice {IMigratable} for a successor version of an {EmergencyPausable} domain contract. The
///         successor's constructor calls {_startAsSuccessor}; a first deployment does not and
///         refuses every import ({IMigratable-NotASuccessor}). The import functions run in a
///         {MigrationModule} this contract deploys, through its fallback (call them with the
///         {IMigratable} ABI), so they take no room in the successor's runtime code.
/// @dev    The successor inherits its predecessor's contract, so its layout only appends to it
///         (docs/upgrades.md); this contract's own state is namespaced ({Migration}).
abstract contract Migratable is IVersioned, EmergencyPausable {
    /// @notice The module that runs {IMigratable}'s functions on this contract's storage.
    address public immutable migrationModule = address(new MigrationModule());

    /// @dev For the successor's constructor: name the predecessor (an older version) and start
    ///      paused, so nothing runs on the successor before its import is sealed and the
    ///      consortium resumes it.
    function _startAsSuccessor(address predecessor_) internal {
        Migration.start(predecessor_, version());
        _pause();
    }

    /// @dev {IMigratable}'s functions (and nothing else: the module refuses other selectors by
    ///      having no fallback) run in the module on this contract's storage.
    fallback() external {
        DelegateForward.forward(migrationModule);
    }

    function _beforeUnpause() internal view virtual override {
        Migration.requireSealedIfSuccessor();
    }

    /// @inheritdoc IVersioned
    function version() public pure virtual returns (uint16);
}
