"""What the gateway, its requesters and the patient's app agree on: the record commitment, the
EIP-712 read request and pointer link, the access record, and the pointer a patient hands over.

* **Commitment** of a record: ``commitment = keccak256(salt ‖ contentHash)`` with
  ``contentHash = keccak256(pseudonym ‖ canonical JSON)`` (the pseudonym's 20 bytes, then the
  resource as sorted, compact UTF-8 JSON) and a fresh 32-byte random salt per record
  (:func:`careledger.consent.records.commitment_of`). Only the commitment goes on chain
  (``RecordAnchor.anchor``): it names neither the patient nor the category.
* **ReadRequest** (EIP-712, domain ``("CareLedger Gateway", "1", chainId)``) signed by the
  requester's directory key, naming the gateway (so a request cannot be replayed at another
  gateway), the pseudonym the records are held under, the ``grantor`` (the patient address whose
  consent to the requester allows the read), the category and purpose, one record or all
  (``record = 0``), a random ``requestId`` (single use) and a deadline.
* **Link** (EIP-712, same domain) signed by the holder pseudonym: "the records held for me under
  ``pseudonym`` at ``gateway`` may be read by ``requester`` under consents ``grantor`` gives,
  until ``expires``". It lets the patient consent from the pseudonym they already use with the
  requester, so nothing on chain joins the provider relationship to the requester relationship.
  Not needed when the grantor is the pseudonym itself.
* **Access record**: the requester records the read in the consent registry itself
  (``recordAccess`` attributes it to ``msg.sender``, so the patient's accounting of disclosures
  shows the requester), with ``record = accessCommitment(requestId)``; the gateway verifies that
  ``AccessRecorded`` log before it serves.
* **Pointer**: ``careledger-gw:1:<gateway url>#<pseudonym>`` and a FHIR R4 ``Endpoint``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from careledger._extras import needs_extra
from careledger.abi import eip712_domain, eip712_fields
from careledger.consent.eip712 import signature_problem
from careledger.consent.records import commitment_of
from careledger.errors import InvalidInput

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "MAX_BODY",
    "MAX_REQUEST_LIFETIME",
    "POINTER_SCHEME",
    "access_commitment",
    "canonical",
    "content_hash",
    "endpoint_resource",
    "link_typed",
    "parse_pointer",
    "pointer_string",
    "read_typed",
    "record_commitment",
    "recover_public_key",
    "sign_typed",
]

DOMAIN_NAME = "CareLedger Gateway"
DOMAIN_VERSION = "1"
MAX_BODY = 1 << 20
"""Largest request body the gateway reads (1 MiB): a FHIR resource or a read request."""
MAX_REQUEST_LIFETIME = 15 * 60
"""A read request's deadline may be at most this many seconds after the chain's time."""
POINTER_SCHEME = "careledger-gw"

READ_FIELDS = eip712_fields(
    "address requester,address gateway,address pseudonym,address grantor,uint8 category,uint8 purpose,"
    "bytes32 record,bytes32 requestId,uint256 deadline"
)
LINK_FIELDS = eip712_fields("address gateway,address pseudonym,address grantor,address requester,uint256 expires")


def canonical(resource: dict[str, Any]) -> bytes:
    """The bytes a record is encrypted, hashed and delivered as: sorted keys, no spaces, UTF-8."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(pseudonym: str, resource_bytes: bytes) -> bytes:
    """keccak256(pseudonym ‖ canonical JSON): binds the record to the patient it is held for."""
    return keccak(bytes.fromhex(to_checksum_address(pseudonym)[2:]) + resource_bytes)


def record_commitment(salt: bytes, pseudonym: str, resource_bytes: bytes) -> bytes:
    """What is anchored: keccak256(salt ‖ contentHash)."""
    if len(salt) != 32:
        raise InvalidInput("a record salt is 32 bytes")
    return commitment_of(salt, content_hash(pseudonym, resource_bytes))


def access_commitment(request_id: bytes) -> bytes:
    """The ``record`` argument of the requester's ``recordAccess`` for one read request."""
    return keccak(b"careledger.gateway.read.v1" + request_id)


