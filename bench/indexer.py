"""The persistent indexer at scale (issue #17, point 3): ``indexer.events_per_s`` into SQLite,
``indexer.query_p95_ms`` of each report at 1,000,000 events, and memory while indexing.

Where the events come from (replaying recorded logs): the seeded random run of
``tests/random_run.py`` (every kind of action of every domain, through the SDK clients) is played
on the fresh devnet ``bench.run`` gives, and its logs and block headers are recorded from the node
with ``eth_getLogs``. A synthetic chain then repeats that recording, copy after copy, until it
holds the wanted number of events: in copy ``k`` every person (a ``patient`` or ``member``
argument) becomes one of ``PERSONS`` pseudonyms and every identifier (claim, batch, unit, consent,
break-glass id) a fresh one, block numbers and times move on (the whole chain spans one year), and
the organisations, plans and data words stay as recorded. So the store sees the real event shapes
in the real mix, with realistic key spread, and each query touches what it would in production.

The synthetic chain is served in process by :class:`SyntheticNode` (``eth_blockNumber``,
``eth_getLogs``, ``eth_getBlockByNumber`` as an RPC client), and the real
:class:`~careledger.index.follower.Follower` indexes it: the same ranges, header checks, decoding
and transactions as against a node, without the HTTP transport (the node's own time is measured
and left out of ``events_per_s``; the end-to-end rate with it is reported beside it).

Usage: python -m bench.indexer [--events N] [--db PATH_OR_URL]   (also run by ``make bench``)
Writes docs/benchmarks/indexer.json and docs/benchmarks/indexer_throughput.png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from bench.harness import BenchEnv, BenchResult, Throughput, fresh_suite, git_commit
from careledger.deployments import Deployment
from careledger.exactjson import dumps
from careledger.rpc import RpcClient

ROOT = Path(__file__).resolve().parent.parent
OUT_JSON = ROOT / "docs" / "benchmarks" / "indexer.json"
OUT_PNG = ROOT / "docs" / "benchmarks" / "indexer_throughput.png"
EVENTS = 1_000_000
QUICK_EVENTS = 50_000
PERSONS = 2_000  # pseudonym groups: each recorded person becomes one of 2,000 per copy cycle
YEAR = 365 * 86_400
EVENTS_BUDGET = 20_000
QUERY_BUDGET_MS = 50.0
QUERIES = 40  # timed runs of each report
SEED = 17
PERSON_ARGS = ("patient", "member")
ID_ARGS = ("claimId", "batchId", "unitId", "consentId", "breakGlassId")
MIB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MIB
    return 0.0


# ---------------------------------------------------------------------------- recording


def record(env: BenchEnv, steps: int) -> tuple[list[dict[str, Any]], dict[int, int], int]:
    """Play the seeded random run on ``env`` and record its suite logs and block times."""
    sys.path.insert(0, str(ROOT / "tests"))
    from random_run import RandomRun  # tests/random_run.py: every kind of action, via the SDK

    from careledger.index.decode import LogDecoder

    run = RandomRun(env.w3, env.deployment, env.artifacts, env.workdir / "random-run", seed=8)
    run.setup()
    run.run(steps)
    rpc = RpcClient(env.rpc)
    decoder = LogDecoder(env.deployment, env.artifacts)
    logs = rpc.call("eth_getLogs", [{"address": decoder.addresses, "fromBlock": "0x0", "toBlock": "latest"}])
    head = int(rpc.call("eth_blockNumber"), 16)
    blocks = sorted({int(lg["blockNumber"], 16) for lg in logs})
    replies = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in blocks])
    times = {n: int(b["timestamp"], 16) for n, b in zip(blocks, replies, strict=True)}
    return logs, times, head


class Template:
    """The recorded logs, with where in each the persons and identifiers sit (from the ABIs)."""

    def __init__(self, logs: list[dict[str, Any]], span: int, deployment: Deployment, artifacts: Any) -> None:
        from careledger.index.decode import LogDecoder

        decoder = LogDecoder(deployment, artifacts)
        self.span = span
        self.entries: list[tuple[int, dict[str, Any], list[tuple[int, str]]]] = []
        for log in logs:
            spec = decoder.by_address[log["address"].lower()].get(bytes.fromhex(log["topics"][0][2:]))
            if spec is None:
                continue
            remap = [
                (i + 1, "person" if name in PERSON_ARGS else "id")
                for i, (name, _) in enumerate(spec.indexed)
                if name in PERSON_ARGS or name in ID_ARGS
            ]
            self.entries.append((int(log["blockNumber"], 16), log, remap))
        self.entries.sort(key=lambda e: (e[0], int(e[1]["logIndex"], 16)))
        self.first = self.entries[0][0]

    def __len__(self) -> int:
        return len(self.entries)


class SyntheticNode(RpcClient):
    """The recorded logs repeated ``copies`` times, served in process as a node would."""

    def __init__(self, template: Template, copies: int, start_time: int) -> None:
        super().__init__("synthetic://in-process")
        self.t = template
        self.copies = copies
        self.head = copies * template.span
        self.seconds_per_block = max(1, YEAR // max(1, self.head))
        self.start_time = start_time
        self.node_seconds = 0.0
        self.node_cpu = 0.0
        self._persons: dict[tuple[str, int], str] = {}

    def block_hash(self, n: int) -> str:
        return "0x" + keccak(n.to_bytes(8, "big") + b"careledger-bench").hex()

    def header(self, n: int) -> dict[str, Any]:
        return {
            "number": hex(n),
            "hash": self.block_hash(n),
            "parentHash": self.block_hash(n - 1),
            "timestamp": hex(self.start_time + n * self.seconds_per_block),
        }

    def _person(self, topic: str, k: int) -> str:
        key = (topic, k % PERSONS)
        got = self._persons.get(key)
        if got is None:
            got = "0x" + "00" * 12 + keccak(bytes.fromhex(topic[2:]) + key[1].to_bytes(4, "big"))[12:].hex()
            self._persons[key] = got
        return got

    def logs(self, lo: int, hi: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        span = self.t.span
        for k in range(max(0, (lo - 1) // span), min(self.copies, hi // span + 1)):
            base = k * span - self.t.first + 1
            kb = k.to_bytes(4, "big")
            for block, log, remap in self.t.entries:
                n = base + block
                if n < lo or n > hi:
                    continue
                topics = list(log["topics"])
                for i, kind in remap:
                    if kind == "person":
                        topics[i] = self._person(topics[i], k)
                    else:
                        topics[i] = "0x" + keccak(bytes.fromhex(topics[i][2:]) + kb).hex()
                out.append(
                    {
                        "address": log["address"],
                        "topics": topics,
                        "data": log["data"],
                        "blockNumber": hex(n),
                        "blockHash": self.block_hash(n),
                        "logIndex": log["logIndex"],
                        "transactionHash": "0x" + keccak(bytes.fromhex(log["transactionHash"][2:]) + kb).hex(),
                        "removed": False,
                    }
                )
        return out

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            if method == "eth_blockNumber":
                return hex(self.head)
            if method == "eth_getLogs":
                q = params[0]
                return self.logs(int(q["fromBlock"], 16), int(q["toBlock"], 16))
            if method == "eth_getBlockByNumber":
                n = int(params[0], 16)
                return self.header(n) if 0 <= n <= self.head else None
            raise NotImplementedError(method)
        finally:
            self.node_seconds += time.perf_counter() - t0
            self.node_cpu += time.process_time() - c0

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]], *, chunk: int = 500) -> list[Any]:
        return [self.call(m, p) for m, p in requests_]


# ---------------------------------------------------------------------------- measuring


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_queries(svc: Any, rng: random.Random) -> dict[str, dict[str, float]]:
    """Each report, ``QUERIES`` times with random arguments drawn from the index; milliseconds."""
    from careledger.index.reports import claims as C
    from careledger.index.reports import custody as P
    from careledger.index.reports import disclosures as D

    store = svc.store

    def some(names: Sequence[str], arg: str) -> list[str]:
        return sorted({r.args[arg] for r in store.events(names=list(names), limit=20_000)})

    patients = some(D.EVENTS, "patient")
    members = some(["ClaimSubmitted"], "member")
    insurers = some(["PlanCreated"], "insurer")
    batches = some(["BatchCommissioned"], "batchId")
    cur = store.cursor()
    assert cur is not None
    last = store.block(cur.block)
    top = last.timestamp if last else 0
    day, month = 86_400, 30 * 86_400

    def window(length: int) -> tuple[int, int]:
        start = rng.randrange(top - YEAR, top - length)
        return start, start + length

    cases: dict[str, Callable[[], Any]] = {
        "disclosures": lambda: D.disclosures(svc, rng.sample(patients, 3), limit=100),
        "disclosures_fhir": lambda: D.bundle(
            D.disclosures(svc, rng.sample(patients, 3), limit=100).items,
            svc.chain_id,
            svc.address("ConsentRegistry"),
            top,
        ),
        "claims_by_insurer_day": lambda: C.insurer_claims(
            svc, rng.choice(insurers), *(), limit=100, **_period(window(day))
        ),
        "claims_by_insurer_month": lambda: C.insurer_claims(
            svc, rng.choice(insurers), limit=100, **_period(window(month))
        ),
        "eob": lambda: C.member_eob(svc, rng.sample(members, 2), limit=100),
        "custody_trail": lambda: P.custody_trail(svc, rng.choice(batches), limit=100),
        "regulator_month": lambda: P.regulator_view(svc, limit=100, **_period(window(month))),
        "epcis_day": lambda: P.epcis_export(svc, **_period(window(day))),
    }
    out: dict[str, dict[str, float]] = {}
    for name, fn in cases.items():
        fn()  # warm the page cache the way a served API is warm
        ms = []
        for _ in range(QUERIES):
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1000)
        out[name] = {
            "p95_ms": round(p95(ms), 2),
            "median_ms": round(statistics.median(ms), 2),
            "max_ms": round(max(ms), 2),
            "runs": QUERIES,
        }
    return out


def _period(bounds: tuple[int, int]) -> dict[str, int]:
    return {"since": bounds[0], "until": bounds[1]}


def index_synthetic(
    template: Template, events: int, db: str, deployment: Deployment, artifacts: Any, start_time: int
) -> dict[str, Any]:
    """Index the synthetic chain into ``db``, sampling throughput and memory as it goes."""
    from careledger.index.follower import Follower
    from careledger.index.service import IndexService
    from careledger.index.store import open_store

    copies = -(-events // len(template))
    node = SyntheticNode(template, copies, start_time)
    store = open_store(db)
    samples: list[dict[str, float]] = []
    state = {"events": 0, "t": time.perf_counter(), "node": 0.0, "mark": 0, "cpu": time.process_time(), "ncpu": 0.0}
    state.update(probe=0.0, probe_cpu=0.0)
    every = max(10_000, events // 40)

    def on_range(_lo: int, _hi: int, n: int) -> None:
        state["events"] += n
        if state["events"] - state["mark"] >= every:
            now, cpu = time.perf_counter(), time.process_time()
            gc.collect()  # the sample's own time (this collection, RSS) is left out of every rate
            wall = now - state["t"]
            node_s = node.node_seconds - state["node"]
            work_cpu = (cpu - state["cpu"]) - (node.node_cpu - state["ncpu"])
            n = state["events"] - state["mark"]
            samples.append(
                {
                    "events": state["events"],
                    "events_per_s": round(n / max(1e-9, wall - node_s)),
                    "events_per_cpu_s": round(n / max(1e-9, work_cpu)),
                    "end_to_end_per_s": round(n / max(1e-9, wall)),
                    "rss_mib": round(rss_mib(), 1),
                }
            )
            after, after_cpu = time.perf_counter(), time.process_time()
            state["probe"] += after - now
            state["probe_cpu"] += after_cpu - cpu
            state.update(mark=state["events"], t=after, node=node.node_seconds, cpu=after_cpu, ncpu=node.node_cpu)

    follower = Follower(node, store, deployment, artifacts, max_range=2000, on_range=on_range)
    t0, c0 = time.perf_counter(), time.process_time()
    report = follower.sync()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    total = report.events
    svc = IndexService(store, deployment, artifacts, node)
    queries = time_queries(svc, random.Random(SEED))
    size = Path(db).stat().st_size if "://" not in db else None
    warm = [s for s in samples if s["events"] > 0.2 * total]
    return {
        "events": total,
        "blocks": node.head,
        "ranges": report.ranges,
        "seconds": round(wall, 1),
        "node_seconds": round(node.node_seconds, 1),
        "probe_seconds": round(state["probe"], 1),
        "events_per_s": round(total / (wall - node.node_seconds - state["probe"])),
        "events_per_cpu_s": round(total / (cpu - node.node_cpu - state["probe_cpu"])),
        "cpu_share": round(cpu / wall, 2),
        "end_to_end_per_s": round(total / (wall - state["probe"])),
        "db_bytes": size,
        "samples": samples,
        "rss_growth_after_warmup_mib": round(warm[-1]["rss_mib"] - warm[0]["rss_mib"], 1) if len(warm) > 1 else None,
        "queries": queries,
    }


def plot(samples: list[dict[str, float]], png: Path, budget: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    xs = [s["events"] / 1000 for s in samples]
    ax.plot(xs, [s["events_per_s"] for s in samples], marker="o", markersize=3, label="index work, per wall second")
    ax.plot(xs, [s["events_per_cpu_s"] for s in samples], marker="s", markersize=3, label="index work, per CPU second")
    ax.plot(xs, [s["end_to_end_per_s"] for s in samples], linestyle=":", label="with the in-process node")
    ax.axhline(budget, color="grey", linestyle="--", label=f"budget {budget:,}/s")
    ax.set_xlabel("events already in the SQLite index (thousands)")
    ax.set_ylabel("events/s")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot(xs, [s["rss_mib"] for s in samples], color="tab:red", alpha=0.5, label="RSS (MiB)")
    ax2.set_ylabel("RSS MiB")
    ax2.set_ylim(bottom=0)
    ax.set_title("careledger index: events/s against database size", fontsize=9)
    ax.grid(True, alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    l2, lb2 = ax2.get_legend_handles_labels()
    ax.legend(lines + l2, labels + lb2, loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def measure(env: BenchEnv, events: int, db: str | None, steps: int, command: str) -> dict[str, Any]:
    logs, times, head = record(env, steps)
    template = Template(logs, head + 1, env.deployment, env.artifacts)
    start_time = min(times.values())
    with tempfile.TemporaryDirectory(prefix="careledger-bench-index-") as tmp:
        target = db or str(Path(tmp) / "index.sqlite")
        result = index_synthetic(template, events, target, env.deployment, env.artifacts, start_time)
    result.update(
        {
            "command": command,
            "commit": git_commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "database": "postgresql" if db and "://" in db else "sqlite",
            "recorded": {"events": len(template), "blocks": head, "random_run_steps": steps, "seed": 8},
            "persons_per_recorded_person": PERSONS,
            "budgets": {"events_per_s": EVENTS_BUDGET, "query_p95_ms": QUERY_BUDGET_MS},
        }
    )
    OUT_JSON.write_text(dumps(result) + "\n")
    if result["samples"]:
        plot(result["samples"], OUT_PNG, EVENTS_BUDGET)
    return result


def run(env: BenchEnv) -> BenchResult:
    """``make bench``: the indexer figures (1,000,000 events; 50,000 with --quick)."""
    events = QUICK_EVENTS if env.quick else EVENTS
    r = measure(env, events, None, 800, "make bench" + (" (--quick)" if env.quick else ""))
    res = BenchResult()
    res.throughput["indexer.events_per_s"] = Throughput(
        r["events_per_s"], r["end_to_end_per_s"], r["events"], {"naive_is": "end to end with the in-process node"}
    )
    for name, q in r["queries"].items():
        res.timing[f"indexer.query.{name}"] = {
            "median": round(q["median_ms"] / 1000, 4),
            "max": round(q["max_ms"] / 1000, 4),
            "p95": round(q["p95_ms"] / 1000, 4),
            "budget": QUERY_BUDGET_MS / 1000,
            "runs": q["runs"],
        }
    worst = max(r["queries"].items(), key=lambda kv: kv[1]["p95_ms"])
    res.notes.append(
        f"{r['events']:,} events (the recorded random run, copied) indexed at {r['events_per_s']:,}/s wall, "
        f"{r['events_per_cpu_s']:,}/s per CPU second (the process had {r['cpu_share']:.0%} of a core; budget "
        f"{EVENTS_BUDGET:,}/s); RSS growth after warm-up {r['rss_growth_after_warmup_mib']} MiB; "
        f"indexer.query_p95_ms: worst report {worst[0]} {worst[1]['p95_ms']} ms (budget {QUERY_BUDGET_MS:g} ms), "
        "every report in the timings above (seconds) and docs/benchmarks/indexer.json"
    )
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.indexer")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (default: a temp SQLite file)")
    parser.add_argument("--steps", type=int, default=800, help="random-run actions to record")
    args = parser.parse_args(argv)
    command = "python -m bench.indexer" + (f" --events {args.events}" if args.events != EVENTS else "")
    with tempfile.TemporaryDirectory(prefix="careledger-bench-indexer-") as tmp, fresh_suite(Path(tmp)) as env:
        r = measure(env, args.events, args.db, args.steps, command)
    print(json.dumps({k: v for k, v in r.items() if k != "samples"}, indent=2))
    slow = [n for n, q in r["queries"].items() if q["p95_ms"] > QUERY_BUDGET_MS]
    ok = r["events_per_s"] >= EVENTS_BUDGET and not slow
    if not ok:
        print(f"bench.indexer: OVER BUDGET: events/s {r['events_per_s']:,}; slow reports: {slow}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
