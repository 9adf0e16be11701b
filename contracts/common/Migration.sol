// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IMigratable, IVersioned} from "./IMigratable.sol";

/// @title Migration
/// @notice The import of a predecessor's storage ({IMigratable}), as internal functions over an
///         ERC-7201 namespace, so that contracts of every shape use the same code: domain
///         contracts through {Migratable}, ClaimSettlement through its ClaimAdmin module.
library Migration {
    /// @custom:storage-location erc7201:careledger.migration
    struct State {
        address predecessor;
        bool isSealed;
        uint64 slotCount;
        bytes32 digest;
    }

    /// @notice The most slots one import call writes (about 5.8 M gas when every slot is fresh).
    uint256 internal constant MAX_IMPORT_BATCH = 256;

    /// @dev keccak256(abi.encode(uint256(keccak256("careledger.migration")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant SLOT = 0x259e63c8a1ea42aa0377890640594448cd5a0e95277083ef3c3be1030e0dc500;

    /// @dev AccessControl.DEFAULT_ADMIN_ROLE of the directory: the consortium's timelock.
    bytes32 private constant _ADMIN_ROLE = 0x00;

    function state() internal pure returns (State storage s) {
        bytes32 slot = SLOT;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            s.slot := slot
        }
    }

    /// @dev From a successor's constructor: record the predecessor after checking it is an
    ///      older version. The caller pauses.
    function start(address predecessor_, uint16 version) internal {
        uint16 old = predecessor_.code.length == 0 ? 0 : IVersioned(predecessor_).version();
        if (old == 0 || old >= version) revert IMigratable.BadPredecessor(predecessor_, old, version);
        state().predecessor = predecessor_;
    }

    function requireImporter(IAccessControl directory) internal view {
        if (!directory.hasRole(_ADMIN_ROLE, msg.sender)) revert IMigratable.NotImporter(msg.sender);
    }

    /// @dev The checks shared by import and seal: a successor, not sealed, the admin calling.
    function _open(IAccessControl directory) private view returns (State storage s) {
        s = state();
        if (s.predecessor == address(0)) revert IMigratable.NotASuccessor();
        if (s.isSealed) revert IMigratable.ImportAlreadySealed();
        requireImporter(directory);
    }

    /// @dev The caller checks it is paused before and after.
    function write(IAccessControl directory, bytes32[] calldata slots, bytes32[] calldata values) internal {
        State storage s = _open(directory);
        uint256 n = slots.length;
        if (n == 0 || n != values.length || n > MAX_IMPORT_BATCH) revert IMigratable.BadImportBatch(n, values.length);
        for (uint256 i; i < n; ++i) {
            bytes32 slot = slots[i];
            // The namespace's two words: predecessor|sealed|slotCount and digest.
            if (slot == SLOT || slot == bytes32(uint256(SLOT) + 1)) revert IMigratable.ReservedSlot(slot);
            bytes32 value = values[i];
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                sstore(slot, value)
            }
        }
        bytes32 digest = keccak256(
            abi.encode(s.digest, keccak256(abi.encodePacked(slots)), keccak256(abi.encodePacked(values)))
        );
        uint64 count = s.slotCount + uint64(n);
        s.digest = digest;
        s.slotCount = count;
        emit IMigratable.StateImported(count, digest);
    }

    function seal(IAccessControl directory, uint256 snapshotBlock) internal {
        State storage s = _open(directory);
        if (snapshotBlock >= block.number) revert IMigratable.BadSnapshotBlock(snapshotBlock);
        s.isSealed = true;
        emit IMigratable.ImportSealed(s.predecessor, snapshotBlock, s.slotCount, s.digest);
    }

    /// @dev A successor resumes only once its import is sealed.
    function requireSealedIfSuccessor() internal view {
        State storage s = state();
        if (s.predecessor != address(0) && !s.isSealed) revert IMigratable.ImportNotSealed();
    }

    function status() internal view returns (bool, uint256, bytes32) {
        State storage s = state();
        return (s.isSealed, s.slotCount, s.digest);
    }
}
