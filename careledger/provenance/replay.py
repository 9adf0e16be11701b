"""Rebuilds the provenance registry from its events alone (see :mod:`careledger.indexer`):
every batch (root, GTIN, quantity, expiry and the time it expires at, status), every parcel of
serial positions (holder, end, in transit to whom) and every dispensed unit (who dispensed it,
when, from which batch, the batch's status now), then compares them with the registry's reads."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from careledger.indexer import DecodedEvent, Reads
from careledger.provenance.client import BatchStatus

CONTRACTS = ("ProvenanceRegistry",)
ZERO = "0x" + "00" * 20

_STATUS = {
    "BatchQuarantined": BatchStatus.QUARANTINED,
    "QuarantineLifted": BatchStatus.ACTIVE,
    "BatchRecalled": BatchStatus.RECALLED,
    "BatchVoided": BatchStatus.VOIDED,
}


def _key(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def expires_at(yymmdd: int) -> int:
    """The unix time a batch with GS1 expiry ``yymmdd`` expires at, as the registry computes it:
    00:00 UTC on the day after the expiry date (years 2000-2099; day 00 = the month's last)."""
    year, month, day = 2000 + yymmdd // 10_000, (yymmdd // 100) % 100, yymmdd % 100
    day = day or calendar.monthrange(year, month)[1]
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp()) + 86_400


def reduce(state: dict[str, Any], event: DecodedEvent) -> None:
    batches: dict[bytes, dict[str, Any]] = state.setdefault("batches", {})
    parcels: dict[tuple[bytes, int], list[Any]] = state.setdefault("parcels", {})
    units: dict[bytes, tuple[str, int | None, bytes]] = state.setdefault("units", {})
    # (batch, party) pairs that ever held or were sent part of a batch: who a batch reached.
    parties: dict[tuple[bytes, str], bool] = state.setdefault("custody", {})
    a, name = event.args, event.name
    batch = _key(a["batchId"])

    if name == "UnitDispensed":
        units[_key(a["unitId"])] = (a["pharmacy"], event.timestamp, batch)
    elif name == "BatchCommissioned":
        batches[batch] = {
            "root": _key(a["merkleRoot"]),
            "gtin": a["gtin"],
            "quantity": a["quantity"],
            "expiry": a["expiry"],
            "status": int(BatchStatus.ACTIVE),
        }
        parcels[(batch, 0)] = [a["manufacturer"], a["quantity"], ZERO]
        parties[(batch, a["manufacturer"])] = True
    elif name == "ShipmentSent":
        start, q = a["start"], a["quantity"]
        holder, end, _ = parcels[(batch, start)]
        if start + q < end:
            parcels[(batch, start + q)] = [holder, end, ZERO]
        parcels[(batch, start)] = [holder, start + q, a["to"]]
        parties[(batch, a["to"])] = True
    elif name == "ParcelSplit":
        holder, end, _ = parcels[(batch, a["start"])]
        parcels[(batch, a["at"])] = [holder, end, ZERO]
        parcels[(batch, a["start"])][1] = a["at"]
    elif name == "ShipmentAccepted":
        parcels[(batch, a["start"])][0] = a["to"]
        parcels[(batch, a["start"])][2] = ZERO
    elif name in ("ShipmentRejected", "ShipmentCancelled"):
        parcels[(batch, a["start"])][2] = ZERO
    elif name in _STATUS:
        batches[batch]["status"] = int(_STATUS[name])


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    registry = reads.contract("ProvenanceRegistry").functions
    diffs: list[str] = []

    def compare(what: str, want: Any, got: Any) -> None:
        if want != got:
            diffs.append(f"ProvenanceRegistry {what}: log says {want}, chain says {got}")

    batches: dict[bytes, dict[str, Any]] = state.get("batches", {})
    for batch, want in batches.items():
        root, gtin, quantity, expiry, expiry_time, status = registry.batchInfo(batch).call()
        compare(
            f"batchInfo(0x{batch.hex()})",
            (want["root"], want["gtin"], want["quantity"], want["expiry"], expires_at(want["expiry"]), want["status"]),
            (bytes(root), gtin, quantity, expiry, expiry_time, status),
        )
    for (batch, start), want in state.get("parcels", {}).items():
        holder, end, to = registry.parcelOf(batch, start).call()
        compare(f"parcelOf(0x{batch.hex()}, {start})", tuple(want), (holder, end, to))
    for unit, (pharmacy, at, batch) in state.get("units", {}).items():
        got = registry.dispenseOf(unit).call()
        status = batches[batch]["status"]
        want_row = (
            pharmacy,
            at if at is not None else got[1],
            batches[batch]["gtin"],
            batch,
            status in (int(BatchStatus.RECALLED), int(BatchStatus.VOIDED)),
            status == int(BatchStatus.QUARANTINED),
        )
        compare(
            f"dispenseOf(0x{unit.hex()})",
            want_row,
            (got[0], got[1], got[2], bytes(got[3]), got[4], got[5]),
        )
    return diffs
