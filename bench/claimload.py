"""The claims workload of the claims bench, its throughput curve and the soak.

One plan that approves a one-line claim by the rules (billed under the auto-approve limit), one
member enrolled (with its signature) for the current plan year, one provider (the ``clinic``)
with the member's payment consent. Claim ``i`` is a pure function of ``i``
(:meth:`Workload.request`: encounter ``i``, its episode digest keyed with the plan's code key,
code ``CODES[i % 10 + 10 * (i // 1000 % 10)]``), so a run can be resumed from any claim index
without keeping any claim in memory, and no two claims share an id. A batch of 100 claims thus
carries 10 distinct codes (each code's coverage rule is read cold once per transaction, so the
mix of codes shows in the gas per claim).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

from bench.harness import BenchEnv
from careledger.accounts import DEV_MNEMONIC
from careledger.chain import Chain
from careledger.claims._consent import grant_payment_consent
from careledger.claims.client import ClaimRequest, ClaimsClient
from careledger.claims.types import CodeKey, CoverageRule, Line, PlanTerms, day_of

__all__ = ["CODE_TEXTS", "KEY", "TERMS", "USD", "Workload", "codes"]

USD = 1_000_000
KEY = CodeKey(keccak(b"careledger bench plan code key"))  # the bench plan's key (synthetic workload)
CODE_TEXTS = tuple(f"CPT:9{n:04d}" for n in range(100))
CODES_PER_DAY = 10
RULE = CoverageRule(covered=True, coinsurance_bps=2_000, copay=5 * USD)
TERMS = PlanTerms(deductible=50 * USD, annual_max=2**80 - 1, auto_approve_limit=1_000 * USD, appeal_window=86_400)
BILLED = 120 * USD
FHIR = keccak(b"bench-claim")
POOL = 10**15  # a billion dtUSD: room for millions of claims
MEMBER_PATH = "m/44'/60'/0'/0/20"  # a devnet-mnemonic account outside the cast


@dataclass
class Workload:
    insurer: ClaimsClient
    clinic: ClaimsClient
    plan_id: int
    member: str
    payee: str
    period: int

    @property
    def capacity(self) -> int:
        return 2**32

    def request(self, i: int) -> ClaimRequest:
        """Claim ``i``: encounter ``i`` of the member with the clinic in the current plan year
        (its episode digest), one line of ``CODES[i % 10 + 10 * (i // 1000 % 10)]``."""
        if not 0 <= i < self.capacity:
            raise ValueError(f"claim index {i} outside 0..{self.capacity - 1}")
        code = codes(self.plan_id)[i % CODES_PER_DAY + CODES_PER_DAY * (i // 1_000 % 10)]
        episode = KEY.episode(self.plan_id, self.member, self.payee, i)
        return ClaimRequest(self.member, self.payee, self.period, episode, (Line(code, 1, BILLED),), FHIR)

    def batches(self, start: int, stop: int, size: int) -> Iterator[list[ClaimRequest]]:
        """Claims ``start..stop-1`` in batches of ``size``, built as they are consumed."""
        for lo in range(start, stop, size):
            yield [self.request(i) for i in range(lo, min(lo + size, stop))]

    def to_json(self) -> dict[str, Any]:
        return {"planId": self.plan_id, "member": self.member, "payee": self.payee, "period": self.period}

    @classmethod
    def attach(cls, env: BenchEnv, saved: dict[str, Any]) -> Workload:
        """The workload of an earlier run on this chain (for a resumed soak)."""
        return cls(
            ClaimsClient(env.signer("insurer"), env.deployment),
            ClaimsClient(env.signer("clinic"), env.deployment),
            int(saved["planId"]),
            str(saved["member"]),
            str(saved["payee"]),
            int(saved["period"]),
        )

    @classmethod
    def setup(cls, env: BenchEnv) -> Workload:
        """Plan with coverage of CODES, pool funded, member enrolled and consenting."""
        insurer = ClaimsClient(env.signer("insurer"), env.deployment)
        clinic_chain = env.signer("clinic")
        patient = fresh_member(env)
        assert patient.account is not None and clinic_chain.account is not None
        member, payee = patient.account.address, clinic_chain.account.address
        now = int(env.w3.eth.get_block("latest")["timestamp"])
        today = day_of(now)
        plan_id, _ = insurer.create_plan(replace(TERMS, period_start=(today - 30) * 86_400))
        insurer.coverage_now(plan_id, KEY.key_id, dict.fromkeys(codes(plan_id), RULE))
        insurer.mint_test_tokens(insurer.chain._require_account().address, POOL)
        insurer.fund(plan_id, POOL)
        record, deadline = keccak(b"bench-member"), now + 7 * 86_400
        period = insurer.period_at(plan_id, now)
        signature = insurer.sign_enrolment(patient.account, plan_id, record, period, period, deadline)
        insurer.enrol(plan_id, member, record, period, period, deadline, signature)
        grant_payment_consent(patient, env.deployment, payee, now + 30 * 86_400)
        return cls(insurer, ClaimsClient(clinic_chain, env.deployment), plan_id, member, payee, period)


@lru_cache(maxsize=8)
def codes(plan_id: int) -> tuple[bytes, ...]:
    """The 100 codes of the bench plan as its keyed digests (computed once per plan)."""
    return tuple(KEY.digest(plan_id, c) for c in CODE_TEXTS)


def fresh_member(env: BenchEnv) -> Chain:
    """A devnet-mnemonic account outside the cast (no consents yet), funded by the admin."""
    member = Account.from_mnemonic(DEV_MNEMONIC, account_path=MEMBER_PATH)
    admin = env.signer("admin")
    assert admin.account is not None
    admin.transfer(member.address, 10**18, "fund bench member")
    return admin.with_account(member)
