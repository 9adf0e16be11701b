"""The provider record gateway: :class:`Gateway` (the rules, framework-free) and
:func:`create_app` (FastAPI, as the relayer), served by ``careledger gateway serve``.

A read is served only after every check below, cheapest first; the first that fails answers with
its HTTP status and a one-line ``reason`` (``{"error", "reason", ...}``, exact JSON):

======  ====================  ==========================================================
status  reason                when
======  ====================  ==========================================================
413     too-large             body over 1 MiB (refused by the transport, unread)
400     malformed             not a read request (fields, types)
400     wrong-gateway         the request names another gateway or chain
401     bad-signature         the signature is malformed or not the requester's
401     bad-link              grantor ≠ pseudonym and no valid pointer link signed by the
                              pseudonym for this requester and gateway
403     request-expired       deadline passed, or further than 15 minutes ahead
409     replay                this requestId was used before (each id serves once)
403     not-registered        the requester is not in the participant directory
403     suspended-requester   the requester is suspended in the directory
403     no-consent            no consent of the grantor to the requester (or revoked)
403     consent-expired       the consent's validUntil has passed
403     consent-not-yet-valid before the consent's validFrom
403     not-permitted         the consent does not cover this category or purpose
403     denied-category       a deny provision (the consent's or patient-wide) covers it
403     no-break-glass        ETREAT/BTG without an open break-glass window
428     access-not-recorded   no AccessRecorded by the requester for this request (the
                              requester records its read in the registry first)
410     erased                the named record was erased (the erasure's audit entry)
404     no-such-record        the named record is not held for this pseudonym/category
500     integrity             a record fails its commitment or its on-chain anchor
503     node                  the chain node did not answer the decision's reads
======  ====================  ==========================================================

Consent is asked **at one block, never older than the access record** (two JSON-RPC batches:
the access record's receipt with the chain head, then the directory, ``canAccess`` and the access
record's block time at that block), so a revocation mined in the same block as the requester's
``recordAccess`` (after it) still refuses the read. A served read returns the records'
canonical JSON, salts and anchors encrypted to the requester's public key (recovered from its
request signature) with ECIES (eciespy: secp256k1 ECDH, HKDF-SHA256, AES-256-GCM), and is
logged in the gateway's disclosure table.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from careledger._extras import needs_extra
from careledger.abi import constants
from careledger.abi import contract as contract_abi
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, _revert_data
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.deployments import Deployment
from careledger.errors import CareLedgerError, InvalidInput, NotVerified, Refusal
from careledger.exactjson import dumps
from careledger.gateway.deploy import ANCHOR
from careledger.gateway.protocol import (
    MAX_BODY,
    MAX_REQUEST_LIFETIME,
    access_commitment,
    link_typed,
    read_typed,
    recover_public_key,
)
from careledger.gateway.store import GatewayStore, StoredRecord
from careledger.rpc import RpcClient, RpcError

with needs_extra("gateway", "the record gateway"):
    from ecies import encrypt as ecies_encrypt
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

__all__ = ["Gateway", "Refusal", "create_app"]

# The registry's (and the directory's) custom errors -> the reason a refusal gives.
_REASONS = {
    "NoActiveConsent": "no-consent",
    "ConsentExpired": "consent-expired",
    "ConsentNotYetValid": "consent-not-yet-valid",
    "AccessNotPermitted": "not-permitted",
    "AccessDenied": "denied-category",
    "ConsentFormOutdated": "no-consent",
    "ParticipantIsSuspended": "suspended-requester",
    "ParticipantNotRegistered": "not-registered",
    "ParticipantLacksRole": "not-permitted",
    "BreakGlassNotActive": "no-break-glass",
    "StudyClosed": "no-consent",
    "StudySponsorInactive": "no-consent",
}


@dataclass(frozen=True)
class ReadRequest:
    requester: str
    gateway: str
    pseudonym: str
    grantor: str
    category: int
    purpose: int
    record: bytes
    request_id: bytes
    deadline: int
    signature: bytes
    access_tx: str
    link: tuple[int, bytes] | None  # (expires, signature by the pseudonym)

    @classmethod
    def parse(cls, body: Any) -> ReadRequest:
        if not isinstance(body, dict):
            raise Refusal(400, "malformed", "a read request is a JSON object")

        def addr(name: str) -> str:
            v = body.get(name)
            if not isinstance(v, str):
                raise Refusal(400, "malformed", f"{name} is missing (an address)")
            try:
                return to_checksum_address(v)
            except ValueError:
                raise Refusal(400, "malformed", f"{name} {v!r} is not an address") from None

        def hexbytes(name: str, size: int | None, value: Any = None) -> bytes:
            v = body.get(name) if value is None else value
            if not isinstance(v, str) or not v.startswith("0x"):
                raise Refusal(400, "malformed", f"{name} must be 0x-hex")
            try:
                out = bytes.fromhex(v[2:])
            except ValueError:
                raise Refusal(400, "malformed", f"{name} must be 0x-hex") from None
            if size is not None and len(out) != size:
                raise Refusal(400, "malformed", f"{name} must be {size} bytes")
            return out

        def code(name: str, enum: type[Category] | type[Purpose]) -> int:
            v = body.get(name)
            if isinstance(v, str) and v in enum.__members__:
                return int(enum[v])
            if isinstance(v, int) and not isinstance(v, bool) and v in {int(m) for m in enum}:
                return v
            raise Refusal(400, "malformed", f"{name} {v!r} is not a {enum.__name__} code")

        deadline = body.get("deadline")
        if not isinstance(deadline, str) or not deadline.isdigit():
            raise Refusal(400, "malformed", "deadline is a decimal string of seconds (exact JSON)")
        link = body.get("link")
        parsed_link: tuple[int, bytes] | None = None
        if link is not None:
            if not isinstance(link, dict) or not str(link.get("expires", "")).isdigit():
                raise Refusal(400, "malformed", "link is {expires: decimal string, signature: 0x-hex}")
            parsed_link = (int(link["expires"]), hexbytes("link.signature", None, link.get("signature")))
        tx = body.get("accessTx")
        if not isinstance(tx, str) or len(hexbytes("accessTx", 32)) != 32:
            raise Refusal(400, "malformed", "accessTx is the 0x hash of the requester's recordAccess")
        return cls(
            requester=addr("requester"),
            gateway=addr("gateway"),
            pseudonym=addr("pseudonym"),
            grantor=addr("grantor"),
            category=code("category", Category),
            purpose=code("purpose", Purpose),
            record=hexbytes("record", 32) if body.get("record") is not None else bytes(32),
            request_id=hexbytes("requestId", 32),
            deadline=int(deadline),
            signature=hexbytes("signature", None),
            access_tx=tx,
            link=parsed_link,
        )


class Gateway:
    """One provider's gateway: ``chain`` signs as the provider (an active PROVIDER of the
    directory: it anchors), ``store`` holds the records."""

    def __init__(self, chain: Chain, deployment: Deployment, store: GatewayStore) -> None:
        if chain.account is None:
            raise InvalidInput("the gateway needs the provider's key (--account or CARELEDGER_PRIVATE_KEY)")
        artifacts = load_artifacts()
        self.chain, self.store, self.deployment = chain, store, deployment
        self.address = str(chain.account.address)
        self.consent = ConsentClient(chain, deployment)
        self.anchor = chain.contract(deployment.address(ANCHOR), artifacts[ANCHOR].abi)
        self.directory = chain.contract(
            deployment.address("ParticipantDirectory"), artifacts["ParticipantDirectory"].abi
        )
        # ABI facts from the build (careledger.abi): the access record's event, the two reads.
        consent_abi, directory_abi = (
            contract_abi("ConsentRegistry", artifacts),
            contract_abi("ParticipantDirectory", artifacts),
        )
        self._access_recorded = consent_abi.event("AccessRecorded")
        self._can_access_fn, self._is_active_fn = consent_abi.function("canAccess"), directory_abi.function("isActive")
        self._any_role = int(constants(artifacts)["Roles"]["ALL"])  # any directory role
        endpoint = getattr(chain.w3.provider, "endpoint_uri", None)
        if not endpoint:
            raise InvalidInput("the gateway needs an HTTP JSON-RPC node (--rpc http://...)")
        self._rpc = RpcClient(str(endpoint))
        self._anchored: dict[bytes, int] = {}  # commitment -> anchoredAt (anchors never change)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ provider side

    def info(self) -> dict[str, Any]:
        return {
            "gateway": self.address,
            "chainId": self.chain.chain_id,
            "recordAnchor": self.anchor.address,
            "consentRegistry": self.consent.address,
            "domain": {"name": "CareLedger Gateway", "version": "1", "chainId": self.chain.chain_id},
            "maxBody": MAX_BODY,
        }

    def put(self, pseudonym: str, resource: Any, category: Category | None = None) -> dict[str, Any]:
        """Validate, encrypt, store and anchor one record. When anchoring fails the record is
        discarded: nothing half-written stays."""
        rec, _salt = self.store.put(pseudonym, resource, category)
        try:
            receipt = self.chain.send(self.anchor.functions.anchor(rec.commitment), "anchor a record")
        except BaseException:
            self.store.discard(rec.record_id)
            raise
        tx = "0x" + bytes(receipt["transactionHash"]).hex()
        self.store.set_anchor(rec.record_id, tx)
        out = rec.to_json()
        out["anchorTx"] = tx
        out["gasUsed"] = int(receipt["gasUsed"])
        return out

    def erase(self, record_id: str, reason: str) -> dict[str, Any]:
        return self.store.erase(record_id, self.address, reason)

    # ------------------------------------------------------------------ reads

    def _refuse_access(self, req: ReadRequest, block: int) -> Refusal:
        """Why the registry refuses (grantor, requester, category, purpose): the precise custom
        error of ``recordAccess`` simulated from the requester (a call, nothing mined)."""
        raw = self.chain.call(
            self.consent.contract.functions.consentOf(req.grantor, req.requester), "read consent", block
        )
        consent_id = int(raw[0])
        fn = self.consent.contract.functions.recordAccess(
            req.grantor, consent_id, req.category, req.purpose, access_commitment(req.request_id)
        )
        try:
            fn.call({"from": req.requester}, block_identifier=block)
        except (ContractCustomError, ContractLogicError) as exc:
            name, _args = self.chain.decoder.decode(_revert_data(exc))
            reason = _REASONS.get(name or "", "no-consent")
            return Refusal(403, reason, f"the consent registry refuses: {name or 'reverted'}", customError=name)
        except Web3RPCError as exc:
            return Refusal(403, "no-consent", f"the consent registry refuses: {exc}")
        return Refusal(403, "no-consent", "the consent registry does not allow this read")

    def _access_record(self, req: ReadRequest, receipt: Any) -> tuple[int, str] | None:
        """(consent id, block number) of the requester's ``AccessRecorded`` for this request
        (grantor, requester, category, purpose, ``accessCommitment(requestId)``) in ``receipt``
        (a raw JSON-RPC receipt); None when there is none."""
        if not isinstance(receipt, dict) or receipt.get("status") != "0x1":
            return None
        want = access_commitment(req.request_id)
        for log in receipt.get("logs") or []:
            topics = log.get("topics") or []
            if (
                len(topics) != 4
                or bytes.fromhex(topics[0][2:]) != self._access_recorded.topic
                or str(log.get("address", "")).lower() != self.consent.address.lower()
            ):
                continue
            a = self._access_recorded.decode(topics, log["data"])
            if (
                to_checksum_address(a["patient"]) == req.grantor
                and to_checksum_address(a["grantee"]) == req.requester
                and (int(a["category"]), int(a["purpose"]), bytes(a["record"])) == (req.category, req.purpose, want)
            ):
                return int(a["consentId"]), str(receipt["blockNumber"])
        return None

    def _decide(self, req: ReadRequest, now: int) -> int:
        """The consent id that allows this read, or :class:`Refusal`. Two JSON-RPC batches: the
        access record's receipt with the chain head, then (at one block, never older than the
        access record) the directory, ``canAccess`` and the access record's block time. A
        revocation mined with or after the access record refuses the read."""
        receipt, head = self._rpc.batch(
            [("eth_getTransactionReceipt", [req.access_tx]), ("eth_getBlockByNumber", ["latest", False])]
        )
        if isinstance(head, RpcError) or not isinstance(head, dict):
            raise Refusal(503, "node", f"the chain node did not answer: {head}")
        recorded = self._access_record(req, receipt)
        at = int(head["number"], 16)
        if recorded is not None:
            at = max(at, int(recorded[1], 16))
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": self.directory.address, "data": self._is_active(req.requester)}, hex(at)]),
            ("eth_call", [{"to": self.consent.address, "data": self._can_access(req)}, hex(at)]),
        ]
        if recorded is not None:
            calls.append(("eth_getBlockByNumber", [recorded[1], False]))
        answers = self._rpc.batch(calls)
        bad = [a for a in answers if isinstance(a, RpcError) or a is None]
        if bad:
            raise Refusal(503, "node", f"the chain node could not answer: {bad[0]}")
        (active,) = self._is_active_fn.decode_output(answers[0])
        if not active:
            registered = self.chain.call(self.directory.functions.participant(req.requester), "read participant", at)
            if int(registered[0]) == 0:
                raise Refusal(403, "not-registered", f"{req.requester} is not in the participant directory")
            raise Refusal(403, "suspended-requester", f"{req.requester} is suspended in the participant directory")
        allowed, consent_id = self._can_access_fn.decode_output(answers[1])
        if not allowed:
            raise self._refuse_access(req, at)
        fresh = recorded is not None and int(answers[2]["timestamp"], 16) + MAX_REQUEST_LIFETIME >= now
        if recorded is None or not fresh or recorded[0] != int(consent_id):
            raise Refusal(
                428,
                "access-not-recorded",
                "record the read first: recordAccess(grantor, consentId, category, purpose, "
                "accessCommitment(requestId)) from the requester (within 15 minutes), then send its hash",
                accessCommitment="0x" + access_commitment(req.request_id).hex(),
                consentId=str(int(consent_id)),
            )
        return int(consent_id)

    def _is_active(self, requester: str) -> str:
        return "0x" + self._is_active_fn.calldata(requester, self._any_role).hex()

    def _can_access(self, req: ReadRequest) -> str:
        return "0x" + self._can_access_fn.calldata(req.grantor, req.requester, req.category, req.purpose).hex()

    def _anchored_at(self, rec: StoredRecord) -> int:
        cached = self._anchored.get(rec.commitment)
        if cached is not None:
            return cached
        provider, at = self.chain.call(self.anchor.functions.anchorOf(rec.commitment), "read an anchor")
        provider = to_checksum_address(provider)
        if provider != self.address and int(provider, 16) != 0:
            # Anchored under the provider's previous key: it counts once the directory says the
            # organisation now acts as this gateway's key (docs/governance.md, key rotation).
            provider = to_checksum_address(self.chain.call(self.directory.functions.currentKey(provider), "read a key"))
        if provider != self.address:
            raise Refusal(500, "integrity", f"record {rec.record_id} is not anchored by this gateway")
        self._anchored[rec.commitment] = int(at)
        return int(at)

    def read(self, body: Any) -> dict[str, Any]:
        """Serve one signed read request (see the module docstring), or raise :class:`Refusal`."""
        req = ReadRequest.parse(body)
        chain_id = self.chain.chain_id
        if req.gateway != self.address:
            raise Refusal(400, "wrong-gateway", f"this is gateway {self.address}, not {req.gateway}")
        typed = read_typed(
            requester=req.requester,
            gateway=req.gateway,
            pseudonym=req.pseudonym,
            grantor=req.grantor,
            category=req.category,
            purpose=req.purpose,
            record=req.record,
            request_id=req.request_id,
            deadline=req.deadline,
            chain_id=chain_id,
        )
        try:
            signer, public_key = recover_public_key(typed, req.signature)
        except InvalidInput as exc:
            raise Refusal(401, "bad-signature", f"bad request signature: {exc}") from None
        if signer != req.requester:
            raise Refusal(401, "bad-signature", "the request is not signed by the requester it names")
        now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
        if req.deadline < now:
            raise Refusal(403, "request-expired", f"the request expired at {req.deadline} (chain time {now})")
        if req.deadline > now + MAX_REQUEST_LIFETIME:
            raise Refusal(403, "request-expired", f"the deadline is more than {MAX_REQUEST_LIFETIME} s ahead")
        if req.grantor != req.pseudonym:
            if req.link is None:
                raise Refusal(401, "bad-link", "grantor differs from the pseudonym: the pointer's link is needed")
            expires, link_sig = req.link
            link = link_typed(
                gateway=self.address,
                pseudonym=req.pseudonym,
                grantor=req.grantor,
                requester=req.requester,
                expires=expires,
                chain_id=chain_id,
            )
            try:
                link_signer, _ = recover_public_key(link, link_sig)
            except InvalidInput as exc:
                raise Refusal(401, "bad-link", f"bad link signature: {exc}") from None
            if link_signer != req.pseudonym:
                raise Refusal(401, "bad-link", "the link is not signed by the pseudonym the records are held under")
            if expires <= now:
                raise Refusal(401, "bad-link", f"the link expired at {expires}")
        if not self.store.claim_request(req.request_id, req.requester, now):
            raise Refusal(409, "replay", "this requestId was already used")
        consent_id = self._decide(req, now)
        return self._serve(req, consent_id, public_key, now)

    def _serve(self, req: ReadRequest, consent_id: int, public_key: bytes, now: int) -> dict[str, Any]:
        if req.record != bytes(32):
            rid = req.record[:16].hex()
            try:
                rec = self.store.get(rid)
            except InvalidInput:
                raise Refusal(404, "no-such-record", f"no record {rid} here") from None
            if rec.pseudonym != req.pseudonym or rec.category != req.category or req.record[16:] != bytes(16):
                raise Refusal(404, "no-such-record", f"no record {rid} for this pseudonym and category")
            if rec.erasure is not None:
                raise Refusal(410, "erased", f"record {rid} was erased", erasure=rec.erasure)
            held = [rec]
        else:
            held = self.store.held(req.pseudonym, req.category)
        served: list[dict[str, Any]] = []
        erased: list[dict[str, Any]] = []
        for rec in held:
            if rec.erasure is not None:
                erased.append(rec.erasure)
                continue
            try:
                body, salt = self.store.open(rec)
            except NotVerified as exc:
                raise Refusal(500, "integrity", str(exc), recordId=rec.record_id) from None
            anchored_at = self._anchored_at(rec)
            served.append(
                {
                    "recordId": rec.record_id,
                    "resource": json.loads(body),
                    "salt": "0x" + salt.hex(),
                    "commitment": "0x" + rec.commitment.hex(),
                    "anchoredAt": anchored_at,
                }
            )
        break_glass = req.purpose in (int(Purpose.ETREAT), int(Purpose.BTG))
        bundle = {"pseudonym": req.pseudonym, "records": served}
        sealed = ecies_encrypt(public_key, dumps(bundle, indent=None).encode("utf-8"))
        self.store.log_disclosure(
            {
                "request_id": "0x" + req.request_id.hex(),
                "requester": req.requester,
                "pseudonym": req.pseudonym,
                "grantor": req.grantor,
                "category": req.category,
                "purpose": req.purpose,
                "consent_id": str(consent_id),
                "break_glass": break_glass,
                "access_tx": req.access_tx,
                "records": json.dumps([r["recordId"] for r in served]),
                "served_at": now,
            }
        )
        return {
            "requestId": "0x" + req.request_id.hex(),
            "requester": req.requester,
            "gateway": self.address,
            "pseudonym": req.pseudonym,
            "category": Category(req.category).name,
            "purpose": Purpose(req.purpose).name,
            "consentId": str(consent_id),
            "breakGlass": break_glass,
            "accessTx": req.access_tx,
            "count": len(served),
            "erased": erased,
            "encryption": "ecies-secp256k1-hkdf-sha256-aes-256-gcm (eciespy 0.4)",
            "ciphertext": "0x" + sealed.hex(),
        }


def create_app(gateway: Gateway, token: str, *, max_concurrency: int = 32) -> Any:
    """The HTTP face of ``gateway``. ``token`` (a bearer token) guards the provider's own
    endpoints (put, erase, list, disclosures); reads are authorised by their signature alone."""
    import hmac

    from careledger.consent.relay import ExactJSONResponse, _Transport

    if len(token) < 16:
        raise InvalidInput("the gateway's admin token must be at least 16 characters")
    app = FastAPI(title="CareLedger record gateway", version="1", default_response_class=ExactJSONResponse)

    def _admin(request: Request) -> None:
        got = request.headers.get("authorization", "")
        if not hmac.compare_digest(got.encode(), f"Bearer {token}".encode()):
            raise Refusal(401, "unauthorised", "this endpoint needs the gateway's admin token")

    async def _json(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw)
        except ValueError:
            raise Refusal(400, "malformed", "the body is not JSON") from None

    @app.exception_handler(Refusal)
    async def _refusal(_request: Request, exc: Refusal) -> JSONResponse:
        return ExactJSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(CareLedgerError)
    async def _error(_request: Request, exc: CareLedgerError) -> JSONResponse:
        status = 400 if isinstance(exc, InvalidInput) else 502
        out: dict[str, Any] = {"error": exc.message, "reason": "invalid" if status == 400 else "chain"}
        name = getattr(exc, "error_name", None)
        if name:
            out["customError"] = name
        return ExactJSONResponse(out, status_code=status)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "gateway": gateway.address}

    @app.get("/.well-known/careledger-gateway")
    def well_known() -> dict[str, Any]:
        return gateway.info()

    @app.post("/records", status_code=201)
    async def put(request: Request) -> dict[str, Any]:
        _admin(request)
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("pseudonym"), str) or "resource" not in body:
            raise Refusal(400, "malformed", "POST /records takes {pseudonym, resource[, category]}")
        cat = body.get("category")
        category = None
        if cat is not None:
            if not isinstance(cat, str) or cat not in Category.__members__:
                raise Refusal(400, "malformed", f"category {cat!r} is not a Category name")
            category = Category[cat]
        try:
            return gateway.put(body["pseudonym"], body["resource"], category)
        except InvalidInput as exc:
            raise Refusal(422 if "FHIR" in exc.message else 400, "invalid", exc.message) from None

    @app.delete("/records/{record_id}")
    async def erase(record_id: str, request: Request) -> dict[str, Any]:
        _admin(request)
        reason = request.query_params.get("reason", "patient request (GDPR Art. 17)")
        return {"erased": gateway.erase(record_id, reason[:200])}

    @app.get("/records/{record_id}")
    def status(record_id: str, request: Request) -> Any:
        _admin(request)
        rec = gateway.store.get(record_id)
        if rec.erasure is not None:
            raise Refusal(410, "erased", f"record {record_id} was erased", erasure=rec.erasure)
        return rec.to_json()

    @app.get("/disclosures")
    def disclosures(request: Request) -> dict[str, Any]:
        _admin(request)
        return {"disclosures": gateway.store.disclosures(request.query_params.get("pseudonym"))}

    @app.post("/read")
    async def read(request: Request) -> dict[str, Any]:
        body = await _json(request)
        with gateway._lock:  # one read at a time: the replay claim and the log stay in order
            return gateway.read(body)

    return _Transport(app, MAX_BODY, max_concurrency)  # type: ignore[return-value]
