"""The SDK, CLI, relay and demo story against a real anvil (careledger.devnet), including the
scan proving no demo PHI string appears in any calldata or event of the story."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench.harness import fresh_suite
from careledger.accounts import dev_account
from careledger.chain import Chain, ErrorDecoder
from careledger.cli.main import run
from careledger.codes import Category, Purpose
from careledger.consent import eip712
from careledger.consent.client import ConsentClient, SignedAction
from careledger.consent.demo import DEMO_PHI, story
from careledger.consent.relay import RateLimiter, RelayPolicy, create_app
from careledger.consent.terms import GrantTerms, mask
from careledger.demo.framework import DemoEnv
from careledger.deployments import load_deployment
from careledger.devnet import free_port
from careledger.exactjson import unsafe_integers

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = Path(tmp_path_factory.mktemp("consent-devnet"))
    # Only the domains this test needs (directory, then consent), through their deploy plug-ins.
    with fresh_suite(tmp, domains=("directory", "consent")) as env:
        yield {"rpc": env.rpc, "w3": env.w3, "artifacts": env.artifacts, "tmp": tmp}


def _client(devnet: dict[str, Any], name: str) -> ConsentClient:
    chain = Chain(devnet["w3"], ErrorDecoder.from_abis(devnet["artifacts"].all_abis())).with_account(
        dev_account(name).account
    )
    return ConsentClient(chain, load_deployment(devnet["w3"]))


def _cli(devnet: dict[str, Any], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = run(["--rpc", devnet["rpc"], "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


# ---------------------------------------------------------------------- demo + no-PHI scan


def test_demo_story_holds_and_writes_no_phi_on_chain(devnet: dict[str, Any]) -> None:
    w3 = devnet["w3"]
    first = w3.eth.block_number + 1
    env = DemoEnv(
        rpc=devnet["rpc"],
        w3=w3,
        deployment=load_deployment(w3),
        artifacts=devnet["artifacts"],
        workdir=devnet["tmp"] / "demo",
    )
    s = story(env)
    assert s.ok, [(st.action, st.outcome) for st in s.steps if not st.ok]
    assert env.shared["consent_payment"]["consentId"] > 0
    blobs: list[bytes] = []
    for n in range(first, w3.eth.block_number + 1):
        block = w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            blobs.append(bytes(tx["input"]))  # type: ignore[index]
            for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:  # type: ignore[index]
                blobs.append(bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"]))
    assert len(blobs) > 10
    haystack = b"\n".join(blobs).lower()
    for phi in DEMO_PHI:
        assert phi.lower().encode() not in haystack, phi
    # As a control, the scan does see what the story put on chain: the patient's pseudonyms, one
    # per counterparty; and never her own devnet address (nothing links the pseudonyms to it).
    at_clinic, at_lab, at_er, plan = env.shared["consent_pseudonyms"]
    assert len({at_clinic, at_lab, at_er, plan}) == 4
    for address in (at_clinic, at_er, plan):
        assert bytes.fromhex(address[2:]).lower() in haystack
    assert bytes.fromhex(at_lab[2:]).lower() not in haystack  # the lab was only asked, never granted
    assert bytes.fromhex(dev_account("patient").address[2:]).lower() not in haystack


# ---------------------------------------------------------------------- CLI


def test_cli_grant_check_list_log_export_import_revoke(
    devnet: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = _cli(
        devnet,
        capsys,
        "--account",
        "patient2",
        "consent",
        "grant",
        "lab",
        "--categories",
        "observation,mental-health",
        "--purposes",
        "treat,hpaymt",
        "--days",
        "2",
        "--deny-categories",
        "mental-health",
        "--deny-purposes",
        "hpaymt",
    )
    assert code == 0
    assert out["relayed"] is False
    cid = out["consentId"]
    code, out = _cli(devnet, capsys, "consent", "check", "patient2", "lab", "observation", "treat")
    assert (code, out["allowed"], out["consentId"]) == (0, True, cid)
    code, out = _cli(devnet, capsys, "consent", "check", "patient2", "lab", "mental-health", "hpaymt")
    assert code == 1  # denied by the deny provision: exit 1 with the verdict
    code, rows = _cli(devnet, capsys, "consent", "list", "--patient", "patient2")
    assert code == 0
    assert [(r["grantee"], r["status"]) for r in rows] == [(dev_account("lab").address, "active")]
    fhir_file = tmp_path / "consent.json"
    code, _ = _cli(devnet, capsys, "--account", "patient2", "consent", "export-fhir", "lab", "-o", str(fhir_file))
    assert code == 0
    resource = json.loads(fhir_file.read_text())
    assert resource["status"] == "active"
    assert resource["provision"]["provision"][0]["type"] == "deny"
    code, out = _cli(devnet, capsys, "--account", "patient2", "consent", "revoke", "lab")
    assert (code, out["consentId"]) == (0, cid)
    code, _ = _cli(devnet, capsys, "consent", "check", "patient2", "lab", "observation", "treat")
    assert code == 1
    code, out = _cli(devnet, capsys, "--account", "patient2", "consent", "import-fhir", str(fhir_file))
    assert code == 0
    assert out["consentId"] != cid
    code, log = _cli(devnet, capsys, "consent", "log", "--patient", "patient2")
    assert [e["event"] for e in log] == ["ConsentGranted", "ConsentRevoked", "ConsentGranted"]


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        (("consent", "grant", "lab", "--categories", "dreams", "--purposes", "treat", "--days", "1"), 2),
        (("consent", "grant", "lab", "--categories", "all", "--purposes", "etreat", "--days", "1"), 2),
        (("consent", "grant", "0x1234", "--categories", "all", "--purposes", "treat", "--days", "1"), 2),
        (("consent", "grant", "patient2", "--categories", "all", "--purposes", "treat", "--days", "1"), 2),  # unvetted
        (("consent", "check", "patient", "lab", "observation", "shopping"), 2),
        (("consent", "revoke", "insurer"), 2),  # nothing to revoke
    ],
)
def test_cli_bad_input_exit_codes(
    devnet: dict[str, Any], capsys: pytest.CaptureFixture[str], args: tuple[str, ...], exit_code: int
) -> None:
    code, out = _cli(devnet, capsys, "--account", "patient", *args)
    assert code == exit_code
    assert "error" in out


def test_cli_chain_refusal_exit_1_with_custom_error(devnet: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    grant = ("consent", "grant", "er", "--categories", "all", "--purposes", "treat", "--days", "1")
    assert _cli(devnet, capsys, "--account", "patient2", *grant)[0] == 0
    code, out = _cli(devnet, capsys, "--account", "patient2", *grant)
    assert (code, out["customError"]) == (1, "ConsentAlreadyActive")


def test_cli_records_store_show_erase(
    devnet: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARELEDGER_RECORDS_PASSPHRASE", "cli test passphrase")
    src = tmp_path / "note.txt"
    src.write_text("confidential note")
    store = str(tmp_path / "store")
    code, ref = _cli(devnet, capsys, "records", "store", str(src), "--store", store)
    assert not (tmp_path / "store" / "keys.json").exists() and (tmp_path / "store.keys").is_file()
    assert code == 0
    code, info = _cli(devnet, capsys, "records", "show", ref["recordId"], "--store", store)
    assert (code, info["status"], info["commitment"]) == (0, "stored", ref["commitment"])
    code, out = _cli(devnet, capsys, "records", "erase", ref["recordId"], "--store", store)
    assert code == 0
    assert out["commitment"] == ref["commitment"]
    code, info = _cli(devnet, capsys, "records", "show", ref["recordId"], "--store", store)
    assert info["status"] == "erased"
    code, out = _cli(devnet, capsys, "records", "show", ref["recordId"], "--decrypt", "--store", store)
    assert code == 1
    assert "erased" in out["error"]
    assert _cli(devnet, capsys, "records", "erase", "zz", "--store", store)[0] == 2


def test_relay_serve_binds_loopback_by_default() -> None:
    from careledger.consent.relay_cli import serve

    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


# ---------------------------------------------------------------------- relay


@pytest.fixture
def relay(devnet: dict[str, Any]) -> Iterator[tuple[TestClient, ConsentClient]]:
    relayer = _client(devnet, "relayer")
    with TestClient(create_app(relayer, RateLimiter(limit=3, window=60))) as http:
        yield http, relayer


def _terms(client: ConsentClient, grantee: str, days: int = 1) -> GrantTerms:
    return GrantTerms(
        grantee=dev_account(grantee).address,
        categories=mask([Category.IMAGING]),
        purposes=mask([Purpose.TREAT]),
        valid_until=client.chain_time() + days * 86400,
    )


def test_relay_forwards_valid_signed_grant(relay: tuple[TestClient, ConsentClient]) -> None:
    http, client = relay
    assert http.get("/health").json()["relayer"] == dev_account("relayer").address
    key = dev_account("patient").account
    signed = client.sign(key, "grant", terms=_terms(client, "pharmacy"))
    resp = http.post("/actions", json=signed.to_json())
    assert resp.status_code == 200, resp.text
    assert client.can_access(key.address, dev_account("pharmacy").address, Category.IMAGING, Purpose.TREAT) == (
        True,
        int(resp.json()["consentId"], 16),
    )
    again = http.post("/actions", json=signed.to_json())  # replay: the nonce is used
    assert again.status_code == 400
    assert "nonce" in again.json()["error"]


def test_relay_refuses_bad_signature_deadline_and_malformed(relay: tuple[TestClient, ConsentClient]) -> None:
    http, client = relay
    key, other = dev_account("patient").account, dev_account("patient2").account
    forged = client.sign(other, "grant", terms=_terms(client, "regulator"), signer=key.address, patient=key.address)
    resp = http.post("/actions", json=forged.to_json())
    assert resp.status_code == 400
    assert "signature" in resp.json()["error"]
    late = client.sign(key, "grant", terms=_terms(client, "regulator"), deadline=client.chain_time() - 1)
    resp = http.post("/actions", json=late.to_json())
    assert resp.status_code == 400
    assert "deadline" in resp.json()["error"]
    body = forged.to_json()
    body["message"]["patient"] = "0x1234"
    assert http.post("/actions", json=body).status_code == 400
    assert http.post("/actions", json={"action": "steal"}).status_code == 400


def test_relay_reports_chain_refusal_as_422(relay: tuple[TestClient, ConsentClient]) -> None:
    http, client = relay
    key = dev_account("patient2").account
    t = _terms(client, "distributor")
    assert http.post("/actions", json=client.sign(key, "grant", terms=t).to_json()).status_code == 200
    resp = http.post("/actions", json=client.sign(key, "grant", terms=t).to_json())
    assert resp.status_code == 422
    assert resp.json()["customError"] == "ConsentAlreadyActive", resp.text
    # the decoded arguments in their exact JSON form (docs/json.md): the id as 0x + 64 hex
    args = resp.json()["args"]
    assert set(args) == {"patient", "grantee", "consentId"}
    assert re.fullmatch(r"0x[0-9a-f]{64}", args["consentId"])
    current = client.consent_of(key.address, dev_account("distributor").address).id
    assert int(args["consentId"], 16) == current
    assert unsafe_integers(resp.text) == []


def test_relay_rate_limits_per_signer(devnet: dict[str, Any]) -> None:
    relayer = _client(devnet, "relayer")
    http = TestClient(create_app(relayer, RateLimiter(limit=1, window=3600)))
    key = dev_account("patient").account
    deny = relayer.sign(key, "set_patient_deny", categories=mask([Category.GENOMIC]), purposes=(1 << 7) - 1)
    assert http.post("/actions", json=deny.to_json()).status_code == 200
    second = relayer.sign(key, "set_patient_deny", categories=0, purposes=0)
    resp = http.post("/actions", json=second.to_json())
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    other = relayer.sign(dev_account("patient2").account, "set_patient_deny", categories=0, purposes=0)
    assert http.post("/actions", json=other.to_json()).status_code == 200  # another signer has its own budget


def test_replayed_signature_takes_no_slot_of_the_signer(devnet: dict[str, Any]) -> None:
    """Signed actions are public once mined: anyone can post an old one again. It is refused on
    its spent nonce before it takes one of the signer's rate-limit slots, so replaying a
    patient's old signatures cannot lock the patient out of the relayer."""
    from eth_account import Account

    relayer = _client(devnet, "relayer")
    http = TestClient(create_app(relayer, RateLimiter(limit=2, window=3600)))
    key = Account.create()
    first = relayer.sign(key, "grant", terms=_terms(relayer, "lab"))
    assert http.post("/actions", json=first.to_json()).status_code == 200  # slot 1 of 2
    for _ in range(3):
        resp = http.post("/actions", json=first.to_json())
        assert resp.status_code == 400 and "action counter" in resp.json()["error"], resp.text
    again = relayer.sign(key, "grant", terms=_terms(relayer, "clinic"))
    assert http.post("/actions", json=again.to_json()).status_code == 200  # slot 2 of 2: still free


