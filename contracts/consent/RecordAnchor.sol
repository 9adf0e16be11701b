// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {IRecordAnchor} from "./IRecordAnchor.sol";

/// @title RecordAnchor
/// @notice See {IRecordAnchor}.
/// @dev    One storage word per anchor (provider 160 bits, block time 40 bits), written once; no
///         loops, no admin, nothing to pause or upgrade: an anchor is a fact about the past.
contract RecordAnchor is IRecordAnchor {
    IParticipantDirectory private immutable _directory;

    mapping(bytes32 commitment => Anchor) private _anchors;

    constructor(IParticipantDirectory directory_) {
        if (address(directory_) == address(0)) revert ZeroAddress();
        _directory = directory_;
    }

    /// @inheritdoc IRecordAnchor
    function anchor(bytes32 commitment) external {
        if (commitment == bytes32(0)) revert EmptyCommitment();
        _directory.requireActive(msg.sender, Roles.PROVIDER);
        address holder = _anchors[commitment].provider;
        if (holder != address(0)) revert AlreadyAnchored(commitment, holder);
        _anchors[commitment] = Anchor({provider: msg.sender, anchoredAt: uint40(block.timestamp)});
        emit RecordAnchored(commitment, msg.sender);
    }

    /// @inheritdoc IRecordAnchor
    function anchorOf(bytes32 commitment) external view returns (Anchor memory) {
        return _anchors[commitment];
    }

    /// @inheritdoc IRecordAnchor
    function directory() external view returns (IParticipantDirectory) {
        return _directory;
    }
}
