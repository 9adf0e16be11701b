"""Rebuilds the claims contract from its events alone (see :mod:`careledger.indexer`): plans,
rules, adjusters, enrolments with their accumulators, pools and every claim's stored state
(including the hash of its lines, kept while a person must still decide, and the time of its
denial), then compares them with the contract's reads.

On a devnet the payment token (``DevnetTestUSD``) is part of the suite and is rebuilt too:
balances and total supply from ``Transfer``, allowances from ``Approval`` less what each
``fund`` drew (OpenZeppelin's ERC-20 emits no event when ``transferFrom`` spends an allowance;
in the suite only ``fund`` does, and its ``PoolFunded`` says how much).
"""

from __future__ import annotations

from typing import Any

from careledger.claims.client import DEVNET_TOKEN
from careledger.claims.types import ClaimStatus, Line, lines_hash
from careledger.indexer import DecodedEvent, Reads

CONTRACTS = ("ClaimSettlement", DEVNET_TOKEN)
OPTIONAL_CONTRACTS = (DEVNET_TOKEN,)

ZERO = "0x" + "00" * 20
ZERO32 = b"\0" * 32
MAX_UINT = 2**256 - 1
_PAYABLE = (int(ClaimStatus.APPROVED), int(ClaimStatus.PARTIALLY_APPROVED))
# The contract keeps the lines' hash of a claim that leaves its submission in one of these.
_UNDECIDED = (int(ClaimStatus.SUBMITTED), int(ClaimStatus.PENDING_REVIEW), int(ClaimStatus.DENIED))


def _pool() -> dict[str, int]:
    return {"deposited": 0, "withdrawn": 0, "paid": 0, "owed": 0}


def _reduce_token(state: dict[str, Any], event: DecodedEvent) -> None:
    token: dict[str, Any] = state.setdefault("token", {"balances": {}, "allowances": {}, "supply": 0})
    a = event.args
    if event.name == "Transfer":
        if a["from"] == ZERO:
            token["supply"] += a["value"]
        else:
            token["balances"][a["from"]] = token["balances"].get(a["from"], 0) - a["value"]
        if a["to"] == ZERO:
            token["supply"] -= a["value"]
        else:
            token["balances"][a["to"]] = token["balances"].get(a["to"], 0) + a["value"]
    elif event.name == "Approval":
        token["allowances"][(a["owner"], a["spender"])] = a["value"]


