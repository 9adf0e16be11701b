// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDispenseCheck} from "../common/IDispenseCheck.sol";

/// @title IProvenanceRegistry
/// @notice Serialised drug batches (GS1 GTIN-14 + lot + expiry + one Merkle root over the unit
///         serials), two-step custody between vetted trading partners, one-call verification in
///         DSCSA vocabulary, dispensing (cloned-serial detection), recall and quarantine.
/// @dev    Identifiers (mirrored in `careledger/provenance/ids.py`):
///         - `lot` and `serial` are GS1 AI (10) / AI (21) values of 1-20 characters, passed as
///           `bytes32` holding the ASCII bytes left-aligned and zero-padded (`bytes32("LOT1")`).
///         - `unitId  = keccak256(abi.encode(uint256 gtin, bytes32 serial))` - global per GTIN+serial.
///         - `batchId = bytes32(uint256(keccak256(abi.encode(uint256 gtin, bytes32 lot))) >> 160)`,
///           i.e. the top 96 bits of the hash, so a dispense record (pharmacy + batch) fits one slot.
///         - Merkle leaves are OpenZeppelin StandardMerkleTree leaves of types
///           `["uint256","bytes32"]` = `(gtin, serial)`, so `leaf = keccak256(bytes.concat(unitId))`.
///         Custody is a quantity per (batch, holder): `held` units plus at most one inbound
///         shipment (`incoming` units from `from`) in transit. No function loops over user data.
interface IProvenanceRegistry is IDispenseCheck {
    // ------------------------------------------------------------------ types

    /// @notice Lifecycle of a batch. `Recalled` is final; `Quarantined` can be lifted.
    enum BatchStatus {
        None,
        Active,
        Quarantined,
        Recalled
    }

    /// @notice DSCSA Verification Router Service answers (`Verified` or a reason it is not).
    enum Verdict {
        Verified,
        NoMatchGtinSerial,
        NoMatchLot,
        NoMatchExpiry,
        Recalled,
        Expired,
        Suspect,
        Dispensed,
        UnknownBatch
    }

    /// @notice A batch as stored: slot 0 the Merkle root; slot 1 the rest.
    struct Batch {
        bytes32 merkleRoot;
        address manufacturer;
        uint24 expiry; // GS1 AI (17) YYMMDD as a number (day 00 = last day of the month)
        uint40 expiresAt; // unix time of 00:00 UTC on the day after the expiry date (century: GS1 GS 7.12
        //                 in the year of the commissioning block)
        BatchStatus status;
    }

    /// @notice One party's custody of one batch: units held, and one inbound shipment in transit.
    struct Custody {
        uint48 held;
        uint48 incoming;
        address sender;
    }

    // ------------------------------------------------------------------ errors

