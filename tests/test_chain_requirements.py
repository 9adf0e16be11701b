"""The chain requirements are stated and checked: the suite needs the Cancun EVM, docs say so,
and `careledger deploy` refuses an older chain (found by a probe, not by chain id) with exit 7
before anything is deployed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.chain import connect
from careledger.devnet import Devnet, free_port
from careledger.evm import NEWER_OPCODES, PROBE_CODE, PROBED, REQUIRED_EVM, newer_opcodes, opcodes, probe_chain

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ROOT / "docs" / "networks.md"


def test_probe_code_runs_each_probed_instruction_then_returns():
    ops = opcodes(bytes.fromhex(PROBE_CODE[2:]))
    names = {NEWER_OPCODES[op][0] for op in ops if op in NEWER_OPCODES}
    assert names == set(PROBED)
    assert ops[-1] == 0xF3  # RETURN


def test_probe_covers_every_newer_instruction_the_build_uses():
    arts = load_artifacts()
    used = newer_opcodes((name, art.bytecode) for name, art in arts.contracts.items())
    assert set(used) <= set(PROBED), f"the build uses {sorted(set(used) - set(PROBED))}, which the probe does not run"
    assert "ClaimSettlement" in used["TSTORE"] and "ClaimSettlement" in used["TLOAD"]
    assert "PUSH0" in used


def test_docs_and_compiler_settings_name_the_same_evm():
    config = yaml.safe_load((ROOT / "ape-config.yaml").read_text())
    assert config["solidity"]["evm_version"] == REQUIRED_EVM
    text = NETWORKS.read_text()
    section = text[text.index("## What a chain must support") :]
    assert "Cancun" in section
    for name in PROBED:
        assert name in section
    assert re.search(r"exit 7", section)


@pytest.mark.devnet
def test_probe_passes_on_the_project_devnet(tmp_path):
    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    net.up()
    try:
        probe_chain(connect(net.rpc_url))
    finally:
        net.down()


@pytest.mark.devnet
@pytest.mark.parametrize(("hardfork", "lacks"), [("shanghai", "Cancun"), ("paris", "PUSH0 (Shanghai)")])
def test_deploy_refuses_an_older_evm_before_deploying_anything(tmp_path, monkeypatch, hardfork, lacks):
    # The project's own devnet (so the named admin key is allowed), on an older EVM.
    monkeypatch.setenv("CARELEDGER_ANVIL_ARGS", f"--hardfork {hardfork}")
    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    net.up()
    try:
        env = {
            **os.environ,
            "CARELEDGER_HOME": str(ROOT),
            "CARELEDGER_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "careledger.cli", "--rpc", net.rpc_url, "--account", "admin", "--json", "deploy"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 7, proc.stderr
        report = json.loads(proc.stdout)
        assert report["kind"] == "ChainUnsupported"
        assert lacks in report["error"] and "need the Cancun EVM" in report["error"]
        reply = requests.post(
            net.rpc_url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_getTransactionCount",
                "params": [dev_account("admin").address, "latest"],
            },
        )
        assert int(reply.json()["result"], 16) == 0  # nothing sent
        assert not (tmp_path / "deployments").exists()
    finally:
        net.down()
