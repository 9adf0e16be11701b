"""Batch files: parsing CSV/JSON rows with line numbers, amounts and dates (no chain needed)."""

from __future__ import annotations

import json

import pytest

from careledger.claims.batchfile import load_rows, parse_amount, parse_day
from careledger.claims.client import ClaimRequest
from careledger.claims.keys import PlanContext
from careledger.claims.types import CodeKey, PlanTerms, claim_id
from careledger.errors import InvalidInput

KEY = CodeKey(b"\x42" * 32)
CTX = PlanContext(1, KEY, PlanTerms(100, 1_000, 500, 0, period_start=0))

MEMBER = "0x" + "ab" * 20
PAYEE = "0x" + "cd" * 20
FHIR = "0x" + "11" * 32


@pytest.mark.parametrize(("text", "units"), [("180", 180_000_000), ("0.000001", 1), ("12.5", 12_500_000)])
def test_parse_amount_valid(text, units):
    assert parse_amount(text, 6) == units


@pytest.mark.parametrize("text", ["0", "-1", "1.0000001", "abc", "", str(2**96)])
def test_parse_amount_invalid_refused(text):
    with pytest.raises(InvalidInput):
        parse_amount(text, 6)


def test_parse_day():
    assert parse_day("1970-01-02") == 1
    with pytest.raises(InvalidInput, match="not YYYY-MM-DD"):
        parse_day("20/11/2026")


def test_csv_bad_rows_reported_with_line_numbers(tmp_path):
    f = tmp_path / "claims.csv"
    f.write_text(
        "member,payee,service_date,code,units,billed,unit_id,fhir_claim\n"
        f"{MEMBER},,2026-11-20,CPT:99213,1,180.00,,{FHIR}\n"
        f"0xnothex,,2026-11-20,CPT:99213,1,180.00,,{FHIR}\n"
        f"{MEMBER},,2026-11-20,XYZ:1,1,180.00,,{FHIR}\n"
        f"{MEMBER},{PAYEE},2026-11-21,CPT:99213,2,-5,,{FHIR}\n"
    )
    rows = load_rows(f, PAYEE, 6, CTX)
    assert [line for line, _ in rows] == [2, 3, 4, 5]
    ok = rows[0][1]
    assert isinstance(ok, ClaimRequest)
    # The code travels as the plan-keyed digest; the date as the plan year and the episode MAC.
    assert ok.lines[0].code == KEY.digest(1, "CPT:99213") == CTX.code("CPT:99213")
    assert ok.lines[0].billed == 180_000_000
    assert ok.payee.lower() == PAYEE
    day = parse_day("2026-11-20")
    assert ok.service_period == (day * 86_400) // (365 * 86_400)
    assert ok.claim_id == claim_id(MEMBER, PAYEE, ok.service_period, KEY.episode(1, MEMBER, PAYEE, day))
    errors = {line: r.error for line, r in rows[1:]}
    assert "member" in errors[3]
    assert "service code" in errors[4]
    assert "amount" in errors[5]


def test_json_multi_line_claims_and_line_numbers(tmp_path):
    f = tmp_path / "claims.json"
    data = [
        {
            "member": MEMBER,
            "serviceDate": "2026-11-20",
            "fhirClaim": FHIR,
            "lines": [
                {"code": "CPT:99213", "units": 1, "billed": "50"},
                {"code": "CPT:71046", "units": 1, "billed": 9},
            ],
        },
        {"member": MEMBER, "serviceDate": "bad", "fhirClaim": FHIR, "lines": []},
    ]
    f.write_text(json.dumps(data, indent=2))
    rows = load_rows(f, PAYEE, 6, CTX)
    assert rows[0][0] == 2
    assert isinstance(rows[0][1], ClaimRequest)
    assert len(rows[0][1].lines) == 2
    assert rows[1][0] > rows[0][0]
    assert "date" in rows[1][1].error


def test_not_a_claims_file_refused(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("hello,world\n1,2\n")
    with pytest.raises(InvalidInput, match="CSV header"):
        load_rows(f, PAYEE, 6, CTX)
    g = tmp_path / "x.json"
    g.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_rows(g, PAYEE, 6, CTX)


def test_drug_line_units_and_gtin(tmp_path):
    f = tmp_path / "rx.csv"
    u1, u2 = "0x" + "01" * 32, "0x" + "02" * 32
    f.write_text(
        "member,payee,service_date,code,units,billed,unit_id,fhir_claim,gtin\n"
        f"{MEMBER},,2026-11-20,NDC:0002-1433-80,2,70.00,{u1};{u2},{FHIR},30002143380109\n"
        f"{MEMBER},,2026-11-20,NDC:0002-1433-80,1,35.00,{u1},{FHIR},\n"
    )
    rows = load_rows(f, PAYEE, 6, CTX)
    ok = rows[0][1]
    assert isinstance(ok, ClaimRequest)
    assert ok.lines[0].unit_ids == (bytes.fromhex("01" * 32), bytes.fromhex("02" * 32))
    assert ok.lines[0].gtin_salt == KEY.gtin_salt(1, "NDC:0002-1433-80", 30002143380109)
    assert "gtin" in rows[1][1].error
