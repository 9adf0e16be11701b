"""Fault injection on anvil: the client loses nothing, doubles nothing, and the log is complete.

Each test drives the real send path (careledger.sender) against a real anvil, breaks something
(the node, the network, the mempool, the chain's history), and checks three things at the end:
every operation recorded once on chain (OpLog.count), no doubled operation (a double would have
reverted), and one ``Recorded`` event per operation (the audit log is complete).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time

import pytest
from eth_utils.crypto import keccak
from oplog_helpers import op_count, record_ops, recorded_events

from careledger.rpc import RpcClient, RpcError
from careledger.sender import Sender, SendIncomplete

pytestmark = pytest.mark.devnet


def _assert_exactly_once(rpc, oplog, ops):
    assert op_count(rpc, oplog) == len(ops)
    events = recorded_events(rpc, oplog)
    assert sorted(events) == sorted("0x" + keccak(text=op.op_id).hex() for op in ops)


def test_batch_submit_mines_everything_with_contiguous_nonces(rpc, oplog, key, tmp_path):
    sender = Sender(rpc, key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "batch", 300)
    outcomes = sender.submit(ops, chunk=100)
    assert all(o.ok for o in outcomes)
    nonces = [o.nonce for o in outcomes]
    assert nonces == list(range(nonces[0], nonces[0] + 300))
    _assert_exactly_once(rpc, oplog, ops)


def test_resubmitting_same_operations_never_doubles(rpc, oplog, key, tmp_path):
    sender = Sender(rpc, key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "again", 40)
    first = sender.submit(ops)
    # A second process with the same journal, as after a crash or a user's retry.
    second = Sender(RpcClient(rpc.url), key, journal=tmp_path / "j.sqlite").submit(ops)
    assert [o.tx_hash for o in first] == [o.tx_hash for o in second]
    _assert_exactly_once(rpc, oplog, ops)


def _submit_until_broadcast(sender, ops, op_id):
    """Start ``sender.submit(ops)`` on a thread and return once ``op_id`` has left the "signed"
    state (it was broadcast): ``(worker, result)``, the outcomes landing in ``result["out"]``."""
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.setdefault("out", sender.submit(ops)))
    worker.start()
    deadline = time.monotonic() + 10
    while sender.outcome(op_id) is None or sender.outcome(op_id).status == "signed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return worker, result


def test_dropped_transaction_is_rebroadcast_with_same_nonce(rpc, oplog, key, tmp_path):
    rpc.call("evm_setAutomine", [False])
    sender = Sender(rpc, key, journal=tmp_path / "j.sqlite", drop_check_after=0.3)
    ops = record_ops(oplog, "drop", 1)
    worker, result = _submit_until_broadcast(sender, ops, "drop-0")
    tx_hash = sender.outcome("drop-0").tx_hash  # type: ignore[union-attr]
    rpc.call("anvil_dropTransaction", [tx_hash])
    assert rpc.call("eth_getTransactionByHash", [tx_hash]) is None  # really dropped
    time.sleep(0.8)  # the sender notices and re-broadcasts the same bytes
    assert rpc.call("eth_getTransactionByHash", [tx_hash]) is not None
    rpc.call("evm_mine")
    worker.join(10)
    (outcome,) = result["out"]  # type: ignore[misc]
    assert outcome.ok
    assert outcome.resent >= 1
    assert outcome.tx_hash == tx_hash
    _assert_exactly_once(rpc, oplog, ops)


def test_transaction_left_queued_at_the_chain_nonce_is_freed_and_sent_again(rpc, oplog, key, tmp_path):
    """anvil's pool was seen holding a burst's transactions as "queued" although the chain had
    reached their nonce: nothing mined them and the same bytes were refused as "already
    imported". Made here on purpose (the predecessor leaves the pool and its nonce is used behind
    the pool's back). The sender frees them (dev chains only) and sends the same bytes."""
    rpc.call("evm_setAutomine", [False])
    nonce = int(rpc.call("eth_getTransactionCount", [key.address, "latest"]), 16)
    blocker = key.sign_transaction(
        {
            "to": key.address,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": nonce,
            "chainId": 31337,
        }
    )
    blocker_hash = rpc.call("eth_sendRawTransaction", [blocker.raw_transaction.to_0x_hex()])
    # The first check comes 1.5 s after the broadcast: time to make the wedge and look at it.
    sender = Sender(rpc, key, journal=tmp_path / "j.sqlite", drop_check_after=1.5)
    ops = record_ops(oplog, "wedge", 1)
    worker, result = _submit_until_broadcast(sender, ops, "wedge-0")
    signed = sender.outcome("wedge-0")
    assert signed is not None and signed.nonce == nonce + 1
    # The pool forgets both, takes ours back alone (queued: its predecessor is missing), and the
    # chain's nonce moves past the predecessor without the pool noticing.
    raw = sqlite3.connect(tmp_path / "j.sqlite").execute("SELECT raw_tx FROM ops").fetchone()[0]
    rpc.call("anvil_removePoolTransactions", [key.address])
    assert rpc.call("eth_getTransactionByHash", [blocker_hash]) is None
    rpc.call("eth_sendRawTransaction", [raw])
    rpc.call("anvil_setNonce", [key.address, hex(nonce + 1)])
    rpc.call("evm_setAutomine", [True])
    rpc.call("evm_mine")
    # Wedged: queued at the chain's nonce, not mined, and the same bytes refused.
    assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x1"}
    assert int(rpc.call("eth_getTransactionCount", [key.address, "latest"]), 16) == nonce + 1
    with pytest.raises(RpcError, match="already imported"):
        rpc.call("eth_sendRawTransaction", [raw])
    worker.join(10)
    (outcome,) = result["out"]  # type: ignore[misc]
    assert (outcome.ok, outcome.nonce, outcome.tx_hash) == (True, nonce + 1, signed.tx_hash)
    assert outcome.resent >= 1
    _assert_exactly_once(rpc, oplog, ops)


