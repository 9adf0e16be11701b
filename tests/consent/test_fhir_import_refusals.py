"""``careledger consent import-fhir`` refuses every Consent it cannot represent exactly: exit 2,
one readable line, and not a single request to the node (a recording JSON-RPC endpoint stands in
for the chain and must see nothing)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from careledger.cli.main import run
from careledger.codes import Category, Purpose
from careledger.consent import fhir
from careledger.consent.terms import ConsentState, consent_id, mask

PATIENT = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
CLINIC = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
T0, T1 = 1_790_000_000, 1_792_592_000
OBSERVATION = {"system": fhir.RESOURCE_TYPES, "code": "Observation"}


def _exported() -> dict[str, Any]:
    state = ConsentState(
        id=consent_id(PATIENT, CLINIC, 1),
        seq=1,
        categories=mask([Category.OBSERVATION, Category.MENTAL_HEALTH]),
        purposes=mask([Purpose.TREAT]),
        deny_categories=mask([Category.MENTAL_HEALTH]),
        deny_purposes=mask([Purpose.TREAT]),
        valid_from=T0,
        valid_until=T1,
        form_version=0,
    )
    return fhir.export_consent(PATIENT, CLINIC, state, now=T0)


@pytest.fixture(scope="module")
def rpc() -> Iterator[tuple[str, list[bytes]]]:
    """A JSON-RPC endpoint that records every request (and answers each with an error)."""
    seen: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            body = b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"recording only"}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _deny(r: dict[str, Any]) -> dict[str, Any]:
    deny: dict[str, Any] = r["provision"]["provision"][0]
    return deny


# (name, change to an exported Consent, words the one-line message must hold)
REFUSALS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("status-rejected", lambda r: r.update(status="rejected"), "status is 'rejected'"),
    ("status-proposed", lambda r: r.update(status="proposed"), "status is 'proposed'"),
    ("status-inactive", lambda r: r.update(status="inactive"), "status is 'inactive'"),
    (
        "data",
        lambda r: r["provision"].update(data=[{"meaning": "instance", "reference": {"reference": "Observation/1"}}]),
        "provision.data cannot be represented",
    ),
    (
        "dataPeriod",
        lambda r: r["provision"].update(dataPeriod={"start": "2026-01-01", "end": "2026-01-01"}),
        "provision.dataPeriod cannot be represented",
    ),
    (
        "code",
        lambda r: r["provision"].update(code=[{"coding": [{"system": "http://loinc.org", "code": "718-7"}]}]),
        "provision.code cannot be represented",
    ),
    (
        "action-disclose",
        lambda r: r["provision"].update(action=[{"coding": [{"system": fhir.CONSENT_ACTION, "code": "disclose"}]}]),
        "grants access only",
    ),
    (
        "securityLabel-other-system",
        lambda r: r["provision"].update(
            securityLabel=[{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]
        ),
        "provision.securityLabel",
    ),
    (
        "securityLabel-unknown-code",
        lambda r: r["provision"].update(securityLabel=[{"system": fhir.ACT_CODE, "code": "HIV"}]),
        "security label 'HIV'",
    ),
    (
        "class-other-system",
        lambda r: r["provision"].update({"class": [{"system": "http://example.org/classes", "code": "Observation"}]}),
        "provision.class",
    ),
    (
        "actor-role",
        lambda r: r["provision"]["actor"][0].update(
            role={"coding": [{"system": fhir.PARTICIPATION_TYPE, "code": "AUT"}]}
        ),
        "actor role 'AUT' is not modelled",
    ),
    (
        "deny-with-actor",
        lambda r: _deny(r).update(actor=copy.deepcopy(r["provision"]["actor"])),
        "provision.provision.actor cannot be represented",
    ),
    (
        "deny-with-period",
        lambda r: _deny(r).update(period={"start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z"}),
        "provision.provision.period cannot be represented",
    ),
    (
        "deny-with-data",
        lambda r: _deny(r).update(data=[{"meaning": "instance", "reference": {"reference": "Observation/1"}}]),
        "provision.provision.data cannot be represented",
    ),
    (
        "nested-below-deny",
        lambda r: _deny(r).update(provision=[{"type": "permit", "class": [OBSERVATION]}]),
        "provision.provision.provision cannot be represented",
    ),
    (
        "extension",
        lambda r: r["provision"].update(extension=[{"url": "http://example.org/x", "valueString": "y"}]),
        "provision.extension cannot be represented",
    ),
    (
        "modifierExtension",
        lambda r: r.update(modifierExtension=[{"url": "http://example.org/x", "valueBoolean": True}]),
        "Consent.modifierExtension",
    ),
    (
        "scope-research",
        lambda r: r["scope"]["coding"][0].update(code="research"),
        "not patient-privacy",
    ),
    (
        "policy-optout",
        lambda r: r["policyRule"]["coding"][0].update(code="OPTOUT"),
        "not OPTIN",
    ),
]


def _import(rpc: str, tmp_path: Path, resource: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(resource))
    code = run(["--rpc", rpc, "--account", "patient", "consent", "import-fhir", str(path)])
    out = capsys.readouterr()
    assert out.out == ""
    return code, out.err


@pytest.mark.parametrize(("mutate", "words"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_import_refuses_what_it_cannot_represent(rpc, tmp_path, capsys, mutate, words):
    url, seen = rpc
    resource = _exported()
    mutate(resource)
    code, err = _import(url, tmp_path, resource, capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert words in err, err
    assert seen == [], "a refused import must not reach the node"


def test_the_reported_consent_is_refused_not_granted_wider(rpc, tmp_path, capsys):
    # The case found by a user: rejected, one Observation instance, a one-day data period. Every
    # one of the three would narrow or cancel the grant; the first one found is reported.
    url, seen = rpc
    resource = _exported()
    resource["status"] = "rejected"
    resource["provision"]["data"] = [{"meaning": "instance", "reference": {"reference": "Observation/f001"}}]
    resource["provision"]["dataPeriod"] = {"start": "2026-03-01", "end": "2026-03-01"}
    code, err = _import(url, tmp_path, resource, capsys)
    assert (code, seen) == (2, [])
    assert err == (
        "error: cannot import this Consent: its status is 'rejected'; only an 'active' Consent is an agreed grant; "
        "nothing was granted\n"
    )
    resource["status"] = "active"
    code, err = _import(url, tmp_path, resource, capsys)
    assert (code, seen) == (2, [])
    assert "provision.data cannot be represented" in err
    assert "limits the consent to particular resource instances" in err


def test_import_accepts_access_action_and_the_exported_form(rpc, tmp_path, capsys):
    # The one action the registry models passes the checks, so the command goes on to the node
    # (which this recording endpoint does not serve): proof that the refusals above are specific.
    url, seen = rpc
    resource = _exported()
    resource["provision"]["action"] = [{"coding": [{"system": fhir.CONSENT_ACTION, "code": "access"}]}]
    _, terms = fhir.import_consent(resource)
    assert terms.grantee == CLINIC
    code, _err = _import(url, tmp_path, resource, capsys)
    assert code != 2
    assert seen, "a representable Consent goes on to the node"
    seen.clear()
