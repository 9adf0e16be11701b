"""The committed gas snapshot (tests/data/gas_snapshot.json): gas per operation on the embedded
chain, diffed by the domain gas tests in ``make test`` so a regression fails the tests, not only
the bench. Within :data:`TOLERANCE` (relative) a figure passes; above it is a regression; below it
the snapshot is stale (a saving to record). ``make gas-snapshot`` (GAS_SNAPSHOT=update) rewrites
the measured keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "data" / "gas_snapshot.json"
TOLERANCE = 0.01  # 1 %: a cold storage read (2,100 gas) on a 60,000-gas operation is 3.5 %


def load(path: Path = SNAPSHOT) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(path.read_text())["gas"].items()}


def compare(measured: dict[str, int], snapshot: dict[str, int], tolerance: float = TOLERANCE) -> list[str]:
    """One line per operation outside the tolerance (or missing from the snapshot)."""
    problems: list[str] = []
    for op, gas in sorted(measured.items()):
        if op not in snapshot:
            problems.append(f"{op}: {gas:,} gas, not in the snapshot (run `make gas-snapshot`)")
            continue
        was = snapshot[op]
        change = (gas - was) / was
        if change > tolerance:
            problems.append(f"{op}: {gas:,} gas, {change:+.2%} over the snapshot's {was:,} (regression)")
        elif change < -tolerance:
            problems.append(f"{op}: {gas:,} gas, {change:+.2%} under the snapshot's {was:,} (run `make gas-snapshot`)")
    return problems


def check(measured: dict[str, int], path: Path = SNAPSHOT) -> None:
    """Assert ``measured`` matches the snapshot; with GAS_SNAPSHOT=update, record it instead."""
    if os.environ.get("GAS_SNAPSHOT") == "update":
        data = json.loads(path.read_text()) if path.exists() else {"gas": {}}
        data["command"] = "make gas-snapshot"
        data["chain"] = "Ape's embedded py-evm chain (Cancun)"
        data["tolerance"] = str(TOLERANCE)
        data["gas"] = dict(sorted({**data["gas"], **measured}.items()))
        path.write_text(json.dumps(data, indent=2) + "\n")
        return
    problems = compare(measured, load(path))
    assert not problems, "gas differs from tests/data/gas_snapshot.json:\n" + "\n".join(problems)
