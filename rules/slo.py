"""Service-level objectives: the figures measured, their thresholds, and which are breached (pure).

`health/slo_status` measures the figures from the run history and the warehouses; this module
only judges them, so the judgement is tested by hand with figures written out in the test.
A figure that could not be measured (no run finished in the window, no document booked) is
`None` and never a breach: an SLO speaks about work that happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Severity = Literal["WARN", "ERROR"]

SYNC_SUCCESS = "sync_success_rate"
CHANGE_TO_LEDGER = "change_to_ledger_hours"
UNPOSTED_BACKLOG = "unposted_documents"
DEAD_LETTER_GROWTH = "dead_letter_growth"
RECONCILIATION_MISMATCHES = "reconciliation_mismatches"
HEARTBEAT_AGE = "heartbeat_age_minutes"
SLO_NAMES = (
    SYNC_SUCCESS,
    CHANGE_TO_LEDGER,
    UNPOSTED_BACKLOG,
    DEAD_LETTER_GROWTH,
    RECONCILIATION_MISMATCHES,
    HEARTBEAT_AGE,
)
SLO_RUNBOOK = "slo-breach.md"
HEARTBEAT_RUNBOOK = "heartbeat.md"


@dataclass(frozen=True)
class SloFigures:
    """What was measured over the window; None: nothing to measure (never a breach)."""

    sync_success_rate: Decimal | None  # succeeded runs / finished runs, 0..1
    change_to_ledger_hours: Decimal | None  # the slowest PM change to its booked document
    unposted_documents: int  # outbox rows not yet booked (pending or outcome unknown)
    dead_letters: int  # outbox rows in the dead letters now
    dead_letter_growth: int  # dead letters added since the previous measurement (or in the window)
    reconciliation_mismatches: int  # bank lines left as exceptions for people
    heartbeat_age_minutes: Decimal | None  # since the last successful heartbeat (None: never configured)

    def value(self, name: str) -> Decimal | None:
        """The figure of SLO `name` as a Decimal (None when not measured)."""
        raw = getattr(self, name)
        return None if raw is None else Decimal(raw)


@dataclass(frozen=True)
class Objective:
    """One SLO: the figure must stay at least (`floor`) or at most (the default) the threshold."""

    name: str
    threshold: Decimal
    severity: Severity
    floor: bool = False
    runbook: str = SLO_RUNBOOK

    def breached(self, figure: Decimal | None) -> bool:
        """Whether `figure` is on the wrong side of the threshold."""
        if figure is None:
            return False
        return figure < self.threshold if self.floor else figure > self.threshold


@dataclass(frozen=True)
class Breach:
    """An objective crossed: what, by how much, how bad, and where to read what to do."""

    name: str
    figure: Decimal
    threshold: Decimal
    severity: Severity
    runbook: str
    floor: bool = False

    def summary(self) -> str:
        """What crossed which line, in one line."""
        side = "below the floor" if self.floor else "above the limit"
        return f"SLO {self.name} breached: {self.figure} is {side} {self.threshold} ({self.severity})"

    def line(self, runbook_base: str = "docs/runbooks/") -> str:
        """The summary with its runbook link, for the log and the check."""
        return f"{self.summary()}  [runbook: {runbook_base}{self.runbook}]"


def evaluate(figures: SloFigures, objectives: list[Objective]) -> list[Breach]:
    """The objectives the figures breach, in the objectives' order."""
    breaches = []
    for objective in objectives:
        figure = figures.value(objective.name)
        if figure is not None and objective.breached(figure):
            breaches.append(
                Breach(
                    objective.name,
                    figure,
                    objective.threshold,
                    objective.severity,
                    objective.runbook,
                    objective.floor,
                )
            )
    return breaches


def success_rate(succeeded: int, failed: int) -> Decimal | None:
    """Share of finished runs that succeeded, to 4 places (None when no run finished)."""
    finished = succeeded + failed
    if finished == 0:
        return None
    return (Decimal(succeeded) / Decimal(finished)).quantize(Decimal("0.0001"))


def minutes_between(earlier_s: float, later_s: float) -> Decimal:
    """Whole-second minutes between two POSIX times, to 2 places."""
    return (Decimal(round(later_s - earlier_s)) / Decimal(60)).quantize(Decimal("0.01"))