def test_relay_answers_502_when_the_node_fails_it(devnet: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that stops answering mid-request is the relayer's problem, said in one line (HTTP
    502, exact JSON), never an unhandled 500; nothing is sent."""
    from careledger.errors import NodeUnreachable
    from careledger.rpc import KeepAliveRpcClient

    relayer = _client(devnet, "relayer")
    http = TestClient(create_app(relayer))
    signed = relayer.sign(dev_account("patient2").account, "grant", terms=_terms(relayer, "er"))
    sent = devnet["w3"].eth.get_transaction_count(relayer.me)

    def down(self: KeepAliveRpcClient, payload: Any) -> Any:
        raise NodeUnreachable(f"no answer from {self.url} (connection refused), 3 attempts")

    monkeypatch.setattr(KeepAliveRpcClient, "_post", down)
    resp = http.post("/actions", json=signed.to_json())
    assert resp.status_code == 502 and "no answer from" in resp.json()["error"], resp.text
    assert devnet["w3"].eth.get_transaction_count(relayer.me) == sent


def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, window=10, clock=lambda: now[0])
    assert limiter.allow("a")[0]
    assert limiter.allow("A")[0]
    assert limiter.allow("a") == (False, 10.0)
    now[0] = 10.0
    assert limiter.allow("a")[0]


# ---------------------------------------------------------------------- relay: signature form

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _with_signature(signed: SignedAction, how: str) -> SignedAction:
    """The same signed action with its signature in a form OpenZeppelin's ECDSA refuses."""
    sig = bytes.fromhex(signed.signature[2:])
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    if how == "high-s":  # the malleable twin: s' = n - s, v flipped; ecrecover still gives the signer
        bad = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    elif how == "compact":  # EIP-2098 64-byte form (r, yParity|s)
        bad = r + ((v - 27) << 255 | s).to_bytes(32, "big")
    else:  # v as 0/1 (what some signers emit) or out of range
        bad = sig[:64] + bytes([{"v-27": v - 27, "v-27-flipped": 28 - v, "v=29": 29}[how]])
    return replace(signed, signature="0x" + bad.hex())


