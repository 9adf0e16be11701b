// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ICareErrors} from "../common/ICareErrors.sol";
import {IDispenseCheck} from "../common/IDispenseCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";

/// @title IProvenanceRegistry
/// @notice Serialised drug batches (GS1 GTIN-14 + lot + expiry + one positional Merkle root over
///         the unit serials), serial-level custody in parcels of serial positions shipped in two
///         steps between vetted trading partners, one-call verification in DSCSA vocabulary,
///         dispensing (cloned-serial detection), quarantine, recall and void.
/// @dev    Identifiers (mirrored in `careledger/provenance/ids.py`):
///         - `lot` and `serial` are GS1 AI (10) / AI (21) values of 1-20 characters, passed as
///           `bytes32` holding the ASCII bytes left-aligned and zero-padded (`bytes32("LOT1")`).
///         - `unitId  = keccak256(abi.encode(uint256 gtin, bytes32 serial))` - global per GTIN+serial.
///         - `batchId = bytes32(uint256(keccak256(abi.encode(uint256 gtin, bytes32 lot))) >> 200)`,
///           the top 56 bits of the hash, so a dispense record (pharmacy, time, batch) fits one slot.
///         - The serial tree of a batch of `quantity` units is a perfect binary tree of depth
///           `ceil(log2(quantity))`: position `i` (0-based) holds the leaf of the i-th serial,
///           `keccak256(bytes.concat(unitId))` (the OpenZeppelin StandardMerkleTree leaf of
///           `(gtin, serial)`), positions from `quantity` on hold `bytes32(0)`; an inner node is
///           `keccak256(left ‖ right)`. A proof is the siblings from the leaf up; bit k of the
///           position says whether the node at height k is a right child. The registry accepts
///           only proofs of exactly that depth for a position below `quantity`, so exactly
///           `quantity` serials verify in a batch.
///         - Custody: the positions `[start, end)` of a batch are split into parcels keyed by
///           `start`. A batch starts as one parcel `[0, quantity)` held by its manufacturer; a
///           shipment moves the first `quantity` positions of a parcel (the rest stays with the
///           sender as a parcel of its own). A pharmacy dispenses only a serial whose position
///           lies in a parcel it holds. No function loops over serials or parcels.
interface IProvenanceRegistry is ICareErrors, IDispenseCheck {
    // ------------------------------------------------------------------ types

    /// @notice Lifecycle of a batch. `Recalled` and `Voided` are final; `Quarantined` can be lifted.
    enum BatchStatus {
        None,
        Active,
        Quarantined,
        Recalled,
        Voided
    }

    /// @notice DSCSA Verification Router Service answers (`Verified` or a reason it is not).
    ///         `Voided`: a regulator annulled the batch's commissioning (illegitimate product).
    enum Verdict {
        Verified,
        NoMatchGtinSerial,
        NoMatchLot,
        NoMatchExpiry,
        Recalled,
        Expired,
        Suspect,
        Dispensed,
        UnknownBatch,
        Voided
    }

    /// @notice A batch as stored: slot 0 the serial tree's root; slot 1 the rest.
    struct Batch {
        bytes32 merkleRoot;
        uint64 gtin;
        uint48 quantity;
        uint24 expiry; // GS1 AI (17) YYMMDD as a number (day 00 = last day of the month)
        uint40 expiresAt; // unix time of 00:00 UTC on the day after the expiry date (century: GS1 GS 7.12
        //                 in the year of the commissioning block)
        BatchStatus status;
    }

    /// @notice The serial positions `[start, end)` of a batch (`start` is the key), held by
    ///         `holder`; while `to` is not zero they are in transit from `holder` to `to`.
    struct Parcel {
        address holder;
        uint48 end;
        address to;
    }

    // ------------------------------------------------------------------ errors

