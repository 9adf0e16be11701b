"""A unit's custody chain rebuilt from the registry's events alone, and its GS1 EPCIS 2.0 export.

The events carry everything: ``BatchCommissioned`` (GTIN, lot, expiry, quantity, root),
``ShipmentSent`` (the parcel's first position and size, and the DSCSA transaction
information/statement commitment), ``ShipmentAccepted`` / ``ShipmentRejected`` /
``ShipmentCancelled``, ``ParcelSplit``, ``UnitDispensed`` (unit id and position; no serial),
``BatchQuarantined``, ``QuarantineLifted``, ``BatchRecalled``, ``BatchVoided``. Custody is per
serial position: given the unit's position (from the serial list, or its ``UnitDispensed``),
only the shipments whose positions contain it are the unit's chain of custody; without it, the
batch's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from careledger.errors import InvalidInput
from careledger.provenance.client import ProvenanceClient
from careledger.provenance.ids import batch_id, bytes32_to_text, unit_id

__all__ = ["HistoryEvent", "UnitHistory", "load_history", "to_epcis"]

_EVENTS = (
    "BatchCommissioned",
    "ShipmentSent",
    "ShipmentAccepted",
    "ShipmentRejected",
    "ShipmentCancelled",
    "UnitDispensed",
    "BatchQuarantined",
    "QuarantineLifted",
    "BatchRecalled",
    "BatchVoided",
)


@dataclass(frozen=True)
class HistoryEvent:
    kind: str
    block: int
    timestamp: int
    tx: str
    actor: str
    counterparty: str | None = None
    quantity: int | None = None
    document: str | None = None
    reason: str | None = None
    serial: str | None = None
    log_index: int = 0

    def to_json(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "block": self.block,
            "time": _iso(self.timestamp),
            "tx": self.tx,
            "logIndex": self.log_index,
            "actor": self.actor,
            "counterparty": self.counterparty,
            "quantity": self.quantity,
            "document": self.document,
            "reason": self.reason,
            "serial": self.serial,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class UnitHistory:
    gtin: int
    lot: str
    serial: str | None
    expiry: int | None = None
    manufacturer: str | None = None
    quantity: int | None = None
    events: list[HistoryEvent] = field(default_factory=list)
    registry: str | None = None  # the ProvenanceRegistry the events came from

    @property
    def batch_id(self) -> bytes:
        return batch_id(self.gtin, self.lot)

    @property
    def chain(self) -> list[str]:
        """Owners in order: manufacturer, then each accepted receiver on the way to the unit's
        dispenser (for a dispensed unit only the branch that reached that pharmacy)."""
        if self.manufacturer is None:
            return []
        accepted = [(e.counterparty, e.actor) for e in self.events if e.kind == "ShipmentAccepted"]
        dispensed = next((e for e in self.events if e.kind == "UnitDispensed"), None)
        if dispensed is None:
            owners = [self.manufacturer]
            for _frm, to in accepted:
                if to not in owners:
                    owners.append(to)
            return owners
        # Walk back from the dispensing pharmacy along accepted shipments.
        path = [dispensed.actor]
        current = dispensed.actor
        for frm, to in reversed(accepted):
            if to == current and frm is not None and frm not in path:
                path.append(frm)
                current = frm
        if path[-1] != self.manufacturer:
            path.append(self.manufacturer)
        return list(reversed(path))

    def to_json(self) -> dict[str, Any]:
        return {
            "gtin": f"{self.gtin:014d}",
            "lot": self.lot,
            "serial": self.serial,
            "batchId": "0x" + self.batch_id.hex(),
            "manufacturer": self.manufacturer,
            "quantity": self.quantity,
            "expiry": None if self.expiry is None else f"{self.expiry:06d}",
            "custodyChain": self.chain,
            "events": [e.to_json() for e in self.events],
        }


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _hex(v: Any) -> str:
    return "0x" + bytes(v).hex()


def load_history(
    client: ProvenanceClient,
    gtin: int,
    lot: str,
    serial: str | None = None,
    from_block: int = 0,
    index: int | None = None,
) -> UnitHistory:
    """Every event of the batch (and the unit's dispensing), oldest first, from ``eth_getLogs``.
    With the unit's position ``index`` (or when its ``UnitDispensed`` gives it), custody events
    of parcels that never held that position are left out."""
    w3: Web3 = client.chain.w3
    bid = batch_id(gtin, lot)
    topic = "0x" + bid.hex()
    logs = w3.eth.get_logs(
        {"address": client.address, "fromBlock": from_block, "toBlock": "latest", "topics": [None, topic]}
    )  # type: ignore[typeddict-item]
    logs += w3.eth.get_logs(
        {"address": client.address, "fromBlock": from_block, "toBlock": "latest", "topics": [None, None, topic]}
    )  # type: ignore[typeddict-item]
    history = UnitHistory(gtin, lot, serial, registry=str(client.address))
    wanted_unit = unit_id(gtin, serial) if serial else None
    stamps: dict[int, int] = {}
    ranges: dict[int, tuple[int, int]] = {}  # event position -> serial positions it moved
    for log, name, a in client.decode_logs(logs, _EVENTS):
        block = int(log["blockNumber"])
        if block not in stamps:
            stamps[block] = int(w3.eth.get_block(block)["timestamp"])
        base: dict[str, Any] = {
            "block": block,
            "timestamp": stamps[block],
            "tx": _hex(log["transactionHash"]),
            "log_index": int(log["logIndex"]),
        }
        if name == "BatchCommissioned":
            history.manufacturer, history.quantity, history.expiry = a["manufacturer"], a["quantity"], a["expiry"]
        if name == "UnitDispensed" and wanted_unit is not None and bytes(a["unitId"]) != wanted_unit:
            continue
        history.events.append(history_event(name, a, base, serial=serial))
        if name in ("ShipmentSent", "ShipmentAccepted", "ShipmentRejected", "ShipmentCancelled"):
            ranges[len(history.events) - 1] = (int(a["start"]), int(a["start"]) + int(a["quantity"]))
        elif name == "UnitDispensed" and index is None and wanted_unit is not None:
            index = int(a["index"])
    if index is not None:
        history.events = [
            e for i, e in enumerate(history.events) if i not in ranges or ranges[i][0] <= index < ranges[i][1]
        ]
    return history


def history_event(name: str, a: Mapping[str, Any], base: Mapping[str, Any], serial: str | None = None) -> HistoryEvent:
    """One registry event as the unit history and its EPCIS export describe it: who acted, with
    whom, how many, why. ``a`` are the event's arguments as web3 decodes them or as the index
    stores them (hex strings for bytes); ``base`` its block, timestamp, tx and log index. The one
    mapping for ``drugs history`` and ``careledger index custody``."""

    def text(value: Any) -> str:
        return bytes32_to_text(value if isinstance(value, str) else bytes(value))

    def doc(value: Any) -> str:
        return value if isinstance(value, str) else _hex(value)

    if name == "BatchCommissioned":
        return HistoryEvent(name, actor=a["manufacturer"], quantity=int(a["quantity"]), **base)
    if name == "ShipmentSent":
        return HistoryEvent(
            name,
            actor=a["from"],
            counterparty=a["to"],
            quantity=int(a["quantity"]),
            document=doc(a["document"]),
            **base,
        )
    if name == "ShipmentAccepted":
        return HistoryEvent(name, actor=a["to"], counterparty=a["from"], quantity=int(a["quantity"]), **base)
    if name == "ShipmentRejected":
        return HistoryEvent(
            name,
            actor=a["to"],
            counterparty=a["from"],
            quantity=int(a["quantity"]),
            reason=text(a["reasonCode"]),
            **base,
        )
    if name == "ShipmentCancelled":
        return HistoryEvent(
            name,
            actor=a["from"],
            counterparty=a["to"],
            quantity=int(a["quantity"]),
            reason=text(a["reasonCode"]),
            **base,
        )
    if name == "UnitDispensed":
        return HistoryEvent(name, actor=a["pharmacy"], serial=serial, quantity=1, **base)
    if name == "ParcelSplit":
        return HistoryEvent(name, actor=a["holder"], **base)
    reason = a.get("reasonCode")
    return HistoryEvent(name, actor=a.get("by", ""), reason=text(reason) if reason else None, **base)


# ---------------------------------------------------------------------------- EPCIS 2.0

_STEPS = {
    "BatchCommissioned": ("ADD", "commissioning", "active"),
    "ShipmentSent": ("OBSERVE", "shipping", "in_transit"),
    "ShipmentAccepted": ("OBSERVE", "receiving", "in_progress"),
    "ShipmentRejected": ("OBSERVE", "receiving", "returned"),
    "ShipmentCancelled": ("OBSERVE", "shipping", "returned"),
    "UnitDispensed": ("DELETE", "dispensing", "dispensed"),
    "BatchQuarantined": ("OBSERVE", "holding", "non_sellable_other"),
    "QuarantineLifted": ("OBSERVE", "holding", "active"),
    "BatchRecalled": ("OBSERVE", "holding", "recalled"),
    "BatchVoided": ("OBSERVE", "holding", "non_conformant"),
}
# The registry events an EPCIS document describes (a parcel split is bookkeeping, not an event).
EPCIS_EVENTS = frozenset(_STEPS)


#: Namespace of the EPCIS eventIDs: uuid5(NAMESPACE_URL, "https://careledger.example/epcis/event").
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://careledger.example/epcis/event")


def event_id(chain_id: int, registry: str, tx: str, log_index: int) -> str:
    """The EPCIS ``eventID`` of one registry log: ``urn:uuid:`` + the name-based (SHA-1, version 5)
    UUID of ``<chainId>:<registry address, lower case>:<tx hash, lower case>:<log index>``.

    Stable: every export of the same log, by anyone, gives the same id, and no two logs share one.
    It is not the GS1 CBV 2.0 event hash (``ni:///sha-256;...?ver=CBV2.0``), which hashes the
    event's content; docs/provenance.md says why."""
    name = f"{chain_id}:{registry.lower()}:{tx.lower()}:{log_index}"
    return f"urn:uuid:{uuid.uuid5(EVENT_ID_NAMESPACE, name)}"


def to_epcis(history: UnitHistory, chain_id: int) -> dict[str, Any]:
    """The history as a GS1 EPCIS 2.0 JSON-LD ``EPCISDocument`` of ObjectEvents (CBV 2.0 business
    steps and dispositions). Parties are identified by ``urn:careledger:<chainId>:<address>``
    (a GLN mapping lives with the directory's credentials, off chain); each event's ``eventID``
    is :func:`event_id` of the log it was rebuilt from."""
    if history.registry is None:
        raise InvalidInput("an EPCIS export needs the registry address the events came from")
    lot_uri = f"https://id.gs1.org/01/{history.gtin:014d}/10/{history.lot}"
    unit_uri = f"https://id.gs1.org/01/{history.gtin:014d}/21/{history.serial}" if history.serial else None
    events: list[dict[str, Any]] = []
    for e in history.events:
        if e.kind not in EPCIS_EVENTS:
            continue  # a parcel split moves nothing and changes no owner: no EPCIS event
        action, step, disposition = _STEPS[e.kind]
        ev: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": _iso(e.timestamp),
            "eventTimeZoneOffset": "+00:00",
            "eventID": event_id(chain_id, history.registry, e.tx, e.log_index),
            "action": action,
            "bizStep": step,
            "disposition": disposition,
            "readPoint": {"id": f"urn:careledger:{chain_id}:{e.actor}"},
        }
        # EPCIS 2.0 requires epcList on an ObjectEvent (empty when the event is about a quantity
        # of the lot, as custody moves and batch holds are: the chain records no serials there).
        ev["epcList"] = [unit_uri] if unit_uri and e.kind in ("BatchCommissioned", "UnitDispensed") else []
        if e.kind != "UnitDispensed" or unit_uri is None:
            lot_quantity: dict[str, Any] = {"epcClass": lot_uri}
            if e.quantity is not None:  # a hold or recall covers the whole lot: no quantity stated
                lot_quantity["quantity"] = e.quantity
            ev["quantityList"] = [lot_quantity]
        if e.kind == "BatchCommissioned" and history.expiry is not None:
            # The date the registry enforces: YYMMDD read in the year of the commissioning block.
            expiry = _expiry_iso(history.expiry, e.timestamp)
            ev["ilmd"] = {"cbvmda:lotNumber": history.lot, "cbvmda:itemExpirationDate": expiry}
        if e.counterparty:
            src, dst = (e.actor, e.counterparty) if e.kind == "ShipmentSent" else (e.counterparty, e.actor)
            ev["sourceList"] = [{"type": "owning_party", "source": f"urn:careledger:{chain_id}:{src}"}]
            ev["destinationList"] = [{"type": "owning_party", "destination": f"urn:careledger:{chain_id}:{dst}"}]
        if e.document:
            ev["bizTransactionList"] = [
                {"type": "desadv", "bizTransaction": f"urn:careledger:dscsa-ti-ts:{e.document}"}
            ]
        if e.reason:
            ev["careledger:reasonCode"] = e.reason
        events.append(ev)
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"careledger": "https://careledger.example/epcis/", "cbvmda": "urn:epcglobal:cbv:mda:"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _iso(int(dt.datetime.now(dt.UTC).timestamp())),
        "epcisBody": {"eventList": events},
    }


def _expiry_iso(yymmdd: int, commissioned_at: int) -> str:
    from careledger.provenance.gs1 import expiry_date

    return expiry_date(f"{yymmdd:06d}", commissioned_at).isoformat()
