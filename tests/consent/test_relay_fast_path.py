"""The relayer's fast path computes what the slow one did: the EIP-712 digest without
eth-account's generic encoder (every type, random fields), the signer recovered from it, and raw
JSON-RPC over one kept-alive connection (calls, batches, retries, typed failures)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from careledger.consent import eip712
from careledger.devnet import free_port
from careledger.errors import NodeFailed, NodeUnreachable
from careledger.rpc import KeepAliveRpcClient, RpcError

KEY = Account.from_key("0x" + "7" * 64)


def _value(typ: str) -> st.SearchStrategy[Any]:
    if typ == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))
    if typ == "bytes32":
        return st.binary(min_size=32, max_size=32)
    return st.integers(min_value=0, max_value=(1 << int(typ.removeprefix("uint"))) - 1)


@st.composite
def _typed_message(draw: st.DrawFn) -> tuple[str, dict[str, Any], int, str]:
    primary = draw(st.sampled_from(sorted(eip712.TYPES)))
    message = {f["name"]: draw(_value(f["type"])) for f in eip712.TYPES[primary]}
    chain_id = draw(st.sampled_from([1, 31337, 11155111]))
    registry = draw(_value("address"))
    return primary, message, chain_id, registry


@settings(max_examples=150, deadline=None)
@given(_typed_message())
def test_fast_digest_is_eth_accounts_digest_and_recovers_the_signer(case: tuple[str, dict[str, Any], int, str]) -> None:
    primary, message, chain_id, registry = case
    typed = eip712._typed(primary, message, chain_id, registry)
    fast = eip712.fast_digest(primary, message, chain_id, registry)
    assert fast == eip712.digest(typed)
    signature = eip712.sign(KEY, typed)
    assert eip712.recover_digest(fast, signature) == KEY.address
    assert eip712.recover(typed, signature) == KEY.address


def test_fast_digest_refuses_out_of_range_fields_and_recover_refuses_bad_forms() -> None:
    typed = eip712.cancel(KEY.address, "0x" + "00" * 20, 0, 10, chain_id=1, registry="0x" + "11" * 20)
    message = dict(typed["message"])
    with pytest.raises(ValueError, match="does not fit uint256"):
        eip712.fast_digest("Cancel", {**message, "nonce": 1 << 256}, 1, "0x" + "11" * 20)
    with pytest.raises(ValueError, match="not an address"):
        eip712.fast_digest("Cancel", {**message, "grantee": "0x1234"}, 1, "0x" + "11" * 20)
    digest = eip712.fast_digest("Cancel", message, 1, "0x" + "11" * 20)
    good = eip712.sign(KEY, typed)
    assert eip712.recover_digest(digest, good[:64] + bytes([1])) is None  # v must be 27/28
    assert eip712.recover_digest(digest, good[:64]) is None  # 64 bytes
    assert eip712.recover_digest(digest, bytes(64) + bytes([27])) is None  # r = s = 0: no key
    assert eip712.recover_digest(bytes(32), good) != KEY.address  # another digest, another key


class _Node(BaseHTTPRequestHandler):
    """A JSON-RPC stub: answers eth_blockNumber, errors on eth_fail, and fails the first
    ``flaky`` requests with HTTP 503."""

    flaky = 0
    seen = 0

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen += 1
        if type(self).flaky > 0:
            type(self).flaky -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return

        def answer(req: dict[str, Any]) -> dict[str, Any]:
            if req["method"] == "eth_fail":
                return {"jsonrpc": "2.0", "id": req["id"], "error": {"code": 3, "message": "reverted", "data": "0xab"}}
            return {"jsonrpc": "2.0", "id": req["id"], "result": "0x2a"}

        out = [answer(r) for r in payload] if isinstance(payload, list) else answer(payload)
        body = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Node)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_keep_alive_client_calls_batches_and_retries(stub: str) -> None:
    rpc = KeepAliveRpcClient(stub, retries=2, backoff=0.01)
    assert rpc.call("eth_blockNumber") == "0x2a"
    with pytest.raises(RpcError) as refused:
        rpc.call("eth_fail")
    assert refused.value.data == "0xab" and refused.value.code == 3
    replies = rpc.batch([("eth_blockNumber", []), ("eth_fail", []), ("eth_blockNumber", [])])
    assert replies[0] == replies[2] == "0x2a" and isinstance(replies[1], RpcError)
    _Node.flaky = 2  # two HTTP 503s, then an answer: within the retries
    assert rpc.call("eth_blockNumber") == "0x2a"
    _Node.flaky = 5  # more than the retries
    with pytest.raises(NodeFailed, match=r"503.*3 attempts"):
        rpc.call("eth_blockNumber")
    _Node.flaky = 0
    rpc.close()


def test_keep_alive_client_reports_a_node_that_is_not_there() -> None:
    rpc = KeepAliveRpcClient(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01)
    with pytest.raises(NodeUnreachable, match=r"\(connection refused\), 2 attempts"):
        rpc.call("eth_blockNumber")
    with pytest.raises(NodeFailed, match="not an http"):
        KeepAliveRpcClient("ws://127.0.0.1:1")


def test_devnet_block_time_mines_in_intervals(tmp_path: Any) -> None:
    """`careledger devnet up --block-time` (Devnet(block_time=...)): blocks come on their own,
    so a transaction is a mempool insert that the next block takes, as on a real chain."""
    import time

    from careledger.devnet import Devnet
    from careledger.errors import EnvironmentProblem

    with pytest.raises(EnvironmentProblem, match="block time"):
        Devnet(folder=tmp_path / "bad", block_time=0)
    net = Devnet(folder=tmp_path / "anvil", port=free_port(), persist=False, block_time=0.05)
    net.up()
    try:
        rpc = KeepAliveRpcClient(net.rpc_url)
        assert rpc.call("anvil_getAutomine") is False
        first = int(rpc.call("eth_blockNumber"), 16)
        time.sleep(0.5)
        assert int(rpc.call("eth_blockNumber"), 16) >= first + 3  # no transaction sent
    finally:
        net.down()


def test_budget_keeps_running_sums_through_the_window() -> None:
    """The sponsoring budget: per key and in total, charges leave the window on time, a settled
    charge counts what was used; the sums equal a recount of the charges in the window."""
    import random

    from careledger.consent.relay import Budget

    now = [0.0]
    budget = Budget(per_key=1_000, total=2_500, window=10.0, clock=lambda: now[0])
    assert budget.reserve("clinic", 600) is None
    assert "clinic" in str(budget.reserve("clinic", 500))  # 1,100 > 1,000 per key
    budget.settle("clinic", 600, 400)  # the receipt used less
    assert budget.reserve("clinic", 500) is None and budget.spent("clinic") == 900
    assert budget.reserve("lab", 1_000) is None
    assert "global" in str(budget.reserve("er", 700))  # 2,600 > 2,500 in total
    now[0] = 10.0  # every charge so far has left the window
    assert budget.spent() == 0 and budget.reserve("er", 1_000) is None
    rng = random.Random(7)
    log: list[tuple[float, str, int]] = []
    for _ in range(2_000):
        now[0] += rng.random() * 0.05
        key, gas = rng.choice(("clinic", "lab", "er")), rng.randint(1, 60)
        if budget.reserve(key, gas) is None:
            used = rng.randint(0, gas)
            budget.settle(key, gas, used)
            log.append((now[0], key, used))
        recent = [(k, g) for t, k, g in log if t > now[0] - 10.0]
        assert budget.spent("lab") == sum(g for k, g in recent if k == "lab")
    assert budget.spent() == sum(g for _, g in recent) + (1_000 if now[0] < 20.0 else 0)


def test_calldata_is_web3s_for_every_signed_action() -> None:
    """The relayer's eth_abi encoder gives web3's bytes for each *BySig call and the reads."""
    from web3 import Web3

    from careledger.artifacts import load_artifacts
    from careledger.consent.client import ACTIONS, ConsentClient
    from careledger.consent.relay import Calldata
    from careledger.consent.terms import GrantTerms, ModifyTerms

    abi = load_artifacts()["ConsentRegistry"].abi
    contract = Web3().eth.contract(address=to_checksum_address("0x" + "11" * 20), abi=abi)
    calls = Calldata(abi)
    other = to_checksum_address("0x" + "22" * 20)
    fields: dict[str, dict[str, Any]] = {
        "grant": {"terms": GrantTerms(other, 3, 1, 2_000_000_000, document=b"\x0d" * 32)},
        "modify": {"grantee": other, "consent_id": 2**255 + 7, "terms": ModifyTerms(5, 1, 2_000_000_001, 4, 2)},
        "revoke": {"grantee": other, "consent_id": 2**200},
        "cancel": {"grantee": other},
        "set_patient_deny": {"categories": 4, "purposes": 2},
        "appoint_delegate": {"delegate": other, "kind": 2, "categories": 7, "purposes": 3},
        "remove_delegate": {"delegate": other},
        "review_break_glass": {"provider": other, "seq": 3},
    }
    assert set(fields) == set(ACTIONS)

    class _Offline(ConsentClient):
        def __init__(self) -> None:  # no node: only sign() is used, with nonce and deadline given
            self.address = contract.address

            class _Chain:
                chain_id = 31337

            self.chain = _Chain()  # type: ignore[assignment]

    client = _Offline()
    for action, kw in fields.items():
        signed = client.sign(KEY, action, nonce=5, deadline=1_900_000_000, **kw)
        web3s = getattr(contract.functions, ACTIONS[action][1])(*signed.call_args())._encode_transaction_data()
        assert calls.action(signed) == web3s, action
    assert (
        calls.encode("pairNonce", [KEY.address, other])
        == contract.functions.pairNonce(KEY.address, other)._encode_transaction_data()
    )


def test_devnet_up_block_time_from_the_cli_is_a_throwaway_interval_chain(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    import time

    port = free_port()
    env = {
        **os.environ,
        "CARELEDGER_DEVNET_DIR": str(tmp_path / "devnet"),
        "CARELEDGER_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "careledger.cli", "--rpc", f"http://127.0.0.1:{port}", *args]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)

    try:
        up = cli("devnet", "up", "--block-time", "0.05")
        assert up.returncode == 0, up.stderr
        assert "interval mining" in up.stdout and "state not kept" in up.stdout
        rpc = KeepAliveRpcClient(f"http://127.0.0.1:{port}")
        first = int(rpc.call("eth_blockNumber"), 16)
        time.sleep(2.5)  # longer than anvil's state interval: nothing is written
        assert int(rpc.call("eth_blockNumber"), 16) >= first + 10
        assert not (tmp_path / "devnet" / "state.json").exists()
        assert cli("devnet", "up", "--block-time", "0").returncode == 2  # out of range: click's usage error
    finally:
        cli("devnet", "down")
