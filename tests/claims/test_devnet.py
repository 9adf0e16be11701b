"""Claims against a devnet with the whole suite (the real ConsentRegistry and ProvenanceRegistry):
the ``careledger claims ...`` CLI end to end, batch files with bad rows, the FHIR export, and
the consent registry actually gating submissions (grant, then revoke)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from careledger.accounts import dev_account, dev_person
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.claims._consent import CONSENT_REGISTRY, grant_payment_consent, payment_consent
from careledger.claims.batchfile import parse_day, run_batch_file
from careledger.claims.client import ClaimsClient
from careledger.claims.fhir import validate
from careledger.claims.keys import KeyStore, PlanContext
from careledger.claims.types import ClaimStatus
from careledger.codes import Category, Purpose
from careledger.deployments import load_deployment
from careledger.devnet import Devnet, free_port
from careledger.rpc import RpcClient
from careledger.sender import Sender

pytestmark = pytest.mark.devnet
# The member's card for plan 1: the person's pairwise pseudonym for the plan's insurer
# (PersonIdentity.pseudonym), not the address it uses for consents with its providers.
CARD_KEY = dev_person("patient").pseudonym(dev_account("insurer").address)
CARD = CARD_KEY.address
FHIR = "0x" + "11" * 32
PUBLIC_CODES = Path(__file__).parents[1] / "data" / "public_service_codes.json"
FHIR32 = bytes.fromhex(FHIR[2:])
USD = 10**6


def _run(env: dict[str, str], *args: str, account: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-c",
        "from careledger.cli.main import main; main()",
        *(["--account", account] if account else []),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=180)


def _json(env: dict[str, str], *args: str, account: str | None = None, code: int = 0) -> dict:
    out = _run(env, "--json", *args, account=account)
    assert out.returncode == code, out.stdout + out.stderr
    return json.loads(out.stdout)


def _date(days_ago: int) -> str:
    """A date ``days_ago`` before the devnet's clock (pinned by tests/chainclock.py), not the calendar's."""
    from careledger.devnet import GENESIS_TIMESTAMP_ENV

    now = datetime.fromtimestamp(int(os.environ[GENESIS_TIMESTAMP_ENV]), UTC)
    return (now - timedelta(days=days_ago)).date().isoformat()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("claims-devnet")
    dev = Devnet(folder=folder / "devnet", port=free_port(), persist=False)
    dev.up()
    env = {
        "CARELEDGER_DEPLOYMENTS_DIR": str(folder / "deployments"),
        "CARELEDGER_JOURNAL_DIR": str(folder / "journals"),
        "CARELEDGER_RPC": dev.rpc_url,
        "CARELEDGER_CLAIMS_KEYS": str(folder / "claims-keys.json"),  # the plan's code key, off chain
    }
    old = os.environ.get("CARELEDGER_DEPLOYMENTS_DIR")
    os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = env["CARELEDGER_DEPLOYMENTS_DIR"]
    try:
        out = _run(env, "deploy", "--seed-devnet")
        assert out.returncode == 0, out.stdout + out.stderr
        plan = _json(
            env,
            "claims",
            "plan",
            "--deductible",
            "100",
            "--annual-max",
            "10000",
            "--auto-approve",
            "500",
            "--rule",
            "CPT:99213=coins=2000,copay=20",
            "--rule",
            "CPT:70551=preauth,coins=2000",
            "--year-start",
            _date(100),
            account="insurer",
        )
        assert plan["planId"] == 1
        # The member agrees (its own key), then the insurer enrols it with that signature.
        # As a person, the member signs with its plan pseudonym (derived for the plan's insurer).
        agreement = _json(env, "claims", "sign-enrolment", "1", "--record", "0x" + "22" * 32, account="patient")
        assert agreement["member"] == CARD != dev_account("patient").address
        agreement_file = folder / "agreement.json"
        agreement_file.write_text(json.dumps(agreement))
        enrolled = _json(env, "claims", "enrol", str(agreement_file), account="insurer")
        assert enrolled["enrolment"] == 1
        fund = _json(env, "claims", "fund", "1", "20000", "--mint", account="insurer")
        assert fund["pool"]["free"] == str(20_000 * 10**6)  # amounts are decimal strings (docs/json.md)
        w3 = connect(dev.rpc_url)
        chain = Chain(w3, ErrorDecoder.from_abis(load_artifacts().all_abis()))
        # The card pays its own gas on this devnet (credited by the node: no transfer links it).
        w3.provider.make_request("anvil_setBalance", [CARD, hex(10**18)])
        member = chain.with_account(CARD_KEY)
        deployment = load_deployment(w3)
        grant_payment_consent(
            member,
            deployment,
            dev_account("clinic").address,
            int(w3.eth.get_block("latest")["timestamp"]) + 86_400 * 30,
        )
        yield env, folder, chain, deployment
    finally:
        dev.down()
        if old is None:
            os.environ.pop("CARELEDGER_DEPLOYMENTS_DIR", None)
        else:
            os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = old


def test_submit_review_pay_status_export(net, tmp_path):
    env, _, _, _ = net
    patient = CARD
    small = _json(
        env,
        "claims",
        "submit",
        "--plan",
        "1",
        "--member",
        patient,
        "--day",
        _date(1),
        "--line",
        "CPT:99213,1,180.00",
        "--fhir-claim",
        FHIR,
        account="clinic",
    )
    assert (small["status"], small["amount"]) == ("APPROVED", "48000000")
    large = _json(
        env,
        "claims",
        "submit",
        "--plan",
        "1",
        "--member",
        patient,
        "--day",
        _date(2),
        "--line",
        "CPT:70551,1,1200",
        "--fhir-claim",
        FHIR,
        account="clinic",
    )
    assert large["status"] == "PENDING_REVIEW"
    reviewed = _json(env, "claims", "review", large["claimId"], "--partial", "700", "--reason", "50", account="insurer")
    assert reviewed["status"] == "PARTIALLY_APPROVED"
    paid = _json(env, "claims", "pay", small["claimId"], large["claimId"], account="insurer")
    assert (paid["paid"], paid["deferred"]) == (2, 0)
    status = _json(env, "claims", "status", large["claimId"])
    assert status["status"] == "PAID"
    assert [e["event"] for e in status["history"]] == [
        "ClaimSubmitted",
        "ClaimPendingReview",
        "ClaimAdjudicated",
        "ClaimPaid",
    ]
    pool = _json(env, "claims", "status", "--plan", "1")["pool"]
    assert pool["identityHolds"] is True
    assert pool["paid"] == "748000000"
    out_file = tmp_path / "response.json"
    _json(env, "claims", "export-fhir", large["claimId"], "--out", str(out_file))
    resource = json.loads(out_file.read_text())
    model = validate(resource)
    assert model.outcome == "partial"
    assert resource["payment"]["amount"]["value"] == 700
    categories = [a["category"]["coding"][0]["code"] for a in resource["item"][0]["adjudication"]]
    assert categories == ["submitted", "eligible", "deductible", "copay", "coinsurance", "benefit"]
    # The Claim itself, its code read back from the digest with the plan's key (off chain), validated.
    claim_file = tmp_path / "claim.json"
    _json(
        env, "claims", "export-fhir", large["claimId"], "--as-claim", "CPT:99213,CPT:70551", "--day", _date(2),
        "--out", str(claim_file),
    )  # fmt: skip
    claim = json.loads(claim_file.read_text())
    assert claim["resourceType"] == "Claim"
    assert claim["item"][0]["productOrService"]["coding"][0]["code"] == "70551"
    assert claim["item"][0]["servicedDate"] == _date(2)
    unknown = _run(
        env, "--json", "claims", "export-fhir", large["claimId"], "--as-claim", "CPT:99213", "--day", _date(2)
    )
    assert unknown.returncode == 2 and "not one of the given codes" in unknown.stdout + unknown.stderr


def test_submit_batch_reports_bad_rows_and_sends_good_ones(net, tmp_path):
    env, _, _, _ = net
    patient = CARD
    stranger = dev_account("patient2").address
    f = tmp_path / "claims.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["member", "payee", "service_date", "code", "units", "billed", "unit_id", "fhir_claim"])
        # Line 2 bills more than the plan's 100 deductible, so it is payable (APPROVED) whether or
        # not an earlier test of this module has already met the deductible.
        w.writerow([patient, "", _date(10), "CPT:99213", 1, "150.00", "", FHIR])  # line 2: good
        w.writerow([patient, "", "not-a-date", "CPT:99213", 1, "90.00", "", FHIR])  # line 3: malformed
        w.writerow([patient, "", _date(10), "CPT:99213", 1, "155.00", "", FHIR])  # line 4: duplicate of line 2
        w.writerow([stranger, "", _date(10), "CPT:99213", 1, "90.00", "", FHIR])  # line 5: not enrolled
        w.writerow([patient, "", _date(11), "CPT:99213", 1, "90.00", "", FHIR])  # line 6: good
    summary = _json(env, "claims", "submit-batch", str(f), "--plan", "1", account="clinic")
    assert (summary["rows"], summary["submitted"], summary["refused"]) == (5, 2, 3)
    errors = {e["line"]: e["error"] for e in summary["errors"]}
    assert set(errors) == {3, 4, 5}
    assert "date" in errors[3]
    assert errors[4].startswith("DuplicateClaim")
    assert errors[5] == "NotEnrolled"
    with open(summary["results"]) as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["status"]) for r in rows] == [
        ("2", "APPROVED"),
        ("3", "error"),
        ("4", "error"),
        ("5", "error"),
        ("6", "APPROVED"),
    ]
    # Interrupted and run again (Ctrl-C, crash): nothing is sent twice, the rows on chain are reported.
    again = _json(env, "claims", "submit-batch", str(f), "--plan", "1", account="clinic")
    assert (again["submitted"], again["alreadyOnChain"], again["refused"]) == (0, 2, 3)


class _CtrlCOnBroadcast(RpcClient):
    """The real node, but Ctrl-C arrives the moment the first transaction would be broadcast:
    after the sender journalled it, before the node saw it."""

    def batch(self, requests_, *, chunk=500):
        if any(method == "eth_sendRawTransaction" for method, _ in requests_):
            raise KeyboardInterrupt
        return super().batch(requests_, chunk=chunk)


def test_submit_batch_interrupted_after_signing_is_finished_by_the_next_run(net, tmp_path):
    env, _, chain, deployment = net
    clinic = dev_account("clinic")
    client = ClaimsClient(chain.with_account(clinic.account), deployment)
    ctx = PlanContext(1, KeyStore(Path(env["CARELEDGER_CLAIMS_KEYS"])).current(1), client.plan(1)[1])
    patient = CARD
    office = ctx.line("CPT:99213", 1, 90 * USD)
    rows = [
        (
            line,
            ctx.request(patient, clinic.address, parse_day(_date(22 + line)), (office,), FHIR32),
        )
        for line in (2, 3, 4)
    ]
    journal = tmp_path / "journal.sqlite"
    nonce = chain.w3.eth.get_transaction_count(clinic.address)
    interrupted = Sender(_CtrlCOnBroadcast(env["CARELEDGER_RPC"]), clinic.account, journal=journal)
    with pytest.raises(KeyboardInterrupt):
        run_batch_file(client, rows, sender=interrupted)
    assert all(client.status(req.claim_id) == ClaimStatus.NONE for _, req in rows)  # nothing sent yet

    again = run_batch_file(
        client, rows, sender=Sender(RpcClient(env["CARELEDGER_RPC"]), clinic.account, journal=journal)
    )
    # The journalled batch went out first (same nonce, same bytes), so its rows are on chain
    # already when checked: reported as such, and nothing else was sent.
    assert [(r.line, r.status, r.resumed, r.error) for r in again] == [
        (2, "APPROVED", True, None),
        (3, "APPROVED", True, None),
        (4, "APPROVED", True, None),
    ]
    assert chain.w3.eth.get_transaction_count(clinic.address) == nonce + 1


def test_cli_exit_codes(net):
    env, _, _, _ = net
    bad = _run(env, "--json", "claims", "status", "0x1234")
    assert bad.returncode == 2
    unknown = _run(env, "--json", "claims", "pay", "0x" + "ab" * 32, account="insurer")
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["customError"] == "InvalidClaimStatus"


def _submit_office(env: dict[str, str], day: str, fhir: str, billed: str = "120") -> dict:
    return _json(
        env, "claims", "submit", "--plan", "1", "--member", CARD, "--day", day,
        "--line", f"CPT:99213,1,{billed}", "--fhir-claim", fhir, account="clinic",
    )  # fmt: skip


def test_status_shows_codes_and_date_to_their_holders_only(net, tmp_path):
    """#13 point 1: 'claims status' reads each line's code back from its keyed digest for a holder
    of the plan's key file, and the service date for a holder of the committed FHIR Claim (its
    record store); anyone else sees 'keyed 0x...' and no date. Neither is on chain."""
    env, _, _, _ = net
    day = _date(30)
    claim_doc = tmp_path / "claim.json"
    claim_doc.write_text(
        json.dumps({"resourceType": "Claim", "item": [{"sequence": 1, "servicedDate": day}], "status": "active"})
    )
    records = {**env, "CARELEDGER_RECORDS_PASSPHRASE": "test store", "CARELEDGER_RECORDS": str(tmp_path / "store")}
    stored = _json(records, "records", "store", str(claim_doc))
    claim = _submit_office(env, day, stored["commitment"])
    holder = _json(records, "claims", "status", claim["claimId"])
    assert [ln["serviceCode"] for ln in holder["lines"]] == ["CPT:99213"]
    assert holder["serviceDate"] == day
    assert holder["lines"][0]["code"].startswith("0x") and holder["lines"][0]["code"] != "CPT:99213"
    # Another node's view: no key file, no record store.
    outsider = {**env, "CARELEDGER_CLAIMS_KEYS": str(tmp_path / "no-keys.json")}
    seen = _json(outsider, "claims", "status", claim["claimId"])
    assert [ln["serviceCode"] for ln in seen["lines"]] == [None] and seen["serviceDate"] is None
    text = _run(outsider, "claims", "status", claim["claimId"])
    assert text.returncode == 0 and f"keyed {holder['lines'][0]['code']}" in text.stdout
    assert "CPT:99213" not in text.stdout and day not in text.stdout
    text = _run(records, "claims", "status", claim["claimId"])
    assert "CPT:99213 x1" in text.stdout and f"service date {day}" in text.stdout
    # A public code list does not help without the key.
    listed = _json(outsider, "claims", "status", claim["claimId"], "--codes", str(PUBLIC_CODES))
    assert [ln["serviceCode"] for ln in listed["lines"]] == [None]
    # The FHIR Claim rebuilt by the holder: codes from the key file, the date from its record store.
    rebuilt = tmp_path / "rebuilt.json"
    _json(records, "claims", "export-fhir", claim["claimId"], "--as-claim", "--out", str(rebuilt))
    item = json.loads(rebuilt.read_text())["item"][0]
    assert (item["productOrService"]["coding"][0]["code"], item["servicedDate"]) == ("99213", day)
    no_key = _run(outsider, "--json", "claims", "export-fhir", claim["claimId"], "--as-claim", "--day", day)
    assert no_key.returncode == 2 and "no code key" in no_key.stdout


def test_redirect_and_release_lapsed_cli(net):
    """Point 7 from the CLI: the payee of an approved claim names another address, which is paid;
    releasing a payout that never failed is refused (PayoutNotLapsed, exit 1)."""
    env, _, _, _ = net
    claim = _submit_office(env, _date(31), FHIR, "300")
    assert claim["status"] == "APPROVED"
    other = dev_account("lab").address
    stranger = _run(env, "--json", "claims", "redirect", claim["claimId"], other, account="er")
    assert stranger.returncode == 1 and json.loads(stranger.stdout)["customError"] == "NotClaimParty"
    moved = _json(env, "claims", "redirect", claim["claimId"], other, account="clinic")
    assert moved["payee"] == other
    assert _json(env, "claims", "status", claim["claimId"])["payee"] == other
    early = _run(env, "--json", "claims", "release-lapsed", claim["claimId"], account="insurer")
    assert early.returncode == 1 and json.loads(early.stdout)["customError"] == "PayoutNotLapsed"
    paid = _json(env, "claims", "pay", claim["claimId"], account="insurer")
    assert paid["paid"] == 1
    assert _json(env, "claims", "status", claim["claimId"])["status"] == "PAID"


def test_terminate_and_void_enrolment_cli(net, tmp_path):
    """Point 4 from the CLI: a second person enrols under its own plan pseudonym for two plan
    years; the insurer shortens it (and may not lengthen it); the registrar may void it only once
    the insurer is suspended."""
    from careledger.directory.client import DirectoryClient

    env, _, chain, deployment = net
    card2 = dev_person("patient2").address_for(dev_account("insurer").address)
    client = ClaimsClient(chain, deployment)
    current = client.period_at(1, int(chain.w3.eth.get_block("latest")["timestamp"]))
    agreement = _json(
        env, "claims", "sign-enrolment", "1", "--record", "0x" + "33" * 32,
        "--from-period", str(current), "--to-period", str(current + 1), account="patient2",
    )  # fmt: skip
    assert agreement["member"] == card2
    path = tmp_path / "agreement2.json"
    path.write_text(json.dumps(agreement))
    n = _json(env, "claims", "enrol", str(path), account="insurer")["enrolment"]
    assert client.cover(card2, current + 1) == (1, n)
    longer = _run(env, "--json", "claims", "terminate", card2, str(n), str(current + 1), account="insurer")
    assert longer.returncode == 1 and json.loads(longer.stdout)["customError"] == "InvalidTermination"
    _json(env, "claims", "terminate", card2, str(n), str(current), account="insurer")
    assert client.cover(card2, current + 1) == (0, 0) and client.cover(card2, current) == (1, n)
    active = _run(env, "--json", "claims", "void-enrolment", card2, str(n), account="admin")
    assert active.returncode == 1 and json.loads(active.stdout)["customError"] == "InsurerStillActive"
    directory = DirectoryClient(chain.with_account(dev_account("admin").account), deployment)
    directory.suspend(dev_account("insurer").address, "AUDIT")
    try:
        _json(env, "claims", "void-enrolment", card2, str(n), account="admin")
        assert client.cover(card2, current) == (0, 0)
        assert client.enrolment(card2, n)[3] is True  # voided
    finally:
        directory.reinstate(dev_account("insurer").address)


def test_real_consent_registry_gates_submission(net):
    env, _, chain, deployment = net
    patient, clinic = CARD_KEY, dev_account("clinic")
    assert payment_consent(chain, deployment, patient.address, clinic.address)[0]
    registry = chain.contract(deployment.address(CONSENT_REGISTRY), load_artifacts()[CONSENT_REGISTRY].abi)
    allowed, consent_id = registry.functions.canAccess(
        patient.address, clinic.address, int(Category.FINANCIAL), int(Purpose.HPAYMT)
    ).call()
    assert allowed
    ok = _json(
        env,
        "claims",
        "submit",
        "--plan",
        "1",
        "--member",
        patient.address,
        "--day",
        _date(20),
        "--line",
        "CPT:99213,1,50",
        "--fhir-claim",
        FHIR,
        account="clinic",
    )
    logs = chain.w3.eth.get_logs(
        {"address": deployment.address("ClaimSettlement"), "fromBlock": 0, "topics": [None, ok["claimId"]]}
    )
    assert logs  # the claim's events exist; the consent id it cites is checked through the SDK below
    info = ClaimsClient(chain, deployment).info(bytes.fromhex(ok["claimId"][2:]))
    assert info.consent_id == consent_id
    chain.with_account(patient).send(registry.functions.revoke(patient.address, clinic.address, consent_id), "revoke")
    refused = _run(
        env,
        "--json",
        "claims",
        "submit",
        "--plan",
        "1",
        "--member",
        patient.address,
        "--day",
        _date(21),
        "--line",
        "CPT:99213,1,50",
        "--fhir-claim",
        FHIR,
        account="clinic",
    )
    assert refused.returncode == 1
    err = json.loads(refused.stdout)
    assert (err["customError"], err["args"]["member"], err["args"]["submitter"]) == (
        "NoPaymentConsent",
        patient.address,
        clinic.address,
    )


def test_events_alone_rebuild_claims_state(net):
    """After everything above (approvals, a partial approval, payouts, a batch, a revoked consent),
    replaying the claims contract's log gives exactly what the contract reports."""
    from careledger.indexer import check, replay
    from careledger.rpc import RpcClient

    env, _, chain, deployment = net
    rpc = RpcClient(env["CARELEDGER_RPC"])
    state = replay(rpc, deployment, load_artifacts())["claims"]
    assert len(state["claims"]) >= 5
    assert check(chain.w3, rpc, deployment, load_artifacts())["claims"] == []
