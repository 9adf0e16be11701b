"""Record gateway benchmark (issue #19): gas of anchoring one record (``gateway.anchor``) against
its floor, and served reads per second: a signed read request through the gateway's HTTP app (in
process), each with its access already recorded on chain by the requester (the requester's
transaction, not the gateway's work, so it is sent before the clock starts). A read is: signature
recovery, pointer link check, replay claim, directory check, ``canAccess`` (twice: before and
after the access record), the ``AccessRecorded`` receipt check, decrypting and verifying the
record against its commitment and its anchor, and ECIES re-encryption to the requester's key.
The naive figure is the same reads with the gateway's anchor cache cleared before each one (one
more ``anchorOf`` call per record)."""

from __future__ import annotations

import time
from typing import Any

from web3.types import TxReceipt

from bench.harness import BenchEnv, BenchResult, Throughput
from careledger.accounts import dev_person
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.terms import GrantTerms, mask
from careledger.gateway.app import Gateway, create_app
from careledger.gateway.client import GatewayReader, make_link
from careledger.gateway.store import GatewayStore

TOKEN = "bench-gateway-admin-token"
REPORT: dict[str, Any] = {
    "resourceType": "DiagnosticReport",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2", "display": "CBC panel"}]},
    "conclusion": "Haemoglobin 13.9 g/dL; white cells 6.1 x10^9/L; platelets 250 x10^9/L.",
}

# Gas the EVM cannot avoid for one anchor: the intrinsic transaction, its calldata, one new
# storage slot (20,000 + 2,100 cold), and a LOG3 with no data (375 + 3 x 375).
_NEW_SLOT = 22_100
_LOG3 = 1_500


def _calldata_gas(data: bytes) -> int:
    return sum(16 if b else 4 for b in data)


def run(env: BenchEnv) -> BenchResult:
    from fastapi.testclient import TestClient

    w3 = env.w3
    clinic, lab = env.signer("clinic"), env.signer("lab")
    store = GatewayStore(env.workdir / "gateway.sqlite", env.workdir / "gateway.keys", "bench passphrase")
    gateway = Gateway(clinic, env.deployment, store)
    http = TestClient(create_app(gateway, TOKEN))
    person = dev_person("patient")
    p_clinic = person.pseudonym(clinic.account.address)  # type: ignore[union-attr]
    p_lab = person.pseudonym(lab.account.address)  # type: ignore[union-attr]
    w3.provider.make_request("anvil_setBalance", [p_lab.address, hex(10**18)])  # type: ignore[arg-type]

    # ------------------------------------------------------------ anchor gas
    anchors: list[int] = []
    puts = 5 if env.quick else 20
    last: dict[str, Any] = {}
    for i in range(puts):
        last = gateway.put(p_clinic.address, {**REPORT, "id": f"r{i}"})
        anchors.append(int(last["gasUsed"]))
    tx = w3.eth.get_transaction(last["anchorTx"])
    floor = 21_000 + _calldata_gas(bytes(tx["input"])) + _NEW_SLOT + _LOG3
    # Only one record in the category the reads ask for (the others are anchored, then erased).
    for rec in store.held(p_clinic.address)[1:]:
        store.erase(rec.record_id, clinic.account.address, "bench: one record per read")  # type: ignore[union-attr]

    # ------------------------------------------------------------ reads per second
    patient_lab = ConsentClient(env.signer("admin").with_account(p_lab), env.deployment)
    now = patient_lab.chain_time()
    lab_addr = lab.account.address  # type: ignore[union-attr]
    patient_lab.grant(GrantTerms(lab_addr, mask([Category.DIAGNOSTIC_REPORT]), mask([Purpose.TREAT]), now + 86_400))
    link = make_link(
        p_clinic,
        gateway=gateway.address,
        grantor=p_lab.address,
        requester=lab_addr,
        expires=now + 86_400,
        chain_id=clinic.chain_id,
    )
    reader = GatewayReader(lab, env.deployment, http=http)
    ops = 40 if env.quick else 200

    def prepared(n: int) -> list[dict[str, Any]]:
        return [
            reader.request(
                "http://testserver",
                p_clinic.address,
                Category.DIAGNOSTIC_REPORT,
                Purpose.TREAT,
                grantor=p_lab.address,
                link=link,
            )
            for _ in range(n)
        ]

    def serve(bodies: list[dict[str, Any]], cold: bool) -> float:
        t0 = time.perf_counter()
        for body in bodies:
            if cold:
                gateway._anchored.clear()
            r = http.post("/read", json=body)
            if r.status_code != 200 or r.json()["count"] != 1:
                raise RuntimeError(f"bench read refused: {r.status_code} {r.text[:200]}")
        return len(bodies) / (time.perf_counter() - t0)

    warm = serve(prepared(ops), cold=False)
    naive = serve(prepared(max(20, ops // 4)), cold=True)
    # The lab opens one delivery, to show it decrypts and verifies (not timed).
    opened = reader.open(http.post("/read", json=prepared(1)[0]).json())
    if len(opened) != 1 or opened[0]["resource"]["conclusion"] != REPORT["conclusion"]:
        raise RuntimeError("the lab could not open and verify the delivery")
    access_gas: list[int] = []
    for body in prepared(3):
        receipt: TxReceipt = w3.eth.get_transaction_receipt(body["accessTx"])
        access_gas.append(int(receipt["gasUsed"]))

    return BenchResult(
        gas={
            "gateway.anchor": anchors[-1],
            "gateway.anchor_first": anchors[0],
            "gateway.read_access_record": access_gas[-1],
        },
        floor={"gateway.anchor": floor},
        throughput={
            "gateway.read": Throughput(
                warm,
                naive,
                ops,
                {
                    "records_per_read": 1,
                    "naive": "anchor cache cleared before each read",
                    "path": "HTTP app in process",
                },
            )
        },
        notes=[
            f"anchor gas over {puts} anchors: min {min(anchors):,}, max {max(anchors):,} (floor {floor:,}: "
            f"21,000 intrinsic + calldata + 22,100 new slot + 1,500 LOG3)",
            f"the requester's recordAccess per read: {access_gas[-1]:,} gas (paid by the requester)",
        ],
    )
