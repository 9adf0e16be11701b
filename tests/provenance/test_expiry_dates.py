"""The on-chain GS1 expiry arithmetic (YYMMDD -> expiry instant) agrees with Python's calendar
for every kind of date: month ends, day 00 (last day of the month per GS1), leap years incl. the
2000 and 2096 ones, and the last representable year."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from provenance_fixtures import make_batch

DATES = [
    "270101",
    "270131",
    "270228",
    "270200",
    "280200",
    "280229",
    "290200",
    "300430",
    "300400",
    "301231",
    "301200",
    "320229",
    "400229",
    "960200",
    "991231",
    "991200",
    "990100",
]


def _expected(yymmdd: str) -> int:
    year, month, day = 2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    return int((datetime(year, month, day, tzinfo=UTC) + timedelta(days=1)).timestamp())


@pytest.mark.parametrize("yymmdd", DATES)
def test_commission_expiry_instant_matches_calendar(registry, manufacturer, yymmdd):
    b = make_batch(lot=f"LOT-{yymmdd}", expiry=int(yymmdd), n=1)
    registry.commission(b.gtin, b.lot32, b.expiry, 1, b.tree.root, sender=manufacturer)
    assert registry.batchInfo(b.id).expiresAt == _expected(yymmdd)
