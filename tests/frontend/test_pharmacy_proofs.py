"""The web server's per-unit proof service (frontend/proof-service.mjs): a trading partner gets
the proof of one unit for a request it signed (EIP-712, short deadline, one-time nonce), checked
against the directory; nobody gets a whole serial tree (issue #14: serials cannot be harvested)."""

from __future__ import annotations

import re

import pytest
import requests

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.deployments import load_deployment
from careledger.provenance.ids import batch_id, leaf_hash
from careledger.provenance.merkle import process_proof
from careledger.provenance.proofs import fetch_proof, sign_proof_request
from tools.webapp.seed import GTIN

pytestmark = pytest.mark.browser


def _parts(scan: str) -> tuple[str, str, int]:
    m = re.search(r"\(17\)(\d{6})\(10\)([^(]+)\(21\)(.+)$", scan)
    assert m is not None
    return m.group(2), m.group(3), int(m.group(1))


@pytest.fixture
def ask(suite, webapp, drugs):
    registry = load_deployment(suite.w3).address("ProvenanceRegistry")
    chain_id = suite.w3.eth.chain_id

    def _ask(name: str, scan: str, ahead: int = 60, nonce: int | None = None, body=None):
        lot, serial, _ = _parts(scan)
        now = int(suite.w3.eth.get_block("latest")["timestamp"])
        signed = body or sign_proof_request(
            dev_account(name).account, chain_id, registry, GTIN, lot, serial, now + ahead, nonce
        )
        return fetch_proof(webapp.url + "proofs", signed), signed

    return _ask


def test_a_pharmacy_gets_the_proof_of_one_unit(suite, drugs, ask):
    answer, _ = ask("pharmacy", drugs["good"])
    assert answer.status == 200 and answer.known and answer.index == 0
    lot, serial, _ = _parts(drugs["good"])
    abi = load_artifacts()["ProvenanceRegistry"].abi
    registry = suite.w3.eth.contract(address=load_deployment(suite.w3).address("ProvenanceRegistry"), abi=abi)
    root = registry.functions.batchInfo(batch_id(GTIN, lot)).call()[0]
    assert process_proof(leaf_hash(GTIN, serial), answer.index, list(answer.proof)) == bytes(root)


def test_unknown_serial_and_missing_list_are_told_apart(drugs, ask):
    answer, _ = ask("distributor", drugs["counterfeit"])
    assert (answer.status, answer.known) == (200, False)
    answer, _ = ask("pharmacy", drugs["no_tree"])
    assert answer.status == 404 and "no serial list" in (answer.error or "")


def test_a_non_partner_is_refused(drugs, ask):
    for name in ("patient", "insurer"):
        answer, _ = ask(name, drugs["good"])
        assert answer.status == 403 and "not an active trading partner" in (answer.error or "")


def test_expired_far_or_replayed_requests_are_refused(drugs, ask):
    assert ask("pharmacy", drugs["good"], ahead=-1)[0].status == 401
    assert ask("pharmacy", drugs["good"], ahead=301)[0].status == 401
    first, body = ask("pharmacy", drugs["good"], nonce=424242)
    assert first.status == 200
    again, _ = ask("pharmacy", drugs["good"], body=body)
    assert again.status == 409 and "nonce" in (again.error or "")


def test_a_request_signed_by_someone_else_is_refused(suite, drugs, ask):
    _, body = ask("pharmacy", drugs["good"], nonce=777)
    body["request"]["pharmacy"] = dev_account("distributor").address  # claims to be another partner
    answer, _ = ask("pharmacy", drugs["good"], body=body)
    assert answer.status == 401 and "not signed by the partner it names" in (answer.error or "")


def test_whole_trees_are_not_served(suite, webapp, drugs):
    lot, _, _ = _parts(drugs["good"])
    bid = "0x" + batch_id(GTIN, lot).hex()
    tree = (suite.folder / "provenance" / f"{bid}.tree").read_bytes()
    resp = requests.get(f"{webapp.url}trees/{bid}.tree", timeout=10)
    assert resp.content != tree and tree[-64:] not in resp.content  # at most the page's HTML fallback
    assert requests.get(f"{webapp.url}proofs", timeout=10).status_code == 405


def test_each_partner_is_rate_limited(suite, webapp, drugs):
    """A second server with a limit of 3 proofs a minute: the 4th signed request of one partner
    is refused (429), another partner is still served."""
    from tools.webapp import WebApp

    registry = load_deployment(suite.w3).address("ProvenanceRegistry")
    lot, serial, _ = _parts(drugs["good"])
    env = {**webapp.env, "CARELEDGER_PROOF_RATE": "3"}
    with WebApp(webapp.dist, env=env) as limited:
        now = int(suite.w3.eth.get_block("latest")["timestamp"])

        def ask(name: str) -> int:
            body = sign_proof_request(
                dev_account(name).account, suite.w3.eth.chain_id, registry, GTIN, lot, serial, now + 60
            )
            return fetch_proof(limited.url + "proofs", body).status

        assert [ask("pharmacy") for _ in range(4)] == [200, 200, 200, 429]
        assert ask("distributor") == 200


def test_cli_verifies_with_a_partners_proof_service(suite, webapp, drugs, tmp_path):
    """`careledger drugs verify --proof-service URL` for a pharmacy without the serial list: the
    request is signed with --account; a non-partner's request is refused (exit 3)."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "CARELEDGER_RPC": suite.rpc,
        "CARELEDGER_PROVENANCE_DIR": str(tmp_path / "empty-store"),  # no local list
    }

    def cli(account: str, scan: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", "from careledger.cli.main import main; main()", "--account", account]
        cmd += ["--json", "drugs", "verify", scan, "--proof-service", webapp.url + "proofs"]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)

    good = cli("pharmacy", drugs["good"])
    assert good.returncode == 0, good.stderr
    assert '"verdict": "Verified"' in good.stdout
    fake = cli("pharmacy", drugs["counterfeit"])
    assert fake.returncode == 1 and "No_match_GTIN_Serial" in fake.stdout
    outsider = cli("patient", drugs["good"])
    assert outsider.returncode == 3 and "not an active trading partner" in outsider.stdout  # --json: the error as JSON