    /// @notice `gtin` is not a GTIN-14 (more than 14 digits, zero, or a wrong check digit).
    error InvalidGtin(uint256 gtin);
    /// @notice The batch expired (at `expiresAt`) before it was commissioned.
    error ExpiryInPast(uint256 expiry, uint256 expiresAt);
    /// @notice The lot was zero (a batch is identified by GTIN + lot).
    error EmptyLot();
    /// @notice The reason code was zero: a recall, quarantine or void must say why.
    error EmptyReasonCode();
    /// @notice A quantity of zero (or above 2^48-1) was given.
    error InvalidQuantity(uint256 quantity);
    /// @notice A batch with `batchId` (same GTIN and lot, or the same 56-bit id) already exists.
    error BatchAlreadyCommissioned(bytes32 batchId);
    /// @notice No batch has `batchId`.
    error UnknownBatch(bytes32 batchId);
    /// @notice The batch is recalled: nothing of it may move or be dispensed.
    error BatchIsRecalled(bytes32 batchId);
    /// @notice The batch is voided by a regulator: nothing of it may move or be dispensed.
    error BatchIsVoided(bytes32 batchId);
    /// @notice The batch is quarantined (suspect product): nothing of it may move or be dispensed.
    error BatchIsQuarantined(bytes32 batchId);
    /// @notice The batch is not quarantined, so the quarantine cannot be lifted.
    error BatchNotQuarantined(bytes32 batchId);
    /// @notice The batch expired at `expiresAt`; it cannot be dispensed.
    error BatchExpired(bytes32 batchId, uint256 expiresAt);
    /// @notice `account` is not the holder of the parcel `start` of the batch (`holder` is; zero:
    ///         no parcel starts there).
    error NotParcelHolder(bytes32 batchId, uint256 start, address account, address holder);
    /// @notice The parcel `start` holds `size` positions, fewer than the `wanted`.
    error InsufficientCustody(bytes32 batchId, uint256 start, uint256 size, uint256 wanted);
    /// @notice The parcel `start` of the batch is in transit to `to`: it cannot move or be dispensed from.
    error ParcelInTransit(bytes32 batchId, uint256 start, address to);
    /// @notice `account` is not the receiver of the parcel `start` (`to` is; zero: not in transit).
    error NotParcelReceiver(bytes32 batchId, uint256 start, address account, address to);
    /// @notice The parcel `start` of the batch is not in transit, so there is nothing to call back.
    error ParcelNotInTransit(bytes32 batchId, uint256 start);
    /// @notice `at` does not cut the parcel `[start, end)` in two (it must be strictly inside).
    error InvalidSplit(bytes32 batchId, uint256 start, uint256 end, uint256 at);
    /// @notice A holder cannot ship to itself.
    error ShipToSelf(address account);
    /// @notice `serial` at `index` is not in the batch's serial tree (the proof does not verify,
    ///         has the wrong depth, or `index` is not below the batch's quantity).
    error SerialNotInBatch(bytes32 batchId, bytes32 serial, uint256 index);
    /// @notice Position `index` of the batch is not in the parcel `[start, end)` the pharmacy named.
    error SerialNotInParcel(bytes32 batchId, uint256 index, uint256 start, uint256 end);
    /// @notice The unit was already dispensed by `pharmacy` (from `batchId`): a cloned serial.
    error UnitAlreadyDispensed(bytes32 unitId, address pharmacy, bytes32 batchId);
    /// @notice `account`, a manufacturer but not a regulator, acted on a batch whose GTIN is
    ///         owned by `owner`: only the GTIN's owner or a regulator may do that.
    error NotGtinOwnerOfBatch(bytes32 batchId, address account, address owner);

    // ------------------------------------------------------------------ events