    /// @notice `gtin` is not a GTIN-14 (more than 14 digits, zero, or a wrong check digit).
    error InvalidGtin(uint256 gtin);
    /// @notice The batch expired (at `expiresAt`) before it was commissioned.
    error ExpiryInPast(uint256 expiry, uint256 expiresAt);
    /// @notice A lot, serial, Merkle root, document or reason code of zero was given.
    error EmptyValue(string what);
    /// @notice A quantity of zero (or above 2^48-1) was given.
    error InvalidQuantity(uint256 quantity);
    /// @notice A batch with `batchId` (same GTIN and lot) already exists.
    error BatchAlreadyCommissioned(bytes32 batchId);
    /// @notice No batch has `batchId`.
    error UnknownBatch(bytes32 batchId);
    /// @notice The batch is recalled: nothing of it may move or be dispensed.
    error BatchIsRecalled(bytes32 batchId);
    /// @notice The batch is quarantined (suspect product): nothing of it may move or be dispensed.
    error BatchIsQuarantined(bytes32 batchId);
    /// @notice The batch is not quarantined, so the quarantine cannot be lifted.
    error BatchNotQuarantined(bytes32 batchId);
    /// @notice The batch expired at `expiresAt`; it cannot be dispensed.
    error BatchExpired(bytes32 batchId, uint256 expiresAt);
    /// @notice `account` holds `held` units of the batch, fewer than the `wanted`.
    error InsufficientCustody(bytes32 batchId, address account, uint256 held, uint256 wanted);
    /// @notice A shipment of the batch from `from` to `to` is still in transit.
    error ShipmentInTransit(bytes32 batchId, address to, address from);
    /// @notice `receiver` has no shipment of the batch in transit.
    error NoShipmentInTransit(bytes32 batchId, address receiver);
    /// @notice A holder cannot ship to itself.
    error ShipToSelf(address account);
    /// @notice `serial` is not in the batch's Merkle tree (the proof does not verify).
    error SerialNotInBatch(bytes32 batchId, bytes32 serial);
    /// @notice The unit was already dispensed by `pharmacy` (from `batchId`): a cloned serial.
    error UnitAlreadyDispensed(bytes32 unitId, address pharmacy, bytes32 batchId);
    /// @notice `account`, a manufacturer but not a regulator, acted on a batch that `manufacturer`
    ///         commissioned: only the batch's own manufacturer or a regulator may do that.
    error NotBatchManufacturer(bytes32 batchId, address account, address manufacturer);

    // ------------------------------------------------------------------ events

    /// @notice A manufacturer commissioned a batch of `quantity` units and holds them all.
    event BatchCommissioned(
        bytes32 indexed batchId,
        address indexed manufacturer,
        uint256 indexed gtin,
        bytes32 lot,
        uint24 expiry,
        uint48 quantity,
        bytes32 merkleRoot
    );
    /// @notice `from` shipped `quantity` units to `to`; `document` commits to the DSCSA
    ///         transaction information and transaction statement of this change of ownership.
    event ShipmentSent(
        bytes32 indexed batchId,
        address indexed from,
        address indexed to,
        uint48 quantity,
        bytes32 document
    );
    /// @notice `to` accepted the shipment from `from` and now holds the units.
    event ShipmentAccepted(bytes32 indexed batchId, address indexed from, address indexed to, uint48 quantity);
    /// @notice `to` rejected the shipment; the units are back with `from`.
    event ShipmentRejected(
        bytes32 indexed batchId,
        address indexed from,
        address indexed to,
        uint48 quantity,
        bytes32 reasonCode
    );
    /// @notice `pharmacy` dispensed the unit `serial` of the batch.
    event UnitDispensed(bytes32 indexed unitId, bytes32 indexed batchId, address indexed pharmacy, bytes32 serial);
    /// @notice The batch was quarantined as suspect product by `by` (manufacturer or regulator).
    event BatchQuarantined(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);
    /// @notice The quarantine of the batch was lifted by `by`.
    event QuarantineLifted(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);
    /// @notice The batch was recalled by `by`. Final.
    event BatchRecalled(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);

    // ------------------------------------------------------------------ ids

    /// @notice The global id of a drug unit: `keccak256(abi.encode(gtin, serial))`.
    function unitIdOf(uint256 gtin, bytes32 serial) external pure returns (bytes32);

    /// @notice The id of the batch (GTIN, lot): the top 96 bits of `keccak256(abi.encode(gtin, lot))`.
    function batchIdOf(uint256 gtin, bytes32 lot) external pure returns (bytes32);

    // ------------------------------------------------------------------ manufacturer

    /// @notice Commissions a batch: `quantity` units whose serials are the leaves of `merkleRoot`.
    /// @dev    Caller must be an active MANUFACTURER. Gas does not depend on `quantity`.
    ///         `expiry` (YYMMDD) is read with GS1Date: century per GS1 General Specifications 7.12
    ///         in the UTC year of `block.timestamp`, day 00 = last day of the month.
    ///         Reverts {InvalidGtin}, GS1Date's InvalidGs1Date / NoSuchDay, {ExpiryInPast},
    ///         {EmptyValue}, {InvalidQuantity}, {BatchAlreadyCommissioned}, directory errors.
    function commission(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        uint48 quantity,
        bytes32 merkleRoot
    ) external returns (bytes32 batchId);

