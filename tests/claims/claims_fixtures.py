"""Claims fixtures: ClaimSettlement wired to test doubles of consent and provenance.

The doubles (contracts/test/MockConsentCheck, MockDispenseCheck) answer what a test sets; the
integration with the real ConsentRegistry and provenance registry lives in
test_integration.py. Amounts are dtUSD units (6 decimals): 1_000_000 = 1 dollar.

Claims v2 (#13): codes are plan-keyed digests (:data:`KEY`, plan 1), rules live in rule table
version 1 (scheduled, filled, then in force), the member is enrolled for the current plan year
with its own signature, and a claim names its plan period and an episode digest (the off-chain
service day inside the MAC), never a date.
"""

from __future__ import annotations

from dataclasses import replace

import ape
import pytest

from careledger.accounts import dev_accounts
from careledger.claims.enrolment import enrolment_typed_data
from careledger.claims.types import ClaimStatus, CodeKey, CoverageRule, Line, PlanTerms, day_of
from careledger.codes import Category, Purpose, Role
from careledger.consent import eip712

USD = 1_000_000
DAY = 86_400
KEY = CodeKey(bytes.fromhex("6b" * 32))  # plan 1's code key (shared off chain with the network)
PLAN = 1


def code(text: str, plan_id: int = PLAN) -> bytes:
    return KEY.digest(plan_id, text)


OFFICE = code("CPT:99213")  # office visit
XRAY = code("CPT:71046")  # chest x-ray
MRI = code("CPT:70551")  # MRI, pre-auth
COSMETIC = code("CPT:15780")  # not covered (rule says so)
DRUG = code("NDC:0002-1433-80")  # a drug code: needs a dispensed unit of DRUG_GTIN per package
UNLISTED = code("CPT:99999")  # no rule at all
DRUG_GTIN = 300_021_433_801_0
DRUG_SALT = KEY.gtin_salt(PLAN, "NDC:0002-1433-80", DRUG_GTIN)

TERMS = PlanTerms(deductible=100 * USD, annual_max=5_000 * USD, auto_approve_limit=500 * USD, appeal_window=7 * DAY)
RULES: dict[bytes, CoverageRule] = {
    OFFICE: CoverageRule(covered=True, coinsurance_bps=2_000, copay=20 * USD),
    XRAY: CoverageRule(covered=True, coinsurance_bps=1_000, copay=0, max_per_unit=150 * USD),
    MRI: CoverageRule(covered=True, pre_auth=True, coinsurance_bps=2_000),
    COSMETIC: CoverageRule(covered=False),
    DRUG: CoverageRule(covered=True, requires_unit=True, coinsurance_bps=0, copay=10 * USD),
}
BINDINGS = {DRUG: KEY.gtin_binding(PLAN, "NDC:0002-1433-80", DRUG_GTIN)}
POOL = 20_000 * USD
ZERO32 = b"\0" * 32
RECORD = b"\x22" * 32


def status_of(claims, cid) -> ClaimStatus:
    return ClaimStatus(claims.claimOf(cid).status)


def today() -> int:
    return day_of(ape.chain.pending_timestamp)


def period_now(claims, plan_id=PLAN) -> int:
    return int(claims.periodAt(plan_id, ape.chain.pending_timestamp))


def _address(who) -> str:
    return who.address if hasattr(who, "address") else who


def episode(member, payee, day=None, plan_id=PLAN) -> bytes:
    return KEY.episode(plan_id, _address(member), _address(payee), today() - 1 if day is None else day)


def claim_input(member, payee, lines, day=None, resubmission=0, fhir=b"\x11" * 32, period=None, claims=None, sort=True):
    """A ClaimInput: ``day`` is the off-chain service day (only inside the episode digest);
    ``period`` the plan period on chain (default: the current one); lines in digest order
    unless ``sort`` is false."""
    if period is None:  # every plan here starts PLAN_AGE before it is made: period 0 for ~265 days
        period = period_now(claims) if claims is not None else 0
    return (
        _address(member),
        _address(payee),
        period,
        episode(member, payee, day),
        resubmission,
        fhir,
        [ln.as_tuple() for ln in (sorted(lines, key=lambda ln: ln.code) if sort else lines)],
    )


PLAN_AGE = 100 * DAY


def signer_of(address: str):
    """The local key of a test account (the demo cast, same mnemonic as Ape's test accounts)."""
    for acct in dev_accounts():
        if acct.address.lower() == address.lower():
            return acct.account
    raise LookupError(address)


