"""``make bench``: deploy on a fresh anvil, run every landed domain's benchmark, write
``bench/results.json`` and ``docs/benchmarks.md``.

Usage: python -m bench.run [--quick] [--only DOMAIN]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import BenchResult, fresh_suite, git_commit
from careledger.deploy import SUITE_DOMAINS
from careledger.exactjson import dumps

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
SOAK = ROOT / "bench" / "soak.json"
DOC = ROOT / "docs" / "benchmarks.md"


# Benchmarks beyond the domains: the client's send path and CLI start-up (bench/client.py), the
# web client (bench/frontend.py), one governed decision (bench/governance.py) and the persistent
# indexer at 1,000,000 events (bench/indexer.py).
EXTRA_BENCHES: tuple[str, ...] = ("client", "frontend", "governance", "indexer")


def _bench_modules(only: str | None) -> list[tuple[str, object]]:
    found = []
    for domain in (*SUITE_DOMAINS, *EXTRA_BENCHES):
        if only and domain != only:
            continue
        name = f"bench.{domain}"
        if importlib.util.find_spec(name) is not None:
            found.append((domain, importlib.import_module(name)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not for the record)")
    parser.add_argument("--only", choices=(*SUITE_DOMAINS, *EXTRA_BENCHES), help="one domain only (results are merged)")
    args = parser.parse_args(argv)

    merged: dict[str, object] = json.loads(RESULTS.read_text()) if RESULTS.exists() and args.only else {}
    gas: dict[str, int] = dict(merged.get("gas", {}))  # type: ignore[arg-type]
    floor: dict[str, int] = dict(merged.get("floor", {}))  # type: ignore[arg-type]
    budget: dict[str, int] = dict(merged.get("budget", {}))  # type: ignore[arg-type]
    throughput: dict[str, object] = dict(merged.get("throughput", {}))  # type: ignore[arg-type]
    timing: dict[str, object] = dict(merged.get("timing", {}))  # type: ignore[arg-type]
    notes: dict[str, list[str]] = dict(merged.get("notes", {}))  # type: ignore[arg-type]

    for domain, module in _bench_modules(args.only):
        # Each benchmark gets a fresh chain with the suite deployed: no benchmark sees another's
        # consents, nonces or raised base fee, so each figure stands on its own.
        with (
            tempfile.TemporaryDirectory(prefix=f"careledger-bench-{domain}-") as tmp,
            fresh_suite(Path(tmp), quick=args.quick) as env,
        ):
            t0 = time.perf_counter()
            print(f"bench: {domain} ...", flush=True)
            result: BenchResult = module.run(env)  # type: ignore[attr-defined]
            print(f"bench: {domain} done in {time.perf_counter() - t0:.1f} s", flush=True)
        gas.update(result.gas)
        floor.update(result.floor)
        budget.update(result.budget)
        throughput.update({k: v.to_json() for k, v in result.throughput.items()})
        timing.update(result.timing)
        if result.notes:
            notes[domain] = result.notes

    command = "make bench" + (" (--quick)" if args.quick else "") + (f" (--only {args.only})" if args.only else "")
    results = {
        "commit": git_commit(),
        "command": command,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "gas": dict(sorted(gas.items())),
        "floor": dict(sorted(floor.items())),
        "budget": dict(sorted(budget.items())),
        "throughput": dict(sorted(throughput.items())),
        "timing": dict(sorted(timing.items())),
        "notes": notes,
    }
    RESULTS.write_text(dumps(results) + "\n")
    write_doc(results)
    print(f"bench: wrote {RESULTS.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
    over = [k for k, b in budget.items() if k in gas and gas[k] > b]
    # Throughput floors (ops/s at least) and time budgets (median at most), where a bench sets one.
    over += [
        k
        for k, t in throughput.items()
        if isinstance(t, dict) and "min_ops_per_s" in t and float(t["ops_per_s"]) < float(t["min_ops_per_s"])
    ]
    over += [
        k
        for k, t in timing.items()
        if isinstance(t, dict) and t.get("budget") is not None and float(t["median"]) > float(t["budget"])
    ]
    if over:
        print(f"bench: OVER BUDGET: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


def write_doc(results: dict[str, object] | None = None, soak: dict[str, object] | None = None) -> None:
    """``docs/benchmarks.md`` from ``bench/results.json`` and ``bench/soak.json`` (either may be
    given instead of read)."""
    if results is None:
        results = json.loads(RESULTS.read_text())
    if soak is None and SOAK.exists():
        soak = json.loads(SOAK.read_text())
    DOC.write_text(render_markdown(results, soak))


def render_markdown(results: dict[str, object], soak: dict[str, object] | None = None) -> str:
    gas: dict[str, int] = results["gas"]  # type: ignore[assignment]
    floor: dict[str, int] = results["floor"]  # type: ignore[assignment]
    budget: dict[str, int] = results["budget"]  # type: ignore[assignment]
    throughput: dict[str, dict[str, object]] = results["throughput"]  # type: ignore[assignment]
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `{results['command']}` at commit `{results['commit']}` on a "
        f"{results['machine']['cpus']}-core machine (`bench/results.json` holds the raw figures).",  # type: ignore[index]
        "Gas is the receipt's `gasUsed`; `*_exec` keys are the execution gas of a read call.",
        "Where the gas of the custody operations goes, opcode by opcode: "
        "[benchmarks/gas-breakdown.md](benchmarks/gas-breakdown.md) (`make gasprofile`).",
        "",
        "## Gas",
        "",
        "| operation | gas used | budget | floor | within budget |",
        "|---|---:|---:|---:|:---:|",
    ]
    for key, value in gas.items():
        b = budget.get(key)
        f = floor.get(key)
        ok = "yes" if b is None or value <= b else "**no**"
        lines.append(f"| `{key}` | {value:,} | {f'{b:,}' if b else ''} | {f'{f:,}' if f else ''} | {ok} |")
    lines += [
        "",
        "## Throughput (same run, fast path beside the naive one)",
        "",
        "| name | ops/s | naive ops/s | speed-up | ops | at least |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, t in throughput.items():
        least = t.get("min_ops_per_s")
        lines.append(
            f"| `{key}` | {t['ops_per_s']:,} | {t['naive_ops_per_s']:,} | {t.get('speedup')}x | {t['ops']:,} "
            f"| {f'{least:,}' if least else ''} |"
        )
    timing: dict[str, dict[str, object]] = results.get("timing", {})  # type: ignore[assignment]
    if timing:
        lines += ["", "## Timings", "", "| name | median s | max s | budget s | runs |", "|---|---:|---:|---:|---:|"]
        for key, t in timing.items():
            lines.append(f"| `{key}` | {t['median']} | {t['max']} | {t.get('budget', '')} | {t['runs']} |")
    notes: dict[str, list[str]] = results.get("notes", {})  # type: ignore[assignment]
    if notes:
        lines += ["", "## Notes", ""]
        for domain, items in notes.items():
            lines += [f"- **{domain}**: {n}" for n in items]
    if soak is not None:
        lines += render_soak(soak)
    return "\n".join(lines) + "\n"


def render_soak(soak: dict[str, Any]) -> list[str]:
    """The Soak section, from ``bench/soak.json`` (written by ``make soak``, bench/soak.py)."""
    mem, flat = soak["memory"], soak["flat"]
    measured = flat.get("measured", {})
    samples = mem["samples"]
    rate = [
        (b["claims"] - a["claims"]) / (b["elapsed_s"] - a["elapsed_s"])
        for a, b in itertools.pairwise(samples)
        if b["elapsed_s"] > a["elapsed_s"]
    ]
    tenth = max(1, len(rate) // 10)
    lines = [
        "",
        "## Soak",
        "",
        f"`{soak['command']}` at commit `{soak['commit']}` ({soak['machine']['cpus']} cores, "
        f"{soak['machine'].get('cpu_model') or 'unknown CPU'}): {soak['claims']:,} claims submitted and settled end "
        f"to end on a fresh anvil through the SDK send path ({soak['send_path']}), {soak['batch']} claims per "
        f"submitBatch and payBatch, {soak['transactions']:,} transactions ({soak['resent']} re-sent), every receipt "
        "checked (each claim adjudicated APPROVED and paid). Raw figures in `bench/soak.json`, memory plotted in "
        "`docs/benchmarks/soak_memory.png`.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| claims/s (whole run, {soak['elapsed_s']:,.1f} s) | {soak['claims_per_s']:,.0f} |",
    ]
    if rate:
        lines.append(
            f"| claims/s, first / last tenth of the run | {sum(rate[:tenth]) / tenth:,.0f} / "
            f"{sum(rate[-tenth:]) / tenth:,.0f} |"
        )
    if len(samples) > 2 * tenth and "node_cpu_s" in samples[0]:

        def per_claim(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
            return 1000 * (b[key] - a[key]) / max(1, b["claims"] - a["claims"])

        head, tail = (samples[0], samples[tenth]), (samples[-1 - tenth], samples[-1])
        lines.append(
            "| CPU ms per claim, this process / anvil: first tenth, last tenth | "
            f"{per_claim(*head, 'client_cpu_s'):.2f} / {per_claim(*head, 'node_cpu_s'):.2f}, "
            f"{per_claim(*tail, 'client_cpu_s'):.2f} / {per_claim(*tail, 'node_cpu_s'):.2f} |"
        )
    lines += [
        f"| RSS start / end / peak (MiB) | {mem['rss_start_mib']:.1f} / {mem['rss_end_mib']:.1f} / "
        f"{mem['rss_peak_mib']:.1f} |",
        f"| RSS growth, first half / second half (MiB) | {mem['first_half_rss_growth_mib']:+.2f} / "
        f"{mem['second_half_rss_growth_mib']:+.2f} |",
        f"| tracemalloc growth, first half / second half (MiB) | {mem['first_half_traced_growth_mib']:+.3f} / "
        f"{mem['second_half_traced_growth_mib']:+.3f} |",
    ]
    for key, label in (
        ("rss_growth_mib", "RSS growth after warm-up (MiB)"),
        ("rss_trend_mib", "fitted RSS rise after warm-up (MiB)"),
        ("traced_growth_mib", "tracemalloc growth after warm-up (MiB)"),
        ("traced_trend_mib", "fitted tracemalloc rise after warm-up (MiB)"),
    ):
        if key in measured:
            lines.append(f"| {label} | {measured[key]:+.3f} (limit {flat['thresholds'][key]:g}) |")
    lines += [
        "",
        f"Memory flat: **{'yes' if flat['verdict'] else 'no'}** ({flat['reason']}). Flat means: {flat['definition']}. "
        "Samples are taken after a full garbage collection (what is measured is what is still referenced).",
        "",
        "`make soak` exits non-zero when memory is not flat. Ctrl-C stops it; the same command resumes without "
        "sending any "
        "claim twice (tests/client/test_soak_resume.py interrupts and resumes a small soak and checks every claim "
        "is on chain exactly once).",
        "",
        "The rate falls as the chain grows: anvil's CPU time per claim rises with it while this process's stays "
        "about level (CPU row above). The soak also runs with tracemalloc tracing every allocation, which slows "
        "the client; `claims.settle` above is the same send path without it, on a fresh chain per point.",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
