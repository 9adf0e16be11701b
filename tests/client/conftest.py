"""Fixtures for the client fault tests: a real anvil per test, the OpLog test contract, a sender."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faultproxy import FaultProxy

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.devnet import Devnet, free_port
from careledger.rpc import RpcClient


@pytest.fixture
def devnet(tmp_path) -> Iterator[Devnet]:
    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=True)
    net.up()
    yield net
    net.down()


@pytest.fixture
def rpc(devnet) -> RpcClient:
    return RpcClient(devnet.rpc_url, timeout=5, retries=2, backoff=0.05)


@pytest.fixture
def oplog(devnet) -> str:
    art = load_artifacts()["OpLog"]
    chain = Chain(connect(devnet.rpc_url), ErrorDecoder.from_abis([art.abi])).with_account(dev_account("admin").account)
    receipt = chain.deploy(art.abi, art.bytecode, [], "deploy OpLog")
    return str(receipt["contractAddress"])


@pytest.fixture
def proxy(devnet) -> Iterator[FaultProxy]:
    p = FaultProxy(devnet.rpc_url).start()
    yield p
    p.stop()


@pytest.fixture
def key():
    return dev_account("relayer").account
