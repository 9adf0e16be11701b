"""Claims benchmark: gas of a one-line claim, of a claim inside a batch of 100, of a payout; and
claims submitted *and settled* end to end per second, fast path beside the naive one.

Fast path: claim ids are deterministic, so every ``submitBatch`` and every ``payBatch`` of the
run is built and signed up front (explicit nonces and gas limits), sent in one JSON-RPC batch,
and all receipts are fetched in JSON-RPC batches and checked (status 1, one ClaimAdjudicated and
one ClaimPaid per claim). Naive path: one ``submit`` then one ``pay`` per claim through
``Chain.send`` (estimate, sign, send, wait for the receipt), as a simple client would.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from eth_account import Account
from eth_utils.crypto import keccak

from bench.harness import BenchEnv, BenchResult, Throughput
from careledger.accounts import DEV_MNEMONIC
from careledger.chain import Chain
from careledger.claims._consent import grant_payment_consent
from careledger.claims.client import ClaimRequest, ClaimsClient
from careledger.claims.types import ClaimStatus, CoverageRule, Line, PlanTerms, day_of, service_code

USD = 1_000_000
CODES = [service_code(f"CPT:992{n:02d}") for n in range(10, 20)]
RULE = CoverageRule(covered=True, coinsurance_bps=2_000, copay=5 * USD)
TERMS = PlanTerms(deductible=50 * USD, annual_max=2**80 - 1, auto_approve_limit=1_000 * USD, appeal_window=86_400)
BUDGET = {"claims.submit_1line": 150_000, "claims.batch100_per_claim": 90_000, "claims.payout": 70_000}
FHIR = keccak(b"bench-claim")
SEND_CHUNK = 8


def _rpc_batch(url: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    resp = requests.post(url, json=payload, timeout=120)
    resp.raise_for_status()
    body = resp.json()
    if not isinstance(body, list):
        raise RuntimeError(f"JSON-RPC batch refused as a whole: {str(body)[:300]}")
    answers = sorted(body, key=lambda a: a["id"])
    errors = [a["error"] for a in answers if "error" in a]
    if errors:
        raise RuntimeError(f"JSON-RPC batch: {len(errors)} error(s), first: {errors[0]}")
    return [a["result"] for a in answers]


class _Days:
    """Distinct (day, code) pairs, so no two bench claims share a fingerprint."""

    def __init__(self, first_day: int, last_day: int) -> None:
        self.day = last_day
        self.first = first_day
        self.code = 0

    def next(self) -> tuple[int, bytes]:
        if self.code == len(CODES):
            self.code = 0
            self.day -= 1
            if self.day < self.first:
                raise RuntimeError("bench ran out of distinct service days")
        c = CODES[self.code]
        self.code += 1
        return self.day, c


def run(env: BenchEnv) -> BenchResult:
    insurer = ClaimsClient(env.signer("insurer"), env.deployment)
    clinic_chain = env.signer("clinic")
    clinic = ClaimsClient(clinic_chain, env.deployment)
    # A member of its own (the consent bench, run on the same chain, already holds patient's
    # consents): a devnet-mnemonic account outside the cast, funded by the admin for its one grant.
    patient = _fresh_member(env)
    assert patient.account is not None
    assert clinic_chain.account is not None
    member, payee = patient.account.address, clinic_chain.account.address
    now = int(env.w3.eth.get_block("latest")["timestamp"])
    today = day_of(now)

    plan_id, _ = insurer.create_plan(TERMS)
    insurer.set_coverage(plan_id, dict.fromkeys(CODES, RULE))
    insurer.mint_test_tokens(env.signer("insurer").account.address, 10**15)  # type: ignore[union-attr]
    insurer.fund(plan_id, 10**15)
    insurer.enrol(plan_id, member, keccak(b"bench-member"), today - 3_650, today + 365)
    grant_payment_consent(patient, env.deployment, payee, now + 30 * 86_400)
    days = _Days(today - 3_650, today - 1)

    def request() -> ClaimRequest:
        day, code = days.next()
        return ClaimRequest(member, payee, day, (Line(code, 1, 120 * USD),), FHIR)

    notes: list[str] = []
    # First claim of the member: accumulators and pool slots are written for the first time.
    first = clinic.submit(request())
    # Then the steady state: a one-line claim, submitted and auto-approved in one transaction.
    one = clinic.submit(request())
    assert one.status == ClaimStatus.APPROVED, one
    # Payout to a payee that has never held the token: the worst case (its balance slot is new).
    assert clinic.balance_of(payee) == 0
    payout = clinic.pay(one.claim_id)
    repeat = clinic.pay(first.claim_id) if first.status == ClaimStatus.APPROVED else None

    _batch1, r1 = clinic.submit_batch([request()])
    batch100, r100 = clinic.submit_batch([request() for _ in range(100)])
    assert all(r.status == ClaimStatus.APPROVED for r in batch100)
    per_claim = (int(r100["gasUsed"]) - int(r1["gasUsed"])) // 99
    paid, p100 = clinic.pay_batch([r.claim_id for r in batch100])
    assert paid == 100
    notes.append(
        f"first claim of a fresh member {first.gas_used:,} gas; a one-line claim afterwards {one.gas_used:,}; "
        f"submitBatch of 1 {int(r1['gasUsed']):,} and of 100 {int(r100['gasUsed']):,} "
        f"(marginal = (100 - 1) / 99); payBatch of 100 {int(p100['gasUsed']):,} ({int(p100['gasUsed']) // 100:,}/claim)"
    )
    if repeat is not None:
        notes.append(
            f"payout to a payee already holding the token {int(repeat['gasUsed']):,} gas "
            f"(the recorded claims.payout is the first payout to a new holder)"
        )

    # ------------------------------------------------------------------ throughput
    naive_n = 10 if env.quick else 40
    t0 = time.perf_counter()
    for _ in range(naive_n):
        res = clinic.submit(request())
        receipt = clinic.pay(res.claim_id)
        assert res.status == ClaimStatus.APPROVED
        assert receipt["status"] == 1
    naive_rate = naive_n / (time.perf_counter() - t0)

    batches = 5 if env.quick else 30
    fast_n = batches * 100
    # Gas limits for pre-signed transactions: gasUsed is net of refunds (payouts clear a slot per
    # claim, refunded up to 1/5 of the gas used), so the limit needs headroom above it.
    submit_gas = int(int(r100["gasUsed"]) * 1.3)
    pay_gas = int(int(p100["gasUsed"]) * 1.5)
    acct = clinic_chain.account
    adjudicated_topic = (
        "0x"
        + keccak(
            text="ClaimAdjudicated(bytes32,uint8,uint96,uint96,uint16,address,"
            "(uint96,uint96,uint96,uint96,uint96,uint16)[])"
        ).hex()
    )
    paid_topic = "0x" + keccak(text="ClaimPaid(bytes32,address,uint32,uint96)").hex()
    # Many transactions can land in one block; full blocks raise the base fee by up to 12.5 % each,
    # and a pre-signed price below it would leave the rest stranded. Sign with ample headroom.
    gas_price = int(env.w3.eth.gas_price) * 50
    t0 = time.perf_counter()
    nonce = env.w3.eth.get_transaction_count(acct.address, "pending")
    raws: list[str] = []
    for _ in range(batches):
        reqs = [request() for _ in range(100)]
        for data, gas in (
            (clinic.submit_batch_calldata(reqs), submit_gas),
            (clinic.pay_batch_calldata([r.claim_id for r in reqs]), pay_gas),
        ):
            tx = {
                "to": clinic.contract.address,
                "data": data,
                "gas": gas,
                "gasPrice": gas_price,
                "nonce": nonce,
                "chainId": clinic_chain.chain_id,
                "value": 0,
            }
            raws.append("0x" + acct.sign_transaction(tx).raw_transaction.hex())
            nonce += 1
    # JSON-RPC batches of SEND_CHUNK transactions (a 100-claim submitBatch is ~45 kB of hex; the
    # node caps a request's body size).
    hashes: list[str] = []
    for i in range(0, len(raws), SEND_CHUNK):
        hashes += _rpc_batch(env.rpc, [("eth_sendRawTransaction", [raw]) for raw in raws[i : i + SEND_CHUNK]])
    receipts: list[Any] = [None] * len(hashes)
    deadline = time.monotonic() + 120
    while any(r is None for r in receipts):
        if time.monotonic() > deadline:
            first = next(i for i, r in enumerate(receipts) if r is None)
            tx, latest, pending = _rpc_batch(
                env.rpc,
                [
                    ("eth_getTransactionByHash", [hashes[first]]),
                    ("eth_getTransactionCount", [acct.address, "latest"]),
                    ("eth_getTransactionCount", [acct.address, "pending"]),
                ],
            )
            raise RuntimeError(
                f"fast path: {sum(r is None for r in receipts)} receipts missing after 120 s; first missing #{first} "
                f"{str(tx)[:200]}; nonce latest {latest} pending {pending}"
            )
        missing = [i for i, r in enumerate(receipts) if r is None]
        got = _rpc_batch(env.rpc, [("eth_getTransactionReceipt", [hashes[i]]) for i in missing])
        for i, r in zip(missing, got, strict=True):
            receipts[i] = r
        if any(r is None for r in receipts):
            time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    bad = [r["transactionHash"] for r in receipts if int(r["status"], 16) != 1]
    adjudicated = sum(1 for r in receipts for log in r["logs"] if log["topics"][0] == adjudicated_topic)
    settled = sum(1 for r in receipts for log in r["logs"] if log["topics"][0] == paid_topic)
    if bad or adjudicated != fast_n or settled != fast_n:
        raise RuntimeError(f"fast path: {len(bad)} failed tx, {adjudicated} adjudicated, {settled} paid of {fast_n}")
    fast_rate = fast_n / elapsed
    notes.append(
        f"claims.settle: {fast_n} claims in {batches} submitBatch + {batches} payBatch transactions, pre-signed and "
        f"sent in JSON-RPC batches of {SEND_CHUNK}, receipts fetched in JSON-RPC batches and checked (status, one "
        f"ClaimAdjudicated and one ClaimPaid per claim); naive: {naive_n} claims, submit then pay, one "
        f"transaction at a time through Chain.send"
    )
    return BenchResult(
        gas={
            "claims.submit_1line": one.gas_used,
            "claims.submit_1line_first": first.gas_used,
            "claims.batch100_per_claim": per_claim,
            "claims.payout": int(payout["gasUsed"]),
        },
        budget=BUDGET,
        throughput={
            "claims.settle": Throughput(
                fast_rate,
                naive_rate,
                fast_n,
                {"transactions": len(raws), "seconds": round(elapsed, 3), "naive_ops": naive_n},
            ),
        },
        notes=notes,
    )


def _fresh_member(env: BenchEnv) -> Chain:
    member = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/20")
    admin = env.signer("admin")
    assert admin.account is not None
    tx = admin.account.sign_transaction(
        {
            "to": member.address,
            "value": 10**18,
            "gas": 21_000,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": env.w3.eth.get_transaction_count(admin.account.address, "pending"),
            "chainId": env.w3.eth.chain_id,
        }
    )
    env.w3.eth.wait_for_transaction_receipt(env.w3.eth.send_raw_transaction(tx.raw_transaction))
    return admin.with_account(member)
