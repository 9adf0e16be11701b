"""One Hypothesis state machine across the suite (with emergency pauses and key rotations of the
manufacturer, distributor and insurer): patients grant and revoke consents that expire,
providers record accesses, a batch is commissioned, shipped, accepted, rejected, dispensed,
quarantined and recalled, providers and the pharmacy submit claims (office visits, dispensed drug
units) that are approved, queued while the pool is short, adjudicated and paid, participants are
suspended mid-flow and reinstated, a patient pseudonym is recovered by its guardians (started,
maybe cancelled by the real key, executed after the delay, its consents moved to the successor),
and time passes past consent and batch expiries. A Python model
says what every action must do (succeed, or be refused; a suspended actor refused *because* it is
suspended) and, after every step, what every read must answer: canAccess for every (patient,
grantee, purpose), the verify verdict of every unit, the custody of every party, who is active,
each claim's status, and the pool (funded == paid + owed + free, the token balance behind it).

Each example deploys a fresh directory, registries, token and settlement (time only moves
forward; no snapshot restore between examples), like tests/consent/test_consent_state_machine.py,
and reuses the consent and provenance test helpers and the claims SDK's adjudication arithmetic.
`test_named_interleavings_agree_with_model` steps the same machine through the stories the random
runs reach only sometimes under the fast `ci` profile.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import ape
import pytest
from ape.exceptions import ContractLogicError
from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from careledger.accounts import dev_accounts
from careledger.claims.enrolment import enrolment_typed_data
from careledger.claims.types import ClaimStatus, CodeKey, CoverageRule, Line, PlanTerms, adjudicate_line, day_of
from careledger.codes import Category, Purpose, Role
from careledger.consent import eip712
from careledger.consent.recovery import guardians_hash, recovery_typed
from careledger.consent.terms import ALL_CATEGORIES, ALL_PURPOSES, consent_id, mask
from careledger.provenance.ids import text_to_bytes32
from careledger.provenance.verdict import Verdict

TESTS = Path(__file__).resolve().parent


def _load(name: str, path: Path) -> ModuleType:
    """Import a helper module of another test folder (not on sys.path from here) by its file,
    or reuse it when pytest already imported it under that name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


consent_helpers = _load("consent_helpers", TESTS / "consent" / "consent_helpers.py")
provenance_fixtures = _load("provenance_fixtures", TESTS / "provenance" / "provenance_fixtures.py")

N_UNITS = 4
CATEGORY = int(Category.OBSERVATION)
PURPOSES = (int(Purpose.TREAT), int(Purpose.HPAYMT))
CRED = bytes.fromhex("c0" * 32)
RECORD = bytes.fromhex("5a" * 32)
SUSPEND = b"MODEL".ljust(32, b"\0")
DOC, REASON = provenance_fixtures.DOC, provenance_fixtures.REASON
ZERO32 = b"\0" * 32

