"""Parsing what a pharmacy scanner yields into the GS1 product identifier of one unit.

Accepted inputs (GS1 General Specifications 7.8, 7.9; GS1 Digital Link 1.2):

- an element string in human-readable form: ``(01)09506000134352(17)260630(10)LOT1(21)SN1``;
- the raw data of a GS1 DataMatrix: FNC1 transmitted as ``\\x1d`` (GS) between variable-length
  fields, optionally preceded by the symbology identifier ``]d2`` (or ``]C1``, ``]Q3``, ``]e0``);
- a GS1 Digital Link URI: ``https://id.example/01/09506000134352/10/LOT1/21/SN1?17=260630``;
- a DataMatrix image file (PNG, JPEG, ...) through :func:`decode_image` (zxing-cpp).

Element strings and Digital Links are interpreted with ``biip``; every failure becomes
:class:`careledger.errors.InvalidInput` quoting the part that is wrong.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger.errors import InvalidInput
from careledger.provenance.ids import GS1_CHARS

__all__ = [
    "Reference",
    "Scan",
    "century_year",
    "check_yymmdd",
    "decode_image",
    "digital_link",
    "element_string",
    "expires_at",
    "expiry_after",
    "expiry_date",
    "hri",
    "parse_scan",
    "reference_year",
    "write_datamatrix",
]

GS = "\x1d"
_HRI_PART = re.compile(r"\((\d{2,4})\)([^()]*)")
_SYMBOLOGY = re.compile(r"^\](d2|C1|Q3|e0|J1)")
_LIMITS = {"01": 14, "10": 20, "17": 6, "21": 20}
_NAMES = {"01": "GTIN (01)", "10": "lot (10)", "17": "expiry (17)", "21": "serial (21)"}


@dataclass(frozen=True)
class Scan:
    """One unit's GS1 identifiers. ``expiry`` is YYMMDD as printed (day 00 allowed);
    ``expiry_date`` the calendar date it stands for (day 00 = last day of the month), resolved
    against the reference time given to :func:`parse_scan` (``None`` without one)."""

    gtin: str
    lot: str
    expiry: str
    serial: str
    expiry_date: dt.date | None
    source: str

    @property
    def gtin_int(self) -> int:
        return int(self.gtin)

    @property
    def expiry_int(self) -> int:
        return int(self.expiry)

    def to_json(self) -> dict[str, Any]:
        out = {
            "gtin": self.gtin,
            "lot": self.lot,
            "expiry": self.expiry,
            "expiryDate": None if self.expiry_date is None else self.expiry_date.isoformat(),
            "serial": self.serial,
            "source": self.source,
        }
        return {k: v for k, v in out.items() if v is not None}


def _short(text: str, n: int = 60) -> str:
    shown = text.replace(GS, "<GS>")
    return shown if len(shown) <= n else shown[: n - 3] + "..."


def _check_gtin(value: str) -> str:
    from biip.gtin import Gtin

    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise InvalidInput(f"GTIN {value!r} must be 8, 12, 13 or 14 digits")
    try:
        gtin = Gtin.parse(value)
    except Exception as exc:  # noqa: BLE001 - biip raises ParseError with a readable message
        raise InvalidInput(f"GTIN {value!r}: {exc}") from None
    return str(gtin.as_gtin_14())


def _check_text(value: str, ai: str) -> str:
    name = _NAMES[ai]
    if not value:
        raise InvalidInput(f"{name} is empty")
    if len(value) > 20:
        raise InvalidInput(f"{name} {value!r} has {len(value)} characters; GS1 allows at most 20")
    bad = [c for c in value if c not in GS1_CHARS]
    if bad:
        raise InvalidInput(f"{name} {value!r} has a character outside the GS1 set: {bad[0]!r}")
    return value


# ---------------------------------------------------------------------------- dates

#: The time a two-digit year is read at: unix seconds, an aware datetime, or a date (its year).
Reference = int | dt.datetime | dt.date


def _reference_date(reference: Reference) -> dt.date:
    """The UTC calendar date of ``reference`` (unix seconds, an aware datetime or a date)."""
    if isinstance(reference, bool):
        raise TypeError("reference must be unix seconds, an aware datetime or a date, not a bool")
    if isinstance(reference, int):
        return dt.datetime.fromtimestamp(reference, dt.UTC).date()
    if isinstance(reference, dt.datetime):
        if reference.tzinfo is None:
            raise TypeError("reference datetime must be timezone-aware (UTC)")
        return reference.astimezone(dt.UTC).date()
    return reference


def reference_year(reference: Reference) -> int:
    """The UTC calendar year of ``reference`` (the "current year" of GS1 GS 7.12)."""
    return _reference_date(reference).year


def century_year(yy: int, current_year: int) -> int:
    """The four-digit year of two-digit year ``yy`` read in ``current_year``.

    GS1 General Specifications section 7.12 ("Determination of century in dates"): with CY the
    last two digits of the current year, YY - CY >= 51 lies in the previous century, YY - CY <=
    -50 in the next one, anything else in the current century; so the year is between 49 years
    before and 50 years after the current year. The same rule as ``GS1Date.centuryYear`` on
    chain and ``centuryYear`` in frontend/src/gs1.js (tests/data/gs1_expiry_vectors.json).
    """
    cy = current_year % 100
    century = current_year - cy
    if yy - cy >= 51:
        return century - 100 + yy
    if yy - cy <= -50:
        return century + 100 + yy
    return century + yy


def check_yymmdd(value: str) -> str:
    """The checks of an AI (17) date that do not depend on the century: six digits, a month
    01-12 and a day the month can have (29 February only in a YY divisible by 4). The full check
    is :func:`expiry_date`, which needs the time the date is read at."""
    if not re.fullmatch(r"\d{6}", value):
        raise InvalidInput(f"expiry (17) {value!r} must be 6 digits YYMMDD")
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    if not 1 <= mm <= 12:
        raise InvalidInput(f"expiry (17) {value!r} has month {mm:02d}; months run 01-12")
    most = 29 if mm == 2 and yy % 4 == 0 else calendar.monthrange(2001, mm)[1]
    if dd > most:
        raise InvalidInput(f"expiry (17) {value!r}: month {mm:02d} of year {yy:02d} has no day {dd}")
    return value


def expiry_date(value: str, reference: Reference) -> dt.date:
    """The calendar date YYMMDD ``value`` stands for when read at ``reference``.

    Century per GS1 General Specifications 7.12 in the UTC year of ``reference`` (see
    :func:`century_year`); DD = 00 is the last day of the month. There is no default reference:
    pass the chain's latest block time (or, for a batch, its commissioning block's time), which
    is what the registry reads the date against. :class:`InvalidInput` for a malformed date."""
    check_yymmdd(value)
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    year = century_year(yy, reference_year(reference))
    last = calendar.monthrange(year, mm)[1]
    if dd > last:
        raise InvalidInput(f"expiry (17) {value!r}: {year}-{mm:02d} has {last} days: no day {dd}")
    return dt.date(year, mm, dd or last)


def expiry_after(days: int, reference: Reference) -> str:
    """The AI (17) date ``YYMMDD`` of the day ``days`` after the UTC date of ``reference``: how
    the demo, the web seed, benchmarks and tests date a batch from the chain's clock (pass its
    latest block time) instead of a fixed date that the calendar overtakes. ``days`` must stay
    within GS1's window (under 50 years) for the date to read back as the same day."""
    if not 0 <= days < 49 * 365:
        raise InvalidInput(f"{days} days is outside the GS1 two-digit-year window")
    return (_reference_date(reference) + dt.timedelta(days=days)).strftime("%y%m%d")


