"""A Hypothesis state machine: patients grant, modify, revoke, deny; the registrar suspends and
reinstates grantees; time passes; grantees try to record accesses. A Python model says who may
access what, and the whole access matrix is compared with the contract after every step.

Consent v2 (issue #15) in the model: a delegate with a scope (kind, categories, purposes) grants
and sets the deny within it, or is refused with the precise error; signed grants held back by a
relayer go through only while the pair's action counter is still the one signed (every action on
the pair, and `cancel`, moves it; the counter is compared after every step); a research study
whose status a registrar sets and whose sponsor may be suspended."""

from __future__ import annotations

from dataclasses import dataclass

import ape
import pytest
from eth_account import Account
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from careledger.codes import Category, Purpose
from careledger.consent import eip712
from careledger.consent.terms import GrantTerms, consent_id

CATS = [int(Category.OBSERVATION), int(Category.MENTAL_HEALTH), int(Category.FINANCIAL)]
PURPS = [int(Purpose.TREAT), int(Purpose.HPAYMT)]
RECORD = bytes.fromhex("5a" * 32)
SUSPEND_REASON = b"MODEL".ljust(32, b"\0")
FORM = b"\xf0" * 32
GENOMIC, HRESCH = int(Category.GENOMIC), int(Purpose.HRESCH)
GUARDIAN, PROXY = 1, 2

cat_masks = st.sets(st.sampled_from(CATS), min_size=1).map(lambda s: sum(1 << c for c in s))
purp_masks = st.sets(st.sampled_from(PURPS), min_size=1).map(lambda s: sum(1 << u for u in s))
deny_masks = st.one_of(st.just((0, 0)), st.tuples(cat_masks, purp_masks))


@dataclass
class ModelConsent:
    seq: int
    cats: int
    purps: int
    dcats: int
    dpurps: int
    start: int
    until: int
    live: bool = True


class ConsentModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # A fresh directory and registry per example (time only moves forward, no snapshot
        # restore between examples: cheaper and immune to the test chain's clock after a revert).
        self.directory = self.project.ParticipantDirectory.deploy(self.admin, sender=self.admin)
        for g in self.grantees:
            self.directory.register(g, 1, b"\xc0" * 32, sender=self.admin)
        self.directory.register(self.relayer, 64, b"\xc1" * 32, sender=self.admin)
        self.registry = self.project.ConsentRegistry.deploy(self.directory, sender=self.admin)
        self.t = int(ape.chain.blocks.head.timestamp) + 10
        self.pairs: dict[tuple[int, int], ModelConsent] = {}
        self.seqs: dict[tuple[int, int], int] = {}
        self.nonces: dict[tuple[int, int], int] = {}  # the pairs' action counters
        self.held: dict[tuple[int, int], tuple[tuple, int, int, bytes]] = {}  # signed, not sent
        self.patient_deny: dict[int, tuple[int, int]] = {}
        self.suspended: set[int] = set()
        self.scope: tuple[int, int, int] | None = None  # patient 0's delegate: kind, cats, purps
        # A research study sponsored by grantee 0 (it signs its own registration), active.
        study = Account.create()
        self.study = study.address
        deadline = int(ape.chain.pending_timestamp) + 600
        typed = eip712.register_study(
            self.study, self.grantees[0].address, FORM, deadline, chain_id=ape.chain.chain_id,
            registry=self.registry.address,
        )  # fmt: skip
        self.registry.registerStudy(self.study, FORM, deadline, eip712.sign(study, typed), sender=self.grantees[0])
        self.study_active = True
        self.research: dict[int, ModelConsent] = {}

    @initialize()
    def start(self) -> None:
        # Fixtures are attached to the class by the test below.
        pass

    # ------------------------------------------------------------------ model

    def _tick(self) -> None:
        """Fix the next block's timestamp, so the model knows the time of every transaction."""
        self.t = max(self.t, int(ape.chain.blocks.head.timestamp)) + 1
        ape.chain.pending_timestamp = self.t

    def _allowed(self, p: int, g: int, c: int, u: int, at: int) -> int:
        """The consent id the model says allows the request at time ``at``, or 0."""
        m = self.pairs.get((p, g))
        if m is None or not m.live or not (m.start <= at < m.until) or g in self.suspended:
            return 0
        cb, ub = 1 << c, 1 << u
        if not (m.cats & cb and m.purps & ub):
            return 0
        if m.dcats & cb and m.dpurps & ub:
            return 0
        pc, pu = self.patient_deny.get(p, (0, 0))
        if pc & cb and pu & ub:
            return 0
        return consent_id(self.patients[p].address, self.grantees[g].address, m.seq)

    # ------------------------------------------------------------------ rules

    @rule(
        p=st.integers(0, 1),
        g=st.integers(0, 2),
        cats=cat_masks,
        purps=purp_masks,
        deny=deny_masks,
        delay=st.sampled_from([0, 0, 30]),
        duration=st.integers(1, 400),
    )
    def grant(self, p: int, g: int, cats: int, purps: int, deny: tuple[int, int], delay: int, duration: int) -> None:
        self._tick()
        start = self.t + delay
        t = (
            self.grantees[g].address,
            cats,
            purps,
            deny[0],
            deny[1],
            start if delay else 0,
            start + duration,
            b"\x01" * 32,
        )
        current = self.pairs.get((p, g))
        if current is not None and current.live and current.until > self.t:
            with ape.reverts(self.registry.ConsentAlreadyActive):
                self.registry.grant(self.patients[p], t, sender=self.patients[p])
            return
        self.registry.grant(self.patients[p], t, sender=self.patients[p])
        self._granted(p, g, cats, purps, deny, start, start + duration)

    def _granted(self, p: int, g: int, cats: int, purps: int, deny: tuple[int, int], start: int, until: int) -> None:
        seq = self.seqs.get((p, g), 0) + 1
        self.seqs[(p, g)] = seq
        self.pairs[(p, g)] = ModelConsent(seq, cats, purps, deny[0], deny[1], start, until)
        self.nonces[(p, g)] = self.nonces.get((p, g), 0) + 1

    def _blocked(self, p: int, g: int) -> bool:
        """A grant to the pair now would be refused ConsentAlreadyActive."""
        current = self.pairs.get((p, g))
        return current is not None and current.live and current.until > self.t

    @rule(p=st.integers(0, 1), g=st.integers(0, 2))
    def revoke(self, p: int, g: int) -> None:
        self._tick()
        m = self.pairs.get((p, g))
        if m is None or not m.live:
            with ape.reverts(self.registry.ConsentNotCurrent):
                self.registry.revoke(self.patients[p], self.grantees[g], 1, sender=self.patients[p])
            return
        cid = consent_id(self.patients[p].address, self.grantees[g].address, m.seq)
        self.registry.revoke(self.patients[p], self.grantees[g], cid, sender=self.patients[p])
        m.live = False
        self.nonces[(p, g)] = self.nonces.get((p, g), 0) + 1

    @rule(p=st.integers(0, 1), g=st.integers(0, 2), cats=cat_masks, purps=purp_masks, extend=st.integers(1, 400))
    def modify(self, p: int, g: int, cats: int, purps: int, extend: int) -> None:
        self._tick()
        m = self.pairs.get((p, g))
        if m is None or not m.live or m.until <= self.t:
            return
        cid = consent_id(self.patients[p].address, self.grantees[g].address, m.seq)
        until = max(self.t, m.start) + extend
        self.registry.modify(
            self.patients[p], self.grantees[g], cid, (cats, purps, 0, 0, until), sender=self.patients[p]
        )
        m.cats, m.purps, m.dcats, m.dpurps, m.until = cats, purps, 0, 0, until
        self.nonces[(p, g)] = self.nonces.get((p, g), 0) + 1

    # ------------------------------------------------------------------ v2: delegate scope

    @rule(kind=st.sampled_from([GUARDIAN, PROXY]), cats=cat_masks, purps=purp_masks)
    def appoint(self, kind: int, cats: int, purps: int) -> None:
        self._tick()
        self.registry.appointDelegate(self.patients[0], self.delegate, kind, cats, purps, sender=self.patients[0])
        self.scope = (kind, cats, purps)

    @rule()
    def remove_delegate(self) -> None:
        self._tick()
        if self.scope is None:
            with ape.reverts(self.registry.NotADelegate):
                self.registry.removeDelegate(self.patients[0], self.delegate, sender=self.patients[0])
            return
        self.registry.removeDelegate(self.patients[0], self.delegate, sender=self.patients[0])
        self.scope = None

    @rule(g=st.integers(0, 2), cats=cat_masks, purps=purp_masks, duration=st.integers(1, 400))
    def delegate_grant(self, g: int, cats: int, purps: int, duration: int) -> None:
        self._tick()
        t = (self.grantees[g].address, cats, purps, 0, 0, 0, self.t + duration, b"\x02" * 32)
        if self.scope is None:
            with ape.reverts(self.registry.NotPatientOrDelegate):
                self.registry.grant(self.patients[0], t, sender=self.delegate)
        elif cats & ~self.scope[1] or purps & ~self.scope[2]:
            with ape.reverts(self.registry.DelegateOutOfScope):
                self.registry.grant(self.patients[0], t, sender=self.delegate)
        elif self._blocked(0, g):
            with ape.reverts(self.registry.ConsentAlreadyActive):
                self.registry.grant(self.patients[0], t, sender=self.delegate)
        else:
            tx = self.registry.grant(self.patients[0], t, sender=self.delegate)
            assert tx.events[0].actor == self.delegate.address
            self._granted(0, g, cats, purps, (0, 0), self.t, self.t + duration)

    @rule(deny=deny_masks)
    def delegate_deny(self, deny: tuple[int, int]) -> None:
        self._tick()
        old = self.patient_deny.get(0, (0, 0))

        def call() -> None:
            self.registry.setPatientDeny(self.patients[0], deny[0], deny[1], sender=self.delegate)

        if self.scope is None:
            with ape.reverts(self.registry.NotPatientOrDelegate):
                call()
        elif self.scope[0] == PROXY:
            with ape.reverts(self.registry.GuardianOnly):
                call()
        elif old[0] & ~deny[0] or old[1] & ~deny[1]:
            with ape.reverts(self.registry.DelegateCannotRelaxDeny):
                call()
        else:
            call()
            self.patient_deny[0] = deny

    # ------------------------------------------------------------------ v2: held-back signatures

    @rule(p=st.integers(0, 1), g=st.integers(0, 2), cats=cat_masks, duration=st.integers(50, 400))
    def sign_and_hold(self, p: int, g: int, cats: int, duration: int) -> None:
        """The patient signs a grant; a relayer keeps it instead of sending it."""
        until = int(ape.chain.blocks.head.timestamp) + 1000 + duration
        terms = GrantTerms(self.grantees[g].address, cats, 1 << PURPS[0], until)
        nonce = self.registry.pairNonce(self.patients[p], self.grantees[g])
        deadline = int(ape.chain.blocks.head.timestamp) + 3600
        typed = eip712.grant(
            self.patients[p].address, terms, nonce, deadline, chain_id=ape.chain.chain_id,
            registry=self.registry.address,
        )  # fmt: skip
        key = Account.from_key(self.patients[p].private_key)
        self.held[(p, g)] = (terms.as_tuple(), nonce, deadline, eip712.sign(key, typed))

    @rule(p=st.integers(0, 1), g=st.integers(0, 2))
    def submit_held(self, p: int, g: int) -> None:
        if (p, g) not in self.held:
            return
        self._tick()
        t, nonce, deadline, sig = self.held.pop((p, g))

        def send() -> None:
            self.registry.grantBySig(self.patients[p], t, self.patients[p], deadline, sig, sender=self.relayer)

        if self.t > deadline:
            with ape.reverts(self.registry.SignatureExpired):
                send()
        elif nonce != self.nonces.get((p, g), 0):
            # the patient acted on the pair after signing: the held signature is void
            with ape.reverts(self.registry.InvalidSignature):
                send()
        elif self._blocked(p, g):
            with ape.reverts(self.registry.ConsentAlreadyActive):
                send()
        else:
            send()
            self._granted(p, g, t[1], t[2], (0, 0), self.t, t[6])

    @rule(p=st.integers(0, 1), g=st.integers(0, 2))
    def cancel(self, p: int, g: int) -> None:
        self._tick()
        self.registry.cancel(self.patients[p], self.grantees[g], sender=self.patients[p])
        self.nonces[(p, g)] = self.nonces.get((p, g), 0) + 1

    # ------------------------------------------------------------------ v2: study status

    @rule(p=st.integers(0, 1), duration=st.integers(1, 400))
    def enrol(self, p: int, duration: int) -> None:
        self._tick()
        t = (self.study, 1 << GENOMIC, 1 << HRESCH, 0, 0, 0, self.t + duration, FORM)
        current = self.research.get(p)
        if not self.study_active:
            with ape.reverts(self.registry.StudyClosed):
                self.registry.grant(self.patients[p], t, sender=self.patients[p])
        elif current is not None and current.until > self.t:
            with ape.reverts(self.registry.ConsentAlreadyActive):
                self.registry.grant(self.patients[p], t, sender=self.patients[p])
        else:
            tx = self.registry.grant(self.patients[p], t, sender=self.patients[p])
            seq = (current.seq if current else 0) + 1
            assert tx.events[0].consentId == consent_id(self.patients[p].address, self.study, seq)
            self.research[p] = ModelConsent(seq, 1 << GENOMIC, 1 << HRESCH, 0, 0, self.t, self.t + duration)

    @rule(active=st.booleans())
    def set_study_status(self, active: bool) -> None:
        self._tick()
        self.registry.setStudyStatus(self.study, 1 if active else 2, sender=self.admin)  # the registrar
        self.study_active = active

    @rule(p=st.integers(0, 1), deny=deny_masks)
    def set_patient_deny(self, p: int, deny: tuple[int, int]) -> None:
        self._tick()
        self.registry.setPatientDeny(self.patients[p], deny[0], deny[1], sender=self.patients[p])
        self.patient_deny[p] = deny

    @rule(g=st.integers(0, 2))
    def toggle_suspension(self, g: int) -> None:
        self._tick()
        if g in self.suspended:
            self.directory.reinstate(self.grantees[g], sender=self.admin)
            self.suspended.discard(g)
        else:
            self.directory.suspend(self.grantees[g], SUSPEND_REASON, sender=self.admin)
            self.suspended.add(g)

    @rule(seconds=st.sampled_from([1, 29, 100, 250]))
    def wait(self, seconds: int) -> None:
        self.t = max(self.t, int(ape.chain.blocks.head.timestamp)) + seconds
        ape.chain.mine(timestamp=self.t)

    @rule(p=st.integers(0, 1), g=st.integers(0, 2), c=st.sampled_from(CATS), u=st.sampled_from(PURPS))
    def record_access(self, p: int, g: int, c: int, u: int) -> None:
        self._tick()
        expected = self._allowed(p, g, c, u, self.t)
        m = self.pairs.get((p, g))
        cid = consent_id(self.patients[p].address, self.grantees[g].address, m.seq) if m else 1
        if expected:
            tx = self.registry.recordAccess(self.patients[p], cid, c, u, RECORD, sender=self.grantees[g])
            assert tx.events[0].consentId == expected
        else:
            with ape.reverts():
                self.registry.recordAccess(self.patients[p], cid, c, u, RECORD, sender=self.grantees[g])

    # ------------------------------------------------------------------ the property

    @invariant()
    def access_matrix_matches_model(self) -> None:
        at = int(ape.chain.blocks.head.timestamp)
        combos = [(p, g, c, u) for p in range(2) for g in range(3) for c in CATS for u in PURPS]
        queries = [(self.patients[p].address, self.grantees[g].address, c, u) for p, g, c, u in combos]
        got = list(self.probe.matrix(self.registry, queries))
        want = [self._allowed(p, g, c, u, at) for p, g, c, u in combos]
        assert got == want

    @invariant()
    def pair_counters_match_model(self) -> None:
        for (p, g), n in self.nonces.items():
            assert self.registry.pairNonce(self.patients[p], self.grantees[g]) == n

    @invariant()
    def study_access_matches_model(self) -> None:
        at = int(ape.chain.blocks.head.timestamp)
        for p in range(2):
            m = self.research.get(p)
            want = 0
            if m is not None and m.start <= at < m.until and self.study_active and 0 not in self.suspended:
                want = consent_id(self.patients[p].address, self.study, m.seq)
            allowed, cid = self.registry.canAccess(self.patients[p], self.study, GENOMIC, HRESCH)
            assert (allowed, cid) == (want != 0, want)


@pytest.mark.slow
def test_access_model_state_machine(project, admin, patient, patient2, clinic, lab, insurer, relayer, outsider):
    ConsentModel.project = project
    ConsentModel.admin = admin
    ConsentModel.relayer = relayer
    ConsentModel.delegate = outsider
    ConsentModel.patients = [patient, patient2]
    ConsentModel.grantees = [clinic, lab, insurer]
    ConsentModel.probe = project.MockConsentProbe.deploy(sender=admin)
    # Each step is a transaction plus a 36-query matrix check on the embedded EVM (~0.4 s), so the
    # suite runs a third of the profile's examples: 8 under `ci` (about a minute), 133 under `long`.
    base = settings.default
    run_state_machine_as_test(ConsentModel, settings=settings(base, max_examples=max(5, base.max_examples // 3)))
