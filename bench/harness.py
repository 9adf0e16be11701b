"""What a domain benchmark gets (:class:`BenchEnv`) and gives back (:class:`BenchResult`).

A domain adds ``bench/<domain>.py`` with ``def run(env: BenchEnv) -> BenchResult``. Gas is the
receipt's ``gasUsed`` (or, for read calls, ``eth_estimateGas`` of the call: the gas its execution
needs). Throughput compares the fast path with the naive one *in the same run*, since these
machines are shared and noisy: the ratio is the trustworthy figure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from careledger.accounts import dev_account
from careledger.artifacts import Artifacts
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.deployments import Deployment, load_deployment

__all__ = ["BenchEnv", "BenchResult", "Throughput", "fresh_suite", "git_commit", "plot_curve", "suite_env"]


def git_commit() -> str:
    """The checkout's short commit, recorded with every result ("unknown" outside git)."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass
class Throughput:
    ops_per_s: float
    naive_ops_per_s: float
    ops: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ops_per_s": round(self.ops_per_s, 1),
            "naive_ops_per_s": round(self.naive_ops_per_s, 1),
            "speedup": round(self.ops_per_s / self.naive_ops_per_s, 2) if self.naive_ops_per_s else None,
            "ops": self.ops,
            **self.detail,
        }


@dataclass
class BenchResult:
    gas: dict[str, int] = field(default_factory=dict)
    floor: dict[str, int] = field(default_factory=dict)
    budget: dict[str, int] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    timing: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class BenchEnv:
    rpc: str
    w3: Web3
    deployment: Deployment
    artifacts: Artifacts
    workdir: Path
    quick: bool = False

    def signer(self, name: str) -> Chain:
        return Chain(self.w3, ErrorDecoder.from_abis(self.artifacts.all_abis())).with_account(dev_account(name).account)

    def exec_gas(self, tx: dict[str, Any]) -> int:
        """Gas a read call needs to execute (``eth_estimateGas`` minus the 21,000 intrinsic
        and the calldata cost), i.e. the work the EVM does for it."""
        est = int(self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        data = bytes.fromhex(str(tx.get("data", "0x"))[2:])
        calldata = sum(16 if b else 4 for b in data)
        return est - 21_000 - calldata


def suite_env(
    rpc: str,
    workdir: Path,
    *,
    quick: bool = False,
    deploy: bool = True,
    artifacts: Artifacts | None = None,
    domains: tuple[str, ...] | None = None,
) -> BenchEnv:
    """A :class:`BenchEnv` on the node at ``rpc``: with ``deploy``, the suite is deployed and the
    directory seeded first (a fresh chain); without, the chain's existing deployment is used.
    ``domains`` deploys only those (through their deploy plug-ins, in the order given, e.g.
    ``("directory", "consent")``) instead of the whole suite (:func:`careledger.deploy.deploy_suite`).
    ``$CARELEDGER_DEPLOYMENTS_DIR`` says where the deployments file lives."""
    from careledger.artifacts import load_artifacts
    from careledger.deploy import DeployContext, DeployReport, deploy_suite, domain_module
    from careledger.deployments import Deployment, genesis_hash
    from careledger.seed import seed_directory

    artifacts = artifacts or load_artifacts()
    w3 = connect(rpc)
    if deploy:
        admin = Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis())).with_account(dev_account("admin").account)
        if domains is None:
            deploy_suite(admin, artifacts=artifacts)
        else:
            dep = Deployment(chain_id=w3.eth.chain_id, genesis=genesis_hash(w3), compiler=artifacts.compiler_version)
            ctx = DeployContext(admin, artifacts, dep, DeployReport(dep.chain_id, str(dep.path)))
            for domain in domains:
                module = domain_module(domain, "deploy")
                if module is None:
                    raise RuntimeError(f"domain {domain!r} has no deploy plug-in")
                module.deploy(ctx)
        seed_directory(admin)
    workdir.mkdir(parents=True, exist_ok=True)
    return BenchEnv(rpc=rpc, w3=w3, deployment=load_deployment(w3), artifacts=artifacts, workdir=workdir, quick=quick)


@contextmanager
def fresh_suite(
    folder: Path,
    *,
    quick: bool = False,
    anvil_args: str = "",
    genesis_timestamp: int | None = None,
    block_interval: int | None = None,
    block_time: float | None = None,
    domains: tuple[str, ...] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[BenchEnv]:
    """A fresh anvil under ``folder`` with the suite deployed and the directory seeded; stopped on
    exit, so no benchmark sees another's consents, nonces or raised base fee. The one devnet-suite
    fixture of the bench and the tests (``tests/**`` wrap it in their pytest fixtures). Its
    deployments file and send journals live in ``folder`` too (``$CARELEDGER_DEPLOYMENTS_DIR`` and
    ``$CARELEDGER_JOURNAL_DIR`` are set for the duration and restored after, with any ``env``
    given, e.g. ``CARELEDGER_PROVENANCE_DIR``); ``anvil_args`` are extra anvil flags
    (``$CARELEDGER_ANVIL_ARGS``), e.g. ``--steps-tracing`` for opcode traces; ``block_time``
    mines a block every that many seconds instead of one per transaction; ``domains`` deploys
    only those domains (see :func:`suite_env`).

    ``genesis_timestamp`` starts the chain at that unix time (else ``$CARELEDGER_GENESIS_TIMESTAMP``
    or the wall clock); ``block_interval`` makes every block, from the first deployment on, its
    parent + that many seconds whatever the wall clock does (anvil's
    ``anvil_setBlockTimestampInterval``; time then moves on only by ``evm_setNextBlockTimestamp``),
    so that a seeded run sees the same block times on any day and at any machine speed."""
    from careledger.devnet import GENESIS_TIMESTAMP_ENV, Devnet, free_port

    extra = dict(env or {})
    keys = (
        "CARELEDGER_DEPLOYMENTS_DIR",
        "CARELEDGER_JOURNAL_DIR",
        "CARELEDGER_ANVIL_ARGS",
        GENESIS_TIMESTAMP_ENV,
        *extra,
    )
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = str(folder / "deployments")
    os.environ["CARELEDGER_JOURNAL_DIR"] = str(folder / "journals")
    os.environ["CARELEDGER_ANVIL_ARGS"] = anvil_args
    os.environ.update(extra)
    if genesis_timestamp is not None:
        os.environ[GENESIS_TIMESTAMP_ENV] = str(genesis_timestamp)
    net = Devnet(folder=folder / "devnet", port=free_port(), persist=False, block_time=block_time)
    try:
        net.up()
        if block_interval is not None:
            connect(net.rpc_url).provider.make_request(
                "anvil_setBlockTimestampInterval",  # type: ignore[arg-type]
                [block_interval],
            )
        yield suite_env(net.rpc_url, folder / "work", quick=quick, domains=domains)
    finally:
        net.down()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def plot_curve(
    png: Path,
    curve: dict[int, float],
    naive: float,
    *,
    label: str,
    naive_label: str,
    xlabel: str,
    ylabel: str,
    title: str,
    legend_loc: str = "upper left",
) -> None:
    """Throughput against batch size (log x axis) beside the naive path's rate, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    sizes = sorted(curve)
    ax.plot(sizes, [curve[s] for s in sizes], marker="o", label=label)
    ax.axhline(naive, color="grey", linestyle="--", label=f"{naive_label} ({naive:,.0f}/s)")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_loc, fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
