"""The requester's and the patient's side of the gateway.

:class:`GatewayReader` (a requester organisation, signing with its directory key): checks
``canAccess``, records its read in the consent registry (``recordAccess``, so the patient's
accounting of disclosures shows it), signs the EIP-712 ``ReadRequest``, posts it, decrypts the
ECIES delivery with its own key and proves every record against its on-chain anchor.

:func:`make_link` (the patient's app): the pointer link, signed by the pseudonym the records are
held under, that lets the patient consent from the pseudonym they use with the requester.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol, cast

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from careledger._extras import needs_extra
from careledger.artifacts import load_artifacts
from careledger.chain import Chain
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.deployments import Deployment
from careledger.errors import GatewayRefused, InvalidInput, NotVerified
from careledger.gateway.deploy import ANCHOR
from careledger.gateway.protocol import (
    access_commitment,
    canonical,
    link_typed,
    read_typed,
    record_commitment,
    sign_typed,
)

__all__ = ["GatewayReader", "GatewayRefused", "Link", "make_link", "verify_record"]


class _Response(Protocol):
    status_code: int

    def json(self) -> Any: ...


class _Http(Protocol):
    def get(self, url: str, **kw: Any) -> Any: ...

    def post(self, url: str, **kw: Any) -> Any: ...


@dataclass(frozen=True)
class Link:
    """A pointer link: ``signature`` by ``pseudonym`` over Link(gateway, pseudonym, grantor,
    requester, expires)."""

    gateway: str
    pseudonym: str
    grantor: str
    requester: str
    expires: int
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "pseudonym": self.pseudonym,
            "grantor": self.grantor,
            "requester": self.requester,
            "expires": str(self.expires),
            "signature": "0x" + self.signature.hex(),
        }


def make_link(
    pseudonym: LocalAccount, *, gateway: str, grantor: str, requester: str, expires: int, chain_id: int
) -> Link:
    """As the patient: let ``requester`` read what ``gateway`` holds under ``pseudonym`` under the
    consents ``grantor`` (the patient's pseudonym for that requester) gives, until ``expires``."""
    typed = link_typed(
        gateway=gateway,
        pseudonym=pseudonym.address,
        grantor=grantor,
        requester=requester,
        expires=expires,
        chain_id=chain_id,
    )
    return Link(
        to_checksum_address(gateway),
        pseudonym.address,
        to_checksum_address(grantor),
        to_checksum_address(requester),
        expires,
        sign_typed(pseudonym, typed),
    )


def verify_record(chain: Chain, anchor_address: str, gateway: str, pseudonym: str, item: dict[str, Any]) -> int:
    """Prove one delivered record unchanged since anchoring: its commitment recomputed from
    (salt, pseudonym, canonical resource) must be anchored on chain by ``gateway``. Returns the
    anchoring time; :class:`NotVerified` otherwise."""
    salt = bytes.fromhex(str(item["salt"])[2:])
    commitment = record_commitment(salt, pseudonym, canonical(item["resource"]))
    if "0x" + commitment.hex() != item.get("commitment"):
        raise NotVerified(f"record {item.get('recordId')} does not match the commitment it came with")
    contract = chain.contract(anchor_address, load_artifacts()[ANCHOR].abi)
    provider, at = chain.call(contract.functions.anchorOf(commitment), "read an anchor")
    provider, gateway = to_checksum_address(provider), to_checksum_address(gateway)
    if provider != gateway and int(provider, 16) != 0:
        # Anchored under the provider's previous key: the directory says whose key it is now.
        directory = chain.contract(
            chain.call(contract.functions.directory(), "read the directory"),
            load_artifacts()["ParticipantDirectory"].abi,
        )
        provider = to_checksum_address(chain.call(directory.functions.currentKey(provider), "read a key"))
    if provider != gateway:
        raise NotVerified(f"record {item.get('recordId')} is not anchored by gateway {gateway}")
    return int(at)


class GatewayReader:
    """A requester organisation reading from gateways. ``chain`` signs as the requester."""

    def __init__(self, chain: Chain, deployment: Deployment, http: _Http | None = None) -> None:
        if chain.account is None:
            raise InvalidInput("reading from a gateway needs the requester's key (--account)")
        self.chain, self.deployment = chain, deployment
        self.account: LocalAccount = chain.account
        self.consent = ConsentClient(chain, deployment)
        self.anchor_address = deployment.address(ANCHOR)
        self._kw: dict[str, Any] = {}
        if http is None:
            import requests

            http = cast(_Http, requests.Session())
            self._kw = {"timeout": 30}
        self.http: _Http = http

    def _url(self, base: str, path: str) -> str:
        return base.rstrip("/") + path

    def gateway_info(self, url: str) -> dict[str, Any]:
        r = self.http.get(self._url(url, "/.well-known/careledger-gateway"), **self._kw)
        if r.status_code != 200:
            raise InvalidInput(f"{url} is not a CareLedger gateway (HTTP {r.status_code})")
        info: dict[str, Any] = r.json()
        if int(info["chainId"]) != self.chain.chain_id:
            raise InvalidInput(f"gateway {url} serves chain {info['chainId']}, not {self.chain.chain_id}")
        return info

    def request(
        self,
        url: str,
        pseudonym: str,
        category: Category,
        purpose: Purpose,
        *,
        grantor: str | None = None,
        link: Link | None = None,
        record: str | None = None,
        record_access: bool = True,
        lifetime: int = 600,
    ) -> dict[str, Any]:
        """Build, record on chain and sign one read request; returns the JSON body to post.
        ``record_access=False`` skips the ``recordAccess`` (the gateway then answers 428)."""
        info = self.gateway_info(url)
        gateway = to_checksum_address(info["gateway"])
        grantor = to_checksum_address(grantor or pseudonym)
        request_id = secrets.token_bytes(32)
        rec = bytes(32) if record is None else bytes.fromhex(record) + bytes(16)
        access_tx = "0x" + bytes(32).hex()
        allowed, consent_id = self.consent.can_access(grantor, self.account.address, category, purpose)
        if allowed and record_access:
            receipt = self.consent.record_access(grantor, consent_id, category, purpose, access_commitment(request_id))
            access_tx = "0x" + bytes(receipt["transactionHash"]).hex()
        deadline = self.consent.chain_time() + lifetime
        typed = read_typed(
            requester=self.account.address,
            gateway=gateway,
            pseudonym=pseudonym,
            grantor=grantor,
            category=int(category),
            purpose=int(purpose),
            record=rec,
            request_id=request_id,
            deadline=deadline,
            chain_id=self.chain.chain_id,
        )
        body: dict[str, Any] = {
            "requester": self.account.address,
            "gateway": gateway,
            "pseudonym": to_checksum_address(pseudonym),
            "grantor": grantor,
            "category": category.name,
            "purpose": purpose.name,
            "record": "0x" + rec.hex(),
            "requestId": "0x" + request_id.hex(),
            "deadline": str(deadline),
            "accessTx": access_tx,
            "signature": "0x" + sign_typed(self.account, typed).hex(),
        }
        if link is not None:
            body["link"] = {"expires": str(link.expires), "signature": "0x" + link.signature.hex()}
        return body

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        # Every value is a string or a small code: plain JSON is exact here (docs/json.md).
        r = self.http.post(self._url(url, "/read"), json=body, **self._kw)
        out = r.json()
        if r.status_code != 200:
            raise GatewayRefused(r.status_code, out)
        return dict(out)

    def open(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        """Decrypt a delivery with the requester's key and verify every record against its
        anchor; returns the records (resource, recordId, commitment, salt, anchoredAt)."""
        with needs_extra("gateway", "opening a gateway delivery"):
            from ecies import decrypt

        try:
            plain = decrypt(self.account.key, bytes.fromhex(str(response["ciphertext"])[2:]))
        except (ValueError, KeyError) as exc:
            raise NotVerified(f"the delivery does not open with this requester's key: {exc}") from None
        bundle = json.loads(plain)
        for item in bundle["records"]:
            at = verify_record(self.chain, self.anchor_address, response["gateway"], bundle["pseudonym"], item)
            if at != int(item["anchoredAt"]):
                raise NotVerified(f"record {item['recordId']}: anchoring time differs from the chain's")
        return list(bundle["records"])

    def read(self, url: str, pseudonym: str, category: Category, purpose: Purpose, **kw: Any) -> dict[str, Any]:
        """Request, post, decrypt and verify: the response plus ``records`` (plaintext, verified)."""
        response = self.post(url, self.request(url, pseudonym, category, purpose, **kw))
        return {**{k: v for k, v in response.items() if k != "ciphertext"}, "records": self.open(response)}
