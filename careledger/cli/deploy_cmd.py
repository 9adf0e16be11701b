"""``careledger deploy``: deploy the suite (idempotent) and write deployments/<chainId>.json."""

from __future__ import annotations

import click

from careledger.cli.context import AppContext, pass_app


@click.command()
@click.option("--force", is_flag=True, help="Deploy a new suite even if this chain has one.")
@click.option("--seed-devnet", is_flag=True, help="Also register the devnet cast in the directory.")
@click.option(
    "--consortium",
    "consortium_file",
    default=None,
    metavar="FILE|devnet",
    help="Hand every admin power to the consortium described in FILE (required off a devnet); "
    "'devnet' is the demo's 2-of-3 consortium (clinic, insurer, regulator).",
)
@pass_app
def deploy(app: AppContext, force: bool, seed_devnet: bool, consortium_file: str | None) -> None:
    """Deploy the CareLedger suite to the chain at --rpc."""
    from careledger.deploy import deploy_suite
    from careledger.governance.consortium import establish, resolve
    from careledger.seed import seed_directory

    chain = app.signer(default="admin")
    # Checked before anything is sent: off a devnet no key may keep the directory's powers.
    config = resolve(chain, consortium_file)
    report = deploy_suite(chain, force=force)
    seeded: list[str] = []
    if seed_devnet:
        seeded = seed_directory(chain)
    if config is not None:
        gov_report = establish(chain, config)
        report.deployed += gov_report.deployed
        report.existing += gov_report.existing
        report.actions += gov_report.actions
    data = {**report.to_json(), "seeded": seeded, "consortium": config.to_json() if config else None}

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
        if config is not None:
            click.echo(
                f"governed by a {config.quorum}-of-{len(config.members)} council (delay {config.delay} s) and a "
                f"{config.emergency_quorum}-of-{len(config.members)} emergency council; the deployer holds no role"
            )

    app.emit(data, human)
