"""Claims fixtures: ClaimSettlement wired to test doubles of consent and provenance.

The doubles (contracts/test/MockConsentCheck, MockDispenseCheck) answer what a test sets; the
integration with the real ConsentRegistry and provenance registry lives in
test_integration.py. Amounts are dtUSD units (6 decimals): 1_000_000 = 1 dollar.
"""

from __future__ import annotations

import ape
import pytest

from careledger.claims.types import ClaimStatus, CoverageRule, Line, PlanTerms, day_of, service_code
from careledger.codes import Category, Purpose, Role

USD = 1_000_000
OFFICE = service_code("CPT:99213")  # office visit
XRAY = service_code("CPT:71046")  # chest x-ray
MRI = service_code("CPT:70551")  # MRI, pre-auth
COSMETIC = service_code("CPT:15780")  # not covered (rule says so)
DRUG = service_code("NDC:0002-1433-80")  # a drug code: needs a dispensed unit
UNLISTED = service_code("CPT:99999")  # no rule at all

TERMS = PlanTerms(deductible=100 * USD, annual_max=5_000 * USD, auto_approve_limit=500 * USD, appeal_window=7 * 86_400)
RULES: dict[bytes, CoverageRule] = {
    OFFICE: CoverageRule(covered=True, coinsurance_bps=2_000, copay=20 * USD),
    XRAY: CoverageRule(covered=True, coinsurance_bps=1_000, copay=0, max_per_unit=150 * USD),
    MRI: CoverageRule(covered=True, pre_auth=True, coinsurance_bps=2_000),
    COSMETIC: CoverageRule(covered=False),
    DRUG: CoverageRule(covered=True, requires_unit=True, coinsurance_bps=0, copay=10 * USD),
}
POOL = 20_000 * USD
ZERO32 = b"\0" * 32


def status_of(claims, cid) -> ClaimStatus:
    return ClaimStatus(claims.claimOf(cid).status)


def today() -> int:
    return day_of(ape.chain.pending_timestamp)


def claim_input(member, payee, lines, day=None, resubmission=0, fhir=b"\x11" * 32):
    return (
        member.address if hasattr(member, "address") else member,
        payee.address if hasattr(payee, "address") else payee,
        today() - 1 if day is None else day,
        resubmission,
        fhir,
        [ln.as_tuple() for ln in lines],
    )


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


def setup_plan(claims, token, insurer, patient, consent, submitters, rules=RULES, terms=TERMS, pool=POOL):
    tx = claims.createPlan(terms.as_tuple(), sender=insurer)
    plan_id = int(tx.events.filter(claims.PlanCreated)[0].planId)
    codes = list(rules)
    claims.setCoverage(plan_id, codes, [rules[c].as_tuple() for c in codes], sender=insurer)
    start = today() - 30
    claims.enrol(plan_id, patient, b"\x22" * 32, start, start + 364, sender=insurer)
    if pool:
        token.mint(insurer, pool, sender=insurer)
        token.approve(claims, pool, sender=insurer)
        claims.fund(plan_id, pool, sender=insurer)
    for who in submitters:
        consent.setAllowed(patient, who, int(Category.FINANCIAL), int(Purpose.HPAYMT), 7, sender=insurer)
    return plan_id


@pytest.fixture(scope="session")
def claims(project, admin, directory, consent, dispense, token, insurer, patient, clinic, lab, pharmacy):
    """ClaimSettlement with plan 1 (RULES, TERMS) funded with POOL and the patient enrolled,
    consenting to payment claims from clinic, lab, pharmacy and the insurer."""
    c = make_settlement(project, admin, directory, consent, dispense, token)
    setup_plan(c, token, insurer, patient, consent, [clinic, lab, pharmacy, insurer])
    return c


@pytest.fixture(scope="session")
def plan_id(claims):
    return 1


def office(billed=80 * USD, units=1):
    return Line(OFFICE, units, billed)


__all__ = ["USD", "ZERO32", "Role"]


def submitted_id(claims, tx) -> bytes:
    return bytes(tx.events.filter(claims.ClaimSubmitted)[0].claimId)


def submit(claims, sender, member, lines, day=None, payee=None, resubmission=0):
    """Submit a claim; returns (claim id, receipt)."""
    tx = claims.submit(claim_input(member, payee or sender, lines, day=day, resubmission=resubmission), sender=sender)
    return submitted_id(claims, tx), tx


CREDENTIAL_FOR_TESTS = bytes.fromhex("c1" * 32)
