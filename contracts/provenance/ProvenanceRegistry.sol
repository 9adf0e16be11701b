// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IDispenseCheck} from "../common/IDispenseCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Roles} from "../common/Roles.sol";
import {GS1Date} from "./GS1Date.sol";
import {IProvenanceRegistry} from "./IProvenanceRegistry.sol";

/// @title ProvenanceRegistry
/// @notice See {IProvenanceRegistry}. Storage per batch: 2 slots (root; manufacturer, expiry,
///         status), 1 slot per (batch, holder) custody, 1 slot per dispensed unit.
contract ProvenanceRegistry is IProvenanceRegistry {
    /// @dev Roles that may hold, ship and receive drug product.
    uint8 private constant _TRADING = Roles.MANUFACTURER | Roles.DISTRIBUTOR | Roles.PHARMACY;
    uint256 private constant _MAX_GTIN = 99_999_999_999_999;

    /// @dev A dispensed unit: who dispensed it, and the batch (96-bit id) it came from.
    struct Unit {
        address pharmacy;
        uint96 batchId;
    }

    IParticipantDirectory private immutable _directory;

    // ------------------------------------------------------------------ storage

    mapping(bytes32 batchId => Batch) private _batches;
    mapping(bytes32 batchId => mapping(address holder => Custody)) private _custody;
    mapping(bytes32 unitId => Unit) private _units;
    /// @dev Interim (claims v2, #13): GTIN << 40 | dispense time of each dispensed unit, so
    ///      {dispenseOf} can answer the full {IDispenseCheck.Dispense}; superseded by #14.
    mapping(bytes32 unitId => uint256) private _dispenseFacts;

    constructor(address directory_) {
        if (directory_ == address(0)) revert EmptyValue("directory");
        _directory = IParticipantDirectory(directory_);
    }

    // ------------------------------------------------------------------ ids

    /// @inheritdoc IProvenanceRegistry
    function unitIdOf(uint256 gtin, bytes32 serial) public pure returns (bytes32) {
        return keccak256(abi.encode(gtin, serial));
    }

    /// @inheritdoc IProvenanceRegistry
    function batchIdOf(uint256 gtin, bytes32 lot) public pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode(gtin, lot))) >> 160);
    }

    // ------------------------------------------------------------------ manufacturer

    /// @inheritdoc IProvenanceRegistry
    function commission(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        uint48 quantity,
        bytes32 merkleRoot
    ) external returns (bytes32 batchId) {
        if (!_validGtin(gtin)) revert InvalidGtin(gtin);
        if (lot == bytes32(0)) revert EmptyValue("lot");
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (merkleRoot == bytes32(0)) revert EmptyValue("merkleRoot");
        // The century of YYMMDD is the one GS1 GS 7.12 gives in the year of this block.
        uint256 expiresAt = GS1Date.expiresAt(expiry, block.timestamp);
        // An expired batch would never verify: refuse it rather than record dead stock.
        if (expiresAt <= block.timestamp) revert ExpiryInPast(expiry, expiresAt);
        _directory.requireActive(msg.sender, Roles.MANUFACTURER);

        batchId = batchIdOf(gtin, lot);
        Batch storage b = _batches[batchId];
        // Same GTIN + lot twice is the same batch: refused (also the <2^-30 chance of two ids colliding).
        if (b.status != BatchStatus.None) revert BatchAlreadyCommissioned(batchId);
        b.merkleRoot = merkleRoot;
        b.manufacturer = msg.sender;
        b.expiry = expiry;
        b.expiresAt = uint40(expiresAt);
        b.status = BatchStatus.Active;
        _custody[batchId][msg.sender].held = quantity;
        emit BatchCommissioned(batchId, msg.sender, gtin, lot, expiry, quantity, merkleRoot);
    }

    // ------------------------------------------------------------------ custody

    /// @inheritdoc IProvenanceRegistry
    function ship(bytes32 batchId, address to, uint48 quantity, bytes32 document) external {
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (document == bytes32(0)) revert EmptyValue("document");
        if (to == msg.sender) revert ShipToSelf(to);
        _requireMovable(batchId);
        _directory.requireActive(msg.sender, _TRADING);
        _directory.requireActive(to, _TRADING);

        Custody storage sender = _custody[batchId][msg.sender];
        uint48 held = sender.held;
        // Only the holder ships, and only what it holds (units in transit to it are not held).
        if (held < quantity) revert InsufficientCustody(batchId, msg.sender, held, quantity);
        Custody storage receiver = _custody[batchId][to];
        if (receiver.incoming != 0) revert ShipmentInTransit(batchId, to, receiver.sender);
        unchecked {
            sender.held = held - quantity; // held >= quantity checked above
        }
        receiver.incoming = quantity;
        receiver.sender = msg.sender;
        emit ShipmentSent(batchId, msg.sender, to, quantity, document);
    }

    /// @inheritdoc IProvenanceRegistry
    function accept(bytes32 batchId) external {
        Custody storage c = _custody[batchId][msg.sender];
        uint48 quantity = c.incoming;
        if (quantity == 0) revert NoShipmentInTransit(batchId, msg.sender);
        _requireMovable(batchId);
        _directory.requireActive(msg.sender, _TRADING);
        address from = c.sender;
        c.held += quantity;
        c.incoming = 0;
        c.sender = address(0);
        emit ShipmentAccepted(batchId, from, msg.sender, quantity);
    }

    /// @inheritdoc IProvenanceRegistry
    function reject(bytes32 batchId, bytes32 reasonCode) external {
        if (reasonCode == bytes32(0)) revert EmptyValue("reasonCode");
        Custody storage c = _custody[batchId][msg.sender];
        uint48 quantity = c.incoming;
        if (quantity == 0) revert NoShipmentInTransit(batchId, msg.sender);
        address from = c.sender;
        c.incoming = 0;
        c.sender = address(0);
        _custody[batchId][from].held += quantity;
        emit ShipmentRejected(batchId, from, msg.sender, quantity, reasonCode);
    }

    // ------------------------------------------------------------------ pharmacy

    /// @inheritdoc IProvenanceRegistry
    function dispense(uint256 gtin, bytes32 lot, bytes32 serial, bytes32[] calldata proof) external {
        bytes32 batchId = batchIdOf(gtin, lot);
        Batch storage b = _batches[batchId];
        BatchStatus status = b.status;
        if (status == BatchStatus.None) revert UnknownBatch(batchId);
        if (status == BatchStatus.Recalled) revert BatchIsRecalled(batchId);
        if (status == BatchStatus.Quarantined) revert BatchIsQuarantined(batchId);
        if (block.timestamp >= b.expiresAt) revert BatchExpired(batchId, b.expiresAt);
        _directory.requireActive(msg.sender, Roles.PHARMACY);

        Custody storage c = _custody[batchId][msg.sender];
        uint48 held = c.held;
        if (held == 0) revert InsufficientCustody(batchId, msg.sender, 0, 1);
        bytes32 unitId = unitIdOf(gtin, serial);
        Unit storage u = _units[unitId];
        // The unit record is keyed by GTIN+serial across all batches: a clone is caught here.
        if (u.pharmacy != address(0)) revert UnitAlreadyDispensed(unitId, u.pharmacy, bytes32(uint256(u.batchId)));
        if (!MerkleProof.verifyCalldata(proof, b.merkleRoot, _leaf(unitId))) revert SerialNotInBatch(batchId, serial);
        unchecked {
            c.held = held - 1; // held != 0 checked above
        }
        u.pharmacy = msg.sender;
        u.batchId = uint96(uint256(batchId));
        _dispenseFacts[unitId] = (gtin << 40) | block.timestamp;
        emit UnitDispensed(unitId, batchId, msg.sender, serial);
    }

    // ------------------------------------------------------------------ authority

    /// @inheritdoc IProvenanceRegistry
    function quarantine(bytes32 batchId, bytes32 reasonCode) external {
        Batch storage b = _authorised(batchId, reasonCode);
        if (b.status == BatchStatus.Recalled) revert BatchIsRecalled(batchId);
        if (b.status == BatchStatus.Quarantined) revert BatchIsQuarantined(batchId);
        b.status = BatchStatus.Quarantined;
        emit BatchQuarantined(batchId, msg.sender, reasonCode);
    }

    /// @inheritdoc IProvenanceRegistry
    function liftQuarantine(bytes32 batchId, bytes32 reasonCode) external {
        Batch storage b = _authorised(batchId, reasonCode);
        if (b.status == BatchStatus.Recalled) revert BatchIsRecalled(batchId);
        if (b.status != BatchStatus.Quarantined) revert BatchNotQuarantined(batchId);
        b.status = BatchStatus.Active;
        emit QuarantineLifted(batchId, msg.sender, reasonCode);
    }

    /// @inheritdoc IProvenanceRegistry
    function recall(bytes32 batchId, bytes32 reasonCode) external {
        Batch storage b = _authorised(batchId, reasonCode);
        if (b.status == BatchStatus.Recalled) revert BatchIsRecalled(batchId);
        b.status = BatchStatus.Recalled;
        emit BatchRecalled(batchId, msg.sender, reasonCode);
    }

    // ------------------------------------------------------------------ reads

    /// @inheritdoc IProvenanceRegistry
    function verify(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        bytes32 serial,
        bytes32[] calldata proof
    ) external view returns (Verdict verdict, address holder) {
        bytes32 batchId = batchIdOf(gtin, lot);
        bytes32 unitId = unitIdOf(gtin, serial);
        Batch storage b = _batches[batchId];
        Unit storage u = _units[unitId];
        address pharmacy = u.pharmacy;
        bytes32 unitBatch = bytes32(uint256(u.batchId));
        holder = pharmacy;
        if (holder == address(0) && _custody[batchId][msg.sender].held != 0) holder = msg.sender;

        BatchStatus status = b.status;
        if (status == BatchStatus.None) {
            // The GTIN+serial is on record under another lot: the lot on the pack is wrong.
            return (pharmacy != address(0) ? Verdict.NoMatchLot : Verdict.UnknownBatch, holder);
        }
        if (!MerkleProof.verifyCalldata(proof, b.merkleRoot, _leaf(unitId))) {
            bool elsewhere = pharmacy != address(0) && unitBatch != batchId;
            return (elsewhere ? Verdict.NoMatchLot : Verdict.NoMatchGtinSerial, holder);
        }
        if (expiry != b.expiry) return (Verdict.NoMatchExpiry, holder);
        if (status == BatchStatus.Recalled) return (Verdict.Recalled, holder);
        if (status == BatchStatus.Quarantined) return (Verdict.Suspect, holder);
        if (pharmacy != address(0)) return (Verdict.Dispensed, holder);
        if (block.timestamp >= b.expiresAt) return (Verdict.Expired, holder);
        return (Verdict.Verified, holder);
    }

    /// @inheritdoc IDispenseCheck
    function dispenseOf(bytes32 unitId) external view returns (Dispense memory d) {
        Unit storage u = _units[unitId];
        if (u.pharmacy == address(0)) return d;
        uint256 facts = _dispenseFacts[unitId];
        d.pharmacy = u.pharmacy;
        d.dispensedAt = uint40(facts); // the low 40 bits: block time of the dispense
        d.gtin = facts >> 40;
        d.batchId = bytes32(uint256(u.batchId));
        BatchStatus status = _batches[d.batchId].status;
        d.recalled = status == BatchStatus.Recalled;
        d.quarantined = status == BatchStatus.Quarantined;
    }

    /// @inheritdoc IProvenanceRegistry
    function batchInfo(bytes32 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IProvenanceRegistry
    function custodyOf(bytes32 batchId, address account) external view returns (Custody memory) {
        return _custody[batchId][account];
    }

    /// @inheritdoc IProvenanceRegistry
    function directory() external view returns (address) {
        return address(_directory);
    }

    // ------------------------------------------------------------------ internal

    /// @dev OpenZeppelin StandardMerkleTree leaf of `(gtin, serial)`: its inner hash is the unit id.
    function _leaf(bytes32 unitId) private pure returns (bytes32) {
        return keccak256(bytes.concat(unitId));
    }

    /// @dev Ship and accept need an existing batch that is neither recalled nor quarantined.
    function _requireMovable(bytes32 batchId) private view {
        BatchStatus status = _batches[batchId].status;
        if (status == BatchStatus.Active) return;
        if (status == BatchStatus.None) revert UnknownBatch(batchId);
        if (status == BatchStatus.Recalled) revert BatchIsRecalled(batchId);
        revert BatchIsQuarantined(batchId);
    }

    /// @dev The batch's (active) manufacturer, or an active regulator, with a reason code.
    function _authorised(bytes32 batchId, bytes32 reasonCode) private view returns (Batch storage b) {
        if (reasonCode == bytes32(0)) revert EmptyValue("reasonCode");
        b = _batches[batchId];
        if (b.status == BatchStatus.None) revert UnknownBatch(batchId);
        address manufacturer = b.manufacturer;
        if (msg.sender == manufacturer) {
            _directory.requireActive(msg.sender, Roles.MANUFACTURER);
            return b;
        }
        // Another manufacturer is told whose batch it is, not that it lacks the regulator role.
        uint8 roles = _directory.participant(msg.sender).roles;
        if ((roles & (Roles.MANUFACTURER | Roles.REGULATOR)) == Roles.MANUFACTURER) {
            revert NotBatchManufacturer(batchId, msg.sender, manufacturer);
        }
        _directory.requireActive(msg.sender, Roles.REGULATOR);
    }

    /// @dev GTIN-14 check digit (GS1 General Specifications 7.9.1): weights 3,1,3,... from the
    ///      digit left of the check digit. Fixed 13 iterations.
    function _validGtin(uint256 gtin) private pure returns (bool) {
        if (gtin == 0 || gtin > _MAX_GTIN) return false;
        uint256 check = gtin % 10;
        uint256 rest = gtin / 10;
        uint256 sum = 0;
        for (uint256 i; i < 13; ++i) {
            sum += (rest % 10) * (i % 2 == 0 ? 3 : 1);
            rest /= 10;
        }
        return (10 - (sum % 10)) % 10 == check;
    }
}
