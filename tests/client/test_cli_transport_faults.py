"""Ordinary failures of the node and the network reach a CLI user as one readable line and a
documented exit code (careledger.errors), never as "internal error ... report it" (exit 70).

Each case runs ``careledger deploy`` (it reads, signs, sends and waits for receipts: every step
of the transport) through the fault proxy in front of a real anvil, injects one failure, and
checks the exit code, that stderr is exactly one ``error: ...`` line saying what happened, and
that no traceback leaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from plain_anvil import plain_anvil

from careledger.devnet import Devnet, free_port

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parents[2]
SEND = {"eth_sendRawTransaction"}


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[Devnet]:
    net = Devnet(folder=tmp_path_factory.mktemp("faults") / "devnet", port=free_port(), persist=False)
    net.up()
    yield net
    net.down()


@pytest.fixture(scope="module")
def other_chain() -> Iterator[str]:
    """A second anvil with another chain id: what the proxy switches to in the "chain id changed" case."""
    with plain_anvil(chain_id=31338) as url:
        yield url


@pytest.fixture
def proxy(node) -> Iterator[FaultProxy]:
    p = FaultProxy(node.rpc_url).start()
    yield p
    p.stop()


def _deploy(proxy: FaultProxy, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CARELEDGER_HOME": str(ROOT),
        "CARELEDGER_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "CARELEDGER_RPC_TIMEOUT": "1",
        "CARELEDGER_RECEIPT_TIMEOUT": "2",
    }
    env.pop("CARELEDGER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "careledger.cli", "--rpc", proxy.url, *extra, "deploy"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return lines[0]


# (id, how to break it, exit code, words the one line must contain)
CASES = [
    ("connection-refused", lambda p: p.refuse(), 3, "connection refused"),
    ("connection-reset", lambda p: p.inject("reset"), 3, "connection reset"),
    ("read-timeout", lambda p: _stall(p, set()), 3, "did not answer"),
    ("http-502", lambda p: p.inject("http", status=502), 3, "HTTP 502"),
    ("http-429", lambda p: p.inject("http", status=429), 3, "rate-limited (HTTP 429)"),
    ("body-not-json", lambda p: p.inject("not_json"), 3, "not JSON-RPC"),
    ("reply-without-result", lambda p: p.inject("no_result"), 3, "malformed JSON-RPC reply"),
    (
        "error-for-a-read",
        lambda p: p.inject("rpc_error", methods={"eth_getBlockByNumber"}, message="header not found"),
        3,
        "answered eth_getBlockByNumber with an error: header not found",
    ),
    (
        "send-nonce-too-high",
        lambda p: p.inject("rpc_error", methods=SEND, message="nonce too high"),
        1,
        "the node refused transaction 0x",
    ),
    (
        "send-fee-below-base-fee",
        lambda p: p.inject("rpc_error", methods=SEND, message="max fee per gas less than block base fee"),
        1,
        "max fee per gas less than block base fee",
    ),
    (
        "estimate-insufficient-funds",
        lambda p: p.inject(
            "rpc_error", methods={"eth_estimateGas"}, message="insufficient funds for gas * price + value"
        ),
        1,
        "would not take deploy ParticipantDirectory: insufficient funds",
    ),
    ("send-reset", lambda p: p.inject("reset", methods=SEND), 8, "may still be mined"),
    ("send-timeout", lambda p: _stall(p, SEND), 8, "may still be mined"),
    ("receipt-never-comes", lambda p: p.inject("swallow", methods=SEND), 8, "has no receipt after 2 s"),
    (
        "receipt-poll-http-503",
        lambda p: p.inject("http", methods={"eth_getTransactionReceipt"}, status=503),
        8,
        "stopped answering before its receipt",
    ),
]


def _stall(proxy: FaultProxy, methods: set[str]) -> None:
    proxy.mode = "stall_reply"
    proxy.stall_seconds = 1.5
    proxy.stall_methods = methods
    proxy.stall_count = 1_000


@pytest.mark.parametrize(("fault", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_transport_failure_exits_with_its_code_and_one_line(proxy, tmp_path, fault, code, words):
    fault(proxy)
    proc = _deploy(proxy, tmp_path)
    line = _one_line(proc)
    assert proc.returncode == code, proc.stderr
    assert words in line


def test_chain_id_changing_behind_the_url_exits_4(proxy, other_chain, tmp_path):
    proxy.inject("switch", methods=SEND, switch_to=other_chain)
    proc = _deploy(proxy, tmp_path)
    line = _one_line(proc)
    assert proc.returncode == 4
    assert "is now chain 31338, not chain 31337" in line


def test_pending_transaction_is_named_in_json_output(proxy, tmp_path):
    proxy.inject("swallow", methods=SEND)
    proc = _deploy(proxy, tmp_path, "--json")
    assert proc.returncode == 8
    report = json.loads(proc.stdout)
    assert report["kind"] == "TransactionPending"
    assert report["exitCode"] == 8
    assert report["txHash"].startswith("0x") and len(report["txHash"]) == 66
    assert report["txHash"] in report["error"]
