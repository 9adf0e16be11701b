"""The gas snapshot's comparison: a planted regression fails, a figure within the tolerance
passes, a saving asks for the snapshot to be rewritten, and every key the domain gas tests
measure is in the committed snapshot."""

from __future__ import annotations

import gas_snapshot

EXPECTED_KEYS = {
    "claims.submit_1line_first",
    "claims.submit_1line",
    "claims.batch100_per_claim",
    "claims.payout",
    "consent.grant",
    "consent.grant_signed",
    "consent.revoke",
    "consent.record_access",
    "directory.register",
    "drugs.commission",
    "drugs.ship",
    "drugs.accept",
    "drugs.dispense",
}


def test_planted_regression_fails_and_noise_passes():
    snapshot = gas_snapshot.load()
    op = "consent.grant"
    cold_read = snapshot[op] + 2_100  # one more cold storage read on the hot path
    assert gas_snapshot.compare({op: cold_read}, snapshot) == [
        f"{op}: {cold_read:,} gas, {2_100 / snapshot[op]:+.2%} over the snapshot's {snapshot[op]:,} (regression)"
    ]
    assert gas_snapshot.compare({op: snapshot[op] + 100}, snapshot) == []
    saving = gas_snapshot.compare({op: snapshot[op] - 2_100}, snapshot)
    assert len(saving) == 1 and "make gas-snapshot" in saving[0]
    assert "not in the snapshot" in gas_snapshot.compare({"nobody.measured": 1}, snapshot)[0]


def test_snapshot_holds_every_measured_operation():
    assert set(gas_snapshot.load()) == EXPECTED_KEYS
