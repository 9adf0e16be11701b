"""Deploys the ConsentRegistry over the ParticipantDirectory (deploy order: after directory)."""

from __future__ import annotations

from careledger.deploy import DeployContext


def deploy(ctx: DeployContext) -> None:
    ctx.deploy("ConsentRegistry", [ctx.deployment.address("ParticipantDirectory")])
