"""Rebuilds the provenance registry from its events alone (see :mod:`careledger.indexer`):
every batch (root, manufacturer, expiry and the time it expires at, status), every party's
custody of it (held, in transit, from whom) and every dispensed unit (who dispensed it, from
which batch, whether that batch is now recalled), then compares them with the registry's reads."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from careledger.indexer import DecodedEvent, Reads
from careledger.provenance.client import BatchStatus

CONTRACTS = ("ProvenanceRegistry",)
ZERO = "0x" + "00" * 20


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
    custody: dict[tuple[bytes, str], dict[str, Any]] = state.setdefault("custody", {})
    units: dict[bytes, tuple[str, bytes]] = state.setdefault("units", {})
    a, name = event.args, event.name

    def slot(batch: bytes, who: str) -> dict[str, Any]:
        return custody.setdefault((batch, who), {"held": 0, "incoming": 0, "sender": ZERO})

    if name == "UnitDispensed":
        batch = _key(a["batchId"])
        units[_key(a["unitId"])] = (a["pharmacy"], batch)
        slot(batch, a["pharmacy"])["held"] -= 1
        return
    batch = _key(a["batchId"])
    if name == "BatchCommissioned":
        batches[batch] = {
            "root": _key(a["merkleRoot"]),
            "manufacturer": a["manufacturer"],
            "expiry": a["expiry"],
            "status": int(BatchStatus.ACTIVE),
        }
        slot(batch, a["manufacturer"])["held"] += a["quantity"]
    elif name == "ShipmentSent":
        slot(batch, a["from"])["held"] -= a["quantity"]
        slot(batch, a["to"]).update(incoming=a["quantity"], sender=a["from"])
    elif name == "ShipmentAccepted":
        to = slot(batch, a["to"])
        to.update(held=to["held"] + a["quantity"], incoming=0, sender=ZERO)
    elif name == "ShipmentRejected":
        slot(batch, a["to"]).update(incoming=0, sender=ZERO)
        slot(batch, a["from"])["held"] += a["quantity"]
    elif name == "BatchQuarantined":
        batches[batch]["status"] = int(BatchStatus.QUARANTINED)
    elif name == "QuarantineLifted":
        batches[batch]["status"] = int(BatchStatus.ACTIVE)
    elif name == "BatchRecalled":
        batches[batch]["status"] = int(BatchStatus.RECALLED)


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    registry = reads.contract("ProvenanceRegistry").functions
    diffs: list[str] = []

    def compare(what: str, want: Any, got: Any) -> None:
        if want != got:
            diffs.append(f"ProvenanceRegistry {what}: log says {want}, chain says {got}")

    batches: dict[bytes, dict[str, Any]] = state.get("batches", {})
    for batch, want in batches.items():
        root, manufacturer, expiry, expiry_time, status = registry.batchInfo(batch).call()
        compare(
            f"batchInfo(0x{batch.hex()})",
            (want["root"], want["manufacturer"], want["expiry"], expires_at(want["expiry"]), want["status"]),
            (bytes(root), manufacturer, expiry, expiry_time, status),
        )
    for (batch, who), want in state.get("custody", {}).items():
        held, incoming, sender = registry.custodyOf(batch, who).call()
        compare(
            f"custodyOf(0x{batch.hex()}, {who})",
            (want["held"], want["incoming"], want["sender"]),
            (held, incoming, sender),
        )
    for unit, (pharmacy, batch) in state.get("units", {}).items():
        got_pharmacy, _at, _gtin, got_batch, recalled, _quarantined = registry.dispenseOf(unit).call()
        was_recalled = batches[batch]["status"] == int(BatchStatus.RECALLED)
        compare(
            f"dispenseOf(0x{unit.hex()})", (pharmacy, batch, was_recalled), (got_pharmacy, bytes(got_batch), recalled)
        )
    return diffs
