"""Lock dates: a correction is never dated inside the accounting tenant's locked period (pure rule).

The tenant locks everything dated on or before its lock date (Xero's `PeriodLockDate` and
`EndOfYearLockDate`: the later of the two binds). A correction whose natural date falls there is,
per the rule set's `locked_period` policy, either moved to the first open day (the lock date + 1)
or held back with the reason, and issued by a later run once the lock date allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from rules.rule_sets import LockedPeriodPolicy

MOVE_TO_OPEN_PERIOD: LockedPeriodPolicy = "move_to_open_period"
WAIT: LockedPeriodPolicy = "wait"

# What happened to a document's date: kept, moved past the lock date, or held back (not issued).
AS_DATED = "as_dated"
MOVED = "moved"
HELD = "held"


@dataclass(frozen=True)
class Dating:
    """The date a correction is issued with (None when it waits) and, unless kept, why."""

    status: str  # AS_DATED | MOVED | HELD
    document_date: date | None
    reason: str | None = None


def binding_lock_date(*lock_dates: date | None) -> date | None:
    """The lock date that binds: the latest of those set (period lock, end-of-year lock, overrides)."""
    given = [d for d in lock_dates if d is not None]
    return max(given) if given else None


def date_outside_lock(intended: date, lock_date: date | None, policy: LockedPeriodPolicy) -> Dating:
    """Date a correction `intended` for `intended`, honouring the tenant's `lock_date` by `policy`.

    On or before the lock date is locked (the ledger refuses it): `move_to_open_period` dates it
    the day after the lock date, the first open day; `wait` holds it with the reason.
    """
    if lock_date is None or intended > lock_date:
        return Dating(AS_DATED, intended)
    locked = f"dated {intended.isoformat()}, on or before the tenant's lock date {lock_date.isoformat()}"
    if policy == MOVE_TO_OPEN_PERIOD:
        first_open = lock_date + timedelta(days=1)
        return Dating(MOVED, first_open, f"{locked}: moved to the first open day {first_open.isoformat()}")
    return Dating(HELD, None, f"{locked}: waits until the period is reopened (policy wait)")
