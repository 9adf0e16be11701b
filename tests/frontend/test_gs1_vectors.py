"""The web client's GS1 date rule (frontend/src/gs1.js), run in Chromium, passes the vectors the
registry and the Python client pass (tests/data/gs1_expiry_vectors.json; GS1 General
Specifications 7.12). Needs no chain or app server: the module is loaded into a blank page."""

from __future__ import annotations

import json
from typing import Any

import pytest

from careledger._paths import project_root
from careledger.web import run_script

pytestmark = pytest.mark.browser

VECTORS = project_root() / "tests" / "data" / "gs1_expiry_vectors.json"
# The page's sentence for each kind of invalid date.
MESSAGES = {"format": "must be 6 digits", "month": "which does not exist", "day": "is not a real date"}


@pytest.fixture(scope="module")
def result(chromium: str) -> dict[str, Any]:
    return run_script("gs1_vectors.mjs", {"VECTORS": str(VECTORS)})


def test_browser_reads_every_vector_as_the_chain_does(result):
    cases = json.loads(VECTORS.read_text())["cases"]
    assert result["pageErrors"] == []
    assert "Chrome" in result["userAgent"]
    got = result["results"]
    assert [(g["yymmdd"], g["reference"]) for g in got] == [(c["yymmdd"], c["reference"]) for c in cases]
    for case, g in zip(cases, got, strict=True):
        if "date" in case:
            assert g.get("date") == case["date"], (case, g)
        else:
            assert g.get("scanError") is True, (case, g)
            assert MESSAGES[case["error"]] in g["error"], (case, g)


def test_browser_never_falls_back_to_the_pc_clock(result):
    assert result["unresolved"]["expiry"] == "991231"
    assert result["unresolved"]["expiryDate"] is None
    assert result["unresolved"]["missing"].startswith("TypeError: a GS1 date needs a reference time")
