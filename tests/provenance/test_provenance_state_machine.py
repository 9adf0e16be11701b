"""Hypothesis state machine: random custody moves, dispenses, quarantines and recalls against a
Python model of holders and unit states; after every step the contract must agree with the model
(custody per party, units conserved, verdict of every unit)."""

from __future__ import annotations

import ape
import pytest
from ape.exceptions import ContractLogicError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from provenance_fixtures import DOC, EXPIRY, REASON, make_batch

from careledger.provenance.client import Verdict
from careledger.provenance.ids import text_to_bytes32

N = 6
PARTIES = ("manufacturer", "distributor", "pharmacy")


@pytest.fixture
def machine_cls(registry, manufacturer, distributor, pharmacy, regulator):
    batch = make_batch(lot="LOT-SM", n=N)
    registry.commission(batch.gtin, batch.lot32, EXPIRY, N, batch.tree.root, sender=manufacturer)
    acct = {"manufacturer": manufacturer, "distributor": distributor, "pharmacy": pharmacy}

    class Custody(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = ape.chain.snapshot()
            self.held = {"manufacturer": N, "distributor": 0, "pharmacy": 0}
            self.incoming: dict[str, tuple[int, str]] = {}
            self.dispensed: set[str] = set()
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

        @rule(src=st.sampled_from(PARTIES), dst=st.sampled_from(PARTIES), q=st.integers(0, N + 1))
        def ship(self, src: str, dst: str, q: int) -> None:
            ok = self.status == "active" and src != dst and 0 < q <= self.held[src] and dst not in self.incoming
            self._attempt(ok, lambda: registry.ship(batch.id, acct[dst], q, DOC, sender=acct[src]))
            if ok:
                self.held[src] -= q
                self.incoming[dst] = (q, src)

        @rule(who=st.sampled_from(PARTIES))
        def accept(self, who: str) -> None:
            ok = self.status == "active" and who in self.incoming
            self._attempt(ok, lambda: registry.accept(batch.id, sender=acct[who]))
            if ok:
                self.held[who] += self.incoming.pop(who)[0]

        @rule(who=st.sampled_from(PARTIES))
        def reject(self, who: str) -> None:
            ok = who in self.incoming
            self._attempt(ok, lambda: registry.reject(batch.id, REASON, sender=acct[who]))
            if ok:
                q, src = self.incoming.pop(who)
                self.held[src] += q

        @rule(i=st.integers(0, N - 1), who=st.sampled_from(PARTIES))
        def dispense(self, i: int, who: str) -> None:
            serial = batch.serials[i]
            ok = self.status == "active" and who == "pharmacy" and self.held[who] > 0 and serial not in self.dispensed
            self._attempt(
                ok,
                lambda: registry.dispense(
                    batch.gtin, batch.lot32, text_to_bytes32(serial), batch.proof(serial), sender=acct[who]
                ),
            )
            if ok:
                self.held[who] -= 1
                self.dispensed.add(serial)

        @rule(action=st.sampled_from(["quarantine", "lift", "recall"]))
        def authority(self, action: str) -> None:
            ok = {
                "quarantine": self.status == "active",
                "lift": self.status == "quarantined",
                "recall": self.status != "recalled",
            }[action]
            fn = {"quarantine": registry.quarantine, "lift": registry.liftQuarantine, "recall": registry.recall}
            self._attempt(ok, lambda: fn[action](batch.id, REASON, sender=regulator))
            if ok:
                self.status = {"quarantine": "quarantined", "lift": "active", "recall": "recalled"}[action]

        @invariant()
        def custody_matches_model_and_units_are_conserved(self) -> None:
            total = len(self.dispensed)
            for name in PARTIES:
                c = registry.custodyOf(batch.id, acct[name])
                q, src = self.incoming.get(name, (0, None))
                assert (int(c.held), int(c.incoming)) == (self.held[name], q)
                assert c.sender == (acct[src].address if src else "0x" + "00" * 20)
                total += int(c.held) + int(c.incoming)
            assert total == N

        @invariant()
        def verdicts_match_model(self) -> None:
            for serial in batch.serials[:2]:
                verdict, holder = registry.verify(
                    batch.gtin, batch.lot32, EXPIRY, text_to_bytes32(serial), batch.proof(serial)
                )
                if self.status == "recalled":
                    want = Verdict.RECALLED
                elif self.status == "quarantined":
                    want = Verdict.SUSPECT
                elif serial in self.dispensed:
                    want = Verdict.DISPENSED
                else:
                    want = Verdict.VERIFIED
                assert Verdict(verdict) is want
                if serial in self.dispensed:
                    assert holder == acct["pharmacy"].address

    return Custody


def test_custody_state_machine_agrees_with_model(machine_cls):
    # Each step is several transactions plus 7 reads on the embedded chain: keep `make test` fast
    # within the loaded profile (ci: fixed seed); `make fuzz` (long profile) scales it up.
    profile = settings()
    scale = 1 if profile.max_examples <= 25 else 8
    run_state_machine_as_test(
        machine_cls, settings=settings(profile, max_examples=6 * scale, stateful_step_count=min(12 * scale, 60))
    )