    /// @notice A manufacturer commissioned a batch of `quantity` units and holds them all, as the
    ///         parcel `[0, quantity)`.
    event BatchCommissioned(
        bytes32 indexed batchId,
        address indexed manufacturer,
        uint256 indexed gtin,
        bytes32 lot,
        uint24 expiry,
        uint48 quantity,
        bytes32 merkleRoot
    );
    /// @notice `from` shipped the positions `[start, start + quantity)` to `to`; `document` commits
    ///         to the DSCSA transaction information and statement of this change of ownership.
    ///         When the parcel was larger, its rest `[start + quantity, end)` stays with `from`.
    event ShipmentSent(
        bytes32 indexed batchId,
        address indexed from,
        address indexed to,
        uint48 start,
        uint48 quantity,
        bytes32 document
    );
    /// @notice `to` accepted the parcel `start` from `from` and now holds it.
    event ShipmentAccepted(
        bytes32 indexed batchId,
        address indexed from,
        address indexed to,
        uint48 start,
        uint48 quantity
    );
    /// @notice `to` rejected the parcel `start`; it is back with `from`.
    event ShipmentRejected(
        bytes32 indexed batchId,
        address indexed from,
        address indexed to,
        uint48 start,
        uint48 quantity,
        bytes32 reasonCode
    );
    /// @notice `from` called back the parcel `start` before `to` accepted it.
    event ShipmentCancelled(
        bytes32 indexed batchId,
        address indexed from,
        address indexed to,
        uint48 start,
        uint48 quantity,
        bytes32 reasonCode
    );
    /// @notice The holder split its parcel `[start, end)` at `at`: two parcels, both its own.
    event ParcelSplit(bytes32 indexed batchId, address indexed holder, uint48 start, uint48 at);
    /// @notice `pharmacy` dispensed the unit `unitId` (position `index` of the batch). The serial
    ///         itself is not logged: the unit id is a hash of GTIN and serial.
    event UnitDispensed(bytes32 indexed unitId, bytes32 indexed batchId, address indexed pharmacy, uint48 index);
    /// @notice The batch was quarantined as suspect product by `by` (GTIN owner or regulator).
    event BatchQuarantined(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);
    /// @notice The quarantine of the batch was lifted by `by`.
    event QuarantineLifted(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);
    /// @notice The batch was recalled by `by`. Final.
    event BatchRecalled(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);
    /// @notice A regulator voided the batch (its commissioning is annulled). Final.
    event BatchVoided(bytes32 indexed batchId, address indexed by, bytes32 reasonCode);

    // ------------------------------------------------------------------ ids

    /// @notice The global id of a drug unit: `keccak256(abi.encode(gtin, serial))`.
    function unitIdOf(uint256 gtin, bytes32 serial) external pure returns (bytes32);

    /// @notice The id of the batch (GTIN, lot): the top 56 bits of `keccak256(abi.encode(gtin, lot))`.
    function batchIdOf(uint256 gtin, bytes32 lot) external pure returns (bytes32);

    // ------------------------------------------------------------------ manufacturer

    /// @notice Commissions a batch: `quantity` units whose serials are the leaves of `merkleRoot`,
    ///         a positional tree of depth `ceil(log2(quantity))`.
    /// @dev    Caller must be an active MANUFACTURER that owns `gtin` in the directory (the GS1
    ///         company prefix of the GTIN is attested to it). Gas does not depend on `quantity`.
    ///         `expiry` (YYMMDD) is read with GS1Date: century per GS1 General Specifications 7.12
    ///         in the UTC year of `block.timestamp`, day 00 = last day of the month.
    ///         Reverts {InvalidGtin}, GS1Date's InvalidGs1Date / NoSuchDay, {ExpiryInPast},
    ///         {EmptyLot}, {EmptyCommitment} (Merkle root), {InvalidQuantity},
    ///         {BatchAlreadyCommissioned}, directory errors (NotGtinOwner among them).
    function commission(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        uint48 quantity,
        bytes32 merkleRoot
    ) external returns (bytes32 batchId);

    // ------------------------------------------------------------------ custody

    /// @notice Ships the first `quantity` positions of the caller's parcel `start` to the trading
    ///         partner `to`, committing to the DSCSA transaction information/statement `document`.
    /// @dev    Caller and `to` must be active manufacturers, distributors or pharmacies. The parcel
    ///         stays in transit until `to` calls {accept} or {reject} or the sender {cancel}s; any
    ///         number of parcels may be in transit to the same receiver.
    function ship(bytes32 batchId, uint48 start, address to, uint48 quantity, bytes32 document) external;

    /// @notice Splits the caller's parcel `start` at position `at` into `[start, at)` and `[at, end)`,
    ///         so that any range of positions can be shipped (split, then ship the part).
    /// @dev    Reverts {InvalidSplit} unless `start < at < end`, {NotParcelHolder}, {ParcelInTransit},
    ///         the status errors and directory errors.
    function split(bytes32 batchId, uint48 start, uint48 at) external;

