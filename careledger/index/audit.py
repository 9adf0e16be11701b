"""The index held to the chain, for the demo and random-run audits: index a chain from scratch
into a throwaway SQLite store (small ranges, so the follower's range logic is exercised), derive
every domain's state from the stored events, and compare it with on-chain reads through the
domains' own ``verify`` (the code :func:`careledger.indexer.check` runs)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from web3 import Web3

from careledger.artifacts import load_artifacts
from careledger.deployments import Deployment
from careledger.index.derived import check_index, derive
from careledger.index.follower import Follower
from careledger.index.store import open_store
from careledger.rpc import RpcClient

__all__ = ["index_audit"]


def index_audit(rpc_url: str, w3: Web3, deployment: Deployment, *, max_range: int = 25) -> dict[str, Any]:
    """``{"states", "diffs", "events", "ranges"}`` of a fresh index of the chain at ``rpc_url``."""
    artifacts = load_artifacts()
    with tempfile.TemporaryDirectory(prefix="careledger-index-audit-") as tmp:
        store = open_store(Path(tmp) / "index.sqlite")
        try:
            follower = Follower(RpcClient(rpc_url), store, deployment, artifacts, max_range=max_range)
            report = follower.sync()
            states = derive(store, follower.decoder)
            diffs = check_index(w3, store, follower.decoder, deployment, artifacts)
        finally:
            store.close()
    return {"states": states, "diffs": diffs, "events": report.events, "ranges": report.ranges}
