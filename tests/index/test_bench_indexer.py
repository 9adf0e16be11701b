"""The indexer benchmark's synthetic chain (bench/indexer.py) is what it claims: the recorded
logs repeated, each copy with its own identifiers and pseudonyms, served in order with
consistent headers, and indexed by the real follower."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from index_fixtures import Run

from bench import indexer as B
from careledger.index.decode import LogDecoder
from careledger.index.follower import Follower
from careledger.index.service import IndexService
from careledger.index.store import open_store

pytestmark = pytest.mark.devnet


def test_synthetic_chain_repeats_the_recording_with_fresh_keys(random_chain: Run, tmp_path: Path):
    rpc = random_chain.rpc()
    decoder = LogDecoder(random_chain.deployment, random_chain.artifacts)
    logs = rpc.call("eth_getLogs", [{"address": decoder.addresses, "fromBlock": "0x0", "toBlock": "latest"}])
    head = int(rpc.call("eth_blockNumber"), 16)
    template = B.Template(logs, head + 1, random_chain.deployment, random_chain.artifacts)
    node = B.SyntheticNode(template, 3, 1_900_000_000)
    store = open_store(tmp_path / "synthetic.sqlite")
    report = Follower(node, store, random_chain.deployment, random_chain.artifacts, max_range=97).sync()
    assert report.events == 3 * len(template) == store.count_events()
    names = Counter(r.name for r in store.events())
    assert names == Counter({n: 3 * k for n, k in Counter(decoder.row(lg, 0)["name"] for lg in logs).items()})
    claims = [r.args["claimId"] for r in store.events(names=["ClaimSubmitted"])]
    assert len(set(claims)) == len(claims)  # every copy's claims are its own
    patients = {r.args["patient"] for r in store.events(names=["AccessRecorded"])}
    recorded = {decoder.row(lg, 0)["k2"] for lg in logs if decoder.row(lg, 0)["name"] == "AccessRecorded"}
    assert len(patients) == 3 * len(recorded)  # a pseudonym per copy (fewer copies than PERSONS)
    times = [r.ts for r in store.events()]
    assert times == sorted(times)
    timings = B.time_queries(
        IndexService(store, random_chain.deployment, random_chain.artifacts, node), random.Random(1)
    )
    assert set(timings) >= {"disclosures", "claims_by_insurer_month", "eob", "custody_trail", "regulator_month"}
