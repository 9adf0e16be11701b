"""The gas profiler's classifier (bench/gasprofile.py) puts each opcode's cost in the right bucket."""

from __future__ import annotations

from bench.gasprofile import classify


def _step(op: str, cost: int, depth: int = 1, gas: int = 1_000_000) -> dict[str, object]:
    return {"op": op, "gasCost": cost, "depth": depth, "gas": gas}


def test_storage_costs_split_into_cold_access_new_slots_and_updates() -> None:
    out = classify(
        [
            _step("SLOAD", 2_100),  # cold read
            _step("SLOAD", 100),  # warm read
            _step("SSTORE", 22_100),  # new slot, slot not read before (cold)
            _step("SSTORE", 20_000),  # new slot, slot already warm
            _step("SSTORE", 5_000),  # update, cold
            _step("SSTORE", 2_900),  # update, warm
            _step("SSTORE", 100),  # dirty slot written again
        ]
    )
    assert out["cold storage reads"] == 2_100 * 3
    assert out["warm storage"] == 200
    assert out["new storage slots"] == 40_000
    assert out["storage updates"] == 5_800


def test_call_step_keeps_only_what_the_caller_paid() -> None:
    forwarded = 900_000
    out = classify(
        [
            _step("STATICCALL", 2_600 + forwarded, depth=1),  # cold callee; trace charges the forwarded gas too
            _step("SLOAD", 2_100, depth=2, gas=forwarded),
            _step("RETURN", 0, depth=2),
            _step("LOG3", 1_756),
            _step("KECCAK256", 42),
            _step("ADD", 3),
        ]
    )
    assert out["cold account access"] == 2_600
    assert out["cold storage reads"] == 2_100
    assert out["events"] == 1_756
    assert out["hashing"] == 42
    assert out["other execution"] == 3
    assert sum(out.values()) == 2_600 + 2_100 + 1_756 + 42 + 3
