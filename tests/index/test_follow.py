"""The index follows a chain exactly: it rebuilds what the one-shot replay rebuilds and agrees
with on-chain reads (by the domains' own verify), whatever range limit the node imposes, across
restarts, reorgs (anvil snapshots and reverts), a node that goes away, and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from index_fixtures import Run

from careledger.errors import NodeFailed, NodeUnreachable, SuiteNotDeployed
from careledger.index.derived import check_index, derive
from careledger.index.follower import Follower, is_range_error
from careledger.index.service import IndexService
from careledger.index.store import Store, open_store
from careledger.indexer import replay
from careledger.rpc import RpcClient, RpcError

pytestmark = pytest.mark.devnet


def rows(store: Store) -> list[tuple[Any, ...]]:
    return [(r.id, r.tx_hash, r.contract, r.name, r.ts, r.args) for r in store.events()]


class LimitedNode(RpcClient):
    """A node that refuses ``eth_getLogs`` over more than ``span`` blocks, the way public
    providers do (``style`` picks the wording: a plain limit, or a suggested range)."""

    def __init__(self, url: str, span: int, style: str = "limit") -> None:
        super().__init__(url)
        self.span, self.style, self.refused = span, style, 0

    def call(self, method: str, params: Any = ()) -> Any:
        if method == "eth_getLogs":
            lo, hi = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
            if hi - lo + 1 > self.span:
                self.refused += 1
                if self.style == "suggest":
                    raise RpcError(
                        f"query returned more than 10000 results. Try with this block range [{hex(lo)}, "
                        f"{hex(lo + self.span - 1)}].",
                        -32005,
                    )
                raise RpcError(f"block range is too wide (maximum {self.span} blocks)", -32600)
        return super().call(method, params)


def test_index_rebuilds_what_replay_rebuilds_and_agrees_with_the_chain(random_chain: Run, indexed):
    store, follower = indexed
    want = replay(random_chain.rpc(), random_chain.deployment, random_chain.artifacts)
    got = derive(store, follower.decoder, save=False)
    assert set(want) == {"directory", "consent", "provenance", "claims", "gateway"}
    assert got == want
    assert all(want[d] for d in want), "the run left state in every domain"
    diffs = check_index(random_chain.w3, store, follower.decoder, random_chain.deployment, random_chain.artifacts)
    assert diffs == {d: [] for d in want}
    # every log of every suite contract is stored, once
    logs = random_chain.rpc().call(
        "eth_getLogs", [{"address": follower.decoder.addresses, "fromBlock": "0x0", "toBlock": "latest"}]
    )
    assert store.count_events() == len(logs) > 500


def test_derived_state_snapshots_resume_from_where_they_stopped(random_chain: Run, tmp_path: Path):
    head = random_chain.w3.eth.block_number
    store = open_store(tmp_path / "i.sqlite")
    follower = Follower(random_chain.rpc(), store, random_chain.deployment, random_chain.artifacts)
    follower.sync(until=head // 2)
    derive(store, follower.decoder)  # a snapshot at the half-way cursor
    assert store.latest_state("claims", head) is not None
    follower.sync()
    got = derive(store, follower.decoder)  # from the snapshot plus the second half's events
    assert got == replay(random_chain.rpc(), random_chain.deployment, random_chain.artifacts)


@pytest.mark.parametrize("style", ["limit", "suggest"])
def test_ranges_narrow_to_what_the_node_accepts(random_chain: Run, indexed, tmp_path: Path, style: str):
    node = LimitedNode(random_chain.rpc_url, span=7, style=style)
    store, follower = random_chain.index(tmp_path / "narrow.sqlite", rpc=node, max_range=500)
    assert node.refused > 0 and follower.report.narrowed > 0
    assert rows(store) == rows(indexed[0])


def test_a_node_that_refuses_even_one_block_is_an_error_not_a_gap(random_chain: Run, tmp_path: Path):
    node = LimitedNode(random_chain.rpc_url, span=0)
    with pytest.raises(NodeFailed, match="eth_getLogs"):
        random_chain.index(tmp_path / "zero.sqlite", rpc=node)
    assert open_store(tmp_path / "zero.sqlite").cursor() is None


def test_range_errors_are_recognised_in_the_wordings_providers_use():
    for message, code in [
        ("query returned more than 10000 results", -32005),
        ("exceed maximum block range: 2000", -32000),
        ("eth_getLogs is limited to a 10,000 range", -32600),
        ("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range", -32602),
    ]:
        assert is_range_error(RpcError(message, code))
    assert not is_range_error(RpcError("invalid params: address", -32602))


class FailingNode(RpcClient):
    """A node whose ``eth_getLogs`` fails for good after ``ok`` answers."""

    def __init__(self, url: str, ok: int) -> None:
        super().__init__(url)
        self.ok = ok

    def call(self, method: str, params: Any = ()) -> Any:
        if method == "eth_getLogs":
            if self.ok == 0:
                raise RpcError("internal error", -32603)
            self.ok -= 1
        return super().call(method, params)


def test_ranges_fetched_before_a_node_error_are_written_and_nothing_else(random_chain: Run, indexed, tmp_path: Path):
    """Ranges go to the store in batches; when the node fails in the middle of one, the ranges
    already fetched and checked are written on the way out (exactly them), and a later sync
    goes on from there."""
    path = tmp_path / "failing.sqlite"
    store = open_store(path)
    follower = Follower(
        FailingNode(random_chain.rpc_url, ok=20), store, random_chain.deployment, random_chain.artifacts, max_range=5
    )
    with pytest.raises(NodeFailed, match="internal error"):
        follower.sync()
    cur = store.cursor()
    assert cur is not None and cur.block == follower.decoder.start_block + 20 * 5 - 1
    assert rows(store) == [r for r in rows(indexed[0]) if r[0] >> 20 <= cur.block]
    assert store.block(cur.block) is not None
    random_chain.index(path)
    assert rows(open_store(path)) == rows(indexed[0])


def test_restart_resumes_where_it_stopped(random_chain: Run, indexed, tmp_path: Path):
    head = random_chain.w3.eth.block_number
    path = tmp_path / "resume.sqlite"
    for stop in (head // 3, 2 * head // 3, None):
        store = open_store(path)  # a new process each time: nothing kept in memory
        Follower(random_chain.rpc(), store, random_chain.deployment, random_chain.artifacts, max_range=5).sync(
            until=stop
        )
        store.close()
    assert rows(open_store(path)) == rows(indexed[0])


def test_a_store_built_for_another_chain_or_build_is_refused(random_chain: Run, indexed, tmp_path: Path):
    store, _ = indexed
    other = open_store(tmp_path / "other.sqlite")
    other.set_meta({**store.meta(), "chainId": "1"})
    with pytest.raises(SuiteNotDeployed, match="chain 1"):
        Follower(random_chain.rpc(), other, random_chain.deployment, random_chain.artifacts)
    other.set_meta({**store.meta(), "contracts": "{}"})
    with pytest.raises(SuiteNotDeployed, match="index reset"):
        Follower(random_chain.rpc(), other, random_chain.deployment, random_chain.artifacts)


def test_node_going_away_leaves_the_index_as_it_was(random_chain: Run, indexed, tmp_path: Path):
    path = tmp_path / "away.sqlite"
    store = open_store(path)
    Follower(random_chain.rpc(), store, random_chain.deployment, random_chain.artifacts).sync(
        until=random_chain.w3.eth.block_number // 2
    )
    before = (store.cursor(), rows(store))
    gone = RpcClient("http://127.0.0.1:9", retries=0)  # nothing listens on the discard port
    with pytest.raises(NodeUnreachable):
        Follower(gone, store, random_chain.deployment, random_chain.artifacts).sync()
    assert (store.cursor(), rows(store)) == before
    with pytest.raises(NodeUnreachable):  # no answer without knowing the tip is still on the chain
        IndexService(store, random_chain.deployment, random_chain.artifacts, gone).fresh()
    offline = IndexService(store, random_chain.deployment, random_chain.artifacts, gone, trust_tip=True).fresh()
    assert offline["tipVerified"] is False and offline["block"] == before[0].block
    random_chain.index(path)  # the node is back: the same store catches up
    assert rows(open_store(path)) == rows(indexed[0])


def test_kill_9_while_indexing_leaves_a_consistent_index_that_resumes(random_chain: Run, indexed, tmp_path: Path):
    path = tmp_path / "killed.sqlite"
    env = {**os.environ, "CARELEDGER_RPC": random_chain.rpc_url}  # the deployments dir is the run's
    # One-block ranges, a commit every 5 events: many transaction boundaries to be killed
    # between (the default batch would write this short chain in one transaction).
    cmd = [
        sys.executable,
        "-m",
        "careledger.cli",
        "index",
        "sync",
        "--db",
        str(path),
        "--max-range",
        "1",
        "--batch-events",
        "5",
    ]
    killed_at = []
    for delay in (0.0, 0.2, 0.4):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until it is writing
            if path.exists() and (open_store(path).cursor() or None) is not None:
                break
            time.sleep(0.05)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        store = open_store(path)
        cur = store.cursor()
        assert cur is not None
        killed_at.append(cur.block)
        # consistent: exactly the events of the full index up to the cursor, nothing above it
        want = [r for r in rows(indexed[0]) if r[0] >> 20 <= cur.block]
        assert rows(store) == want
        assert store.block(cur.block) is not None and store.block(cur.block).hash == cur.hash
    assert killed_at[0] < random_chain.w3.eth.block_number, "killed before it finished"
    random_chain.index(path)
    assert rows(open_store(path)) == rows(indexed[0])


def test_the_direct_word_decoder_agrees_with_eth_abi_on_every_event(random_chain: Run, indexed):
    """The indexer reads ABI words itself (eth-abi was most of its time); for every log of the
    run it must give exactly what eth-abi's decoding gives, and what the one-shot replay's
    decoder gives (careledger.indexer._decode) once turned back into Python values."""
    from careledger.abi import event_table
    from careledger.index.decode import LogDecoder
    from careledger.indexer import _decode

    _, follower = indexed
    fast = follower.decoder
    slow = LogDecoder(random_chain.deployment, random_chain.artifacts)
    for table in slow.by_address.values():
        for spec in table.values():
            spec.plan = None  # eth-abi for every event
    tables = {fast.address_of[n].lower(): event_table(n, random_chain.artifacts) for _, n in fast.contracts}
    logs = random_chain.rpc().call(
        "eth_getLogs", [{"address": fast.addresses, "fromBlock": "0x0", "toBlock": "latest"}]
    )
    kinds = set()
    for log in logs:
        row = fast.row(log, 0)
        assert row is not None and row == slow.row(log, 0)
        ev = tables[log["address"].lower()][bytes.fromhex(log["topics"][0][2:])]
        back = fast.decoded(row["contract"], row["name"], json.loads(row["args"]), 0, 0, "", 0).args
        assert back == _decode(ev, log), row["name"]
        kinds.add(row["name"])
    assert len(kinds) > 30