def expires_at(value: str, reference: Reference) -> int:
    """The unix time the registry records as ``expiresAt`` for expiry ``value`` commissioned at
    ``reference``: 00:00 UTC of the day after the expiry date (0 for a date before 1970)."""
    day_after = expiry_date(value, reference) + dt.timedelta(days=1)
    return max(0, int(dt.datetime(day_after.year, day_after.month, day_after.day, tzinfo=dt.UTC).timestamp()))


def _finish(fields: dict[str, str], source: str, raw: str, reference: Reference | None) -> Scan:
    missing = [_NAMES[ai] for ai in ("01", "17", "10", "21") if ai not in fields]
    if missing:
        raise InvalidInput(f"scan {_short(raw)!r} lacks {', '.join(missing)}: a unit needs GTIN, expiry, lot, serial")
    gtin = _check_gtin(fields["01"])
    expiry = check_yymmdd(fields["17"])
    date = None if reference is None else expiry_date(expiry, reference)
    lot = _check_text(fields["10"], "10")
    serial = _check_text(fields["21"], "21")
    return Scan(gtin, lot, expiry, serial, date, source)


def _parse_hri(text: str) -> dict[str, str]:
    parts = _HRI_PART.findall(text)
    rebuilt = "".join(f"({ai}){v}" for ai, v in parts)
    if not parts or rebuilt != text:
        raise InvalidInput(f"scan {_short(text)!r} is not a GS1 element string of (AI)value parts")
    fields: dict[str, str] = {}
    for ai, value in parts:
        if ai in fields:
            raise InvalidInput(f"AI ({ai}) appears twice in {_short(text)!r}")
        if ai in _LIMITS and ai not in ("10", "21") and len(value) != _LIMITS[ai]:
            raise InvalidInput(f"{_NAMES[ai]} {value!r} must be {_LIMITS[ai]} digits")
        fields[ai] = value
    # Let biip check every AI it knows (formats, dates) for what we did not check ourselves.
    for ai in ("10", "21"):
        if ai in fields:
            _check_text(fields[ai], ai)
    _biip_message(text, hri=True)
    return fields


def _biip_message(text: str, *, hri: bool) -> Any:
    from biip.gs1_messages import GS1Message

    try:
        return GS1Message.parse_hri(text) if hri else GS1Message.parse(text)
    except Exception as exc:  # noqa: BLE001 - biip ParseError / ValueError, message quotes the part
        raise InvalidInput(f"scan {_short(text)!r} is not a valid GS1 element string: {exc}") from None


