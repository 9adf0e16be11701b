"""``make soak``: 50,000 claims submitted and settled end to end on a fresh anvil devnet through
the SDK send path (:mod:`careledger.claims.pipeline` over :mod:`careledger.sender`), with the
process's memory sampled as it goes.

Writes ``bench/soak.json`` and ``docs/benchmarks/soak_memory.png``, refreshes the Soak section
of ``docs/benchmarks.md``, and exits 1 unless memory stayed flat. *Flat* (:class:`Flat`): after
a warm-up (the first 20 % of the claims), over the rest of the run

- RSS (``VmRSS`` of /proc/self/status) grew by less than 16 MiB, and the least-squares line
  through the RSS samples rises by less than 8 MiB across that span;
- Python's traced memory (``tracemalloc`` current) grew by less than 4 MiB, and its fitted line
  rises by less than 2 MiB.

A leak of 100 bytes per claim would show as ~3.8 MiB of traced growth over the last 40,000.
Samples are taken after a full garbage collection. A resumed run judges the claims it settled
itself (its own warm-up first): the memory of the interrupted process is gone with it.

The work is streamed: claim ``i`` is a function of ``i`` (:mod:`bench.claimload`), a window of
batches is built, sent, checked and dropped; nothing is kept per claim (the sender's journal is
on disk, one row per transaction).

Ctrl-C stops at once. The devnet keeps running (it is in its own session) and the state folder
(``.soak/``) keeps the run's settings and the sender's journal; the same command again resumes
at the first window not yet checked. No claim is sent twice: claim ids are deterministic, every
transaction was journalled before it was broadcast, and the journal's signed-but-unmined ones
are re-broadcast with their original nonce and bytes before anything new is signed.
``--fresh`` discards an unfinished run (and stops its devnet).

Usage: python -m bench.soak [--claims N] [--batch B] [--sample-every K] [--fresh | --discard]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import signal
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".soak"
OUT_JSON = ROOT / "bench" / "soak.json"
OUT_PNG = ROOT / "docs" / "benchmarks" / "soak_memory.png"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Flat:
    """What "memory stayed flat" means; the figures are judged after the warm-up."""

    warmup_fraction: float = 0.2
    rss_growth_mib: float = 16.0
    rss_trend_mib: float = 8.0
    traced_growth_mib: float = 4.0
    traced_trend_mib: float = 2.0
    min_samples: int = 4

    def describe(self) -> str:
        return (
            f"after a warm-up of the first {self.warmup_fraction:.0%} of the claims: RSS growth < "
            f"{self.rss_growth_mib:g} MiB and fitted RSS rise < {self.rss_trend_mib:g} MiB; tracemalloc current "
            f"growth < {self.traced_growth_mib:g} MiB and fitted rise < {self.traced_trend_mib:g} MiB "
            f"(least-squares line over the samples, rise = slope x span); at least {self.min_samples} samples"
        )


# ---------------------------------------------------------------------------------- memory


def proc_status() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process, in bytes."""
    out: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fit_rise(xs: list[float], ys: list[float]) -> float:
    """Rise of the least-squares line through (xs, ys) across the span of xs."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope * (max(xs) - min(xs))


def judge(samples: list[dict[str, float]], first: int, last: int, flat: Flat) -> dict[str, Any]:
    """The flatness verdict over the samples after the warm-up of claims ``first..last``."""
    warm = first + (last - first) * flat.warmup_fraction
    judged = [s for s in samples if s["claims"] >= warm]
    out: dict[str, Any] = {"definition": flat.describe(), "thresholds": asdict(flat), "judged_from_claim": int(warm)}
    if len(judged) < flat.min_samples:
        out.update(verdict=False, reason=f"only {len(judged)} samples after the warm-up")
        return out
    xs = [s["claims"] for s in judged]
    measured = {
        "rss_growth_mib": judged[-1]["rss_mib"] - judged[0]["rss_mib"],
        "rss_trend_mib": fit_rise(xs, [s["rss_mib"] for s in judged]),
        "traced_growth_mib": judged[-1]["traced_mib"] - judged[0]["traced_mib"],
        "traced_trend_mib": fit_rise(xs, [s["traced_mib"] for s in judged]),
    }
    limits = {k: getattr(flat, k) for k in measured}
    over = [k for k, v in measured.items() if v >= limits[k]]
    out.update(
        samples=len(judged),
        measured={k: round(v, 3) for k, v in measured.items()},
        verdict=not over,
        reason="within every threshold" if not over else "over: " + ", ".join(over),
    )
    return out


class Sampler:
    """One memory sample every ``every`` claims (and at the start and the end), taken after a
    full garbage collection; with the CPU seconds of this process and of the node since the start."""

    def __init__(self, every: int, anvil_pid: int | None) -> None:
        self.every = every
        self.anvil_pid = anvil_pid
        self.samples: list[dict[str, float]] = []
        self.next_at = 0
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.anvil0 = self._anvil_cpu()

    def _anvil_cpu(self) -> float | None:
        if self.anvil_pid is None:
            return None
        try:
            return cpu_seconds(self.anvil_pid)
        except (OSError, IndexError, ValueError):
            return None

    def maybe(self, claims: int, force: bool = False) -> dict[str, float] | None:
        if claims < self.next_at and not force:
            return None
        # Garbage in reference cycles waits for the collector's next full pass; what is measured
        # is what is still referenced (a leak survives a collection).
        gc.collect()
        status = proc_status()
        current, _peak = tracemalloc.get_traced_memory()
        sample = {
            "claims": claims,
            "elapsed_s": round(time.perf_counter() - self.t0, 3),
            "rss_mib": round(status["VmRSS"] / MIB, 3),
            "traced_mib": round(current / MIB, 3),
            "client_cpu_s": round(time.process_time() - self.cpu0, 3),
        }
        anvil = self._anvil_cpu()
        if anvil is not None and self.anvil0 is not None:
            sample["node_cpu_s"] = round(anvil - self.anvil0, 3)
        self.samples.append(sample)
        self.next_at = (claims // self.every + 1) * self.every
        return sample


# ---------------------------------------------------------------------------------- state


def _save(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _discard(state: Path) -> None:
    from careledger.devnet import Devnet

    Devnet(folder=state / "devnet").down()
    shutil.rmtree(state, ignore_errors=True)


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(
            int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration, ValueError):
        mem = 0
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------- run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=50_000, help="claims to submit and settle (default 50,000)")
    parser.add_argument("--batch", type=int, default=100, help="claims per submitBatch / payBatch (1..100)")
    parser.add_argument("--sample-every", type=int, default=1_000, help="claims between memory samples")
    parser.add_argument("--state", type=Path, default=STATE, help="state folder (default .soak/)")
    parser.add_argument("--out", type=Path, default=OUT_JSON, help="results (default bench/soak.json)")
    parser.add_argument("--png", type=Path, default=OUT_PNG, help="memory plot")
    parser.add_argument("--doc", action=argparse.BooleanOptionalAction, default=True, help="refresh docs/benchmarks.md")
    parser.add_argument("--fresh", action="store_true", help="discard an unfinished run and start again")
    parser.add_argument("--keep", action="store_true", help="leave the devnet running and the state folder when done")
    parser.add_argument("--discard", action="store_true", help="stop an unfinished run's devnet, delete its state")
    args = parser.parse_args(argv)
    if args.discard:
        _discard(args.state.resolve())
        print(f"discarded {args.state}")
        return 0
    if not 1 <= args.batch <= 100 or args.claims < 1 or args.sample_every < 1:
        parser.error("--batch must be 1..100, --claims and --sample-every positive")
    # Ctrl-C must raise KeyboardInterrupt even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bench.claimload import Workload
    from bench.harness import suite_env
    from careledger.accounts import dev_account
    from careledger.claims.pipeline import Settler
    from careledger.devnet import Devnet, free_port
    from careledger.errors import CareLedgerError
    from careledger.rpc import RpcClient
    from careledger.sender import Sender

    console = Console(stderr=True)
    state: Path = args.state.resolve()
    run_file = state / "run.json"
    saved: dict[str, Any] | None = json.loads(run_file.read_text()) if run_file.is_file() else None
    settings = {"claims": args.claims, "batch": args.batch}
    if saved is not None and not args.fresh and saved.get("settings") != settings:
        console.print(
            f"[red]{state} holds an unfinished soak of {saved['settings']['claims']:,} claims in batches of "
            f"{saved['settings']['batch']}[/]: run with those options to resume it, or add --fresh to discard it"
        )
        return 2
    if saved is None or args.fresh:
        _discard(state)
        saved = None
    state.mkdir(parents=True, exist_ok=True)
    os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = str(state / "deployments")

    t_setup = time.perf_counter()
    if saved is None:
        net = Devnet(folder=state / "devnet", port=free_port(), persist=False)
        net.up()
        env = suite_env(net.rpc_url, state / "work")
        workload = Workload.setup(env)
        saved = {
            "settings": settings,
            "port": net.port,
            "genesis": env.deployment.genesis,
            "workload": workload.to_json(),
            "done": 0,
        }
        _save(run_file, saved)
    else:
        net = Devnet(folder=state / "devnet", port=int(saved["port"]), persist=False)
        if not net.status().running:
            console.print(
                f"[red]cannot resume[/]: the devnet of the unfinished run in {state} is gone (its chain lived in "
                "that anvil process); add --fresh to start again"
            )
            return 2
        env = suite_env(net.rpc_url, state / "work", deploy=False)
        if env.deployment.genesis != saved["genesis"]:
            console.print(f"[red]cannot resume[/]: the devnet at {net.rpc_url} is not the run's chain; add --fresh")
            return 2
        workload = Workload.attach(env, saved["workload"])
    setup_s = time.perf_counter() - t_setup
    start = int(saved["done"])
    total = args.claims
    if total > workload.capacity:
        console.print(f"[red]--claims is over the workload's {workload.capacity:,} distinct claims[/]")
        return 2

    sender = Sender(RpcClient(net.rpc_url), dev_account("clinic").account, journal=state / "journal.sqlite")
    settler = Settler(workload.clinic, sender)
    if start:
        console.print(f"resuming at claim {start:,} of {total:,} (journal {sender.journal_path})")
        settler.calibrate(next(workload.batches(0, args.batch, args.batch)))

    tracemalloc.start()
    sampler = Sampler(args.sample_every, net.status().pid)
    sampler.maybe(start, force=True)
    done = start
    transactions = resent = 0
    interrupted = False
    progress = _progress(console)
    try:
        with progress:
            task = progress.add_task("claims settled", total=total, completed=start, rss=_rss_text())
            for report in settler.settle(workload.batches(start, total, args.batch)):
                done += report.claims
                transactions += report.transactions
                resent += report.resent
                saved["done"] = done
                _save(run_file, saved)
                sampler.maybe(done)
                progress.update(task, advance=report.claims, rss=_rss_text())
    except KeyboardInterrupt:
        interrupted = True
    except CareLedgerError as exc:
        console.print(f"[red]soak failed at claim {done:,}[/]: {exc.message}")
        console.print(f"state kept in {state} (devnet still running at {net.rpc_url}) for inspection")
        return 1
    finally:
        sender.close()
    if interrupted:
        console.print(
            f"\ninterrupted after {done:,} of {total:,} claims settled; the devnet is still running at "
            f"{net.rpc_url}. Run the same command again to resume (no claim will be sent twice), or add --fresh."
        )
        return 130

    elapsed = time.perf_counter() - sampler.t0
    if sampler.samples[-1]["claims"] != done:
        sampler.maybe(done, force=True)
    _traced_now, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    status = proc_status()
    verdict = judge(sampler.samples, start, total, Flat())
    result = _result(args, saved, start, done, elapsed, setup_s, transactions, resent, settler, sampler, verdict)
    # VmHWM is the kernel's high-water mark of RSS over the whole process (setup included).
    result["memory"]["rss_peak_mib"] = round(max(status["VmHWM"] / MIB, result["memory"]["rss_max_sampled_mib"]), 1)
    result["memory"]["traced_peak_mib"] = round(traced_peak / MIB, 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.png)
    if args.doc:
        from bench.run import write_doc

        write_doc(soak=result)
    saved["finished"] = True
    _save(run_file, saved)
    if args.keep:
        console.print(f"devnet left running at {net.rpc_url}; state in {state}")
    else:
        _discard(state)
    _summary(console, result, args.out, args.png)
    return 0 if verdict["verdict"] else 1


def _rss_text() -> str:
    return f"RSS {proc_status()['VmRSS'] / MIB:,.1f} MiB"


def _progress(console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} claims/s" if speed else "- claims/s")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rss]}"),
        console=console,
    )


def _commit() -> str:
    from bench.harness import git_commit  # imported late, as the rest of this module's project imports

    return git_commit()


def _result(
    args: argparse.Namespace,
    saved: dict[str, Any],
    start: int,
    done: int,
    elapsed: float,
    setup_s: float,
    transactions: int,
    resent: int,
    settler: Any,
    sampler: Sampler,
    verdict: dict[str, Any],
) -> dict[str, Any]:
    samples = sampler.samples
    mid_claim = start + (done - start) / 2
    mid = min(samples, key=lambda s: abs(s["claims"] - mid_claim))
    first, last = samples[0], samples[-1]
    rss = [s["rss_mib"] for s in samples]
    command = "make soak" if (args.claims, args.batch) == (50_000, 100) else "python -m bench.soak"
    if (args.claims, args.batch) != (50_000, 100):
        command += f" --claims {args.claims} --batch {args.batch}"
    settled = done - start
    return {
        "commit": _commit(),
        "command": command,
        "machine": _machine(),
        "claims": done,
        "claims_this_process": settled,
        "resumed_from": start,
        "batch": args.batch,
        "window_batches": settler.window,
        "transactions": transactions,
        "resent": resent,
        "setup_s": round(setup_s, 2),
        "elapsed_s": round(elapsed, 2),
        "claims_per_s": round(settled / elapsed, 1) if elapsed else None,
        "send_path": "careledger.claims.pipeline.Settler -> careledger.sender.Sender (journalled, idempotent)",
        "note": "tracemalloc traces every allocation for the whole run, which costs client CPU: the claims "
        "bench (claims.settle) measures throughput without it",
        "memory": {
            "sample_every": args.sample_every,
            "rss_start_mib": first["rss_mib"],
            "rss_end_mib": last["rss_mib"],
            "rss_max_sampled_mib": max(rss),
            "first_half_rss_growth_mib": round(mid["rss_mib"] - first["rss_mib"], 3),
            "second_half_rss_growth_mib": round(last["rss_mib"] - mid["rss_mib"], 3),
            "first_half_traced_growth_mib": round(mid["traced_mib"] - first["traced_mib"], 3),
            "second_half_traced_growth_mib": round(last["traced_mib"] - mid["traced_mib"], 3),
            "samples": samples,
        },
        "flat": verdict,
    }


def plot(result: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["memory"]["samples"]
    xs = [s["claims"] for s in samples]
    png.parent.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.2), dpi=120, sharex=True)
    warm = result["flat"]["judged_from_claim"]
    for ax, key, label in ((top, "rss_mib", "RSS (MiB)"), (bottom, "traced_mib", "tracemalloc current (MiB)")):
        ax.plot(xs, [s[key] for s in samples], marker=".", linewidth=1)
        ax.axvspan(min(xs), warm, color="grey", alpha=0.15, label="warm-up (not judged)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        lo, hi = min(s[key] for s in samples), max(s[key] for s in samples)
        pad = max(1.0, (hi - lo) * 0.5)
        ax.set_ylim(max(0.0, lo - pad), hi + pad)
    top.legend(loc="lower right", fontsize=8)
    bottom.set_xlabel("claims submitted and settled")
    verdict = "flat" if result["flat"]["verdict"] else "NOT flat"
    top.set_title(
        f"Soak: {result['claims']:,} claims, {result['claims_per_s']:,.0f} claims/s, memory {verdict}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def _summary(console: Any, result: dict[str, Any], out: Path, png: Path) -> None:
    mem, flat = result["memory"], result["flat"]
    console.print(
        f"{result['claims_this_process']:,} claims settled in {result['elapsed_s']:.1f} s "
        f"({result['claims_per_s']:,.0f} claims/s, {result['transactions']:,} transactions, {result['resent']} re-sent)"
    )
    console.print(
        f"RSS start {mem['rss_start_mib']:.1f} MiB, end {mem['rss_end_mib']:.1f}, peak {mem['rss_peak_mib']:.1f}; "
        f"growth first half {mem['first_half_rss_growth_mib']:+.2f}, "
        f"second half {mem['second_half_rss_growth_mib']:+.2f}"
    )
    measured = ", ".join(f"{k} {v:+.3f}" for k, v in flat.get("measured", {}).items())
    console.print(f"memory flat: {'yes' if flat['verdict'] else 'NO'} ({flat['reason']}; {measured})")
    console.print(f"wrote {out} and {png}")


if __name__ == "__main__":
    sys.exit(main())