PATIENTS = (0, 1)
PROVIDERS = ("clinic", "lab", "pharmacy")  # consent grantees; the pharmacy for payment claims
TRADERS = ("manufacturer", "distributor", "pharmacy")
SUSPENDABLE = ("clinic", "lab", "distributor", "pharmacy", "insurer")
# Organisations whose key the model rotates (consent grantees keep theirs: the model names a
# consent by the grantee's key; tests/consent/test_key_rotation_consent.py covers theirs).
ROTATABLE = ("manufacturer", "distributor", "insurer")
CATEGORIES = mask([Category.OBSERVATION, Category.FINANCIAL])
USD = 1_000_000
KEY = CodeKey(bytes.fromhex("5a" * 32))  # plan 1's code key (off chain)
OFFICE = KEY.digest(1, "CPT:99213")
DRUG = KEY.digest(1, "NDC:0002-1433-80")
RULES = {
    OFFICE: CoverageRule(covered=True, coinsurance_bps=2_000, copay=20 * USD),
    DRUG: CoverageRule(covered=True, requires_unit=True, copay=10 * USD),
}
TERMS = PlanTerms(deductible=0, annual_max=50_000 * USD, auto_approve_limit=500 * USD, appeal_window=7 * 86_400)
OFFICE_BILLED, DRUG_BILLED = 80 * USD, 30 * USD
FUND = 60 * USD  # a bit more than one office claim: claims queue when the pool runs short
# Recovery: every patient pseudonym is guarded 2-of-2 with the shortest delay; a recovery names
# the patient's honest successor (a fresh account) or a hostile one (the guardians colluding).
GUARDIANS = sorted((Account.from_key(bytes([0x6A, i]) * 16) for i in range(2)), key=lambda a: int(a.address, 16))
RECOVERY_DELAY = 2 * 86_400
HOSTILE = to_checksum_address("0x" + "4b" * 20)
ZERO_ADDRESS = "0x" + "00" * 20
ROLE = {
    "insurer": Role.INSURER,
    "clinic": Role.PROVIDER,
    "lab": Role.PROVIDER,
    "manufacturer": Role.MANUFACTURER,
    "distributor": Role.DISTRIBUTOR,
    "pharmacy": Role.PHARMACY,
    "regulator": Role.REGULATOR,
    "relayer": Role.RELAYER,
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
        self.acct = dict(self.acct)  # a rotation replaces an organisation's key in this run only
        a = self.acct
        self.directory = self.project.ParticipantDirectory.deploy(a["admin"], sender=a["admin"])
        for name, role in ROLE.items():
            self.directory.register(a[name], int(role), CRED, sender=a["admin"])
        # The manufacturer owns the test GTIN's GS1 company prefix (0950600013435-2: 9506000).
        self.directory.attestPrefix(a["manufacturer"], 9506000, 7, CRED, sender=a["admin"])
        self.consent = self.project.ConsentRegistry.deploy(self.directory, sender=a["admin"])
        self.provenance = self.project.ProvenanceRegistry.deploy(self.directory, sender=a["admin"])
        self.t = int(ape.chain.blocks.head.timestamp) + 10
        # consent model: (patient, provider) -> [seq, purposes mask, until, live]
        self.consents: dict[tuple[int, str], list[int]] = {}
        self.suspended: set[str] = set()
        # contracts the emergency path has paused ("consent", "provenance", "claims")
        self.paused: set[str] = set()
        # provenance model
        expiry, self.expires_at = batch_expiry(self.t)
        self.batch = provenance_fixtures.make_batch(lot="LOT-X", n=N_UNITS, prefix="XS", expiry=expiry)
        # parcels of serial positions: start -> [holder, end, in transit to or None]
        self.parcels: dict[int, list[Any]] = {0: ["manufacturer", N_UNITS, None]}
        self.dispensed: set[str] = set()
        self.status = "active"
        # claims model
        self.token = self.project.DevnetTestUSD.deploy(sender=a["admin"])
        self.claims = self.project.ClaimSettlement.deploy(
            self.directory, self.consent, self.provenance, self.token, sender=a["admin"]
        )
        self.today0 = day_of(self.t)
        self.funded = self.paid = self.owed = 0
        self.claim_state: dict[bytes, list[Any]] = {}  # id -> [status, amount, payee, lines]
        self.claimed_units: dict[str, bytes] = {}
        # recovery model: pending {p: (successor, executableAt)}, retired {p: successor}, the
        # approvals' nonce per patient, and the consents moved to the honest successor
        # {(p, provider): [seq, purposes, until, live]}
        self.recovery = self.project.ConsentRecovery.at(self.consent.recovery())
        self.successors = [ape.accounts.test_accounts.generate_test_account() for _ in PATIENTS]
        for succ in self.successors:
            a["admin"].transfer(succ, 10**18)
        self.pending: dict[int, tuple[str, int]] = {}
        self.retired: dict[int, str] = {}
        self.rec_nonce: dict[int, int] = {p: 0 for p in PATIENTS}
        self.moved: dict[tuple[int, str], list[int]] = {}

    @initialize()
    def start(self) -> None:
        """A flow already under way, so short runs reach the interesting interleavings: both
        patients consent to the clinic and the pharmacy (treatment and payment, three days), and
        the batch is commissioned and moved manufacturer -> distributor (3) -> pharmacy (2)."""
        both = (1 << PURPOSES[0]) | (1 << PURPOSES[1])
        for p in PATIENTS:
            for g in ("clinic", "pharmacy"):
                self.grant(p, g, both, 3 * 24 * 3600)
            self._tick()
            h = guardians_hash([g.address for g in GUARDIANS])
            self.recovery.setGuardians(self.patients[p], h, 2, RECOVERY_DELAY, sender=self.patients[p])
            self.rec_nonce[p] += 1
        b = self.batch
        self._tick()
        self.provenance.commission(b.gtin, b.lot32, b.expiry, N_UNITS, b.tree.root, sender=self.acct["manufacturer"])
        self.ship("manufacturer", "distributor", 3)
        self.accept("distributor")
        self.ship("distributor", "pharmacy", 2)
        self.accept("pharmacy")
        insurer = self.acct["insurer"]
        self._tick()
        self.claims.createPlan(replace(TERMS, period_start=self.t - 30 * 86_400).as_tuple(), sender=insurer)
        self._tick()
        effective = self.t + 5
        self.claims.scheduleRules(1, effective, KEY.key_id, sender=insurer)
        self._tick()
        binding = KEY.gtin_binding(1, "NDC:0002-1433-80", self.batch.gtin)
        bindings = [binding if code == DRUG else b"\0" * 32 for code in RULES]
        self.claims.setCoverage(1, 1, list(RULES), [r.as_tuple() for r in RULES.values()], bindings, sender=insurer)
        self.t = effective - 1
        keys = {a.address: a.account for a in dev_accounts()}
        for p in self.patients:
            self._tick()
            deadline = self.t + 3_600
            typed = enrolment_typed_data(
                1, p.address, CRED, 0, 0, 0, deadline, chain_id=ape.chain.chain_id, contract=self.claims.address
            )
            self.claims.enrol(1, p, CRED, 0, 0, deadline, eip712.sign(keys[p.address], typed), sender=insurer)
        self.token.mint(insurer, 10**6 * USD, sender=insurer)
        self.token.approve(self.claims, 10**6 * USD, sender=insurer)
        self.claims.fund(1, FUND, sender=insurer)
        self.funded = FUND

    # ------------------------------------------------------------------ helpers

    def _tick(self) -> None:
        """Fix the next block's timestamp, so the model knows the time of every transaction."""
        self.t = max(self.t, int(ape.chain.blocks.head.timestamp)) + 1
        ape.chain.pending_timestamp = self.t

    def _attempt(self, ok: bool, actor: str | None, fn: Any, stops: str | None = None) -> bool:
        """Run ``fn`` (one transaction by ``actor``) and check the outcome against the model:
        ``ok`` is the model's answer for an active actor. A suspended actor must be refused, and
        when only its suspension stands in the way, refused with ParticipantIsSuspended(actor).
        ``stops``: the contract whose pause stops this action; while it is paused the action is
        refused with EnforcedPause() whoever sends it, and False is returned (nothing happened)."""
        self._tick()
        if stops in self.paused:
            with ape.reverts(self.contracts[stops].EnforcedPause):
                fn()
            return False
        if actor in self.suspended:
            if ok:
                with ape.reverts(self.directory.ParticipantIsSuspended, account=self.acct[actor].address):
                    fn()
            else:
                with ape.reverts():
                    fn()
            return True
        refused = _refusal(fn)
        assert refused is None or not ok, f"the contract refused an action the model allows: {refused}"
        assert refused is not None or ok, "the contract allowed an action the model refuses"
        return True

    @property
    def contracts(self) -> dict[str, Any]:
        return {"consent": self.consent, "provenance": self.provenance, "claims": self.claims}

    def _allowed(self, p: int, g: str, purpose: int, at: int) -> int:
        if p in self.retired:  # a retired pseudonym's deny covers everything, for good
            return 0
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
            self.acct[g], categories=CATEGORIES, purposes=purposes, until=self.t + 1 + duration
        )
        patient = self.patients[p]
        if not self._attempt(
            ok, None, lambda: self.consent.grant(patient, terms.as_tuple(), sender=patient), "consent"
        ):
            return
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

    # ------------------------------------------------------------------ recovery

    @rule(p=st.sampled_from(PATIENTS), hostile=st.booleans())
    def start_recovery(self, p: int, hostile: bool) -> None:
        """The guardians (2 of 2) approve a recovery to the honest successor, or collude for a
        hostile one; a relayer starts it."""
        patient = self.patients[p].address
        successor = HOSTILE if hostile else self.successors[p].address
        ok = p not in self.retired and p not in self.pending
        deadline = self.t + 3_600
        msg = {"patient": patient, "successor": successor, "recoveryNonce": self.rec_nonce[p], "deadline": deadline}
        typed = recovery_typed("Recover", msg, chain_id=ape.chain.chain_id, module=self.recovery.address)
        sigs = [eip712.sign(g, typed) for g in GUARDIANS]
        relayer = self.acct["relayer"]
        guardians = [g.address for g in GUARDIANS]
        self._attempt(
            ok,
            None,
            lambda: self.recovery.startRecovery(patient, successor, guardians, deadline, sigs, sender=relayer),
        )
        if ok:
            self.pending[p] = (successor, self.t + RECOVERY_DELAY)

    @rule(p=st.sampled_from(PATIENTS))
    def cancel_recovery(self, p: int) -> None:
        """The real key cancels (a hostile or a mistaken recovery): the approvals are void."""
        patient = self.patients[p]
        ok = p not in self.retired
        self._attempt(ok, None, lambda: self.recovery.cancelRecovery(patient, sender=patient))
        if ok:
            self.pending.pop(p, None)
            self.rec_nonce[p] += 1

    @rule(p=st.sampled_from(PATIENTS))
    def execute_recovery(self, p: int) -> None:
        """Anyone executes once the delay is over (time moves on to it); a pause does not stop it."""
        ok = p in self.pending
        if ok:
            self.t = max(self.t, self.pending[p][1] - 1)
        patient = self.patients[p].address
        self._attempt(ok, None, lambda: self.recovery.executeRecovery(patient, sender=self.acct["admin"]))
        if ok:
            self.retired[p] = self.pending.pop(p)[0]
            self.rec_nonce[p] += 1

    @rule(p=st.sampled_from(PATIENTS), g=st.sampled_from(PROVIDERS))
    def move_consent(self, p: int, g: str) -> None:
        """The honest successor moves one consent of the retired pseudonym (refused when the
        pseudonym was taken over by someone else, when there is nothing live to move, or while
        the registry is paused)."""
        succ = self.successors[p]
        c, m = self.consents.get((p, g)), self.moved.get((p, g))
        at = self.t + 1
        ok = (
            self.retired.get(p) == succ.address
            and c is not None
            and bool(c[3])
            and c[2] > at
            and (m is None or not m[3] or m[2] <= at)
        )
        patient, grantee = self.patients[p].address, self.acct[g].address
        n = int(self.consent.pairNonce(patient, grantee))
        # The module checks the successor first; a pause stops the registry's part after it.
        stops = "consent" if self.retired.get(p) == succ.address else None
        if not self._attempt(ok, None, lambda: self.recovery.moveConsent(patient, grantee, n, sender=succ), stops):
            return
        if ok and c is not None:
            self.moved[(p, g)] = [(m[0] if m else 0) + 1, c[1], c[2], 1]
            c[3] = 0

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

    @rule(who=st.sampled_from(ROTATABLE))
    def rotate_key(self, who: str) -> None:
        """The registrar moves an organisation to a fresh key, which accepts; the old key is
        refused from then on, and what the organisation holds follows (its plan by
        succeedInsurer)."""
        if who in self.suspended:
            return  # a suspended insurer could not take its plan over: the model rotates active ones
        old = self.acct[who]
        new = ape.accounts.test_accounts.generate_test_account()
        self._tick()
        self.acct["admin"].transfer(new, 10**18)
        self._tick()
        self.directory.proposeRotation(old, new, sender=self.acct["admin"])
        self._tick()
        self.directory.acceptRotation(old, sender=new)
        self.acct[who] = new
        with ape.reverts(self.directory.KeyRetired, account=old.address, current=new.address):
            self.directory.requireActive(old, int(ROLE[who]))
        if who == "insurer":
            self._tick()
            self.claims.succeedInsurer(1, sender=new)
            self._tick()
            self.token.mint(new, 10**6 * USD, sender=new)
            self._tick()
            self.token.approve(self.claims, 10**6 * USD, sender=new)

    @rule(which=st.sampled_from(("consent", "provenance", "claims")))
    def toggle_pause(self, which: str) -> None:
        """The emergency role pauses a contract; the directory's admin resumes it (in these tests
        one account holds both; tests/governance/test_pause.py keeps them apart)."""
        self._tick()
        contract = self.contracts[which]
        if which in self.paused:
            tx = contract.unpause(sender=self.acct["admin"])
            assert tx.events.filter(contract.Unpaused)[0].account == self.acct["admin"].address
            self.paused.discard(which)
        else:
            contract.pause(sender=self.acct["admin"])
            self.paused.add(which)
        assert bool(contract.paused()) is (which in self.paused)

    @rule(seconds=st.sampled_from([1, 29, 600, 3 * 3600, 11 * 3600]))
    def wait(self, seconds: int) -> None:
        self.t = max(self.t, int(ape.chain.blocks.head.timestamp)) + seconds
        ape.chain.mine(timestamp=self.t)

    # ------------------------------------------------------------------ provenance

    def _movable(self) -> bool:
        return self.status == "active"

    def _held_parcel(self, who: str, q: int) -> int | None:
        """The first parcel ``who`` holds (not in transit) with at least ``q`` positions."""
        return next(
            (
                s
                for s in sorted(self.parcels)
                if self.parcels[s][0] == who and self.parcels[s][2] is None and self.parcels[s][1] - s >= q
            ),
            None,
        )

    def _inbound(self, who: str) -> int | None:
        return next((s for s in sorted(self.parcels) if self.parcels[s][2] == who), None)

    @rule(src=st.sampled_from(TRADERS), dst=st.sampled_from(TRADERS), q=st.integers(1, N_UNITS))
    def ship(self, src: str, dst: str, q: int) -> None:
        start = self._held_parcel(src, q)
        ok = self._movable() and src != dst and start is not None
        ok = ok and self._active(dst)  # the receiver must be active too (checked after the sender)
        b = self.batch
        at = 0 if start is None else start  # no such parcel: name parcel 0 (the contract refuses)
        ship = lambda: self.provenance.ship(b.id, at, self.acct[dst], q, DOC, sender=self.acct[src])  # noqa: E731
        if not self._attempt(ok, src, ship, "provenance"):
            return
        if ok and self._active(src):
            end = self.parcels[at][1]
            if at + q < end:
                self.parcels[at + q] = [src, end, None]
            self.parcels[at] = [src, at + q, dst]

    @rule(who=st.sampled_from(TRADERS))
    def accept(self, who: str) -> None:
        start = self._inbound(who)
        ok = self._movable() and start is not None
        at = 0 if start is None else start
        if not self._attempt(
            ok, who, lambda: self.provenance.accept(self.batch.id, at, sender=self.acct[who]), "provenance"
        ):
            return
        if ok and self._active(who):
            self.parcels[at][0] = who
            self.parcels[at][2] = None

    @rule(who=st.sampled_from(TRADERS))
    def reject(self, who: str) -> None:
        # No directory check on reject: even a suspended receiver may send goods back (see
        # docs/access-matrix.md, note 2), so the model does not refuse a suspended actor here.
        start = self._inbound(who)
        ok = start is not None
        at = 0 if start is None else start
        self._tick()
        refused = _refusal(lambda: self.provenance.reject(self.batch.id, at, REASON, sender=self.acct[who]))
        assert (refused is None) is ok, f"reject: model says {ok}, contract: {refused}"
        if refused is not None:
            return
        self.parcels[at][2] = None

    @rule(i=st.integers(0, N_UNITS - 1), who=st.sampled_from(("pharmacy", "distributor")))
    def dispense(self, i: int, who: str) -> None:
        serial = self.batch.serials[i]
        start = max(s for s in self.parcels if s <= i)
        holder, _end, to = self.parcels[start]
        ok = (
            self.status == "active"
            and self.t + 1 < self.expires_at
            and who == "pharmacy"
            and holder == who
            and to is None
            and serial not in self.dispensed
        )
        b = self.batch
        done = self._attempt(
            ok,
            who,
            lambda: self.provenance.dispense(
                b.gtin, b.lot32, text_to_bytes32(serial), i, start, b.proof(serial), sender=self.acct[who]
            ),
            "provenance",
        )
        if done and ok and self._active(who):
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
        # Quarantine and recall are protective and work while paused; lifting a quarantine does not.
        stops = "provenance" if action == "lift" else None
        if not self._attempt(ok, "regulator", lambda: fn(self.batch.id, REASON, sender=self.acct["regulator"]), stops):
            return
        if ok:
            self.status = {"quarantine": "quarantined", "lift": "active", "recall": "recalled"}[action]

    # ------------------------------------------------------------------ claims

    def _free(self) -> int:
        return self.funded - self.paid - self.owed

    def _submit(self, p: int, payee: str, day: int, line: Line, ok: bool) -> None:
        """Submit a one-line claim of ``payee`` for patient ``p``; ``ok`` is the model's answer
        for an active payee. An accepted claim is approved when the pool can pay it at once, or
        queued (Submitted) when it cannot."""
        member = self.patients[p].address
        claim = (member, self.acct[payee].address, 0, self._episode(p, payee, day), 0, DOC, [line.as_tuple()])
        benefit = adjudicate_line(RULES[line.code], line.units, line.billed, 0, 10**30).benefit
        before = len(self.claim_state)
        holder: dict[str, bytes] = {}

        def send() -> None:
            tx = self.claims.submit(claim, sender=self.acct[payee])
            holder["id"] = bytes(tx.events.filter(self.claims.ClaimSubmitted)[0].claimId)

        self._attempt(ok, payee, send, "claims")
        if "id" not in holder:
            assert len(self.claim_state) == before
            return
        status = ClaimStatus.APPROVED if benefit <= self._free() else ClaimStatus.SUBMITTED
        if status is ClaimStatus.APPROVED:
            self.owed += benefit
        self.claim_state[holder["id"]] = [status, benefit, payee, [line.as_tuple()]]
        for unit in line.unit_ids:
            self.claimed_units[unit.hex()] = holder["id"]

    def _payment_consent(self, p: int, g: str) -> bool:
        suspended = g in self.suspended
        self.suspended.discard(g)
        ok = self._allowed(p, g, int(Purpose.HPAYMT), self.t + 1) != 0
        if suspended:
            self.suspended.add(g)
        return ok

    def _episode(self, p: int, payee: str, day: int) -> bytes:
        return KEY.episode(1, self.patients[p].address, self.acct[payee].address, day)

    def _duplicate(self, p: int, payee: str, day: int, code: bytes) -> bool:
        from careledger.claims.types import claim_id

        # One claim per encounter (member, payee, day in the episode digest), whatever the code.
        ep = self._episode(p, payee, day)
        return claim_id(self.patients[p].address, self.acct[payee].address, 0, ep) in self.claim_state

    @rule(p=st.sampled_from(PATIENTS), g=st.sampled_from(("clinic", "lab")), k=st.integers(0, 2))
    def submit_office_claim(self, p: int, g: str, k: int) -> None:
        day = self.today0 - 1 - k
        ok = self._payment_consent(p, g) and not self._duplicate(p, g, day, OFFICE)
        self._submit(p, g, day, Line(OFFICE, 1, OFFICE_BILLED), ok)

    @rule(p=st.sampled_from(PATIENTS), i=st.integers(0, N_UNITS - 1))
    def submit_drug_claim(self, p: int, i: int) -> None:
        """The pharmacy claims a unit it dispensed: refused for a unit it did not dispense, a unit
        of a recalled batch, a unit another live claim cites, or without the member's consent."""
        serial = self.batch.serials[i]
        unit = self.batch.unit(serial)
        day = self.today0 - 1 - i
        ok = (
            serial in self.dispensed
            and self.status != "recalled"
            and unit.hex() not in self.claimed_units
            and self._payment_consent(p, "pharmacy")
            and not self._duplicate(p, "pharmacy", day, DRUG)
        )
        if serial in self.dispensed and self.status == "recalled" and self._active("pharmacy"):
            self._tick()
            batch = bytes(self.batch.id)
            claim = (self.patients[p].address, self.acct["pharmacy"].address, 0, self._episode(p, "pharmacy", day))
            line = self._drug_line(unit).as_tuple()
            with ape.reverts(self.claims.UnitRecalled, unitId=unit, batchId=batch):
                self.claims.submit((*claim, 0, DOC, [line]), sender=self.acct["pharmacy"])
            return
        self._submit(p, "pharmacy", day, self._drug_line(unit), ok)

    def _drug_line(self, unit: bytes) -> Line:
        salt = KEY.gtin_salt(1, "NDC:0002-1433-80", self.batch.gtin)
        return Line(DRUG, 1, DRUG_BILLED, salt, (unit,))

    def _claim_ids(self) -> list[bytes]:
        return sorted(self.claim_state)

    @precondition(lambda self: bool(self.claim_state))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        """Anyone may pay an approved claim, once; consent revoked since submission changes nothing."""
        self.pay_claim(data.draw(st.sampled_from(self._claim_ids())))

    def pay_claim(self, cid: bytes) -> None:
        c = self.claim_state[cid]
        ok = c[0] is ClaimStatus.APPROVED
        payee = self.acct[c[2]]
        balance = int(self.token.balanceOf(payee))
        self._attempt(ok, None, lambda: self.claims.pay(cid, sender=self.acct["regulator"]))
        if ok:
            assert int(self.token.balanceOf(payee)) == balance + c[1]
            c[0] = ClaimStatus.PAID
            self.owed -= c[1]
            self.paid += c[1]

    @precondition(lambda self: any(c[0] is ClaimStatus.SUBMITTED for c in self.claim_state.values()))
    @rule(data=st.data())
    def adjudicate_queued(self, data: st.DataObject) -> None:
        ids = [i for i in self._claim_ids() if self.claim_state[i][0] is ClaimStatus.SUBMITTED]
        self.adjudicate_claim(data.draw(st.sampled_from(ids)))

    def adjudicate_claim(self, cid: bytes) -> None:
        c = self.claim_state[cid]
        ok = c[1] <= self._free()
        if not self._attempt(
            ok, None, lambda: self.claims.adjudicate(cid, c[3], sender=self.acct["regulator"]), "claims"
        ):
            return
        if ok:
            c[0] = ClaimStatus.APPROVED
            self.owed += c[1]

    @rule()
    def fund(self) -> None:
        self._attempt(True, "insurer", lambda: self.claims.fund(1, FUND, sender=self.acct["insurer"]))
        if self._active("insurer"):
            self.funded += FUND

    # ------------------------------------------------------------------ invariants

    @invariant()
    def pool_identity_and_claims_match_model(self) -> None:
        pool = self.claims.poolOf(1)
        assert int(pool.funded) == int(pool.paid) + int(pool.owed) + int(pool.free)
        assert (int(pool.funded), int(pool.paid), int(pool.owed)) == (self.funded, self.paid, self.owed)
        assert int(self.token.balanceOf(self.claims)) == self.funded - self.paid
        for cid, (status, _, _, _) in self.claim_state.items():
            assert ClaimStatus(self.claims.claimOf(cid).status) is status

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
        for i, serial in enumerate(b.serials):
            verdict, holder = self.provenance.verify(
                b.gtin, b.lot32, b.expiry, text_to_bytes32(serial), i, b.proof(serial)
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
                assert self.directory.currentKey(holder) == self.acct["pharmacy"].address

    @invariant()
    def custody_matches_model(self) -> None:
        covered = 0
        for start in sorted(self.parcels):
            holder, end, to = self.parcels[start]
            p = self.provenance.parcelOf(self.batch.id, start)
            # Custody is recorded under the key that held it then; it belongs to the organisation
            # whose current key that is.
            got_to = self.directory.currentKey(p.to) if int(p.to, 16) else p.to
            want_to = self.acct[to].address if to else "0x" + "00" * 20
            got = (self.directory.currentKey(p.holder), int(p.end), got_to)
            assert got == (self.acct[holder].address, end, want_to), start
            assert start == covered  # the parcels tile the batch's positions
            covered = end
        assert covered == N_UNITS

    @invariant()
    def recovery_matches_model(self) -> None:
        """Each pseudonym's pending recovery, approvals nonce and successor; a retired one denies
        everything; moved consents allow exactly what they allowed before, to the same grantees."""
        at = int(ape.chain.blocks.head.timestamp)
        for p in PATIENTS:
            patient = self.patients[p].address
            pending = self.recovery.pendingRecoveryOf(patient)
            assert (pending.successor, int(pending.executableAt)) == self.pending.get(p, (ZERO_ADDRESS, 0))
            assert int(self.recovery.recoveryNonce(patient)) == self.rec_nonce[p]
            assert self.consent.successorOf(patient) == self.retired.get(p, ZERO_ADDRESS)
            if p in self.retired:
                assert tuple(self.consent.patientDenyOf(patient)) == (ALL_CATEGORIES, ALL_PURPOSES)
            succ = self.successors[p].address
            for g in PROVIDERS:
                m = self.moved.get((p, g))
                live = m is not None and bool(m[3]) and at < m[2] and g not in self.suspended
                for u in PURPOSES:
                    want = consent_id(succ, self.acct[g].address, m[0]) if live and m and m[1] & (1 << u) else 0
                    assert tuple(self.consent.canAccess(succ, self.acct[g], CATEGORY, u)) == (want != 0, want)

    @invariant()
    def suspended_participants_are_inactive(self) -> None:
        for who, role in ROLE.items():
            assert self.directory.isActive(self.acct[who], int(role)) is (who not in self.suspended), who


INVARIANTS = (
    "can_access_matches_model",
    "verdict_of_every_unit_matches_model",
    "custody_matches_model",
    "suspended_participants_are_inactive",
    "pool_identity_and_claims_match_model",
    "recovery_matches_model",
)


def _attach(project, admin, acct, patients) -> None:
    SuiteModel.project = project
    SuiteModel.acct = {"admin": admin, **acct}
    SuiteModel.patients = patients
    SuiteModel.probe = project.MockConsentProbe.deploy(sender=admin)


@pytest.fixture
def cast(insurer, clinic, lab, manufacturer, distributor, pharmacy, regulator, relayer):
    return {
        "relayer": relayer,
        "insurer": insurer,
        "clinic": clinic,
        "lab": lab,
        "manufacturer": manufacturer,
        "distributor": distributor,
        "pharmacy": pharmacy,
        "regulator": regulator,
    }


def test_named_interleavings_agree_with_model(project, admin, cast, patient, patient2):
    """The stories the random runs may take long to reach, stepped through the same machine
    (every step checked by the model, every invariant after each step): consent revoked between
    a claim's submission and its payout; a batch recalled after a pharmacy claim, and a claim
    citing a recalled unit refused; a participant suspended mid-flow and reinstated; time past a
    consent's and the batch's expiry; a queued claim approved once the pool is funded."""
    _attach(project, admin, cast, [patient, patient2])
    m = SuiteModel()

    def step(name: str, *args: Any) -> None:
        getattr(m, name)(*args)
        for inv in INVARIANTS:
            getattr(m, inv)()

    step("start")
    step("submit_office_claim", 0, "clinic", 0)  # approved: $48 of the $60 pool
    office = next(iter(m.claim_state))
    step("revoke", 0, "clinic")  # consent revoked between submission and payout...
    step("submit_office_claim", 0, "clinic", 1)  # ...so a new claim is refused (NoPaymentConsent)
    step("pay_claim", office)  # ...but the approved claim is still paid, once
    step("pay_claim", office)  # a second payout is refused
    step("dispense", 0, "pharmacy")
    step("dispense", 1, "pharmacy")
    step("submit_drug_claim", 1, 0)  # the pharmacy claims unit 0: queued ($20 > $12 free)
    drug = next(c for c in m.claim_state if c != office)
    assert m.claim_state[drug][0] is ClaimStatus.SUBMITTED
    step("submit_drug_claim", 0, 0)  # the same unit again: refused (UnitAlreadyClaimed)
    step("authority", "recall")  # the batch is recalled after the pharmacy's claim
    step("submit_drug_claim", 0, 1)  # a claim citing a recalled unit: refused (UnitRecalled)
    step("fund")
    step("adjudicate_claim", drug)  # the claim made before the recall is still honoured
    step("pay_claim", drug)
    step("toggle_suspension", "clinic")  # suspended mid-flow: refused, with ParticipantIsSuspended
    step("submit_office_claim", 1, "clinic", 0)
    step("record_access", 1, "clinic", int(Purpose.TREAT))
    step("toggle_suspension", "clinic")  # reinstated: allowed again
    step("submit_office_claim", 1, "clinic", 0)
    step("grant", 1, "lab", 1 << int(Purpose.HPAYMT), 600)
    step("submit_office_claim", 1, "lab", 2)
    for _ in range(3):  # past the lab's consent (10 minutes) and the batch's expiry (< 24 h)
        step("wait", 11 * 3600)
    step("submit_office_claim", 1, "lab", 1)  # the consent expired: refused
    # The emergency pause: what stops stops with EnforcedPause, the rest keeps working.
    step("toggle_pause", "consent")
    step("grant", 0, "lab", 1 << int(Purpose.TREAT), 600)  # refused: paused
    step("revoke", 1, "pharmacy")  # a patient can always revoke
    step("record_access", 0, "pharmacy", int(Purpose.TREAT))  # the audit trail keeps recording
    step("toggle_pause", "claims")
    step("submit_office_claim", 0, "lab", 2)  # refused: paused
    step("fund")  # money in still works
    step("toggle_pause", "provenance")
    step("ship", "distributor", "pharmacy", 1)  # refused: paused
    step("authority", "quarantine")  # protective actions still work (here refused: recalled)
    for which in ("consent", "claims", "provenance"):
        step("toggle_pause", which)
    # Keys rotate mid-flow: custody, the GTIN's prefix and the plan follow the new keys.
    step("rotate_key", "distributor")
    step("ship", "distributor", "pharmacy", 1)
    step("rotate_key", "insurer")
    step("fund")
    step("rotate_key", "manufacturer")
    step("authority", "quarantine")
    step("grant", 0, "lab", 1 << int(Purpose.TREAT), 600)  # resumed: allowed again
    # A lost key: the guardians start a hostile recovery, the real key cancels it; then the
    # honest one runs (the pause does not stop it), the old key's grants never allow access, and
    # the successor moves the consent (refused while paused).
    step("start_recovery", 1, True)
    step("cancel_recovery", 1)
    step("grant", 1, "lab", 1 << int(Purpose.TREAT), 4 * 86_400)  # outlives the recovery's delay
    step("start_recovery", 1, False)
    step("toggle_pause", "consent")
    step("execute_recovery", 1)
    step("move_consent", 1, "lab")  # refused: paused
    step("toggle_pause", "consent")
    step("record_access", 1, "lab", int(Purpose.TREAT))  # refused: the pseudonym is retired
    step("move_consent", 1, "lab")
    step("move_consent", 1, "lab")  # nothing left to move
    step("grant", 1, "clinic", 1 << int(Purpose.TREAT), 600)  # the old key grants: inert
    step("cancel_recovery", 1)  # refused: retired
    assert m.retired == {1: m.successors[1].address} and (1, "lab") in m.moved
    assert m.t >= m.expires_at
    assert [c[0] for c in m.claim_state.values()].count(ClaimStatus.PAID) == 2


@pytest.mark.slow
def test_suite_state_machine_agrees_with_model(project, admin, cast, patient, patient2):
    _attach(project, admin, cast, [patient, patient2])
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
