"""Pharmacy view against the provenance registry: the verdict in DSCSA words, the custody
timeline from events, dispensing by the holding pharmacy, and the clone caught afterwards."""

from __future__ import annotations

import json
import re

import pytest

from careledger.accounts import dev_account
from careledger.provenance.gs1 import expiry_date

pytestmark = pytest.mark.browser


def label(name: str) -> str:
    return dev_account(name).label


def test_pharmacy_verifies_good_recalled_and_counterfeit_units(drugs, browse, suite):
    scans = {k: drugs[k] for k in ("good", "recalled", "counterfeit", "wrong_expiry", "unknown_lot", "no_tree")}
    result = browse("pharmacy.mjs", SCANS=json.dumps(scans))["scans"]

    good = result["good"]
    assert good["verdict"] == "Verified" and good["word"] == "VERIFIED"
    # The expiry shown is read as the chain reads it: GS1 GS 7.12 in the latest block's year.
    yymmdd = re.search(r"\(17\)(\d{6})", drugs["good"]).group(1)  # type: ignore[union-attr]
    chain_time = int(suite.w3.eth.get_block("latest")["timestamp"])
    assert good["expiry"] == expiry_date(yymmdd, chain_time).isoformat()
    assert label("pharmacy") in good["holder"]
    assert good["canDispense"] is True
    assert [step.split(" — ")[0] for step in good["custody"]] == [
        "Commissioning",
        "Shipping",
        "Receiving",
        "Shipping",
        "Receiving",
    ]
    assert f"{label('manufacturer')}" in good["custody"][0] and "1000 units" in good["custody"][0]
    assert label("pharmacy") in good["custody"][-1]

    recalled = result["recalled"]
    assert recalled["verdict"] == "Recalled" and recalled["word"] == "RECALLED"
    assert recalled["canDispense"] is False
    assert recalled["custody"][-1].startswith("Recall") and "CONTAMINATION" in recalled["custody"][-1]

    assert result["counterfeit"]["verdict"] == "No_match_GTIN_Serial"
    assert result["wrong_expiry"]["verdict"] == "No_match_Expiry"
    assert result["unknown_lot"]["verdict"] == "Unknown_batch"
    # A batch the chain knows but whose serial tree is not here: never called a counterfeit.
    assert result["no_tree"]["verdict"] == "Unverifiable" and result["no_tree"]["word"] == "CANNOT VERIFY"


def test_holding_pharmacy_dispenses_and_a_second_scan_reads_already_dispensed(drugs, browse):
    result = browse("pharmacy.mjs", SCANS=json.dumps({"before": drugs["to_dispense"]}), DISPENSE="before")
    assert result["scans"]["before"]["verdict"] == "Verified"
    assert result["dispensed"].startswith("Dispensed in block")
    rescan = result["rescan"]
    assert rescan["verdict"] == "Dispensed" and rescan["word"] == "ALREADY DISPENSED"
    assert label("pharmacy") in rescan["holder"]
    assert rescan["custody"][-1].startswith("Dispensing")


def test_uploaded_datamatrix_of_a_good_unit_is_verified(drugs, browse):
    result = browse("pharmacy.mjs", IMAGE_SCAN=drugs["good"])
    assert result["image"]["verdict"] == "Verified"
