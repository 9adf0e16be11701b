"""Claims reports from the claims contract's events: an insurer's claims by state, plan and
period with totals, and a member's explanation of benefits (EOB).

A member, like a patient, may hold several pseudonyms (one per plan or counterparty), so the EOB
takes a LIST of member addresses. Amounts are token units as decimal strings (docs/json.md).
Each claim's current state is folded from its own events (submission, review, adjudication,
appeal, withdrawal, payment); the full-state rebuild stays in ``careledger/claims/replay.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from careledger.claims.fhir import service_date
from careledger.claims.types import ClaimStatus, code_text
from careledger.errors import InvalidInput
from careledger.index.service import IndexService, Page, check_limit
from careledger.index.store import EventRow

__all__ = ["EXTRA_KEYS", "STATES", "insurer_claims", "member_eob"]

CONTRACT = "ClaimSettlement"
#: The plan of a submission and of a payment is searchable (the contract does not index it).
EXTRA_KEYS = {"ClaimSubmitted": "planId", "ClaimPaid": "planId"}
CLAIM_EVENTS = (
    "ClaimSubmitted",
    "ClaimPendingReview",
    "ClaimAdjudicated",
    "ClaimAppealed",
    "ClaimWithdrawn",
    "ClaimQueued",
    "PayoutDeferred",
    "ClaimPaid",
)
STATES = tuple(s.name.lower() for s in ClaimStatus if s != ClaimStatus.NONE)
_CHUNK = 500


def _b(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text[2:])


def _fold(submitted: EventRow, later: Iterable[EventRow]) -> dict[str, Any]:
    a = submitted.args
    lines = a["lines"]
    claim: dict[str, Any] = {
        "claimId": a["claimId"],
        "member": a["member"],
        "payee": a["payee"],
        "planId": int(a["planId"]),
        "enrolment": int(a["enrolment"]),
        "serviceDate": service_date(int(a["serviceDay"])),
        "submittedAt": submitted.ts,
        "submittedIn": submitted.tx_hash,
        "state": "submitted",
        "billed": sum(int(ln["billed"]) for ln in lines),
        "approved": 0,
        "deductible": 0,
        "paid": 0,
        "appealed": False,
        "lines": [
            {"code": code_text(_b(ln["code"])), "units": int(ln["units"]), "billed": int(ln["billed"])} for ln in lines
        ],
        "reason": None,
        "updatedAt": submitted.ts,
    }
    for row in later:
        b = row.args
        claim["updatedAt"] = row.ts
        if row.name == "ClaimPendingReview":
            claim["state"] = "pending_review"
        elif row.name == "ClaimAdjudicated":
            claim["state"] = ClaimStatus(int(b["status"])).name.lower()
            claim["approved"] = int(b["amount"])
            claim["deductible"] = int(b["deductible"])
            claim["reason"] = int(b["reason"]) or None
            for line, adj in zip(claim["lines"], b["lines"], strict=False):
                line["adjudication"] = {k: int(v) for k, v in adj.items()}
        elif row.name == "ClaimAppealed":
            claim["appealed"] = True
        elif row.name == "ClaimWithdrawn":
            claim["state"] = "withdrawn"
        elif row.name == "ClaimPaid":
            claim["state"] = "paid"
            claim["paid"] = int(b["amount"])
            claim["paidAt"] = row.ts
    return claim


def _money(claim: dict[str, Any]) -> dict[str, Any]:
    """A claim with its amounts as decimal strings (the JSON convention for uint96)."""
    out = dict(claim)
    for k in ("billed", "approved", "deductible", "paid"):
        out[k] = str(claim[k])
    out["lines"] = [
        {
            **ln,
            "billed": str(ln["billed"]),
            **(
                {"adjudication": {k: v if k == "reason" else str(v) for k, v in ln["adjudication"].items()}}
                if "adjudication" in ln
                else {}
            ),
        }
        for ln in claim["lines"]
    ]
    return out


def _claims(svc: IndexService, submissions: list[EventRow]) -> list[dict[str, Any]]:
    """Each submitted claim folded with its later events."""
    by_claim: dict[str, list[EventRow]] = {}
    ids = [r.args["claimId"] for r in submissions]
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        for row in svc.keyed(CONTRACT, CLAIM_EVENTS[1:], {"claimId": part}):
            by_claim.setdefault(row.args["claimId"], []).append(row)
    return [_fold(r, by_claim.get(r.args["claimId"], [])) for r in submissions]


def _totals(claims: Iterable[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, dict[str, int]] = {}
    for c in claims:
        t = totals.setdefault(c["state"], {"claims": 0, "billed": 0, "approved": 0, "paid": 0})
        t["claims"] += 1
        t["billed"] += c["billed"]
        t["approved"] += c["approved"]
        t["paid"] += c["paid"]
    every = {"claims": 0, "billed": 0, "approved": 0, "paid": 0}
    for t in totals.values():
        for k in every:
            every[k] += t[k]
    as_text = {s: {k: v if k == "claims" else str(v) for k, v in t.items()} for s, t in sorted(totals.items())}
    return {"byState": as_text, "all": {k: v if k == "claims" else str(v) for k, v in every.items()}}


def _page(claims: list[dict[str, Any]], cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    check_limit(limit)
    start = 0
    if cursor:
        if not cursor.isdigit() or int(cursor) > len(claims):
            raise InvalidInput(f"page cursor {cursor!r} is not one this report gave")
        start = int(cursor)
    end = start + limit
    return claims[start:end], (str(end) if end < len(claims) else None)


def insurer_claims(
    svc: IndexService,
    insurer: str,
    *,
    plans: Sequence[int] = (),
    since: int | None = None,
    until: int | None = None,
    states: Sequence[str] = (),
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """The insurer's claims submitted in the period (to the given plans, else to all its plans),
    with their current state, totals by state and by plan, a page of claims in the given states."""
    bad = [s for s in states if s not in STATES]
    if bad:
        raise InvalidInput(f"unknown claim state {bad[0]!r}; one of {', '.join(STATES)}")
    indexed_to = svc.fresh()
    own = sorted({int(r.args["planId"]) for r in svc.keyed(CONTRACT, ["PlanCreated"], {"insurer": [insurer]})})
    foreign = sorted(set(plans) - set(own))
    if foreign:
        raise InvalidInput(f"plan {foreign[0]} is not a plan of insurer {insurer}")
    chosen = list(plans) or own
    submissions = (
        svc.keyed(CONTRACT, ["ClaimSubmitted"], {"planId": chosen}, since=since, until=until) if chosen else []
    )
    claims = _claims(svc, submissions)
    by_plan = {p: _totals(c for c in claims if c["planId"] == p)["all"] for p in chosen}
    shown = [c for c in claims if not states or c["state"] in states]
    items, nxt = _page(shown, cursor, limit)
    return Page(
        [_money(c) for c in items],
        nxt,
        indexed_to,
        {
            "insurer": insurer,
            "plans": chosen,
            "totals": _totals(claims),
            "byPlan": {str(p): t for p, t in by_plan.items()},
        },
    )


def member_eob(
    svc: IndexService,
    members: Sequence[str],
    *,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """A member's explanation of benefits: each claim submitted for any of ``members`` in the
    period, line by line (billed, eligible, deductible, copay, coinsurance, plan benefit) with
    what the member owes (billed less the plan's benefit) and what was paid."""
    if not members:
        raise InvalidInput("give at least one member address (each pseudonym the member was enrolled under)")
    indexed_to = svc.fresh()

    def fetch(after: int, n: int) -> list[EventRow]:
        return svc.keyed(
            CONTRACT, ["ClaimSubmitted"], {"member": list(members)}, since=since, until=until, after=after, limit=n
        )

    rows, nxt = svc.paged(fetch, cursor, limit)
    claims = _claims(svc, rows)
    for c in claims:
        benefit = sum(int(ln.get("adjudication", {}).get("benefit", 0)) for ln in c["lines"])
        settled = c["state"] in ("approved", "partially_approved", "paid", "denied")
        c["planPays"] = benefit if settled else 0
        c["memberOwes"] = c["billed"] - benefit if settled else None
    items = []
    for c in claims:
        m = _money(c)
        m["planPays"] = str(c["planPays"])
        m["memberOwes"] = None if c["memberOwes"] is None else str(c["memberOwes"])
        items.append(m)
    return Page(items, nxt, indexed_to, {"members": list(members), "totals": _totals(claims)})
