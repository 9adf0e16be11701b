"""A Hypothesis state machine: patients grant, modify, revoke, deny; the registrar suspends and
reinstates grantees; time passes; grantees try to record accesses. A Python model says who may
access what, and the whole access matrix is compared with the contract after every step."""

from __future__ import annotations

from dataclasses import dataclass

import ape
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from careledger.codes import Category, Purpose
from careledger.consent.terms import consent_id

CATS = [int(Category.OBSERVATION), int(Category.MENTAL_HEALTH), int(Category.FINANCIAL)]
PURPS = [int(Purpose.TREAT), int(Purpose.HPAYMT)]
RECORD = bytes.fromhex("5a" * 32)
SUSPEND_REASON = b"MODEL".ljust(32, b"\0")

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
        self.registry = self.project.ConsentRegistry.deploy(self.directory, sender=self.admin)
        self.t = int(ape.chain.blocks.head.timestamp) + 10
        self.pairs: dict[tuple[int, int], ModelConsent] = {}
        self.seqs: dict[tuple[int, int], int] = {}
        self.patient_deny: dict[int, tuple[int, int]] = {}
        self.suspended: set[int] = set()

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
        seq = self.seqs.get((p, g), 0) + 1
        self.seqs[(p, g)] = seq
        self.pairs[(p, g)] = ModelConsent(seq, cats, purps, deny[0], deny[1], start, start + duration)

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


@pytest.mark.slow
def test_access_model_state_machine(project, admin, patient, patient2, clinic, lab, insurer):
    ConsentModel.project = project
    ConsentModel.admin = admin
    ConsentModel.patients = [patient, patient2]
    ConsentModel.grantees = [clinic, lab, insurer]
    ConsentModel.probe = project.MockConsentProbe.deploy(sender=admin)
    # Each step is a transaction plus a 36-query matrix check on the embedded EVM (~0.4 s), so the
    # suite runs a third of the profile's examples: 8 under `ci` (about a minute), 133 under `long`.
    base = settings.default
    run_state_machine_as_test(ConsentModel, settings=settings(base, max_examples=max(5, base.max_examples // 3)))
