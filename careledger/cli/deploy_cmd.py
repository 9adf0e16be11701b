"""``careledger deploy``: deploy the suite (idempotent) and write deployments/<chainId>.json."""

from __future__ import annotations

import click

from careledger.cli.context import AppContext, pass_app


@click.command()
@click.option("--force", is_flag=True, help="Deploy a new suite even if this chain has one.")
@click.option("--seed-devnet", is_flag=True, help="Also register the devnet cast in the directory.")
@pass_app
def deploy(app: AppContext, force: bool, seed_devnet: bool) -> None:
    """Deploy the CareLedger suite to the chain at --rpc."""
    from careledger.deploy import deploy_suite
    from careledger.seed import seed_directory

    chain = app.signer(default="admin")
    report = deploy_suite(chain, force=force)
    seeded: list[str] = []
    if seed_devnet:
        seeded = seed_directory(chain)
    data = {**report.to_json(), "seeded": seeded}

    def human() -> None:
        if report.already_deployed:
            click.echo(
                f"suite already deployed on chain {report.chain_id}: {', '.join(report.existing)} ({report.path})"
            )
        else:
            click.echo(f"deployed on chain {report.chain_id}: {', '.join(report.deployed) or 'nothing new'}")
            if report.existing:
                click.echo(f"already present: {', '.join(report.existing)}")
            click.echo(f"addresses written to {report.path}")
        if seeded:
            click.echo(f"registered in the directory: {', '.join(seeded)}")

    app.emit(data, human)