def test_reorg_after_settlement_is_noticed_and_reconfirmed(rpc, oplog, key, tmp_path):
    sender = Sender(rpc, key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "reorg", 3)  # at most 3 blocks, whatever anvil batches
    start = int(rpc.call("eth_blockNumber"), 16)
    before = sender.submit(ops)
    assert all(o.ok for o in before)
    mined_block = before[-1].block
    depth = int(rpc.call("eth_blockNumber"), 16) - start  # the blocks holding our transactions
    assert 1 <= depth <= 3
    rpc.call("anvil_reorg", [depth, []])  # replace them: our transactions fall out
    assert op_count(rpc, oplog) < 3
    after = sender.reconfirm([op.op_id for op in ops])
    assert all(o.ok for o in after)
    assert any(o.reorged for o in after)
    assert [o.tx_hash for o in after] == [o.tx_hash for o in before]  # same bytes, same nonces
    assert any(o.block != mined_block for o in after)
    _assert_exactly_once(rpc, oplog, ops)


def test_node_killed_mid_batch_and_restarted_loses_and_doubles_nothing(devnet, rpc, oplog, key, tmp_path):
    sender = Sender(
        RpcClient(devnet.rpc_url, timeout=2, retries=1, backoff=0.05),
        key,
        journal=tmp_path / "j.sqlite",
        receipt_timeout=5,
    )
    warmup = record_ops(oplog, "warm", 20)
    sender.submit(warmup)
    time.sleep(2.5)  # let anvil snapshot the warm-up
    ops = record_ops(oplog, "kill", 400)
    errors: list[Exception] = []

    def run() -> None:
        try:
            sender.submit(ops, chunk=25)
        except SendIncomplete as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 20
    while op_count(rpc, oplog) < 40:  # part of the batch is in
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(devnet.status().pid or 0, signal.SIGKILL)
    worker.join(60)
    devnet.up()  # restarts from the last snapshot: some mined blocks may be gone
    done = Sender(RpcClient(devnet.rpc_url), key, journal=tmp_path / "j.sqlite").submit([*warmup, *ops])
    assert all(o.ok for o in done)
    fresh = RpcClient(devnet.rpc_url)
    _assert_exactly_once(fresh, oplog, [*warmup, *ops])
    if errors:
        assert "none will be sent twice" in str(errors[0])


