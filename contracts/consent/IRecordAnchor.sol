// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICareErrors} from "../common/ICareErrors.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";

/// @title IRecordAnchor
/// @notice Integrity anchors for the records a provider's gateway holds (issue #19). An active
///         provider anchors one salted commitment per record:
///         `commitment = keccak256(salt ‖ contentHash)`, `contentHash = keccak256(pseudonym ‖
///         canonical FHIR JSON)`, with a fresh 32-byte random `salt` per record kept (sealed) by
///         the gateway. Anyone later handed the record, its salt and the patient's pairwise
///         pseudonym recomputes the commitment and proves the record unchanged since anchoring.
/// @dev    What the chain does NOT learn: the patient (the pseudonym is bound inside the
///         commitment, never stored nor emitted, so anchors cannot be grouped per patient), the
///         category, the resource type, any date but the block time of the anchoring, and which
///         providers hold a given patient's records. Once the gateway destroys a record's salt
///         (erasure) the anchor links to nothing. The provider address is public (it sends the
///         transaction), so a provider's number of anchors over time is public; see docs/gateway.md.
interface IRecordAnchor is ICareErrors {
    /// @notice One anchor: who anchored it and when (block time). All zero: never anchored.
    struct Anchor {
        address provider;
        uint40 anchoredAt;
    }

    /// @notice `commitment` was already anchored by `provider` (first anchoring wins; a record
    ///         is never re-anchored, a changed record is a new record with a new salt).
    error AlreadyAnchored(bytes32 commitment, address provider);

    /// @notice `provider` anchored `commitment` in this block (the block time is its time).
    ///         Replaying these events rebuilds every {anchorOf}.
    event RecordAnchored(bytes32 indexed commitment, address indexed provider);

    /// @notice Anchors `commitment` for the caller, which must be an active PROVIDER of the
    ///         participant directory (reverts with the directory's `ParticipantNotRegistered`,
    ///         `ParticipantIsSuspended` or `ParticipantLacksRole`).
    function anchor(bytes32 commitment) external;

    /// @notice The anchor of `commitment` (provider 0: not anchored).
    function anchorOf(bytes32 commitment) external view returns (Anchor memory);

    /// @notice The participant directory this contract asks.
    function directory() external view returns (IParticipantDirectory);
}