@pytest.fixture
def counted(devnet: dict[str, Any]) -> Iterator[tuple[ConsentClient, list[str]]]:
    """A relayer client whose every JSON-RPC request to the node is recorded by method."""
    relayer = _client(devnet, "relayer")
    provider = relayer.chain.w3.provider
    calls: list[str] = []
    original = provider.make_request

    def counting(method: Any, params: Any) -> Any:
        calls.append(str(method))
        return original(method, params)

    # The relayer's own transport (raw JSON-RPC, careledger.rpc.KeepAliveRpcClient) is counted too.
    from careledger.rpc import KeepAliveRpcClient

    raw_post = KeepAliveRpcClient._post

    def counting_post(self: KeepAliveRpcClient, payload: Any) -> Any:
        for request in payload if isinstance(payload, list) else [payload]:
            calls.append(str(request["method"]))
        return raw_post(self, payload)

    provider.make_request = counting  # type: ignore[method-assign]
    KeepAliveRpcClient._post = counting_post  # type: ignore[method-assign]
    try:
        yield relayer, calls
    finally:
        del provider.make_request  # the shared provider answers as before
        KeepAliveRpcClient._post = raw_post  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("high-s", "upper half of the curve order"),
        ("v-27", "accepts only 27 or 28"),
        ("v-27-flipped", "accepts only 27 or 28"),
        ("v=29", "signature v is 29"),
        ("compact", "exactly 65"),
    ],
)
def test_relay_refuses_signature_form_the_contract_refuses_before_any_node_call(
    counted: tuple[ConsentClient, list[str]], how: str, says: str
) -> None:
    relayer, calls = counted
    w3 = relayer.chain.w3
    http = TestClient(create_app(relayer, RateLimiter(limit=1, window=3600)))
    key = dev_account("patient").account
    honest = relayer.sign(key, "set_patient_deny", categories=0, purposes=0)
    bad = _with_signature(honest, how)
    if how == "high-s":  # the vulnerable relayer's off-chain recovery does accept this twin
        typed = honest.typed_data(relayer.chain.chain_id, relayer.address)
        assert eip712.recover(typed, bytes.fromhex(bad.signature[2:])) == key.address
    block, sent = w3.eth.block_number, w3.eth.get_transaction_count(relayer.me)
    calls.clear()
    for _ in range(3):  # again and again: still nothing spent, no slot taken
        resp = http.post("/actions", json=bad.to_json())
        assert resp.status_code == 400, resp.text
        assert says in resp.json()["error"]
    assert calls == []  # refused without asking the node anything
    assert (w3.eth.block_number, w3.eth.get_transaction_count(relayer.me)) == (block, sent)
    # the honest signer's slot (limit 1 per hour) is still free: its own request goes through now
    resp = http.post("/actions", json=honest.to_json())
    assert resp.status_code == 200, resp.text
    assert w3.eth.get_transaction_count(relayer.me) == sent + 1
    assert {"eth_estimateGas", "eth_sendRawTransaction"} <= set(calls)  # the count sees the relayer's node calls


