"""Where the gas of a transaction goes: an opcode-level breakdown from anvil's step traces.

Usage: python -m bench.gasprofile [--quick]        (``make gasprofile``)

Starts a fresh devnet with ``--steps-tracing``, plays the provenance custody path (and the
claims budgets' transactions: first claim, one-line claim, batch of 100, payout) on the same
100,000-unit batch ``make bench`` uses (commission, a partial shipment of the first half of the
batch's parcel, accept, dispense with a 17-hash positional proof from a parcel the pharmacy
holds), traces each transaction and puts every unit of its
``gasUsed`` in one bucket: intrinsic, calldata, new storage slots, storage updates, cold storage
reads, cold account access, warm storage, events, hashing, and the rest of the execution (stack,
memory, jumps, ABI decoding, call overhead), minus refunds. The buckets sum exactly to the
receipt's ``gasUsed`` (checked).

The buckets from "intrinsic" to "events" are what the operation must pay for the state it reads
and writes: their sum is a lower bound for any implementation that keeps the same storage and
events. ``bench/gas_breakdown.json`` and ``docs/benchmarks/gas-breakdown.md`` hold the output.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import BenchEnv, fresh_suite, git_commit
from bench.provenance import DOC, GTIN, far_expiry
from careledger.provenance.client import ProvenanceClient
from careledger.provenance.store import build_batch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "gas_breakdown.json"
DOC_MD = ROOT / "docs" / "benchmarks" / "gas-breakdown.md"

# Cancun cost schedule (EIP-2929 / EIP-2200 / EIP-3529).
COLD_SLOAD = 2_100
COLD_ACCOUNT = 2_600
SSTORE_SET = 20_000
SSTORE_RESET = 2_900
CALLS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
ACCOUNT_OPS = {*CALLS, "EXTCODESIZE", "EXTCODEHASH", "EXTCODECOPY", "BALANCE"}

#: Buckets in report order; the first ones are the state/event cost a design cannot avoid.
REQUIRED = (
    "intrinsic",
    "calldata",
    "new storage slots",
    "storage updates",
    "cold storage reads",
    "cold account access",
    "events",
)
BUCKETS = (*REQUIRED, "warm storage", "hashing", "other execution", "refund")


def classify(steps: list[dict[str, Any]]) -> Counter[str]:
    """Gas per bucket for the execution steps of one transaction (all call depths)."""
    out: Counter[str] = Counter()
    for i, step in enumerate(steps):
        op, cost = step["op"], int(step["gasCost"])
        if op in CALLS and i + 1 < len(steps) and steps[i + 1]["depth"] > step["depth"]:
            # geth-style traces charge the gas forwarded to the callee to the CALL step; the callee's
            # own steps follow and are counted one by one, so keep only what the caller paid itself.
            cost -= int(steps[i + 1]["gas"])
        if op == "SLOAD":
            out["cold storage reads" if cost >= COLD_SLOAD else "warm storage"] += cost
        elif op == "SSTORE":
            cold = COLD_SLOAD if cost in (SSTORE_SET + COLD_SLOAD, SSTORE_RESET + COLD_SLOAD) else 0
            out["cold storage reads"] += cold
            rest = cost - cold
            bucket = {SSTORE_SET: "new storage slots", SSTORE_RESET: "storage updates"}.get(rest, "warm storage")
            out[bucket] += rest
        elif op in ACCOUNT_OPS and cost >= COLD_ACCOUNT:
            out["cold account access"] += COLD_ACCOUNT
            out["other execution"] += cost - COLD_ACCOUNT
        elif op.startswith("LOG"):
            out["events"] += cost
        elif op == "KECCAK256":
            out["hashing"] += cost
        else:
            out["other execution"] += cost
    return out


def breakdown(env: BenchEnv, tx_hash: str) -> dict[str, int]:
    """Every unit of the transaction's gasUsed in a bucket (see module docstring)."""
    trace = env.w3.provider.make_request(  # type: ignore[attr-defined]
        "debug_traceTransaction", [tx_hash, {"disableStack": True, "disableStorage": True, "enableMemory": False}]
    )["result"]
    steps = trace["structLogs"]
    if not steps:
        raise SystemExit("gasprofile: the node returned no steps (anvil needs --steps-tracing)")
    data = bytes(env.w3.eth.get_transaction(tx_hash)["input"])  # type: ignore[arg-type]
    used = int(env.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])  # type: ignore[arg-type]
    out = classify(steps)
    out["intrinsic"] = 21_000
    out["calldata"] = sum(16 if b else 4 for b in data)
    out["refund"] = used - sum(out.values())
    if out["refund"] > 0:
        raise SystemExit(f"gasprofile: {out['refund']} gas of {tx_hash} not attributed; the classifier is wrong")
    return {b: out[b] for b in BUCKETS}


