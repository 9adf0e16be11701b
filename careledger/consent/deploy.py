"""Deploys the ConsentRegistry over the ParticipantDirectory (deploy order: after directory), and
records the ConsentRecovery module the registry's constructor deployed (no admin names it)."""

from __future__ import annotations

from careledger.deploy import DeployContext
from careledger.deployments import ContractRecord, code_hash

REGISTRY = "ConsentRegistry"
RECOVERY = "ConsentRecovery"


def deploy(ctx: DeployContext) -> None:
    ctx.deploy(REGISTRY, [ctx.deployment.address("ParticipantDirectory")])
    if ctx.has(RECOVERY):
        ctx.report.existing.append(RECOVERY)
        return
    registry = ctx.contract(REGISTRY)
    address = str(ctx.chain.call(registry.functions.recovery(), "read the recovery module"))
    code = bytes(ctx.chain.w3.eth.get_code(address))  # type: ignore[arg-type]
    ctx.deployment.contracts[RECOVERY] = ContractRecord(
        address, ctx.deployment.contracts[REGISTRY].block, ctx.artifacts[RECOVERY].abi_hash, code_hash(code)
    )
    ctx.deployment.save()
    ctx.report.deployed.append(RECOVERY)