def test_relay_still_accepts_erc1271_wallet_signatures(devnet: dict[str, Any]) -> None:
    relayer = _client(devnet, "relayer")
    owner = dev_account("patient2").account
    art = devnet["artifacts"].contracts["MockERC1271Wallet"]
    wallet = str(
        _client(devnet, "admin").chain.deploy(art.abi, art.bytecode, [owner.address], "deploy wallet")[
            "contractAddress"
        ]
    )
    code_hash = relayer.code_hash(wallet)
    assert code_hash is not None
    # Contract signers are relayed only when their code is on the allowlist (bounded ERC-1271).
    refusing = TestClient(create_app(relayer, RateLimiter(limit=1, window=3600)))
    signed = relayer.sign(owner, "set_patient_deny", patient=wallet, signer=wallet, categories=0, purposes=0)
    resp = refusing.post("/actions", json=signed.to_json())
    assert resp.status_code == 403 and "allowlist" in resp.json()["error"], resp.text
    policy = RelayPolicy(wallet_code_hashes=frozenset({code_hash}))
    http = TestClient(create_app(relayer, RateLimiter(limit=1, window=3600), policy))
    assert http.post("/actions", json=_with_signature(signed, "high-s").to_json()).status_code == 400
    resp = http.post("/actions", json=signed.to_json())
    assert resp.status_code == 200, resp.text
    assert relayer.nonce(wallet) == 1