def profile(env: BenchEnv) -> dict[str, dict[str, int]]:
    mfr = ProvenanceClient(env.signer("manufacturer"), env.deployment)
    dist = ProvenanceClient(env.signer("distributor"), env.deployment)
    pharm = ProvenanceClient(env.signer("pharmacy"), env.deployment)
    distributor, pharmacy = env.signer("distributor").account, env.signer("pharmacy").account
    assert distributor is not None and pharmacy is not None
    units = 10_000 if env.quick else 100_000
    batch = build_batch(GTIN, f"PROFILE-{units}", far_expiry(env), (f"S{i:09d}" for i in range(units)))
    serial = batch.serials[7]
    found = batch.locate(serial)
    assert found is not None
    index, proof = found
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("drugs.commission", lambda: mfr.commission_serials(batch).receipt),
        ("drugs.ship", lambda: mfr.ship(batch.batch_id, distributor.address, units // 2, DOC, start=0)),
        ("drugs.accept", lambda: dist.accept(batch.batch_id, 0)),
        ("(distributor ships on)", lambda: dist.ship(batch.batch_id, pharmacy.address, 1000, DOC, start=0)),
        ("(pharmacy accepts)", lambda: pharm.accept(batch.batch_id, 0)),
        ("drugs.dispense", lambda: pharm.dispense(GTIN, batch.lot, serial, index, proof, parcel=0)),
    ]
    out: dict[str, dict[str, int]] = {}
    for key, action in steps:
        receipt = action()
        if not key.startswith("("):
            tx = receipt["transactionHash"]
            out[key] = breakdown(env, tx if isinstance(tx, str) else "0x" + bytes(tx).hex())
    out |= profile_claims(env)
    return out


def profile_claims(env: BenchEnv) -> dict[str, dict[str, int]]:
    """The claims budgets' transactions (bench/claims.py's workload): the member's first claim,
    a one-line claim afterwards, a batch of 100, and the first payout to a new token holder."""
    from bench.claimload import Workload

    wl = Workload.setup(env)
    clinic = wl.clinic

    def tx_of(receipt: Any) -> str:
        tx = receipt["transactionHash"]
        return tx if isinstance(tx, str) else "0x" + bytes(tx).hex()

    out: dict[str, dict[str, int]] = {}
    first = clinic.submit(wl.request(0))
    out["claims.submit_1line_first"] = breakdown(env, first.tx)
    one = clinic.submit(wl.request(1))
    out["claims.submit_1line"] = breakdown(env, one.tx)
    out["claims.payout"] = breakdown(env, tx_of(clinic.pay(one.claim_id)))
    _, batch = clinic.submit_batch([wl.request(i) for i in range(2, 102)])
    out["claims.submit_batch100"] = breakdown(env, tx_of(batch))
    return out


def render(results: dict[str, Any]) -> str:
    ops: dict[str, dict[str, int]] = results["operations"]
    budgets: dict[str, int] = results["budget"]
    names = list(ops)
    lines = [
        "# Gas breakdown",
        "",
        f"Produced by `{results['command']}` at commit `{results['commit']}` from anvil step traces "
        f"(`bench/gas_breakdown.json`); batch of {results['units']:,} units. Every column sums to the "
        "receipt's `gasUsed`.",
        "",
        "| bucket | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for bucket in BUCKETS:
        lines.append(f"| {bucket} | " + " | ".join(f"{ops[n][bucket]:,}" for n in names) + " |")
    lines.append("| **gasUsed** | " + " | ".join(f"**{sum(ops[n].values()):,}**" for n in names) + " |")
    lines.append(
        "| state + events (lower bound) | " + " | ".join(f"{sum(ops[n][b] for b in REQUIRED):,}" for n in names) + " |"
    )
    lines.append("| budget | " + " | ".join(f"{budgets[n]:,}" if n in budgets else "" for n in names) + " |")
    lines += [
        "",
        '"State + events" is what the operation pays for the storage it must read and write, the',
        "event it must emit and its calldata, with zero cost for everything else: no implementation",
        "that keeps the same records can go below it. What each must write under the v2 design:",
        "commission 3 fresh slots (root; GTIN, quantity, expiry, status; the first parcel) and reads the",
        "directory (role and GS1 company prefix); a partial ship 2 fresh slots (the parcel's receiver, the",
        "sender's remaining parcel) and updates the parcel; accept updates the parcel's two slots; dispense",
        "writes 1 fresh slot (pharmacy, time, batch) and reads the batch and the parcel. See",
        "docs/provenance.md (Gas) for what it means for the budgets.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gasprofile")
    parser.add_argument("--quick", action="store_true", help="10,000-unit batch (a smoke run, not for the record)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="careledger-gasprofile-") as tmp,
        fresh_suite(Path(tmp), quick=args.quick, anvil_args="--steps-tracing") as env,
    ):
        ops = profile(env)
    results = {
        "commit": git_commit(),
        "command": "make gasprofile" + (" (--quick)" if args.quick else ""),
        "units": 10_000 if args.quick else 100_000,
        "budget": {
            "drugs.commission": 120_000,
            "drugs.ship": 90_000,
            "drugs.accept": 70_000,
            "drugs.dispense": 100_000,
        },
        "operations": ops,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    DOC_MD.write_text(render(results))
    print(DOC_MD.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
