"""EIP-712 typed data of the consent registry's signed patient actions, built and signed with
eth-account. The types mirror the ``*_TYPEHASH`` constants of ``ConsentRegistry.sol`` field for
field; the domain is ``("CareLedger Consent", "1", chainId, registry address)``.
"""

from __future__ import annotations

import functools
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from careledger.abi import eip712_domain, eip712_fields
from careledger.consent.terms import GrantTerms, ModifyTerms
from careledger.errors import InvalidInput

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "TYPES",
    "appoint_delegate",
    "cancel",
    "digest",
    "fast_digest",
    "grant",
    "modify",
    "recover",
    "recover_digest",
    "register_study",
    "remove_delegate",
    "review_break_glass",
    "revoke",
    "set_patient_deny",
    "sign",
    "signature_problem",
    "type_string",
]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order of secp256k1; EIP-2 allows only ``s <= n / 2``."""

DOMAIN_NAME = "CareLedger Consent"
DOMAIN_VERSION = "2"

_EIP712_DOMAIN = eip712_domain()


_TAIL = "uint256 nonce,uint256 deadline"
TYPES: dict[str, list[dict[str, str]]] = {
    "Grant": eip712_fields(
        "address patient,address grantee,uint32 categories,uint16 purposes,uint32 denyCategories,"
        f"uint16 denyPurposes,uint40 validFrom,uint40 validUntil,bytes32 document,{_TAIL}"
    ),
    "Modify": eip712_fields(
        "address patient,address grantee,uint256 consentId,uint32 categories,uint16 purposes,"
        f"uint32 denyCategories,uint16 denyPurposes,uint40 validUntil,{_TAIL}"
    ),
    "Revoke": eip712_fields(f"address patient,address grantee,uint256 consentId,{_TAIL}"),
    "Cancel": eip712_fields(f"address patient,address grantee,{_TAIL}"),
    "SetPatientDeny": eip712_fields(f"address patient,uint32 categories,uint16 purposes,{_TAIL}"),
    "AppointDelegate": eip712_fields(
        f"address patient,address delegate,uint8 kind,uint32 categories,uint16 purposes,{_TAIL}"
    ),
    "RemoveDelegate": eip712_fields(f"address patient,address delegate,{_TAIL}"),
    "ReviewBreakGlass": eip712_fields(f"address patient,address provider,uint64 seq,{_TAIL}"),
    "RegisterStudy": eip712_fields("address study,address sponsor,bytes32 form,uint256 deadline"),
}
PAIR_TYPES = frozenset({"Grant", "Modify", "Revoke"})
"""Types whose ``nonce`` is the pair's action counter (``pairNonce``); ``Cancel`` too unless its
grantee is the zero address. The others use the signer's ``nonces``."""


def type_string(primary: str) -> str:
    """``Grant(address patient,...)`` exactly as hashed by the contract."""
    fields = ",".join(f"{f['type']} {f['name']}" for f in TYPES[primary])
    return f"{primary}({fields})"


def _typed(primary: str, message: dict[str, Any], chain_id: int, registry: str) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": _EIP712_DOMAIN, primary: TYPES[primary]},
        "primaryType": primary,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry),
        },
        "message": message,
    }


