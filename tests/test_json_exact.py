"""Every JSON a program reads is exact (docs/json.md): no integer above 2^53 - 1 as a JSON number.

One fresh devnet with the suite deployed (``bench.harness.fresh_suite``) is walked through every
``careledger ... --json`` command, found from the click command tree, with real arguments in
order (consent, claims with amounts above 2^53 token units, directory, drugs, records, devnet,
deploy), each in a success and an error case; and through every route of the relayer, found
from the FastAPI app. Each output and each file written is parsed with a ``parse_int`` hook that
sees the raw digits; any integer literal beyond 2^53 - 1 fails the test. A planted big integer
shows the check bites.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from bench.harness import BenchEnv, fresh_suite
from careledger.accounts import dev_account, dev_person
from careledger.cli.main import cli, run
from careledger.codes import Category, Purpose
from careledger.consent.client import ConsentClient
from careledger.consent.relay import RateLimiter, create_app
from careledger.consent.terms import GrantTerms, mask
from careledger.devnet import free_port
from careledger.exactjson import MAX_SAFE_INTEGER, unsafe_integers
from careledger.provenance.gs1 import hri

pytestmark = pytest.mark.devnet

GTIN = "09506000134352"
FHIR = "0x" + "33" * 32
# Amounts in tokens (6 decimals): each is above 2^53 - 1 in token units, as a big insurer's are.
HUGE_FUND = "1000000000000"  # 10^18 units
ANNUAL_MAX = "100000000000"  # 10^17 units
AUTO_APPROVE = "50000000000"  # 5 * 10^16 units
# Commands that do not print a JSON answer, and why; everything else must be walked.
NOT_JSON = {
    "relay serve": "serves HTTP; every route of the app is walked in test_every_relayer_route_*",
    "index serve": "serves HTTP; its routes are checked for exact JSON in tests/index/test_reports.py::test_http_api",
    "gateway serve": "serves HTTP; its answers are checked in tests/gateway/test_gateway.py (served over HTTP)",
}
# Commands whose success needs what a devnet cannot give, where it is played instead.
NO_SUCCESS_CASE = {
    "gateway read": "needs a gateway serving over HTTP and a patient's consent and link: played end to end in "
    "tests/gateway/test_gateway.py::test_served_over_http_and_read_with_the_cli",
    "upgrade run": "moves the suite that the rest of the walk and its relayer use: played end to end in "
    "tests/test_upgrade_cli.py::test_upgrade_run_status_verify",
    "claims release-lapsed": "needs a payee the token refuses for 180 days; the devnet's test token refuses no one "
    "(played with a blocking token in tests/claims/test_v2_powers_settlement.py)",
}
# Commands with no way to fail on a well-formed call (they read local facts only).
NO_ERROR_CASE = {
    "devnet accounts": "lists the fixed devnet cast",
    "devnet status": "reports running or not, both exit 0",
    "devnet down": "stopping a stopped devnet is not an error",
}


def command_paths() -> list[str]:
    """Every leaf command of ``careledger`` as ``"group command"``, from the click tree."""
    out: list[str] = []

    def walk(cmd: click.Command, path: list[str], parent: click.Context | None) -> None:
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd, info_name=path[-1] if path else "careledger", parent=parent)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name], ctx)
        else:
            out.append(" ".join(path))

    walk(cli, [], None)
    return sorted(out)


@dataclass
class Call:
    path: str
    argv: list[str]
    code: int
    stdout: str
    stderr: str


@dataclass
class Walk:
    env: BenchEnv
    folder: Path
    calls: list[Call] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str, code: int = 0, account: str | None = None, rpc: str | None = None) -> Any:
        """``careledger --rpc RPC --json [--account A] ARGS`` in-process; checks the exit code and
        returns the parsed JSON answer."""
        argv = ["--rpc", rpc or self.env.rpc, "--json", *(["--account", account] if account else []), *args]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            got = run(argv)
        path = _path_of(list(args))
        self.calls.append(Call(path, argv, got, out.getvalue(), err.getvalue()))
        assert got == code, f"careledger {' '.join(argv)}: exit {got}, wanted {code}\n{out.getvalue()}{err.getvalue()}"
        return json.loads(out.getvalue()) if out.getvalue().strip() else None

    def day(self, offset: int) -> str:
        return (self.today + dt.timedelta(days=offset)).isoformat()

    @property
    def today(self) -> dt.date:
        ts = int(self.env.w3.eth.get_block("latest")["timestamp"])
        return dt.datetime.fromtimestamp(ts, dt.UTC).date()


_LEAVES = set(command_paths())


def _path_of(args: list[str]) -> str:
    words = [a for a in args if not a.startswith("-")]
    for n in (3, 2, 1):
        if " ".join(words[:n]) in _LEAVES:
            return " ".join(words[:n])
    return " ".join(words[:2])


# ---------------------------------------------------------------------- the walk


def _consent(w: Walk) -> None:
    patient = dev_account("patient").address
    g = w.cli("consent", "grant", "lab", "--categories", "observation", "--purposes", "treat", "--days", "30")
    w.state["consentId"] = g["consentId"]
    # the case: the refusal carries the uint256 consent id among its arguments
    refused = w.cli(
        "consent", "grant", "lab", "--categories", "observation", "--purposes", "treat", "--days", "9", code=1
    )
    assert refused["customError"] == "ConsentAlreadyActive"
    assert refused["args"]["consentId"] == g["consentId"]
    w.cli("consent", "check", "patient", "lab", "observation", "treat")
    w.cli("consent", "check", "patient", "lab", "genomic", "treat", code=1)
    w.cli("consent", "modify", "lab", "--categories", "observation,imaging", "--purposes", "treat", "--days", "10")
    w.cli("consent", "modify", "regulator", "--categories", "observation", "--purposes", "treat", "--days", "1", code=2)
    w.cli("consent", "list", "--patient", patient)
    w.cli("consent", "list", "--patient", "0x1234", code=2)
    w.cli("consent", "log", "--patient", patient)
    w.cli("consent", "log", "--patient", "nobody-by-that-name", code=2)
    fhir_file = w.folder / "consent.json"
    w.cli("consent", "export-fhir", "lab", "-o", str(fhir_file))
    w.files.append(fhir_file)
    w.cli("consent", "export-fhir", "lab")  # to stdout: the FHIR document itself
    w.cli("consent", "export-fhir", "0x12", code=2)
    w.cli("consent", "revoke", "lab")
    w.cli("consent", "revoke", "lab", code=2)
    w.cli("consent", "import-fhir", str(fhir_file))
    not_json = w.folder / "not.json"
    not_json.write_text("{ not json")
    w.cli("consent", "import-fhir", str(not_json), code=2)
    # break-glass on the patient's pseudonym for the ER: listed unreviewed, then reviewed
    from careledger.accounts import dev_person

    er = ConsentClient(w.env.signer("er"), w.env.deployment)
    bg_id, _ = er.break_glass(dev_person("patient").address_for(er.me), Purpose.ETREAT, b"\x0a" * 32, b"\x0b" * 32)
    rows = w.cli("consent", "unreviewed")
    assert [r["breakGlassId"] for r in rows] == [f"0x{bg_id:064x}"]
    w.cli("consent", "unreviewed", "--patient", "0x1234", code=2)
    w.cli("consent", "review", rows[0]["breakGlassId"])
    w.cli("consent", "review", rows[0]["breakGlassId"], code=2)  # already reviewed
    w.cli("consent", "cancel", "lab")
    w.cli("consent", "cancel", "0x12", code=2)
    # the same under 'consent break-glass', with the provider side: open (capped per day),
    # co-sign over the cap, and the research study's status
    enc, note = "0x" + "e1" * 32, "0x" + "0c" * 32
    opened = w.cli(
        "consent", "break-glass", "open", "patient", "--reason", "etreat", "--encounter", enc, "--justification", note,
        account="er",
    )  # fmt: skip
    w.cli(
        "consent", "break-glass", "open", "patient", "--reason", "etreat", "--encounter", "0x00", "--justification",
        note, code=2, account="er",
    )  # fmt: skip
    w.cli("consent", "break-glass", "co-sign", "patient", "er", "--encounter", enc, account="regulator")
    w.cli("consent", "break-glass", "co-sign", "patient", "er", "--encounter", enc, code=2, account="er")
    rows = w.cli("consent", "break-glass", "unreviewed")
    assert opened["breakGlassId"] in {r["breakGlassId"] for r in rows}
    w.cli("consent", "break-glass", "unreviewed", "--patient", "0x1234", code=2)
    w.cli("consent", "break-glass", "review", opened["breakGlassId"])
    w.cli("consent", "break-glass", "review", opened["breakGlassId"], code=2)  # already reviewed
    from eth_account import Account

    study = Account.create()
    ConsentClient(w.env.signer("clinic"), w.env.deployment).register_study(study, b"\x51" * 32)
    w.cli("consent", "study", "status", study.address)
    w.cli("consent", "study", "status", dev_account("lab").address, code=2)  # not a study
    w.cli("consent", "study", "close", study.address, account="clinic")
    w.cli("consent", "study", "reopen", study.address, code=1, account="clinic")  # a sponsor only closes
    w.cli("consent", "study", "reopen", study.address, account="regulator")
    w.cli("consent", "study", "close", "0x12", code=2, account="regulator")
    # what the clinic's claims need: the member's consent to FINANCIAL data for payment. The claims
    # below enrol the patient's own address as the member, so that address grants it (--patient);
    # with plan pseudonyms it is `--plan insurer` (the member address is then her plan pseudonym).
    w.cli(
        "consent", "grant", "clinic", "--categories", "financial", "--purposes", "hpaymt", "--days", "60",
        "--patient", patient,
    )  # fmt: skip
    w.cli(
        "consent", "grant", "clinic", "--categories", "financial", "--purposes", "hpaymt", "--days", "60",
        "--plan", "insurer",
    )  # fmt: skip


def _recovery(w: Walk) -> None:
    """`consent recovery ...`: the patient's pseudonym for the lab, guarded by two devnet persons'
    pseudonyms for it, recovered to a new seed's pseudonym (the chain moves on by the delay)."""
    from careledger.accounts import DEV_MNEMONIC, PersonIdentity, dev_person

    lab = dev_account("lab").address
    ward = dev_person("patient").address_for(lab)
    plan = w.folder / "recovery-plan.json"
    guardians = []
    for person in ("patient2", "patient"):  # patient guards its own pseudonym only in this walk
        guardians.append(w.cli("consent", "recovery", "guardian-address", ward, "--person", person)["guardian"])
    w.cli("consent", "recovery", "guardian-address", ward, "--person", "clinic", code=2)
    setup = ("consent", "recovery", "set-guardians", "lab", "--guardian", guardians[0], "--guardian", guardians[1],
             "--delay-days", "2", "--plan", str(plan), "--person", "patient")  # fmt: skip
    w.cli(*setup, "--threshold", "1", code=2)
    w.cli(*setup, "--threshold", "2")
    w.files.append(plan)
    new = PersonIdentity(DEV_MNEMONIC, 900)
    successor = new.address_for(lab)
    deadline = str(int(w.env.w3.eth.get_block("latest")["timestamp"]) + 3600)
    files = []
    for i, person in enumerate(("patient2", "patient")):
        approval = w.cli("consent", "recovery", "approve", ward, successor, "--deadline", deadline, "--person", person)
        files.append(w.folder / f"approval-{i}.json")
        files[-1].write_text(json.dumps(approval))
    w.cli("consent", "recovery", "approve", ward, "0x12", "--deadline", deadline, "--person", "patient2", code=2)
    start = ("consent", "recovery", "start", "lab", "--plan", str(plan))
    w.cli(*start, "--approval", str(files[0]), code=2)  # one approval: the set needs two
    w.cli(*start, "--approval", str(files[0]), "--approval", str(files[1]))
    w.cli("consent", "recovery", "status", ward)
    w.cli("consent", "recovery", "status", "0x12", code=2)
    w.cli("consent", "recovery", "execute", ward, code=1)  # RecoveryNotReady
    w.cli("consent", "recovery", "cancel", "lab", "--person", "patient")
    w.cli("consent", "recovery", "cancel", "0x12", "--person", "patient", code=2)
    for i, person in enumerate(("patient2", "patient")):
        approval = w.cli("consent", "recovery", "approve", ward, successor, "--deadline", deadline, "--person", person)
        files[i].write_text(json.dumps(approval))
    w.cli(*start, "--approval", str(files[0]), "--approval", str(files[1]))
    w.env.w3.provider.make_request("evm_increaseTime", [2 * 86_400])
    w.env.w3.provider.make_request("evm_mine", [])
    w.cli("consent", "recovery", "execute", ward)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARELEDGER_NEW_MNEMONIC", DEV_MNEMONIC)
        mp.setenv("CARELEDGER_NEW_IDENTITY", "900")
        w.cli("consent", "recovery", "move", "lab", "--plan", str(plan))
        w.cli("consent", "recovery", "move", "lab", "--plan", str(w.folder / "no-plan.json"), code=2)


