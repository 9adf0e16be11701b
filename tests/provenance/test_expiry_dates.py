"""The registry's expiry arithmetic (YYMMDD -> expiry instant) agrees with Python's calendar for
every kind of date: month ends, day 00 (last day of the month per GS1), leap years, the farthest
year of the GS1 window and a year the window puts in the past.

The dates are built from the chain's own clock (the year of the next block), never fixed: the
registry reads YYMMDD with the century of GS1 General Specifications 7.12 in the year of the
block, so a fixed date turns from future into past as the calendar moves. The years used, Y+2 to
Y+49 and Y-48, mean the same to a block in year Y and to one in Y+1 (a run across New Year). The
window's exact edges at fixed reference times are in tests/data/gs1_expiry_vectors.json."""

from __future__ import annotations

import calendar
import datetime as dt

import ape
import pytest
from provenance_fixtures import make_batch

# (years after the chain's year, month, day); day 0 = the last day of the month per GS1.
KINDS = [
    (2, 1, 1),
    (2, 1, 31),
    (2, 2, 0),
    (2, 2, 28),
    (2, 4, 30),
    (2, 4, 0),
    (3, 12, 31),
    (3, 12, 0),
    (10, 6, 0),
    (49, 12, 31),
    (49, 1, 0),
]


def _chain_year(chain) -> int:
    return dt.datetime.fromtimestamp(chain.pending_timestamp, dt.UTC).year


def _yymmdd(year: int, month: int, day: int) -> int:
    return (year % 100) * 10_000 + month * 100 + day


def _expected(year: int, month: int, day: int) -> int:
    """00:00 UTC the day after the date, from Python's calendar alone (no GS1 code)."""
    day = day or calendar.monthrange(year, month)[1]
    return int((dt.datetime(year, month, day, tzinfo=dt.UTC) + dt.timedelta(days=1)).timestamp())


def _next_leap(year: int) -> int:
    while not calendar.isleap(year):
        year += 1
    return year


@pytest.mark.parametrize(("ahead", "month", "day"), KINDS, ids=[f"Y+{a}-{m:02d}-{d:02d}" for a, m, d in KINDS])
def test_commission_expiry_instant_matches_calendar(chain, registry, manufacturer, ahead, month, day):
    year = _chain_year(chain) + ahead
    yymmdd = _yymmdd(year, month, day)
    b = make_batch(lot=f"LOT-{yymmdd:06d}", expiry=yymmdd, n=1)
    registry.commission(b.gtin, b.lot32, yymmdd, 1, b.tree.root, sender=manufacturer)
    assert registry.batchInfo(b.id).expiresAt == _expected(year, month, day)


@pytest.mark.parametrize("day", [0, 29])
def test_commission_leap_february(chain, registry, manufacturer, day):
    year = _next_leap(_chain_year(chain) + 2)
    yymmdd = _yymmdd(year, 2, day)
    b = make_batch(lot=f"LOT-LEAP-{day}", expiry=yymmdd, n=1)
    registry.commission(b.gtin, b.lot32, yymmdd, 1, b.tree.root, sender=manufacturer)
    assert registry.batchInfo(b.id).expiresAt == _expected(year, 2, 29)


def test_commission_29_february_of_a_common_year_refused(chain, registry, manufacturer):
    year = _chain_year(chain) + 2
    while calendar.isleap(year):
        year += 1
    yymmdd = _yymmdd(year, 2, 29)
    b = make_batch(lot="LOT-NOLEAP", expiry=yymmdd, n=1)
    with ape.reverts(registry.NoSuchDay, value=yymmdd, year=year, month=2, day=29, daysInMonth=28):
        registry.commission(b.gtin, b.lot32, yymmdd, 1, b.tree.root, sender=manufacturer)


def test_commission_two_digit_year_beyond_the_window_is_in_the_past(chain, registry, manufacturer):
    # YY of the year 52 years ahead is, per GS1 GS 7.12, 48 years back: refused as expired, with
    # the past instant in the error (not a date a century later).
    past = _chain_year(chain) - 48
    yymmdd = _yymmdd(past, 12, 31)
    b = make_batch(lot="LOT-PAST", expiry=yymmdd, n=1)
    with ape.reverts(registry.ExpiryInPast, expiry=yymmdd, expiresAt=_expected(past, 12, 31)):
        registry.commission(b.gtin, b.lot32, yymmdd, 1, b.tree.root, sender=manufacturer)
