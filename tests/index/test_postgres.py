"""The same index in PostgreSQL (a real server: tools/postgres.py starts a throwaway cluster from
Debian's package): migrations, the same rows as SQLite, the same derived state and reports,
rollback in one transaction, and a store claimed by another chain refused."""

from __future__ import annotations

import pytest
from index_fixtures import Run

from careledger.errors import SuiteNotDeployed
from careledger.index.derived import derive
from careledger.index.follower import Follower
from careledger.index.reports import disclosures as D
from careledger.index.service import IndexService
from careledger.index.store import Cursor, open_store
from careledger.indexer import replay

pytestmark = pytest.mark.devnet


def test_postgres_index_equals_the_sqlite_index(random_chain: Run, indexed, postgres_url: str):
    sqlite_store, _ = indexed
    store, follower = random_chain.index(postgres_url, max_range=40)
    assert store.dialect == "postgresql"
    want = [(r.id, r.tx_hash, r.name, r.args) for r in sqlite_store.events()]
    assert [(r.id, r.tx_hash, r.name, r.args) for r in store.events()] == want
    assert derive(store, follower.decoder) == replay(
        random_chain.rpc(), random_chain.deployment, random_chain.artifacts
    )
    svc = IndexService(store, random_chain.deployment, random_chain.artifacts, random_chain.rpc())
    other = IndexService(sqlite_store, random_chain.deployment, random_chain.artifacts, random_chain.rpc())
    patients = sorted({r.args["patient"] for r in sqlite_store.events(names=list(D.EVENTS))})[:3]
    assert D.disclosures(svc, patients, limit=1000).items == D.disclosures(other, patients, limit=1000).items
    # reopening migrates nothing and keeps everything; a rollback is one transaction
    again = open_store(postgres_url)
    assert again.count_events() == len(want)
    [block] = again.blocks_below((want[len(want) // 2][0] >> 20) + 1, 1)  # a stored range end
    again.rollback_to(Cursor(block.number, block.hash))
    assert [r.id for r in again.events()] == [r[0] for r in want if r[0] >> 20 <= block.number]
    Follower(random_chain.rpc(), again, random_chain.deployment, random_chain.artifacts).sync()
    assert [(r.id, r.tx_hash, r.name, r.args) for r in again.events()] == want
    again.set_meta({"chainId": "5"})
    with pytest.raises(SuiteNotDeployed):
        Follower(random_chain.rpc(), again, random_chain.deployment, random_chain.artifacts)
