"""Deploying the suite, one domain after another, recording each contract as it lands.

Each domain package (``careledger.<domain>``) that has a ``deploy`` module contributes its
contracts through :class:`DeployContext`. Re-running against a chain that already has a contract
(same ABI, code present) reports it and deploys nothing; a crash part-way leaves a deployments
file listing exactly what was deployed, so the next run finishes the job.

Before anything is sent, the chain is checked: its EVM must run what the contracts use
(:func:`careledger.evm.probe_chain`, exit 7 otherwise), and every domain's ``preflight(ctx)``
(when it has one) checks its configuration, e.g. claims' payment token, which may be the open-mint
test token only on a devnet (:mod:`careledger.devchain`, exit 6 otherwise). A refusal there leaves
the chain and the deployments file untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.contract import Contract

from careledger.artifacts import Artifacts, load_artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.deployments import ContractRecord, Deployment, code_hash, genesis_hash, load_deployment
from careledger.errors import SuiteNotDeployed
from careledger.evm import probe_chain

__all__ = ["SUITE_DOMAINS", "DeployContext", "DeployReport", "deploy_suite", "domain_module"]

# Order matters: later domains read the addresses of earlier ones (claims asks consent and
# provenance on chain).
SUITE_DOMAINS: tuple[str, ...] = ("directory", "consent", "provenance", "claims", "gateway")


def domain_module(domain: str, part: str) -> Any | None:
    """``careledger.<domain>.<part>`` if that domain has landed, else None."""
    name = f"careledger.{domain}.{part}"
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name)


@dataclass
class DeployReport:
    chain_id: int
    path: str
    deployed: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def already_deployed(self) -> bool:
        return not self.deployed and not self.actions and bool(self.existing)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "deploymentsFile": self.path,
            "deployed": self.deployed,
            "alreadyPresent": self.existing,
            "actions": self.actions,
        }


@dataclass
class DeployContext:
    chain: Chain
    artifacts: Artifacts
    deployment: Deployment
    report: DeployReport

    def deploy(self, name: str, args: list[Any], *, label: str | None = None) -> str:
        """Deploy artifact ``name`` (recorded as ``label`` or ``name``) unless already there."""
        key = label or name
        art = self.artifacts[name]
        rec = self.deployment.contracts.get(key)
        if rec is not None:
            self.report.existing.append(key)
            return rec.address
        receipt = self.chain.deploy(art.abi, art.bytecode, args, f"deploy {key}")
        address = str(receipt["contractAddress"])
        code = bytes(self.chain.w3.eth.get_code(address))  # type: ignore[arg-type]
        self.deployment.contracts[key] = ContractRecord(
            address, int(receipt["blockNumber"]), art.abi_hash, code_hash(code)
        )
        self.deployment.save()
        self.report.deployed.append(key)
        return address

    def has(self, key: str) -> bool:
        return key in self.deployment.contracts

    def contract(self, key: str, artifact: str | None = None) -> Contract:
        art = self.artifacts[artifact or key]
        return self.chain.contract(self.deployment.address(key), art.abi)

    def once(self, marker: str, action: Callable[[], None]) -> None:
        """Run a wiring step (grant a role, set an address) once per deployment."""
        done = self.deployment.config.setdefault("steps", [])
        if marker in done:
            return
        action()
        done.append(marker)
        self.deployment.save()
        self.report.actions.append(marker)


def _fresh_deployment(w3: Web3, artifacts: Artifacts) -> Deployment:
    return Deployment(chain_id=w3.eth.chain_id, genesis=genesis_hash(w3), compiler=artifacts.compiler_version)


def deploy_suite(chain: Chain, *, force: bool = False, artifacts: Artifacts | None = None) -> DeployReport:
    """Deploy every landed domain in :data:`SUITE_DOMAINS` order, idempotently, once the chain
    passed the EVM probe and every domain's preflight."""
    artifacts = artifacts or load_artifacts()
    w3 = chain.w3
    probe_chain(w3)
    try:
        deployment = _fresh_deployment(w3, artifacts) if force else load_deployment(w3)
    except SuiteNotDeployed:
        deployment = _fresh_deployment(w3, artifacts)
    # A contract whose ABI changed since it was deployed cannot be wired with the new code.
    # (A successor version is compared with the artifact it was deployed from.)
    stale = [
        n
        for n, r in deployment.contracts.items()
        if (r.artifact or n) in artifacts.contracts and artifacts[r.artifact or n].abi_hash != r.abi_hash
    ]
    if stale:
        raise SuiteNotDeployed(
            f"the chain has an older build of {', '.join(sorted(stale))}; redeploy with 'careledger deploy --force'"
        )
    report = DeployReport(chain_id=deployment.chain_id, path=str(deployment.path))
    ctx = DeployContext(chain=chain, artifacts=artifacts, deployment=deployment, report=report)
    modules = [m for m in (domain_module(d, "deploy") for d in SUITE_DOMAINS) if m is not None]
    for module in modules:
        preflight = getattr(module, "preflight", None)
        if preflight is not None:
            preflight(ctx)
    for module in modules:
        module.deploy(ctx)
    deployment.save()
    return report


def suite_chain(w3: Web3, key: str, artifacts: Artifacts | None = None, *, devnet: bool | None = None) -> Chain:
    """A :class:`Chain` whose error decoder knows every custom error of the build. ``devnet=True``
    when the caller itself started the chain as a throwaway one (else it is recognised or not by
    :mod:`careledger.devchain`)."""
    artifacts = artifacts or load_artifacts()
    return Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis()), devnet=devnet).with_account(key)
