"""Provenance reports from the registry's (and the directory's) events: a batch's custody trail,
a regulator's view of recalls, quarantines, suspensions and voided batches, and a GS1 EPCIS 2.0
export of any period (built by :func:`careledger.provenance.history.to_epcis`, the export
``drugs history --epcis`` writes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from careledger.errors import InvalidInput
from careledger.index.service import IndexService, Page
from careledger.index.store import EventRow
from careledger.provenance.history import EPCIS_EVENTS, HistoryEvent, UnitHistory, to_epcis
from careledger.provenance.history import history_event as provenance_history_event
from careledger.provenance.ids import bytes32_to_text

__all__ = ["EXTRA_KEYS", "custody_trail", "epcis_export", "regulator_view"]

CONTRACT = "ProvenanceRegistry"
DIRECTORY = "ParticipantDirectory"
EXTRA_KEYS: dict[str, str] = {}
CUSTODY_EVENTS = (
    "BatchCommissioned",
    "ShipmentSent",
    "ShipmentAccepted",
    "ShipmentRejected",
    "ShipmentCancelled",
    "ParcelSplit",
    "UnitDispensed",
    "BatchQuarantined",
    "QuarantineLifted",
    "BatchRecalled",
    "BatchVoided",
)
REGULATOR_EVENTS = ("BatchRecalled", "BatchVoided", "BatchQuarantined", "QuarantineLifted")
DIRECTORY_EVENTS = ("ParticipantSuspended", "ParticipantReinstated")


def _batch_events(svc: IndexService) -> list[str]:
    """The registry's events about a batch (any event with a ``batchId`` argument), custody
    events first; later builds' batch events (a void, say) are included as they appear."""
    names = [
        n
        for (c, n), s in svc.decoder.by_name.items()
        if c == CONTRACT and any(p["name"] == "batchId" for p in s.params)
    ]
    return sorted(names, key=lambda n: (CUSTODY_EVENTS.index(n) if n in CUSTODY_EVENTS else len(CUSTODY_EVENTS), n))


def _hex32(value: str) -> str:
    raw = value[2:] if value.startswith("0x") else value
    if len(raw) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in raw):
        raise InvalidInput(f"batch id {value!r} is not 0x + 64 hex digits")
    return "0x" + raw.lower()


def history_event(row: EventRow) -> HistoryEvent:
    """One registry event as the history/EPCIS code describes it (the mapping of
    :func:`careledger.provenance.history.history_event`, shared with ``drugs history``)."""
    base = {"block": row.block, "timestamp": row.ts, "tx": row.tx_hash, "log_index": row.log_index}
    return provenance_history_event(row.name, row.args, base)


def _item(row: EventRow) -> dict[str, Any]:
    out = history_event(row).to_json()
    out["batchId"] = row.args.get("batchId")
    out["timestamp"] = row.ts
    return out


def custody_trail(svc: IndexService, batch: str, *, limit: int = 100, cursor: str | None = None) -> Page:
    """Every event of one batch (``0x`` batch id), oldest first: commissioning, each shipment,
    acceptance or rejection, each dispensed unit, holds and recall."""
    bid = _hex32(batch)
    indexed_to = svc.fresh()
    names = _batch_events(svc)

    def fetch(after: int, n: int) -> list[EventRow]:
        return svc.keyed(CONTRACT, names, {"batchId": [bid]}, after=after, limit=n)

    rows, nxt = svc.paged(fetch, cursor, limit)
    extra: dict[str, Any] = {"batchId": bid}
    first = svc.keyed(CONTRACT, ["BatchCommissioned"], {"batchId": [bid]}, limit=1)
    if first:
        a = first[0].args
        extra.update(
            gtin=f"{int(a['gtin']):014d}",
            lot=bytes32_to_text(a["lot"]),
            expiry=f"{int(a['expiry']):06d}",
            manufacturer=a["manufacturer"],
            quantity=int(a["quantity"]),
        )
    return Page([_item(r) for r in rows], nxt, indexed_to, extra)


