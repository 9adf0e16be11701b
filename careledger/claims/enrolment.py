"""The member's agreement to an enrolment: EIP-712 typed data ``ClaimSettlement.enrol`` checks.

The member signs with the key of the plan pseudonym (the address on the plan's card), never the
key it uses for consents with providers, so the claims chain and the consent chain show two
addresses that nothing on chain joins.
"""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address

from careledger.abi import eip712_domain, eip712_fields

__all__ = ["DOMAIN_NAME", "DOMAIN_VERSION", "ENROLMENT_TYPE", "enrolment_typed_data"]

DOMAIN_NAME = "CareLedger Claims"
DOMAIN_VERSION = "2"
# The encodeType of ``ClaimStorage.ENROLMENT_TYPEHASH`` (tests/test_abi.py holds them equal).
ENROLMENT_TYPE = eip712_fields(
    "uint32 planId,address member,bytes32 memberRecord,uint32 fromPeriod,uint32 toPeriod,uint256 nonce,uint256 deadline"
)


def enrolment_typed_data(
    plan_id: int,
    member: str,
    member_record: bytes,
    from_period: int,
    to_period: int,
    nonce: int,
    deadline: int,
    *,
    chain_id: int,
    contract: str,
) -> dict[str, Any]:
    """What the member signs to agree to an enrolment (sign with
    :func:`careledger.consent.eip712.sign`)."""
    return {
        "types": {"EIP712Domain": eip712_domain(), "Enrolment": ENROLMENT_TYPE},
        "primaryType": "Enrolment",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(contract),
        },
        "message": {
            "planId": plan_id,
            "member": to_checksum_address(member),
            "memberRecord": member_record,
            "fromPeriod": from_period,
            "toPeriod": to_period,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
