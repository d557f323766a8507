"""Pure retention decisions: when a period closes and expires, what a legal hold covers, and which
archived slices a purge may delete."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date

from rules.calendar import add_months, period_start
from rules.retention.policy import RetentionPolicy
from rules.retention.tables import RETAINED

PERIOD_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    """`period` when it is a month as YYYY-MM; ValueError otherwise."""
    if not PERIOD_RE.fullmatch(period):
        raise ValueError(f"expected a month as YYYY-MM, got {period!r}")
    return period


def is_closed(period: str, today: date) -> bool:
    """A period is closed once the month after it has begun (only closed periods are archived)."""
    return add_months(period_start(check_period(period)), 1) <= today


def expires_on(period: str, months: int) -> date:
    """The first day a period's records are past retention: the first day after the period's end,
    plus the retention span (period 2016-11 kept 120 months: 2026-12-01)."""
    return add_months(period_start(check_period(period)), 1 + months)


def past_retention(period: str, months: int, today: date) -> bool:
    """Whether `today` is on or after the day the period's records expire."""
    return today >= expires_on(period, months)


@dataclass(frozen=True)
class HoldScope:
    """What a legal hold covers: a whole entity, or narrowed to one client and/or one period."""

    entity: str
    client_id: int | None = None
    period: str | None = None

    def covers(self, entity: str, period: str, clients: frozenset[int]) -> bool:
        """Whether this hold keeps the entity's `period`, whose rows name `clients`."""
        if entity != self.entity or (self.period is not None and self.period != period):
            return False
        return self.client_id is None or self.client_id in clients

    def __str__(self) -> str:
        parts = [f"entity {self.entity}"]
        if self.client_id is not None:
            parts.append(f"client {self.client_id}")
        if self.period is not None:
            parts.append(f"period {self.period}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ArchivedSlice:
    """One table's rows of one archived period, as the archive's manifest lists them."""

    table: str
    period: str
    rows: int


@dataclass(frozen=True)
class PurgeScope:
    """Who purges what, and as of which day: the entity, its jurisdiction, the policy and the holds."""

    entity: str
    jurisdiction: str
    policy: RetentionPolicy
    holds: tuple[HoldScope, ...]
    today: date


@dataclass
class PurgePlan:
    """What a purge deletes (`deletable`) and what it keeps with why (`kept`: slice -> reason)."""

    entity: str
    deletable: list[ArchivedSlice] = field(default_factory=list)
    kept: list[tuple[ArchivedSlice, str]] = field(default_factory=list)

    def fingerprint(self) -> str:
        """The same for two plans deleting the same slices (a real run must match its dry run)."""
        body = sorted((s.table, s.period, s.rows) for s in self.deletable)
        return hashlib.sha256(json.dumps([self.entity, body]).encode()).hexdigest()


def _kept_reason(scope: PurgeScope, item: ArchivedSlice, clients: frozenset[int]) -> str | None:
    retained = RETAINED.get(item.table)
    if retained is None:
        return "not a table kept by period"
    span = scope.policy.span(scope.jurisdiction, retained.record_type)
    if span is None:
        return f"{retained.record_type.value} kept indefinitely in {scope.jurisdiction}"
    if not past_retention(item.period, span.total_months, scope.today):
        return f"{retained.record_type.value} kept {span} until {expires_on(item.period, span.total_months)}"
    holding = [h for h in scope.holds if h.covers(scope.entity, item.period, clients)]
    if holding:
        return f"legal hold ({holding[0]})"
    return None


def plan_purge(
    scope: PurgeScope, archived: dict[str, tuple[list[ArchivedSlice], frozenset[int]]]
) -> PurgePlan:
    """Which archived slices are past retention and under no hold; `archived`: period -> (its slices,
    the client ids its rows name)."""
    plan = PurgePlan(scope.entity)
    for period in sorted(archived):
        slices, clients = archived[period]
        for item in sorted(slices, key=lambda s: s.table):
            reason = _kept_reason(scope, item, clients)
            if reason is None:
                plan.deletable.append(item)
            else:
                plan.kept.append((item, reason))
    return plan
