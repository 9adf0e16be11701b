"""``ape run deploy [--network ...]``: deploy the CareLedger suite with Ape's provider.

The work is done by the SDK (``careledger.deploy.deploy_suite``), the same code
``careledger deploy`` runs, so both write the same ``deployments/<chainId>.json`` and both skip
contracts the chain already has. On a local network the deployer is Ape's first test account
(the devnet admin); elsewhere set CARELEDGER_DEPLOYER_KEY. Ape's in-process test chain is a
throwaway devnet by construction (this process started it), so the claims plug-in may deploy the
test token there; any other network is judged by :mod:`careledger.devchain` (never by chain id).
Off a devnet the deployer may not keep the directory's powers: set CARELEDGER_CONSORTIUM to a
consortium file (docs/governance.md), as ``careledger deploy --consortium`` takes it.
"""

from __future__ import annotations

import os

import click
from ape import accounts, networks

from careledger.deploy import deploy_suite, suite_chain
from careledger.governance.consortium import establish, resolve


def main() -> None:
    provider = networks.provider
    if provider.network.name == "local":
        key = accounts.test_accounts[0].private_key
    else:
        key = os.environ.get("CARELEDGER_DEPLOYER_KEY", "")
        if not key:
            raise click.ClickException("set CARELEDGER_DEPLOYER_KEY to deploy on a non-local network")
    # Ape's embedded chain (eth-tester, provider "test") lives in this process: nobody else's.
    chain = suite_chain(provider.web3, key, devnet=True if provider.name == "test" else None)
    config = resolve(chain, os.environ.get("CARELEDGER_CONSORTIUM") or None)
    report = deploy_suite(chain)
    if config is not None:
        report.deployed += establish(chain, config).deployed
    if report.already_deployed:
        click.echo(f"suite already deployed on chain {report.chain_id}: {', '.join(report.existing)}")
    else:
        click.echo(f"deployed on chain {report.chain_id}: {', '.join(report.deployed)}")
    click.echo(f"addresses in {report.path}")