    /// @notice The receiver takes custody of the parcel `start` in transit to it.
    /// @dev    Reverts {NotParcelReceiver}, the status errors and directory errors.
    function accept(bytes32 batchId, uint48 start) external;

    /// @notice The receiver refuses the parcel `start` in transit to it; it returns to the sender.
    /// @dev    Allowed even when the batch is recalled, quarantined or voided (goods go back).
    function reject(bytes32 batchId, uint48 start, bytes32 reasonCode) external;

    /// @notice The sender calls back the parcel `start` it shipped, before the receiver accepts.
    /// @dev    No directory or status check (goods come back). Reverts {NotParcelHolder},
    ///         {ParcelNotInTransit}, {EmptyReasonCode}.
    function cancel(bytes32 batchId, uint48 start, bytes32 reasonCode) external;

    // ------------------------------------------------------------------ pharmacy

    /// @notice A pharmacy dispenses the unit `serial` at position `index` of the batch, proven by
    ///         `proof`, from its parcel `parcel` (which must contain `index`). A unit (GTIN+serial)
    ///         can be dispensed once, from any batch.
    /// @dev    Reverts {UnknownBatch}, {BatchIsRecalled}, {BatchIsVoided}, {BatchIsQuarantined},
    ///         {BatchExpired}, {NotParcelHolder}, {ParcelInTransit}, {SerialNotInParcel},
    ///         {UnitAlreadyDispensed}, {SerialNotInBatch}, directory errors.
    function dispense(
        uint256 gtin,
        bytes32 lot,
        bytes32 serial,
        uint48 index,
        uint48 parcel,
        bytes32[] calldata proof
    ) external;

    // ------------------------------------------------------------------ authority

    /// @notice The GTIN's owner or a regulator quarantines the batch (suspect product).
    /// @dev    Authority (quarantine, liftQuarantine, recall): the owner of the batch's GTIN in the
    ///         directory (now, not at commissioning) while an active MANUFACTURER, or an active
    ///         REGULATOR. Another manufacturer that is no regulator gets {NotGtinOwnerOfBatch};
    ///         anyone else the directory's error for REGULATOR. Reverts {EmptyReasonCode},
    ///         {UnknownBatch}, and the status errors.
    function quarantine(bytes32 batchId, bytes32 reasonCode) external;

    /// @notice The GTIN's owner or a regulator lifts a quarantine (product cleared).
    function liftQuarantine(bytes32 batchId, bytes32 reasonCode) external;

    /// @notice The GTIN's owner or a regulator recalls the batch. A recall cannot be lifted.
    function recall(bytes32 batchId, bytes32 reasonCode) external;

    /// @notice An active REGULATOR voids the batch: its commissioning is annulled (illegitimate
    ///         product, a GTIN commissioned in error). Final; overrides a recall or quarantine.
    function voidBatch(bytes32 batchId, bytes32 reasonCode) external;

    // ------------------------------------------------------------------ reads

    /// @notice Verifies a scanned unit in one call. The answer is the same for every caller.
    /// @return verdict     `Verified` or the first failing reason, in this order: UnknownBatch /
    ///                     NoMatchLot (GTIN+lot unknown), NoMatchGtinSerial / NoMatchLot (proof
    ///                     fails), NoMatchExpiry, Voided, Recalled, Suspect, Dispensed, Expired.
    /// @return dispensedBy the pharmacy that dispensed the unit (GTIN+serial, any batch), or zero.
    function verify(
        uint256 gtin,
        bytes32 lot,
        uint24 expiry,
        bytes32 serial,
        uint48 index,
        bytes32[] calldata proof
    ) external view returns (Verdict verdict, address dispensedBy);

    /// @notice The batch record (all zero when unknown).
    function batchInfo(bytes32 batchId) external view returns (Batch memory);

    /// @notice The parcel of the batch starting at position `start` (all zero when none starts there).
    function parcelOf(bytes32 batchId, uint48 start) external view returns (Parcel memory);

    /// @notice The directory this registry asks who may act and who owns a GTIN.
    function directory() external view returns (IParticipantDirectory);
}
