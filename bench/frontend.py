"""Web client budgets (issue 6), measured in headless Chromium against the benched devnet.

- ``frontend.verdict``: pharmacy verdict on screen <= 300 ms after the scan is entered, median
  and p95 over 50 scans of distinct units on one page (the counter), beside the cold path (the
  first scan after a fresh page load, before the batch's serial tree is cached) in the same run.
- ``frontend.first_load_js``: JavaScript fetched by the first load of ``#/pharmacy`` <= 500 KB.

These are latencies and sizes, not gas: they go to ``throughput`` (with the figures in its
detail) and to ``notes``; ``budget`` holds gas keys only.
"""

from __future__ import annotations

import json
import statistics

from bench.harness import BenchEnv, BenchResult, Throughput
from careledger.accounts import dev_account
from careledger.deploy import suite_chain
from tools.webapp import WebApp, build_webapp, run_script
from tools.webapp.seed import seed_drugs

VERDICT_BUDGET_MS = 300.0
FIRST_LOAD_BUDGET_KB = 500.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(env: BenchEnv) -> BenchResult:
    store = env.workdir / "provenance"
    admin = suite_chain(env.w3, dev_account("admin").account.key.hex(), env.artifacts)
    units = 1000 if env.quick else 10_000
    scans = seed_drugs(admin, store, units=units)
    n = 10 if env.quick else 50
    good = scans["good"]
    batch = [good.replace("(21)SN00001", f"(21)SN{i:05d}") for i in range(1, n + 1)]
    dist = build_webapp(env.workdir / "web", rpc=env.rpc)
    with WebApp(dist, env={"CARELEDGER_PROVENANCE_DIR": str(store), "CARELEDGER_RPC": env.rpc}) as app:
        out = run_script(
            "bench.mjs", {"BASE_URL": app.url, "SCANS": json.dumps(batch), "COLD": "5" if env.quick else "10"}
        )
    verdicts = {r["verdict"] for r in out["warm"] + out["cold"]}
    if verdicts != {"Verified"}:
        raise RuntimeError(f"bench scans were not all verified: {verdicts}")
    warm = [float(r["ms"]) for r in out["warm"]]
    cold = [float(r["ms"]) for r in out["cold"]]
    median, p95, cold_median = statistics.median(warm), _p95(warm), statistics.median(cold)
    js_kb = out["firstLoadJsBytes"] / 1000
    ok = median <= VERDICT_BUDGET_MS and p95 <= VERDICT_BUDGET_MS and js_kb <= FIRST_LOAD_BUDGET_KB
    return BenchResult(
        throughput={
            "frontend.verdict": Throughput(
                ops_per_s=1000 / median,
                naive_ops_per_s=1000 / cold_median,
                ops=len(warm),
                detail={
                    "median_ms": round(median, 1),
                    "p95_ms": round(p95, 1),
                    "cold_median_ms": round(cold_median, 1),
                    "budget_ms": VERDICT_BUDGET_MS,
                    "batch_units": units,
                    "first_load_js_kb": round(js_kb, 1),
                    "first_load_js_files": len(out["firstLoadJsFiles"]),
                    "budget_js_kb": FIRST_LOAD_BUDGET_KB,
                    "within_budget": ok,
                },
            )
        },
        notes=[
            f"pharmacy verdict (scan entered -> verdict painted, in Chromium): median {median:.1f} ms, "
            f"p95 {p95:.1f} ms over {len(warm)} scans of a {units:,}-unit batch (budget {VERDICT_BUDGET_MS:.0f} ms); "
            f"first scan after a fresh load: median {cold_median:.1f} ms over {len(cold)}",
            f"first load of #/pharmacy: {js_kb:.1f} KB of JavaScript in {len(out['firstLoadJsFiles'])} files "
            f"(budget {FIRST_LOAD_BUDGET_KB:.0f} KB); the barcode decoder loads only for a photo or the camera",
            "within budget" if ok else "OVER BUDGET",
        ],
    )
