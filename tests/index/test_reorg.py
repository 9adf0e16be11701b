"""Reorgs, played with anvil snapshots and reverts: the index rolls back to the common ancestor
(found by block hash, whether the new chain is longer than, as long as or shorter than the old
one), re-indexes the new branch, and never serves a block the chain no longer has: the tip check
every answer runs rolls a stale branch back before answering."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness import fresh_suite
from careledger.abi import ErrorDecoder
from careledger.accounts import dev_account
from careledger.chain import Chain
from careledger.directory.client import DirectoryClient
from careledger.index.derived import check_index, derive
from careledger.index.follower import Follower
from careledger.index.reports.custody import regulator_view
from careledger.index.service import IndexService
from careledger.index.store import open_store
from careledger.indexer import replay
from careledger.rpc import RpcClient

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory):
    with fresh_suite(Path(tmp_path_factory.mktemp("reorg"))) as env:
        yield env


def admin_on(suite, journal: Path) -> DirectoryClient:
    """The registrar sending through a journal of its own. Each branch of a played reorg gets one,
    so the sends of a branch the test reverts go with it: through one journal, the sender would
    re-send a mined transaction the chain lost once the branch is gone (its rule for reorgs,
    careledger/sender.py), and the abandoned branch's suspension would land on the new one."""
    decoder = ErrorDecoder.from_abis(suite.artifacts.all_abis())
    chain = Chain(suite.w3, decoder, journal=journal).with_account(dev_account("admin").account)
    return DirectoryClient(chain, suite.deployment)


def suspended(svc: IndexService) -> list[str]:
    return [i["account"] for i in regulator_view(svc).items if i["kind"] == "ParticipantSuspended"]


@pytest.mark.parametrize(("old_blocks", "new_blocks"), [(3, 5), (3, 3), (4, 2)], ids=["longer", "same", "shorter"])
def test_reorg_rolls_back_to_the_common_ancestor(suite, tmp_path: Path, old_blocks: int, new_blocks: int):
    rpc = RpcClient(suite.rpc)
    store = open_store(tmp_path / "reorg.sqlite")
    follower = Follower(rpc, store, suite.deployment, suite.artifacts, max_range=2)
    svc = IndexService(store, suite.deployment, suite.artifacts, rpc)
    follower.sync()
    base = store.cursor()
    assert base is not None
    outer = rpc.call("evm_snapshot")  # a revert uses its snapshot up: this one restores the suite
    snapshot = rpc.call("evm_snapshot")
    try:
        old, new = dev_account("clinic").address, dev_account("lab").address
        admin_on(suite, tmp_path / "old-branch.sqlite").suspend(old, "OLD-BRANCH")
        for _ in range(old_blocks - 1):
            rpc.call("evm_mine")
        follower.sync()
        assert suspended(svc) == [old]
        assert rpc.call("evm_revert", [snapshot])
        admin_on(suite, tmp_path / "new-branch.sqlite").suspend(new, "NEW-BRANCH")
        for _ in range(new_blocks - 1):
            rpc.call("evm_mine")
        # Before any sync: the answer must not include the block the chain no longer has.
        assert suspended(svc) == []
        assert follower.report.reorgs or store.cursor() == base
        rolled = store.cursor()
        assert rolled is not None and rolled.block <= base.block
        follower.sync()
        assert suspended(svc) == [new]
        assert store.events(names=["ParticipantSuspended"])[0].args["reasonCode"].startswith("0x4e45572d")  # NEW-
        want = replay(rpc, suite.deployment, suite.artifacts)
        assert derive(store, follower.decoder) == want
        assert not any(check_index(suite.w3, store, follower.decoder, suite.deployment, suite.artifacts).values())
    finally:
        rpc.call("evm_revert", [outer])


def test_a_reorg_under_a_derived_snapshot_drops_the_snapshot(suite, tmp_path: Path):
    rpc = RpcClient(suite.rpc)
    store = open_store(tmp_path / "snap.sqlite")
    follower = Follower(rpc, store, suite.deployment, suite.artifacts)
    follower.sync()
    outer = rpc.call("evm_snapshot")  # a revert uses its snapshot up: this one restores the suite
    snapshot = rpc.call("evm_snapshot")
    try:
        admin_on(suite, tmp_path / "gone-branch.sqlite").suspend(dev_account("clinic").address, "GONE")
        follower.sync()
        top = store.cursor()
        assert top is not None
        derive(store, follower.decoder)
        assert store.latest_state("directory", top.block) == store.latest_state("directory", 10**12)
        rpc.call("evm_revert", [snapshot])
        rpc.call("evm_mine")
        rpc.call("evm_mine")
        follower.sync()
        assert follower.report.reorgs
        assert all(s is None or s[0] < top.block for s in [store.latest_state("directory", top.block - 1)])
        state = derive(store, follower.decoder)
        assert state == replay(rpc, suite.deployment, suite.artifacts)
        assert not any(p["suspended"] for p in state["directory"]["participants"].values())
    finally:
        rpc.call("evm_revert", [outer])
