"""Deploys ClaimSettlement wired to the directory, the consent registry, the provenance
registry (when it has landed) and the payment token.

The payment token is configuration. On a local devnet (one the project started, recognised by
its genesis block, or one declared with ``--devnet``: :mod:`careledger.devchain`; never judged by
chain id) this plug-in deploys ``DevnetTestUSD`` ("CareLedger Devnet Test USD", worthless, anyone
may mint); on any other chain it takes the token address from ``$CARELEDGER_PAYMENT_TOKEN`` (or
the deployments file's ``config.paymentToken``) and refuses to guess, before anything is deployed
(:func:`preflight`).
"""

from __future__ import annotations

import os

from web3 import Web3

from careledger.chain import checksum
from careledger.claims.client import CONTRACT, DEVNET_TOKEN
from careledger.deploy import DeployContext
from careledger.devchain import require_devnet
from careledger.errors import InvalidInput, SuiteNotDeployed

__all__ = ["deploy", "payment_token", "preflight"]

CONSENT = "ConsentRegistry"
PROVENANCE = "ProvenanceRegistry"
ZERO = "0x" + "00" * 20


def _configured_token(ctx: DeployContext) -> str | None:
    configured = os.environ.get("CARELEDGER_PAYMENT_TOKEN") or ctx.deployment.config.get("paymentToken")
    if not configured:
        return None
    address = checksum(str(configured), "CARELEDGER_PAYMENT_TOKEN")
    if len(ctx.chain.w3.eth.get_code(Web3.to_checksum_address(address))) == 0:
        raise InvalidInput(f"payment token {address} has no code on chain {ctx.chain.chain_id}")
    return address


def preflight(ctx: DeployContext) -> None:
    """Before any contract of the suite is deployed: the payment token can be had here (a
    configured token with code, or a devnet where the test token may be deployed)."""
    if _configured_token(ctx) is None and not ctx.has(DEVNET_TOKEN):
        require_devnet(
            ctx.chain.is_devnet(),
            f"the open-mint test token ({DEVNET_TOKEN})",
            ctx.chain.chain_id,
            "set CARELEDGER_PAYMENT_TOKEN to the address of the stablecoin claims are paid in",
        )


def payment_token(ctx: DeployContext) -> str:
    """The ERC-20 address pools are funded in (deploying the devnet token when allowed)."""
    configured = _configured_token(ctx)
    if configured:
        return configured
    preflight(ctx)
    return ctx.deploy(DEVNET_TOKEN, [])


def deploy(ctx: DeployContext) -> None:
    directory = ctx.deployment.address("ParticipantDirectory")
    if not ctx.has(CONSENT):
        raise SuiteNotDeployed(f"claims needs the consent registry ({CONSENT}) deployed first")
    consent = ctx.deployment.address(CONSENT)
    # Without a provenance registry the contract refuses every drug line (DrugUnitsUnsupported).
    provenance = ctx.deployment.address(PROVENANCE) if ctx.has(PROVENANCE) else ZERO
    token = payment_token(ctx)
    ctx.deployment.config["paymentToken"] = token
    ctx.deploy(CONTRACT, [directory, consent, provenance, token])
