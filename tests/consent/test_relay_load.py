"""A bounded load test of the relayer over real HTTP on loopback (issue #15, point 7): honest
patients, each relationship a fresh pseudonym, post signed grants while attackers play every
attack at once: a fresh-key flood at one organisation, invalid signatures, oversized bodies, and
an ERC-1271 wallet not on the allowlist. The honest patients are all served, the attackers are
bounded by the policy, and the end-to-end rate of relayed grants is measured."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account

from bench.harness import fresh_suite
from careledger.accounts import dev_account
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient, SignedAction
from careledger.consent.relay import RelayPolicy, create_app
from careledger.consent.terms import GrantTerms, mask
from careledger.deployments import load_deployment
from careledger.devnet import free_port

pytestmark = pytest.mark.devnet

HONEST_ORGS = ("clinic", "lab", "er", "pharmacy")
HONEST_PER_ORG = 50
GRANT_GAS = 80_000  # a relayed first grant of a fresh pseudonym costs about 74,700 (bench)
ORG_BUDGET = 60 * GRANT_GAS  # the flooded organisation sponsors at most this much per hour
# The relay devnet mines in intervals (docs/consent.md, "Relayed grants end to end"): a relayed
# transaction is a mempool insert, as on a real chain, not a block of its own.
RELAY_BLOCK_TIME = 0.02  # as bench/consent.py and `careledger devnet up --block-time 0.02` (docs)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A devnet with the directory and consent registry, and the relayer served by uvicorn on a
    free loopback port (behind a notional proxy: clients are told apart by X-Forwarded-For)."""
    import uvicorn

    tmp = Path(tmp_path_factory.mktemp("relay-load"))
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    with fresh_suite(tmp, domains=("directory", "consent"), block_time=RELAY_BLOCK_TIME) as env:
        try:
            w3, artifacts, admin = env.w3, env.artifacts, env.signer("admin")
            relayer = ConsentClient(admin.with_account(dev_account("relayer").account), load_deployment(w3))
            policy = RelayPolicy(
                org_budget=ORG_BUDGET,
                client_limit=10_000,
                client_failures=10,
                signer_limit=5,
                window=3600,
                trust_forwarded_for=True,
            )
            urls = []
            for p in (policy,):
                port = free_port()
                server = uvicorn.Server(
                    uvicorn.Config(create_app(relayer, policy=p), host="127.0.0.1", port=port, log_level="warning")
                )
                thread = threading.Thread(target=server.run, daemon=True)
                thread.start()
                servers.append((server, thread))
                url = f"http://127.0.0.1:{port}"
                urls.append(url)
                deadline = time.monotonic() + 20
                while True:
                    try:
                        if requests.get(f"{url}/health", timeout=0.5).ok:
                            break
                    except requests.RequestException:
                        pass
                    assert time.monotonic() < deadline, "relay did not start"
                    time.sleep(0.05)
            yield {
                "url": urls[0],
                "rpc": env.rpc,
                "relayer": relayer,
                "w3": w3,
                "artifacts": artifacts,
                "admin": admin,
            }
        finally:
            for server, thread in servers:
                server.should_exit = True
                thread.join(timeout=10)


def _grant(client: ConsentClient, org: str, now: int) -> SignedAction:
    """A grant signed by a fresh key: a patient's new pseudonym for ``org``."""
    terms = GrantTerms(dev_account(org).address, mask([Category.OBSERVATION]), mask([Purpose.TREAT]), now + 86_400)
    return client.sign(Account.create(), "grant", terms=terms, nonce=0, deadline=now + 900)