def test_rpc_reply_lost_after_node_accepted_is_not_resent_twice(proxy, rpc, oplog, key, tmp_path):
    proxy.mode = "stall_reply"
    proxy.stall_methods = {"eth_sendRawTransaction"}
    proxy.stall_count = 1
    proxy.stall_seconds = 1.5
    sender = Sender(RpcClient(proxy.url, timeout=0.5, retries=3, backoff=0.05), key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "stall", 30)
    outcomes = sender.submit(ops)
    assert proxy.stalled == 1  # the first broadcast's reply was lost; the retry saw "known"
    assert all(o.ok for o in outcomes)
    _assert_exactly_once(rpc, oplog, ops)


def test_refused_connections_give_clear_error_then_resume(proxy, rpc, oplog, key, tmp_path):
    sender = Sender(RpcClient(proxy.url, timeout=1, retries=2, backoff=0.05), key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "refuse", 20)
    sender.submit(ops[:10])
    proxy.refuse()
    with pytest.raises(SendIncomplete) as info:
        sender.submit(ops)
    assert "no answer from" in str(info.value)
    assert "none will be sent twice" in str(info.value)
    proxy.restore()
    outcomes = sender.submit(ops)
    assert all(o.ok for o in outcomes)
    _assert_exactly_once(rpc, oplog, ops)


def _process_sender(url: str, journal: str, oplog: str, prefix: str) -> None:
    import pathlib
    import traceback

    from careledger.accounts import dev_account

    try:
        Sender(RpcClient(url), dev_account("relayer").account, journal=pathlib.Path(journal)).submit(
            record_ops(oplog, prefix, 25)
        )
    except BaseException:
        pathlib.Path(journal).with_name(f"{prefix}.error").write_text(traceback.format_exc())
        raise


def test_concurrent_senders_from_one_key_never_collide(devnet, rpc, oplog, key, tmp_path):
    journal = tmp_path / "j.sqlite"
    threads = [
        threading.Thread(
            target=lambda p=p: Sender(RpcClient(devnet.rpc_url), key, journal=journal).submit(record_ops(oplog, p, 25))
        )
        for p in ("t0", "t1", "t2", "t3")
    ]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_sender, args=(devnet.rpc_url, str(journal), oplog, p)) for p in ("p0", "p1")]
    for w in [*threads, *procs]:
        w.start()
    for t in threads:
        t.join(180)
    for p in procs:
        p.join(180)
        errors = sorted(journal.parent.glob("*.error"))
        assert p.exitcode == 0, errors[0].read_text() if errors else f"exit code {p.exitcode}"
    all_ops = [op for p in ("t0", "t1", "t2", "t3", "p0", "p1") for op in record_ops(oplog, p, 25)]
    _assert_exactly_once(rpc, oplog, all_ops)
    outcomes = Sender(rpc, key, journal=journal).submit(all_ops)  # nothing left to do, nothing resent
    nonces = sorted(o.nonce for o in outcomes)
    assert nonces == list(range(nonces[0], nonces[0] + 150))


def test_two_transactions_in_one_block_keep_submission_order(rpc, oplog, key, tmp_path):
    rpc.call("evm_setAutomine", [False])
    sender = Sender(rpc, key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "order", 2)
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.extend(sender.submit(ops)))
    worker.start()
    deadline = time.monotonic() + 10
    while int(rpc.call("txpool_status")["pending"], 16) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    rpc.call("evm_mine")
    worker.join(10)
    first, second = out
    assert first.block == second.block  # type: ignore[attr-defined]
    receipts = [rpc.call("eth_getTransactionReceipt", [o.tx_hash]) for o in (first, second)]  # type: ignore[attr-defined]
    assert int(receipts[0]["transactionIndex"], 16) < int(receipts[1]["transactionIndex"], 16)
    orders = [
        int(
            rpc.call(
                "eth_call",
                [
                    {
                        "to": oplog,
                        "data": "0x" + keccak(text="orderOf(bytes32)")[:4].hex() + keccak(text=op.op_id).hex(),
                    },
                    "latest",
                ],
            ),
            16,
        )
        for op in ops
    ]
    assert orders == [1, 2]
