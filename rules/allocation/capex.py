"""Capex: capitalized pool lines, their straight-line depreciation schedule and the journal drafts.

A capex pool line of month M is capitalized at M's month end (debit the capitalization
account, credit the account the cost was first expensed to) and depreciated straight
line over `life_months`, starting the month after capitalization. Monthly charges are
the capitalized amount split equally by largest remainder (the earliest months take
the odd cents), so the schedule sums to the cost exactly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from polars._typing import PolarsDataType

from rules.allocation.largest_remainder import split
from rules.allocation.pools import PoolLine
from rules.allocation.rule_set import RuleSetDocument
from rules.calendar import add_months, month_end
from rules.money import MONEY

SCHEDULE_SCHEMA: dict[str, PolarsDataType] = {
    "pool_line_id": pl.String,
    "pool_id": pl.String,
    "capitalized_amount": MONEY,
    "month_no": pl.Int64,
    "depreciation_month": pl.Date,
    "amount": MONEY,
    "remaining_book_value": MONEY,
}
JOURNAL_SCHEMA: dict[str, PolarsDataType] = {
    "journal_ref": pl.String,
    "journal_date": pl.Date,
    "narration": pl.String,
    "line_no": pl.Int64,
    "account_code": pl.String,
    "description": pl.String,
    "line_amount": MONEY,  # signed: debit positive, credit negative (the ManualJournal convention)
    "currency": pl.String,
}


def depreciation_schedule(
    lines: list[PoolLine], rules: RuleSetDocument, month: date, currency: str
) -> pl.DataFrame:
    """One row per capex pool line and depreciation month, from the month after `month`."""
    pools = {p.id: p for p in rules.pools}
    rows = []
    for line in lines:
        treatment = pools[line.pool_id].capex
        if line.cost_class != "capex" or treatment is None or line.amount == 0:
            continue
        parts = split(line.amount, [Decimal(1)] * treatment.life_months, currency)
        remaining = line.amount
        for n, part in enumerate(parts, start=1):
            remaining -= part.amount
            rows.append(
                {
                    "pool_line_id": line.pool_line_id,
                    "pool_id": line.pool_id,
                    "capitalized_amount": line.amount,
                    "month_no": n,
                    "depreciation_month": add_months(month, n),
                    "amount": part.amount,
                    "remaining_book_value": remaining,
                }
            )
    return pl.DataFrame(rows, schema=SCHEDULE_SCHEMA, strict=False)


def journal_drafts(
    lines: list[PoolLine],
    schedule: pl.DataFrame,
    rules: RuleSetDocument,
    entity: str,
    month: date,
    currency: str,
) -> pl.DataFrame:
    """ManualJournal drafts: the capitalization of each capex pool line and each month's depreciation."""
    pools = {p.id: p for p in rules.pools}
    rows: list[dict[str, object]] = []

    def journal(
        ref: str, when: date, narration: str, debit: str, credit: str, amount: object, what: str
    ) -> None:
        for line_no, (account, sign) in enumerate(((debit, 1), (credit, -1)), start=1):
            rows.append(
                {
                    "journal_ref": ref,
                    "journal_date": when,
                    "narration": narration,
                    "line_no": line_no,
                    "account_code": account,
                    "description": what,
                    "line_amount": amount * sign,  # type: ignore[operator]
                    "currency": currency,
                }
            )

    for line in lines:
        treatment = pools[line.pool_id].capex
        if line.cost_class != "capex" or treatment is None or line.amount == 0:
            continue
        period = month.strftime("%Y-%m")
        journal(
            f"CAPEX-{entity}-{line.pool_id}-{period}",
            month_end(month),
            f"Capitalize {line.pool_id} {period}",
            treatment.capitalization_account,
            treatment.cost_account,
            line.amount,
            f"{line.pool_id} {period} capitalized",
        )
        for n, when, amount in (
            schedule.filter(pl.col("pool_line_id") == line.pool_line_id)
            .select("month_no", "depreciation_month", "amount")
            .iter_rows()
        ):
            journal(
                f"DEPR-{entity}-{line.pool_id}-{period}-{n:03d}",
                month_end(when),
                f"Depreciation {n}/{treatment.life_months} of {line.pool_id} {period}",
                treatment.depreciation_expense_account,
                treatment.accumulated_depreciation_account,
                amount,
                f"straight line {treatment.life_months} months",
            )
    return pl.DataFrame(rows, schema=JOURNAL_SCHEMA, strict=False)
