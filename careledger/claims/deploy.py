"""Deploys ClaimSettlement wired to the directory, the consent registry, the provenance
registry (when it has landed) and the payment token.

The payment token is configuration. On a local devnet (chain id 31337 or 1337) this plug-in
deploys ``DevnetTestUSD`` ("CareLedger Devnet Test USD", worthless, anyone may mint); on any
other chain it takes the token address from ``$CARELEDGER_PAYMENT_TOKEN`` (or the deployments
file's ``config.paymentToken``) and refuses to guess.
"""

from __future__ import annotations

import os

from web3 import Web3

from careledger.chain import checksum
from careledger.claims.client import CONTRACT, DEVNET_TOKEN
from careledger.deploy import DeployContext
from careledger.errors import InvalidInput, SuiteNotDeployed

__all__ = ["DEVNET_CHAIN_IDS", "deploy", "payment_token"]

DEVNET_CHAIN_IDS = (31337, 1337)
CONSENT = "ConsentRegistry"
PROVENANCE = "ProvenanceRegistry"
ZERO = "0x" + "00" * 20


def payment_token(ctx: DeployContext) -> str:
    """The ERC-20 address pools are funded in (deploying the devnet token when allowed)."""
    configured = os.environ.get("CARELEDGER_PAYMENT_TOKEN") or ctx.deployment.config.get("paymentToken")
    if configured:
        address = checksum(str(configured), "CARELEDGER_PAYMENT_TOKEN")
        if len(ctx.chain.w3.eth.get_code(Web3.to_checksum_address(address))) == 0:
            raise InvalidInput(f"payment token {address} has no code on chain {ctx.chain.chain_id}")
        return address
    if ctx.chain.chain_id in DEVNET_CHAIN_IDS:
        return ctx.deploy(DEVNET_TOKEN, [])
    raise InvalidInput(
        f"chain {ctx.chain.chain_id} is not a local devnet: set CARELEDGER_PAYMENT_TOKEN to the stablecoin's address"
    )


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
