"""``python -m tools.evmcov``: run the tests with EVM tracing and write the report.

    python -m tools.evmcov                 # what `make coverage` runs
    python -m tools.evmcov --reuse-trace   # report again from the last trace

Writes ``docs/coverage.md`` and ``docs/coverage.json``; exits 1 when the tests fail (no report
is written then) and, with ``--check``, when the totals miss the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from careledger._paths import project_root
from careledger.errors import CareLedgerError, EnvironmentProblem
from tools.evmcov.mapping import compute
from tools.evmcov.plugin import ENV
from tools.evmcov.report import summarize, to_json, to_markdown, totals
from tools.evmcov.solc import compile_like_ape
from tools.evmcov.trace import load_traces

# Everything that drives the contracts on the embedded chain. Tests marked `devnet` run their
# contracts on a separate anvil process and `browser` ones drive the web client against a devnet;
# neither executes on py-evm, so they add time and no coverage.
DEFAULT_TESTS = ["tests"]
DEFAULT_MARKERS = "not browser and not devnet"
LINE_TARGET = 95.0
BRANCH_TARGET = 90.0


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _run_tests(root: Path, trace: Path, tests: list[str], markers: str) -> tuple[str, float, bool]:
    if shutil.which("ape") is None:
        raise EnvironmentProblem(
            "the 'ape' command is not on PATH: run `make setup` (coverage runs the tests through Ape)"
        )
    command = ["ape", "test", *tests, "-q", "-p", "no:cacheprovider"]
    command += ["-p", "tools.evmcov.plugin", "-m", markers]
    shown = " ".join([*command[:-1], f'"{markers}"'])
    trace.unlink(missing_ok=True)
    env = {**os.environ, ENV: str(trace)}
    started = time.monotonic()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    tail = [line for line in done.stdout.splitlines() if line.strip()]
    outcome = tail[-1].strip("= ") if tail else f"exit {done.returncode}"
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:])
        sys.stderr.write(done.stderr[-4000:])
    return f"{shown} -> {outcome}", seconds, done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.evmcov", description=__doc__)
    parser.add_argument("tests", nargs="*", default=DEFAULT_TESTS, help="test paths")
    parser.add_argument("-m", dest="markers", default=DEFAULT_MARKERS, help="pytest -m")
    parser.add_argument("--trace", type=Path, default=None, help="trace file")
    parser.add_argument("--reuse-trace", action="store_true", help="do not run the tests")
    parser.add_argument("--out", type=Path, default=None, help="folder for the reports")
    parser.add_argument("--check", action="store_true", help="exit 1 below the targets")
    args = parser.parse_args(argv)

    started = time.monotonic()
    root = project_root()
    trace: Path = args.trace or root / ".build" / "coverage-trace.json"
    out: Path = args.out or root / "docs"
    meta_path = trace.with_suffix(".meta.json")
    meta_keys = ("test_command", "test_outcome", "test_seconds", "commit", "dirty", "generated_at")
    if args.reuse_trace:
        meta = json.loads(meta_path.read_text())
    else:
        command, seconds, ok = _run_tests(root, trace, list(args.tests), args.markers)
        print(f"tests: {command} ({seconds:.0f} s)")
        if not ok:
            print("coverage: the tests failed; no report written", file=sys.stderr)
            return 1
        command, _, outcome = command.partition(" -> ")
        meta = {
            "test_command": command,
            "test_outcome": outcome,
            "test_seconds": round(seconds, 1),
            "commit": _git(root, "rev-parse", "HEAD"),
            "dirty": bool(_git(root, "status", "--porcelain", "--", "contracts", "tests")),
            "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }

    run = compile_like_ape(root)
    result = compute(run.input, run.output, load_traces(trace))
    rows = summarize(result)
    notes_file = root / "docs" / "coverage-notes.toml"
    notes: dict[str, str] = {}
    if notes_file.is_file():
        notes = {k: str(v) for k, v in tomllib.loads(notes_file.read_text()).items()}
    meta = {
        **meta,
        "total_seconds": meta.get("total_seconds") or round(time.monotonic() - started, 1),
        "generator": "make coverage (python -m tools.evmcov)",
        "targets": {"lines_percent": LINE_TARGET, "branches_percent": BRANCH_TARGET},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "coverage.json").write_text(json.dumps(to_json(rows, result, meta, notes), indent=2) + "\n")
    (out / "coverage.md").write_text(to_markdown(rows, result, meta, notes))
    if not args.reuse_trace:
        meta_path.write_text(json.dumps({k: meta[k] for k in (*meta_keys, "total_seconds")}))
    lines, branches = totals(rows)
    for r in rows:
        print(f"{r.contract:24} lines {r.lines.percent:6.2f}%  branches {r.branches.percent:6.2f}%")
    print(f"{'total':24} lines {lines.percent:6.2f}%  branches {branches.percent:6.2f}%")
    if args.check and (lines.percent < LINE_TARGET or branches.percent < BRANCH_TARGET):
        print("coverage: below the targets", file=sys.stderr)
        return 1
    return 0


def _main() -> int:
    try:
        return main()
    except CareLedgerError as exc:
        print(f"coverage: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(_main())