def grant(
    patient: str, terms: GrantTerms, nonce: int, deadline: int, *, chain_id: int, registry: str
) -> dict[str, Any]:
    return _typed(
        "Grant",
        {
            "patient": to_checksum_address(patient),
            "grantee": to_checksum_address(terms.grantee),
            "categories": terms.categories,
            "purposes": terms.purposes,
            "denyCategories": terms.deny_categories,
            "denyPurposes": terms.deny_purposes,
            "validFrom": terms.valid_from,
            "validUntil": terms.valid_until,
            "document": terms.document,
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def modify(
    patient: str,
    grantee: str,
    consent_id: int,
    terms: ModifyTerms,
    nonce: int,
    deadline: int,
    *,
    chain_id: int,
    registry: str,
) -> dict[str, Any]:
    return _typed(
        "Modify",
        {
            "patient": to_checksum_address(patient),
            "grantee": to_checksum_address(grantee),
            "consentId": consent_id,
            "categories": terms.categories,
            "purposes": terms.purposes,
            "denyCategories": terms.deny_categories,
            "denyPurposes": terms.deny_purposes,
            "validUntil": terms.valid_until,
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def revoke(
    patient: str, grantee: str, consent_id: int, nonce: int, deadline: int, *, chain_id: int, registry: str
) -> dict[str, Any]:
    return _typed(
        "Revoke",
        {
            "patient": to_checksum_address(patient),
            "grantee": to_checksum_address(grantee),
            "consentId": consent_id,
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def set_patient_deny(
    patient: str, categories: int, purposes: int, nonce: int, deadline: int, *, chain_id: int, registry: str
) -> dict[str, Any]:
    return _typed(
        "SetPatientDeny",
        {
            "patient": to_checksum_address(patient),
            "categories": categories,
            "purposes": purposes,
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def cancel(patient: str, grantee: str, nonce: int, deadline: int, *, chain_id: int, registry: str) -> dict[str, Any]:
    """Void outstanding signatures of the pair (nonce: ``pairNonce``) or, with the zero address
    as ``grantee``, the signer's patient-wide ones (nonce: ``nonces(signer)``)."""
    return _typed(
        "Cancel",
        {
            "patient": to_checksum_address(patient),
            "grantee": to_checksum_address(grantee),
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def review_break_glass(
    patient: str, provider: str, seq: int, nonce: int, deadline: int, *, chain_id: int, registry: str
) -> dict[str, Any]:
    return _typed(
        "ReviewBreakGlass",
        {
            "patient": to_checksum_address(patient),
            "provider": to_checksum_address(provider),
            "seq": seq,
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def register_study(
    study: str, sponsor: str, form: bytes, deadline: int, *, chain_id: int, registry: str
) -> dict[str, Any]:
    """What a study's key signs to prove it controls its address (``registerStudy``)."""
    return _typed(
        "RegisterStudy",
        {
            "study": to_checksum_address(study),
            "sponsor": to_checksum_address(sponsor),
            "form": form,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def appoint_delegate(
    patient: str,
    delegate: str,
    kind: int,
    categories: int,
    purposes: int,
    nonce: int,
    deadline: int,
    *,
    chain_id: int,
    registry: str,
) -> dict[str, Any]:
    return _typed(
        "AppointDelegate",
        {
            "patient": to_checksum_address(patient),
            "delegate": to_checksum_address(delegate),
            "kind": kind,
            "categories": categories,
            "purposes": purposes,
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def remove_delegate(
    patient: str, delegate: str, nonce: int, deadline: int, *, chain_id: int, registry: str
) -> dict[str, Any]:
    return _typed(
        "RemoveDelegate",
        {
            "patient": to_checksum_address(patient),
            "delegate": to_checksum_address(delegate),
            "nonce": nonce,
            "deadline": deadline,
        },
        chain_id,
        registry,
    )


def digest(typed: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest (``\\x19\\x01 || domainSeparator || structHash``) the contract checks."""
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@functools.lru_cache(maxsize=16)
def _domain_separator(chain_id: int, registry: str) -> bytes:
    return keccak(
        keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(to_checksum_address(registry)[2:])
    )


_TYPEHASHES = {primary: keccak(type_string(primary).encode()) for primary in TYPES}


def _word(typ: str, value: Any) -> bytes:
    if typ == "address":
        raw = bytes.fromhex(str(value)[2:])
        if len(raw) != 20:
            raise InvalidInput(f"not an address: {value!r}")
        return bytes(12) + raw
    if typ == "bytes32":
        raw = value if isinstance(value, bytes) else bytes.fromhex(str(value).removeprefix("0x"))
        if len(raw) != 32:
            raise InvalidInput(f"not 32 bytes: {value!r}")
        return raw
    number = int(value)
    if not 0 <= number < 1 << int(typ.removeprefix("uint")):
        raise InvalidInput(f"{number} does not fit {typ}")
    return number.to_bytes(32, "big")


def fast_digest(primary: str, message: dict[str, Any], chain_id: int, registry: str) -> bytes:
    """:func:`digest` of ``_typed(primary, message, chain_id, registry)`` computed directly: every
    field of these types is one ABI word (address, uintN, bytes32), so the struct hash is
    ``keccak256(typeHash || words)`` as the contract computes it. About a tenth of the CPU of
    eth-account's generic encoder (the relayer computes one per request); the same bytes
    (``tests/consent/test_relay_fast_path.py``)."""
    words = b"".join(_word(f["type"], message[f["name"]]) for f in TYPES[primary])
    struct = keccak(_TYPEHASHES[primary] + words)
    return keccak(b"\x19\x01" + _domain_separator(chain_id, registry) + struct)


def recover_digest(digest32: bytes, signature: bytes) -> str | None:
    """The address whose key made ``signature`` (65 bytes, v 27/28) over ``digest32``; None when
    it recovers to no key. Use after :func:`signature_problem` found nothing wrong."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    try:
        key = Signature(signature[:64] + bytes([signature[64] - 27])).recover_public_key_from_msg_hash(digest32)
    except (BadSignature, ValidationError, ValueError):
        return None
    return str(key.to_checksum_address())


def sign(account: LocalAccount, typed: dict[str, Any]) -> bytes:
    """65-byte ``r || s || v`` signature (low-s, as eth-account always produces)."""
    signed = account.sign_message(encode_typed_data(full_message=typed))
    return bytes(signed.signature)


def recover(typed: dict[str, Any], signature: bytes) -> str:
    """The EOA that signed ``typed`` (for relay-side validation; ERC-1271 wallets are checked on chain)."""
    return str(Account.recover_message(encode_typed_data(full_message=typed), signature=signature))


def signature_problem(signature: bytes) -> str | None:
    """Why the registry's ECDSA check would refuse ``signature``, or ``None`` when its form is
    one it accepts. Pure: no key, no digest, no node.

    The same rules as OpenZeppelin 5 ``ECDSA.tryRecover(hash, bytes)`` (which the registry reaches
    through ``SignatureChecker``) and the ``ecrecover`` precompile behind it: exactly 65 bytes
    ``r || s || v``; ``s`` in the lower half of the curve order (EIP-2: ``0 < s <= n / 2``, so a
    signature has one form only); ``v`` 27 or 28; ``0 < r < n``."""
    if len(signature) != 65:
        return (
            f"signature is {len(signature)} bytes; the registry takes exactly 65 (r, s, v), "
            "as OpenZeppelin ECDSA.tryRecover does (64-byte EIP-2098 compact signatures are refused)"
        )
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > SECP256K1_N // 2:
        return (
            "signature s is in the upper half of the curve order (the malleable high-s form EIP-2 "
            "forbids); the registry refuses it: sign again with a library that produces low-s "
            "signatures, or use s' = n - s and flip v (27 <-> 28)"
        )
    if v not in (27, 28):
        return f"signature v is {v}; the registry accepts only 27 or 28 (if your signer gives 0 or 1, add 27)"
    if not (0 < r < SECP256K1_N and s > 0):
        return "signature r or s is zero or not below the curve order: no key signs that"
    return None
