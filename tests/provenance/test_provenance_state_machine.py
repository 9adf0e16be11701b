"""Hypothesis state machine: random shipments, splits, accepts, rejects, cancels, dispenses and
batch holds against a Python model of serial-level custody (parcels of serial positions). After
every step the contract must agree with the model. The invariant of issue #14: a serial is
dispensed at most once, only by a pharmacy that accepted a shipment containing it, and `verify`
agrees with the model."""

from __future__ import annotations

import ape
import pytest
from ape.exceptions import ContractLogicError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from provenance_fixtures import DOC, EXPIRY, REASON, make_batch

from careledger.codes import Role
from careledger.provenance.client import Verdict
from careledger.provenance.ids import text_to_bytes32

N = 6
PARTIES = ("manufacturer", "distributor", "pharmacy", "pharmacy2")
PHARMACIES = ("pharmacy", "pharmacy2")
ZERO = "0x" + "00" * 20


@pytest.fixture
def machine_cls(registry, directory, admin, accounts, manufacturer, distributor, pharmacy, regulator):
    second = accounts.generate_test_account()
    accounts[0].transfer(second, 10**20)
    directory.register(second, int(Role.PHARMACY), b"\xc6" * 32, sender=admin)
    batch = make_batch(lot="LOT-SM", n=N)
    registry.commission(batch.gtin, batch.lot32, EXPIRY, N, batch.tree.root, sender=manufacturer)
    acct = {"manufacturer": manufacturer, "distributor": distributor, "pharmacy": pharmacy, "pharmacy2": second}

    class Custody(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = ape.chain.snapshot()
            # start -> [holder, end, in transit to or None]
            self.parcels: dict[int, list] = {0: ["manufacturer", N, None]}
            self.dispensed: dict[int, str] = {}  # position -> pharmacy
            self.received: dict[int, set[str]] = {i: set() for i in range(N)}  # accepted a parcel holding it
            self.status = "active"

        def teardown(self) -> None:
            ape.chain.restore(self.snap)

        def _attempt(self, expect_ok: bool, fn) -> None:
            try:
                fn()
            except ContractLogicError:
                assert not expect_ok, "the contract refused a move the model allows"
                return
            assert expect_ok, "the contract allowed a move the model refuses"

        def _pick(self, k: int) -> int:
            starts = sorted(self.parcels)
            return starts[k % len(starts)]

        @rule(
            k=st.integers(0, N),
            who=st.sampled_from(PARTIES),
            dst=st.sampled_from(PARTIES),
            q=st.integers(0, N + 1),
        )
        def ship(self, k: int, who: str, dst: str, q: int) -> None:
            start = self._pick(k)
            holder, end, to = self.parcels[start]
            ok = self.status == "active" and who == holder and to is None and who != dst and 0 < q <= end - start
            self._attempt(ok, lambda: registry.ship(batch.id, start, acct[dst], q, DOC, sender=acct[who]))
            if ok:
                if start + q < end:
                    self.parcels[start + q] = [who, end, None]
                self.parcels[start] = [who, start + q, dst]

        @rule(k=st.integers(0, N), who=st.sampled_from(PARTIES), at=st.integers(0, N))
        def split(self, k: int, who: str, at: int) -> None:
            start = self._pick(k)
            holder, end, to = self.parcels[start]
            ok = self.status == "active" and who == holder and to is None and start < at < end
            self._attempt(ok, lambda: registry.split(batch.id, start, at, sender=acct[who]))
            if ok:
                self.parcels[at] = [who, end, None]
                self.parcels[start][1] = at

        @rule(k=st.integers(0, N), who=st.sampled_from(PARTIES), how=st.sampled_from(["accept", "reject", "cancel"]))
        def settle(self, k: int, who: str, how: str) -> None:
            start = self._pick(k)
            holder, end, to = self.parcels[start]
            if how == "cancel":
                ok = to is not None and who == holder
                self._attempt(ok, lambda: registry.cancel(batch.id, start, REASON, sender=acct[who]))
            elif how == "reject":
                ok = to is not None and who == to
                self._attempt(ok, lambda: registry.reject(batch.id, start, REASON, sender=acct[who]))
            else:
                ok = to is not None and who == to and self.status == "active"
                self._attempt(ok, lambda: registry.accept(batch.id, start, sender=acct[who]))
                if ok:
                    self.parcels[start][0] = who
                    for i in range(start, end):
                        self.received[i].add(who)
            if ok:
                self.parcels[start][2] = None

        @rule(i=st.integers(0, N - 1), who=st.sampled_from(PARTIES), k=st.integers(0, N))
        def dispense(self, i: int, who: str, k: int) -> None:
            # Usually the parcel that holds the position (whoever holds it); sometimes another one.
            start = max(s for s in self.parcels if s <= i) if k % 3 else self._pick(k)
            holder, end, to = self.parcels[start]
            ok = (
                self.status == "active"
                and who in PHARMACIES
                and who == holder
                and to is None
                and start <= i < end
                and i not in self.dispensed
            )
            serial = batch.serials[i]
            self._attempt(
                ok,
                lambda: registry.dispense(
                    batch.gtin, batch.lot32, text_to_bytes32(serial), i, start, batch.proof(serial), sender=acct[who]
                ),
            )
            if ok:
                self.dispensed[i] = who

        @rule(action=st.sampled_from(["quarantine", "lift", "recall", "void"]))
        def authority(self, action: str) -> None:
            ok = {
                "quarantine": self.status == "active",
                "lift": self.status == "quarantined",
                "recall": self.status in ("active", "quarantined"),
                "void": self.status != "voided",
            }[action]
            fn = {
                "quarantine": registry.quarantine,
                "lift": registry.liftQuarantine,
                "recall": registry.recall,
                "void": registry.voidBatch,
            }
            self._attempt(ok, lambda: fn[action](batch.id, REASON, sender=regulator))
            if ok:
                self.status = {"quarantine": "quarantined", "lift": "active", "recall": "recalled", "void": "voided"}[
                    action
                ]

        @invariant()
        def parcels_match_model_and_partition_the_batch(self) -> None:
            covered = 0
            for start in sorted(self.parcels):
                holder, end, to = self.parcels[start]
                p = registry.parcelOf(batch.id, start)
                assert (p.holder, int(p.end), p.to) == (acct[holder].address, end, acct[to].address if to else ZERO)
                assert start == covered  # parcels tile [0, N) without gaps or overlaps
                covered = end
            assert covered == N

        @invariant()
        def dispensed_once_by_a_pharmacy_that_received_it(self) -> None:
            for i, serial in enumerate(batch.serials):
                d = registry.dispenseOf(batch.unit(serial))
                if i in self.dispensed:
                    assert d.pharmacy == acct[self.dispensed[i]].address
                    assert self.dispensed[i] in self.received[i]
                else:
                    assert d.pharmacy == ZERO

        @invariant()
        def verdicts_match_model(self) -> None:
            for i, serial in enumerate(batch.serials):
                verdict, by = registry.verify(
                    batch.gtin, batch.lot32, EXPIRY, text_to_bytes32(serial), i, batch.proof(serial)
                )
                want = {
                    "voided": Verdict.VOIDED,
                    "recalled": Verdict.RECALLED,
                    "quarantined": Verdict.SUSPECT,
                }.get(self.status, Verdict.DISPENSED if i in self.dispensed else Verdict.VERIFIED)
                assert Verdict(verdict) is want
                assert by == (acct[self.dispensed[i]].address if i in self.dispensed else ZERO)

    return Custody


def test_custody_state_machine_agrees_with_model(machine_cls):
    # Each step is a transaction plus ~20 reads on the embedded chain: keep `make test` fast
    # within the loaded profile (ci: fixed seed); `make fuzz` (long profile) scales it up.
    profile = settings()
    scale = 1 if profile.max_examples <= 25 else 8
    run_state_machine_as_test(
        machine_cls, settings=settings(profile, max_examples=8 * scale, stateful_step_count=min(16 * scale, 60))
    )
