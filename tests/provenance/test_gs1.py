"""GS1 scans: element strings (parentheses, FNC1/GS), Digital Links, DataMatrix images."""

from __future__ import annotations

import datetime as dt

import pytest

from careledger.errors import InvalidInput
from careledger.provenance import gs1
from careledger.provenance.gs1 import (
    decode_image,
    digital_link,
    element_string,
    hri,
    parse_scan,
    write_datamatrix,
)

GTIN = "09506000134352"
# The time the expiry dates are read at (GS1 GS 7.12 century); fixed, never the wall clock.
REFERENCE = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "scan",
    [
        "(01)09506000134352(17)301231(10)LOT-1(21)SN.42",
        "01095060001343521730123110LOT-1\x1d21SN.42",
        "]d201095060001343521730123110LOT-1\x1d21SN.42",
        "\x1d01095060001343521730123110LOT-1\x1d21SN.42",
        "01095060001343521730123110LOT-1<GS>21SN.42",
        "0109506000134352172SN".replace("172SN", "17301231") + "21SN.42\x1d10LOT-1",
        "https://id.gs1.org/01/09506000134352/10/LOT-1/21/SN.42?17=301231",
    ],
)
def test_parse_scan_accepts_every_form(scan):
    s = parse_scan(scan, reference=REFERENCE)
    assert (s.gtin, s.lot, s.expiry, s.serial, s.expiry_date) == (
        GTIN,
        "LOT-1",
        "301231",
        "SN.42",
        dt.date(2030, 12, 31),
    )


def test_parse_scan_gtin_in_ai01_must_have_14_digits():
    with pytest.raises(InvalidInput, match="must be 14 digits"):
        parse_scan("(01)9506000134352(17)301231(10)L(21)S")


def test_parse_scan_day_00_is_last_day_of_month():
    assert parse_scan(hri(GTIN, "L", "280200", "S"), reference=REFERENCE).expiry_date == dt.date(2028, 2, 29)
    assert parse_scan(hri(GTIN, "L", "270200", "S"), reference=REFERENCE).expiry_date == dt.date(2027, 2, 28)


def test_parse_scan_without_reference_checks_but_does_not_resolve_the_date():
    s = parse_scan(hri(GTIN, "L", "991231", "S"))
    assert (s.expiry, s.expiry_date) == ("991231", None)
    assert "expiryDate" not in s.to_json()
    # Read in 2026, 99 is 1999 (GS1 GS 7.12); read in 2060, 2099.
    assert parse_scan(hri(GTIN, "L", "991231", "S"), reference=REFERENCE).expiry_date == dt.date(1999, 12, 31)
    in_2060 = dt.datetime(2060, 1, 1, tzinfo=dt.UTC)
    assert parse_scan(hri(GTIN, "L", "991231", "S"), reference=in_2060).to_json()["expiryDate"] == "2099-12-31"


def test_parse_scan_source_recorded():
    assert parse_scan(digital_link(GTIN, "L", "301231", "S")).source == "digital-link"
    assert parse_scan(element_string(GTIN, "L", "301231", "S")).source == "element-string"


@pytest.mark.parametrize(
    ("scan", "quoted"),
    [
        ("(01)09506000134353(17)301231(10)L(21)S", "09506000134353"),  # bad check digit
        ("(01)09506000134352(17)301231(10)L", "serial (21)"),  # missing AI
        ("(01)09506000134352(10)L(21)S", "expiry (17)"),  # missing AI
        ("(01)09506000134352(17)301231(10)L(21)" + "X" * 21, "X" * 21),  # serial of 21
        ("01095060001343521730123110L\x1d21" + "X" * 21, "X" * 21),  # serial of 21, raw
        ("https://id.gs1.org/01/09506000134352/10/L/21/" + "X" * 21 + "?17=301231", "X" * 21),
        ("(01)09506000134352(17)301301(10)L(21)S", "301301"),  # month 13
        ("(01)09506000134352(17)300231(10)L(21)S", "300231"),  # 31 February
        ("(01)09506000134352(17)301231(10)L(21)S~", "~"),  # outside GS1 set 82
        ("junk", "junk"),
        ("(01)0950600013435", "0950600013435"),
        ("https://id.gs1.org/01/09506000134353/10/L/21/S?17=301231", "09506000134353"),
        ("", "empty"),
    ],
)
def test_parse_scan_malformed_refused_with_quote(scan, quoted):
    with pytest.raises(InvalidInput) as err:
        parse_scan(scan)
    assert quoted in str(err.value)


def test_datamatrix_image_round_trip(tmp_path):
    data = element_string(GTIN, "LOT-9", "301231", "SERIAL-77")
    path = write_datamatrix(data, tmp_path / "unit.png")
    assert decode_image(path) == data
    s = parse_scan(decode_image(path))
    assert (s.lot, s.serial) == ("LOT-9", "SERIAL-77")


def test_decode_image_not_an_image_refused(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("not an image")
    with pytest.raises(InvalidInput, match="not an image"):
        decode_image(bad)
    with pytest.raises(InvalidInput, match="does not exist"):
        decode_image(tmp_path / "missing.png")


def test_expiry_after_counts_days_from_the_reference_and_reads_back_the_same_day():
    leap_eve = int(dt.datetime(2028, 2, 28, 23, 59, tzinfo=dt.UTC).timestamp())
    assert gs1.expiry_after(1, leap_eve) == "280229"
    assert gs1.expiry_after(2, leap_eve) == "280301"
    year_end = dt.datetime(2030, 12, 31, 22, 0, tzinfo=dt.UTC)
    assert gs1.expiry_after(1, year_end) == "310101"
    assert gs1.expiry_after(3 * 365, dt.date(2049, 6, 1)) == "520531"
    assert gs1.expiry_date(gs1.expiry_after(3 * 365, year_end), year_end) == dt.date(2033, 12, 30)
    with pytest.raises(ValueError, match="window"):
        gs1.expiry_after(50 * 365, year_end)
    with pytest.raises(TypeError, match="timezone-aware"):  # same reference rule as expiry_date
        gs1.expiry_after(1, dt.datetime(2030, 12, 31, 22, 0))
