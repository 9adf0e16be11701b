"""The gateway against a model, on anvil (Hypothesis state machine): whatever sequence of record
filings, erasures, consents, revocations, suspensions and reads, a read is served exactly when
the model says the requester is active and holds a consent, it returns exactly the records not
erased, a refusal names the model's reason, and the gateway's disclosure log and the patient's
on-chain access log both count exactly the served reads."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from test_gateway import LAB_REPORT, TOKEN, URL, _chain, net  # noqa: F401 - the module's devnet fixture

from careledger.accounts import DEV_MNEMONIC, PersonIdentity, dev_account
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.terms import GrantTerms, mask
from careledger.deployments import load_deployment
from careledger.directory.client import DirectoryClient
from careledger.gateway.app import Gateway, create_app
from careledger.gateway.client import GatewayReader, GatewayRefused, make_link
from careledger.gateway.store import GatewayStore

pytestmark = pytest.mark.devnet

REQUESTERS = ("lab", "er")
_people = itertools.count(1)


def test_gateway_agrees_with_its_model(net: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    w3, artifacts = net["w3"], net["artifacts"]
    deployment = load_deployment(w3)
    chains = {n: _chain(w3, artifacts, dev_account(n).account) for n in ("clinic", "lab", "er", "admin")}
    directory = DirectoryClient(chains["admin"], deployment)
    folders = itertools.count()

    class GatewayModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_people)
            # A fresh person per example: her pseudonyms have no consent yet on this chain.
            person = PersonIdentity(DEV_MNEMONIC, 1000 + n)
            folder = tmp_path / f"m{next(folders)}"
            self.gateway = Gateway(
                chains["clinic"], deployment, GatewayStore(folder / "gw.sqlite", folder / "gw.keys", "model")
            )
            self.http = TestClient(create_app(self.gateway, TOKEN))
            self.holder = person.pseudonym(dev_account("clinic").address)
            self.as_patient: dict[str, ConsentClient] = {}
            self.links = {}
            self.readers = {r: GatewayReader(chains[r], deployment, http=self.http) for r in REQUESTERS}
            for r in REQUESTERS:
                key = person.pseudonym(dev_account(r).address)
                w3.provider.make_request("anvil_setBalance", [key.address, hex(10**18)])  # type: ignore[arg-type]
                self.as_patient[r] = ConsentClient(chains["admin"].with_account(key), deployment)
                self.links[r] = make_link(
                    self.holder,
                    gateway=self.gateway.address,
                    grantor=key.address,
                    requester=dev_account(r).address,
                    expires=self.as_patient[r].chain_time() + 30 * 86_400,
                    chain_id=w3.eth.chain_id,
                )
            self.consent: dict[str, int | None] = dict.fromkeys(REQUESTERS)
            self.suspended: dict[str, bool] = dict.fromkeys(REQUESTERS, False)
            self.records: dict[str, bool] = {}  # record id -> erased
            self.served = 0

        def teardown(self) -> None:
            for r, down in self.suspended.items():
                if down:
                    directory.reinstate(dev_account(r).address)
            self.http.close()
            self.gateway.store.engine.dispose()

        @initialize()
        def a_report_and_a_consent(self) -> None:
            # Start where reads can succeed, so the steps reach served, refused and erased reads.
            self.file_a_record("HbA1c 6.1 %")
            self.grant("lab")

        @rule(text=st.sampled_from(["HbA1c 6.1 %", "Hb 13.9 g/dL", "LDL 2.1 mmol/L"]))
        def file_a_record(self, text: str) -> None:
            out = self.gateway.put(self.holder.address, {**LAB_REPORT, "conclusion": text})
            self.records[out["recordId"]] = False

        @precondition(lambda self: any(not e for e in self.records.values()))
        @rule(data=st.data())
        def erase(self, data: st.DataObject) -> None:
            rid = data.draw(st.sampled_from(sorted(r for r, e in self.records.items() if not e)))
            self.gateway.erase(rid, "model")
            self.records[rid] = True

        @rule(who=st.sampled_from(REQUESTERS))
        def grant(self, who: str) -> None:
            if self.consent[who] is not None:
                return
            client = self.as_patient[who]
            terms = GrantTerms(
                dev_account(who).address,
                mask([Category.DIAGNOSTIC_REPORT]),
                mask([Purpose.TREAT]),
                client.chain_time() + 86_400,
            )
            self.consent[who], _ = client.grant(terms, require_vetted=False)

        @rule(who=st.sampled_from(REQUESTERS))
        def revoke(self, who: str) -> None:
            cid = self.consent[who]
            if cid is None:
                return
            self.as_patient[who].revoke(dev_account(who).address, cid)
            self.consent[who] = None

        @rule(who=st.sampled_from(REQUESTERS))
        def toggle_suspension(self, who: str) -> None:
            addr = dev_account(who).address
            if self.suspended[who]:
                directory.reinstate(addr)
            else:
                directory.suspend(addr, "model")
            self.suspended[who] = not self.suspended[who]

        @rule(who=st.sampled_from(REQUESTERS))
        def read(self, who: str) -> None:
            grantor = self.as_patient[who].chain.account.address  # type: ignore[union-attr]
            refusal: GatewayRefused | None = None
            try:
                got = self.readers[who].read(
                    URL,
                    self.holder.address,
                    Category.DIAGNOSTIC_REPORT,
                    Purpose.TREAT,
                    grantor=grantor,
                    link=self.links[who],
                )
            except GatewayRefused as exc:
                refusal = exc
            if refusal is not None:
                want = "suspended-requester" if self.suspended[who] else "no-consent"
                assert self.suspended[who] or self.consent[who] is None, f"refused {refusal.reason}, model allows"
                assert (refusal.status, refusal.reason) == (403, want)
                return
            assert not self.suspended[who] and self.consent[who] is not None, "served, model refuses"
            assert got["consentId"] == str(self.consent[who])
            assert sorted(r["recordId"] for r in got["records"]) == sorted(r for r, e in self.records.items() if not e)
            assert sorted(e["recordId"] for e in got["erased"]) == sorted(r for r, e in self.records.items() if e)
            self.served += 1

        @rule()
        def lab_reads(self) -> None:
            # Reads are what the model is about: a second rule makes them about twice as likely.
            self.read("lab")

        @invariant()
        def every_served_read_is_logged_twice(self) -> None:
            assert len(self.gateway.store.disclosures()) == self.served
            grantors = [c.chain.account.address for c in self.as_patient.values()]  # type: ignore[union-attr]
            log = self.as_patient["lab"].history(grantors, ("AccessRecorded",))
            assert len(log) == self.served

    GatewayModel.TestCase.settings = settings(
        max_examples=10,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    state_machine = GatewayModel.TestCase()
    state_machine.runTest()