def _typed(primary: str, fields: list[dict[str, str]], message: dict[str, Any], chain_id: int) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": eip712_domain(verifying_contract=False), primary: fields},
        "primaryType": primary,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id},
        "message": message,
    }


def read_typed(
    *,
    requester: str,
    gateway: str,
    pseudonym: str,
    grantor: str,
    category: int,
    purpose: int,
    record: bytes,
    request_id: bytes,
    deadline: int,
    chain_id: int,
) -> dict[str, Any]:
    message = {
        "requester": to_checksum_address(requester),
        "gateway": to_checksum_address(gateway),
        "pseudonym": to_checksum_address(pseudonym),
        "grantor": to_checksum_address(grantor),
        "category": int(category),
        "purpose": int(purpose),
        "record": record,
        "requestId": request_id,
        "deadline": int(deadline),
    }
    return _typed("ReadRequest", READ_FIELDS, message, chain_id)


def link_typed(
    *, gateway: str, pseudonym: str, grantor: str, requester: str, expires: int, chain_id: int
) -> dict[str, Any]:
    message = {
        "gateway": to_checksum_address(gateway),
        "pseudonym": to_checksum_address(pseudonym),
        "grantor": to_checksum_address(grantor),
        "requester": to_checksum_address(requester),
        "expires": int(expires),
    }
    return _typed("Link", LINK_FIELDS, message, chain_id)


def sign_typed(account: LocalAccount, typed: dict[str, Any]) -> bytes:
    return bytes(account.sign_message(encode_typed_data(full_message=typed)).signature)


def recover_public_key(typed: dict[str, Any], signature: bytes) -> tuple[str, bytes]:
    """(signer address, its 64-byte uncompressed public key) of an EIP-712 signature; the key is
    what the gateway encrypts the delivery to. Raises :class:`InvalidInput` on a malformed one."""
    problem = signature_problem(signature)
    if problem is not None:
        raise InvalidInput(problem)
    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    v = signature[64] - 27
    try:
        public = Signature(signature[:64] + bytes([v])).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError):  # no point on the curve for this (r, s, v)
        raise InvalidInput("signature does not recover to a key") from None
    return to_checksum_address(public.to_canonical_address()), public.to_bytes()


# ---------------------------------------------------------------------- discovery


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise InvalidInput(f"gateway URL {url!r} must be http(s)://host[:port][/path] without a fragment")
    return url.rstrip("/")


def pointer_string(url: str, pseudonym: str) -> str:
    """What a patient hands over (a QR code, a message): ``careledger-gw:1:<url>#<pseudonym>``."""
    return f"{POINTER_SCHEME}:1:{_check_url(url)}#{to_checksum_address(pseudonym)}"


def parse_pointer(text: str) -> tuple[str, str]:
    """(gateway URL, pseudonym) of a pointer string."""
    prefix = f"{POINTER_SCHEME}:1:"
    if not text.startswith(prefix) or "#" not in text:
        raise InvalidInput(f"not a gateway pointer (want {prefix}<url>#<pseudonym>): {text[:80]!r}")
    url, _, pseudonym = text[len(prefix) :].rpartition("#")
    try:
        return _check_url(url), to_checksum_address(pseudonym)
    except ValueError:
        raise InvalidInput(f"pointer pseudonym {pseudonym!r} is not an address") from None


def endpoint_resource(url: str, pseudonym: str, holder: str | None = None) -> dict[str, Any]:
    """The pointer as a FHIR R4 ``Endpoint`` (validated with fhir.resources' R4B model): the
    gateway's address and the pseudonym the records are held under. ``holder`` (the provider's
    directory address) is a display hint only; nothing on chain lists who holds what."""
    with needs_extra("fhir", "a FHIR Endpoint pointer"):
        from fhir.resources.R4B.endpoint import Endpoint

    resource: dict[str, Any] = {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "payloadType": [{"text": "FHIR R4 resources, consent-gated (CareLedger gateway)"}],
        "address": _check_url(url),
        "identifier": [{"system": "urn:careledger:pseudonym", "value": to_checksum_address(pseudonym)}],
    }
    if holder is not None:
        resource["managingOrganization"] = {
            "identifier": {"system": "urn:careledger:directory", "value": to_checksum_address(holder)}
        }
    Endpoint.model_validate(resource)
    return resource
