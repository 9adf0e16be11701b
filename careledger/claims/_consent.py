"""The member's side of a claim: granting the HPAYMT consent claims require, through the
ConsentRegistry contract (the consent domain's own client may replace this later).

Claims depend on consent (never the reverse), so this module may import from the consent
domain's deployment; it uses only the registry's ABI from the build output.
"""

from __future__ import annotations

from web3.types import TxReceipt

from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.codes import Category, Purpose
from careledger.deployments import Deployment

__all__ = ["CONSENT_REGISTRY", "grant_payment_consent", "payment_consent"]

CONSENT_REGISTRY = "ConsentRegistry"


def grant_payment_consent(
    member: Chain, deployment: Deployment, grantee: str, valid_until: int, document: bytes = b"\0" * 32
) -> TxReceipt:
    """``member`` (signing) grants ``grantee`` access to FINANCIAL data for HPAYMT until
    ``valid_until`` (unix time): what a claim from ``grantee`` needs."""
    registry = member.contract(deployment.address(CONSENT_REGISTRY), load_artifacts()[CONSENT_REGISTRY].abi)
    account = member._require_account()
    terms = (checksum(grantee), 1 << int(Category.FINANCIAL), 1 << int(Purpose.HPAYMT), 0, 0, 0, valid_until, document)
    return member.send(registry.functions.grant(account.address, terms), f"grant payment consent to {grantee}")


def payment_consent(reader: Chain, deployment: Deployment, member: str, grantee: str) -> bool:
    """Whether the registry would let ``grantee`` submit a claim for ``member`` now."""
    registry = reader.contract(deployment.address(CONSENT_REGISTRY), load_artifacts()[CONSENT_REGISTRY].abi)
    allowed, _ = reader.call(
        registry.functions.canAccess(checksum(member), checksum(grantee), int(Category.FINANCIAL), int(Purpose.HPAYMT)),
        "check payment consent",
    )
    return bool(allowed)
