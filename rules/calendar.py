"""Each entity's local calendar: which day and billing period an instant falls in, in its IANA time zone.

Timestamps are stored in UTC; days, billing periods and "yesterday" are the entity's own.
An instant without a time zone is refused: guessing one is how a month end moves a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; store and pass instants in UTC")
    return instant


def local_day(instant: datetime, timezone: str) -> date:
    """The entity-local calendar day (ISO 8601 date) of a UTC instant."""
    return _aware(instant).astimezone(ZoneInfo(timezone)).date()


def previous_local_day(instant: datetime, timezone: str) -> date:
    """The entity's yesterday at `instant`: the last complete local day."""
    return local_day(instant, timezone) - timedelta(days=1)


def billing_period(instant: datetime, timezone: str) -> str:
    """The entity-local month (YYYY-MM) an instant falls in."""
    return local_day(instant, timezone).strftime("%Y-%m")


def period_bounds_utc(period: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of an entity-local month as UTC instants (DST changes inside the month included)."""
    first = date.fromisoformat(f"{period}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    zone = ZoneInfo(timezone)
    start = datetime(first.year, first.month, 1, tzinfo=zone)
    end = datetime(following.year, following.month, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
