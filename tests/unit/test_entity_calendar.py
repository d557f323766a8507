"""Entity-local days and periods either side of midnight and of each demo zone's DST changes (hand-computed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rules.calendar import billing_period, local_day, period_bounds_utc, previous_local_day

NY, LONDON, BERLIN = "America/New_York", "Europe/London", "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "zone", "day"),
    [
        # Either side of local midnight.
        ("2026-08-04T03:59:59", NY, date(2026, 8, 3)),  # 23:59:59 EDT
        ("2026-08-04T04:00:00", NY, date(2026, 8, 4)),  # 00:00 EDT
        ("2026-08-03T22:59:59", LONDON, date(2026, 8, 3)),  # 23:59:59 BST
        ("2026-08-03T23:00:00", LONDON, date(2026, 8, 4)),
        ("2026-08-03T21:59:59", BERLIN, date(2026, 8, 3)),  # 23:59:59 CEST
        ("2026-08-03T22:00:00", BERLIN, date(2026, 8, 4)),
        # DST starts: New York 8 March 2026 at 07:00 UTC; London and Berlin 29 March at 01:00 UTC.
        ("2026-03-08T06:59:00", NY, date(2026, 3, 8)),  # 01:59 EST
        ("2026-03-08T07:00:00", NY, date(2026, 3, 8)),  # 03:00 EDT
        ("2026-03-09T03:59:00", NY, date(2026, 3, 8)),  # 23:59 EDT: midnight is now 04:00 UTC
        ("2026-03-29T23:30:00", LONDON, date(2026, 3, 30)),  # 00:30 BST
        ("2026-03-29T21:59:00", BERLIN, date(2026, 3, 29)),  # 23:59 CEST
        # DST ends: New York 1 November 2026 at 06:00 UTC; London and Berlin 25 October at 01:00 UTC.
        ("2026-11-01T05:30:00", NY, date(2026, 11, 1)),  # 01:30 EDT
        ("2026-11-01T06:30:00", NY, date(2026, 11, 1)),  # 01:30 EST, the same wall time again
        ("2026-11-02T04:59:00", NY, date(2026, 11, 1)),  # 23:59 EST
        ("2026-10-25T23:30:00", LONDON, date(2026, 10, 25)),  # 23:30 GMT
        ("2026-10-25T22:59:00", BERLIN, date(2026, 10, 25)),  # 23:59 CET
        ("2026-10-25T23:00:00", BERLIN, date(2026, 10, 26)),
    ],
)
def test_local_day(instant: str, zone: str, day: date) -> None:
    assert local_day(utc(instant), zone) == day


def test_one_instant_is_a_different_month_end_in_two_zones() -> None:
    instant = utc("2026-09-01T02:30:00")  # 22:30 on 31 August in New York, 04:30 on 1 September in Berlin
    assert billing_period(instant, NY) == "2026-08"
    assert billing_period(instant, BERLIN) == "2026-09"
    assert previous_local_day(instant, NY) == date(2026, 8, 30)
    assert previous_local_day(instant, BERLIN) == date(2026, 8, 31)


def test_month_bounds_follow_dst() -> None:
    # October 2026 in Berlin starts in CEST (+2) and ends in CET (+1).
    assert period_bounds_utc("2026-10", BERLIN) == (utc("2026-09-30T22:00:00"), utc("2026-10-31T23:00:00"))
    # New York's October ends before its DST change (1 November, 02:00 local).
    assert period_bounds_utc("2026-10", NY) == (utc("2026-10-01T04:00:00"), utc("2026-11-01T04:00:00"))
    assert period_bounds_utc("2026-03", LONDON) == (utc("2026-03-01T00:00:00"), utc("2026-03-31T23:00:00"))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        local_day(datetime(2026, 8, 3, 12), NY)
