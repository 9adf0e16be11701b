"""One Hypothesis state machine across the suite: patients grant and revoke consents that expire,
providers record accesses, a batch is commissioned, shipped, accepted, rejected, dispensed,
quarantined and recalled, participants are suspended mid-flow and reinstated, and time passes past
consent and batch expiries. A Python model says what every action must do (succeed, or be refused;
a suspended actor refused *because* it is suspended) and, after every step, what every read must
answer: canAccess for every (patient, provider, purpose), the verify verdict of every unit, the
custody of every party, and who is active.

Each example deploys a fresh directory and registries (time only moves forward; no snapshot
restore between examples), like tests/consent/test_state_machine.py, and reuses the consent and
provenance test helpers (grant terms, batches with their Merkle trees).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import ape
import pytest
from ape.exceptions import ContractLogicError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from careledger.codes import Category, Purpose, Role
from careledger.consent.terms import consent_id, mask
from careledger.provenance.ids import text_to_bytes32
from careledger.provenance.verdict import Verdict

TESTS = Path(__file__).resolve().parent


def _load(name: str, path: Path) -> ModuleType:
    """Import a helper module of another test folder under its own name (both folders have a
    `conftest.py`, so `from conftest import ...` would be ambiguous from here)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


consent_helpers = _load("consent_helpers", TESTS / "consent" / "consent_helpers.py")
provenance_fixtures = _load("provenance_fixtures", TESTS / "provenance" / "conftest.py")

N_UNITS = 4
CATEGORY = int(Category.OBSERVATION)
PURPOSES = (int(Purpose.TREAT), int(Purpose.HPAYMT))
CRED = bytes.fromhex("c0" * 32)
RECORD = bytes.fromhex("5a" * 32)
SUSPEND = b"MODEL".ljust(32, b"\0")
DOC, REASON = provenance_fixtures.DOC, provenance_fixtures.REASON

PATIENTS = (0, 1)
PROVIDERS = ("clinic", "lab")
TRADERS = ("manufacturer", "distributor", "pharmacy")
SUSPENDABLE = ("clinic", "lab", "distributor", "pharmacy")
ROLE = {
    "clinic": Role.PROVIDER,
    "lab": Role.PROVIDER,
    "manufacturer": Role.MANUFACTURER,
    "distributor": Role.DISTRIBUTOR,
    "pharmacy": Role.PHARMACY,
    "regulator": Role.REGULATOR,
}


def batch_expiry(ts: int) -> tuple[int, int]:
    """A GS1 expiry date (YYMMDD) for a batch commissioned at ``ts`` that expires within a day
    (at 00:00 UTC after the expiry date: today's date, or tomorrow's when midnight is under an
    hour away), and the unix time it expires at."""
    day = dt.datetime.fromtimestamp(ts, dt.UTC).date()
    midnight = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
    if midnight - ts < 3600:
        day, midnight = day + dt.timedelta(days=1), midnight + 24 * 3600
    return (day.year % 100) * 10_000 + day.month * 100 + day.day, midnight


def _refusal(fn: Any) -> str | None:
    """Run one transaction: None when it succeeded, else the contract's reason."""
    try:
        fn()
    except ContractLogicError as exc:
        return str(exc) or type(exc).__name__
    return None


