"""Client benchmarks (issue 7): the send path's throughput against batch size beside the naive
one-transaction-at-a-time loop, and ``careledger drugs verify`` from process start to verdict.

The throughput runs use the OpLog test contract (one new storage slot and one event per
operation, a realistic minimal write) so they measure the transport itself; the domain benches
measure their own operations with the same machinery.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from eth_utils.crypto import keccak

from bench.harness import BenchEnv, BenchResult, Throughput, plot_curve
from bench.provenance import far_expiry
from careledger.abi import contract as contract_abi
from careledger.accounts import dev_account
from careledger.chain import Chain, ErrorDecoder
from careledger.provenance.client import ProvenanceClient
from careledger.provenance.gs1 import hri
from careledger.provenance.store import ProvenanceStore, build_batch
from careledger.rpc import RpcClient
from careledger.sender import Operation, Sender

ROOT = Path(__file__).resolve().parent.parent
CURVE_PNG = ROOT / "docs" / "benchmarks" / "throughput_vs_batch.png"


def _ops(oplog: str, prefix: str, n: int) -> list[Operation]:
    record = contract_abi("OpLog").function("record")
    return [
        Operation(f"{prefix}-{i}", oplog, "0x" + record.calldata(keccak(text=f"{prefix}-{i}")).hex(), gas=80_000)
        for i in range(n)
    ]


def _deploy_oplog(env: BenchEnv) -> str:
    art = env.artifacts["OpLog"]
    chain = Chain(env.w3, ErrorDecoder.from_abis([art.abi])).with_account(dev_account("admin").account)
    return str(chain.deploy(art.abi, art.bytecode, [], "deploy OpLog")["contractAddress"])


def _naive(env: BenchEnv, oplog: str, n: int) -> float:
    """web3.py's usual loop: build, sign, send, wait for the receipt, one at a time."""
    art = env.artifacts["OpLog"]
    chain = Chain(env.w3, ErrorDecoder.from_abis([art.abi])).with_account(dev_account("patient2").account)
    contract = chain.contract(oplog, art.abi)
    t0 = time.perf_counter()
    for i in range(n):
        receipt = env.w3.eth.wait_for_transaction_receipt(
            env.w3.eth.send_raw_transaction(
                chain.account.sign_transaction(  # type: ignore[union-attr]
                    contract.functions.record(keccak(text=f"naive-{i}")).build_transaction(
                        {
                            "from": chain.account.address,
                            "nonce": env.w3.eth.get_transaction_count(  # type: ignore[union-attr]
                                chain.account.address
                            ),
                            "chainId": chain.chain_id,
                        }
                    )  # type: ignore[union-attr]
                ).raw_transaction
            )
        )
        assert receipt["status"] == 1
    return n / (time.perf_counter() - t0)


def _curve(env: BenchEnv, oplog: str, sizes: list[int], total: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for size in sizes:
        sender = Sender(
            RpcClient(env.rpc), dev_account("relayer").account, journal=env.workdir / f"journal-{size}.sqlite"
        )
        ops = _ops(oplog, f"curve{size}", total)
        t0 = time.perf_counter()
        outcomes = sender.submit(ops, chunk=size)
        elapsed = time.perf_counter() - t0
        assert all(o.ok for o in outcomes)
        out[size] = total / elapsed
    return out


def _cli_startup(env: BenchEnv, runs: int = 5) -> list[float]:
    """Wall time of `careledger drugs verify SCAN` from process start to verdict."""
    store = env.workdir / "store"
    expiry = far_expiry(env)
    batch = build_batch(9506000134352, "CLI-START", expiry, (f"U{i:06d}" for i in range(1000)))
    ProvenanceClient(env.signer("manufacturer"), env.deployment).commission_serials(batch, ProvenanceStore(store))
    scan = hri("09506000134352", "CLI-START", f"{expiry:06d}", "U000123")
    cli = str(Path(sys.executable).parent / "careledger")
    envvars = {**os.environ, "CARELEDGER_RPC": env.rpc, "CARELEDGER_PROVENANCE_DIR": str(store)}
    times = []
    for _ in range(runs):
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%e", cli, "drugs", "verify", scan],
            capture_output=True,
            text=True,
            env=envvars,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("Verified")
        times.append(float(proc.stderr.strip().splitlines()[-1]))
    return times


def run(env: BenchEnv) -> BenchResult:
    oplog = _deploy_oplog(env)
    total = 600 if env.quick else 1000
    naive = _naive(env, oplog, 50 if env.quick else 200)
    sizes = [1, 10, 50, 100, 250, 500]
    curve = _curve(env, oplog, sizes, total)
    plot_curve(
        CURVE_PNG,
        curve,
        naive,
        label="careledger.sender (JSON-RPC batches)",
        naive_label="naive web3.py loop",
        xlabel="transactions per JSON-RPC batch",
        ylabel="transactions mined per second",
        title="Signed, sent, mined and receipt-checked, on anvil",
        legend_loc="lower right",
    )
    best = max(curve, key=lambda s: curve[s])
    startup = _cli_startup(env)
    return BenchResult(
        throughput={
            "client.send": Throughput(
                curve[best], naive, total, {"batch": best, "curve": {str(k): round(v, 1) for k, v in curve.items()}}
            ),
        },
        timing={
            "cli.drugs_verify_s": {
                "median": statistics.median(startup),
                "max": max(startup),
                "runs": len(startup),
                "budget": 0.5,  # issue #14: scan to verdict
                "command": "/usr/bin/time -f %e careledger drugs verify SCAN",
            }
        },
        notes=[
            f"sender throughput vs batch size drawn in {CURVE_PNG.relative_to(ROOT)}",
            f"`careledger drugs verify` process start to verdict: median {statistics.median(startup):.2f} s over "
            f"{len(startup)} runs (budget 1.0 s), measured with /usr/bin/time",
        ],
    )
