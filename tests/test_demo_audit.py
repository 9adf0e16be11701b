"""The whole demo, audited: it behaves as every story expects, writes no health data anywhere on
chain (the scanner is first shown to find planted PHI in calldata, events and storage, in each
form it looks for), and the event log alone rebuilds every contract's state.
tests/test_random_run_audit.py audits a random run the same way."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from eth_abi.abi import encode as abi_encode
from rich.console import Console

from careledger.accounts import dev_account, dev_person
from careledger.artifacts import load_artifacts
from careledger.audit import chain_links, load_code_list, scan_chain, scan_codes, scan_dates
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.demo.phi import DEMO_PHI, all_demo_phi
from careledger.demo.runner import run_demo
from careledger.deployments import load_deployment
from careledger.devnet import Devnet, free_port
from careledger.index.audit import index_audit
from careledger.indexer import check, replay
from careledger.rpc import RpcClient

pytestmark = pytest.mark.devnet


def test_scanner_finds_planted_phi_in_calldata_event_and_storage(tmp_path: Path):
    net = Devnet(folder=tmp_path, port=free_port(), persist=False)
    net.up()
    try:
        art = load_artifacts()["ToolchainProbe"]
        chain = Chain(connect(net.rpc_url), ErrorDecoder.from_abis([art.abi])).with_account(
            dev_account("admin").account
        )
        probe = chain.contract(chain.deploy(art.abi, art.bytecode, [], "deploy")["contractAddress"], art.abi)
        planted = int.from_bytes(DEMO_PHI["date_of_birth"].encode().ljust(32, b"\0"), "big")
        chain.send(probe.functions.set(planted), "plant")
        report = scan_chain(RpcClient(net.rpc_url), DEMO_PHI)
    finally:
        net.down()
    places = {hit.where.split()[0] for hit in report.hits if hit.label == "date_of_birth"}
    assert places == {"calldata", "event", "storage"}
    assert {hit.label for hit in report.hits} == {"date_of_birth"}


# A contract that logs its calldata (LOG0) and stores it word by word from slot 0: a stand-in for a
# careless contract that keeps whatever it is given, to plant a value in calldata, an event and
# storage at once. Runtime, 31 bytes:
#   00 CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY          memory[0:size] = calldata
#   04 CALLDATASIZE PUSH0 LOG0                        log0(memory[0:size])
#   07 PUSH0                                          i = 0
#   08 JUMPDEST DUP1 CALLDATASIZE GT ISZERO           while size > i:
#   0d PUSH1 0x1d JUMPI
#   10 DUP1 CALLDATALOAD DUP2 PUSH1 5 SHR SSTORE          sstore(i / 32, calldataload(i))
#   17 PUSH1 32 ADD PUSH1 0x08 JUMP                       i += 32
#   1d JUMPDEST STOP
# The init code copies it (CODECOPY from offset 9) and returns it.
ECHO_RUNTIME = "365f5f37365fa05f5b80361115601d5780358160051c556020016008565b00"
ECHO_INIT = "0x601f8060095f395ff3" + ECHO_RUNTIME
_DOB_DAYS = (date.fromisoformat(DEMO_PHI["date_of_birth"]) - date(1970, 1, 1)).days
# (form, PHI label, the scanner's encoding name, what a careless contract would be sent)
PLANTED = [
    ("plain", "patient_name", "utf8", DEMO_PHI["patient_name"].encode()),
    ("hex", "mrn", "hex", DEMO_PHI["mrn"].encode().hex().encode()),
    ("abi-string", "record_text", "abi-string", abi_encode(["string"], [DEMO_PHI["record_text"]])),
    ("abi-bytes32", "member_number", "abi-bytes32", abi_encode(["bytes32"], [DEMO_PHI["member_number"].encode()])),
    ("abi-date", "date_of_birth", "abi-uint-days", abi_encode(["uint256"], [_DOB_DAYS])),
]


@pytest.fixture(scope="module")
def planted_scan(tmp_path_factory):
    """Each form of :data:`PLANTED` sent to its own echo contract, then the chain scanned."""
    net = Devnet(folder=tmp_path_factory.mktemp("planted"), port=free_port(), persist=False)
    net.up()
    try:
        w3 = connect(net.rpc_url)
        sender = dev_account("admin").address
        for _, _, _, payload in PLANTED:
            deployed = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": sender, "data": ECHO_INIT}))
            echo = deployed["contractAddress"]
            assert w3.eth.get_code(echo).hex() == ECHO_RUNTIME
            tx = {"from": sender, "to": echo, "data": "0x" + payload.hex(), "gas": 1_000_000}
            assert w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))["status"] == 1
        return scan_chain(RpcClient(net.rpc_url), DEMO_PHI)
    finally:
        net.down()


@pytest.mark.parametrize(("form", "label", "encoding"), [p[:3] for p in PLANTED], ids=[p[0] for p in PLANTED])
def test_scanner_finds_planted_phi_in_each_form(planted_scan, form, label, encoding):
    """A value planted in the given form is reported, under that form, in the calldata that
    carried it, the event that logged it and the storage that kept it."""
    places = {hit.where.split()[0] for hit in planted_scan.hits if (hit.label, hit.encoding) == (label, encoding)}
    assert places == {"calldata", "event", "storage"}, form
    assert {hit.label for hit in planted_scan.hits} == {p[1] for p in PLANTED}


PUBLIC_CODES = load_code_list(Path(__file__).parent / "data" / "public_service_codes.json")


def claims_dates(rpc, deployment, states):
    """Dates near chain time beside a person's address, in the claims contract's calldata and
    events (organisations: the directory's participants as the log rebuilds them, the deployed
    contracts and the consortium admin)."""
    orgs = [*states["directory"]["participants"], *(r.address for r in deployment.contracts.values())]
    orgs.append(dev_account("admin").address)
    return scan_dates(rpc, orgs, contracts=[deployment.address("ClaimSettlement")])


@pytest.fixture(scope="module")
def audited_demo():
    """Run the demo once; before its devnet stops, scan it for PHI and replay its logs."""
    found: dict[str, object] = {}

    def inspect(url: str) -> None:
        rpc = RpcClient(url)
        w3 = connect(url)
        deployment = load_deployment(w3)
        found["phi"] = scan_chain(rpc, all_demo_phi())
        found["states"] = replay(rpc, deployment, load_artifacts())
        found["diffs"] = check(w3, rpc, deployment, load_artifacts())
        found["codes"] = scan_codes(rpc, PUBLIC_CODES)
        found["dates"] = claims_dates(rpc, deployment, found["states"])
        found["index"] = index_audit(url, w3, deployment)
        found["links"] = chain_links(w3, deployment, load_artifacts())
        # Then plant a link (after everything above looked): the patient's own address consents
        # to two organisations for treatment; the detector must catch it.
        from careledger.codes import Category, Purpose
        from careledger.consent.client import ConsentClient
        from careledger.consent.terms import GrantTerms, mask

        chain = Chain(w3, ErrorDecoder.from_abis(load_artifacts().all_abis()))
        me = ConsentClient(chain.with_account(dev_account("patient").account), deployment)
        for org in ("lab", "er"):
            me.grant(
                GrantTerms(
                    grantee=dev_account(org).address,
                    categories=mask([Category.OBSERVATION]),
                    purposes=mask([Purpose.TREAT]),
                    valid_until=me.chain_time() + 86_400,
                )
            )
        # And the plan card (the member address in the claims: the patient's pseudonym for the
        # insurer) reused for a care consent, signed and relayed: the member <-> consent linkage
        # the claims detector must catch (#13 point 8).
        relayer = ConsentClient(chain.with_account(dev_account("relayer").account), deployment)
        card = dev_person("patient").pseudonym(dev_account("insurer").address)
        care = GrantTerms(
            grantee=dev_account("lab").address,
            categories=mask([Category.OBSERVATION]),
            purposes=mask([Purpose.TREAT]),
            valid_until=relayer.chain_time() + 86_400,
        )
        relayer.submit(relayer.sign(card, "grant", terms=care))
        found["card"] = card.address.lower()
        found["planted_links"] = chain_links(w3, deployment, load_artifacts())

    stories = run_demo(Console(file=io.StringIO()), inspect=inspect)
    return stories, found


def test_demo_every_step_as_expected(audited_demo):
    stories, _ = audited_demo
    assert [st.action for s in stories for st in s.steps if not st.ok] == []


def test_demo_writes_no_phi_anywhere_on_chain(audited_demo):
    _, found = audited_demo
    report = found["phi"]
    assert report.transactions >= 10 and report.logs >= 10
    assert report.storage_slots >= 10
    assert report.hits == [], "health data on chain:\n" + "\n".join(str(h) for h in report.hits)


def test_event_log_rebuilds_every_contract_state(audited_demo):
    _, found = audited_demo
    states = found["states"]
    assert "directory" in states and len(states["directory"]["participants"]) >= 9
    assert {"consent", "provenance", "claims"} <= set(states)
    assert len(states["provenance"]["batches"]) >= 2 and len(states["provenance"]["units"]) >= 3
    assert len(states["consent"]["consents"]) >= 2 and states["consent"]["accesses"] >= 2
    assert found["diffs"] == {domain: [] for domain in states}


def test_demo_writes_no_service_code_and_no_date_of_care(audited_demo):
    """#13 point 8: no code of the public list in any form (clear, hex, ABI, unsalted hash)
    anywhere on chain, and no date near chain time beside a member in the claims contract."""
    _, found = audited_demo
    assert found["codes"].hits == [], "service codes on chain:\n" + "\n".join(str(h) for h in found["codes"].hits)
    assert found["dates"] == [], "dates tied to people:\n" + "\n".join(str(h) for h in found["dates"])


def test_demo_links_no_relationships_and_a_planted_link_is_caught(audited_demo):
    """Issue #15, point 8: no non-organisation address joins two organisations, or a consent and a
    claim, after the demo (pairwise pseudonyms); the same scan catches a planted link."""
    _, found = audited_demo
    assert found["links"] == [], "\n".join(str(h) for h in found["links"])
    patient = dev_account("patient").address.lower()
    kinds = {(h.address, h.kind) for h in found["planted_links"]}
    assert (patient, "two-organisations") in kinds
    # the member address of the claims reused in a care consent (#13 point 8): caught
    assert (found["card"], "consent-and-claims") in kinds


def test_persistent_index_rebuilds_the_demo_and_agrees_with_the_chain(audited_demo):
    """careledger index (SQLite, followed in small ranges) derives exactly the replay's state,
    and the same domains' verify finds no difference from the chain's reads."""
    _, found = audited_demo
    index = found["index"]
    assert index["states"] == found["states"]
    assert index["diffs"] == {domain: [] for domain in found["states"]}
    assert index["events"] > 50
