"""One send path: ``Chain.send`` is a façade over the key's ``Sender``, so the two never hand out
the same nonce, and the node's quirks reach the transport only through the hook a devnet injects.

Against real anvils: the project's devnet (recognised, so its hook is injected) and a bare anvil
nobody recorded (no hook: the transport never mines on its own).
"""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak
from oplog_helpers import op_count, record_ops, recorded_events
from plain_anvil import plain_anvil

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.devnet import DevnetHook
from careledger.errors import SendIncomplete, TransactionPending, TransactionRejected
from careledger.rpc import NodeCall, NodeHook, RpcClient
from careledger.sender import Sender

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parents[2]
TRANSPORT = ("chain.py", "rpc.py", "sender.py", "journal.py")


def _chain(url: str, key: Any, journal: Path | None = None) -> Chain:
    decoder = ErrorDecoder.from_abis([load_artifacts()["OpLog"].abi])
    return Chain(connect(url), decoder, journal=journal).with_account(key)


def _record(chain: Chain, oplog: str, op_id: str) -> Any:
    fn = chain.contract(oplog, load_artifacts()["OpLog"].abi).functions.record(keccak(text=op_id))
    return chain.send(fn, f"record {op_id}")


def _nonce_of(rpc: RpcClient, tx_hash: str) -> int:
    return int(rpc.call("eth_getTransactionByHash", [tx_hash])["nonce"], 16)


class _SlowBroadcast(RpcClient):
    """An RpcClient that holds every batch of sends for ``delay`` seconds before it goes out: the
    window in which a second nonce authority would hand out the nonces just signed again."""

    def __init__(self, url: str, delay: float) -> None:
        super().__init__(url)
        self.delay = delay
        self.sending = threading.Event()

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]], *, chunk: int = 500) -> list[Any]:
        if requests_ and requests_[0][0] == "eth_sendRawTransaction" and not self.sending.is_set():
            self.sending.set()
            time.sleep(self.delay)
        return super().batch(requests_, chunk=chunk)


def test_chain_send_while_a_sender_broadcasts_takes_the_next_nonce(devnet, rpc, oplog, key, tmp_path):
    sender = Sender(_SlowBroadcast(devnet.rpc_url, 0.5), key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "batch", 10)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("out", sender.submit(ops)))
    worker.start()
    assert sender.rpc.sending.wait(10)  # type: ignore[attr-defined]
    # The batch is signed and journalled but not yet on the node: its pending count is stale.
    receipt = _record(_chain(devnet.rpc_url, key), oplog, "chain-while-batch")
    worker.join(30)
    outcomes = result["out"]
    assert all(o.ok for o in outcomes)
    batch_nonces = [o.nonce for o in outcomes]
    assert batch_nonces == list(range(batch_nonces[0], batch_nonces[0] + 10))
    assert _nonce_of(rpc, receipt["transactionHash"].to_0x_hex()) == batch_nonces[-1] + 1
    assert op_count(rpc, oplog) == 11
    assert len(set(recorded_events(rpc, oplog))) == 11