# ---------------------------------------------------------------------- relay attacks (issue #15)


def _fresh_grant(client: ConsentClient, grantee: str) -> SignedAction:
    """A grant signed by a brand-new key (as every pairwise pseudonym is)."""
    from eth_account import Account

    return client.sign(Account.create(), "grant", terms=_terms(client, grantee))


def test_relay_refuses_a_huge_body_unread(devnet: dict[str, Any]) -> None:
    """v1 parsed a 32 MiB body in full. v2 refuses anything over 16 KiB before parsing it."""
    http = TestClient(create_app(_client(devnet, "relayer")))
    big = b'{"action": "grant", "pad": "' + b"x" * (32 * 1024 * 1024) + b'"}'
    resp = http.post("/actions", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413, resp.text
    assert "16384" in resp.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off as soon as it passes the limit
        yield b'{"action": "grant", "pad": "'
        for _ in range(64):
            yield b"x" * 4096
        yield b'"}'

    resp = http.post("/actions", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413, resp.text


def test_fresh_keys_cannot_drain_the_relayer(devnet: dict[str, Any]) -> None:
    """v1: 20 of 20 grants from fresh keys were relayed despite a 1-per-hour per-key limit.
    v2: the organisation they concern sponsors them within its own budget; once it is used up
    the flood stops, and an honest patient's grant to another organisation is still served."""
    relayer = _client(devnet, "relayer")
    policy = RelayPolicy(org_budget=5 * 110_000, signer_limit=1, window=3600)
    http = TestClient(create_app(relayer, policy=policy))
    served = refused = 0
    for _ in range(12):
        resp = http.post("/actions", json=_fresh_grant(relayer, "pharmacy").to_json())
        if resp.status_code == 200:
            served += 1
        else:
            assert resp.status_code == 429 and "budget" in resp.json()["error"], resp.text
            refused += 1
    # every grant costs over 70,000 gas: the organisation's budget bounds how many got through
    assert 1 <= served <= policy.org_budget // 70_000 and refused >= 4
    honest = http.post("/actions", json=_fresh_grant(relayer, "lab").to_json())
    assert honest.status_code == 200, honest.text
    assert honest.json()["sponsor"] == dev_account("lab").address


def test_invalid_signatures_are_throttled_per_client_before_node_work(
    counted: tuple[ConsentClient, list[str]],
) -> None:
    """v1 never throttled invalid signatures and paid node round trips for each. v2 counts every
    refusal per client; past the limit the client is refused before parsing, while another
    client (an honest patient) is served."""
    relayer, calls = counted
    policy = RelayPolicy(client_failures=5, window=3600)
    app = create_app(relayer, policy=policy)
    attacker = TestClient(app, client=("10.0.0.66", 40000))
    honest = TestClient(app, client=("10.0.0.7", 40001))
    forged = _fresh_grant(relayer, "insurer")
    body = forged.to_json()
    body["signer"] = dev_account("patient").address  # claims to be someone else
    codes = [attacker.post("/actions", json=body).status_code for _ in range(5)]
    assert codes == [400] * 5
    calls.clear()
    for _ in range(20):
        resp = attacker.post("/actions", json=body)
        assert resp.status_code == 429 and "refused requests" in resp.json()["error"]
    assert calls == []  # cut off without a single node call
    assert honest.post("/actions", json=_fresh_grant(relayer, "insurer").to_json()).status_code == 200


def test_relayer_caps_gas_per_action_and_stops_below_its_balance_floor(devnet: dict[str, Any]) -> None:
    relayer = _client(devnet, "relayer")
    capped = TestClient(create_app(relayer, policy=RelayPolicy(max_gas_per_action=50_000)))
    resp = capped.post("/actions", json=_fresh_grant(relayer, "clinic").to_json())
    assert resp.status_code == 422 and "cap" in resp.json()["error"], resp.text
    broke = TestClient(create_app(relayer, policy=RelayPolicy(balance_floor=10**30)))
    resp = broke.post("/actions", json=_fresh_grant(relayer, "clinic").to_json())
    assert resp.status_code == 503 and "floor" in resp.json()["error"], resp.text
    assert broke.get("/health").json()["sponsoring"] is False


def test_relayer_sponsors_only_actions_concerning_an_active_organisation(devnet: dict[str, Any]) -> None:
    from eth_account import Account

    relayer = _client(devnet, "relayer")
    http = TestClient(create_app(relayer))
    nobody = Account.create().address
    t = replace(_terms(relayer, "clinic"), grantee=nobody)
    resp = http.post("/actions", json=relayer.sign(Account.create(), "grant", terms=t).to_json())
    assert resp.status_code == 403 and "sponsor" in resp.json()["error"], resp.text


def test_cli_person_uses_one_pseudonym_per_organisation_and_one_combined_log(
    devnet: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """`careledger --account patient consent grant <org>` acts as the person's pairwise pseudonym
    for that organisation; `consent log` shows all of them as one log; the organisation sees only
    the address it was given."""
    from careledger.accounts import dev_person

    person = dev_person("patient")
    grant = ("consent", "grant", "--categories", "observation", "--purposes", "treat", "--days", "1")
    seen = {}
    for org in ("pharmacy", "manufacturer"):
        code, out = _cli(devnet, capsys, "--account", "patient", grant[0], grant[1], org, *grant[2:])
        assert code == 0, out
        seen[org] = out["patient"]
        assert out["patient"] == person.address_for(dev_account(org).address)
    assert len(set(seen.values())) == 2 and dev_account("patient").address not in seen.values()
    code, out = _cli(devnet, capsys, "consent", "check", "patient", "pharmacy", "observation", "treat")
    assert (code, out["patient"]) == (0, seen["pharmacy"])
    code, log = _cli(devnet, capsys, "consent", "log", "--patient", "patient")
    granted = {e["patient"] for e in log if e["event"] == "ConsentGranted"}
    assert set(seen.values()) <= granted
    code, rows = _cli(devnet, capsys, "consent", "list", "--patient", "patient")
    assert {(r["grantee"], r["as"]) for r in rows} >= {(dev_account(o).address, a) for o, a in seen.items()}


def test_cli_unreviewed_break_glass_review_and_cancel(
    devnet: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The person sees break-glass openings on any of their pseudonyms as unreviewed, marks one
    reviewed, and voids a signature they gave but nobody submitted."""
    from careledger.accounts import dev_person

    person = dev_person("patient2")
    er = _client(devnet, "er")
    at_er = person.address_for(er.me)
    bg_id, _ = er.break_glass(at_er, Purpose.ETREAT, b"\x0a" * 32, b"\x0b" * 32)
    code, rows = _cli(devnet, capsys, "--account", "patient2", "consent", "unreviewed")
    assert code == 0 and [(r["patient"], r["seq"]) for r in rows] == [(at_er, 1)]
    assert rows[0]["breakGlassId"] == f"0x{bg_id:064x}"
    code, out = _cli(devnet, capsys, "--account", "patient2", "consent", "review", rows[0]["breakGlassId"])
    assert code == 0 and out["reviewed"] is True
    assert _cli(devnet, capsys, "--account", "patient2", "consent", "unreviewed")[1] == []
    code, out = _cli(devnet, capsys, "--account", "patient2", "consent", "review", rows[0]["breakGlassId"])
    assert code == 2  # nothing left to review
    # a signed grant held back, then voided by 'consent cancel'
    relayer = _client(devnet, "relayer")
    at_pharmacy = person.pseudonym(dev_account("pharmacy").address)
    held = relayer.sign(at_pharmacy, "grant", terms=_terms(relayer, "pharmacy"))
    code, out = _cli(devnet, capsys, "--account", "patient2", "consent", "cancel", "pharmacy")
    assert code == 0 and out["patient"] == at_pharmacy.address
    assert relayer.pair_nonce(at_pharmacy.address, dev_account("pharmacy").address) == held.nonce + 1
    resp = TestClient(create_app(relayer)).post("/actions", json=held.to_json())
    assert resp.status_code == 400 and "action counter" in resp.json()["error"]


def test_relay_serve_on_an_automine_devnet_says_how_to_run_it(devnet: dict[str, Any]) -> None:
    """`careledger relay serve` on a devnet that mines one block per transaction points to the
    documented way to run it (interval mining), then serves as usual."""
    import signal
    import subprocess
    import sys
    import time

    import requests

    port = free_port()
    cmd = [
        sys.executable, "-c", "from careledger.cli.main import main; main()", "--rpc", devnet["rpc"],
        "--account", "relayer", "relay", "serve", "--port", str(port),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "relay exited"
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "relay did not start"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert "careledger devnet up --block-time 0.02" in err
