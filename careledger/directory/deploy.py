"""Deploys the ParticipantDirectory; the deployer becomes the consortium admin."""

from __future__ import annotations

from careledger.deploy import DeployContext


def deploy(ctx: DeployContext) -> None:
    admin = ctx.chain.account.address if ctx.chain.account else None
    ctx.deploy("ParticipantDirectory", [admin])
