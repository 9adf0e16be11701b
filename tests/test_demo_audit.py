"""The whole demo, audited: it behaves as every story expects, writes no health data anywhere on
chain (the scanner is first shown to find planted PHI in calldata, events and storage), and the
event log alone rebuilds every contract's state."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.audit import scan_chain
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.demo.phi import DEMO_PHI
from careledger.demo.runner import run_demo
from careledger.deployments import load_deployment
from careledger.devnet import Devnet, free_port
from careledger.indexer import check, replay
from careledger.rpc import RpcClient

pytestmark = pytest.mark.devnet


def test_scanner_finds_planted_phi_in_calldata_event_and_storage(tmp_path: Path):
    net = Devnet(folder=tmp_path, port=free_port(), persist=False)
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


@pytest.fixture(scope="module")
def audited_demo():
    """Run the demo once; before its devnet stops, scan it for PHI and replay its logs."""
    found: dict[str, object] = {}

    def inspect(url: str) -> None:
        rpc = RpcClient(url)
        w3 = connect(url)
        deployment = load_deployment(w3)
        found["phi"] = scan_chain(rpc, DEMO_PHI)
        found["states"] = replay(rpc, deployment, load_artifacts())
        found["diffs"] = check(w3, rpc, deployment, load_artifacts())

    stories = run_demo(Console(file=io.StringIO()), inspect=inspect)
    return stories, found


def test_demo_every_step_as_expected(audited_demo):
    stories, _ = audited_demo
    assert [st.action for s in stories for st in s.steps if not st.ok] == []


def test_demo_writes_no_phi_anywhere_on_chain(audited_demo):
    _, found = audited_demo
    report = found["phi"]
    assert report.transactions >= 10 and report.logs >= 10
    assert report.storage_slots >= 10
    assert report.hits == []


def test_event_log_rebuilds_every_contract_state(audited_demo):
    _, found = audited_demo
    states = found["states"]
    assert "directory" in states and len(states["directory"]["participants"]) >= 9
    assert {"consent", "provenance", "claims"} <= set(states)
    assert len(states["provenance"]["batches"]) >= 2 and len(states["provenance"]["units"]) >= 3
    assert len(states["consent"]["consents"]) >= 2 and states["consent"]["accesses"] >= 2
    assert found["diffs"] == {domain: [] for domain in states}
