"""Insurer / provider view: submit claims and watch them settle (rules, adjuster review, payout),
a duplicate refused in words, the pharmacy's claim for a unit it dispensed, pool balances."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

APPROVED, PARTIAL, PENDING, PAID = 3, 4, 2, 7


def test_claims_submitted_in_the_browser_settle_and_are_paid(claims, drugs, dispensed, browse):
    result = browse("insurer.mjs", MEMBER=claims["member"], PLAN_KEY=claims["planKey"], UNIT_SCAN=dispensed)

    # An office visit under the auto-approve limit settles by the rules: 120 billed, deductible 20,
    # copay 10, 20 % coinsurance of 90 = 18: the plan pays 72.
    visit = result["visit"]
    assert visit["quote"]["text"].startswith("Rules: billed 120 dtUSD, deductible 20 dtUSD, plan pays 72 dtUSD")
    assert visit["submit"]["ok"] and visit["row"]["status"] == APPROVED
    assert visit["row"]["cells"][6] == "72 dtUSD"
    assert result["visitPaid"]["pay"]["ok"] and result["visitPaid"]["row"]["status"] == PAID
    assert result["visitPaid"]["row"]["cells"][6] == "72 dtUSD paid"

    # The MRI needs prior authorisation: pending review, partially approved by the insurer, paid.
    assert result["mri"]["row"]["status"] == PENDING
    assert result["duplicate"]["submit"]["text"].startswith("Refused by the contract — DuplicateClaim")
    assert result["review"]["ok"] and result["reviewed"]["status"] == PARTIAL
    assert result["reviewed"]["cells"][6] == "400 dtUSD"
    assert result["mriPaid"]["row"]["status"] == PAID
    assert result["mriPaid"]["row"]["cells"][6] == "400 dtUSD paid"

    # The pharmacy's claim for the unit it dispensed: acting as the pharmacy, the drug's code.
    assert result["pharmacyActingAs"] == "pharmacy"
    assert result["pharmacyCode"] == "GTIN:09506000134352"
    assert result["drug"]["submit"]["ok"] and result["drug"]["row"]["status"] == APPROVED
    assert "(drug unit)" in result["drug"]["row"]["cells"][3]
    # With the key typed in, the page reads the codes back from their keyed digests.
    assert result["visit"]["row"]["cells"][3] == "CPT:99213 ×1"
    assert result["drugPaid"]["row"]["status"] == PAID

    # The key's negative twin: with the key field cleared (another member's view), the same row
    # shows the keyed digest, and no code of these claims appears anywhere in the table.
    assert result["withoutKey"]["cells"][3].startswith("keyed 0x")
    assert not any(c in result["pageText"] for c in ("CPT:99213", "CPT:70551", "GTIN:"))

    # Pool: 50,000 funded; paid 72 + 400 + 25 (30 billed - 5 copay); nothing owed.
    before, after = result["poolsBefore"][0], result["poolsAfter"][0]
    assert before[2] == "50000 dtUSD" and before[4] == "0 dtUSD"
    assert after[3] == "497 dtUSD" and after[4] == "0 dtUSD" and after[5] == "49503 dtUSD"
