"""The member's side of a claim: the HPAYMT consent that submissions require, granted and read
through the consent domain's SDK (:class:`careledger.consent.client.ConsentClient`).

Claims depends on consent (as its contract does on chain), never the reverse.
"""

from __future__ import annotations

from web3.types import TxReceipt

from careledger.chain import Chain
from careledger.codes import Category, Purpose, mask_of
from careledger.consent.client import ConsentClient
from careledger.consent.terms import GrantTerms
from careledger.deployments import Deployment

__all__ = ["CONSENT_REGISTRY", "grant_payment_consent", "payment_consent"]

CONSENT_REGISTRY = ConsentClient.NAME


def grant_payment_consent(
    member: Chain, deployment: Deployment, grantee: str, valid_until: int, document: bytes = b"\0" * 32
) -> TxReceipt:
    """``member`` (signing) grants ``grantee`` access to FINANCIAL data for HPAYMT until
    ``valid_until`` (unix time): what a claim from ``grantee`` needs."""
    terms = GrantTerms(
        grantee=grantee,
        categories=mask_of(Category.FINANCIAL),
        purposes=mask_of(Purpose.HPAYMT),
        valid_until=valid_until,
        document=document,
    )
    _, receipt = ConsentClient(member, deployment).grant(terms)
    return receipt


def payment_consent(reader: Chain, deployment: Deployment, member: str, grantee: str) -> tuple[bool, int]:
    """Whether the registry lets ``grantee`` submit a claim for ``member`` now, and the consent id."""
    return ConsentClient(reader, deployment).can_access(member, grantee, Category.FINANCIAL, Purpose.HPAYMT)