def enrolment_signature(claims, member, plan_id, from_period, to_period, record=RECORD, deadline=None, signer=None):
    deadline = ape.chain.pending_timestamp + 7 * DAY if deadline is None else deadline  # a week to agree
    typed = enrolment_typed_data(
        plan_id,
        _address(member),
        record,
        from_period,
        to_period,
        claims.nonces(_address(member)),
        deadline,
        chain_id=ape.chain.chain_id,
        contract=claims.address,
    )
    return deadline, eip712.sign(signer or signer_of(_address(member)), typed)


def enrol(claims, insurer, member, plan_id=PLAN, from_period=None, to_period=None, record=RECORD):
    from_period = period_now(claims, plan_id) if from_period is None else from_period
    to_period = from_period if to_period is None else to_period
    deadline, sig = enrolment_signature(claims, member, plan_id, from_period, to_period, record)
    return claims.enrol(plan_id, member, record, from_period, to_period, deadline, sig, sender=insurer)


def schedule(claims, insurer, plan_id, rules, bindings=None, key=KEY, wait=True):
    """A new rule table, filled, and (``wait``) in force; returns its version."""
    notice = claims.planOf(plan_id)[1][7]  # PlanTerms.ruleNotice
    start = ape.chain.pending_timestamp + notice + 10
    tx = claims.scheduleRules(plan_id, start, key.key_id, sender=insurer)
    version = int(tx.events.filter(claims.RulesScheduled)[0].version)
    codes = list(rules)
    claims.setCoverage(
        plan_id,
        version,
        codes,
        [rules[c].as_tuple() for c in codes],
        [(bindings or {}).get(c, ZERO32) for c in codes],
        sender=insurer,
    )
    if wait:
        ape.chain.mine(timestamp=start)
    return version


@pytest.fixture(scope="session")
def token(project, admin):
    return project.DevnetTestUSD.deploy(sender=admin)


@pytest.fixture(scope="session")
def consent(project, admin):
    return project.MockConsentCheck.deploy(sender=admin)


@pytest.fixture(scope="session")
def dispense(project, admin):
    return project.MockDispenseCheck.deploy(sender=admin)


def make_settlement(project, admin, directory, consent, dispense, token):
    return project.ClaimSettlement.deploy(directory, consent, dispense, token, sender=admin)


@pytest.fixture(scope="session")
def bare(project, admin, directory, consent, dispense, token):
    """A ClaimSettlement with no plan yet."""
    return make_settlement(project, admin, directory, consent, dispense, token)


def plan_terms(terms=TERMS) -> PlanTerms:
    return replace(terms, period_start=ape.chain.pending_timestamp - PLAN_AGE)


def setup_plan(
    claims, token, insurer, patient, consent, submitters, rules=RULES, terms=TERMS, pool=POOL, bindings=None
):
    tx = claims.createPlan(plan_terms(terms).as_tuple(), sender=insurer)
    plan_id = int(tx.events.filter(claims.PlanCreated)[0].planId)
    schedule(claims, insurer, plan_id, rules, bindings or (BINDINGS if plan_id == PLAN else None))
    enrol(claims, insurer, patient, plan_id)
    if pool:
        token.mint(insurer, pool, sender=insurer)
        token.approve(claims, pool, sender=insurer)
        claims.fund(plan_id, pool, sender=insurer)
    for who in submitters:
        consent.setAllowed(patient, who, int(Category.FINANCIAL), int(Purpose.HPAYMT), 7, sender=insurer)
    return plan_id


@pytest.fixture(scope="session")
def claims(project, admin, directory, consent, dispense, token, insurer, patient, clinic, lab, pharmacy):
    """ClaimSettlement with plan 1 (RULES, TERMS; rule table 1 in force) funded with POOL and the
    patient enrolled for the current plan year, consenting to payment claims from clinic, lab,
    pharmacy and the insurer."""
    c = make_settlement(project, admin, directory, consent, dispense, token)
    setup_plan(c, token, insurer, patient, consent, [clinic, lab, pharmacy, insurer])
    return c


@pytest.fixture(scope="session")
def plan_id(claims):
    return 1


def office(billed=80 * USD, units=1):
    return Line(OFFICE, units, billed)


def drug(units=(b"\x55" * 32,), billed=40 * USD, salt=DRUG_SALT):
    return Line(DRUG, len(units), billed, salt, tuple(units))


__all__ = ["USD", "ZERO32", "Role"]


def submitted_id(claims, tx) -> bytes:
    return bytes(tx.events.filter(claims.ClaimSubmitted)[0].claimId)


def submit(claims, sender, member, lines, day=None, payee=None, resubmission=0, period=None):
    """Submit a claim; returns (claim id, receipt)."""
    tx = claims.submit(
        claim_input(member, payee or sender, lines, day=day, resubmission=resubmission, period=period, claims=claims),
        sender=sender,
    )
    return submitted_id(claims, tx), tx


CREDENTIAL_FOR_TESTS = bytes.fromhex("c1" * 32)
