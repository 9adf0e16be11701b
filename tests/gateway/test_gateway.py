"""The provider record gateway (issue #19) end to end on a real anvil: the clinic's gateway holds
a patient's lab report under the patient's clinic pseudonym, anchored on chain; the lab reads it
under the patient's consent (given from the patient's lab pseudonym, joined by a pointer link),
and every attack of the issue is played: a forged request signature, a replayed request, a
suspended requester, a revoked consent (also in the same block as the read's access record), a
tampered record, an oversized and a malformed FHIR body, an erased record."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ecies import decrypt
from fastapi.testclient import TestClient
from web3.logs import DISCARD

from bench.harness import fresh_suite
from careledger.accounts import dev_account, dev_person
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.terms import GrantTerms, mask
from careledger.deployments import load_deployment
from careledger.devnet import free_port
from careledger.directory.client import DirectoryClient
from careledger.errors import NotVerified
from careledger.gateway.app import Gateway, create_app
from careledger.gateway.client import GatewayReader, GatewayRefused, make_link, verify_record
from careledger.gateway.protocol import (
    access_commitment,
    canonical,
    endpoint_resource,
    parse_pointer,
    pointer_string,
    record_commitment,
)
from careledger.gateway.store import GatewayStore, records

pytestmark = pytest.mark.devnet

TOKEN = "gateway-admin-token-for-tests"
URL = "http://testserver"

LAB_REPORT: dict[str, Any] = {
    "resourceType": "DiagnosticReport",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2", "display": "CBC panel"}]},
    "conclusion": "Haemoglobin 13.9 g/dL, within reference range.",
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
    "valueQuantity": {"value": 13.9, "unit": "g/dL"},
}


def _chain(w3: Any, artifacts: Any, account: Any) -> Chain:
    return Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis())).with_account(account)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = Path(tmp_path_factory.mktemp("gateway-devnet"))
    # The domains the gateway needs, through their deploy plug-ins (gateway last, as in the suite).
    with fresh_suite(tmp, domains=("directory", "consent", "gateway")) as env:
        w3, artifacts = env.w3, env.artifacts
        admin = env.signer("admin")
        person = dev_person("patient")
        clinic, lab, er = (dev_account(n).address for n in ("clinic", "lab", "er"))
        pseudo = {name: person.pseudonym(addr) for name, addr in (("clinic", clinic), ("lab", lab), ("er", er))}
        for acct in pseudo.values():
            # Test-only gas for the patient's pseudonyms (a cheat code, not a transfer that would
            # link them); in production they act by signature through the relayer.
            w3.provider.make_request("anvil_setBalance", [acct.address, hex(10**18)])  # type: ignore[arg-type]
        yield {"w3": w3, "artifacts": artifacts, "tmp": tmp, "admin": admin, "pseudo": pseudo, "rpc": env.rpc}


@pytest.fixture
def world(net: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fresh clinic gateway (its own database and key file), the lab as a requester, and a
    consent of the patient's lab pseudonym to the lab (lab reports and observations, treatment)."""
    w3, artifacts = net["w3"], net["artifacts"]
    deployment = load_deployment(w3)
    chain = {n: _chain(w3, artifacts, dev_account(n).account) for n in ("clinic", "lab", "er", "admin")}
    store = GatewayStore(tmp_path / "gateway.sqlite", tmp_path / "gateway.keys", "correct horse battery staple")
    gateway = Gateway(chain["clinic"], deployment, store)
    http = TestClient(create_app(gateway, TOKEN))
    pseudo = net["pseudo"]
    patient_lab = ConsentClient(_chain(w3, artifacts, pseudo["lab"]), deployment)
    lab = dev_account("lab").address
    now = patient_lab.chain_time()
    terms = GrantTerms(
        lab, mask([Category.DIAGNOSTIC_REPORT, Category.OBSERVATION]), mask([Purpose.TREAT]), now + 86400
    )
    current = patient_lab.consent_of(pseudo["lab"].address, lab)
    if current.id and current.valid_until > now:
        patient_lab.revoke(lab, current.id)
    consent_id, _ = patient_lab.grant(terms)
    link = make_link(
        pseudo["clinic"],
        gateway=gateway.address,
        grantor=pseudo["lab"].address,
        requester=lab,
        expires=now + 7 * 86400,
        chain_id=w3.eth.chain_id,
    )
    yield {
        "gateway": gateway,
        "store": store,
        "http": http,
        "chain": chain,
        "deployment": deployment,
        "reader": GatewayReader(chain["lab"], deployment, http=http),
        "patient_lab": patient_lab,
        "consent_id": consent_id,
        "link": link,
        "pseudo": pseudo,
        "tmp": tmp_path,
    }
    http.close()
    store.engine.dispose()