class SuiteModel(RuleBasedStateMachine):
    """Fixtures are attached to the class by the test below (``project``, ``acct``, ``patients``,
    ``probe``)."""

    project: Any
    acct: dict[str, Any]
    patients: list[Any]
    probe: Any

    def __init__(self) -> None:
        super().__init__()
        a = self.acct
        self.directory = self.project.ParticipantDirectory.deploy(a["admin"], sender=a["admin"])
        for name, role in ROLE.items():
            self.directory.register(a[name], int(role), CRED, sender=a["admin"])
        self.consent = self.project.ConsentRegistry.deploy(self.directory, sender=a["admin"])
        self.provenance = self.project.ProvenanceRegistry.deploy(self.directory, sender=a["admin"])
        self.t = int(ape.chain.blocks.head.timestamp) + 10
        # consent model: (patient, provider) -> [seq, purposes mask, until, live]
        self.consents: dict[tuple[int, str], list[int]] = {}
        self.suspended: set[str] = set()
        # provenance model
        expiry, self.expires_at = batch_expiry(self.t)
        self.batch = provenance_fixtures.make_batch(lot="LOT-X", n=N_UNITS, prefix="XS", expiry=expiry)
        self.held = {"manufacturer": N_UNITS, "distributor": 0, "pharmacy": 0}
        self.incoming: dict[str, tuple[int, str]] = {}
        self.dispensed: set[str] = set()
        self.status = "active"

    @initialize()
    def start(self) -> None:
        """The batch is commissioned, and the first patient consents to the clinic for three days
        (so suspensions and revocations meet a live consent early)."""
        self.grant(0, "clinic", (1 << PURPOSES[0]) | (1 << PURPOSES[1]), 3 * 24 * 3600)
        b = self.batch
        self._tick()
        self.provenance.commission(b.gtin, b.lot32, b.expiry, N_UNITS, b.tree.root, sender=self.acct["manufacturer"])

    # ------------------------------------------------------------------ helpers

    def _tick(self) -> None:
        """Fix the next block's timestamp, so the model knows the time of every transaction."""
        self.t = max(self.t, int(ape.chain.blocks.head.timestamp)) + 1
        ape.chain.pending_timestamp = self.t

    def _attempt(self, ok: bool, actor: str | None, fn: Any) -> None:
        """Run ``fn`` (one transaction by ``actor``) and check the outcome against the model:
        ``ok`` is the model's answer for an active actor. A suspended actor must be refused, and
        when only its suspension stands in the way, refused with ParticipantIsSuspended(actor)."""
        self._tick()
        if actor in self.suspended:
            if ok:
                with ape.reverts(self.directory.ParticipantIsSuspended, account=self.acct[actor].address):
                    fn()
            else:
                with ape.reverts():
                    fn()
            return
        refused = _refusal(fn)
        assert refused is None or not ok, f"the contract refused an action the model allows: {refused}"
        assert refused is not None or ok, "the contract allowed an action the model refuses"

    def _allowed(self, p: int, g: str, purpose: int, at: int) -> int:
        c = self.consents.get((p, g))
        if c is None or not c[3] or at >= c[2] or not c[1] & (1 << purpose) or g in self.suspended:
            return 0
        return consent_id(self.patients[p].address, self.acct[g].address, c[0])

    def _active(self, who: str) -> bool:
        return who not in self.suspended

    # ------------------------------------------------------------------ consent

    @rule(
        p=st.sampled_from(PATIENTS),
        g=st.sampled_from(PROVIDERS),
        purposes=st.sampled_from([1 << PURPOSES[0], 1 << PURPOSES[1], (1 << PURPOSES[0]) | (1 << PURPOSES[1])]),
        duration=st.sampled_from([30, 600, 7200, 90_000]),
    )
    def grant(self, p: int, g: str, purposes: int, duration: int) -> None:
        c = self.consents.get((p, g))
        ok = c is None or not c[3] or c[2] <= self.t + 1
        terms = consent_helpers.terms(
            self.acct[g], categories=mask([Category.OBSERVATION]), purposes=purposes, until=self.t + 1 + duration
        )
        patient = self.patients[p]
        self._attempt(ok, None, lambda: self.consent.grant(patient, terms.as_tuple(), sender=patient))
        if ok:
            seq = (c[0] if c else 0) + 1
            self.consents[(p, g)] = [seq, purposes, self.t + duration, 1]

    @rule(p=st.sampled_from(PATIENTS), g=st.sampled_from(PROVIDERS))
    def revoke(self, p: int, g: str) -> None:
        c = self.consents.get((p, g))
        ok = c is not None and bool(c[3])
        cid = consent_id(self.patients[p].address, self.acct[g].address, c[0] if c else 1)
        patient = self.patients[p]
        self._attempt(ok, None, lambda: self.consent.revoke(patient, self.acct[g], cid, sender=patient))
        if ok and c is not None:
            c[3] = 0

    @rule(p=st.sampled_from(PATIENTS), g=st.sampled_from(PROVIDERS), purpose=st.sampled_from(PURPOSES))
    def record_access(self, p: int, g: str, purpose: int) -> None:
        c = self.consents.get((p, g))
        cid = consent_id(self.patients[p].address, self.acct[g].address, c[0] if c else 1)
        # The model's answer for an active provider at the next block's time.
        suspended = g in self.suspended
        self.suspended.discard(g)
        ok = self._allowed(p, g, purpose, self.t + 1) != 0
        if suspended:
            self.suspended.add(g)
        patient = self.patients[p].address
        self._attempt(
            ok, g, lambda: self.consent.recordAccess(patient, cid, CATEGORY, purpose, RECORD, sender=self.acct[g])
        )

    # ------------------------------------------------------------------ directory and time

    @rule(who=st.sampled_from(SUSPENDABLE))
    def toggle_suspension(self, who: str) -> None:
        self._tick()
        if who in self.suspended:
            self.directory.reinstate(self.acct[who], sender=self.acct["admin"])
            self.suspended.discard(who)
        else:
            self.directory.suspend(self.acct[who], SUSPEND, sender=self.acct["admin"])
            self.suspended.add(who)

    @rule(seconds=st.sampled_from([1, 29, 600, 3 * 3600, 11 * 3600]))
    def wait(self, seconds: int) -> None:
        self.t = max(self.t, int(ape.chain.blocks.head.timestamp)) + seconds
        ape.chain.mine(timestamp=self.t)

    # ------------------------------------------------------------------ provenance

    def _movable(self) -> bool:
        return self.status == "active"

    @rule(src=st.sampled_from(TRADERS), dst=st.sampled_from(TRADERS), q=st.integers(1, N_UNITS))
    def ship(self, src: str, dst: str, q: int) -> None:
        ok = self._movable() and src != dst and q <= self.held[src] and dst not in self.incoming
        ok = ok and self._active(dst)  # the receiver must be active too (checked after the sender)
        b = self.batch
        self._attempt(ok, src, lambda: self.provenance.ship(b.id, self.acct[dst], q, DOC, sender=self.acct[src]))
        if ok and self._active(src):
            self.held[src] -= q
            self.incoming[dst] = (q, src)

    @rule(who=st.sampled_from(TRADERS))
    def accept(self, who: str) -> None:
        ok = self._movable() and who in self.incoming
        self._attempt(ok, who, lambda: self.provenance.accept(self.batch.id, sender=self.acct[who]))
        if ok and self._active(who):
            self.held[who] += self.incoming.pop(who)[0]

    @rule(who=st.sampled_from(TRADERS))
    def reject(self, who: str) -> None:
        # No directory check on reject: even a suspended receiver may send goods back (see
        # docs/access-matrix.md, note 2), so the model does not refuse a suspended actor here.
        ok = who in self.incoming
        self._tick()
        refused = _refusal(lambda: self.provenance.reject(self.batch.id, REASON, sender=self.acct[who]))
        assert (refused is None) is ok, f"reject: model says {ok}, contract: {refused}"
        if refused is not None:
            return
        q, src = self.incoming.pop(who)
        self.held[src] += q

    @rule(i=st.integers(0, N_UNITS - 1), who=st.sampled_from(("pharmacy", "distributor")))
    def dispense(self, i: int, who: str) -> None:
        serial = self.batch.serials[i]
        ok = (
            self.status == "active"
            and self.t + 1 < self.expires_at
            and who == "pharmacy"
            and self.held[who] > 0
            and serial not in self.dispensed
        )
        b = self.batch
        self._attempt(
            ok,
            who,
            lambda: self.provenance.dispense(
                b.gtin, b.lot32, text_to_bytes32(serial), b.proof(serial), sender=self.acct[who]
            ),
        )
        if ok and self._active(who):
            self.held[who] -= 1
            self.dispensed.add(serial)

    @rule(action=st.sampled_from(["quarantine", "lift", "recall"]))
    def authority(self, action: str) -> None:
        ok = {
            "quarantine": self.status == "active",
            "lift": self.status == "quarantined",
            "recall": self.status != "recalled",
        }[action]
        fn = {
            "quarantine": self.provenance.quarantine,
            "lift": self.provenance.liftQuarantine,
            "recall": self.provenance.recall,
        }[action]
        self._attempt(ok, "regulator", lambda: fn(self.batch.id, REASON, sender=self.acct["regulator"]))
        if ok:
            self.status = {"quarantine": "quarantined", "lift": "active", "recall": "recalled"}[action]

    # ------------------------------------------------------------------ invariants

    @invariant()
    def can_access_matches_model(self) -> None:
        at = int(ape.chain.blocks.head.timestamp)
        combos = [(p, g, u) for p in PATIENTS for g in PROVIDERS for u in PURPOSES]
        queries = [(self.patients[p].address, self.acct[g].address, CATEGORY, u) for p, g, u in combos]
        got = list(self.probe.matrix(self.consent, queries))
        assert got == [self._allowed(p, g, u, at) for p, g, u in combos]

    @invariant()
    def verdict_of_every_unit_matches_model(self) -> None:
        at = int(ape.chain.blocks.head.timestamp)
        b = self.batch
        for serial in b.serials:
            verdict, holder = self.provenance.verify(
                b.gtin, b.lot32, b.expiry, text_to_bytes32(serial), b.proof(serial)
            )
            if self.status == "recalled":
                want = Verdict.RECALLED
            elif self.status == "quarantined":
                want = Verdict.SUSPECT
            elif serial in self.dispensed:
                want = Verdict.DISPENSED
            elif at >= self.expires_at:
                want = Verdict.EXPIRED
            else:
                want = Verdict.VERIFIED
            assert Verdict(verdict) is want, serial
            if serial in self.dispensed:
                assert holder == self.acct["pharmacy"].address

    @invariant()
    def custody_matches_model(self) -> None:
        units = len(self.dispensed)
        for who in TRADERS:
            c = self.provenance.custodyOf(self.batch.id, self.acct[who])
            q, _ = self.incoming.get(who, (0, None))
            assert (int(c.held), int(c.incoming)) == (self.held[who], q), who
            units += int(c.held) + int(c.incoming)
        assert units == N_UNITS

    @invariant()
    def suspended_participants_are_inactive(self) -> None:
        for who, role in ROLE.items():
            assert self.directory.isActive(self.acct[who], int(role)) is (who not in self.suspended), who


@pytest.mark.slow
def test_suite_state_machine_agrees_with_model(
    project, admin, clinic, lab, manufacturer, distributor, pharmacy, regulator, patient, patient2
):
    SuiteModel.project = project
    SuiteModel.acct = {
        "admin": admin,
        "clinic": clinic,
        "lab": lab,
        "manufacturer": manufacturer,
        "distributor": distributor,
        "pharmacy": pharmacy,
        "regulator": regulator,
    }
    SuiteModel.patients = [patient, patient2]
    SuiteModel.probe = project.MockConsentProbe.deploy(sender=admin)
    # Every step is a transaction plus about a dozen reads on the embedded EVM: `make test` (ci
    # profile, fixed seed) runs a fifth of the profile's examples with twice its steps, so time
    # can pass the expiries; `make fuzz` (long profile) runs 80 examples of up to 120 steps.
    base = settings()
    run_state_machine_as_test(
        SuiteModel,
        settings=settings(
            base, max_examples=max(4, base.max_examples // 5), stateful_step_count=2 * base.stateful_step_count
        ),
    )