def test_honest_patients_served_while_every_attack_runs(served: dict[str, Any]) -> None:
    url, relayer = served["url"], served["relayer"]
    now = relayer.chain_time()
    honest = [_grant(relayer, org, now) for org in HONEST_ORGS for _ in range(HONEST_PER_ORG)]
    flood = [_grant(relayer, "manufacturer", now) for _ in range(150)]  # fresh keys, one organisation
    forged = [_grant(relayer, "insurer", now).to_json() for _ in range(60)]
    for body in forged:
        body["signer"] = dev_account("patient").address  # someone else's name on the signature
    art = served["artifacts"].contracts["MockGreedyWallet"]
    owner = Account.create()
    wallet = str(served["admin"].deploy(art.abi, art.bytecode, [owner.address, 8_000_000], "wallet")["contractAddress"])
    greedy = relayer.sign(
        owner,
        "grant",
        patient=wallet,
        signer=wallet,
        terms=GrantTerms(dev_account("clinic").address, 1, 1, now + 86_400),
        nonce=0,
        deadline=now + 900,
    )
    big = b'{"action": "grant", "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    balance_before = served["w3"].eth.get_balance(relayer.me)
    results: dict[str, Counter[int]] = {k: Counter() for k in ("honest", "flood", "forged", "big", "greedy")}
    lock = threading.Lock()

    def post(kind: str, client_ip: str, **kw: Any) -> None:
        resp = requests.post(
            f"{url}/actions", headers={"X-Forwarded-For": client_ip, **kw.pop("headers", {})}, timeout=60, **kw
        )
        with lock:
            results[kind][resp.status_code] += 1

    jobs: list[tuple[str, str, dict[str, Any]]] = []
    jobs += [("honest", f"10.1.0.{i % 200}", {"json": a.to_json()}) for i, a in enumerate(honest)]
    jobs += [("flood", "10.66.0.1", {"json": a.to_json()}) for a in flood]
    jobs += [("forged", "10.66.0.2", {"json": b}) for b in forged]
    jobs += [("big", "10.66.0.3", {"data": big, "headers": {"content-type": "application/json"}}) for _ in range(5)]
    jobs += [("greedy", "10.66.0.4", {"json": greedy.to_json()})]
    # interleave honest and hostile requests
    jobs.sort(key=lambda j: hash((j[0], id(j[2]))) % 997)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        for kind, ip, kw in jobs:
            pool.submit(post, kind, ip, **kw)
    elapsed = time.monotonic() - started

    assert results["honest"] == Counter({200: len(honest)}), results
    assert results["big"] == Counter({413: 5})
    assert results["greedy"] == Counter({403: 1})
    # invalid signatures: refused one by one until the client is cut off, then refused unread
    # (a few in flight when the limit is reached still get their own answer: at most the workers)
    assert set(results["forged"]) <= {400, 429} and results["forged"][400] <= 10 + 12
    # the flood at one organisation stops at that organisation's budget
    assert results["flood"][200] * 70_000 <= ORG_BUDGET and results["flood"][429] >= 80
    spent = balance_before - served["w3"].eth.get_balance(relayer.me)
    assert spent > 0
    mixed_rate = len(jobs) / elapsed
    print(f"\nrelay load: {len(jobs)} requests in {elapsed:.2f} s ({mixed_rate:.0f}/s), {dict(results)}")


@pytest.fixture(scope="module")
def relay_process(served: dict[str, Any]) -> Iterator[str]:
    """`careledger relay serve` as its own process (as deployed), on a free loopback port."""
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    cmd = [
        sys.executable, "-c", "from careledger.cli.main import main; main()", "--rpc", served["rpc"],
        "--account", "relayer", "relay", "serve", "--port", str(port), "--rate", "1000", "--trust-forwarded-for",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "relay exited"
            try:
                if requests.get(f"{url}/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "relay did not start"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_relayed_grants_end_to_end_rate(served: dict[str, Any], relay_process: str) -> None:
    """Relayed grants through HTTP to `careledger relay serve` (its own process), each from a fresh
    pseudonym, from 12 concurrent clients: the end-to-end rate (signed action in, the relayed
    transaction's receipt and consent id out)."""
    url, relayer = relay_process, served["relayer"]
    now = relayer.chain_time()
    actions = [_grant(relayer, org, now) for org in HONEST_ORGS for _ in range(60)]
    session_local = threading.local()
    codes: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        s = getattr(session_local, "s", None) or requests.Session()
        session_local.s = s
        t0 = time.perf_counter()
        resp = s.post(f"{url}/actions", json=actions[i].to_json(), headers={"X-Forwarded-For": f"10.2.{i % 250}.1"})
        took = time.perf_counter() - t0
        with lock:
            codes[resp.status_code] += 1
            latencies.append(took)

    first_block = served["w3"].eth.block_number
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(post, range(len(actions))))
    elapsed = time.monotonic() - started
    blocks = served["w3"].eth.block_number - first_block
    rate = len(actions) / elapsed
    latencies.sort()
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    print(
        f"\nrelayed grants end to end: {len(actions)} in {elapsed:.2f} s = {rate:.0f}/s "
        f"(latency p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; {blocks} blocks)"
    )
    assert codes == Counter({200: len(actions)}), codes
