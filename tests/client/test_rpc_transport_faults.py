"""The batching JSON-RPC client and the send path map every transport failure to the exception
tree: bounded retries first, then NodeUnreachable / NodeFailed; a node refusing a transaction is
TransactionRejected (naming it), a chain id that changes behind the URL is ChainChanged."""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from oplog_helpers import op_count, record_ops
from plain_anvil import plain_anvil

from careledger.errors import ChainChanged, NodeFailed, NodeUnreachable, TransactionRejected
from careledger.rpc import RpcClient
from careledger.sender import Sender

pytestmark = pytest.mark.devnet


def _client(proxy: FaultProxy) -> RpcClient:
    return RpcClient(proxy.url, timeout=1, retries=2, backoff=0.01)


def test_rate_limit_is_retried_then_answered(proxy):
    proxy.inject("http", status=429, count=2)
    assert int(_client(proxy).call("eth_chainId"), 16) == 31337
    assert proxy.faulted == 2


@pytest.mark.parametrize(
    ("fault", "status", "error", "words"),
    [
        ("http", 429, NodeFailed, "keeps answering HTTP 429 (rate-limited), 3 attempts"),
        ("http", 502, NodeFailed, "answered HTTP 502"),
        ("not_json", 0, NodeFailed, "not JSON-RPC"),
        ("reset", 0, NodeUnreachable, "connection reset"),
    ],
)
def test_persistent_failure_after_retries(proxy, fault, status, error, words):
    proxy.inject(fault, status=status)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        _client(proxy).call("eth_blockNumber")


def test_malformed_replies_to_a_call_and_a_batch(proxy):
    proxy.inject("no_result")
    rpc = _client(proxy)
    with pytest.raises(NodeFailed, match="answered eth_blockNumber with a malformed JSON-RPC reply"):
        rpc.call("eth_blockNumber")
    with pytest.raises(NodeFailed, match="answered a batch of 2 requests with a malformed reply"):
        rpc.batch([("eth_blockNumber", []), ("eth_chainId", [])])


def test_refused_transaction_is_named_and_finished_later_exactly_once(proxy, rpc, oplog, key, tmp_path):
    sender = Sender(_client(proxy), key, journal=tmp_path / "j.sqlite")
    ops = record_ops(oplog, "refused", 3)
    proxy.inject("rpc_error", methods={"eth_sendRawTransaction"}, message="insufficient funds for gas * price + value")
    with pytest.raises(
        TransactionRejected, match=r"refused transaction 0x[0-9a-f]{64} \(operation 'refused-0'"
    ) as info:
        sender.submit(ops)
    assert info.value.tx_hash == sender.outcome("refused-0").tx_hash  # type: ignore[union-attr]
    assert op_count(rpc, oplog) == 0
    proxy.inject("")  # the node takes them again: the journalled transactions land, once each
    assert all(o.ok for o in sender.submit(ops))
    assert op_count(rpc, oplog) == 3


def test_chain_changing_behind_the_url_stops_the_sender(proxy, oplog, key, tmp_path):
    sender = Sender(_client(proxy), key, journal=tmp_path / "j.sqlite")
    with plain_anvil(chain_id=31338) as other:
        proxy.inject("switch", methods={"eth_sendRawTransaction"}, switch_to=other)
        with pytest.raises(ChainChanged, match="is now chain 31338, not chain 31337"):
            sender.submit(record_ops(oplog, "moved", 1))
