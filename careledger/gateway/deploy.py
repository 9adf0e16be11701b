"""Deploys the RecordAnchor over the ParticipantDirectory (deploy order: after directory)."""

from __future__ import annotations

from careledger.deploy import DeployContext

ANCHOR = "RecordAnchor"


def deploy(ctx: DeployContext) -> None:
    ctx.deploy(ANCHOR, [ctx.deployment.address("ParticipantDirectory")])