def _claims(w: Walk) -> None:
    # The member is the person's plan pseudonym (what sign-enrolment signs as; its payment
    # consent to the clinic is the `--plan insurer` grant above).
    patient = dev_person("patient").address_for(dev_account("insurer").address)
    plan = w.cli(
        "claims", "plan", "--deductible", "100", "--annual-max", ANNUAL_MAX, "--auto-approve", AUTO_APPROVE,
        "--rule", "CPT:99213=coins=2000", "--rule", "CPT:70551=preauth,coins=2000", "--year-start", w.day(-100),
        account="insurer",
    )  # fmt: skip
    pid = str(plan["planId"])
    w.cli("claims", "plan", "--deductible", "abc", "--annual-max", "1", "--auto-approve", "1", code=2)
    agreement = w.cli("claims", "sign-enrolment", pid, "--record", "0x" + "22" * 32, account="patient")
    agreement_file = w.folder / "agreement.json"
    agreement_file.write_text(json.dumps(agreement))
    w.files.append(agreement_file)
    w.cli("claims", "enrol", str(agreement_file), account="insurer")
    w.cli("claims", "enrol", str(agreement_file), account="insurer", code=1)  # the signature is used up
    w.cli("claims", "sign-enrolment", "999", "--record", "0x" + "22" * 32, account="patient", code=2)  # no plan
    # A second member for two plan years: the insurer shortens it; the registrar voids it once the
    # insurer is suspended.
    second = w.cli(
        "claims", "sign-enrolment", pid, "--record", "0x" + "23" * 32, "--from-period", "0", "--to-period", "1",
        account="patient2",
    )  # fmt: skip
    second_file = w.folder / "agreement2.json"
    second_file.write_text(json.dumps(second))
    w.files.append(second_file)
    n = str(w.cli("claims", "enrol", str(second_file), account="insurer")["enrolment"])
    w.cli("claims", "terminate", second["member"], n, "0", account="insurer")
    w.cli("claims", "terminate", second["member"], n, "0", account="insurer", code=1)  # not shorter
    w.cli("claims", "void-enrolment", second["member"], n, account="admin", code=1)  # the insurer is active
    w.cli("directory", "suspend", dev_account("insurer").address, "--reason", "AUDIT", account="admin")
    w.cli("claims", "void-enrolment", second["member"], n, account="admin")
    w.cli("directory", "reinstate", dev_account("insurer").address, account="admin")

    def submit(day: int, line: str, code: int = 0) -> Any:
        return w.cli(
            "claims", "submit", "--plan", pid, "--member", patient, "--day", w.day(day), "--line", line,
            "--fhir-claim", FHIR, account="clinic", code=code,
        )  # fmt: skip

    queued = submit(-1, "CPT:99213,1,20000000000")  # the pool is empty: queued until funded
    w.cli("claims", "fund", pid, HUGE_FUND, "--mint", account="insurer")
    w.cli("claims", "fund", pid, "-5", account="insurer", code=2)
    w.cli("claims", "adjudicate", queued["claimId"], account="insurer")
    w.cli("claims", "adjudicate", "0x" + "44" * 32, account="insurer", code=2)  # no such claim
    submit(-1, "CPT:99213,1,20000000000", code=1)  # the same claim again: a duplicate
    review = submit(-2, "CPT:70551,1,60000000000")
    w.cli("claims", "review", review["claimId"], "--partial", "1000", "--reason", "50", account="insurer")
    w.cli("claims", "review", review["claimId"], account="insurer", code=2)
    denied = submit(-3, "CPT:70551,1,70000000000")
    w.cli("claims", "review", denied["claimId"], "--deny", "--reason", "50", account="insurer")
    w.cli("claims", "appeal", denied["claimId"], account="clinic")
    w.cli("claims", "appeal", denied["claimId"], account="clinic", code=1)  # once only
    w.cli("claims", "withdraw", denied["claimId"], account="clinic")
    w.cli("claims", "withdraw", denied["claimId"], account="clinic", code=1)
    w.cli("claims", "redirect", queued["claimId"], dev_account("lab").address, account="er", code=1)  # not the payee
    w.cli("claims", "redirect", queued["claimId"], dev_account("lab").address, account="clinic")
    w.cli("claims", "release-lapsed", queued["claimId"], account="insurer", code=1)  # no transfer ever failed
    w.cli("claims", "pay", queued["claimId"], review["claimId"], account="insurer")
    w.cli("claims", "pay", "0x" + "55" * 32, account="insurer", code=1)
    w.cli("claims", "status", review["claimId"])
    w.cli("claims", "status", "--plan", pid)
    w.cli("claims", "status", "0x12", code=2)
    out = w.folder / "claim-response.json"
    w.cli("claims", "export-fhir", review["claimId"], "--out", str(out))
    w.files.append(out)
    w.cli("claims", "export-fhir", queued["claimId"])  # to stdout
    w.cli("claims", "export-fhir", "nope", code=2)
    batch = w.folder / "claims.csv"
    with batch.open("w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["member", "payee", "service_date", "code", "units", "billed", "unit_id", "fhir_claim"])
        rows.writerow([patient, "", w.day(-5), "CPT:99213", 1, "30000000000", "", FHIR])
        rows.writerow([patient, "", "not-a-date", "CPT:99213", 1, "90.00", "", FHIR])
    results = w.folder / "results.json"
    w.cli("claims", "submit-batch", str(batch), "--plan", pid, "--out", str(results), account="clinic")
    w.files.append(results)
    w.cli("claims", "submit-batch", str(w.folder / "missing.csv"), "--plan", pid, account="clinic", code=2)
    # The next rule table (same rules), then one under a rotated code key: the walk submits no claim after.
    w.cli("claims", "rules", pid, "--rule", "CPT:99213=coins=2000", account="insurer")
    w.cli("claims", "rules", pid, "--rule", "CPT:99213=coins=2000", "--new-key", account="insurer", code=1)  # one waits
    w.cli("claims", "rules", pid, "--rule", "NOT-A-CODE", account="insurer", code=2)


def _directory(w: Walk) -> None:
    newcomer = "0x" + "7e" * 20
    w.cli("directory", "show", dev_account("pharmacy").address)
    w.cli("directory", "show", "0x12", code=2)
    w.cli("directory", "register", newcomer, "provider", "--credential", "NPI-1234567890", account="admin")
    w.cli("directory", "register", newcomer, "provider", "--credential", "NPI-1", account="admin", code=1)
    w.cli("directory", "set-roles", newcomer, "provider,relayer", account="admin")
    w.cli("directory", "set-roles", newcomer, "wizard", account="admin", code=2)
    w.cli("directory", "suspend", newcomer, "--reason", "LICENCE-LAPSED", account="admin")
    w.cli("directory", "suspend", newcomer, "--reason", "X" * 40, account="admin", code=2)
    w.cli("directory", "reinstate", newcomer, account="admin")
    w.cli("directory", "reinstate", "0x" + "7f" * 20, account="admin", code=1)
    maker = dev_account("manufacturer").address
    w.cli("directory", "attest-prefix", maker, "0614141", "--evidence", "GS1-LICENCE-0614141", account="admin")
    w.cli("directory", "attest-prefix", maker, "12345", "--evidence", "X", account="admin", code=2)
    w.cli("directory", "gtin-owner", "00614141000012")
    w.cli("directory", "gtin-owner", "00614141000013", code=2)
    w.cli("directory", "revoke-prefix", "0614141", "--reason", "LICENCE-MOVED", account="admin")
    w.cli("directory", "revoke-prefix", "0614141", "--reason", "LICENCE-MOVED", account="admin", code=1)
    # The newcomer moves to a new key: proposed by the registrar, accepted by the new key.
    new_key = "0x" + keccak(text="careledger json walk rotated key").hex()
    new_address = Account.from_key(new_key).address
    w.env.w3.provider.make_request("anvil_setBalance", [new_address, hex(10**18)])
    w.cli("directory", "propose-rotation", newcomer, new_address, account="admin")
    w.cli("directory", "propose-rotation", newcomer, "0x12", account="admin", code=2)
    w.cli("directory", "accept-key", newcomer, account="clinic", code=1)  # not the proposed key
    w.cli("directory", "accept-key", "nope", account=new_key, code=2)
    w.cli("directory", "accept-key", newcomer, account=new_key)
    w.cli("directory", "show", newcomer)  # retired: names the key its organisation uses now


def _drugs(w: Walk) -> None:
    expiry = (w.today + dt.timedelta(days=730)).strftime("%y%m%d")
    serials = w.folder / "serials.txt"
    serials.write_text("\n".join(f"J{i:04d}" for i in range(50)) + "\n")
    recall_serials = w.folder / "recall.txt"
    recall_serials.write_text("R1\nR2\n")
    commission = ["drugs", "commission", "--gtin", GTIN, "--expiry", expiry]
    w.cli(*commission, "--lot", "J1", "--serials", str(serials), account="manufacturer")
    w.cli(*commission, "--lot", "J9", "--serials", str(serials), account="manufacturer", code=2)  # serials reused
    w.cli(*commission, "--lot", "J2", "--serials", str(recall_serials), account="manufacturer")
    batch, doc = f"{GTIN}/J1", "0x" + "ab" * 32
    w.cli("drugs", "ship", batch, "--to", "distributor", "--quantity", "10", "--document", doc, account="manufacturer")
    w.cli(
        "drugs", "ship", batch, "--to", "distributor", "--quantity", "100000", "--document", doc,
        account="manufacturer", code=1,
    )  # fmt: skip
    w.cli("drugs", "accept", batch, account="distributor")
    w.cli("drugs", "accept", batch, account="distributor", code=1)
    w.cli("drugs", "ship", batch, "--to", "pharmacy", "--quantity", "5", "--document", doc, account="distributor")
    w.cli("drugs", "reject", batch, "--reason", "DAMAGED", account="pharmacy")
    w.cli("drugs", "reject", batch, "--reason", "DAMAGED", account="pharmacy", code=1)
    w.cli("drugs", "ship", batch, "--to", "pharmacy", "--quantity", "5", "--document", doc, account="distributor")
    w.cli("drugs", "accept", batch, account="pharmacy")
    w.cli("drugs", "parcels", batch)
    w.cli("drugs", "split", batch, "--parcel", "0", "--at", "2", account="pharmacy")
    w.cli("drugs", "split", batch, "--parcel", "0", "--at", "9", account="pharmacy", code=1)  # beyond the parcel
    w.cli("drugs", "ship", batch, "--to", "pharmacy", "--quantity", "1", "--document", doc, account="distributor")
    w.cli("drugs", "cancel", batch, "--parcel", "5", "--reason", "WRONG-ORDER", account="distributor")
    w.cli("drugs", "cancel", batch, "--parcel", "5", "--reason", "WRONG-ORDER", account="distributor", code=1)
    w.cli("drugs", "parcels", "not-a-batch", code=2)
    scan = hri(GTIN, "J1", expiry, "J0003")  # position 3: in the parcel (0-4) the pharmacy accepted
    w.cli("drugs", "verify", scan)
    w.cli("drugs", "verify", hri(GTIN, "J1", expiry, "FAKE0001"), code=1)
    w.cli("drugs", "verify", "(01)09506000134353(17)301231(10)J1(21)J0001", code=2)
    w.cli("drugs", "dispense", scan, account="pharmacy")
    w.cli("drugs", "dispense", scan, account="pharmacy", code=1)
    epcis = w.folder / "epcis.json"
    w.cli("drugs", "history", scan, "--epcis", str(epcis))
    w.files.append(epcis)
    w.cli("drugs", "history", "(01)123", code=2)
    w.cli("drugs", "quarantine", f"{GTIN}/J2", "--reason", "SUSPECT", account="regulator")
    w.cli("drugs", "quarantine", f"{GTIN}/J2", "--reason", "CLEARED", "--lift", account="regulator")
    w.cli("drugs", "quarantine", f"{GTIN}/NOSUCHLOT", "--reason", "SUSPECT", account="regulator", code=1)
    w.cli("drugs", "recall", f"{GTIN}/J2", "--reason", "CLASS-I", account="regulator")
    w.cli("drugs", "recall", f"{GTIN}/J2", "--reason", "CLASS-I", account="regulator", code=1)
    w.cli("drugs", "void", f"{GTIN}/J2", "--reason", "ILLEGITIMATE", account="regulator")
    w.cli("drugs", "void", f"{GTIN}/J2", "--reason", "ILLEGITIMATE", account="regulator", code=1)
    store = Path(os.environ["CARELEDGER_PROVENANCE_DIR"])
    w.files.extend(sorted(store.glob("*.json")))


def _records(w: Walk) -> None:
    store = str(w.folder / "records")
    doc = w.folder / "note.txt"
    doc.write_text("a consent document (off chain)")
    ref = w.cli("records", "store", str(doc), "--store", store)
    w.cli("records", "store", str(w.folder / "missing.txt"), "--store", store, code=2)
    w.cli("records", "show", ref["recordId"], "--store", store)
    w.cli("records", "show", "0" * 32, "--store", store, code=2)
    w.cli("records", "find", ref["commitment"], "--store", store)
    w.cli("records", "find", "0x" + "99" * 32, "--store", store, code=1)
    w.cli("records", "erase", ref["recordId"], "--store", store)
    w.cli("records", "erase", "0" * 32, "--store", store, code=2)


def _index(w: Walk) -> None:
    from careledger.index.store import open_store

    db = str(w.folder / "index.sqlite")
    w.cli("index", "status", "--db", db, code=2)  # no index yet
    w.cli("index", "sync", "--db", db, "--max-range", "0", code=2)
    w.cli("index", "sync", "--db", db, "--max-range", "7")
    w.cli("index", "status", "--db", db)
    w.cli("index", "check", "--db", db)
    w.cli("index", "check", "--db", str(w.folder / "none.sqlite"), code=2)
    store = open_store(db)
    patients = sorted(
        {r.args["patient"] for r in store.events(names=["AccessRecorded", "BreakGlassOpened", "ConsentGranted"])}
    )
    insurer = store.events(names=["PlanCreated"])[0].args["insurer"]
    member = store.events(names=["ClaimSubmitted"])[0].args["member"]
    batch = store.events(names=["BatchCommissioned"])[0].args["batchId"]
    w.cli("index", "disclosures", *patients, "--db", db)
    w.cli("index", "disclosures", *patients, "--db", db, "--newest-first", "--limit", "1")
    w.cli("index", "disclosures", "0x12", "--db", db, code=2)
    w.cli("index", "claims", insurer, "--db", db)
    w.cli("index", "claims", insurer, "--db", db, "--state", "lost", code=2)
    w.cli("index", "eob", member, "--db", db)
    w.cli("index", "eob", member, "--db", db, "--period", "2030-01-01..2029-01-01", code=2)
    w.cli("index", "custody", batch, "--db", db)
    w.cli("index", "custody", "0x12", "--db", db, code=2)
    w.cli("index", "regulator", "--db", db)
    w.cli("index", "regulator", "--db", db, "--period", "soon", code=2)
    w.cli("index", "epcis", "--db", db)
    w.cli("index", "epcis", "--db", db, "--batch", "0x12", code=2)
    w.cli("index", "reset", "--db", db, code=2)  # without --yes
    w.cli("index", "reset", "--db", db, "--yes")


def _devnet_and_deploy(w: Walk) -> None:
    other = f"http://127.0.0.1:{free_port()}"
    w.cli("devnet", "up", rpc=w.env.rpc, code=5)  # that port is the walk's own anvil: taken
    w.cli("devnet", "up", rpc=other)
    w.cli("devnet", "status", rpc=other)
    w.cli("devnet", "accounts", rpc=other)
    w.cli("devnet", "down", rpc=other)
    w.cli("deploy", account="admin")  # already deployed: reports what is there
    w.cli("deploy", account="admin", rpc=f"http://127.0.0.1:{free_port()}", code=3)
    w.files.extend(sorted(Path(os.environ["CARELEDGER_DEPLOYMENTS_DIR"]).glob("*.json")))


def _travel(w: Walk, seconds: int) -> None:
    w.env.w3.provider.make_request("evm_increaseTime", [seconds])
    w.env.w3.provider.make_request("evm_mine", [])


def _gateway(w: Walk) -> None:
    """The clinic's record gateway: file a FHIR record (anchored), hand out a pointer, erase."""
    store = ["--db", str(w.folder / "gateway.sqlite"), "--keys", str(w.folder / "gateway.keys")]
    pseudonym = "0x" + "4b" * 20
    report, bad = w.folder / "report.json", w.folder / "bad-report.json"
    report.write_text(
        json.dumps({"resourceType": "Observation", "status": "final", "code": {"text": "HbA1c"}, "valueString": "6.1%"})
    )
    bad.write_text(json.dumps({"resourceType": "Observation"}))
    put = w.cli("gateway", "put", str(report), "--pseudonym", pseudonym, *store, account="clinic")
    w.cli("gateway", "put", str(bad), "--pseudonym", pseudonym, *store, account="clinic", code=2)
    w.cli("gateway", "pointer", "https://gateway.example", "--pseudonym", pseudonym)
    w.cli("gateway", "pointer", "https://gateway.example", "--pseudonym", "0x12", code=2)
    w.cli("gateway", "read", "not-a-pointer", "--category", "OBSERVATION", account="lab", code=2)
    w.cli("gateway", "erase", put["recordId"], *store, account="clinic")
    w.cli("gateway", "erase", put["recordId"], *store, account="clinic", code=2)  # already erased


def _upgrade(w: Walk) -> None:
    """Reads and refusals only: a successful run moves the suite the rest of the walk (and the
    relayer it started) uses; see NO_SUCCESS_CASE."""
    dead = "http://127.0.0.1:1"
    w.cli("upgrade", "status")
    w.cli("upgrade", "status", rpc=dead, code=3)
    w.cli("upgrade", "verify")  # nothing recorded yet
    w.cli("upgrade", "verify", rpc=dead, code=3)
    w.cli("upgrade", "run", "--only", "RecordAnchor", account="admin", code=2)
    w.cli("upgrade", "run", "--only", "ConsentRegistry", account="admin", code=2)
    w.cli("upgrade", "run", "--only", "ClaimSettlement", rpc=dead, code=3)


def _gov(w: Walk) -> None:
    """Last: it hands the walk's suite to the devnet consortium, after which admin holds nothing."""
    w.cli("gov", "list", code=4)  # no consortium yet
    w.cli("gov", "status")
    w.cli("deploy", "--consortium", "devnet", account="admin")
    w.cli("deploy", "--consortium", str(w.folder / "missing.json"), account="admin", code=2)
    _travel(w, 1)
    newcomer = "0x" + "6d" * 20
    reg = w.cli(
        "gov", "propose", "register", newcomer, "pharmacy", "--credential", "GLN-1", "--salt", "0x01", account="clinic"
    )
    w.cli("gov", "propose", "register", newcomer, "wizard", "--credential", "GLN-1", account="clinic", code=2)
    w.cli("gov", "propose", "set-roles", dev_account("lab").address, "provider,relayer", account="insurer")
    w.cli("gov", "propose", "set-roles", "0x12", "provider", account="insurer", code=2)
    w.cli("gov", "propose", "reinstate", newcomer, account="insurer")
    w.cli("gov", "propose", "reinstate", newcomer, account="lab", code=1)  # not a member
    w.cli("gov", "propose", "admit", dev_account("er").address, account="regulator")
    w.cli("gov", "propose", "admit", "nope", account="regulator", code=2)
    w.cli("gov", "propose", "expel", dev_account("regulator").address, account="clinic")
    w.cli("gov", "propose", "expel", "nope", account="clinic", code=2)
    w.cli("gov", "propose", "suspend", newcomer, "--reason", "X" * 40, account="regulator", code=2)
    w.cli("gov", "propose", "rotate-key", dev_account("lab").address, "0x" + "5e" * 20, account="clinic")
    w.cli("gov", "propose", "rotate-key", dev_account("lab").address, "0x12", account="clinic", code=2)
    w.cli("gov", "propose", "pause", "claims", account="regulator")
    w.cli("gov", "propose", "pause", "directory", account="regulator", code=2)  # the directory never pauses
    w.cli("gov", "propose", "unpause", "claims", account="clinic")
    w.cli("gov", "propose", "unpause", "nothing", account="clinic", code=2)
    maker = dev_account("manufacturer").address
    w.cli("gov", "propose", "attest-prefix", maker, "0614142", "--evidence", "GS1-LICENCE-1", account="clinic")
    w.cli("gov", "propose", "attest-prefix", maker, "12345", "--evidence", "GS1-LICENCE-1", account="clinic", code=2)
    w.cli("gov", "propose", "revoke-prefix", "0614142", "--reason", "LICENCE-LAPSED", account="clinic")
    w.cli("gov", "propose", "revoke-prefix", "0614142", "--reason", "X" * 40, account="clinic", code=2)
    _travel(w, 1)
    pid = reg["proposalId"]
    w.cli("gov", "approve", pid, account="clinic")
    w.cli("gov", "approve", pid, account="clinic", code=1)  # a second vote by the same member
    w.cli("gov", "approve", "not-a-number", account="clinic", code=2)
    w.cli("gov", "execute", pid, account="clinic", code=2)  # 1 of 2 votes
    w.cli("gov", "approve", pid, account="insurer")
    w.cli("gov", "execute", pid, account="clinic")  # queued
    w.cli("gov", "propose", "cancel", "0x1234", account="regulator", code=2)  # no such proposal
    cancel = w.cli("gov", "propose", "cancel", pid, account="regulator")
    _travel(w, 60)
    w.cli("gov", "execute", pid, account="clinic")  # executed after the delay
    w.cli("gov", "execute", cancel["proposalId"], account="regulator", code=2)  # still active: no votes
    suspend = w.cli("gov", "propose", "suspend", newcomer, "--reason", "LICENCE-LAPSED", account="regulator")
    _travel(w, 1)
    w.cli("gov", "approve", suspend["proposalId"], account="regulator")
    w.cli("gov", "approve", suspend["proposalId"], account="clinic", code=0)
    w.cli("gov", "execute", suspend["proposalId"], account="regulator")
    w.cli("gov", "list")
    w.cli("gov", "status")
    w.cli("gov", "status", rpc=f"http://127.0.0.1:{free_port()}", code=3)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    folder = Path(tmp_path_factory.mktemp("json-exact"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARELEDGER_PROVENANCE_DIR", str(folder / "provenance"))
        mp.setenv("CARELEDGER_JOURNAL_DIR", str(folder / "journals"))
        mp.setenv("CARELEDGER_CLAIMS_KEYS", str(folder / "claims-keys.json"))
        mp.setenv("CARELEDGER_DEVNET_DIR", str(folder / "other-devnet"))
        mp.setenv("CARELEDGER_RECORDS_PASSPHRASE", "json walk: throwaway record keys")
        mp.setenv("CARELEDGER_GATEWAY_PASSPHRASE", "json walk: throwaway gateway keys")
        mp.delenv("CARELEDGER_PRIVATE_KEY", raising=False)
        mp.delenv("CARELEDGER_ACCOUNT", raising=False)
        with fresh_suite(folder / "suite") as env:
            w = Walk(env, folder)
            for part in (
                _consent,
                _recovery,
                _claims,
                _directory,
                _drugs,
                _records,
                _index,
                _gateway,
                _devnet_and_deploy,
                _upgrade,
                _gov,
            ):
                part(w)
            # a command that has no scenario yet is still run (with no arguments) and checked
            for path in sorted(_LEAVES - {c.path for c in w.calls} - set(NOT_JSON)):
                w.cli(*path.split(), code=2)
            yield w


# ---------------------------------------------------------------------- the checks


def _check(text: str, where: str) -> None:
    json.loads(text)  # one JSON document
    big = unsafe_integers(text)
    assert big == [], f"{where}: integers beyond 2^53 - 1 written as JSON numbers: {big}"


def test_every_json_command_walked_in_success_and_error(walk: Walk) -> None:
    codes: dict[str, set[int]] = {}
    for c in walk.calls:
        codes.setdefault(c.path, set()).add(c.code)
    missing = {p for p in _LEAVES - set(NOT_JSON) - set(NO_SUCCESS_CASE) if 0 not in codes.get(p, set())}
    assert not missing, f"add a success case with real arguments for: {sorted(missing)}"
    no_error = {p for p in _LEAVES - set(NOT_JSON) - set(NO_ERROR_CASE) if not codes[p] - {0}}
    assert not no_error, f"add an error case for: {sorted(no_error)}"
    assert len(walk.calls) > 2 * (len(_LEAVES) - len(NOT_JSON) - len(NO_ERROR_CASE))


def test_no_json_output_has_an_unsafe_integer(walk: Walk) -> None:
    for c in walk.calls:
        assert c.stdout.strip(), f"careledger {' '.join(c.argv)} printed no JSON: {c.stderr}"
        _check(c.stdout, f"careledger {' '.join(c.argv)}")


def test_no_exported_file_has_an_unsafe_integer(walk: Walk) -> None:
    names = {p.name for p in walk.files}
    assert {"consent.json", "claim-response.json", "results.json", "epcis.json", "index.json"} <= names
    assert any(re.fullmatch(r"\d+\.json", n) for n in names)  # deployments/<chainId>.json
    for path in walk.files:
        _check(path.read_text(), str(path))


def test_the_walk_met_values_beyond_2_to_53(walk: Walk) -> None:
    """The check is only worth something if wide values went by: they did, as strings."""
    texts = "\n".join(c.stdout for c in walk.calls)
    wide = [int(s, 0) for s in re.findall(r'"(0x[0-9a-f]{64}|\d{16,})"', texts)]
    assert any(v > MAX_SAFE_INTEGER for v in wide)
    pools = [json.loads(c.stdout) for c in walk.calls if c.path == "claims status" and "--plan" in c.argv]
    assert int(pools[0]["pool"]["funded"]) == int(HUGE_FUND) * 10**6 > MAX_SAFE_INTEGER
    assert re.fullmatch(r"0x[0-9a-f]{64}", walk.state["consentId"])


def test_planted_big_integer_is_caught(walk: Walk, monkeypatch: pytest.MonkeyPatch) -> None:
    from careledger.claims.client import PoolState
    from careledger.cli.context import AppContext

    plant: Callable[[PoolState], dict[str, Any]] = lambda self: {"funded": self.funded}  # noqa: E731
    monkeypatch.setattr(PoolState, "to_json", plant)
    # 1. through the project's encoder, the planted number never leaves: the command fails loudly
    walk.cli("claims", "status", "--plan", "1", code=70)
    assert "beyond 2^53 - 1" in json.loads(walk.calls[-1].stdout)["error"]
    # 2. with a plain json.dumps (the code before this convention), the walk's check catches it
    monkeypatch.setattr(AppContext, "emit", lambda self, data, human=None: print(json.dumps(data)))
    walk.cli("claims", "status", "--plan", "1")
    with pytest.raises(AssertionError, match=str(int(HUGE_FUND) * 10**6)):
        _check(walk.calls[-1].stdout, "planted")
    walk.calls[-2:] = []  # keep the walk's record to the real outputs


# ---------------------------------------------------------------------- the relayer


Request = Callable[[], dict[str, Any]]


def _relay_cases(client: ConsentClient) -> dict[tuple[str, str], list[tuple[Request, int]]]:
    """Requests for every route of the relayer, in order: (kwargs of ``TestClient.request``, built
    when sent since a signature takes the signer's nonce at that moment; expected status)."""
    patient, other = dev_account("patient2").account, dev_account("patient").account
    terms = GrantTerms(
        grantee=dev_account("er").address,
        categories=mask([Category.IMAGING]),
        purposes=mask([Purpose.TREAT]),
        valid_until=client.chain_time() + 86_400,
    )
    first = client.sign(patient, "grant", terms=terms).to_json()
    sig = bytes.fromhex(first["signature"][2:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = sig[:32] + (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big") + bytes([55 - sig[64]])
    huge_nonce = {**first, "message": {**first["message"], "nonce": 2**200}}

    def deny(key: Any) -> Request:
        return lambda: {"json": client.sign(key, "set_patient_deny", categories=0, purposes=0).to_json()}

    return {
        ("GET", "/health"): [(dict, 200)],
        ("GET", "/nonce/{signer}"): [
            (lambda: {"url": f"/nonce/{patient.address}"}, 200),
            (lambda: {"url": "/nonce/0x1234"}, 400),
        ],
        ("POST", "/actions"): [
            (lambda: {"json": {**first, "signature": "0x" + high_s.hex()}}, 400),
            (lambda: {"json": first}, 200),
            (lambda: {"json": first}, 400),  # the nonce is used
            (lambda: {"json": client.sign(patient, "grant", terms=terms).to_json()}, 422),  # already active
            (lambda: {"json": huge_nonce}, 400),
            (lambda: {"content": str(2**100), "headers": {"content-type": "application/json"}}, 400),
            (lambda: {"json": {"action": "steal"}}, 400),
            (deny(patient), 200),
            (deny(other), 200),
            (deny(patient), 429),  # the fourth of patient2's actions within the window (limit 3)
        ],
        ("GET", "/openapi.json"): [(dict, 200)],
        ("GET", "/docs"): [(dict, 200)],
        ("GET", "/docs/oauth2-redirect"): [(dict, 200)],
        ("GET", "/redoc"): [(dict, 200)],
        ("GET", "/no-such-route"): [(dict, 404)],
        ("GET", "/actions"): [(dict, 405)],
    }


def test_every_relayer_route_answers_exact_json(walk: Walk) -> None:
    relayer = ConsentClient(walk.env.signer("relayer"), walk.env.deployment)
    app = create_app(relayer, RateLimiter(limit=3, window=3600))
    http = TestClient(app)
    cases = _relay_cases(relayer)
    routes = {(m, r.path) for r in app.routes for m in (getattr(r, "methods", None) or {"GET"}) if m != "HEAD"}
    assert routes <= set(cases), f"add request cases for relayer routes {sorted(routes - set(cases))}"
    assert {r.path for r in app.routes if isinstance(r, APIRoute)} == {"/health", "/nonce/{signer}", "/actions"}
    seen: set[int] = set()
    for (method, route), requests in cases.items():
        for build, status in requests:
            kw = {"url": route, **build()}
            resp = http.request(method, **kw)
            assert resp.status_code == status, f"{method} {kw['url']}: {resp.status_code} {resp.text}"
            seen.add(status)
            if resp.headers.get("content-type", "").startswith("application/json"):
                _check(resp.text, f"{method} {kw['url']} -> {resp.status_code}")
                if status >= 400:
                    assert isinstance(resp.json()["error"], str)
            else:
                assert route in {"/docs", "/docs/oauth2-redirect", "/redoc"}, resp.headers
    assert {200, 400, 404, 405, 422, 429} <= seen


def test_relayer_refusal_args_are_exact(walk: Walk) -> None:
    """The issue's case: a 422 body's ``args.consentId`` read by a double-based reader."""
    relayer = ConsentClient(walk.env.signer("relayer"), walk.env.deployment)
    http = TestClient(create_app(relayer, RateLimiter(limit=10, window=60)))
    key = dev_account("patient2").account
    terms = GrantTerms(
        grantee=dev_account("er").address,
        categories=mask([Category.IMAGING]),
        purposes=mask([Purpose.TREAT]),
        valid_until=relayer.chain_time() + 86_400,
    )
    resp = http.post("/actions", json=relayer.sign(key, "grant", terms=terms).to_json())
    if resp.status_code == 200:  # run alone: the first grant goes through, the second is refused
        resp = http.post("/actions", json=relayer.sign(key, "grant", terms=terms).to_json())
    assert resp.status_code == 422, resp.text
    text = resp.text
    assert unsafe_integers(text) == []
    cid = resp.json()["args"]["consentId"]
    assert re.fullmatch(r"0x[0-9a-f]{64}", cid)
    assert int(cid, 16) == relayer.consent_of(key.address, terms.grantee).id > MAX_SAFE_INTEGER
    # and the same action rebuilt from its exact JSON (nonce as a decimal string) is the same action
    signed = relayer.sign(key, "set_patient_deny", categories=0, purposes=0)
    body = signed.to_json()
    assert isinstance(body["message"]["nonce"], str) and isinstance(body["message"]["deadline"], str)
    assert type(signed).from_json(json.loads(json.dumps(body))) == signed
