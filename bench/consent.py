"""Consent benchmark: gas of grant (direct and relayed), revoke, recordAccess and the access
check, the same grant measured with 1, 100 and 1,000 prior consents (no loops: it must stay
flat), the throughput of the access check with batched JSON-RPC versus one call at a time, and
relayed grants end to end through HTTP (many clients against one client sequentially)."""

from __future__ import annotations

import time
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from bench.harness import BenchEnv, BenchResult, Throughput
from careledger.accounts import dev_account
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.terms import GrantTerms, mask
from careledger.journal import Journal
from careledger.rpc import RpcClient
from careledger.sender import Operation, Sender

DAY = 86_400
DOC = bytes.fromhex("d0" * 32)
RECORD = bytes.fromhex("7e" * 32)
LABS = mask([Category.OBSERVATION, Category.DIAGNOSTIC_REPORT])
TREAT = mask([Purpose.TREAT])


def _addr(i: int, tag: int) -> str:
    return to_checksum_address("0x" + f"{tag:08x}{i:032x}")


def _flood_grants(
    env: BenchEnv, client: ConsentClient, patient: LocalAccount, grantees: list[str], batch: int = 200
) -> None:
    """Many direct grants from one patient, pre-signed and sent in JSON-RPC batches (fast setup)."""
    until = client.chain_time() + 365 * DAY
    ops = [
        Operation(
            f"bench-grant-{patient.address}-{g}",
            client.address,
            client.contract.functions.grant(
                patient.address, GrantTerms(g, LABS, TREAT, until, document=DOC).as_tuple()
            )._encode_transaction_data(),
            gas=120_000,
        )
        for g in grantees
    ]
    # The SDK's batched send path (JSON-RPC batches of `batch`), journalled for this run only.
    outcomes = Sender(RpcClient(env.rpc), patient, journal=Journal.throwaway()).submit(ops, chunk=batch)
    if not all(o.ok for o in outcomes):
        raise RuntimeError("bench setup grant reverted")


RELAY_BLOCK_TIME = 0.02
"""Seconds between blocks of the relay devnet (``careledger devnet up --block-time``; docs/consent.md)."""
RELAY_CLIENTS = 12