def regulator_view(
    svc: IndexService,
    *,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """Recalls, quarantines (and their lifting), voided batches and participant suspensions
    (and reinstatements) in the period, oldest first, with counts by kind for the whole period."""
    indexed_to = svc.fresh()
    prov = [n for (c, n) in svc.decoder.by_name if c == CONTRACT and (n in REGULATOR_EVENTS or "void" in n.lower())]
    names = {CONTRACT: prov, DIRECTORY: [n for n in DIRECTORY_EVENTS if (DIRECTORY, n) in svc.decoder.by_name]}

    def fetch(after: int, n: int) -> list[EventRow]:
        rows: list[EventRow] = []
        for contract, group in names.items():
            if group:
                rows += svc.store.events(
                    contracts=[contract], names=group, since=since, until=until, after=after, limit=n
                )
        rows.sort(key=lambda r: r.id)
        return rows[:n]

    rows, nxt = svc.paged(fetch, cursor, limit)
    counts: dict[str, int] = {}
    for contract, group in names.items():
        if group:
            counts.update(svc.store.count_by_name(contracts=[contract], names=group, since=since, until=until))
    items = []
    for r in rows:
        if r.contract == DIRECTORY:
            reason = r.args.get("reasonCode")
            items.append(
                {
                    "kind": r.name,
                    "account": r.args["account"],
                    "reason": bytes32_to_text(reason) if reason else None,
                    "block": r.block,
                    "timestamp": r.ts,
                    "tx": r.tx_hash,
                    "logIndex": r.log_index,
                }
            )
        else:
            items.append(_item(r))
    return Page(items, nxt, indexed_to, {"counts": counts})


def epcis_export(
    svc: IndexService, *, since: int | None = None, until: int | None = None, batches: Sequence[str] = ()
) -> dict[str, Any]:
    """A GS1 EPCIS 2.0 document of every custody event in the period (or of the given batches),
    one ``to_epcis`` history per batch, merged in chain order."""
    svc.fresh()
    wanted = [_hex32(b) for b in batches]
    names = [n for n in _batch_events(svc) if n in CUSTODY_EVENTS]
    if wanted:
        rows = svc.keyed(CONTRACT, names, {"batchId": wanted}, since=since, until=until)
    else:
        rows = svc.store.events(contracts=[CONTRACT], names=names, since=since, until=until)
    by_batch: dict[str, list[EventRow]] = {}
    for r in rows:
        by_batch.setdefault(r.args["batchId"], []).append(r)
    commissioned = (
        {r.args["batchId"]: r for r in svc.keyed(CONTRACT, ["BatchCommissioned"], {"batchId": sorted(by_batch)})}
        if by_batch
        else {}
    )
    events: list[tuple[int, dict[str, Any]]] = []
    doc: dict[str, Any] | None = None
    for bid, group in by_batch.items():
        c = commissioned.get(bid)
        if c is None:  # a batch commissioned before the index's first block: no GTIN/lot to name it
            continue
        epcis_rows = [r for r in group if r.name in EPCIS_EVENTS]  # a parcel split is no EPCIS event
        h = UnitHistory(
            int(c.args["gtin"]),
            bytes32_to_text(c.args["lot"]),
            None,
            expiry=int(c.args["expiry"]),
            manufacturer=c.args["manufacturer"],
            quantity=int(c.args["quantity"]),
            events=[history_event(r) for r in epcis_rows],
            registry=svc.address(CONTRACT),
        )
        doc = to_epcis(h, svc.chain_id)
        events += [(r.id, ev) for r, ev in zip(epcis_rows, doc["epcisBody"]["eventList"], strict=True)]
    if doc is None:
        doc = to_epcis(UnitHistory(0, "", None, registry=svc.address(CONTRACT)), svc.chain_id)
    events.sort(key=lambda pair: pair[0])
    doc["epcisBody"]["eventList"] = [ev for _, ev in events]
    return doc