    // ------------------------------------------------------------------ custody

    /// @notice Ships `quantity` held units of the batch to the registered trading partner `to`,
    ///         committing to the DSCSA transaction information/statement `document`.
    /// @dev    Caller and `to` must be active manufacturers, distributors or pharmacies. The units
    ///         stay in transit until `to` calls {accept} or {reject}. One shipment of a batch to a
    ///         receiver may be in transit at a time ({ShipmentInTransit}).
    function ship(bytes32 batchId, address to, uint48 quantity, bytes32 document) external;

    /// @notice The receiver takes custody of the shipment of the batch in transit to it.
    function accept(bytes32 batchId) external;

    /// @notice The receiver refuses the shipment in transit to it; the units return to the sender.
    /// @dev    Allowed even when the batch is recalled or quarantined (goods go back).
    function reject(bytes32 batchId, bytes32 reasonCode) external;

    // ------------------------------------------------------------------ pharmacy

    /// @notice A pharmacy holding units of the batch dispenses the unit `serial`, proven to be in
    ///         the batch by `proof`. A unit (GTIN+serial) can be dispensed once, from any batch.
    /// @dev    Reverts {UnknownBatch}, {BatchIsRecalled}, {BatchIsQuarantined}, {BatchExpired},
    ///         {InsufficientCustody}, {UnitAlreadyDispensed}, {SerialNotInBatch}, directory errors.
    function dispense(uint256 gtin, bytes32 lot, bytes32 serial, bytes32[] calldata proof) external;

    // ------------------------------------------------------------------ authority

    /// @notice The batch's manufacturer or a regulator quarantines it (suspect product).
    /// @dev    Authority (quarantine, liftQuarantine, recall): the batch's manufacturer while an
    ///         active MANUFACTURER, or an active REGULATOR. Another manufacturer that is no
    ///         regulator gets {NotBatchManufacturer}; anyone else the directory's error for
    ///         REGULATOR. Reverts {EmptyValue} (reason code), {UnknownBatch} too.
    function quarantine(bytes32 batchId, bytes32 reasonCode) external;

    /// @notice The batch's manufacturer or a regulator lifts a quarantine (product cleared).
    function liftQuarantine(bytes32 batchId, bytes32 reasonCode) external;

    /// @notice The batch's manufacturer or a regulator recalls it. A recall cannot be lifted.
    function recall(bytes32 batchId, bytes32 reasonCode) external;

    // ------------------------------------------------------------------ reads

    /// @notice Verifies a scanned unit in one call.
    /// @return verdict `Verified` or the first failing reason, in this order: UnknownBatch /
    ///                 NoMatchLot (GTIN+lot unknown), NoMatchGtinSerial / NoMatchLot (proof fails),
    ///                 NoMatchExpiry, Recalled, Suspect, Dispensed, Expired.
    /// @return holder  the pharmacy that dispensed it when dispensed; otherwise the caller when
    ///                 the caller holds units of the batch (a partner checking its own stock);
    ///                 otherwise zero (custody is per quantity: see {custodyOf} and the events).
    function verify(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        bytes32 serial,
        bytes32[] calldata proof
    ) external view returns (Verdict verdict, address holder);

    /// @notice The batch record (all zero when unknown).
    function batchInfo(bytes32 batchId) external view returns (Batch memory);

    /// @notice What `account` holds of the batch, and the shipment in transit to it.
    function custodyOf(bytes32 batchId, address account) external view returns (Custody memory);

    /// @notice The directory this registry asks who may act.
    function directory() external view returns (address);
}
