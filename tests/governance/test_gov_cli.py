"""`careledger deploy --consortium devnet` and `careledger gov` end to end on a real anvil: after
deploy no externally owned account holds a power; one member's key decides nothing; a quorum
registers after the delay; the emergency quorum suspends at once and cancels an ordinary decision
during its delay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from careledger.accounts import dev_account
from careledger.devnet import free_port

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parents[2]
NEWCOMER = "0x000000000000000000000000000000000000c0de"


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.rpc = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "CARELEDGER_HOME": str(ROOT),
            "CARELEDGER_DEVNET_DIR": str(tmp / "devnet"),
            "CARELEDGER_DEPLOYMENTS_DIR": str(tmp / "deployments"),
        }
        self.env.pop("CARELEDGER_PRIVATE_KEY", None)

    def __call__(self, *args: str, account: str | None = None) -> subprocess.CompletedProcess[str]:
        who = ["--account", account] if account else []
        return subprocess.run(
            [sys.executable, "-m", "careledger.cli", "--rpc", self.rpc, *who, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )

    def json(self, *args: str, account: str | None = None, code: int = 0) -> dict:
        proc = self("--json", *args, account=account)
        assert proc.returncode == code, proc.stderr + proc.stdout
        return json.loads(proc.stdout)

    def rpc_call(self, method: str, params: list) -> object:
        reply = requests.post(
            self.rpc, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
        )
        return reply.json()["result"]

    def travel(self, seconds: int) -> None:
        self.rpc_call("evm_increaseTime", [seconds])
        self.rpc_call("evm_mine", [])


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("gov"))
    assert c("devnet", "up").returncode == 0
    deployed = c.json("deploy", "--seed-devnet", "--consortium", "devnet")
    assert {"ConsortiumCouncil", "EmergencyCouncil", "ConsortiumTimelock"} <= set(deployed["deployed"])
    assert deployed["consortium"]["quorum"] == 2
    c.travel(1)  # a member's vote counts from the second after its admission
    yield c
    c("devnet", "down")


def _code(cli: Cli, address: str) -> str:
    return str(cli.rpc_call("eth_getCode", [address, "latest"]))


def _pass(cli: Cli, proposal: str, voters: tuple[str, ...]) -> None:
    cli.travel(1)  # votes count from the second after the proposal
    for voter in voters:
        cli.json("gov", "approve", proposal, account=voter)


def test_after_deploy_no_externally_owned_account_holds_a_power(cli):
    status = cli.json("gov", "status")
    holders = [a for roles in status["roles"].values() for accounts in roles.values() for a in accounts]
    assert holders, status
    # Every holder is a contract (the timelock, the councils) or the open executor role (zero).
    for account in holders:
        assert account == "0x" + "00" * 20 or _code(cli, account) not in ("0x", ""), (account, status)
    admin = dev_account("admin").address
    assert admin not in holders
    refused = cli(
        "directory", "register", NEWCOMER, "provider", "--credential", "NPI-1", account="admin"
    )  # the deployer's key is an ordinary key now
    assert refused.returncode == 1 and "AccessControlUnauthorizedAccount" in refused.stderr


def test_one_member_cannot_register_a_quorum_can_after_the_delay(cli):
    proposed = cli.json(
        "gov", "propose", "register", NEWCOMER, "provider", "--credential", "NPI-9", "--salt", "0x01", account="clinic"
    )
    assert proposed["council"] == "ordinary"
    pid = proposed["proposalId"]
    _pass(cli, pid, ("clinic",))
    early = cli("gov", "execute", pid, account="clinic")
    assert early.returncode == 2 and "1 of 2 votes for" in early.stderr, early.stderr
    cli.json("gov", "approve", pid, account="insurer")
    assert cli.json("gov", "execute", pid, account="clinic")["done"] == "queued"
    waiting = cli("gov", "execute", pid, account="clinic")
    assert waiting.returncode == 2 and "in its delay" in waiting.stderr
    cli.travel(60)
    done = cli.json("gov", "execute", pid, account="lab")  # anyone may run a ready decision
    assert done["done"] == "executed" and done["state"] == "executed"
    shown = cli.json("directory", "show", NEWCOMER)
    assert shown["roles"] == ["provider"] and not shown["suspended"]


def test_emergency_quorum_suspends_at_once(cli):
    pharmacy = dev_account("pharmacy").address
    proposed = cli.json("gov", "propose", "suspend", pharmacy, "--reason", "LICENCE-LAPSED", account="regulator")
    assert proposed["council"] == "emergency"
    pid = proposed["proposalId"]
    _pass(cli, pid, ("regulator",))
    assert cli("gov", "execute", pid, account="regulator").returncode == 2
    cli.json("gov", "approve", pid, account="clinic")
    assert cli.json("gov", "execute", pid, account="regulator")["done"] == "executed"
    assert cli.json("directory", "show", pharmacy)["suspended"]


def test_ordinary_decision_cancelled_during_its_delay(cli):
    lab = dev_account("lab").address
    pid = cli.json("gov", "propose", "set-roles", lab, "provider,relayer", account="insurer")["proposalId"]
    _pass(cli, pid, ("insurer", "clinic"))
    cli.json("gov", "execute", pid, account="insurer")  # queued
    cancel = cli.json("gov", "propose", "cancel", pid, account="regulator")
    assert cancel["council"] == "emergency"
    _pass(cli, cancel["proposalId"], ("regulator", "clinic"))
    cli.json("gov", "execute", cancel["proposalId"], account="regulator")
    listed = {p["proposalId"]: p for p in cli.json("gov", "list")}
    assert listed[pid]["state"] == "canceled"
    cli.travel(60)
    assert cli("gov", "execute", pid, account="insurer").returncode == 2
    assert cli.json("directory", "show", lab)["roles"] == ["provider"]


def test_a_non_member_cannot_propose_and_bad_input_is_one_line(cli):
    refused = cli("gov", "propose", "reinstate", NEWCOMER, account="lab")
    assert refused.returncode == 1 and "GovernorInsufficientProposerVotes" in refused.stderr
    bad = cli("gov", "approve", "not-a-number", account="clinic")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    unknown = cli("gov", "approve", "12345", account="clinic")
    assert unknown.returncode == 2 and "no proposal" in unknown.stderr


def test_emergency_pause_and_ordinary_resume(cli):
    clinic = dev_account("clinic").address
    proposed = cli.json("gov", "propose", "pause", "consent", account="regulator")
    assert proposed["council"] == "emergency"
    _pass(cli, proposed["proposalId"], ("regulator", "insurer"))
    cli.json("gov", "execute", proposed["proposalId"], account="regulator")
    assert cli.json("gov", "status")["paused"] == {"consent": True, "provenance": False, "claims": False}
    grant = ("consent", "grant", clinic, "--categories", "observation", "--purposes", "TREAT", "--days", "1")
    refused = cli(*grant, account="patient")
    assert refused.returncode == 1 and "EnforcedPause" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    resume = cli.json("gov", "propose", "unpause", "consent", account="clinic")
    assert resume["council"] == "ordinary"  # resuming waits for the delay everyone can watch
    _pass(cli, resume["proposalId"], ("clinic", "insurer"))
    assert cli.json("gov", "execute", resume["proposalId"], account="clinic")["done"] == "queued"
    cli.travel(60)
    cli.json("gov", "execute", resume["proposalId"], account="clinic")
    assert not cli.json("gov", "status")["paused"]["consent"]
    assert cli(*grant, account="patient").returncode == 0
