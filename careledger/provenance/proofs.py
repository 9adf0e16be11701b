"""Client side of the web server's per-unit proof service (``frontend/proof-service.mjs``).

A trading partner asks for the Merkle proof of one unit in a request it signs with EIP-712
(domain ``CareLedger proof service`` v1, the chain id and the ProvenanceRegistry's address; type
``ProofRequest(address pharmacy,uint256 gtin,bytes32 lot,bytes32 serial,uint256 nonce,
uint256 deadline)``). The deadline is at most five minutes after the chain's latest block and the
nonce is used once; the server checks the signer is an active manufacturer, distributor or
pharmacy in the directory. No whole tree is ever served.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from careledger.abi import eip712_fields
from careledger.errors import InvalidInput, NodeUnreachable
from careledger.provenance.ids import text_to_bytes32

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "MAX_DEADLINE_S",
    "PROOF_TYPES",
    "ProofAnswer",
    "fetch_proof",
    "sign_proof_request",
]

MAX_DEADLINE_S = 300
DOMAIN_NAME = "CareLedger proof service"
DOMAIN_VERSION = "1"
PROOF_TYPES = {
    "ProofRequest": eip712_fields(
        "address pharmacy,uint256 gtin,bytes32 lot,bytes32 serial,uint256 nonce,uint256 deadline"
    )
}


@dataclass(frozen=True)
class ProofAnswer:
    """The server's answer: ``status`` 200 with ``known``/``index``/``proof``, or an ``error``."""

    status: int
    known: bool = False
    index: int = 0
    proof: tuple[bytes, ...] = ()
    error: str | None = None


def sign_proof_request(
    account: LocalAccount,
    chain_id: int,
    registry: str,
    gtin: int,
    lot: str,
    serial: str,
    deadline: int,
    nonce: int | None = None,
) -> dict[str, Any]:
    """The JSON body of a signed proof request (numbers as decimal strings, bytes32 as hex)."""
    message = {
        "pharmacy": account.address,
        "gtin": gtin,
        "lot": text_to_bytes32(lot, "lot"),
        "serial": text_to_bytes32(serial),
        "nonce": secrets.randbits(128) if nonce is None else nonce,
        "deadline": deadline,
    }
    domain = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": registry}
    signed = account.sign_message(encode_typed_data(domain, PROOF_TYPES, message))
    request = {
        k: ("0x" + v.hex() if isinstance(v, bytes) else str(v) if isinstance(v, int) else v) for k, v in message.items()
    }
    return {"request": request, "signature": "0x" + bytes(signed.signature).hex()}


def fetch_proof(url: str, body: dict[str, Any], timeout: float = 10.0) -> ProofAnswer:
    """POST a signed request to ``url`` (``http://host:port/proofs``)."""
    try:
        resp = requests.post(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise NodeUnreachable(f"the proof service at {url} does not answer: {type(exc).__name__}") from None
    try:
        data = resp.json()
    except ValueError:
        raise InvalidInput(f"the proof service at {url} did not answer JSON (HTTP {resp.status_code})") from None
    if resp.status_code != 200:
        return ProofAnswer(resp.status_code, error=str(data.get("error")))
    if not data.get("known"):
        return ProofAnswer(200, known=False)
    proof = tuple(bytes.fromhex(p[2:]) for p in data["proof"])
    return ProofAnswer(200, known=True, index=int(data["index"]), proof=proof)
