"""The sequential-serial heuristic behind `drugs commission`'s warning (GS1 randomisation advice)."""

from __future__ import annotations

import random

from careledger.provenance.serials import sequential_share, sequential_warning


def test_sequential_lists_warn():
    for serials in (
        [f"SN{i:06d}" for i in range(1000)],
        [f"A{i}" for i in range(0, 5000, 5)],  # a step of 5 is as guessable as a step of 1
        [f"{i:09d}" for i in reversed(range(300))],  # order in the file does not matter
    ):
        assert sequential_share(serials) > 0.99
        warning = sequential_warning(serials)
        assert warning is not None and "GS1" in warning and "2016/161" in warning


def test_randomised_lists_do_not_warn():
    rng = random.Random(7)
    numeric = [f"{rng.randrange(10**12):012d}" for _ in range(2000)]
    alnum = ["".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(12)) for _ in range(2000)]
    for serials in (numeric, alnum):
        assert sequential_share(serials) < 0.05
        assert sequential_warning(serials) is None


def test_edge_cases():
    assert sequential_share([]) == 0.0
    assert sequential_share(["ONLY1"]) == 0.0
    assert sequential_share(["X1", "Y2"]) == 0.0  # different prefixes are not neighbours
