"""``careledger devnet up|down|status|accounts``."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from careledger.cli.context import AppContext, pass_app


def _port(app: AppContext) -> int:
    from urllib.parse import urlparse

    return urlparse(app.rpc).port or 8545


@click.group()
def devnet() -> None:
    """The local devnet: anvil on 127.0.0.1 with state kept in .devnet/."""


@devnet.command()
@click.option(
    "--block-time",
    type=click.FloatRange(0.001, 3600),
    default=None,
    help="Mine a block every SECONDS (interval mining, as a real chain) instead of one block per "
    "transaction, on a throwaway chain (its state is not kept); only when it starts anvil. "
    "E.g. 0.02 for the consent relayer (docs/consent.md).",
)
@pass_app
def up(app: AppContext, block_time: float | None) -> None:
    """Start anvil (or report the running one); print the RPC URL and the dev accounts."""
    from careledger.devnet import Devnet

    # An interval-mining devnet is a throwaway chain: 50 blocks a second with the suite's
    # historical states grew anvil's state file by about 5 MB a second (152 MB after 30 s).
    net = Devnet(port=_port(app), block_time=block_time, persist=block_time is None)
    before = net.status().running
    st = net.up()
    accounts = Devnet.describe_accounts()
    data = {**st.to_json(), "alreadyRunning": before, "accounts": accounts}

    def human() -> None:
        con = Console()
        verb = "already running" if before else "started"
        con.print(f"devnet {verb}: [bold]{st.rpc_url}[/] chain {st.chain_id}, block {st.block}, pid {st.pid}")
        if net.persist:
            con.print(f"state kept in {st.state_file}")
        else:
            con.print(f"a block every {block_time:g} s (interval mining); throwaway chain: state not kept")
        table = Table("#", "name", "address", "role in the demo")
        for a in accounts:
            table.add_row(str(a["index"]), str(a["name"]), str(a["address"]), str(a["label"]))
        con.print(table)
        con.print("[dim]dev keys come from the public test mnemonic: never use them with real value[/]")

    app.emit(data, human)


@devnet.command()
@pass_app
def down(app: AppContext) -> None:
    """Stop anvil cleanly (its state is written to .devnet/state.json)."""
    from careledger.devnet import Devnet

    stopped = Devnet(port=_port(app)).down()
    app.emit({"stopped": stopped}, lambda: click.echo("devnet stopped" if stopped else "devnet was not running"))


@devnet.command()
@pass_app
def status(app: AppContext) -> None:
    """Whether anvil is running, its block height and the saved state."""
    from careledger.devnet import Devnet

    net = Devnet(port=_port(app))
    st = net.status()
    data = {**st.to_json(), "snapshot": net.snapshot_info()}

    def human() -> None:
        if st.running:
            click.echo(f"running: {st.rpc_url} chain {st.chain_id} block {st.block} pid {st.pid}")
        else:
            click.echo(f"not running (state file: {st.state_file})")

    app.emit(data, human)


@devnet.command()
@pass_app
def accounts(app: AppContext) -> None:
    """The dev accounts and the role each plays in the demo."""
    from careledger.devnet import Devnet

    rows = Devnet.describe_accounts()

    def human() -> None:
        table = Table("#", "name", "address", "role in the demo")
        for a in rows:
            table.add_row(str(a["index"]), str(a["name"]), str(a["address"]), str(a["label"]))
        Console().print(table)

    app.emit(rows, human)