def _parse_raw(text: str) -> dict[str, str]:
    # biip reads at most 20 characters for AI (10)/(21) and then looks for another AI, which
    # hides the real fault: report an over-long variable field as such.
    for segment in [*text.split(GS)[1:], text.split(GS)[0]]:
        for ai in ("21", "10"):
            if segment.startswith(ai) and GS not in segment and len(segment) - 2 > 20 and segment is not text:
                _check_text(segment[2:], ai)
    msg = _biip_message(text, hri=False)
    fields: dict[str, str] = {}
    for es in msg.element_strings:
        fields[es.ai.ai] = es.value
    # biip takes up to 20 characters for AI 21/10 and then reads on: a 21st character shows up
    # as an unknown AI. Report that as the long field it is.
    return fields


def _parse_digital_link(text: str) -> dict[str, str]:
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    path_ai = re.search(r"/21/([^/?#]*)", text)
    if path_ai and len(path_ai.group(1)) > 20:
        raise InvalidInput(
            f"serial (21) {path_ai.group(1)!r} has {len(path_ai.group(1))} characters; GS1 allows at most 20"
        )
    try:
        uri = GS1DigitalLinkURI.parse(text)
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"Digital Link {_short(text, 90)!r} is not valid: {exc}") from None
    return {es.ai.ai: es.value for es in uri.element_strings}


def parse_scan(text: str, *, reference: Reference | None = None) -> Scan:
    """Parse a scanner string or Digital Link into a :class:`Scan`; :class:`InvalidInput` if not.

    With ``reference`` (the chain's latest block time, say) the expiry is resolved to a date
    (:func:`expiry_date`); without it only the century-independent checks run and
    ``expiry_date`` is ``None``: the wall clock is never used."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the scan is empty")
    raw = text.strip("\r\n ")
    # Scanners configured to show FNC1 visibly send "<GS>" or "\x1d" literally.
    raw = raw.replace("<GS>", GS).replace("\\x1d", GS).replace("\\u001d", GS)
    if raw.lower().startswith(("http://", "https://")):
        return _finish(_parse_digital_link(raw), "digital-link", raw, reference)
    raw = _SYMBOLOGY.sub("", raw)
    if raw.startswith(GS):  # FNC1 in first position
        raw = raw[1:]
    if raw.startswith("("):
        return _finish(_parse_hri(raw), "element-string", raw, reference)
    if not raw[:2].isdigit():
        raise InvalidInput(f"scan {_short(raw)!r} is neither a GS1 element string nor a Digital Link URI")
    return _finish(_parse_raw(raw), "element-string", raw, reference)


# ---------------------------------------------------------------------------- building


def hri(gtin: str | int, lot: str, expiry: str | int, serial: str) -> str:
    """The human-readable element string ``(01)...(17)...(10)...(21)...``."""
    return f"(01){int(gtin):014d}(17){int(expiry):06d}(10){lot}(21){serial}"


def element_string(gtin: str | int, lot: str, expiry: str | int, serial: str) -> str:
    """The DataMatrix data: fixed-length AIs first, GS after the variable-length lot."""
    return f"01{int(gtin):014d}17{int(expiry):06d}10{lot}{GS}21{serial}"


def digital_link(gtin: str | int, lot: str, expiry: str | int, serial: str, domain: str = "https://id.gs1.org") -> str:
    from urllib.parse import quote

    return f"{domain}/01/{int(gtin):014d}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}?17={int(expiry):06d}"


def write_datamatrix(content: str, path: Path, scale: int = 6) -> Path:
    """Write a GS1 DataMatrix image of ``content`` (an element string with GS separators)."""
    from careledger._extras import needs_extra

    with needs_extra("scan", "writing a DataMatrix image"):
        import zxingcpp
        from PIL import Image

    barcode = zxingcpp.create_barcode(content.replace(GS, "\x1d"), zxingcpp.BarcodeFormat.DataMatrix, options="gs1")
    img = zxingcpp.write_barcode_to_image(barcode, scale=scale)
    Image.fromarray(img).save(path)  # type: ignore[no-untyped-call]
    return path


def decode_image(path: Path) -> str:
    """The data of the first DataMatrix (or other GS1 2D code) in an image, as a scanner sends it."""
    from careledger._extras import needs_extra

    with needs_extra("scan", "reading a DataMatrix image (drugs verify --image)"):
        import zxingcpp
        from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
    except FileNotFoundError:
        raise InvalidInput(f"image {str(path)!r} does not exist") from None
    except (UnidentifiedImageError, OSError):
        raise InvalidInput(f"{str(path)!r} is not an image file") from None
    results = zxingcpp.read_barcodes(img)
    if not results:
        raise InvalidInput(f"no barcode found in {str(path)!r}")
    res = results[0]
    # zxing-cpp shows FNC1 separators of GS1 symbols as "<GS>"; give the raw GS a scanner sends.
    return str(res.text).replace("<GS>", GS)
