"""The audit's claims detectors (#13 point 8), shown to work before they are trusted: a service code
planted in each form (clear, hex, ABI, every unsalted hash) and a date planted in each form next
to a person's address are each caught, in calldata and in the event that logged it, while a
plan-keyed digest of the same code and a date next to organisations only are not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from test_demo_audit import ECHO_INIT, ECHO_RUNTIME

from careledger.accounts import dev_account
from careledger.audit import code_needles, load_code_list, scan_codes, scan_dates
from careledger.chain import connect
from careledger.devnet import Devnet, free_port
from careledger.rpc import RpcClient

pytestmark = pytest.mark.devnet

CODES = load_code_list(Path(__file__).parent / "data" / "public_service_codes.json")
CODE = "CPT:70551"  # MRI brain
KEY = bytes.fromhex("6b" * 32)  # a plan's code key (off chain)
SELECTOR = bytes.fromhex("a1b2c3d4")
PERSON = "0x" + "5e" * 20  # an address no directory lists (a member)

# (form, encoding the detector reports, payload a careless client or contract would send)
PLANTED_CODES = [
    ("clear-bytes32", "abi-bytes32", abi_encode(["bytes32"], [CODE.encode()])),
    ("clear-bare", "utf8-bare", b"70551".ljust(32, b"\0")),
    ("hex", "hex", CODE.encode().hex().encode()),
    ("abi-string", "abi-string", abi_encode(["string"], [CODE])),
    ("keccak-text", "keccak-unsalted", keccak(CODE.encode())),
    ("keccak-bytes32", "keccak-unsalted-bytes32", keccak(CODE.encode().ljust(32, b"\0"))),
    ("keccak-bare", "keccak-unsalted-bare", keccak(b"70551")),
    ("keccak-abi-string", "keccak-unsalted-abi-string", keccak(abi_encode(["string"], [CODE]))),
]


def _plant(w3, sender: str, payload: bytes, selector: bytes = SELECTOR) -> str:
    """``payload`` sent to a fresh echo contract, behind ``selector``: ABI-aligned in the calldata;
    the echo logs the calldata as it came, so with no selector the event is the aligned one."""
    deployed = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": sender, "data": ECHO_INIT}))
    echo = deployed["contractAddress"]
    assert w3.eth.get_code(echo).hex() == ECHO_RUNTIME
    tx = {"from": sender, "to": echo, "data": "0x" + (selector + payload).hex(), "gas": 2_000_000}
    assert w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))["status"] == 1
    return str(echo).lower()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Every planted code and date sent to its own echo contract; the chain scanned once."""
    net = Devnet(folder=tmp_path_factory.mktemp("planted-codes"), port=free_port(), persist=False)
    net.up()
    try:
        w3 = connect(net.rpc_url)
        admin = dev_account("admin").address
        now = int(w3.eth.get_block("latest")["timestamp"])
        day = now // 86_400
        ymd = dt.datetime.fromtimestamp(now - 3 * 86_400, dt.UTC).date()
        echoes: dict[str, str] = {}
        for form, _, payload in PLANTED_CODES:
            echoes[form] = _plant(w3, admin, payload)
        person = abi_encode(["address"], [PERSON])
        dates = {
            "day-number": abi_encode(["uint32"], [day - 1]),
            "unix-time": abi_encode(["uint40"], [now - 5 * 86_400]),
            "yyyymmdd": abi_encode(["uint256"], [ymd.year * 10_000 + ymd.month * 100 + ymd.day]),
        }
        date_echoes = {form: _plant(w3, admin, person + word) for form, word in dates.items()}
        event_echoes = {form: _plant(w3, admin, person + word, b"") for form, word in dates.items()}
        # Negatives: a keyed digest of the code; a day number next to organisations only.
        keyed = _plant(w3, admin, keccak(KEY + CODE.encode()))
        org_only = _plant(w3, admin, abi_encode(["address", "uint32"], [admin, day - 1]))
        rpc = RpcClient(net.rpc_url)
        code_report = scan_codes(rpc, CODES)
        orgs = [admin, *echoes.values(), *date_echoes.values(), *event_echoes.values(), keyed, org_only]
        date_hits = scan_dates(rpc, orgs)
        return echoes, event_echoes, keyed, org_only, code_report, date_hits
    finally:
        net.down()


def test_code_list_is_public_codes_with_systems():
    assert len(CODES) == len(set(CODES)) >= 50
    assert {c.split(":")[0] for c in CODES} >= {"CPT", "HCPCS", "NDC", "ICD10"}
    assert all(len(n[2]) >= 5 for c in CODES for n in code_needles(c))


@pytest.mark.parametrize(("form", "encoding"), [p[:2] for p in PLANTED_CODES], ids=[p[0] for p in PLANTED_CODES])
def test_planted_service_code_caught_in_each_form(planted, form, encoding):
    """Caught, under its form, in the calldata that carried it and the event that logged it."""
    echoes, _, _, _, report, _ = planted
    hits = [h for h in report.hits if (h.label, h.encoding) == (f"code {CODE}", encoding)]
    assert any(h.where.startswith("calldata") for h in hits), form
    assert any(h.where.startswith("event") and echoes[form] in h.where.lower() for h in hits), form


def test_keyed_digest_of_a_code_is_not_reported(planted):
    _, _, keyed, _, report, _ = planted
    assert not [h for h in report.hits if keyed in h.where.lower()]


@pytest.mark.parametrize("form", ["day-number", "unix-time", "yyyymmdd"])
def test_planted_date_next_to_a_person_caught(planted, form):
    _, event_echoes, _, _, _, hits = planted
    found = [h for h in hits if h.form == form and h.address == PERSON]
    assert any(h.where.startswith("calldata") for h in found), form
    assert any(event_echoes[form] in h.where.lower() for h in found if h.where.startswith("event")), form


def test_date_next_to_organisations_only_not_reported(planted):
    _, _, _, org_only, _, hits = planted
    assert not [h for h in hits if org_only in h.where.lower()]
    assert {h.address for h in hits} == {PERSON}
