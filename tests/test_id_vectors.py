"""The identifiers the contracts derive, against the shared vectors of tests/data/id_vectors.json:
the contracts' own pure functions (consentIdOf, breakGlassIdOf, unitIdOf, batchIdOf, claimIdOf)
on the embedded chain, and the Python mirrors the SDK uses off chain (with the Merkle leaf and
the pairwise pseudonym path, which no contract derives). The web client's mirrors run
the same file under Node (tests/frontend/test_node_vectors.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from careledger._paths import project_root
from careledger.accounts import pairwise_path
from careledger.claims.types import claim_id
from careledger.consent.terms import break_glass_id, consent_id
from careledger.provenance.ids import batch_id, leaf_hash, text_to_bytes32, unit_id

VECTORS: dict[str, Any] = json.loads((project_root() / "tests" / "data" / "id_vectors.json").read_text())
CASES: dict[str, list[dict[str, Any]]] = VECTORS["cases"]


def _hex(value: bytes | int) -> str:
    return "0x" + (value.to_bytes(32, "big") if isinstance(value, int) else bytes(value)).hex()


def _ids(kind: str) -> list[str]:
    return [f"{kind}-{i}" for i in range(len(CASES[kind]))]


def test_vectors_cover_every_derivation_and_edge():
    assert set(CASES) == set(VECTORS["formulas"]) == {
        "consentId", "breakGlassId", "unitId", "leaf", "batchId", "claimId", "pairwisePath",
    }  # fmt: skip
    assert all(len(cases) >= 3 for cases in CASES.values())
    assert any(c["seq"] == str(2**64 - 1) for c in CASES["consentId"])
    assert any(len(c["serial"]) == 20 for c in CASES["unitId"])
    assert any(c["resubmission"] == str(2**16 - 1) for c in CASES["claimId"])
    for kind, cases in CASES.items():  # every case gives its own id
        key = {"leaf": "leaf", "pairwisePath": "path"}.get(kind, "id")
        assert len({c[key] for c in cases}) == len(cases), kind


# ------------------------------------------------------------------ Python mirrors


@pytest.mark.parametrize("case", CASES["consentId"], ids=_ids("consentId"))
def test_python_consent_id(case):
    assert _hex(consent_id(case["patient"], case["grantee"], int(case["seq"]))) == case["id"]


@pytest.mark.parametrize("case", CASES["breakGlassId"], ids=_ids("breakGlassId"))
def test_python_break_glass_id(case):
    assert _hex(break_glass_id(case["patient"], case["provider"], int(case["seq"]))) == case["id"]


@pytest.mark.parametrize("case", CASES["unitId"], ids=_ids("unitId"))
def test_python_unit_id(case):
    assert _hex(unit_id(int(case["gtin"]), case["serial"])) == case["id"]


@pytest.mark.parametrize("case", CASES["leaf"], ids=_ids("leaf"))
def test_python_leaf(case):
    assert _hex(leaf_hash(int(case["gtin"]), case["serial"])) == case["leaf"]


@pytest.mark.parametrize("case", CASES["batchId"], ids=_ids("batchId"))
def test_python_batch_id(case):
    assert _hex(batch_id(int(case["gtin"]), case["lot"])) == case["id"]


@pytest.mark.parametrize("case", CASES["claimId"], ids=_ids("claimId"))
def test_python_claim_id(case):
    episode = bytes.fromhex(case["episode"][2:])
    got = claim_id(case["member"], case["payee"], int(case["servicePeriod"]), episode, int(case["resubmission"]))
    assert _hex(got) == case["id"]


@pytest.mark.parametrize("case", CASES["pairwisePath"], ids=_ids("pairwisePath"))
def test_python_pairwise_path(case):
    assert pairwise_path(case["counterparty"], int(case["identity"])) == case["path"]


# ------------------------------------------------------------------ the contracts


@pytest.fixture(scope="module")
def deployed(project, directory, admin):
    consent = project.ConsentRegistry.deploy(directory, sender=admin)
    provenance = project.ProvenanceRegistry.deploy(directory, sender=admin)
    # claimIdOf is pure: any non-zero token address will do.
    claims = project.ClaimSettlement.deploy(directory, consent, provenance, admin, sender=admin)
    return {"consent": consent, "provenance": provenance, "claims": claims}


def test_contracts_derive_every_vector(deployed):
    consent, provenance, claims = deployed["consent"], deployed["provenance"], deployed["claims"]
    for c in CASES["consentId"]:
        assert _hex(consent.consentIdOf(c["patient"], c["grantee"], int(c["seq"]))) == c["id"], c
    for c in CASES["breakGlassId"]:
        assert _hex(consent.breakGlassIdOf(c["patient"], c["provider"], int(c["seq"]))) == c["id"], c
    for c in CASES["unitId"]:
        assert _hex(provenance.unitIdOf(int(c["gtin"]), text_to_bytes32(c["serial"]))) == c["id"], c
    for c in CASES["batchId"]:
        assert _hex(provenance.batchIdOf(int(c["gtin"]), text_to_bytes32(c["lot"], "lot"))) == c["id"], c
    for c in CASES["claimId"]:
        got = claims.claimIdOf(c["member"], c["payee"], int(c["servicePeriod"]), c["episode"], int(c["resubmission"]))
        assert _hex(got) == c["id"], c
