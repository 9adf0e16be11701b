"""``careledger upgrade status|verify|run``: move the suite to a new version (docs/upgrades.md).

``status`` lists each contract's version and predecessors; ``verify`` re-derives every recorded
import from the predecessor at its snapshot block (any network with an archive node that serves
``debug_traceTransaction``); ``run`` performs the whole migration on a devnet, with the deployer
key while it holds the powers, else through the devnet's 2-of-3 consortium. On a governed network
each step is a decision of the consortium (docs/upgrades.md lists them); ``run`` refuses there.
"""

from __future__ import annotations

from typing import Any

import click

from careledger.cli.context import AppContext, pass_app


@click.group()
def upgrade() -> None:
    """Versions of the suite's contracts and the migration between them."""


@upgrade.command("status")
@pass_app
def status(app: AppContext) -> None:
    """Each contract's version, and for a successor its predecessors and snapshot blocks."""
    dep = app.deployment()
    rows: dict[str, Any] = {}
    for name, rec in sorted(dep.contracts.items()):
        rows[name] = {"address": rec.address, "version": rec.version}
        if rec.predecessor is not None:
            rows[name]["predecessor"] = rec.predecessor.to_json()

    def human() -> None:
        for name, row in rows.items():
            pred = row.get("predecessor")
            tail = f" (from {pred['address']} v{pred['version']} at block {pred['snapshotBlock']})" if pred else ""
            click.echo(f"{name}: v{row['version']} at {row['address']}{tail}")

    app.emit(rows, human)


@upgrade.command("verify")
@pass_app
def verify_cmd(app: AppContext) -> None:
    """Re-derive every recorded import from its predecessor (exit 1 when one does not agree)."""
    from careledger.artifacts import load_artifacts
    from careledger.errors import NotVerified
    from careledger.rpc import RpcClient
    from careledger.upgrade import recorded_plans, verify

    dep = app.deployment()
    plans = recorded_plans(dep)
    problems = [p for plan in plans for p in verify(RpcClient(app.rpc), app.chain(), load_artifacts(), dep, plan)]
    if problems:
        raise NotVerified("the upgrade does not verify: " + "; ".join(problems))
    app.emit(
        {"verified": [p.name for p in plans]},
        lambda: click.echo(f"verified: {', '.join(p.name for p in plans) or 'nothing recorded'}"),
    )


@upgrade.command("run")
@click.option("--only", "names", multiple=True, help="Move only these contracts (default: all three).")
@pass_app
def run(app: AppContext, names: tuple[str, ...]) -> None:
    """Devnet: migrate the moving contracts to this build's successor versions."""
    from careledger.artifacts import load_artifacts
    from careledger.devchain import require_devnet
    from careledger.errors import InvalidInput
    from careledger.rpc import RpcClient
    from careledger.upgrade import MOVING, DirectExecutor, Executor, migrate_suite

    signer = app.signer(default="admin")
    require_devnet(
        signer.is_devnet(), "'upgrade run'", signer.chain_id, "put each step to the consortium (docs/upgrades.md)"
    )
    unknown = sorted(set(names) - set(MOVING))
    if unknown:
        raise InvalidInput(f"not a moving contract: {', '.join(unknown)} (one of {', '.join(MOVING)})")
    dep = app.deployment()
    artifacts = load_artifacts()
    executor: Executor = DirectExecutor(signer)
    directory = signer.contract(dep.address("ParticipantDirectory"), artifacts["ParticipantDirectory"].abi)
    if not directory.functions.hasRole(b"\0" * 32, signer.account.address).call():  # type: ignore[union-attr]
        executor = _devnet_council(app, dep)
    plans = migrate_suite(
        signer, RpcClient(app.rpc), dep, artifacts, emergency=executor, ordinary=executor, names=names or tuple(MOVING)
    )
    out = {p.name: {"address": p.new_address, "snapshotBlock": p.snapshot, "slots": len(p.state)} for p in plans}

    def human() -> None:
        for name, v in out.items():
            click.echo(f"{name}: now {v['address']} ({v['slots']} slots at block {v['snapshotBlock']})")

    app.emit(out, human)


def _devnet_council(app: AppContext, dep: Any) -> Any:
    from careledger.governance.client import GovernanceClient
    from careledger.governance.consortium import ConsortiumConfig
    from careledger.upgrade import CouncilExecutor

    chain = app.chain()

    def travel(seconds: int) -> None:
        chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    members = [GovernanceClient(chain.with_account(_key(n)), dep) for n in ("clinic", "insurer", "regulator")]
    return CouncilExecutor(members, travel, ConsortiumConfig.devnet().delay)


def _key(name: str) -> Any:
    from careledger.accounts import dev_account

    return dev_account(name).account
