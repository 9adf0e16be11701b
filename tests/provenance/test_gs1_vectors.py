"""The one GS1 date rule (GS1 General Specifications 7.12, DD = 00 = last day of the month), as
the registry's GS1Date library and the Python client implement it, against the shared vectors in
tests/data/gs1_expiry_vectors.json (the web client runs the same file under Node:
tests/frontend/test_node_vectors.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import ape
import pytest

from careledger._paths import project_root
from careledger.errors import InvalidInput
from careledger.provenance.gs1 import expires_at, expiry_date

VECTORS: list[dict[str, Any]] = json.loads((project_root() / "tests" / "data" / "gs1_expiry_vectors.json").read_text())[
    "cases"
]
IDS = [f"{c['yymmdd']}@{c['reference']}" for c in VECTORS]
# The contract takes YYMMDD as a number, so a text with letters or under six digits has no
# on-chain form (as a number "27123" is 027123, another date): those cases are the Python and
# JavaScript parsers' alone. Every other case, seven digits included, runs against the contract.
ON_CHAIN = [c for c in VECTORS if c["yymmdd"].isdigit() and len(c["yymmdd"]) >= 6]
# What the Python client's message says for each kind of invalid date.
MESSAGES = {"format": "must be 6 digits", "month": "has month", "day": "no day"}


def _ts(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def test_vectors_cover_the_edges():
    whys = " ".join(c["why"] for c in VECTORS)
    for edge in ("+49", "+50", "+51", "-49", "-50", "-51", "DD = 00", "30 February", "month 13", "day 32"):
        assert edge in whys, edge
    assert {c.get("error") for c in VECTORS} == {None, "format", "month", "day"}
    off_chain = [c for c in VECTORS if c not in ON_CHAIN]
    assert {c.get("error") for c in off_chain} == {"format"}, "only malformed texts may skip the contract"


@pytest.mark.parametrize("case", VECTORS, ids=IDS)
def test_python_reads_each_vector(case):
    for reference in (_ts(case["reference"]), dt.datetime.fromisoformat(case["reference"].replace("Z", "+00:00"))):
        if "date" in case:
            assert expiry_date(case["yymmdd"], reference).isoformat() == case["date"]
        else:
            with pytest.raises(InvalidInput, match=MESSAGES[case["error"]]) as err:
                expiry_date(case["yymmdd"], reference)
            assert case["yymmdd"] in str(err.value)


def test_python_refuses_a_reference_without_a_zone():
    with pytest.raises(TypeError, match="timezone-aware"):
        expiry_date("301231", dt.datetime(2026, 1, 1))  # a naive datetime: the point of the test


@pytest.fixture(scope="module")
def gs1date(project, admin):
    return project.MockGS1Date.deploy(sender=admin)


@pytest.mark.parametrize("case", ON_CHAIN, ids=[f"{c['yymmdd']}@{c['reference']}" for c in ON_CHAIN])
def test_contract_reads_each_vector(gs1date, case):
    text, ts = case["yymmdd"], _ts(case["reference"])
    assert gs1date.yearOf(ts) == int(case["reference"][:4])
    if "date" in case:
        day = dt.date.fromisoformat(case["date"])
        assert tuple(gs1date.toDate(int(text), ts)) == (day.year, day.month, day.day)
        next_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert gs1date.expiresAt(int(text), ts) == max(0, int(next_day.timestamp()))
        assert gs1date.expiresAt(int(text), ts) == expires_at(text, ts)
    elif case["error"] == "day":
        with ape.reverts(gs1date.NoSuchDay, value=int(text), day=int(text[4:])):
            gs1date.expiresAt(int(text), ts)
    else:  # a month out of range, or more than six digits
        with ape.reverts(gs1date.InvalidGs1Date, value=int(text)):
            gs1date.expiresAt(int(text), ts)


def test_contract_no_such_day_names_the_year_the_rule_gave(gs1date):
    # 000229 read in 2080 is 29 February 2100, which does not exist.
    with ape.reverts(gs1date.NoSuchDay, value=229, year=2100, month=2, day=29, daysInMonth=28):
        gs1date.toDate(229, _ts("2080-03-01T00:00:00Z"))


def test_contract_year_of_every_year_end_matches_the_calendar(gs1date):
    # civil_from_days at the last and first second of each year 1970-2200 (leap and century years).
    assert gs1date.yearOf(0) == 1970
    for year in (1971, 1999, 2000, 2001, 2024, 2027, 2028, 2096, 2099, 2100, 2101, 2199, 2200):
        first = _ts(f"{year}-01-01T00:00:00Z")
        assert (gs1date.yearOf(first - 1), gs1date.yearOf(first)) == (year - 1, year)
