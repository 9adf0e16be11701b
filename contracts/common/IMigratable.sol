// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IVersioned
/// @notice The version of a CareLedger contract's code. A version's storage layout only appends
///         to its predecessor's (docs/upgrades.md), so state moves slot for slot between them.
interface IVersioned {
    /// @notice This contract's code version: 1 for the first release, one more per release.
    function version() external view returns (uint16);
}

/// @title IMigratable
/// @notice A successor version of a CareLedger contract takes over its predecessor's state by a
///         checkable import (docs/upgrades.md): it is deployed paused and naming its predecessor;
///         the directory's admin (the consortium timelock; on a devnet whoever holds the role)
///         writes the predecessor's storage slots, read at one snapshot block, in bounded
///         batches, each folded into a running digest; `sealImport` closes the import for ever
///         and publishes the digest. Anyone can re-read the predecessor at the snapshot block and
///         re-derive the digest, so the import is checked, not trusted. The successor resumes
///         (`unpause`, the timelock after its delay) only once sealed.
/// @dev    The import state lives at an ERC-7201 slot (namespace "careledger.migration"), which
///         no import can write.
interface IMigratable is IVersioned {
    /// @notice This contract was not deployed as a successor (its predecessor is zero).
    error NotASuccessor();
    /// @notice The import was sealed: no slot can be written any more.
    error ImportAlreadySealed();
    /// @notice Resuming before the import was sealed.
    error ImportNotSealed();
    /// @notice `account` is not the directory's admin, the only importer.
    error NotImporter(address account);
    /// @notice A batch of `slots` slots and `values` values (equal, 1..MAX_IMPORT_BATCH).
    error BadImportBatch(uint256 slots, uint256 values);
    /// @notice `slot` holds the import's own state and cannot be imported.
    error ReservedSlot(bytes32 slot);
    /// @notice `predecessor` has no code or its version `predecessorVersion` is not below `version`.
    error BadPredecessor(address predecessor, uint16 predecessorVersion, uint16 version);
    /// @notice The snapshot block `snapshotBlock` is not before the current block.
    error BadSnapshotBlock(uint256 snapshotBlock);
    /// @notice A batch made the contract resume (it wrote the pause flag as false).
    error ImportUnpaused();

    /// @notice One batch written: the running count of slots and digest after it.
    event StateImported(uint256 slotCount, bytes32 digest);
    /// @notice The import was closed: the predecessor's state at `snapshotBlock`, `slotCount`
    ///         slot writes whose running digest is `digest`.
    event ImportSealed(address indexed predecessor, uint256 snapshotBlock, uint256 slotCount, bytes32 digest);

    /// @notice The contract whose state this one took over (zero for a first deployment).
    function predecessor() external view returns (address);

    /// @notice Whether the import was sealed, the slots written so far and their running digest
    ///         (`digest = keccak256(abi.encode(digest, keccak256(abi.encodePacked(slots)),
    ///         keccak256(abi.encodePacked(values))))` per batch, from zero).
    function importStatus() external view returns (bool isSealed, uint256 slotCount, bytes32 digest);

    /// @notice Write `values[i]` into storage slot `slots[i]`. Only the directory's admin, only
    ///         while paused and before the seal, on a successor; at most MAX_IMPORT_BATCH slots.
    function importState(bytes32[] calldata slots, bytes32[] calldata values) external;

    /// @notice Close the import for ever, recording that it copies the predecessor's state at
    ///         `snapshotBlock` (before the current block). Only the directory's admin.
    function sealImport(uint256 snapshotBlock) external;
}
