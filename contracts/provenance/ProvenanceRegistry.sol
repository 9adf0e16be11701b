// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {EmergencyPausable} from "../common/EmergencyPausable.sol";
import {IVersioned} from "../common/IMigratable.sol";
import {IDispenseCheck} from "../common/IDispenseCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {GS1} from "../common/GS1.sol";
import {GS1Date} from "./GS1Date.sol";
import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";

/// @title ProvenanceRegistry
/// @notice See {IProvenanceRegistry}. Storage: 2 slots per batch (root; GTIN, quantity, expiry,
///         status), 1 slot per parcel plus 1 while it is in transit, 1 slot per dispensed unit.
contract ProvenanceRegistry is IProvenanceRegistry, IVersioned, EmergencyPausable {
    /// @dev Roles that may hold, ship and receive drug product.
    uint8 private constant _TRADING = Roles.MANUFACTURER | Roles.DISTRIBUTOR | Roles.PHARMACY;

    /// @dev A dispensed unit: who dispensed it, when, and the batch (56-bit id) it came from.
    struct Unit {
        address pharmacy;
        uint40 dispensedAt;
        uint56 batchId;
    }

    IParticipantDirectory private immutable _directory;

    // ------------------------------------------------------------------ storage

    mapping(bytes32 batchId => Batch) private _batches;
    mapping(bytes32 batchId => mapping(uint256 start => Parcel)) private _parcels;
    mapping(bytes32 unitId => Unit) private _units;

    constructor(IParticipantDirectory directory_) {
        if (address(directory_) == address(0)) revert ZeroAddress();
        _directory = directory_;
    }

    // ------------------------------------------------------------------ ids

    /// @inheritdoc IProvenanceRegistry
    function unitIdOf(uint256 gtin, bytes32 serial) public pure returns (bytes32) {
        return keccak256(abi.encode(gtin, serial));
    }

    /// @inheritdoc IProvenanceRegistry
    function batchIdOf(uint256 gtin, bytes32 lot) public pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(gtin, lot))) >> 200);
    }

    // ------------------------------------------------------------------ manufacturer

    /// @inheritdoc IProvenanceRegistry
    function commission(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        uint48 quantity,
        bytes32 merkleRoot
    ) external whenNotPaused returns (bytes32 batchId) {
        if (!GS1.isValidGtin(gtin)) revert InvalidGtin(gtin);
        if (lot == bytes32(0)) revert EmptyLot();
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (merkleRoot == bytes32(0)) revert EmptyCommitment();
        // The century of YYMMDD is the one GS1 GS 7.12 gives in the year of this block.
        uint256 expiresAt = GS1Date.expiresAt(expiry, block.timestamp);
        // An expired batch would never verify: refuse it rather than record dead stock.
        if (expiresAt <= block.timestamp) revert ExpiryInPast(expiry, expiresAt);
        // Active manufacturer AND owner of the GTIN's GS1 company prefix: no brand can be forged.
        _directory.requireGtinOwner(msg.sender, gtin);

        batchId = batchIdOf(gtin, lot);
        Batch storage b = _batches[batchId];
        // Same GTIN + lot twice is the same batch: refused (also two ids colliding in 56 bits).
        if (b.status != BatchStatus.None) revert BatchAlreadyCommissioned(batchId);
        b.merkleRoot = merkleRoot;
        b.gtin = uint64(gtin);
        b.quantity = quantity;
        b.expiry = expiry;
        b.expiresAt = uint40(expiresAt);
        b.status = BatchStatus.Active;
        Parcel storage p = _parcels[batchId][0];
        p.holder = msg.sender;
        p.end = quantity;
        emit BatchCommissioned(batchId, msg.sender, gtin, lot, expiry, quantity, merkleRoot);
    }

    // ------------------------------------------------------------------ custody

    /// @inheritdoc IProvenanceRegistry
    function ship(bytes32 batchId, uint48 start, address to, uint48 quantity, bytes32 document) external whenNotPaused {
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (document == bytes32(0)) revert EmptyCommitment();
        if (to == msg.sender) revert ShipToSelf(to);
        _requireMovable(batchId);
        _directory.requireActivePair(msg.sender, to, _TRADING);

        Parcel storage p = _heldParcel(batchId, start);
        uint48 end = p.end;
        uint48 size = end - start;
        if (quantity > size) revert InsufficientCustody(batchId, start, size, quantity);
        if (quantity < size) {
            // The rest stays with the sender as a parcel of its own (one fresh slot).
            uint48 cut = start + quantity;
            p.end = cut;
            Parcel storage rest = _parcels[batchId][cut];
            rest.holder = msg.sender;
            rest.end = end;
        }
        p.to = to;
        emit ShipmentSent(batchId, msg.sender, to, start, quantity, document);
    }

    /// @inheritdoc IProvenanceRegistry
    function split(bytes32 batchId, uint48 start, uint48 at) external whenNotPaused {
        _requireMovable(batchId);
        _directory.requireActive(msg.sender, _TRADING);
        Parcel storage p = _heldParcel(batchId, start);
        uint48 end = p.end;
        if (at <= start || at >= end) revert InvalidSplit(batchId, start, end, at);
        p.end = at;
        Parcel storage rest = _parcels[batchId][at];
        rest.holder = msg.sender;
        rest.end = end;
        emit ParcelSplit(batchId, msg.sender, start, at);
    }

    /// @inheritdoc IProvenanceRegistry
    function accept(bytes32 batchId, uint48 start) external whenNotPaused {
        Parcel storage p = _inboundParcel(batchId, start);
        _requireMovable(batchId);
        _directory.requireActive(msg.sender, _TRADING);
        address from = p.holder;
        p.holder = msg.sender;
        p.to = address(0);
        emit ShipmentAccepted(batchId, from, msg.sender, start, p.end - start);
    }

    /// @inheritdoc IProvenanceRegistry
    function reject(bytes32 batchId, uint48 start, bytes32 reasonCode) external {
        if (reasonCode == bytes32(0)) revert EmptyReasonCode();
        Parcel storage p = _inboundParcel(batchId, start);
        p.to = address(0);
        emit ShipmentRejected(batchId, p.holder, msg.sender, start, p.end - start, reasonCode);
    }

    /// @inheritdoc IProvenanceRegistry
    function cancel(bytes32 batchId, uint48 start, bytes32 reasonCode) external {
        if (reasonCode == bytes32(0)) revert EmptyReasonCode();
        Parcel storage p = _parcels[batchId][start];
        address holder = p.holder;
        if (holder != msg.sender) _requireSuccessor(holder, batchId, start, false);
        address to = p.to;
        if (to == address(0)) revert ParcelNotInTransit(batchId, start);
        p.to = address(0);
        emit ShipmentCancelled(batchId, msg.sender, to, start, p.end - start, reasonCode);
    }

    // ------------------------------------------------------------------ pharmacy

    /// @inheritdoc IProvenanceRegistry
    function dispense(
        uint256 gtin,
        bytes32 lot,
        bytes32 serial,
        uint48 index,
        uint48 parcel,
        bytes32[] calldata proof
    ) external whenNotPaused {
        bytes32 batchId = batchIdOf(gtin, lot);
        Batch storage b = _batches[batchId];
        BatchStatus status = b.status;
        if (status != BatchStatus.Active) _revertStatus(batchId, status);
        if (block.timestamp >= b.expiresAt) revert BatchExpired(batchId, b.expiresAt);
        _directory.requireActive(msg.sender, Roles.PHARMACY);

        // The position must lie in a parcel this pharmacy holds (accepted, not in transit).
        Parcel storage p = _heldParcel(batchId, parcel);
        uint48 end = p.end;
        if (index < parcel || index >= end) revert SerialNotInParcel(batchId, index, parcel, end);
        bytes32 unitId = unitIdOf(gtin, serial);
        Unit storage u = _units[unitId];
        // The unit record is keyed by GTIN+serial across all batches: a clone is caught here.
        if (u.pharmacy != address(0)) revert UnitAlreadyDispensed(unitId, u.pharmacy, bytes32(uint256(u.batchId)));
        if (!_inTree(b.merkleRoot, b.quantity, unitId, index, proof)) revert SerialNotInBatch(batchId, serial, index);
        u.pharmacy = msg.sender;
        u.dispensedAt = uint40(block.timestamp);
        u.batchId = uint56(uint256(batchId));
        emit UnitDispensed(unitId, batchId, msg.sender, index);
    }

    // ------------------------------------------------------------------ authority

    /// @inheritdoc IProvenanceRegistry
    function quarantine(bytes32 batchId, bytes32 reasonCode) external {
        Batch storage b = _authorised(batchId, reasonCode);
        BatchStatus status = b.status;
        if (status != BatchStatus.Active) _revertStatus(batchId, status);
        b.status = BatchStatus.Quarantined;
        emit BatchQuarantined(batchId, msg.sender, reasonCode);
    }

    /// @inheritdoc IProvenanceRegistry
    function liftQuarantine(bytes32 batchId, bytes32 reasonCode) external whenNotPaused {
        Batch storage b = _authorised(batchId, reasonCode);
        BatchStatus status = b.status;
        if (status == BatchStatus.Recalled || status == BatchStatus.Voided) _revertStatus(batchId, status);
        if (status != BatchStatus.Quarantined) revert BatchNotQuarantined(batchId);
        b.status = BatchStatus.Active;
        emit QuarantineLifted(batchId, msg.sender, reasonCode);
    }

    /// @inheritdoc IProvenanceRegistry
    function recall(bytes32 batchId, bytes32 reasonCode) external {
        Batch storage b = _authorised(batchId, reasonCode);
        BatchStatus status = b.status;
        if (status == BatchStatus.Recalled || status == BatchStatus.Voided) _revertStatus(batchId, status);
        b.status = BatchStatus.Recalled;
        emit BatchRecalled(batchId, msg.sender, reasonCode);
    }

    /// @inheritdoc IProvenanceRegistry
    function voidBatch(bytes32 batchId, bytes32 reasonCode) external {
        if (reasonCode == bytes32(0)) revert EmptyReasonCode();
        Batch storage b = _batches[batchId];
        BatchStatus status = b.status;
        if (status == BatchStatus.None) revert UnknownBatch(batchId);
        _directory.requireActive(msg.sender, Roles.REGULATOR);
        if (status == BatchStatus.Voided) revert BatchIsVoided(batchId);
        b.status = BatchStatus.Voided;
        emit BatchVoided(batchId, msg.sender, reasonCode);
    }

    // ------------------------------------------------------------------ reads

    /// @inheritdoc IProvenanceRegistry
    function verify(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        bytes32 serial,
        uint48 index,
        bytes32[] calldata proof
    ) external view returns (Verdict verdict, address dispensedBy) {
        bytes32 batchId = batchIdOf(gtin, lot);
        bytes32 unitId = unitIdOf(gtin, serial);
        Batch storage b = _batches[batchId];
        Unit storage u = _units[unitId];
        dispensedBy = u.pharmacy;

        BatchStatus status = b.status;
        if (status == BatchStatus.None) {
            // The GTIN+serial is on record under another lot: the lot on the pack is wrong.
            return (dispensedBy != address(0) ? Verdict.NoMatchLot : Verdict.UnknownBatch, dispensedBy);
        }
        if (!_inTree(b.merkleRoot, b.quantity, unitId, index, proof)) {
            bool elsewhere = dispensedBy != address(0) && bytes32(uint256(u.batchId)) != batchId;
            return (elsewhere ? Verdict.NoMatchLot : Verdict.NoMatchGtinSerial, dispensedBy);
        }
        if (expiry != b.expiry) return (Verdict.NoMatchExpiry, dispensedBy);
        if (status == BatchStatus.Voided) return (Verdict.Voided, dispensedBy);
        if (status == BatchStatus.Recalled) return (Verdict.Recalled, dispensedBy);
        if (status == BatchStatus.Quarantined) return (Verdict.Suspect, dispensedBy);
        if (dispensedBy != address(0)) return (Verdict.Dispensed, dispensedBy);
        if (block.timestamp >= b.expiresAt) return (Verdict.Expired, dispensedBy);
        return (Verdict.Verified, dispensedBy);
    }

    /// @inheritdoc IDispenseCheck
    function dispenseOf(bytes32 unitId) external view returns (Dispense memory d) {
        Unit storage u = _units[unitId];
        if (u.pharmacy == address(0)) return d;
        bytes32 batchId = bytes32(uint256(u.batchId));
        Batch storage b = _batches[batchId];
        BatchStatus status = b.status;
        d.pharmacy = u.pharmacy;
        d.dispensedAt = u.dispensedAt;
        d.gtin = b.gtin;
        d.batchId = batchId;
        d.recalled = status == BatchStatus.Recalled || status == BatchStatus.Voided;
        d.quarantined = status == BatchStatus.Quarantined;
    }

    /// @inheritdoc IProvenanceRegistry
    function batchInfo(bytes32 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IProvenanceRegistry
    function parcelOf(bytes32 batchId, uint48 start) external view returns (Parcel memory) {
        return _parcels[batchId][start];
    }

    /// @inheritdoc IProvenanceRegistry
    function directory() external view returns (IParticipantDirectory) {
        return _directory;
    }

    // ------------------------------------------------------------------ internal

    /// @inheritdoc IVersioned
    function version() public pure virtual returns (uint16) {
        return 1;
    }

    function _pauseAuthority() internal view override returns (IAccessControl) {
        return IAccessControl(address(_directory));
    }

    /// @dev True when `serial` (as `unitId`) sits at position `index` of the batch's positional
    ///      tree: `index < quantity`, a proof of exactly `ceil(log2(quantity))` siblings, and the
    ///      hash path the bits of `index` dictate ends at `root`. So exactly `quantity` leaves verify.
    function _inTree(
        bytes32 root,
        uint256 quantity,
        bytes32 unitId,
        uint256 index,
        bytes32[] calldata proof
    ) private pure returns (bool) {
        if (index >= quantity || proof.length != _depth(quantity)) return false;
        // The OpenZeppelin StandardMerkleTree leaf of (gtin, serial): keccak256(unitId).
        bytes32 node = keccak256(bytes.concat(unitId));
        uint256 n = proof.length;
        for (uint256 i; i < n; ++i) {
            node = (index & 1 == 0)
                ? Hashes.efficientKeccak256(node, proof[i])
                : Hashes.efficientKeccak256(proof[i], node);
            index >>= 1;
        }
        return node == root;
    }

    /// @dev ceil(log2(quantity)) for quantity >= 1, without a loop (binary search on the bits).
    function _depth(uint256 quantity) private pure returns (uint256 d) {
        uint256 x = quantity - 1;
        unchecked {
            if (x >> 32 != 0) {
                x >>= 32;
                d += 32;
            }
            if (x >> 16 != 0) {
                x >>= 16;
                d += 16;
            }
            if (x >> 8 != 0) {
                x >>= 8;
                d += 8;
            }
            if (x >> 4 != 0) {
                x >>= 4;
                d += 4;
            }
            if (x >> 2 != 0) {
                x >>= 2;
                d += 2;
            }
            if (x >> 1 != 0) {
                x >>= 1;
                d += 1;
            }
            d += x; // x is 0 or 1 now
        }
    }

    /// @dev The caller's parcel `start`, not in transit.
    function _heldParcel(bytes32 batchId, uint256 start) private view returns (Parcel storage p) {
        p = _parcels[batchId][start];
        address holder = p.holder;
        if (holder != msg.sender) _requireSuccessor(holder, batchId, start, false);
        address to = p.to;
        if (to != address(0)) revert ParcelInTransit(batchId, start, to);
    }

    /// @dev The parcel `start` in transit to the caller.
    function _inboundParcel(bytes32 batchId, uint256 start) private view returns (Parcel storage p) {
        p = _parcels[batchId][start];
        address to = p.to;
        if (to != msg.sender) _requireSuccessor(to, batchId, start, true);
    }

    /// @dev Custody stays recorded under the key it was given to: an organisation that rotated its
    ///      key acts on it with its current key. Asked only when the caller is not the recorded
    ///      party, so custody moves of organisations that never rotated pay nothing for it.
    function _requireSuccessor(address recorded, bytes32 batchId, uint256 start, bool inbound) private view {
        if (recorded != address(0) && _directory.currentKey(recorded) == msg.sender) return;
        if (inbound) revert NotParcelReceiver(batchId, start, msg.sender, recorded);
        revert NotParcelHolder(batchId, start, msg.sender, recorded);
    }

    /// @dev Ship, split and accept need an existing batch that is Active.
    function _requireMovable(bytes32 batchId) private view {
        BatchStatus status = _batches[batchId].status;
        if (status != BatchStatus.Active) _revertStatus(batchId, status);
    }

    /// @dev The error for a batch that is not Active.
    function _revertStatus(bytes32 batchId, BatchStatus status) private pure {
        if (status == BatchStatus.None) revert UnknownBatch(batchId);
        if (status == BatchStatus.Recalled) revert BatchIsRecalled(batchId);
        if (status == BatchStatus.Voided) revert BatchIsVoided(batchId);
        revert BatchIsQuarantined(batchId);
    }

    /// @dev The owner of the batch's GTIN (active manufacturer) or an active regulator, with a reason.
    function _authorised(bytes32 batchId, bytes32 reasonCode) private view returns (Batch storage b) {
        if (reasonCode == bytes32(0)) revert EmptyReasonCode();
        b = _batches[batchId];
        if (b.status == BatchStatus.None) revert UnknownBatch(batchId);
        (address owner, , ) = _directory.gtinOwner(b.gtin);
        if (msg.sender == owner) {
            _directory.requireActive(msg.sender, Roles.MANUFACTURER);
            return b;
        }
        // Another manufacturer is told whose GTIN it is, not that it lacks the regulator role.
        uint8 roles = _directory.participant(msg.sender).roles;
        if ((roles & (Roles.MANUFACTURER | Roles.REGULATOR)) == Roles.MANUFACTURER) {
            revert NotGtinOwnerOfBatch(batchId, msg.sender, owner);
        }
        _directory.requireActive(msg.sender, Roles.REGULATOR);
    }
}
