"""The month report's KPIs from an entity-month's frames (pure: no Dagster, no I/O).

Definitions (docs/decisions/0034-the-month-report.md):
- billed / unbilled: the entity-month's billable lines in the entity's base currency, approved (billed)
  or still awaiting approval (unbilled, never billed until approved); net of tax.
- produced without a hand edit: documents the ledger confirmed that never went to the dead letters (a
  dead letter is the one place a person changes a document's way into the ledger), and their lines.
- billing errors: corrections issued for the month per invoice drafted for it, two decimals half-up.
- posting latency: whole days from the period's last day to the day an invoice was first booked; the
  median (the mean of the two middle values for an even count, one decimal half-up) and the maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

# Named roundings of the report's ratios: corrections per invoice to 0.01, days to 0.1, half-up.
RATIO_PLACES = Decimal("0.01")
DAYS_PLACES = Decimal("0.1")
RATIO_RULE = ROUND_HALF_UP


@dataclass(frozen=True)
class BilledUnbilled:
    """Approved and unapproved billable value of a month, net of tax, in the entity's base currency."""

    billed: Decimal
    unbilled: Decimal


@dataclass(frozen=True)
class HandsOff:
    """Documents (and their lines) the ledger confirmed without a person touching them."""

    documents: int
    lines: int


@dataclass(frozen=True)
class Latency:
    """Days from period end to an invoice's first booking: median and maximum (None without invoices)."""

    median_days: Decimal | None
    max_days: int | None


def billed_unbilled(lines: pl.DataFrame) -> BilledUnbilled:
    """`lines`: billable (bool), approved (bool), amount_base (Decimal) of one entity-month."""
    billable = lines.filter(pl.col("billable"))

    def total(approved: bool) -> Decimal:
        amounts = billable.filter(pl.col("approved") == approved)["amount_base"]
        return sum((Decimal(a) for a in amounts), Decimal(0))

    return BilledUnbilled(total(True), total(False))


def hands_off(documents: pl.DataFrame) -> HandsOff:
    """`documents`: document_number, status, lines (int), dead_lettered (bool), one row per document."""
    clean = documents.filter((pl.col("status") == "confirmed") & ~pl.col("dead_lettered"))
    return HandsOff(clean.height, int(clean["lines"].sum() or 0))


def corrections_per_invoice(corrections: int, invoices: int) -> Decimal | None:
    """Corrections issued per invoice drafted (None when no invoice was drafted)."""
    if invoices == 0:
        return None
    return (Decimal(corrections) / Decimal(invoices)).quantize(RATIO_PLACES, rounding=RATIO_RULE)


def posting_latency(period_end: date, booked_on: list[date]) -> Latency:
    """Median and maximum whole days from `period_end` to each invoice's first booking day."""
    if not booked_on:
        return Latency(None, None)
    days = sorted((d - period_end).days for d in booked_on)
    middle = len(days) // 2
    median = Decimal(days[middle]) if len(days) % 2 else Decimal(days[middle - 1] + days[middle]) / 2
    return Latency(median.quantize(DAYS_PLACES, rounding=RATIO_RULE), days[-1])


def weekly_exceptions(rows: list[dict[str, object]], first_week: date, last_day: date) -> dict[str, int]:
    """{week start (ISO date): exceptions} for weeks starting first_week..last_day, every week present.

    `rows`: the weekly review's rows (week as ISO date text, count) of one entity; weeks outside are left out.
    """
    weeks: dict[str, int] = {}
    week = first_week
    while week <= last_day:
        weeks[week.isoformat()] = 0
        week = date.fromordinal(week.toordinal() + 7)
    for row in rows:
        key = str(row["week"])
        if key in weeks:
            weeks[key] += int(str(row["count"]))
    return weeks


def to_minor_units(amount: Decimal, places: int) -> int:
    """An exact amount as whole minor units (cents for 2 places), for metadata the UI can plot; the
    amounts here are already rounded to the currency, so nothing is lost."""
    return int((amount * (Decimal(10) ** places)).to_integral_value(rounding=ROUND_HALF_UP))
