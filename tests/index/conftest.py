"""Fixtures of the index tests: one seeded random run (tests/random_run.py: every kind of action
of every domain, through the SDK clients) on a fresh devnet, kept for the whole session, and a
way to index a chain into a throwaway SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import chainclock
import pg_cluster
import pytest
import random_run
from index_fixtures import Run
from random_run import RandomRun

from bench.harness import fresh_suite
from careledger.index.follower import Follower
from careledger.index.store import Store

START = chainclock.parse_instant("2028-03-01T08:00:00Z")
STEPS = random_run.STEPS  # 800 actions: every kind, in every domain


@pytest.fixture(scope="session")
def random_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = Path(tmp_path_factory.mktemp("index-run"))
    with fresh_suite(tmp, genesis_timestamp=START, block_interval=1) as env:
        run = RandomRun(env.w3, env.deployment, env.artifacts, tmp / "off-chain", seed=8)
        run.setup()
        run.run(STEPS)
        yield Run(env.rpc, env.w3, env.deployment, env.artifacts, tmp, run)


@pytest.fixture(scope="session")
def indexed(random_chain: Run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Follower]:
    """The random run indexed once into SQLite."""
    return random_chain.index(Path(tmp_path_factory.mktemp("index-db")) / "index.sqlite")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (tests/pg_cluster.py); the tests that need it skip, saying
    why, where it cannot be had."""
    with pg_cluster.cluster("careledger-pg-", "the index tests") as url:
        yield url
