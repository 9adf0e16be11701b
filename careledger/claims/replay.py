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
    rules: dict[tuple[int, int, bytes], tuple[tuple[Any, ...], bytes]] = state.setdefault("rules", {})
    versions: dict[tuple[int, int], int] = state.setdefault("versions", {})
    enrolments: dict[tuple[str, int], dict[str, Any]] = state.setdefault("enrolments", {})
    covers: dict[tuple[str, int], dict[str, Any]] = state.setdefault("covers", {})
    latest: dict[str, int] = state.setdefault("latest", {})
    claims: dict[bytes, dict[str, Any]] = state.setdefault("claims", {})
    adjusters: dict[tuple[str, str], bool] = state.setdefault("adjusters", {})
    a = event.args
    name = event.name
    if name == "PlanCreated":
        plans[a["planId"]] = {"insurer": a["insurer"], "terms": tuple(a["terms"]), "pool": _pool()}
    elif name == "PlanInsurerSucceeded":
        plans[a["planId"]]["insurer"] = a["insurer"]
    elif name == "RulesScheduled":
        versions[(a["planId"], a["version"])] = a["effectiveFrom"]
    elif name == "CoverageSet":
        rules[(a["planId"], a["version"], bytes(a["code"]))] = (tuple(a["rule"]), bytes(a["gtinBinding"]))
    elif name == "AdjusterSet":
        adjusters[(a["insurer"], a["adjuster"])] = bool(a["allowed"])
    elif name == "MemberEnrolled":
        enrolments[(a["member"], a["enrolment"])] = {
            "planId": a["planId"],
            "from": a["fromPeriod"],
            "to": a["toPeriod"],
            "voided": False,
            "record": bytes(a["memberRecord"]),
        }
        latest[a["member"]] = a["enrolment"]
        for period in range(a["fromPeriod"], a["toPeriod"] + 1):
            covers[(a["member"], period)] = {
                "planId": a["planId"],
                "enrolment": a["enrolment"],
                "deductibleMet": 0,
                "benefitPaid": 0,
                "voided": False,
            }
    elif name == "EnrolmentTerminated":
        e = enrolments[(a["member"], a["enrolment"])]
        for period in range(max(a["lastPeriod"] + 1, e["from"]), e["to"] + 1):
            covers.pop((a["member"], period), None)
        e["to"] = a["lastPeriod"]
    elif name == "EnrolmentVoided":
        e = enrolments[(a["member"], a["enrolment"])]
        e["voided"] = True
        for period in range(e["from"], e["to"] + 1):
            cover = covers.get((a["member"], period))
            if cover is not None and cover["enrolment"] == a["enrolment"]:
                cover["voided"] = True
    elif name == "PoolFunded":
        plans[a["planId"]]["pool"]["deposited"] += a["amount"]
        allowances = state.get("token", {}).get("allowances", {})
        key = (a["from"], event.address)
        if key in allowances and allowances[key] != MAX_UINT:
            allowances[key] -= a["amount"]
    elif name == "PoolWithdrawn":
        plans[a["planId"]]["pool"]["withdrawn"] += a["amount"]
    elif name == "ClaimSubmitted":
        lines = [
            Line(bytes(ln[0]), int(ln[1]), int(ln[2]), bytes(ln[3]), tuple(bytes(u) for u in ln[4]))
            for ln in a["lines"]
        ]
        claims[bytes(a["claimId"])] = {
            "member": a["member"],
            "payee": a["payee"],
            "planId": a["planId"],
            "period": a["servicePeriod"],
            "version": a["version"],
            "status": int(ClaimStatus.SUBMITTED),
            "amount": 0,
            "appealed": False,
            "linesHash": ZERO32,
            "deniedAt": 0,
            "byInsurer": a["submitter"] == plans[a["planId"]]["insurer"],
            "deferredAt": 0,
            "storedVersion": 0,
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
            e = covers[(c["member"], c["period"])]
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
            undecided = c["status"] in _UNDECIDED
            c["linesHash"] = c["hashOfLines"] if undecided else ZERO32
            c["storedVersion"] = c["version"] if undecided else 0


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
    for (plan_id, version, code), rule in state.get("rules", {}).items():
        got_rule, got_binding = fn.coverageOf(plan_id, version, code).call()
        if (tuple(got_rule), bytes(got_binding)) != rule:
            diffs.append(f"rule {plan_id}/v{version}/{code.hex()}: log says {rule}, chain says {got_rule}")
    for (insurer, adjuster), allowed in state.get("adjusters", {}).items():
        if fn.isAdjuster(insurer, adjuster).call() != allowed:
            diffs.append(f"adjuster {adjuster} of {insurer}: log says {allowed}")
    for (member, n), e in state.get("enrolments", {}).items():
        got, count = fn.enrolmentOf(member, n).call()
        want_e = (e["planId"], e["from"], e["to"], e["voided"], e["record"])
        got_e = (got[0], got[1], got[2], got[3], bytes(got[4]))
        if (got_e, count) != (want_e, state["latest"][member]):
            diffs.append(f"enrolment {n} of {member}: log says {want_e}, chain says {got_e}")
    for (member, period), cv in state.get("covers", {}).items():
        got_cover = tuple(fn.coverOf(member, period).call())
        want_c = (cv["planId"], cv["enrolment"], cv["deductibleMet"], cv["benefitPaid"], cv["voided"])
        if got_cover != want_c:
            diffs.append(f"cover of {member} in period {period}: log says {want_c}, chain says {got_cover}")
    for cid, c in state.get("claims", {}).items():
        got_c = fn.claimOf(cid).call()
        got_t = (*got_c[:7], bytes(got_c[7]), *got_c[8:12])
        want_t = (
            c["member"],
            c["status"],
            c["appealed"],
            c["planId"],
            c["period"],
            c["payee"],
            c["amount"],
            c["linesHash"],
            c["deniedAt"],
            c["byInsurer"],
            c["deferredAt"],
            c["storedVersion"],
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
