"""Runs the demo: use the devnet ``make up`` started, or start an ephemeral one and stop it."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.demo.framework import DemoEnv, Story
from careledger.deploy import SUITE_DOMAINS, deploy_suite, domain_module
from careledger.deployments import load_deployment
from careledger.devnet import DEFAULT_PORT, Devnet, free_port
from careledger.errors import CareLedgerError
from careledger.seed import seed_directory

__all__ = ["main", "run_demo"]


def run_demo(console: Console, inspect: Callable[[str], None] | None = None) -> list[Story]:
    """Play every story. ``inspect(rpc_url)`` runs after the stories, before an ephemeral devnet
    is stopped (tests use it to examine what the demo wrote on chain)."""
    persistent = Devnet(port=DEFAULT_PORT)
    started: Devnet | None = None
    with tempfile.TemporaryDirectory(prefix="careledger-demo-") as tmp:
        if persistent.status().running:
            net = persistent
            console.print(f"using the devnet 'make up' started at {net.rpc_url}")
        else:
            # An ephemeral chain with its own deployments folder: nothing of it outlives the demo.
            net = started = Devnet(folder=Path(tmp) / "devnet", port=free_port(), persist=False)
            os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = str(Path(tmp) / "deployments")
            net.up()
            console.print(f"started an ephemeral devnet at {net.rpc_url}")
        try:
            artifacts = load_artifacts()
            w3 = connect(net.rpc_url)
            admin = Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis())).with_account(dev_account("admin").account)
            t0 = time.perf_counter()
            report = deploy_suite(admin, artifacts=artifacts)
            seeded = seed_directory(admin)
            console.print(
                f"suite on chain {report.chain_id}: deployed {', '.join(report.deployed) or 'nothing new'}"
                f"{'; already there: ' + ', '.join(report.existing) if report.existing else ''}"
                f" ({time.perf_counter() - t0:.1f} s); registered {len(seeded)} participants"
            )
            env = DemoEnv(
                rpc=net.rpc_url, w3=w3, deployment=load_deployment(w3), artifacts=artifacts, workdir=Path(tmp)
            )
            stories: list[Story] = [_directory_story(env)]
            for domain in SUITE_DOMAINS:
                module = domain_module(domain, "demo")
                if module is not None:
                    stories.append(module.story(env))
            # Last: it hands the directory to the consortium, after which no key holds a power.
            from careledger.governance import demo as governance_demo

            stories.append(governance_demo.story(env))
            if inspect is not None:
                inspect(net.rpc_url)
            return stories
        finally:
            if started is not None:
                started.down()
                os.environ.pop("CARELEDGER_DEPLOYMENTS_DIR", None)


def _directory_story(env: DemoEnv) -> Story:
    from careledger.codes import Role
    from careledger.directory.client import EMERGENCY_ROLE, DirectoryClient

    story = Story("Participant directory: who may act")
    directory = DirectoryClient(env.signer("admin"), env.deployment)
    for name in ("clinic", "insurer", "manufacturer", "distributor", "pharmacy", "regulator", "relayer"):
        member = env.who(name)
        info = directory.get(member.address)
        story.check(
            "consortium",
            f"{member.label} registered as {name}",
            ", ".join(r.name.lower() for r in Role if r in info.roles and r.name),
            info.registered,
        )
    outsider = env.who("patient2").address
    # On a devnet already handed to the consortium (a second demo on `make up`'s devnet) the
    # deployer's key holds no role any more, and that is the refusal.
    governed = not directory.contract.functions.hasRole(EMERGENCY_ROLE, env.who("admin").address).call()
    story.refused(
        "consortium",
        "suspend an unregistered account",
        "AccessControlUnauthorizedAccount" if governed else "ParticipantNotRegistered",
        lambda: directory.suspend(outsider, "NOT-VETTED"),
    )
    return story


def render(console: Console, stories: list[Story]) -> None:
    for story in stories:
        table = Table(title=story.title, title_justify="left", expand=True)
        table.add_column("", width=2)
        table.add_column("who", style="bold", no_wrap=True)
        table.add_column("action")
        table.add_column("outcome")
        table.add_column("gas", justify="right")
        for s in story.steps:
            table.add_row(
                "[green]✓[/]" if s.ok else "[red]✗[/]", s.actor, s.action, s.outcome, f"{s.gas:,}" if s.gas else ""
            )
        console.print(table)
        for note in story.notes:
            console.print(f"  [dim]{note}[/]")
    total = sum(len(s.steps) for s in stories)
    failed = [f"{s.title}: {st.action}" for s in stories for st in s.steps if not st.ok]
    if failed:
        console.print(
            Panel("\n".join(failed), title=f"{len(failed)} of {total} steps did not behave as expected", style="red")
        )
    else:
        console.print(
            Panel(
                f"{len(stories)} stories, {total} steps, every one as expected. "
                "No health data was written on chain: only addresses, commitments and codes.",
                style="green",
            )
        )


def main() -> int:
    console = Console()
    try:
        stories = run_demo(console)
    except CareLedgerError as exc:
        console.print(f"[red]demo failed:[/] {exc.message}")
        return exc.exit_code
    render(console, stories)
    return 0 if all(s.ok for s in stories) else 1


if __name__ == "__main__":
    sys.exit(main())
