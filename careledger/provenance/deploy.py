"""Deploys the ProvenanceRegistry, wired to the ParticipantDirectory."""

from __future__ import annotations

from careledger.deploy import DeployContext


def deploy(ctx: DeployContext) -> None:
    ctx.deploy("ProvenanceRegistry", [ctx.deployment.address("ParticipantDirectory")])
