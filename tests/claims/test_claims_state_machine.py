"""A Hypothesis state machine: insurer, two providers and a member act in random order; a Python
model of the pool, the accumulators and every claim's state runs beside the contract, and after
every step the contract must agree with it, with `funded = paid + owed + free` and the token
balance covering exactly what the pool holds. With claims v2's model: rule tables in versions
(a claim is decided under its own), an enrolment voided once its insurer is suspended and made
again (accumulators start afresh), payouts redirected by their payee, and the insurer reaching
for owed funds (withdrawing past the free funds, releasing a payout that never failed): refused
every time, so the insurer can never take what approved claims are owed. (Profile `ci`: fixed
seed, short runs.)"""

from __future__ import annotations

from dataclasses import dataclass, field

import ape
from claims_fixtures import (
    COSMETIC,
    MRI,
    OFFICE,
    RULES,
    USD,
    XRAY,
    Line,
    claim_input,
    enrol,
    episode,
    schedule,
    setup_plan,
    today,
)
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from careledger.claims.types import ClaimStatus, CoverageRule, Decision, PlanTerms, adjudicate, claim_id

TERMS = PlanTerms(deductible=50 * USD, annual_max=800 * USD, auto_approve_limit=400 * USD, appeal_window=3_600)
CODES = [OFFICE, XRAY, MRI, COSMETIC]


@dataclass
class ModelClaim:
    member: str
    payee: str
    lines: list[Line]
    status: ClaimStatus
    amount: int = 0
    appealed: bool = False
    version: int = 1  # the rule table in force when it was submitted: the one it is decided under


@dataclass
class Model:
    deposited: int = 0
    withdrawn: int = 0
    paid: int = 0
    owed: int = 0
    ded_met: int = 0
    benefit_paid: int = 0
    claims: dict[bytes, ModelClaim] = field(default_factory=dict)

    @property
    def free(self) -> int:
        return self.deposited - self.withdrawn - self.paid - self.owed


CTX: dict[str, object] = {}


class ClaimsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.snapshot = ape.chain.snapshot()
        self.c = CTX["claims"]
        self.token = CTX["token"]
        self.insurer = CTX["insurer"]
        self.patient = CTX["patient"]
        self.providers = CTX["providers"]
        self.m = Model(deposited=int(CTX["pool"]))
        self.day = today() - 1
        self.touched: set[bytes] = set()
        self.tables: dict[int, dict[bytes, CoverageRule]] = {1: dict(RULES)}  # rule tables by version
        self.version = 1  # in force now
        self.directory = CTX["directory"]
        self.admin = CTX["admin"]
        self.enrolment = 1  # the member's enrolment covering plan year 0

    def teardown(self) -> None:
        ape.chain.restore(self.snapshot)

    # ------------------------------------------------------------------ helpers

    def _approve(self, cid: bytes, status: ClaimStatus, amount: int, deductible: int) -> None:
        self.touched.add(cid)
        mc = self.m.claims[cid]
        self.m.ded_met += deductible
        self.m.benefit_paid += amount
        mc.amount = amount
        if amount == 0:
            mc.status = ClaimStatus.PAID
        else:
            mc.status = status
            self.m.owed += amount

    def _by_status(self, *statuses: ClaimStatus) -> list[bytes]:
        return [cid for cid, mc in self.m.claims.items() if mc.status in statuses]

    # ------------------------------------------------------------------ rules

    @initialize()
    def start(self) -> None:
        assert self.c.poolOf(1).funded == self.m.deposited

    @rule(
        provider=st.integers(0, 1),
        code=st.sampled_from(CODES),
        billed=st.integers(1, 700 * USD),
        units=st.integers(1, 3),
        duplicate=st.booleans(),
    )
    def submit(self, provider: int, code: bytes, billed: int, units: int, duplicate: bool) -> None:
        payee = self.providers[provider]
        if not duplicate or not self.m.claims:
            self.day -= 1
        line = Line(code, units, billed)
        # One claim per encounter (member, payee, day in the episode digest), whatever its codes.
        cid = claim_id(self.patient.address, payee.address, 0, episode(self.patient, payee, self.day))
        if cid in self.m.claims:
            with ape.reverts(self.c.DuplicateClaim, claimId=cid):
                self.c.submit(claim_input(self.patient, payee, [line], day=self.day), sender=payee)
            return
        self.c.submit(claim_input(self.patient, payee, [line], day=self.day), sender=payee)
        a = adjudicate(self.tables[self.version], TERMS, self.m.ded_met, self.m.benefit_paid, [line])
        mc = ModelClaim(self.patient.address, payee.address, [line], ClaimStatus.SUBMITTED, version=self.version)
        self.m.claims[cid] = mc
        self.touched.add(cid)
        if a.needs_review:
            mc.status = ClaimStatus.PENDING_REVIEW
        elif not a.any_covered:
            mc.status = ClaimStatus.DENIED
        elif a.benefit > self.m.free:
            mc.status = ClaimStatus.SUBMITTED
        else:
            self._approve(
                cid, ClaimStatus.PARTIALLY_APPROVED if a.any_denied else ClaimStatus.APPROVED, a.benefit, a.deductible
            )

    @rule(coins=st.integers(0, 10_000), office_covered=st.booleans(), xray_covered=st.booleans())
    def change_rules(self, coins: int, office_covered: bool, xray_covered: bool) -> None:
        """The insurer puts a new rule table in force (from a future time): new claims use it,
        claims already submitted keep theirs (queued and in review ones included)."""
        table = dict(self.tables[self.version])
        table[OFFICE] = CoverageRule(covered=office_covered, coinsurance_bps=coins, copay=20 * USD)
        table[XRAY] = CoverageRule(covered=xray_covered, coinsurance_bps=coins, max_per_unit=150 * USD)
        self.version = schedule(self.c, self.insurer, 1, table)
        self.tables[self.version] = table

    @rule(amount=st.integers(1, 2_000 * USD))
    def fund(self, amount: int) -> None:
        self.token.mint(self.insurer, amount, sender=self.insurer)
        self.token.approve(self.c, amount, sender=self.insurer)
        self.c.fund(1, amount, sender=self.insurer)
        self.m.deposited += amount

    @rule(extra=st.integers(0, 3), frac=st.floats(0, 1))
    def withdraw_free(self, extra: int, frac: float) -> None:
        free = self.m.free
        amount = int(free * frac) + extra
        if amount == 0:
            return
        if amount > free:
            with ape.reverts(self.c.InsufficientFreeFunds, planId=1, needed=amount, free=free):
                self.c.withdrawFree(1, amount, self.insurer, sender=self.insurer)
            return
        self.c.withdrawFree(1, amount, self.insurer, sender=self.insurer)
        self.m.withdrawn += amount

    @rule(data=st.data(), decision=st.sampled_from(list(Decision)), frac=st.floats(0.01, 0.99))
    def review(self, data: st.DataObject, decision: Decision, frac: float) -> None:
        ids = self._by_status(ClaimStatus.PENDING_REVIEW)
        if not ids:
            return
        cid = data.draw(st.sampled_from(ids))
        mc = self.m.claims[cid]
        self.touched.add(cid)
        a = adjudicate(self.tables[mc.version], TERMS, self.m.ded_met, self.m.benefit_paid, mc.lines)
        lines = [ln.as_tuple() for ln in mc.lines]
        if decision == Decision.DENY or not a.any_covered:
            self.c.review(cid, lines, int(decision), 0, 0 if decision == Decision.APPROVE else 50, sender=self.insurer)
            mc.status = ClaimStatus.DENIED
            return
        if decision == Decision.PARTIALLY_APPROVE:
            amount = int(a.benefit * frac)
            if amount == 0 or amount >= a.benefit:
                with ape.reverts(self.c.InvalidPartialAmount, claimId=cid, amount=amount, rulesBenefit=a.benefit):
                    self.c.review(cid, lines, int(decision), amount, 50, sender=self.insurer)
                return
            status = ClaimStatus.PARTIALLY_APPROVED
        else:
            amount, status = a.benefit, ClaimStatus.APPROVED
        if amount > self.m.free:
            with ape.reverts(self.c.InsufficientFreeFunds, planId=1, needed=amount, free=self.m.free):
                self.c.review(
                    cid, lines, int(decision), amount, 0 if decision == Decision.APPROVE else 50, sender=self.insurer
                )
            return
        self.c.review(cid, lines, int(decision), amount, 0 if decision == Decision.APPROVE else 50, sender=self.insurer)
        self._approve(cid, status, amount, a.deductible)

    @rule(data=st.data())
    def adjudicate_queued(self, data: st.DataObject) -> None:
        ids = self._by_status(ClaimStatus.SUBMITTED)
        if not ids:
            return
        cid = data.draw(st.sampled_from(ids))
        mc = self.m.claims[cid]
        self.touched.add(cid)
        a = adjudicate(self.tables[mc.version], TERMS, self.m.ded_met, self.m.benefit_paid, mc.lines)
        lines = [ln.as_tuple() for ln in mc.lines]
        if a.benefit > self.m.free:
            with ape.reverts(self.c.InsufficientFreeFunds, planId=1, needed=a.benefit, free=self.m.free):
                self.c.adjudicate(cid, lines, sender=self.insurer)
            return
        self.c.adjudicate(cid, lines, sender=self.insurer)
        self._approve(cid, ClaimStatus.APPROVED, a.benefit, a.deductible)

    @rule(data=st.data(), batch=st.booleans())
    def pay(self, data: st.DataObject, batch: bool) -> None:
        ids = self._by_status(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
        if not ids:
            # Nothing payable: any claim (or none) is refused with its status.
            if self.m.claims:
                cid = data.draw(st.sampled_from(list(self.m.claims)))
                with ape.reverts(self.c.InvalidClaimStatus, claimId=cid, status=int(self.m.claims[cid].status)):
                    self.c.pay(cid, sender=self.insurer)
            return
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
        if batch:
            self.c.payBatch(chosen, sender=self.insurer)
        else:
            for cid in chosen:
                self.c.pay(cid, sender=self.insurer)
        for cid in chosen:
            self.touched.add(cid)
            mc = self.m.claims[cid]
            self.m.owed -= mc.amount
            self.m.paid += mc.amount
            mc.status = ClaimStatus.PAID

    @rule(data=st.data())
    def withdraw_claim(self, data: st.DataObject) -> None:
        if not self.m.claims:
            return
        cid = data.draw(st.sampled_from(list(self.m.claims)))
        mc = self.m.claims[cid]
        self.touched.add(cid)
        payee = next(p for p in self.providers if p.address == mc.payee)
        if mc.status in (ClaimStatus.SUBMITTED, ClaimStatus.PENDING_REVIEW):
            self.c.withdraw(cid, sender=payee)
            mc.status = ClaimStatus.WITHDRAWN
        else:
            with ape.reverts(self.c.InvalidClaimStatus, claimId=cid, status=int(mc.status)):
                self.c.withdraw(cid, sender=payee)

    @rule(data=st.data())
    def appeal(self, data: st.DataObject) -> None:
        ids = self._by_status(ClaimStatus.DENIED)
        if not ids:
            return
        cid = data.draw(st.sampled_from(ids))
        mc = self.m.claims[cid]
        self.touched.add(cid)
        payee = next(p for p in self.providers if p.address == mc.payee)
        if mc.appealed:
            with ape.reverts(self.c.AppealAlreadyUsed, claimId=cid):
                self.c.appeal(cid, sender=payee)
            return
        self.c.appeal(cid, sender=payee)
        mc.appealed = True
        mc.status = ClaimStatus.PENDING_REVIEW

    def _owe_something(self) -> bool:
        """An approved, unpaid claim exists, or the clinic bills an office visit that makes one
        (the short ci profile rarely meets one otherwise); False when the rules or pool do not."""
        if self.m.owed == 0:
            self.submit(0, OFFICE, 300 * USD, 1, False)
        return self.m.owed > 0

    @rule(data=st.data(), how=st.sampled_from(["withdraw", "release"]))
    def insurer_reaches_for_owed_funds(self, data: st.DataObject, how: str) -> None:
        """The insurer tries to take what approved claims are owed: by withdrawing more than the
        free funds, or by declaring a payout lapsed that never failed. Both are refused."""
        if not self._owe_something():
            return
        if how == "withdraw":
            amount = self.m.free + data.draw(st.integers(1, self.m.owed))
            with ape.reverts(self.c.InsufficientFreeFunds, planId=1, needed=amount, free=self.m.free):
                self.c.withdrawFree(1, amount, self.insurer, sender=self.insurer)
            return
        cid = data.draw(st.sampled_from(self._by_status(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)))
        with ape.reverts(self.c.PayoutNotLapsed, claimId=cid, releasableAt=0):
            self.c.releaseLapsed(cid, sender=self.insurer)

    @rule(data=st.data())
    def redirect(self, data: st.DataObject) -> None:
        """The payee of an approved claim has it paid to the other provider; nobody else can."""
        if not self._owe_something():
            return
        ids = self._by_status(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
        cid = data.draw(st.sampled_from(ids))
        mc = self.m.claims[cid]
        payee = next(p for p in self.providers if p.address == mc.payee)
        other = next(p for p in self.providers if p.address != mc.payee)
        with ape.reverts(self.c.NotClaimParty, claimId=cid, caller=self.insurer.address):
            self.c.redirectPayout(cid, self.insurer, sender=self.insurer)
        self.c.redirectPayout(cid, other, sender=payee)
        mc.payee = other.address
        self.touched.add(cid)

    @rule()
    def void_and_enrol_again(self) -> None:
        """Point 4 in the model: the insurer cannot lengthen or end the running year's enrolment
        (InvalidTermination); once it is suspended a registrar voids it; reinstated, it enrols the
        member again for the year, whose accumulators start afresh. Owed funds stay owed. (Once
        per run: five transactions.)"""
        if self.enrolment > 1:
            return
        with ape.reverts(self.c.InvalidTermination, lastPeriod=0, toPeriod=0, current=0):
            self.c.terminate(self.patient, self.enrolment, 0, sender=self.insurer)
        self.directory.suspend(self.insurer, b"AUDIT".ljust(32, b"\0"), sender=self.admin)
        self.c.voidEnrolment(self.patient, self.enrolment, sender=self.admin)
        assert self.c.coverOf(self.patient, 0).voided
        self.directory.reinstate(self.insurer, sender=self.admin)
        tx = enrol(self.c, self.insurer, self.patient, from_period=0)
        self.enrolment = int(tx.events.filter(self.c.MemberEnrolled)[0].enrolment)
        self.m.ded_met = self.m.benefit_paid = 0

    # ------------------------------------------------------------------ invariant

    @invariant()
    def contract_agrees_with_model(self) -> None:
        v = self.c.poolOf(1)
        m = self.m
        assert (v.deposited, v.withdrawn, v.paid, v.owed, v.free) == (m.deposited, m.withdrawn, m.paid, m.owed, m.free)
        assert v.funded == v.paid + v.owed + v.free
        assert self.token.balanceOf(self.c) == v.funded - v.paid  # = owed + free: every unit accounted for
        e = self.c.coverOf(self.patient, 0)
        assert (e.deductibleMet, e.benefitPaid) == (m.ded_met, m.benefit_paid)
        assert e.deductibleMet <= TERMS.deductible
        assert e.benefitPaid <= TERMS.annual_max
        # The model's owed is the sum over its payable claims; rounding never pays more than billed.
        payable = [
            mc for mc in m.claims.values() if mc.status in (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
        ]
        assert sum(mc.amount for mc in payable) == m.owed
        assert all(mc.amount <= sum(ln.billed for ln in mc.lines) for mc in m.claims.values())
        # Claims whose state may have changed in this step (reading all of them every step is slow).
        for cid in self.touched:
            c = self.c.claimOf(cid)
            assert ClaimStatus(c.status) == m.claims[cid].status, cid.hex()
            if m.claims[cid].status in (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED):
                assert (c.amount, c.payee) == (m.claims[cid].amount, m.claims[cid].payee)
        self.touched = set()


def test_claims_state_machine(project, admin, directory, consent, dispense, token, insurer, patient, clinic, lab):
    c = project.ClaimSettlement.deploy(directory, consent, dispense, token, sender=admin)
    pool = 1_500 * USD
    setup_plan(c, token, insurer, patient, consent, [clinic, lab], terms=TERMS, pool=pool)
    CTX.update(
        claims=c,
        token=token,
        insurer=insurer,
        patient=patient,
        providers=[clinic, lab],
        pool=pool,
        directory=directory,
        admin=admin,
    )
    run_state_machine_as_test(ClaimsMachine)