def _relay_grants(env: BenchEnv) -> tuple[Throughput, str]:
    """Relayed grants end to end through HTTP: `careledger relay serve` as its own process on a
    fresh devnet that mines every ``RELAY_BLOCK_TIME`` s, fed signed grants (each from a fresh
    pseudonym) by ``RELAY_CLIENTS`` concurrent HTTP clients; beside it, one client posting
    grants one after another (the naive path: each waits for its receipt). Signed action in,
    receipt and consent id out; latency per grant as each client sees it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from bench.harness import fresh_suite
    from careledger.consent.client import SignedAction
    from careledger.devnet import free_port
    from tools.webapp.relay import serve_relayer

    orgs = ("clinic", "lab", "er", "pharmacy")
    per_org = 60 if env.quick else 150
    naive_n = 20 if env.quick else 40
    with fresh_suite(env.workdir / "relay", quick=env.quick, anvil_args=f"--block-time {RELAY_BLOCK_TIME:g}") as renv:
        client = ConsentClient(renv.signer("relayer"), renv.deployment)
        port = free_port()
        # --trust-forwarded-for: every simulated client comes from its own address (X-Forwarded-For).
        with serve_relayer(renv.rpc, f"http://127.0.0.1:{port}", extra=["--trust-forwarded-for"]) as url:
            now = client.chain_time()

            def grant(org: str) -> SignedAction:
                terms = GrantTerms(dev_account(org).address, mask([Category.OBSERVATION]), TREAT, now + DAY)
                return client.sign(Account.create(), "grant", terms=terms, nonce=0, deadline=now + 900)

            actions = [grant(org) for org in orgs for _ in range(per_org)]
            naive_actions = [grant(orgs[i % len(orgs)]) for i in range(naive_n)]
            local = threading.local()
            latencies: list[float] = []
            failed: list[int] = []
            lock = threading.Lock()

            def post(i: int, body: SignedAction, forwarded: str) -> None:
                session = getattr(local, "s", None) or requests.Session()
                local.s = session
                t0 = time.perf_counter()
                resp = session.post(f"{url}/actions", json=body.to_json(), headers={"X-Forwarded-For": forwarded})
                took = time.perf_counter() - t0
                with lock:
                    latencies.append(took)
                    if resp.status_code != 200 or "consentId" not in resp.json():
                        failed.append(resp.status_code)

            first_block = renv.w3.eth.block_number
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=RELAY_CLIENTS) as pool:
                list(pool.map(lambda i: post(i, actions[i], f"10.2.{i % 250}.1"), range(len(actions))))
            elapsed = time.perf_counter() - t0
            blocks = renv.w3.eth.block_number - first_block
            concurrent = sorted(latencies)
            latencies.clear()
            t0 = time.perf_counter()
            for i, body in enumerate(naive_actions):
                post(i, body, "10.3.0.1")
            naive_elapsed = time.perf_counter() - t0
            sequential = sorted(latencies)
    if failed:
        raise RuntimeError(f"relay bench: {len(failed)} grants not served (HTTP {sorted(set(failed))})")

    def pct(xs: list[float], q: float) -> float:
        return round(xs[min(len(xs) - 1, int(len(xs) * q))] * 1000, 1)

    rate, naive_rate = len(actions) / elapsed, naive_n / naive_elapsed
    detail = {
        "clients": RELAY_CLIENTS,
        "block_time_s": RELAY_BLOCK_TIME,
        "blocks": blocks,
        "latency_p50_ms": pct(concurrent, 0.5),
        "latency_p95_ms": pct(concurrent, 0.95),
        "naive_latency_p50_ms": pct(sequential, 0.5),
        "naive_latency_p95_ms": pct(sequential, 0.95),
        "target_ops_per_s": 200,
    }
    note = (
        f"relayed grants end to end through HTTP: {len(actions):,} from fresh pseudonyms by {RELAY_CLIENTS} "
        f"concurrent clients to `careledger relay serve` on a devnet mining every {RELAY_BLOCK_TIME:g} s: "
        f"{rate:,.0f}/s in {blocks} blocks, latency p50 {detail['latency_p50_ms']} ms, p95 "
        f"{detail['latency_p95_ms']} ms; one client sequentially {naive_rate:,.1f}/s (p50 "
        f"{detail['naive_latency_p50_ms']} ms)"
    )
    return Throughput(rate, naive_rate, len(actions), detail), note


def _gas(r: TxReceipt) -> int:
    return int(r["gasUsed"])


def run(env: BenchEnv) -> BenchResult:
    deployment = env.deployment
    clinic_c = ConsentClient(env.signer("clinic"), deployment)
    lab_c = clinic_c.with_chain(env.signer("lab"))
    patient_c = clinic_c.with_chain(env.signer("patient"))
    patient2_c = clinic_c.with_chain(env.signer("patient2"))
    relayer_c = clinic_c.with_chain(env.signer("relayer"))
    clinic, lab, er = (dev_account(n).address for n in ("clinic", "lab", "er"))
    _patient_key, patient2_key = dev_account("patient").account, dev_account("patient2").account
    now = clinic_c.chain_time()
    gas: dict[str, int] = {}
    notes: list[str] = []

    # ---------------------------------------------------------------- the budgeted operations
    # grant: a new (patient, grantee) pair, i.e. a fresh storage slot (the worst case).
    cid, r = patient_c.grant(GrantTerms(clinic, LABS, TREAT, now + 30 * DAY, document=DOC))
    gas["consent.grant"] = _gas(r)
    # record access under it, then the read call's execution gas
    gas["consent.record_access"] = _gas(
        clinic_c.record_access(dev_account("patient").address, cid, Category.OBSERVATION, Purpose.TREAT, RECORD)
    )
    check = clinic_c.contract.functions.canAccess(
        dev_account("patient").address, clinic, int(Category.OBSERVATION), int(Purpose.TREAT)
    )
    gas["consent.check_exec"] = env.exec_gas({"to": clinic_c.address, "data": check._encode_transaction_data()})
    gas["consent.revoke"] = _gas(patient_c.revoke(clinic, cid))
    # re-grant to the same pair: the pair's slot is already non-zero (a cheaper write)
    _, r = patient_c.grant(GrantTerms(clinic, LABS, TREAT, clinic_c.chain_time() + DAY, document=DOC))
    regrant = _gas(r)

    # grant_signed: the signer has signed before (for another pair); then the common case since
    # pairwise pseudonyms, the first signed action of a fresh pseudonym (a key never seen on chain).
    relayer_c.submit(patient2_c.sign(patient2_key, "grant", terms=GrantTerms(er, LABS, TREAT, now + DAY, document=DOC)))
    fresh: LocalAccount = Account.from_key(keccak(text="careledger bench fresh pseudonym"))
    first = relayer_c.submit(
        patient2_c.sign(fresh, "grant", terms=GrantTerms(er, LABS, TREAT, now + DAY, document=DOC))
    )
    gas["consent.grant_signed_fresh"] = _gas(first)
    signed = relayer_c.submit(
        patient2_c.sign(patient2_key, "grant", terms=GrantTerms(lab, LABS, TREAT, now + DAY, document=DOC))
    )
    gas["consent.grant_signed"] = _gas(signed)
    notes.append(
        f"grant: {gas['consent.grant']:,} gas for a new (patient, grantee) pair (one new slot + event), "
        f"{regrant:,} for a re-grant to a pair whose slot exists; no id counter, no directory call at grant "
        "(the grantee is vetted at access)"
    )
    notes.append(
        f"grant_signed: {gas['consent.grant_signed']:,}; the first signed action of a fresh pairwise pseudonym "
        f"{gas['consent.grant_signed_fresh']:,} (its nonce is the pair's action counter in the consent word the "
        "grant writes anyway: no OpenZeppelin Nonces slot to create)"
    )
    del lab_c

    # ---------------------------------------------------------------- flat with the number of consents
    sizes = (1, 10, 100) if env.quick else (1, 100, 1000)
    grantees = [_addr(i, 0xC0) for i in range(sizes[-1] + len(sizes))]
    heavy: LocalAccount = Account.from_key(b"\x01" * 31 + b"\x07")
    fund = env.signer("admin")
    fund.transfer(heavy.address, 10**21, "fund bench patient")
    heavy_c = clinic_c.with_chain(clinic_c.chain.with_account(heavy))
    per_patient: list[int] = []
    done = 0
    for n in sizes:
        _flood_grants(env, heavy_c, heavy, grantees[done:n])
        done = n
        _, r = heavy_c.grant(
            GrantTerms(grantees[done], LABS, TREAT, heavy_c.chain_time() + DAY, document=DOC), require_vetted=False
        )
        done += 1
        per_patient.append(_gas(r))
    # per grantee: k patients (fresh keys, relayed so they need no ether) consent to one grantee
    hub = dev_account("insurer").address
    per_grantee: list[int] = []
    made = 0
    for n in sizes:
        while made < n:
            key = Account.from_key((0xB0000 + made).to_bytes(32, "big"))
            relayer_c.submit(relayer_c.sign(key, "grant", terms=GrantTerms(hub, LABS, TREAT, now + DAY)))
            made += 1
        key = Account.from_key((0xB0000 + made).to_bytes(32, "big"))
        made += 1
        per_grantee.append(
            _gas(relayer_c.submit(relayer_c.sign(key, "grant", terms=GrantTerms(hub, LABS, TREAT, now + DAY))))
        )
    notes.append(
        "grant gas with "
        + ", ".join(f"{n:,}" for n in sizes)
        + " prior consents of the patient: "
        + ", ".join(f"{g:,}" for g in per_patient)
    )
    notes.append(
        "relayed first-time grant gas with "
        + ", ".join(f"{n:,}" for n in sizes)
        + " prior consents to the grantee: "
        + ", ".join(f"{g:,}" for g in per_grantee)
    )

    # ---------------------------------------------------------------- throughput of the check
    ops = 600 if env.quick else 6000
    patients = [dev_account("patient").address, heavy.address, dev_account("patient2").address]
    targets = [clinic, lab, grantees[0], grantees[-1], hub]
    calls: list[dict[str, Any]] = []
    for i in range(ops):
        fn = clinic_c.contract.functions.canAccess(
            patients[i % 3], targets[i % 5], int(Category.OBSERVATION), int(Purpose.TREAT)
        )
        calls.append({"to": clinic_c.address, "data": fn._encode_transaction_data()})
    session = requests.Session()
    t0 = time.perf_counter()
    allowed = 0
    for i in range(0, ops, 500):
        payload = [
            {"jsonrpc": "2.0", "id": k, "method": "eth_call", "params": [c, "latest"]}
            for k, c in enumerate(calls[i : i + 500])
        ]
        for ans in session.post(env.rpc, json=payload, timeout=120).json():
            allowed += int(ans["result"][2:66], 16)
    batched = ops / (time.perf_counter() - t0)
    naive_ops = max(100, ops // 20)
    t0 = time.perf_counter()
    for c in calls[:naive_ops]:
        env.w3.eth.call(c)  # type: ignore[arg-type]
    naive = naive_ops / (time.perf_counter() - t0)
    notes.append(
        f"check throughput: {ops:,} eth_calls in JSON-RPC batches of 500 vs {naive_ops:,} one at a time "
        f"through web3.py ({allowed:,} of the batched answers were 'allowed')"
    )

    relay, relay_note = _relay_grants(env)
    notes.append(relay_note)
    return BenchResult(
        gas=gas,
        budget={
            "consent.grant": 60_000,
            "consent.grant_signed": 85_000,
            "consent.grant_signed_fresh": 100_000,
            "consent.revoke": 35_000,
            "consent.record_access": 45_000,
        },
        floor={"consent.grant": 44_400},
        throughput={
            "consent.check": Throughput(batched, naive, ops, {"batch": 500, "target_ops_per_s": 20_000}),
            "consent.relay_grants_per_s": relay,
        },
        notes=notes,
    )