def _put(w: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    r = w["http"].post(
        "/records",
        json={"pseudonym": w["pseudo"]["clinic"].address, "resource": resource},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _read(w: dict[str, Any], category: Category = Category.DIAGNOSTIC_REPORT, **kw: Any) -> dict[str, Any]:
    kw.setdefault("grantor", w["pseudo"]["lab"].address)
    kw.setdefault("link", w["link"])
    reader: GatewayReader = kw.pop("reader", w["reader"])
    return reader.read(URL, w["pseudo"]["clinic"].address, category, Purpose.TREAT, **kw)


def _request(w: dict[str, Any], category: Category = Category.DIAGNOSTIC_REPORT, **kw: Any) -> dict[str, Any]:
    kw.setdefault("grantor", w["pseudo"]["lab"].address)
    kw.setdefault("link", w["link"])
    reader: GatewayReader = kw.pop("reader", w["reader"])
    return reader.request(URL, w["pseudo"]["clinic"].address, category, Purpose.TREAT, **kw)


def _refused(w: dict[str, Any], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = w["http"].post("/read", json=body)
    assert r.status_code >= 400, r.text
    return r.status_code, dict(r.json())


def _rows(w: dict[str, Any]) -> int:
    with w["store"].engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(records)).scalar_one())


# ---------------------------------------------------------------------- put and anchor


def test_put_validates_encrypts_and_anchors_only_a_commitment(world: dict[str, Any]) -> None:
    w = world
    out = _put(w, LAB_REPORT)
    assert out["category"] == "DIAGNOSTIC_REPORT" and out["status"] == "stored"
    commitment = bytes.fromhex(out["commitment"][2:])
    # The chain has the anchor, by the clinic, and its event carries the commitment and the
    # provider only: neither the pseudonym nor the category nor the content.
    provider, at = w["gateway"].anchor.functions.anchorOf(commitment).call()
    assert provider == w["gateway"].address and at > 0
    receipt = w["gateway"].chain.w3.eth.get_transaction_receipt(out["anchorTx"])
    (ev,) = w["gateway"].anchor.events.RecordAnchored().process_receipt(receipt, errors=DISCARD)
    assert dict(ev["args"]) == {"commitment": commitment, "provider": w["gateway"].address}
    raw = b"".join(bytes(t) for log in receipt["logs"] for t in log["topics"]) + b"".join(
        bytes(log["data"]) for log in receipt["logs"]
    )
    assert bytes.fromhex(w["pseudo"]["clinic"].address[2:]) not in raw
    tx = w["gateway"].chain.w3.eth.get_transaction(out["anchorTx"])
    assert bytes.fromhex(w["pseudo"]["clinic"].address[2:].lower()) not in bytes(tx["input"])
    # At rest: the row holds ciphertext only, the key file no plaintext, and neither the other.
    with w["store"].engine.connect() as c:
        blob = c.execute(sa.select(records.c.ciphertext)).scalar_one()
    assert b"Haemoglobin" not in blob
    assert b"Haemoglobin" not in (w["tmp"] / "gateway.keys").read_bytes()
    assert not (w["tmp"] / "gateway.keys").read_text().count(out["recordId"])  # sealed table


def test_anchor_refuses_a_non_provider_and_a_second_anchoring(world: dict[str, Any]) -> None:
    w = world
    from careledger.errors import ChainRefused

    anchor = w["gateway"].anchor
    c = bytes.fromhex("ab" * 32)
    insurer = _chain(w["gateway"].chain.w3, load_artifacts(), dev_account("insurer").account)
    with pytest.raises(ChainRefused) as exc:
        insurer.send(anchor.functions.anchor(c), "anchor")
    assert exc.value.error_name == "ParticipantLacksRole"
    w["chain"]["clinic"].send(anchor.functions.anchor(c), "anchor")
    with pytest.raises(ChainRefused) as exc:
        w["chain"]["lab"].send(anchor.functions.anchor(c), "anchor")
    assert exc.value.error_name == "AlreadyAnchored"
    assert exc.value.error_args["provider"] == w["gateway"].address
    with pytest.raises(ChainRefused) as exc:
        w["chain"]["clinic"].send(anchor.functions.anchor(bytes(32)), "anchor")
    assert exc.value.error_name == "EmptyCommitment"


def test_oversized_and_malformed_bodies_are_refused_and_store_nothing(world: dict[str, Any]) -> None:
    w = world
    auth = {"authorization": f"Bearer {TOKEN}"}
    big = {**LAB_REPORT, "conclusion": "x" * (1 << 20)}
    r = w["http"].post("/records", json={"pseudonym": w["pseudo"]["clinic"].address, "resource": big}, headers=auth)
    assert r.status_code == 413 and "over 1048576 bytes" in r.json()["error"]
    for resource, needle in (
        ({"resourceType": "Observation", "status": "final"}, "code"),  # required code missing
        ({**OBSERVATION, "valueQuantity": {"value": "lots"}}, "valueQuantity"),
        ({"resourceType": "Spaceship"}, "not a record type"),
        ([1, 2], "JSON object"),
    ):
        r = w["http"].post(
            "/records", json={"pseudonym": w["pseudo"]["clinic"].address, "resource": resource}, headers=auth
        )
        assert r.status_code in (400, 422), r.text
        assert needle in r.json()["error"]
    r = w["http"].post("/records", content=b"{not json", headers=auth)
    assert r.status_code == 400 and r.json()["reason"] == "malformed"
    r = w["http"].post("/records", json={"pseudonym": w["pseudo"]["clinic"].address, "resource": OBSERVATION})
    assert r.status_code == 401  # no admin token
    assert _rows(w) == 0
    assert w["store"].keyfile.load() == {}
    r = w["http"].post("/read", content=b"x" * ((1 << 20) + 1))
    assert r.status_code == 413


# ---------------------------------------------------------------------- consent-gated reads


def test_lab_reads_under_consent_and_the_patient_sees_the_read(world: dict[str, Any]) -> None:
    w = world
    put = _put(w, LAB_REPORT)
    _put(w, OBSERVATION)  # another category: not served for DIAGNOSTIC_REPORT
    got = _read(w)
    assert got["count"] == 1 and got["breakGlass"] is False and got["consentId"] == str(w["consent_id"])
    (rec,) = got["records"]
    assert rec["resource"] == LAB_REPORT and rec["recordId"] == put["recordId"]
    # The patient's accounting of disclosures (their lab pseudonym's log) shows the lab's read.
    log = w["patient_lab"].history(w["pseudo"]["lab"].address, ("AccessRecorded",))
    assert log[-1].args["grantee"] == dev_account("lab").address
    assert log[-1].args["category"] == int(Category.DIAGNOSTIC_REPORT)
    assert bytes(log[-1].args["record"]) == access_commitment(bytes.fromhex(got["requestId"][2:]))
    # The gateway's own log says who got what under which consent.
    (entry,) = w["store"].disclosures()
    assert entry["requester"] == dev_account("lab").address and entry["records"] == [put["recordId"]]
    # The delivery opens with the lab's key only.
    body = _request(w)
    sealed = w["reader"].post(URL, body)
    with pytest.raises(ValueError, match="MAC check failed"):
        decrypt(dev_account("er").account.key, bytes.fromhex(sealed["ciphertext"][2:]))


def test_lab_without_consent_is_refused_with_the_reason(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    er = GatewayReader(w["chain"]["er"], w["deployment"], http=w["http"])
    er_link = make_link(
        w["pseudo"]["clinic"],
        gateway=w["gateway"].address,
        grantor=w["pseudo"]["er"].address,
        requester=dev_account("er").address,
        expires=w["patient_lab"].chain_time() + 3600,
        chain_id=w["gateway"].chain.chain_id,
    )
    with pytest.raises(GatewayRefused) as exc:
        _read(w, reader=er, grantor=w["pseudo"]["er"].address, link=er_link)
    assert (exc.value.status, exc.value.reason) == (403, "no-consent")
    assert exc.value.body["customError"] == "NoActiveConsent"
    # A category the consent does not cover.
    with pytest.raises(GatewayRefused) as exc:
        _read(w, Category.CONDITION)
    assert (exc.value.status, exc.value.reason) == (403, "not-permitted")
    assert w["store"].disclosures() == []


def test_denied_and_expired_consents_say_why(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    pl, lab = w["patient_lab"], dev_account("lab").address
    pl.set_patient_deny(mask([Category.DIAGNOSTIC_REPORT]), mask([Purpose.TREAT]))
    try:
        with pytest.raises(GatewayRefused) as exc:
            _read(w)
        assert exc.value.reason == "denied-category"
    finally:
        pl.set_patient_deny(0, 0)
    pl.revoke(lab, w["consent_id"])
    now = pl.chain_time()
    pl.grant(GrantTerms(lab, mask([Category.DIAGNOSTIC_REPORT]), mask([Purpose.TREAT]), now + 60))
    w3 = w["gateway"].chain.w3
    w3.provider.make_request("evm_increaseTime", [120])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    with pytest.raises(GatewayRefused) as exc:
        _read(w)
    assert (exc.value.status, exc.value.reason) == (403, "consent-expired")


def test_forged_signature_is_refused(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    # The ER signs a request that names the lab as requester (to ride on the lab's consent).
    er = GatewayReader(w["chain"]["er"], w["deployment"], http=w["http"])
    forged = _request(w, reader=er, record_access=False)
    forged["requester"] = dev_account("lab").address
    status, body = _refused(w, forged)
    assert (status, body["reason"]) == (401, "bad-signature")
    # A tampered field invalidates the lab's own signature.
    good = _request(w)
    status, body = _refused(w, {**good, "category": "CONDITION"})
    assert (status, body["reason"]) == (401, "bad-signature")
    status, body = _refused(w, {**good, "signature": "0x" + "11" * 65})
    assert (status, body["reason"]) == (401, "bad-signature")
    # A link not signed by the pseudonym the records are held under.
    status, body = _refused(w, {**good, "link": {"expires": good["link"]["expires"], "signature": good["signature"]}})
    assert (status, body["reason"]) == (401, "bad-link")
    assert w["store"].disclosures() == []


def test_replayed_request_is_refused(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    body = _request(w)
    assert w["reader"].post(URL, body)["count"] == 1
    status, refusal = _refused(w, body)
    assert (status, refusal["reason"]) == (409, "replay")
    assert len(w["store"].disclosures()) == 1


def test_read_without_an_access_record_is_refused(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    status, body = _refused(w, _request(w, record_access=False))
    assert (status, body["reason"]) == (428, "access-not-recorded")
    assert body["consentId"] == str(w["consent_id"])


def test_suspended_requester_is_refused(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    body = _request(w)  # access recorded while still active
    directory = DirectoryClient(w["chain"]["admin"], w["deployment"])
    directory.suspend(dev_account("lab").address, "licence under review")
    try:
        status, refusal = _refused(w, body)
        assert (status, refusal["reason"]) == (403, "suspended-requester")
    finally:
        directory.reinstate(dev_account("lab").address)


def test_revoked_consent_then_read_is_refused(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    assert _read(w)["count"] == 1
    w["patient_lab"].revoke(dev_account("lab").address, w["consent_id"])
    with pytest.raises(GatewayRefused) as exc:
        _read(w)
    assert (exc.value.status, exc.value.reason) == (403, "no-consent")


def test_revocation_in_the_same_block_as_the_access_record_refuses_the_read(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    w3 = w["gateway"].chain.w3
    lab_addr, grantor = dev_account("lab").address, w["pseudo"]["lab"].address
    body = _request(w, record_access=False)
    request_id = bytes.fromhex(body["requestId"][2:])
    registry = w["patient_lab"].contract
    access = registry.functions.recordAccess(
        grantor, w["consent_id"], int(Category.DIAGNOSTIC_REPORT), int(Purpose.TREAT), access_commitment(request_id)
    ).build_transaction({"from": lab_addr, "gas": 200_000, "nonce": w3.eth.get_transaction_count(lab_addr)})
    revoke = registry.functions.revoke(grantor, lab_addr, w["consent_id"]).build_transaction(
        {"from": grantor, "gas": 200_000, "nonce": w3.eth.get_transaction_count(grantor)}
    )
    raws = [
        dev_account("lab").account.sign_transaction(access).raw_transaction,
        w["pseudo"]["lab"].sign_transaction(revoke).raw_transaction,
    ]
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        hashes = [w3.eth.send_raw_transaction(raw) for raw in raws]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    got = [w3.eth.get_transaction_receipt(h) for h in hashes]
    assert got[0]["blockNumber"] == got[1]["blockNumber"] and [r["status"] for r in got] == [1, 1]
    assert got[0]["transactionIndex"] < got[1]["transactionIndex"]  # the access first, then the revoke
    status, refusal = _refused(w, {**body, "accessTx": "0x" + bytes(hashes[0]).hex()})
    assert (status, refusal["reason"]) == (403, "no-consent")
    assert w["store"].disclosures() == []


def test_tampered_record_fails_its_integrity_check(world: dict[str, Any]) -> None:
    w = world
    put = _put(w, LAB_REPORT)
    store: GatewayStore = w["store"]
    # 1. A flipped ciphertext byte: AES-GCM refuses it.
    with store.engine.begin() as c:
        blob = bytearray(c.execute(sa.select(records.c.ciphertext)).scalar_one())
        blob[20] ^= 1
        c.execute(sa.update(records).values(ciphertext=bytes(blob)))
    status, body = _refused(w, _request(w))
    assert (status, body["reason"]) == (500, "integrity") and "tampered" in body["error"]
    # 2. An insider with the keys rewrites the record consistently (new content, re-encrypted,
    # new commitment in the row): the chain's anchor does not know the new commitment.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    rid = put["recordId"]
    entry = store._keys[rid]
    forged = canonical({**LAB_REPORT, "conclusion": "Haemoglobin 7.1 g/dL, transfuse."})
    salt = bytes.fromhex(entry["salt"])
    nonce = os.urandom(12)
    new_blob = nonce + AESGCM(bytes.fromhex(entry["key"])).encrypt(nonce, forged, rid.encode())
    new_commitment = record_commitment(salt, w["pseudo"]["clinic"].address, forged)
    with store.engine.begin() as c:
        c.execute(sa.update(records).values(ciphertext=new_blob, commitment="0x" + new_commitment.hex()))
    status, body = _refused(w, _request(w))
    assert (status, body["reason"]) == (500, "integrity") and "not anchored by this gateway" in body["error"]
    # 3. The requester's own proof: a delivered record altered after delivery fails against the anchor.
    item = {
        "recordId": rid,
        "resource": {**LAB_REPORT, "conclusion": "altered"},
        "salt": "0x" + salt.hex(),
        "commitment": put["commitment"],
    }
    with pytest.raises(NotVerified):
        verify_record(
            w["chain"]["lab"], w["gateway"].anchor.address, w["gateway"].address, w["pseudo"]["clinic"].address, item
        )


def test_erased_record_answers_410_with_its_audit_entry(world: dict[str, Any]) -> None:
    w = world
    put = _put(w, LAB_REPORT)
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = w["http"].delete(f"/records/{put['recordId']}", headers=auth)
    assert r.status_code == 200
    entry = r.json()["erased"]
    assert entry["commitment"] == put["commitment"] and entry["destroyed"] == ["key", "salt", "ciphertext"]
    # Key and salt are gone from the sealed key file; the ciphertext from the database.
    assert put["recordId"] not in w["store"].keyfile.load()
    with w["store"].engine.connect() as c:
        assert c.execute(sa.select(records.c.ciphertext)).scalar_one() is None
    # A read naming the record: 410 with the audit entry; a category read lists it as erased.
    status, body = _refused(w, _request(w, record=put["recordId"]))
    assert (status, body["reason"]) == (410, "erased") and body["erasure"] == entry
    got = _read(w)
    assert got["count"] == 0 and got["erased"] == [entry]
    r = w["http"].get(f"/records/{put['recordId']}", headers=auth)
    assert r.status_code == 410 and r.json()["erasure"] == entry
    # The anchor stays, and links to nothing: no one can recompute it without the salt.
    provider, _ = w["gateway"].anchor.functions.anchorOf(bytes.fromhex(put["commitment"][2:])).call()
    assert provider == w["gateway"].address
    r = w["http"].delete(f"/records/{put['recordId']}", headers=auth)
    assert r.status_code == 400 and "already erased" in r.json()["error"]


def test_break_glass_read_is_served_and_flagged(world: dict[str, Any]) -> None:
    w = world
    _put(w, LAB_REPORT)
    er_acct, p_er = dev_account("er"), w["pseudo"]["er"]
    er_consent = ConsentClient(w["chain"]["er"], w["deployment"])
    bg_id, _ = er_consent.break_glass(p_er.address, Purpose.ETREAT, b"\x01" * 32, b"\x02" * 32)
    er = GatewayReader(w["chain"]["er"], w["deployment"], http=w["http"])
    link = make_link(
        w["pseudo"]["clinic"],
        gateway=w["gateway"].address,
        grantor=p_er.address,
        requester=er_acct.address,
        expires=er_consent.chain_time() + 3600,
        chain_id=w["gateway"].chain.chain_id,
    )
    got = er.read(
        URL, w["pseudo"]["clinic"].address, Category.DIAGNOSTIC_REPORT, Purpose.ETREAT, grantor=p_er.address, link=link
    )
    assert got["breakGlass"] is True and got["consentId"] == str(bg_id) and got["count"] == 1
    assert w["store"].disclosures()[-1]["breakGlass"] is True
    # No window on the lab pseudonym: refused with the reason.
    lab_link = make_link(
        w["pseudo"]["clinic"],
        gateway=w["gateway"].address,
        grantor=w["pseudo"]["lab"].address,
        requester=er_acct.address,
        expires=er_consent.chain_time() + 3600,
        chain_id=w["gateway"].chain.chain_id,
    )
    with pytest.raises(GatewayRefused) as exc:
        er.read(
            URL,
            w["pseudo"]["clinic"].address,
            Category.DIAGNOSTIC_REPORT,
            Purpose.ETREAT,
            grantor=w["pseudo"]["lab"].address,
            link=lab_link,
        )
    assert (exc.value.status, exc.value.reason) == (403, "no-break-glass")


def test_pointer_string_and_fhir_endpoint(world: dict[str, Any]) -> None:
    w = world
    p = w["pseudo"]["clinic"].address
    text = pointer_string("https://gw.riverside.example/fhir", p)
    assert parse_pointer(text) == ("https://gw.riverside.example/fhir", p)
    ep = endpoint_resource("https://gw.riverside.example/fhir", p, holder=w["gateway"].address)
    assert ep["resourceType"] == "Endpoint" and ep["identifier"][0]["value"] == p
    info = w["http"].get("/.well-known/careledger-gateway").json()
    assert info["gateway"] == w["gateway"].address and info["recordAnchor"] == w["gateway"].anchor.address


def test_events_alone_rebuild_the_anchors(net: dict[str, Any], world: dict[str, Any]) -> None:
    from careledger.gateway import replay
    from careledger.indexer import DecodedEvent, Reads

    w = world
    put = _put(w, LAB_REPORT)
    w3, anchor = net["w3"], w["gateway"].anchor
    state: dict[str, Any] = {}
    for log in anchor.events.RecordAnchored().get_logs(from_block=0):
        ts = int(w3.eth.get_block(log["blockNumber"])["timestamp"])
        replay.reduce(
            state,
            DecodedEvent(
                "RecordAnchor", "RecordAnchored", dict(log["args"]), log["blockNumber"], log["logIndex"], "", ts
            ),
        )
    assert state["anchors"][bytes.fromhex(put["commitment"][2:])][0] == w["gateway"].address
    reads = Reads(w["chain"]["admin"], w["deployment"], net["artifacts"])
    assert replay.verify(state, reads) == []
    # A log that lied (another provider) is caught by the comparison with the chain.
    first = next(iter(state["anchors"]))
    state["anchors"][first] = (dev_account("lab").address, state["anchors"][first][1])
    assert len(replay.verify(state, reads)) == 1


def _cli(net: dict[str, Any], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    from careledger.cli.main import run

    capsys.readouterr()
    code = run(["--rpc", net["rpc"], "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def test_cli_put_pointer_erase_and_refusals(
    net: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELEDGER_GATEWAY_PASSPHRASE", "cli test passphrase")
    store = ["--db", str(tmp_path / "cli.sqlite"), "--keys", str(tmp_path / "cli.keys")]
    p = net["pseudo"]["clinic"].address
    good, bad = tmp_path / "report.json", tmp_path / "bad.json"
    good.write_text(json.dumps(LAB_REPORT))
    bad.write_text(json.dumps({"resourceType": "DiagnosticReport"}))
    code, out, _ = _cli(net, capsys, "gateway", "put", str(good), "--pseudonym", p, *store)
    assert code == 0 and out["status"] == "stored" and out["anchorTx"].startswith("0x")
    code, out2, _ = _cli(net, capsys, "gateway", "put", str(bad), "--pseudonym", p, *store)
    assert code == 2 and out2["error"].startswith("invalid FHIR R4 DiagnosticReport")
    code, ptr, _ = _cli(net, capsys, "gateway", "pointer", "https://gw.example", "--pseudonym", p)
    assert code == 0 and parse_pointer(ptr["pointer"]) == ("https://gw.example", p)
    code, ep, _ = _cli(net, capsys, "gateway", "pointer", "https://gw.example", "--pseudonym", p, "--fhir")
    assert code == 0 and ep["resourceType"] == "Endpoint"
    code, erased, _ = _cli(net, capsys, "gateway", "erase", out["recordId"], *store)
    assert code == 0 and erased["commitment"] == out["commitment"]
    code, again, _ = _cli(net, capsys, "gateway", "erase", out["recordId"], *store)
    assert code == 2 and "already erased" in again["error"]
    monkeypatch.delenv("CARELEDGER_GATEWAY_TOKEN", raising=False)
    code, refused, _ = _cli(net, capsys, "gateway", "serve", *store)
    assert code == 2 and "CARELEDGER_GATEWAY_TOKEN" in refused["error"]


def test_served_over_http_and_read_with_the_cli(
    net: dict[str, Any],
    world: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`careledger gateway serve` as a real process (uvicorn on loopback), a record filed over
    HTTP with the admin token, and `careledger gateway read POINTER --link` as the lab."""
    import subprocess
    import sys
    import time

    import requests

    port = free_port()
    env = {
        **os.environ,
        "CARELEDGER_GATEWAY_TOKEN": TOKEN,
        "CARELEDGER_GATEWAY_PASSPHRASE": "served test passphrase",
    }
    store = ["--db", str(tmp_path / "served.sqlite"), "--keys", str(tmp_path / "served.keys")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "careledger.cli", "--rpc", net["rpc"], "gateway", "serve", "--port", str(port), *store],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"gateway did not come up: {proc.stderr.read() if proc.stderr else ''}")
        r = requests.post(
            f"{base}/records",
            json={"pseudonym": _holder(world), "resource": LAB_REPORT},
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        link_file = tmp_path / "link.json"
        link_file.write_text(json.dumps(world["link"].to_json()))
        pointer = pointer_string(base, _holder(world))
        code, out, _ = _cli(
            net,
            capsys,
            "--account",
            "lab",
            "gateway",
            "read",
            pointer,
            "--category",
            "DIAGNOSTIC_REPORT",
            "--grantor",
            world["pseudo"]["lab"].address,
            "--link",
            str(link_file),
        )
        assert code == 0, out
        assert out["count"] == 1 and out["records"][0]["resource"] == LAB_REPORT
        assert out["records"][0]["recordId"] == r.json()["recordId"]
        # Without the link (grantor differs from the pseudonym): refused, one JSON error, exit 1.
        code, out, _ = _cli(
            net,
            capsys,
            "--account",
            "lab",
            "gateway",
            "read",
            pointer,
            "--category",
            "DIAGNOSTIC_REPORT",
            "--grantor",
            world["pseudo"]["lab"].address,
        )
        assert code == 1 and "bad-link" in out["error"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _holder(world: dict[str, Any]) -> str:
    return str(world["pseudo"]["clinic"].address)
