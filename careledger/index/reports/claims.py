"""Claims reports from the claims contract's events: an insurer's claims by state, plan and
period with totals, and a member's explanation of benefits (EOB).

A member, like a patient, may hold several pseudonyms (one per plan or counterparty), so the EOB
takes a LIST of member addresses. Amounts are token units as decimal strings (docs/json.md).
Each claim's current state is folded from its own events (submission, review, adjudication,
appeal, withdrawal, payment); the full-state rebuild stays in ``careledger/claims/replay.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from careledger._extras import needs_extra
from careledger.claims.types import ClaimStatus
from careledger.errors import InvalidInput
from careledger.index import schema as t
from careledger.index.service import IndexService, Page, check_limit
from careledger.index.store import EventRow

with needs_extra("index", "the persistent indexer"):
    import sqlalchemy as sa

__all__ = ["EXTRA_KEYS", "STATES", "affected", "insurer_claims", "member_eob", "project", "rebuild_projection"]

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
    "PayoutSkipped",
    "PayoutRedirected",
    "ClaimPaid",
    "PayoutLapsed",
)
STATES = tuple(s.name.lower() for s in ClaimStatus if s != ClaimStatus.NONE)
_CHUNK = 500


def _b(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text[2:])


def _step(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """What one event after the submission changes in a claim's summary."""
    if name == "ClaimPendingReview":
        return {"state": "pending_review"}
    if name == "ClaimAdjudicated":
        return {"state": ClaimStatus(int(args["status"])).name.lower(), "approved": int(args["amount"])}
    if name == "ClaimAppealed":
        return {"appealed": True}
    if name == "ClaimWithdrawn":
        return {"state": "withdrawn"}
    if name == "ClaimPaid":
        return {"state": "paid", "paid": int(args["amount"])}
    if name == "PayoutLapsed":
        return {"state": "lapsed"}
    return {}  # ClaimQueued, PayoutDeferred, PayoutSkipped, PayoutRedirected: the state stays


def _fold(submitted: EventRow, later: Iterable[EventRow]) -> dict[str, Any]:
    a = submitted.args
    lines = a["lines"]
    claim: dict[str, Any] = {
        "claimId": a["claimId"],
        "member": a["member"],
        "payee": a["payee"],
        "planId": int(a["planId"]),
        # Claims v2 (#13): no service day on chain, only the plan year and the rule table.
        "ruleVersion": int(a["version"]),
        "servicePeriod": int(a["servicePeriod"]),
        "submittedAt": submitted.ts,
        "submittedIn": submitted.tx_hash,
        "state": "submitted",
        "billed": sum(int(ln["billed"]) for ln in lines),
        "approved": 0,
        "deductible": 0,
        "paid": 0,
        "appealed": False,
        # Codes are plan-keyed digests: the index (like every node) cannot read them; a key
        # holder maps them back (careledger.claims.keys.PlanContext.codes_of).
        "lines": [{"codeDigest": ln["code"], "units": int(ln["units"]), "billed": int(ln["billed"])} for ln in lines],
        "reason": None,
        "updatedAt": submitted.ts,
    }
    for row in later:
        b = row.args
        claim["updatedAt"] = row.ts
        claim.update(_step(row.name, b))
        if row.name == "ClaimAdjudicated":
            claim["deductible"] = int(b["deductible"])
            claim["reason"] = int(b["reason"]) or None
            for line, adj in zip(claim["lines"], b["lines"], strict=False):
                line["adjudication"] = {k: int(v) for k, v in adj.items()}
        elif row.name == "ClaimPaid":
            claim["paidAt"] = row.ts
    return claim


# ---------------------------------------------------------------------------- the projection


