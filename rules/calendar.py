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
    first = period_start(period)
    following = add_months(first, 1)
    zone = ZoneInfo(timezone)
    start = datetime(first.year, first.month, 1, tzinfo=zone)
    end = datetime(following.year, following.month, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# Month arithmetic: the one place it is written. A "month" is its first day; a "period" its YYYY-MM label.


def first_of_month(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month `n` months after `month`'s (n may be negative)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    """The last day of `month`'s month."""
    return add_months(month, 1) - timedelta(days=1)


def previous_month(day: date) -> date:
    """The first day of the month before `day`'s."""
    return add_months(day, -1)


def period_of(day: date) -> str:
    """The period label (YYYY-MM) of a day."""
    return day.strftime("%Y-%m")


def period_start(period: str) -> date:
    """The first day of a period label (YYYY-MM)."""
    return date.fromisoformat(f"{period}-01")


def previous_period(period: str) -> str:
    """The period before `period` (YYYY-MM)."""
    return period_of(add_months(period_start(period), -1))


def months_from(start: date, count: int) -> list[date]:
    """`count` consecutive months (first days) from `start`'s month."""
    return [add_months(start, i) for i in range(count)]
