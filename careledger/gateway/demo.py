"""Record gateway story for ``make demo`` (issue #19): Riverside Clinic's gateway holds the
patient's lab report; St Mary's (the specialist she is referred to) reads it under her consent;
Northgate Laboratory, without consent, is refused; after she revokes, St Mary's is refused too;
her access log shows St Mary's reads, and her holder list comes from her own pointers.

The report's text (``DEMO_PHI``) lives only in the gateway's encrypted store and in the
specialist's decrypted copy; the demo audit scans every calldata byte, event and storage slot for
it.
"""

from __future__ import annotations

from typing import Any

from careledger._extras import needs_extra
from careledger.accounts import dev_person
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.relay import RateLimiter
from careledger.consent.relay import create_app as relay_app
from careledger.consent.terms import GrantTerms, mask
from careledger.demo.framework import DemoEnv, Story
from careledger.demo.phi import DEMO_PHI
from careledger.gateway.app import Gateway, create_app
from careledger.gateway.client import GatewayReader, GatewayRefused, make_link
from careledger.gateway.protocol import parse_pointer, pointer_string
from careledger.gateway.store import GatewayStore

with needs_extra("demo", "the gateway demo story (it drives the gateway and relayer in process)"):
    import httpx  # noqa: F401 - TestClient's transport; imported here so its absence names the extra
    from fastapi.testclient import TestClient

__all__ = ["story"]

DAY = 86_400
URL = "http://testserver"  # the in-process gateway (TestClient's host)
DEMO_PASSPHRASE = "devnet demo only: not a secret"
DEMO_TOKEN = "devnet-demo-gateway-admin-token"
LAB_REPORT: dict[str, Any] = {
    "resourceType": "DiagnosticReport",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]},
    "subject": {"display": DEMO_PHI["patient_name"]},
    "conclusion": DEMO_PHI["record_text"],
}


def _refused(reader: GatewayReader, reason: str, *args: Any, **kw: Any) -> tuple[bool, str]:
    try:
        reader.read(*args, **kw)
    except GatewayRefused as exc:
        return exc.reason == reason, f"{exc.status} {exc.reason}"
    return False, "NOT refused"


def story(env: DemoEnv) -> Story:
    s = Story("Record gateway: a lab report moves only under consent")
    clinic, lab, er = (env.who(n).address for n in ("clinic", "lab", "er"))
    person = dev_person("patient")
    at_clinic, at_er, at_lab = (person.pseudonym(x) for x in (clinic, er, lab))
    gateway = Gateway(
        env.signer("clinic"),
        env.deployment,
        GatewayStore(env.workdir / "gateway.sqlite", env.workdir / "gateway.keys", DEMO_PASSPHRASE),
    )
    http = TestClient(create_app(gateway, DEMO_TOKEN))
    consent = ConsentClient(env.signer("er"), env.deployment)
    relay = TestClient(relay_app(consent.with_chain(env.signer("relayer")), RateLimiter(limit=10, window=60)))

    # 1. The clinic files the lab report: validated, encrypted, its salted commitment anchored.
    r = http.post(
        "/records",
        json={"pseudonym": at_clinic.address, "resource": LAB_REPORT},
        headers={"authorization": f"Bearer {DEMO_TOKEN}"},
    )
    put = r.json()
    s.check(
        "clinic",
        "files the HbA1c report in its gateway under her clinic pseudonym; anchors the salted commitment",
        f"record {put.get('recordId')}, anchor {put.get('gasUsed', 0):,} gas",
        r.status_code == 201 and put["category"] == "DIAGNOSTIC_REPORT",
    )

    # 2. She consents (gasless) from the pseudonym St Mary's knows, and hands over a pointer and link.
    now = consent.chain_time()
    terms = GrantTerms(er, mask([Category.DIAGNOSTIC_REPORT]), mask([Purpose.TREAT]), now + 30 * DAY)
    out = consent.acting_as(at_er, relayed=True).act("grant", relay=relay, terms=terms)
    consent_id = out.consent_id or 0
    pointer = pointer_string("https://gateway.riverside.example", at_clinic.address)
    link = make_link(
        at_clinic,
        gateway=gateway.address,
        grantor=at_er.address,
        requester=er,
        expires=now + 30 * DAY,
        chain_id=consent.chain.chain_id,
    )
    s.check(
        "patient",
        "consents St Mary's to her lab reports for treatment (her St Mary's pseudonym, signed, relayed) "
        "and hands it the clinic pointer with a link signed by her clinic pseudonym",
        f"consent {consent_id:#x}; pointer {pointer[:44]}…",
        out.sponsor == er and parse_pointer(pointer)[1] == at_clinic.address,
    )

    # 3. The specialist reads twice: each read recorded by itself on chain, delivered encrypted to its key.
    specialist = GatewayReader(env.signer("er"), env.deployment, http=http)
    reads = []
    for what in ("reads the report for the referral", "reads it again before the visit"):
        got = specialist.read(
            URL, at_clinic.address, Category.DIAGNOSTIC_REPORT, Purpose.TREAT, grantor=at_er.address, link=link
        )
        reads.append(got)
        s.check(
            "er",
            f"{what}: records its access, decrypts with its key, proves the record against the anchor",
            f"{got['count']} record, consent {int(got['consentId']):#x}",
            got["count"] == 1 and got["records"][0]["resource"] == LAB_REPORT,
        )

    # 4. A lab without consent is refused, with the reason.
    lab_link = make_link(
        at_clinic,
        gateway=gateway.address,
        grantor=at_lab.address,
        requester=lab,
        expires=now + DAY,
        chain_id=consent.chain.chain_id,
    )
    ok, outcome = _refused(
        GatewayReader(env.signer("lab"), env.deployment, http=http),
        "no-consent",
        URL,
        at_clinic.address,
        Category.DIAGNOSTIC_REPORT,
        Purpose.TREAT,
        grantor=at_lab.address,
        link=lab_link,
    )
    s.check("lab", "asks the clinic's gateway for the report without her consent", outcome, ok)

    # 5. She revokes; St Mary's is refused from then on.
    consent.acting_as(at_er, relayed=True).act("revoke", relay=relay, grantee=er, consent_id=consent_id)
    ok, outcome = _refused(
        specialist,
        "no-consent",
        URL,
        at_clinic.address,
        Category.DIAGNOSTIC_REPORT,
        Purpose.TREAT,
        grantor=at_er.address,
        link=link,
    )
    s.check("er", "asks again after she revoked (signed, relayed)", outcome, ok)

    # 6. Her access log shows both reads; her holders come from her own pointers, not the chain.
    log = consent.history([at_er.address], ("AccessRecorded",))
    mine = [e for e in log if e.args["grantee"] == er and int(e.args["consentId"]) == consent_id]
    s.check(
        "patient",
        "reviews her access log (her St Mary's pseudonym)",
        f"{len(mine)} reads by St Mary's, lab reports for treatment",
        len(mine) == 2 and {int(e.args["category"]) for e in mine} == {int(Category.DIAGNOSTIC_REPORT)},
    )
    holders = sorted({parse_pointer(p)[0] for p in (pointer,)})
    s.check(
        "patient",
        "lists who holds her records, from the pointers she keeps",
        ", ".join(holders),
        holders == ["https://gateway.riverside.example"],
    )
    s.notes.append(
        "On chain: the anchor (a commitment only: no patient, category or content), her consent to St Mary's "
        "and St Mary's two AccessRecorded; nothing joins her St Mary's pseudonym to her clinic pseudonym."
    )
    return s