def reduce(state: dict[str, Any], event: DecodedEvent) -> None:
    if event.contract == DEVNET_TOKEN:
        _reduce_token(state, event)
        return
    plans: dict[int, dict[str, Any]] = state.setdefault("plans", {})
    rules: dict[tuple[int, bytes], tuple[Any, ...]] = state.setdefault("rules", {})
    enrolments: dict[tuple[str, int], dict[str, Any]] = state.setdefault("enrolments", {})
    latest: dict[str, int] = state.setdefault("latest", {})
    claims: dict[bytes, dict[str, Any]] = state.setdefault("claims", {})
    adjusters: dict[tuple[str, str], bool] = state.setdefault("adjusters", {})
    a = event.args
    name = event.name
    if name == "PlanCreated":
        plans[a["planId"]] = {"insurer": a["insurer"], "terms": tuple(a["terms"]), "pool": _pool()}
    elif name == "CoverageSet":
        rules[(a["planId"], bytes(a["code"]))] = tuple(a["rule"])
    elif name == "AdjusterSet":
        adjusters[(a["insurer"], a["adjuster"])] = bool(a["allowed"])
    elif name == "MemberEnrolled":
        enrolments[(a["member"], a["enrolment"])] = {
            "planId": a["planId"],
            "start": a["startDay"],
            "end": a["endDay"],
            "deductibleMet": 0,
            "benefitPaid": 0,
            "record": bytes(a["memberRecord"]),
        }
        latest[a["member"]] = a["enrolment"]
    elif name == "PoolFunded":
        plans[a["planId"]]["pool"]["deposited"] += a["amount"]
        allowances = state.get("token", {}).get("allowances", {})
        key = (a["from"], event.address)
        if key in allowances and allowances[key] != MAX_UINT:
            allowances[key] -= a["amount"]
    elif name == "PoolWithdrawn":
        plans[a["planId"]]["pool"]["withdrawn"] += a["amount"]
    elif name == "ClaimSubmitted":
        lines = [Line(bytes(ln[0]), int(ln[1]), int(ln[2]), bytes(ln[3])) for ln in a["lines"]]
        claims[bytes(a["claimId"])] = {
            "member": a["member"],
            "payee": a["payee"],
            "planId": a["planId"],
            "enrolment": a["enrolment"],
            "status": int(ClaimStatus.SUBMITTED),
            "amount": 0,
            "appealed": False,
            "linesHash": ZERO32,
            "deniedAt": 0,
            "byInsurer": a["submitter"] == plans[a["planId"]]["insurer"],
            "deferredAt": 0,
            "submittedIn": event.tx_hash,
            "hashOfLines": lines_hash(lines),
        }
    elif name == "ClaimPendingReview":
        claims[bytes(a["claimId"])]["status"] = int(ClaimStatus.PENDING_REVIEW)
    elif name == "ClaimAdjudicated":
        c = claims[bytes(a["claimId"])]
        c["status"] = int(a["status"])
        if c["status"] == int(ClaimStatus.DENIED):
            c["deniedAt"] = event.timestamp
        if c["status"] in _PAYABLE:
            c["amount"] = a["amount"]
            e = enrolments[(c["member"], c["enrolment"])]
            e["deductibleMet"] += a["deductible"]
            e["benefitPaid"] += a["amount"]
            plans[c["planId"]]["pool"]["owed"] += a["amount"]
    elif name == "ClaimWithdrawn":
        claims[bytes(a["claimId"])]["status"] = int(ClaimStatus.WITHDRAWN)
    elif name == "ClaimAppealed":
        claims[bytes(a["claimId"])]["appealed"] = True
    elif name == "ClaimPaid":
        c = claims[bytes(a["claimId"])]
        pool = plans[c["planId"]]["pool"]
        pool["owed"] -= a["amount"]
        pool["paid"] += a["amount"]
        c["status"] = int(ClaimStatus.PAID)
        c["amount"] = 0  # the contract clears payee and amount once paid
        c["payee"] = ZERO
    elif name == "PayoutDeferred":
        c = claims[bytes(a["claimId"])]
        if c["deferredAt"] == 0:
            c["deferredAt"] = event.timestamp
    elif name == "PayoutRedirected":
        c = claims[bytes(a["claimId"])]
        c["payee"], c["deferredAt"] = a["to"], 0
    elif name == "PayoutLapsed":
        c = claims[bytes(a["claimId"])]
        plans[c["planId"]]["pool"]["owed"] -= a["amount"]
        c["status"], c["amount"], c["payee"] = int(ClaimStatus.LAPSED), 0, ZERO
    if name.startswith("Claim") and "claimId" in a:
        c = claims[bytes(a["claimId"])]
        if c["submittedIn"] == event.tx_hash:  # still the submission: where it ends decides
            c["linesHash"] = c["hashOfLines"] if c["status"] in _UNDECIDED else ZERO32


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    contract = reads.contract("ClaimSettlement")
    fn = contract.functions
    diffs: list[str] = []
    for plan_id, want in state.get("plans", {}).items():
        insurer, terms = fn.planOf(plan_id).call()
        if (insurer, tuple(terms)) != (want["insurer"], want["terms"]):
            diffs.append(f"plan {plan_id}: log says {want['insurer']} {want['terms']}, chain says {insurer} {terms}")
        v = fn.poolOf(plan_id).call()
        p = want["pool"]
        got = {"deposited": v[0], "withdrawn": v[1], "paid": v[3], "owed": v[4]}
        if got != p or v[2] != v[3] + v[4] + v[5]:
            diffs.append(f"pool {plan_id}: log says {p}, chain says {got} (free {v[5]})")
    for (plan_id, code), rule in state.get("rules", {}).items():
        got_rule = tuple(fn.coverageOf(plan_id, code).call())
        if got_rule != rule:
            diffs.append(f"rule {plan_id}/{code.hex()}: log says {rule}, chain says {got_rule}")
    for (insurer, adjuster), allowed in state.get("adjusters", {}).items():
        if fn.isAdjuster(insurer, adjuster).call() != allowed:
            diffs.append(f"adjuster {adjuster} of {insurer}: log says {allowed}")
    for member, n in state.get("latest", {}).items():
        e = state["enrolments"][(member, n)]
        got_n, got = fn.enrolmentOf(member).call()
        want_e = (e["planId"], e["start"], e["end"], e["deductibleMet"], e["benefitPaid"], e["record"])
        if (got_n, tuple(got)) != (n, want_e):
            diffs.append(f"enrolment of {member}: log says #{n} {want_e}, chain says #{got_n} {tuple(got)}")
    for cid, c in state.get("claims", {}).items():
        got_c = fn.claimOf(cid).call()
        got_t = (*got_c[:7], bytes(got_c[7]), *got_c[8:11])
        want_t = (
            c["member"],
            c["status"],
            c["appealed"],
            c["planId"],
            c["enrolment"],
            c["payee"],
            c["amount"],
            c["linesHash"],
            c["deniedAt"],
            c["byInsurer"],
            c["deferredAt"],
        )
        if got_t != want_t:
            diffs.append(f"claim 0x{cid.hex()}: log says {_show(want_t)}, chain says {_show(got_t)}")
    if "token" in state:
        diffs += _verify_token(state["token"], reads)
    return diffs


def _show(values: tuple[Any, ...]) -> str:
    return "(" + ", ".join("0x" + v.hex() if isinstance(v, bytes) else str(v) for v in values) + ")"


def _verify_token(want: dict[str, Any], reads: Reads) -> list[str]:
    fn = reads.contract(DEVNET_TOKEN).functions
    diffs: list[str] = []
    supply = fn.totalSupply().call()
    if supply != want["supply"]:
        diffs.append(f"{DEVNET_TOKEN} totalSupply: log says {want['supply']}, chain says {supply}")
    for holder, balance in want["balances"].items():
        got = fn.balanceOf(holder).call()
        if got != balance:
            diffs.append(f"{DEVNET_TOKEN} balanceOf({holder}): log says {balance}, chain says {got}")
    for (owner, spender), allowance in want["allowances"].items():
        got = fn.allowance(owner, spender).call()
        if got != allowance:
            diffs.append(f"{DEVNET_TOKEN} allowance({owner}, {spender}): log says {allowance}, chain says {got}")
    return diffs