def test_interleaved_chain_and_sender_sends_on_one_key_never_collide(devnet, rpc, oplog, key, tmp_path):
    chain = _chain(devnet.rpc_url, key)
    sender = Sender(RpcClient(devnet.rpc_url), key, journal=tmp_path / "j.sqlite")
    errors: list[BaseException] = []

    def chain_sends() -> None:
        try:
            for i in range(15):
                _record(chain, oplog, f"chain-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def sender_sends() -> None:
        try:
            for round_ in range(5):
                assert all(o.ok for o in sender.submit(record_ops(oplog, f"sender-{round_}", 6)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=chain_sends), threading.Thread(target=sender_sends)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert op_count(rpc, oplog) == 15 + 30
    assert len(set(recorded_events(rpc, oplog))) == 45
    # Every nonce of the key used once, no gap.
    mined = int(rpc.call("eth_getTransactionCount", [key.address, "latest"]), 16)
    assert mined == int(rpc.call("eth_getTransactionCount", [key.address, "pending"]), 16)


def test_a_refused_chain_send_leaves_no_gap(proxy, rpc, oplog, key):
    chain = _chain(proxy.url, key)
    nonce = int(rpc.call("eth_getTransactionCount", [key.address, "pending"]), 16)
    proxy.inject(
        "rpc_error", methods={"eth_sendRawTransaction"}, count=1, message="max fee per gas less than block base fee"
    )
    with pytest.raises(TransactionRejected, match="max fee per gas less than block base fee") as refused:
        _record(chain, oplog, "refused")
    assert refused.value.reason == "max fee per gas less than block base fee"
    receipt = _record(chain, oplog, "after-refusal")
    # The refused transaction is out of the journal (never re-sent) and its nonce was reused.
    assert _nonce_of(rpc, receipt["transactionHash"].to_0x_hex()) == nonce
    assert rpc.call("eth_getTransactionByHash", [refused.value.tx_hash]) is None
    assert op_count(rpc, oplog) == 1


def test_a_journalled_chain_send_left_pending_lands_once_before_the_next(proxy, rpc, oplog, key, tmp_path):
    journal = tmp_path / "chain-journal.sqlite"
    first = _chain(proxy.url, key, journal)
    first.receipt_timeout = 1.0
    proxy.inject("swallow", methods={"eth_sendRawTransaction"}, count=1)  # the node never sees it
    with pytest.raises(TransactionPending) as pending:
        _record(first, oplog, "left-pending")
    assert op_count(rpc, oplog) == 0
    # Another connection (as another process would open), the same journal: the pending
    # transaction is broadcast again, same bytes, before the next one; nothing is signed twice.
    _record(_chain(proxy.url, key, journal), oplog, "next")
    assert rpc.call("eth_getTransactionReceipt", [pending.value.tx_hash])["status"] == "0x1"
    assert op_count(rpc, oplog) == 2
    assert len(set(recorded_events(rpc, oplog))) == 2


def test_the_project_devnet_gets_its_hook_injected(devnet, key, tmp_path, monkeypatch):
    monkeypatch.delenv("CARELEDGER_DEVNET", raising=False)
    assert isinstance(_chain(devnet.rpc_url, key).node_hook(), DevnetHook)
    assert isinstance(Sender(RpcClient(devnet.rpc_url), key, journal=tmp_path / "j.sqlite").node_hook(), DevnetHook)


def test_a_chain_nobody_recorded_gets_no_hook_and_is_never_mined_by_the_transport(key, tmp_path, monkeypatch):
    monkeypatch.delenv("CARELEDGER_DEVNET", raising=False)
    with plain_anvil("--no-mining") as url:
        assert type(_chain(url, key).node_hook()) is NodeHook
        sender = Sender(RpcClient(url), key, journal=tmp_path / "j.sqlite", receipt_timeout=1.5, drop_check_after=0.2)
        assert type(sender.node_hook()) is NodeHook
        to = dev_account("admin").address
        with pytest.raises(SendIncomplete, match="without a receipt") as stuck:
            sender.submit([_transfer("stuck", to)])
        assert stuck.value.pending == ["stuck"]
        assert int(RpcClient(url).call("eth_blockNumber"), 16) == 0  # nobody mined


class _MinesOnStall(NodeHook):
    """A hook injected by hand: mines one block when the send path says it is stalled."""

    def __init__(self) -> None:
        self.stalls = 0

    def stalled(self, call: NodeCall) -> bool:
        self.stalls += 1
        call("evm_mine", [])
        return True


def test_an_injected_hook_is_what_unsticks_a_stalled_send(key, tmp_path):
    with plain_anvil("--no-mining") as url:
        hook = _MinesOnStall()
        sender = Sender(RpcClient(url), key, journal=tmp_path / "j.sqlite", drop_check_after=0.2, hook=hook)
        outcome = sender.submit([_transfer("unstuck", dev_account("admin").address)])[0]
        assert outcome.ok and hook.stalls >= 1


def _transfer(op_id: str, to: str) -> Any:
    from careledger.sender import Operation

    return Operation(op_id, to, "0x", value=1, gas=21_000)


def test_the_transport_names_no_node_software():
    for name in TRANSPORT:
        source = (ROOT / "careledger" / name).read_text()
        tree = ast.parse(source)
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        assert not [s for s in strings if "anvil" in s.lower() or s.startswith(("evm_", "anvil_"))], name
        assert "anvil" not in source.lower(), name
