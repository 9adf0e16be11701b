"""Demo story: an insurer's plan with a code key and a rule table, a member enrolled under the
plan's card pseudonym (the person's pairwise pseudonym for the insurer, by her own signature; not
the addresses she uses for consents with her care providers; gasless: signed, relayed), claims
that settle by the rules, one that an adjuster partially approves, refusals (duplicate, no
consent, recalled drug), and a pharmacy claim citing the unit the provenance story dispensed.
Codes and service dates never reach the chain: the plan's network maps them to keyed digests and
plan years locally."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from careledger.accounts import dev_person
from careledger.claims._consent import CONSENT_REGISTRY, payment_consent
from careledger.claims.client import ClaimsClient, fhir_commitment
from careledger.claims.fhir import claim_response, validate
from careledger.claims.keys import PlanContext
from careledger.claims.types import (
    PLAN_YEAR,
    Carc,
    ClaimStatus,
    CodeKey,
    CoverageRule,
    Decision,
    PlanTerms,
    day_of,
)
from careledger.codes import Category, Purpose, mask_of
from careledger.consent.client import ConsentClient
from careledger.consent.terms import GrantTerms
from careledger.demo.framework import DemoEnv, Story

__all__ = ["DEMO_RULES", "DEMO_TERMS", "USD", "story"]

USD = 1_000_000  # dtUSD has 6 decimals
OFFICE, MRI, DRUG = "CPT:99213", "CPT:70551", "NDC:0002-1433-80"
DEMO_TERMS = PlanTerms(
    deductible=100 * USD, annual_max=10_000 * USD, auto_approve_limit=500 * USD, appeal_window=30 * 86_400
)
DEMO_RULES = {  # readable codes: the chain sees them only as the plan's keyed digests
    OFFICE: CoverageRule(covered=True, coinsurance_bps=2_000, copay=20 * USD),
    MRI: CoverageRule(covered=True, pre_auth=True, coinsurance_bps=2_000),
    DRUG: CoverageRule(covered=True, requires_unit=True, copay=10 * USD),
}
PERSON = "patient"  # the member: her card for the plan is her pairwise pseudonym for the insurer


def _commit(kind: str) -> bytes:
    # The FHIR Claim itself stays with the provider; the chain gets a salted commitment.
    return fhir_commitment(f'{{"resourceType":"Claim","id":"{kind}"}}'.encode(), secrets.token_bytes(16))


def story(env: DemoEnv) -> Story:
    st = Story("Insurance claims: plan, consent, rule adjudication, review, payouts")
    insurer = ClaimsClient(env.signer("insurer"), env.deployment)
    clinic = ClaimsClient(env.signer("clinic"), env.deployment)
    lab = ClaimsClient(env.signer("lab"), env.deployment)
    pharmacy = ClaimsClient(env.signer("pharmacy"), env.deployment)
    person = dev_person(PERSON)
    c_addr, l_addr, p_addr = env.who("clinic").address, env.who("lab").address, env.who("pharmacy").address
    now = int(env.w3.eth.get_block("latest")["timestamp"])
    today = day_of(now)
    # The plan pseudonym (the address on her card): what the claims chain knows of the member.
    card_key = person.pseudonym(env.who("insurer").address)
    card = card_key.address

    terms = replace(DEMO_TERMS, period_start=(today - 30) * 86_400, period_length=PLAN_YEAR)
    plan_id, r = insurer.create_plan(terms)
    st.done("insurer", f"create plan {plan_id}: deductible 100, annual max 10,000, auto-approve up to 500 dtUSD", r)
    key = CodeKey(secrets.token_bytes(32))  # shared off chain with the plan's network
    ctx = PlanContext(plan_id, key, terms)
    gtin = int(env.shared.get("dispensed_unit", {}).get("gtin", 0) or 0)
    table = {ctx.code(c): rule for c, rule in DEMO_RULES.items()}
    bindings = {ctx.code(DRUG): key.gtin_binding(plan_id, DRUG, gtin)} if gtin else {}
    st.done(
        "insurer",
        "rule table 1 (keyed code digests): office visit, MRI (pre-auth), a drug bound to its GTIN",
        insurer.coverage_now(plan_id, key.key_id, table, bindings)[2],
    )
    insurer.mint_test_tokens(env.who("insurer").address, 50_000 * USD)
    st.done(
        "insurer", "fund the plan's pool with 50,000 dtUSD (devnet test token)", insurer.fund(plan_id, 50_000 * USD)
    )
    record = _commit("member-record")
    deadline = now + 7 * 86_400  # a week for the member to agree
    signature = insurer.sign_enrolment(card_key, plan_id, record, 0, 0, deadline)  # off chain: no ether needed
    _, r = insurer.enrol(plan_id, card, record, 0, 0, deadline, signature)
    st.done("insurer", "enrol the member's plan pseudonym (her signature, given off chain) for plan year 0", r)

    if env.deployment.contracts.get(CONSENT_REGISTRY) is None:
        st.check("patient", "grant payment consent", "consent registry not deployed", False)
        return st
    relayer = ConsentClient(env.signer("relayer"), env.deployment)
    for name, addr in (("clinic", c_addr), ("pharmacy", p_addr)):
        allowed, _ = payment_consent(env.reader(), env.deployment, card, addr)
        if allowed:  # the consent story's patient already let the clinic bill her plan
            continue
        terms_ = GrantTerms(
            grantee=addr,
            categories=mask_of(Category.FINANCIAL),
            purposes=mask_of(Purpose.HPAYMT),
            valid_until=now + 365 * 86_400,
        )
        st.done(
            "member (plan pseudonym)",
            f"consent: {name} may see FINANCIAL data for HPAYMT (payment), signed by her card, relayed",
            relayer.submit(relayer.sign(card_key, "grant", terms=terms_)),
        )
    st.check(
        "member",
        "her care pseudonyms' consents do not open claims for the card (and no consent of the card opens care)",
        "separate addresses",
        card not in {person.address_for(env.who(n).address) for n in ("clinic", "lab", "er", "pharmacy")},
    )

    small = ctx.request(card, c_addr, today - 1, (ctx.line(OFFICE, 1, 180 * USD),), _commit("small"))
    res = clinic.submit(small)
    st.check(
        "clinic",
        "submit a 180 dtUSD office visit",
        f"{res.status.name}, pays {res.amount / USD:g} (gas {res.gas_used:,})",
        res.status == ClaimStatus.APPROVED and res.amount == 48 * USD,
    )
    info = clinic.info(small.claim_id)
    st.check(
        "rules",
        "deductible applied first: 100, then copay 20, then 20 % coinsurance of 60",
        f"deductible {info.deductible / USD:g}, benefit {info.amount / USD:g}",
        info.deductible == 100 * USD,
    )
    r = clinic.pay(small.claim_id)
    st.check(
        "clinic",
        "collect the payout from the pool",
        f"balance {clinic.balance_of(c_addr) / USD:g} dtUSD",
        clinic.balance_of(c_addr) >= 48 * USD and r["status"] == 1,
    )

    large = ctx.request(card, c_addr, today - 2, (ctx.line(MRI, 1, 1_200 * USD),), _commit("large"))
    res = clinic.submit(large)
    st.check(
        "clinic",
        "submit a 1,200 dtUSD MRI (pre-auth, above the auto limit)",
        res.status.name,
        res.status == ClaimStatus.PENDING_REVIEW,
    )
    rules_say = insurer.quote(card, large.service_period, large.lines).benefit
    r = insurer.review(large.claim_id, Decision.PARTIALLY_APPROVE, 700 * USD, int(Carc.NOT_MEDICALLY_NECESSARY))
    st.done("insurer (adjuster)", f"partially approve: 700 of the {rules_say / USD:g} the rules allow (CARC 50)", r)
    st.check(
        "insurer",
        "the large claim's status",
        insurer.status(large.claim_id).name,
        insurer.status(large.claim_id) == ClaimStatus.PARTIALLY_APPROVED,
    )

    st.refused(
        "clinic",
        "submit the same visit again (same member, provider, day: the same episode digest)",
        "DuplicateClaim",
        lambda: clinic.submit(ctx.request(card, c_addr, today - 1, (ctx.line(OFFICE, 1, 90 * USD),), _commit("dup"))),
    )
    st.refused(
        "lab",
        "submit a claim the member never consented to",
        "NoPaymentConsent",
        lambda: lab.submit(ctx.request(card, l_addr, today - 1, (ctx.line(OFFICE, 1, 50 * USD),), _commit("lab"))),
    )

    dispensed: dict[str, Any] | None = env.shared.get("dispensed_unit")
    if dispensed is not None and dispensed.get("pharmacy") == p_addr:
        unit = bytes.fromhex(dispensed["unitId"][2:])
        rx = ctx.request(card, p_addr, today, (ctx.line(DRUG, 1, 35 * USD, gtin, (unit,)),), _commit("rx"))
        res = pharmacy.submit(rx)
        st.check(
            "pharmacy",
            f"claim for dispensed unit {dispensed['serial']} (provenance checked on chain)",
            f"{res.status.name}, pays {res.amount / USD:g}",
            res.status == ClaimStatus.APPROVED,
        )
        st.done("pharmacy", "collect the payout", pharmacy.pay(rx.claim_id))
    else:
        st.notes.append("no dispensed unit from the provenance story: pharmacy claim skipped")
    recalled: dict[str, Any] | None = env.shared.get("recalled_unit")
    if recalled is not None:
        unit = bytes.fromhex(recalled["unitId"][2:])
        rgtin = int(recalled.get("gtin", gtin) or gtin)
        bad = ctx.request(card, p_addr, today - 2, (ctx.line(DRUG, 1, 35 * USD, rgtin, (unit,)),), _commit("recalled"))
        st.refused("pharmacy", "claim for a unit of the recalled batch", "UnitRecalled", lambda: pharmacy.submit(bad))
    else:
        st.notes.append("no recalled unit from the provenance story: recall refusal skipped")

    r = insurer.pay(large.claim_id)
    pool = insurer.pool(plan_id)
    st.check(
        "insurer",
        "pool accounting after payouts: funded = paid + owed + free",
        f"funded {pool.funded / USD:g} = paid {pool.paid / USD:g} + owed {pool.owed / USD:g} "
        f"+ free {pool.free / USD:g}",
        pool.balanced and r["status"] == 1,
    )
    resource = claim_response(insurer.info(large.claim_id), insurer=env.who("insurer").address)
    validate(resource)
    st.check(
        "insurer",
        "export the decision as a FHIR R4 ClaimResponse",
        f"outcome {resource['outcome']}, validated",
        resource["outcome"] == "partial",
    )
    env.shared["claims_plan"] = plan_id
    st.notes.append(
        "claims hold keyed code digests, plan years, amounts and commitments only; codes, dates and the "
        "FHIR Claim stay with the plan's network"
    )
    return st
