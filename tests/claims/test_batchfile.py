"""Batch files: parsing CSV/JSON rows with line numbers, amounts and dates (no chain needed)."""

from __future__ import annotations

import json

import pytest

from careledger.claims.batchfile import load_rows, parse_amount, parse_day
from careledger.claims.client import ClaimRequest
from careledger.claims.types import service_code
from careledger.errors import InvalidInput

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
    rows = load_rows(f, PAYEE, 6)
    assert [line for line, _ in rows] == [2, 3, 4, 5]
    ok = rows[0][1]
    assert isinstance(ok, ClaimRequest)
    assert ok.lines[0].code == service_code("CPT:99213")
    assert ok.lines[0].billed == 180_000_000
    assert ok.payee.lower() == PAYEE
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
    rows = load_rows(f, PAYEE, 6)
    assert rows[0][0] == 2
    assert isinstance(rows[0][1], ClaimRequest)
    assert len(rows[0][1].lines) == 2
    assert rows[1][0] > rows[0][0]
    assert "date" in rows[1][1].error


def test_not_a_claims_file_refused(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("hello,world\n1,2\n")
    with pytest.raises(InvalidInput, match="CSV header"):
        load_rows(f, PAYEE, 6)
    g = tmp_path / "x.json"
    g.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_rows(g, PAYEE, 6)
