"""Shared types of the index tests (a module of its own: `conftest` is a name every test folder
has, so importing it by name picks whichever folder's came first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from random_run import RandomRun

from careledger.artifacts import Artifacts
from careledger.deployments import Deployment
from careledger.index.follower import Follower
from careledger.index.store import Store, open_store
from careledger.rpc import RpcClient


@dataclass
class Run:
    rpc_url: str
    w3: Any
    deployment: Deployment
    artifacts: Artifacts
    folder: Path
    run: RandomRun

    def rpc(self) -> RpcClient:
        return RpcClient(self.rpc_url)

    def index(self, path: Path | str, **kwargs: Any) -> tuple[Store, Follower]:
        store = open_store(path)
        follower = Follower(kwargs.pop("rpc", None) or self.rpc(), store, self.deployment, self.artifacts, **kwargs)
        follower.sync()
        return store, follower
