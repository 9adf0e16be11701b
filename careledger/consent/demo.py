"""Consent story for ``make demo``: gasless grant, logged read, refused lab, revocation,
break-glass, the patient's review, a payment consent for the claims story, and erasure.

The demo's health data (``DEMO_PHI``) lives only in the encrypted off-chain record store; the
test suite scans every event and calldata of this story for those strings.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from careledger._extras import needs_extra
from careledger.accounts import dev_person
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.records import RecordStore
from careledger.consent.relay import RateLimiter, create_app
from careledger.consent.terms import GrantTerms, mask
from careledger.demo.framework import DemoEnv, Story
from careledger.demo.phi import CONSENT_STORY_PHI

with needs_extra("demo", "the consent demo story (it drives the relayer in process)"):
    import httpx  # noqa: F401 - TestClient's transport; imported here so its absence names the extra
    from fastapi.testclient import TestClient

__all__ = ["DEMO_PHI", "story"]

# Health data of the demo patient. None of these strings may ever reach the chain.
DEMO_PHI: tuple[str, ...] = tuple(CONSENT_STORY_PHI.values())
DAY = 86_400
DEMO_PASSPHRASE = "devnet demo only: not a secret"
"""The demo's record key-file passphrase (a throwaway devnet store; real stores take it from
``$CARELEDGER_RECORDS_PASSPHRASE`` or a prompt)."""

_CONSENT_DOC = (
    "Consent to share records. Patient: Jane Q. Doe (DOB 1984-03-12, MRN-0048213). I allow Riverside "
    "Clinic to use my laboratory results, conditions and medications for my treatment for 30 days."
)
_LAB_RESULT = "Patient Jane Q. Doe, MRN-0048213. HbA1c 6.1 % (2026-11-02). Dx: Type 2 diabetes mellitus."
_ER_NOTE = "Unconscious on arrival; family reports Type 2 diabetes mellitus, metformin 500 mg. Jane Q. Doe."


def _relay(env: DemoEnv, client: ConsentClient) -> Any:
    """The relay app, in process (same code as 'careledger relay serve'), signing as the relayer."""
    return TestClient(create_app(client.with_chain(env.signer("relayer")), RateLimiter(limit=10, window=60)))


def story(env: DemoEnv) -> Story:
    s = Story("Consent registry: patient-controlled, time-bound, audited access")
    clinic, lab, er, insurer = (env.who(n).address for n in ("clinic", "lab", "er", "insurer"))
    # One person, one secret, one pairwise pseudonym per counterparty: the clinic, the lab, the
    # ER and the health plan each see a different address, and nothing on chain joins them.
    person = dev_person("patient")
    patient_key = person.pseudonym(clinic)
    patient = patient_key.address  # the address the clinic knows
    at_lab, at_er, plan = (person.address_for(x) for x in (lab, er, insurer))
    pseudonyms = [patient, at_lab, at_er, plan]
    as_clinic = ConsentClient(env.signer("clinic"), env.deployment)
    as_lab = as_clinic.with_chain(env.signer("lab"))
    as_er = as_clinic.with_chain(env.signer("er"))
    relay = _relay(env, as_clinic)
    store = RecordStore(env.workdir / "records", passphrase=DEMO_PASSPHRASE)
    balances_before = [env.w3.eth.get_balance(Web3.to_checksum_address(a)) for a in pseudonyms]

    # 1. Gasless grant: the patient signs, the relay validates and pays.
    doc = store.store(_CONSENT_DOC.encode())
    now = as_clinic.chain_time()
    treatment = GrantTerms(
        grantee=clinic,
        valid_until=now + 30 * DAY,
        document=doc.commitment,
        categories=mask([Category.OBSERVATION, Category.CONDITION, Category.MEDICATION, Category.DIAGNOSTIC_REPORT]),
        purposes=mask([Purpose.TREAT]),
    )
    out = as_clinic.acting_as(patient_key, relayed=True).act("grant", relay=relay, terms=treatment)
    treat_id = out.consent_id or 0
    s.check(
        "patient",
        "signs a 30-day treatment consent for Riverside Clinic with her pseudonym for the clinic; "
        "the relay submits it, sponsored by the clinic",
        f"consent {treat_id:#x}, {out.gas_used:,} gas paid by the relayer",
        out.sponsor == clinic,
    )

    # 2. The clinic checks and reads; the read is logged against the consent.
    allowed, cid = as_clinic.can_access(patient, clinic, Category.OBSERVATION, Purpose.TREAT)
    s.check(
        "clinic", "asks: may I read the lab results for treatment?", f"allowed={allowed}", allowed and cid == treat_id
    )
    lab_record = store.store(_LAB_RESULT.encode())
    env.shared["consent_demo_record"] = lab_record.record_id
    s.check(
        "clinic",
        "decrypts the lab result from the off-chain store",
        "content matches its commitment",
        store.read(lab_record.record_id) == _LAB_RESULT.encode(),
    )
    s.done(
        "clinic",
        "records the read (record commitment only)",
        as_clinic.record_access(patient, treat_id, Category.OBSERVATION, Purpose.TREAT, lab_record.commitment),
    )

    # 3. A lab without consent is refused.
    s.check(
        "lab",
        "asks the same question about the address it knows for her, without a consent",
        "not allowed",
        not as_lab.can_access(at_lab, lab, Category.OBSERVATION, Purpose.TREAT)[0]
        and not as_lab.can_access(patient, lab, Category.OBSERVATION, Purpose.TREAT)[0],
    )
    s.refused(
        "lab",
        "tries to record an access anyway",
        "NoActiveConsent",
        lambda: as_lab.record_access(at_lab, treat_id, Category.OBSERVATION, Purpose.TREAT, lab_record.commitment),
    )

    # 4. The patient revokes (gasless again); the clinic is refused from then on.
    out = as_clinic.acting_as(patient_key, relayed=True).act("revoke", relay=relay, grantee=clinic, consent_id=treat_id)
    s.check(
        "patient", "revokes the clinic's consent (signed, relayed)", f"{out.gas_used:,} gas paid by the relayer", True
    )
    s.refused(
        "clinic",
        "reads again after the revocation",
        "NoActiveConsent",
        lambda: as_clinic.record_access(patient, treat_id, Category.OBSERVATION, Purpose.TREAT, lab_record.commitment),
    )

    # 5. Emergency: the ER breaks the glass.
    note = store.store(_ER_NOTE.encode())
    encounter = store.store(b"ED encounter 2026-11-30, triage level 1, Jane Q. Doe")
    bg_id, receipt = as_er.break_glass(at_er, Purpose.ETREAT, note.commitment, encounter.commitment)
    s.done(
        "er",
        "breaks the glass (ETREAT) for an unconscious patient (her pseudonym for the ER, from her card), "
        "tied to the encounter: a 4-hour window",
        receipt,
    )
    s.done(
        "er",
        "records the emergency read of the medication list",
        as_er.record_access(at_er, bg_id, Category.MEDICATION, Purpose.ETREAT, lab_record.commitment),
    )

    # 6. The patient reviews one combined log of all her pseudonyms, and marks the break-glass reviewed.
    log = as_clinic.history(pseudonyms)
    kinds = [e.event for e in log]
    accesses = [e for e in log if e.event == "AccessRecorded"]
    glass = [e for e in log if e.event == "BreakGlassOpened"]
    s.check(
        "patient",
        "reviews the audit log",
        f"{len(log)} entries: {len(accesses)} accesses, "
        f"{len(glass)} break-glass by {glass[0].args['provider'] if glass else '-'}",
        kinds == ["ConsentGranted", "AccessRecorded", "ConsentRevoked", "BreakGlassOpened", "AccessRecorded"]
        and [a.args["grantee"] for a in accesses] == [clinic, er]
        and glass[0].args["reason"] == Purpose.ETREAT,
    )
    unreviewed = as_clinic.unreviewed_break_glass(pseudonyms)
    out = as_clinic.acting_as(person.pseudonym(er), relayed=True).act(
        "review_break_glass", relay=relay, provider=er, seq=1
    )
    s.check(
        "patient",
        "marks the ER's break-glass reviewed (signed, relayed)",
        f"{len(unreviewed)} unreviewed before, {len(as_clinic.unreviewed_break_glass(pseudonyms))} after",
        len(unreviewed) == 1 and not as_clinic.unreviewed_break_glass(pseudonyms) and out.sponsor == er,
    )

    # 7. Payment consent for the claims story: the clinic may bill with the financial data.
    payment = GrantTerms(
        grantee=clinic,
        valid_until=as_clinic.chain_time() + 365 * DAY,
        categories=mask([Category.FINANCIAL]),
        purposes=mask([Purpose.HPAYMT]),
    )
    out = as_clinic.acting_as(person.pseudonym(insurer), relayed=True).act("grant", relay=relay, terms=payment)
    pay_id = out.consent_id or 0
    ok, got = as_clinic.can_access(plan, clinic, Category.FINANCIAL, Purpose.HPAYMT)
    s.check(
        "patient",
        "lets the clinic bill her plan (FINANCIAL for HPAYMT, one year), as her plan pseudonym",
        f"consent {pay_id:#x} from {plan}",
        ok and got == pay_id and plan != patient,
    )
    env.shared["consent_registry"] = as_clinic.address
    env.shared["consent_payment"] = {
        "registry": as_clinic.address,
        "patient": plan,
        "grantee": clinic,
        "consentId": pay_id,
        "category": int(Category.FINANCIAL),
        "purpose": int(Purpose.HPAYMT),
    }

    # 8. Gasless really means gasless; and erasure leaves the chain pointing at nothing.
    s.check(
        "patient",
        "holds the same ether on every pseudonym as before the story",
        "paid no gas",
        [env.w3.eth.get_balance(Web3.to_checksum_address(a)) for a in pseudonyms] == balances_before,
    )
    tomb = store.erase(lab_record.record_id)
    s.check(
        "patient",
        "has the lab result erased (key and salt destroyed)",
        f"tombstone; commitment {tomb['commitment'][:12]}... links to nothing",
        (store.find(lab_record.commitment) or {}).get("status") == "erased",
    )
    env.shared["consent_pseudonyms"] = pseudonyms
    s.notes.append(
        "On chain: pairwise pseudonymous addresses (one per organisation), codes, periods and salted "
        "commitments only; the consent document and the records stay encrypted off chain."
    )
    return s
