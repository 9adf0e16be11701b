"""No health data on chain: the scanner finds planted PHI everywhere it could hide, and finds
none of the demo's PHI after the whole demo has run."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from rich.console import Console

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.audit import scan_chain
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.demo.phi import DEMO_PHI
from careledger.demo.runner import run_demo
from careledger.devnet import Devnet
from careledger.rpc import RpcClient

pytestmark = pytest.mark.devnet


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_scanner_finds_planted_phi_in_calldata_event_and_storage(tmp_path: Path):
    net = Devnet(folder=tmp_path, port=_free_port(), persist=False)
    net.up()
    try:
        art = load_artifacts()["ToolchainProbe"]
        chain = Chain(connect(net.rpc_url), ErrorDecoder.from_abis([art.abi])).with_account(
            dev_account("admin").account
        )
        probe = chain.contract(chain.deploy(art.abi, art.bytecode, [], "deploy")["contractAddress"], art.abi)
        planted = int.from_bytes(DEMO_PHI["date_of_birth"].encode().ljust(32, b"\0"), "big")
        chain.send(probe.functions.set(planted), "plant")
        report = scan_chain(RpcClient(net.rpc_url), DEMO_PHI)
    finally:
        net.down()
    places = {hit.where.split()[0] for hit in report.hits if hit.label == "date_of_birth"}
    assert places == {"calldata", "event", "storage"}
    assert {hit.label for hit in report.hits} == {"date_of_birth"}


def test_demo_writes_no_phi_anywhere_on_chain():
    reports = []
    stories = run_demo(
        Console(file=io.StringIO()), inspect=lambda url: reports.append(scan_chain(RpcClient(url), DEMO_PHI))
    )
    assert all(s.ok for s in stories), [st.action for s in stories for st in s.steps if not st.ok]
    (report,) = reports
    assert report.transactions >= 10 and report.logs >= 10 and report.storage_slots >= 10
    assert report.hits == []
