"""A devnet is recognised by what it is (the genesis of a chain this project started, or an
explicit --devnet), never by its chain id: an anvil someone else started with chain id 31337 and
the public test mnemonic gets neither the named test keys nor the open-mint test token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import chainclock
import pytest
import requests
from plain_anvil import plain_anvil

from careledger.accounts import dev_account
from careledger.chain import connect
from careledger.devchain import recognise, registry_dir
from careledger.devnet import GENESIS_TIMESTAMP_ENV, Devnet, free_port

pytestmark = pytest.mark.devnet

ROOT = Path(__file__).resolve().parent.parent
ADMIN = dev_account("admin")


def _cli(rpc: str, tmp: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CARELEDGER_HOME": str(ROOT), "CARELEDGER_DEPLOYMENTS_DIR": str(tmp / "deployments")}
    env.pop("CARELEDGER_DEVNET", None)
    env.pop("CARELEDGER_PRIVATE_KEY", None)
    if key:
        env["CARELEDGER_PRIVATE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "careledger.cli", "--rpc", rpc, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _nonce(rpc: str, address: str) -> int:
    reply = requests.post(
        rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [address, "latest"]}
    )
    return int(reply.json()["result"], 16)


@pytest.fixture(scope="module")
def foreign():
    """anvil with chain id 31337, the public mnemonic and the devnet's 12 accounts, not started by
    the project."""
    with plain_anvil("--accounts", "12", chain_id=31337) as url:
        yield url


def test_named_account_refused_on_an_anvil_the_project_did_not_start(foreign, tmp_path):
    proc = _cli(foreign, tmp_path, "--json", "--account", "admin", "deploy")
    assert proc.returncode == 6, proc.stderr
    report = json.loads(proc.stdout)
    assert report["kind"] == "DevnetOnly"
    assert "devnet account names like 'admin'" in report["error"]
    assert "chain 31337 is not one this project started" in report["error"]
    assert _nonce(foreign, ADMIN.address) == 0
    assert not (tmp_path / "deployments").exists()


def test_deployer_held_powers_refused_there_before_anything_is_deployed(foreign, tmp_path):
    """Off a devnet no key may keep the directory's admin powers: a consortium is required."""
    proc = _cli(foreign, tmp_path, "deploy", key=ADMIN.account.key.to_0x_hex())
    assert proc.returncode == 6, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: a suite administered by the deployer's key alone: only for a local devnet")
    assert "pass --consortium FILE" in line
    assert _nonce(foreign, ADMIN.address) == 0
    # The devnet preset (public test keys) is refused there too.
    proc = _cli(foreign, tmp_path, "deploy", "--consortium", "devnet", key=ADMIN.account.key.to_0x_hex())
    assert proc.returncode == 6, proc.stderr
    assert "the devnet consortium" in proc.stderr
    assert _nonce(foreign, ADMIN.address) == 0


def test_test_token_refused_there_before_anything_is_deployed(foreign, tmp_path):
    # A real key (as far as the CLI can tell) and a consortium: the refusal is about the token.
    members = [dev_account(n).address for n in ("clinic", "insurer", "regulator")]
    consortium = tmp_path / "consortium.json"
    consortium.write_text(
        json.dumps(
            {
                "members": members,
                "quorum": 2,
                "emergencyQuorum": 2,
                "delaySeconds": 86400,
                "votingPeriodSeconds": 604800,
            }
        )
    )
    proc = _cli(foreign, tmp_path, "deploy", "--consortium", str(consortium), key=ADMIN.account.key.to_0x_hex())
    assert proc.returncode == 6, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: the open-mint test token (DevnetTestUSD): only for a local devnet")
    assert "set CARELEDGER_PAYMENT_TOKEN" in line
    assert _nonce(foreign, ADMIN.address) == 0  # not one contract deployed
    assert not (tmp_path / "deployments").exists()


def test_declared_devnet_gets_keys_and_token_and_nothing_else_does(foreign, tmp_path):
    proc = _cli(foreign, tmp_path, "--json", "--devnet", "--account", "admin", "deploy")
    assert proc.returncode == 0, proc.stderr
    assert "DevnetTestUSD" in json.loads(proc.stdout)["deployed"]
    # The declaration holds for that command only: minting the test token without it is refused.
    insurer = dev_account("insurer").account.key.to_0x_hex()
    proc = _cli(foreign, tmp_path, "claims", "fund", "1", "100", "--mint", key=insurer)
    assert proc.returncode == 6, proc.stderr
    assert "test tokens: only for a local devnet" in proc.stderr


def test_project_devnet_is_recognised_until_it_is_gone(foreign, tmp_path):
    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    net.up()
    try:
        w3 = connect(net.rpc_url)
        genesis = w3.eth.get_block(0)["hash"].to_0x_hex()
        assert (tmp_path / "devnet" / "genesis").read_text().strip() == genesis
        assert recognise(w3)
        assert not recognise(connect(foreign))  # same chain id, same mnemonic, another genesis
        assert list(registry_dir().glob(f"{genesis[2:]}.*.json"))
    finally:
        net.down()
    # An ephemeral devnet's chain died with it: its record is gone, nothing can claim its genesis.
    others = [p for p in registry_dir().glob(f"{genesis[2:]}.*.json") if str(tmp_path) in p.read_text()]
    assert others == []


def test_project_devnet_accepts_named_accounts(tmp_path):
    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    net.up()
    try:
        proc = _cli(net.rpc_url, tmp_path, "--json", "--account", "admin", "deploy")
        assert proc.returncode == 0, proc.stderr
        assert "DevnetTestUSD" in json.loads(proc.stdout)["deployed"]
    finally:
        net.down()


def test_web_client_offers_test_keys_only_on_a_devnet_the_project_started(foreign, tmp_path, monkeypatch):
    """frontend/generate.py lists the genesis of each deployed chain that is a project devnet; the
    page (frontend/src/chain.js usesDevnetKeys) offers the public keys only on those. A chain with
    the devnet's chain id that the project did not start is not listed."""
    # A genesis of its own: devnets elsewhere in the session share the pinned one.
    monkeypatch.setenv(GENESIS_TIMESTAMP_ENV, str(chainclock.PINNED_GENESIS - 7 * 86_400))
    sys.path.insert(0, str(ROOT / "frontend"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "frontend"))

    def genesis(url: str) -> str:
        return str(connect(url).eth.get_block(0)["hash"].to_0x_hex())

    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    net.up()
    try:
        ours, theirs = genesis(net.rpc_url), genesis(foreign)
        assert ours != theirs
        deps = {"31337": {"genesisHash": ours}, "1337": {"genesisHash": theirs}}
        assert generate.dev_genesis(deps) == [ours]
        assert generate.config(deps)["devGenesis"] == [ours]
        assert "devChainId" not in generate.config(deps)
    finally:
        net.down()
    assert generate.dev_genesis(deps) == [], "a stopped ephemeral devnet is no longer a devnet"
