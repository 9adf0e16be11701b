"""The soak (bench/soak.py, ``make soak``) at a small count: interrupted with Ctrl-C (SIGINT) while
it sends, then resumed; every claim ends up on chain exactly once and paid once, and the signer
used no nonce beyond one submitBatch and one payBatch per batch (a doubled batch, even one that
reverted, would have taken a nonce). Also the flatness judgment on made-up memory series."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from bench.claimload import KEY
from bench.soak import Flat, fit_rise, judge
from careledger.accounts import dev_account
from careledger.claims.types import claim_id
from careledger.devnet import Devnet
from careledger.rpc import RpcClient

ROOT = Path(__file__).resolve().parents[2]
CLAIMS, BATCH = 200, 2
SUBMITTED = (
    "0x"
    + keccak(
        text="ClaimSubmitted(bytes32,address,address,uint32,uint32,uint32,address,uint256,uint16,bytes32,bytes32,"
        "(bytes32,uint32,uint96,bytes32,bytes32[])[])"
    ).hex()
)
PAID = "0x" + keccak(text="ClaimPaid(bytes32,address,uint32,uint96)").hex()


def _journalled(journal: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM ops").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _claim_topics(rpc: RpcClient, address: str, topic: str) -> list[str]:
    logs = rpc.call("eth_getLogs", [{"address": address, "fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}])
    return [log["topics"][1] for log in logs]


@pytest.fixture
def soak_state(tmp_path):
    """The soak's state folder; whatever happens, its devnet is stopped at the end (an
    interrupted soak leaves it running for the resume)."""
    state = tmp_path / "soak"
    yield state
    Devnet(folder=state / "devnet").down()


@pytest.mark.devnet
def test_soak_interrupted_then_resumed_settles_every_claim_exactly_once(tmp_path, soak_state):
    state, out = soak_state, tmp_path / "soak.json"
    cmd = [
        sys.executable,
        "-m",
        "bench.soak",
        *("--claims", str(CLAIMS), "--batch", str(BATCH), "--sample-every", "20"),
        *("--state", str(state), "--out", str(out), "--png", str(tmp_path / "soak.png")),
        "--no-doc",
        "--keep",
    ]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Ctrl-C once the first window after the calibration batch is journalled: its
        # transactions are signed and being sent.
        deadline = time.monotonic() + 120
        while _journalled(state / "journal.sqlite") <= 2:
            assert first.poll() is None, "the soak ended before it could be interrupted: " + first.stderr.read()
            assert time.monotonic() < deadline, "no window was journalled within 120 s"
            time.sleep(0.005)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err
    assert "interrupted after" in err
    run = json.loads((state / "run.json").read_text())
    assert 0 < run["done"] < CLAIMS
    assert not out.exists()

    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    result = json.loads(out.read_text())
    assert second.returncode == (0 if result["flat"]["verdict"] else 1), second.stderr
    assert f"resuming at claim {run['done']:,}" in second.stderr
    assert (result["claims"], result["resumed_from"]) == (CLAIMS, run["done"])
    assert result["claims_this_process"] == CLAIMS - run["done"]
    assert result["memory"]["samples"][0]["claims"] == run["done"]
    assert (tmp_path / "soak.png").stat().st_size > 0

    # The chain (left running by --keep): each claim submitted once and paid once.
    rpc = RpcClient(Devnet(folder=state / "devnet", port=int(run["port"])).rpc_url)
    deployment = json.loads(next((state / "deployments").glob("*.json")).read_text())
    settlement = deployment["contracts"]["ClaimSettlement"]["address"]
    wl = run["workload"]
    # The workload's claims 0..CLAIMS-1 (bench/claimload.py): encounter i of the plan year.
    expected = sorted(
        "0x"
        + claim_id(
            wl["member"], wl["payee"], wl["period"], KEY.episode(wl["planId"], wl["member"], wl["payee"], i)
        ).hex()
        for i in range(CLAIMS)
    )
    assert sorted(_claim_topics(rpc, settlement, SUBMITTED)) == expected
    assert sorted(_claim_topics(rpc, settlement, PAID)) == expected
    clinic = dev_account("clinic").address
    assert int(rpc.call("eth_getTransactionCount", [clinic, "latest"]), 16) == 2 * (CLAIMS // BATCH)
    db = sqlite3.connect(state / "journal.sqlite")
    statuses = dict(db.execute("SELECT status, COUNT(*) FROM ops GROUP BY status").fetchall())
    db.close()
    assert statuses == {"mined": 2 * (CLAIMS // BATCH)}


def _series(n: int, rss_step: float, traced_step: float) -> list[dict[str, float]]:
    """n + 1 samples, one per 1,000 claims, growing by the given MiB per sample."""
    return [
        {"claims": i * 1_000, "rss_mib": 80.0 + rss_step * i, "traced_mib": 1.5 + traced_step * i} for i in range(n + 1)
    ]


def test_flat_memory_is_judged_flat():
    verdict = judge(_series(50, 0.0, 0.0), 0, 50_000, Flat())
    assert verdict["verdict"] is True
    assert verdict["judged_from_claim"] == 10_000
    assert verdict["samples"] == 41


def test_leak_of_half_a_kib_per_claim_is_judged_not_flat():
    # 0.5 MiB of RSS per 1,000 claims: 20 MiB over the judged 40,000 claims.
    verdict = judge(_series(50, 0.5, 0.0), 0, 50_000, Flat())
    assert verdict["verdict"] is False
    assert verdict["measured"]["rss_growth_mib"] == pytest.approx(20.0)
    assert verdict["reason"] == "over: rss_growth_mib, rss_trend_mib"


def test_python_objects_kept_per_claim_are_judged_not_flat():
    # 100 bytes per claim kept by Python code: ~3.8 MiB traced over 40,000 claims, RSS noise-free.
    verdict = judge(_series(50, 0.0, 100 * 1_000 / 2**20), 0, 50_000, Flat())
    assert verdict["verdict"] is False
    assert verdict["reason"] == "over: traced_trend_mib"


def test_too_few_samples_are_not_judged_flat():
    verdict = judge(_series(3, 0.0, 0.0), 0, 3_000, Flat())
    assert (verdict["verdict"], verdict["reason"]) == (False, "only 3 samples after the warm-up")


def test_fit_rise_is_slope_times_span():
    assert fit_rise([0, 1, 2, 3], [1.0, 3.0, 5.0, 7.0]) == pytest.approx(6.0)
    assert fit_rise([0, 10], [5.0, 5.0]) == 0.0
