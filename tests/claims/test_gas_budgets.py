"""The claims budgets of #13 measured on the embedded chain, the way bench/claims.py measures
them (a member's first claim; a one-line claim afterwards; the marginal claim of a 100-claim
batch; the first payout to a payee that never held the token): each within its budget."""

from __future__ import annotations

import gas_snapshot
from claims_fixtures import USD, claim_input, office, submitted_id, today

BUDGET = {"claims.submit_1line": 140_000, "claims.batch100_per_claim": 90_000, "claims.payout": 70_000}


def test_claims_gas_within_budgets(claims, clinic, patient, lab):
    day = today() - 1
    first = claims.submit(claim_input(patient, clinic, [office(200 * USD)], day=day), sender=clinic)
    one = claims.submit(claim_input(patient, clinic, [office(200 * USD)], day=day - 1), sender=clinic)
    # The first payout to a payee that has never held the token (lab never has).
    tx = claims.submit(claim_input(patient, lab, [office(200 * USD)], day=day), sender=lab)
    payout = claims.pay(submitted_id(claims, tx), sender=lab)
    b1 = claims.submitBatch([claim_input(patient, clinic, [office(200 * USD)], day=day - 2)], sender=clinic)
    inputs = [claim_input(patient, clinic, [office(200 * USD)], day=day - 3 - i) for i in range(100)]
    b100 = claims.submitBatch(inputs, sender=clinic)
    per_claim = (b100.gas_used - b1.gas_used) // 99
    measured = {
        "claims.submit_1line": one.gas_used,
        "claims.batch100_per_claim": per_claim,
        "claims.payout": payout.gas_used,
    }
    print(f"\nfirst claim {first.gas_used:,}; measured {measured}")
    assert {k: v <= BUDGET[k] for k, v in measured.items()} == dict.fromkeys(BUDGET, True), measured
    gas_snapshot.check({**measured, "claims.submit_1line_first": first.gas_used})
