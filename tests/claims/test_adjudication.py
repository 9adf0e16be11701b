"""The rule arithmetic: the contract's quote equals the independent Python model, and its
properties hold for any amounts (never pays more than billed, never passes a limit)."""

from __future__ import annotations

import ape
from claims_fixtures import USD, setup_plan
from hypothesis import given
from hypothesis import strategies as st

from careledger.claims.types import Carc, CoverageRule, Line, PlanTerms, adjudicate, adjudicate_line, service_code

CODES = [service_code(f"CPT:{n}") for n in (10001, 10002, 10003)]

rules_st = st.builds(
    CoverageRule,
    covered=st.booleans(),
    pre_auth=st.booleans(),
    requires_unit=st.just(False),
    coinsurance_bps=st.integers(0, 10_000),
    copay=st.integers(0, 100 * USD),
    max_per_unit=st.one_of(st.just(0), st.integers(1, 500 * USD)),
)
line_st = st.builds(Line, code=st.sampled_from(CODES), units=st.integers(1, 5), billed=st.integers(1, 2**96 - 1))


@given(
    rule=rules_st,
    units=st.integers(1, 2**32 - 1),
    billed=st.integers(1, 2**96 - 1),
    ded_left=st.integers(0, 2**80 - 1),
    max_left=st.integers(0, 2**80 - 1),
)
def test_line_model_properties(rule, units, billed, ded_left, max_left):
    la = adjudicate_line(rule, units, billed, ded_left, max_left)
    assert la.benefit <= la.eligible <= billed
    assert la.deductible <= ded_left
    assert la.benefit <= max_left
    over_max = la.eligible - la.deductible - la.copay - la.coinsurance - la.benefit
    assert over_max >= 0
    if over_max:
        assert la.reason == Carc.BENEFIT_MAXIMUM
    if not rule.covered:
        assert la == adjudicate_line(None, units, billed, ded_left, max_left)


def test_rounding_goes_to_the_member():
    rule = CoverageRule(covered=True, coinsurance_bps=3_300)
    la = adjudicate_line(rule, 1, 10, 0, 10**9)
    assert (la.coinsurance, la.benefit) == (4, 6)


@given(
    rules=st.lists(rules_st, min_size=3, max_size=3),
    lines=st.lists(line_st, min_size=1, max_size=4),
    deductible=st.integers(0, 500 * USD),
    annual_max=st.integers(1, 2_000 * USD),
)
def test_contract_quote_equals_model(
    project, admin, directory, consent, dispense, token, insurer, patient, rules, lines, deductible, annual_max
):
    snap = ape.chain.snapshot()
    try:
        terms = PlanTerms(deductible, annual_max, 300 * USD, 0)
        table = dict(zip(CODES, rules, strict=True))
        c = project.ClaimSettlement.deploy(directory, consent, dispense, token, sender=admin)
        setup_plan(c, token, insurer, patient, consent, [], rules=table, terms=terms, pool=0)
        ordered = sorted(lines, key=lambda ln: ln.code)
        q = c.quote(patient, 0, [ln.as_tuple() for ln in ordered])
        expected = adjudicate(table, terms, 0, 0, ordered)
        assert (q.billed, q.deductible, q.benefit) == (expected.billed, expected.deductible, expected.benefit)
        assert (q.needsReview, q.preAuth, q.anyCovered, q.anyDenied) == (
            expected.needs_review,
            expected.pre_auth,
            expected.any_covered,
            expected.any_denied,
        )
        assert [tuple(x) for x in q.lines] == [
            (la.eligible, la.deductible, la.copay, la.coinsurance, la.benefit, la.reason) for la in expected.lines
        ]
        assert q.benefit <= min(q.billed, annual_max)
    finally:
        ape.chain.restore(snap)