def project(c: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bring ``index_claims`` up to the stored ``rows`` (one range, in chain order), in the
    range's transaction: new claims inserted, later events folded into one update per claim."""
    new: dict[str, dict[str, Any]] = {}
    changes: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["contract"] != CONTRACT or r["name"] not in CLAIM_EVENTS:
            continue
        a = r.get("parsed") or json.loads(r["args"])
        cid = a["claimId"]
        if r["name"] == "ClaimSubmitted":
            new[cid] = {
                "claim_id": cid,
                "plan_id": int(a["planId"]),
                "member": a["member"],
                "submitted_ts": r["ts"],
                "submitted_id": r["id"],
                "state": "submitted",
                "billed": sum(int(ln["billed"]) for ln in a["lines"]),
                "approved": 0,
                "paid": 0,
                "appealed": False,
            }
            changes.pop(cid, None)
            continue
        step = _step(r["name"], a)
        if step:
            (new[cid] if cid in new else changes.setdefault(cid, {})).update(step)
    if new:
        c.execute(sa.delete(t.claims).where(t.claims.c.claim_id.in_(list(new))))
        c.execute(
            sa.insert(t.claims),
            [
                {
                    **v,
                    "billed": str(v["billed"]),
                    "approved": str(v["approved"]),
                    "paid": str(v["paid"]),
                    "appealed": int(v["appealed"]),
                }
                for v in new.values()
            ],
        )
    if changes:
        col = t.claims.c
        c.execute(
            sa.update(t.claims)
            .where(col.claim_id == sa.bindparam("b_id"))
            .values(
                state=sa.func.coalesce(sa.bindparam("b_state", type_=sa.String), col.state),
                approved=sa.func.coalesce(sa.bindparam("b_approved", type_=sa.Text), col.approved),
                paid=sa.func.coalesce(sa.bindparam("b_paid", type_=sa.Text), col.paid),
                appealed=sa.func.coalesce(sa.bindparam("b_appealed", type_=sa.Integer), col.appealed),
            ),
            [
                {
                    "b_id": cid,
                    "b_state": ch.get("state"),
                    "b_approved": str(ch["approved"]) if "approved" in ch else None,
                    "b_paid": str(ch["paid"]) if "paid" in ch else None,
                    "b_appealed": 1 if ch.get("appealed") else None,
                }
                for cid, ch in changes.items()
            ],
        )


def affected(c: sa.Connection, first_gone: int) -> list[str]:
    """The claims with an event at or after event id ``first_gone`` (a rollback's victims)."""
    e = t.events.c
    q = sa.select(e.k1).where(e.contract == CONTRACT, e.name.in_(CLAIM_EVENTS), e.id >= first_gone).distinct()
    return [str(k) for (k,) in c.execute(q)]


def rebuild_projection(c: sa.Connection, claim_ids: Sequence[str] | None = None) -> None:
    """Rebuild ``index_claims`` (all of it, or the given claims) from the stored events."""
    e = t.events.c
    if claim_ids is None:
        c.execute(sa.delete(t.claims))
    else:
        for start in range(0, len(claim_ids), _CHUNK):
            c.execute(sa.delete(t.claims).where(t.claims.c.claim_id.in_(list(claim_ids[start : start + _CHUNK]))))
    chunks = [None] if claim_ids is None else [claim_ids[i : i + _CHUNK] for i in range(0, len(claim_ids), _CHUNK)]
    for part in chunks:
        after = -1
        while True:
            q = sa.select(e.id, e.contract, e.name, e.ts, e.args).where(
                e.contract == CONTRACT, e.name.in_(CLAIM_EVENTS), e.id > after
            )
            if part is not None:
                q = q.where(e.k1.in_(list(part)))
            rows = [dict(r._mapping) for r in c.execute(q.order_by(e.id).limit(5000))]
            if not rows:
                break
            project(c, rows)
            after = rows[-1]["id"]


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


def _totals_of(cells: dict[str, list[int]]) -> dict[str, Any]:
    """``{state: [claims, billed, approved, paid]}`` as the report's totals (amounts as text)."""
    every = [0, 0, 0, 0]
    for cell in cells.values():
        for i in range(4):
            every[i] += cell[i]

    def shown(v: list[int]) -> dict[str, Any]:
        return {"claims": v[0], "billed": str(v[1]), "approved": str(v[2]), "paid": str(v[3])}

    return {"byState": {s: shown(v) for s, v in sorted(cells.items())}, "all": shown(every)}


def _totals(claims: Iterable[dict[str, Any]]) -> dict[str, Any]:
    cells: dict[str, list[int]] = {}
    for c in claims:
        cell = cells.setdefault(c["state"], [0, 0, 0, 0])
        cell[0] += 1
        cell[1] += c["billed"]
        cell[2] += c["approved"]
        cell[3] += c["paid"]
    return _totals_of(cells)


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
    spec = svc.decoder.spec(CONTRACT, "PlanCreated")
    own = sorted(
        int(v)
        for v in svc.store.distinct_keys(
            contract=CONTRACT,
            name="PlanCreated",
            where={spec.slot("insurer"): [spec.key_value("insurer", insurer)]},
            column=spec.slot("planId"),
        )
    )
    foreign = sorted(set(plans) - set(own))
    if foreign:
        raise InvalidInput(f"plan {foreign[0]} is not a plan of insurer {insurer}")
    chosen = list(plans) or own
    col = t.claims.c
    conds: list[Any] = [col.plan_id.in_(chosen)]
    if since is not None:
        conds.append(col.submitted_ts >= since)
    if until is not None:
        conds.append(col.submitted_ts < until)
    summary = sa.select(col.plan_id, col.state, col.billed, col.approved, col.paid).where(*conds)
    # One pass over the period's claims, summed per (plan, state) as Python integers (amounts are
    # uint96: exact, whatever their size).
    cells: dict[tuple[int, str], list[int]] = {}
    with svc.store.engine.connect() as c:
        if chosen:
            for p, st, b, a, pd in c.execute(summary):
                cell = cells.get((p, st))
                if cell is None:
                    cell = cells[(p, st)] = [0, 0, 0, 0]
                cell[0] += 1
                cell[1] += int(b)
                cell[2] += int(a)
                cell[3] += int(pd)
        check_limit(limit)
        after = _after_id(cursor)
        page_q = sa.select(col.claim_id, col.submitted_id).where(*conds, col.submitted_id > after)
        if states:
            page_q = page_q.where(col.state.in_(list(states)))
        page = [(str(cid), int(sid)) for cid, sid in c.execute(page_q.order_by(col.submitted_id).limit(limit + 1))]
    more = len(page) > limit
    page = page[:limit]
    submissions = svc.keyed(CONTRACT, ["ClaimSubmitted"], {"claimId": [cid for cid, _ in page]}) if page else []
    items = _claims(svc, submissions)
    by_state: dict[str, list[int]] = {}
    by_plan_cells: dict[int, list[int]] = {p: [0, 0, 0, 0] for p in chosen}
    for (p, st), cell in cells.items():
        for target in (by_state.setdefault(st, [0, 0, 0, 0]), by_plan_cells[p]):
            for i in range(4):
                target[i] += cell[i]
    totals = _totals_of(by_state)
    by_plan = {p: _totals_of({"all": v})["all"] for p, v in by_plan_cells.items()}
    return Page(
        [_money(c) for c in items],
        str(page[-1][1]) if more and page else None,
        indexed_to,
        {
            "insurer": insurer,
            "plans": chosen,
            "totals": totals,
            "byPlan": {str(p): t for p, t in by_plan.items()},
        },
    )


def _after_id(cursor: str | None) -> int:
    if not cursor:
        return -1
    if not cursor.isdigit():
        raise InvalidInput(f"page cursor {cursor!r} is not one this report gave")
    return int(cursor)


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
