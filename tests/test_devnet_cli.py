"""The devnet and the CLI's contract with users: exit codes, --json, persistence, refusals.

These start real anvil processes (from node_modules/.bin) on free ports in temp folders and
stop them in teardown.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from careledger.devnet import free_port

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parent.parent


class Cli:
    def __init__(self, tmp: Path, port: int) -> None:
        self.rpc = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "CARELEDGER_HOME": str(ROOT),
            "CARELEDGER_DEVNET_DIR": str(tmp / "devnet"),
            "CARELEDGER_DEPLOYMENTS_DIR": str(tmp / "deployments"),
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "careledger.cli", "--rpc", self.rpc, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )

    def json(self, *args: str) -> tuple[int, dict]:
        proc = self("--json", *args)
        return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def cli(tmp_path):
    c = Cli(tmp_path, free_port())
    yield c
    c("devnet", "down")


def test_devnet_up_prints_rpc_and_accounts_as_json(cli):
    code, data = cli.json("devnet", "up")
    assert code == 0
    assert data["running"]
    assert data["rpcUrl"] == cli.rpc
    assert data["chainId"] == 31337
    assert [a["name"] for a in data["accounts"]][:3] == ["admin", "clinic", "lab"]
    code, again = cli.json("devnet", "up")
    assert code == 0
    assert again["alreadyRunning"]
    assert again["pid"] == data["pid"]


def test_deploy_is_idempotent_and_survives_clean_restart(cli):
    assert cli("devnet", "up").returncode == 0
    code, first = cli.json("deploy", "--seed-devnet")
    assert code == 0
    assert "ParticipantDirectory" in first["deployed"]
    assert "pharmacy" in first["seeded"]
    code, second = cli.json("deploy")
    assert code == 0
    assert second["deployed"] == []
    assert "ParticipantDirectory" in second["alreadyPresent"]
    assert cli("devnet", "down").returncode == 0
    assert cli("devnet", "up").returncode == 0
    code, third = cli.json("deploy")
    assert code == 0
    assert third["deployed"] == []
    code, entry = cli.json("directory", "show", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")  # pharmacy
    assert code == 0
    assert entry["roles"] == ["pharmacy"]
    assert entry["suspended"] is False


def test_state_survives_kill_9_after_snapshot(cli):
    code, up = cli.json("devnet", "up")
    assert code == 0
    assert cli("deploy").returncode == 0
    time.sleep(3)  # anvil snapshots its state every 2 s
    os.kill(up["pid"], signal.SIGKILL)
    time.sleep(0.3)
    assert cli("devnet", "up").returncode == 0
    code, again = cli.json("deploy")
    assert code == 0
    assert again["deployed"] == []


def test_port_taken_refused_with_exit_5(cli):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(cli.rpc.rsplit(":", 1)[1])))
        blocker.listen()
        proc = cli("devnet", "up")
    assert proc.returncode == 5
    assert proc.stderr.strip().startswith("error: port")
    assert "already taken" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_node_unreachable_exit_3(cli):
    proc = cli("directory", "show", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert "no node answers" in proc.stderr


def test_wrong_rpc_url_is_invalid_input(cli):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "careledger.cli",
            "--rpc",
            "ftp://nowhere",
            "directory",
            "show",
            "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        ],
        capture_output=True,
        text=True,
        env=cli.env,
    )
    assert proc.returncode == 2
    assert "must start with http" in proc.stderr


def test_chain_without_suite_exit_4_and_json_error(cli):
    assert cli("devnet", "up").returncode == 0
    proc = cli("--json", "directory", "show", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")
    assert proc.returncode == 4
    err = json.loads(proc.stdout)
    assert err["exitCode"] == 4
    assert err["kind"] == "SuiteNotDeployed"
    assert "careledger deploy" in err["error"]


def test_deployments_file_for_another_chain_refused(cli, tmp_path):
    assert cli("devnet", "up").returncode == 0
    assert cli("deploy").returncode == 0
    cli("devnet", "down")
    # A brand-new chain with the same id (no saved state): the old file must not be trusted.
    (tmp_path / "devnet" / "state.json").unlink()
    assert cli("devnet", "up").returncode == 0
    proc = cli("directory", "show", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")
    assert proc.returncode == 4
    assert "another chain" in proc.stderr


def test_invalid_address_exit_2_before_contacting_node(cli):
    proc = cli("directory", "show", "0x1234")
    assert proc.returncode == 2
    assert "not an Ethereum address" in proc.stderr


def test_refusal_decoded_exit_1(cli):
    assert cli("devnet", "up").returncode == 0
    assert cli("deploy", "--seed-devnet").returncode == 0
    proc = cli("--account", "admin", "directory", "reinstate", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")
    assert proc.returncode == 1
    assert "ParticipantNotSuspended(account=0x14dC79964da2C08b23698B3D3cc7Ca32193d9955)" in proc.stderr
    proc = cli(
        "--account",
        "clinic",
        "--json",
        "directory",
        "suspend",
        "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "--reason",
        "X",
    )
    err = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert err["customError"] == "AccessControlUnauthorizedAccount"


def test_usage_error_exit_2_one_line(cli):
    proc = cli("directory", "frobnicate")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: No such command")
