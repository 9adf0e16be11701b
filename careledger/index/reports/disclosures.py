"""Accounting of disclosures (HIPAA 45 CFR 164.528) from the consent registry's events.

A patient holds one pairwise pseudonym per counterparty, so every query takes a LIST of patient
addresses and reports the disclosures made under any of them: every recorded access
(``AccessRecorded``) and every break-glass opening (``BreakGlassOpened``), each classed as
``access``, ``break-glass`` (emergency purposes, or an opening) or ``research`` (purpose HRESCH),
filtered by organisation, period, category and kind. Exports: a FHIR R4B ``Bundle`` of
``AuditEvent`` resources (validated with fhir.resources, the ``fhir`` extra) and CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Sequence
from typing import Any

from careledger.codes import Category, Purpose
from careledger.consent.fhir import _CLASS, _LABEL, ACT_CODE, ACT_REASON, ADDRESS_SYSTEM
from careledger.errors import InvalidInput
from careledger.index.service import IndexService, Page
from careledger.index.store import EventRow

__all__ = ["CSV_COLUMNS", "KINDS", "bundle", "disclosures", "to_csv"]

CONTRACT = "ConsentRegistry"
EVENTS = ("AccessRecorded", "BreakGlassOpened")
KINDS = ("access", "break-glass", "research")
EXTRA_KEYS: dict[str, str] = {}
CSV_COLUMNS = (
    "time",
    "kind",
    "patient",
    "organisation",
    "category",
    "purpose",
    "consentId",
    "record",
    "block",
    "tx",
    "logIndex",
)
_EMERGENCY = (int(Purpose.ETREAT), int(Purpose.BTG))
AUDIT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://careledger.example/fhir/AuditEvent")


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def category_of(name: str) -> int:
    try:
        return int(Category[name.upper().replace("-", "_")])
    except KeyError:
        known = ", ".join(c.name.lower() for c in Category)
        raise InvalidInput(f"unknown category {name!r}; one of {known}") from None


def entry(row: EventRow) -> dict[str, Any]:
    """One disclosure, as the API and the CSV give it."""
    a = row.args
    if row.name == "BreakGlassOpened":
        kind, org, category, purpose, ref, record = (
            "break-glass",
            a["provider"],
            None,
            int(a["reason"]),
            a["breakGlassId"],
            a["justification"],
        )
        until: int | None = int(a["until"])
    else:
        purpose = int(a["purpose"])
        kind = "break-glass" if purpose in _EMERGENCY else "research" if purpose == Purpose.HRESCH else "access"
        org, category, ref, record, until = a["grantee"], int(a["category"]), a["consentId"], a["record"], None
    out: dict[str, Any] = {
        "time": _iso(row.ts),
        "timestamp": row.ts,
        "kind": kind,
        "patient": a["patient"],
        "organisation": org,
        "category": None if category is None else Category(category).name.lower(),
        "purpose": Purpose(purpose).name,
        "consentId": ref,
        "record": record,
        "block": row.block,
        "tx": row.tx_hash,
        "logIndex": row.log_index,
    }
    if until is not None:
        out["until"] = until
    return out


def disclosures(
    svc: IndexService,
    patients: Sequence[str],
    *,
    organisations: Sequence[str] = (),
    since: int | None = None,
    until: int | None = None,
    categories: Sequence[str] = (),
    kinds: Sequence[str] = (),
    limit: int = 100,
    cursor: str | None = None,
    newest_first: bool = False,
) -> Page:
    """A page of the disclosures made under any of ``patients``, oldest first (or newest first:
    what a history panel shows)."""
    if not patients:
        raise InvalidInput("give at least one patient address (each pairwise pseudonym of the patient)")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InvalidInput(f"unknown disclosure kind {bad[0]!r}; one of {', '.join(KINDS)}")
    wanted_categories = {category_of(c) for c in categories}
    indexed_to = svc.fresh()
    where: dict[str, Sequence[Any]] = {"patient": list(patients)}
    names = list(EVENTS)
    # the organisation of an access is its grantee, of a break-glass opening its provider
    where_by = {"AccessRecorded": "grantee", "BreakGlassOpened": "provider"} if organisations else {}

    def fetch(after: int, n: int) -> list[EventRow]:
        rows: list[EventRow] = []
        for name in names:
            w = dict(where)
            if where_by:
                w[where_by[name]] = list(organisations)
            rows += svc.keyed(
                CONTRACT, [name], w, since=since, until=until, after=after, limit=n, descending=newest_first
            )
        rows.sort(key=lambda r: r.id, reverse=newest_first)
        return rows[:n]

    def keep(row: EventRow) -> bool:
        e = entry(row)
        if kinds and e["kind"] not in kinds:
            return False
        return not wanted_categories or (
            row.name == "AccessRecorded" and int(row.args["category"]) in wanted_categories
        )

    rows, nxt = svc.paged(fetch, cursor, limit, keep)
    return Page([entry(r) for r in rows], nxt, indexed_to, {"patients": list(patients)})


# ---------------------------------------------------------------------------- exports


def to_csv(items: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: "" if item.get(k) is None else item[k] for k in CSV_COLUMNS})
    return out.getvalue()


def _audit_event(item: dict[str, Any], chain_id: int, registry: str) -> dict[str, Any]:
    ident = uuid.uuid5(AUDIT_ID_NAMESPACE, f"{chain_id}:{registry.lower()}:{item['tx'].lower()}:{item['logIndex']}")
    purpose = {"system": ACT_REASON, "code": item["purpose"]}
    entities: list[dict[str, Any]] = [
        {
            "what": {"identifier": {"system": ADDRESS_SYSTEM, "value": item["patient"]}},
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "1",
                "display": "Person",
            },
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }
    ]
    record: dict[str, Any] = {
        "what": {"identifier": {"system": "urn:careledger:record-commitment", "value": item["record"]}},
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
            "code": "2",
            "display": "System Object",
        },
        "detail": [{"type": "consentId", "valueString": item["consentId"]}],
    }
    if item["category"] is not None:
        category = Category[item["category"].upper()]
        record["detail"].append({"type": "category", "valueString": _CLASS.get(category, category.name)})
        if category in _LABEL:
            record["securityLabel"] = [{"system": ACT_CODE, "code": _LABEL[category]}]
    entities.append(record)
    return {
        "resourceType": "AuditEvent",
        "id": str(ident),
        "type": {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "110110",
            "display": "Patient Record",
        },
        "subtype": [{"system": "urn:careledger:disclosure-kind", "code": item["kind"]}],
        "action": "E" if item["kind"] == "break-glass" and item.get("until") is not None else "R",
        "recorded": item["time"],
        "outcome": "0",
        "purposeOfEvent": [{"coding": [purpose]}],
        "agent": [
            {
                "who": {"identifier": {"system": ADDRESS_SYSTEM, "value": item["organisation"]}},
                "requestor": True,
                "purposeOfUse": [{"coding": [purpose]}],
            }
        ],
        "source": {
            "observer": {"identifier": {"system": "urn:careledger:contract", "value": f"eip155:{chain_id}:{registry}"}},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
        "entity": entities,
    }


def bundle(items: Sequence[dict[str, Any]], chain_id: int, registry: str, at: int) -> dict[str, Any]:
    """The disclosures as a FHIR R4B ``Bundle`` (type ``collection``) of ``AuditEvent``s,
    validated by fhir.resources (the Bundle model parses each entry with the ``AuditEvent``
    model); ``at`` (a unix time, the index's tip) stamps it."""
    from careledger._extras import needs_extra

    with needs_extra("fhir", "the FHIR accounting of disclosures"):
        from fhir.resources.R4B.bundle import Bundle

    resources = [_audit_event(i, chain_id, registry) for i in items]
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _iso(at),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
    Bundle.model_validate(doc)
    return doc
