"""Properties of the gateway's formats, without a chain: a commitment changes with any change to
the record, its salt or its pseudonym; a read request's signature recovers exactly its signer and
the key the delivery is encrypted to, and any changed field recovers someone else; pointers
round-trip."""

from __future__ import annotations

from typing import Any

from ecies import decrypt, encrypt
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from careledger.gateway.protocol import (
    canonical,
    parse_pointer,
    pointer_string,
    read_typed,
    record_commitment,
    recover_public_key,
    sign_typed,
)

KEYS = [Account.from_key(bytes([i + 1]) * 32) for i in range(3)]
ADDRS = st.sampled_from([k.address for k in KEYS])
TEXT = st.text(min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(text=TEXT, other=TEXT, salt=st.binary(min_size=32, max_size=32), who=ADDRS, whom=ADDRS)
def test_commitment_binds_content_salt_and_pseudonym(text: str, other: str, salt: bytes, who: str, whom: str) -> None:
    doc: dict[str, Any] = {"resourceType": "Observation", "note": [{"text": text}]}
    base = record_commitment(salt, who, canonical(doc))
    assert base == record_commitment(salt, who, canonical(dict(reversed(list(doc.items())))))  # key order
    if other != text:
        assert record_commitment(salt, who, canonical({**doc, "note": [{"text": other}]})) != base
    flipped = bytes([salt[0] ^ 1]) + salt[1:]
    assert record_commitment(flipped, who, canonical(doc)) != base
    if whom != who:
        assert record_commitment(salt, whom, canonical(doc)) != base


def _typed(**over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "requester": KEYS[0].address,
        "gateway": KEYS[1].address,
        "pseudonym": KEYS[2].address,
        "grantor": KEYS[2].address,
        "category": 8,
        "purpose": 0,
        "record": bytes(32),
        "request_id": bytes.fromhex("11" * 32),
        "deadline": 1_900_000_000,
        "chain_id": 1337,
    }
    fields.update(over)
    return read_typed(**fields)


@settings(max_examples=40, deadline=None)
@given(
    field=st.sampled_from(
        ["gateway", "pseudonym", "grantor", "category", "purpose", "request_id", "deadline", "chain_id"]
    ),
    signer=st.integers(min_value=0, max_value=2),
    plaintext=st.binary(min_size=1, max_size=64),
)
def test_signature_recovers_its_signer_and_key_and_nothing_else(field: str, signer: int, plaintext: bytes) -> None:
    key = KEYS[signer]
    sig = sign_typed(key, _typed())
    address, public = recover_public_key(_typed(), sig)
    assert address == key.address
    assert decrypt(key.key, encrypt(public, plaintext)) == plaintext  # what the gateway encrypts to
    changed = {
        "gateway": KEYS[0].address,
        "pseudonym": KEYS[0].address,
        "grantor": KEYS[1].address,
        "category": 3,
        "purpose": 1,
        "request_id": bytes.fromhex("22" * 32),
        "deadline": 1_900_000_001,
        "chain_id": 1,
    }[field]
    assert recover_public_key(_typed(**{field: changed}), sig)[0] != key.address


@given(host=st.from_regex(r"[a-z]{1,12}\.example", fullmatch=True), who=ADDRS)
def test_pointer_round_trips(host: str, who: str) -> None:
    url = f"https://{host}/fhir"
    assert parse_pointer(pointer_string(url, who)) == (url, who)
