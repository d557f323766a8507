"""pandera models of the allocation frames: the write gate before anything reaches `allocation.*`.

Money columns are Decimal(18,4) (exact shares Decimal(38,8)); a float or rescaled column
fails validation instead of reaching the warehouse.
"""

from __future__ import annotations

from datetime import date

import pandera.polars as pa

from checks.schemas import Money, StrictModel, Wide


class AllocationSlices(StrictModel):
    """One target's share of a pool line."""

    pool_line_id: str
    pool_id: str
    pool_amount: Money
    rule_id: str
    rule_hash: str
    allow_negative: bool
    target_kind: str = pa.Field(isin=["projects", "clients", "cost_centres"])
    target_id: str
    driver: str
    driver_value: Money
    driver_total: Money
    share: Wide
    exact_amount: Wide
    amount: Money
    remainder_units: int = pa.Field(ge=0)


class PoolLines(StrictModel):
    """A pool's costs under one rule (or capitalized) in one entity-month."""

    pool_line_id: str = pa.Field(unique=True)
    pool_id: str
    rule_id: str
    cost_class: str = pa.Field(isin=["opex", "capex"])
    amount: Money
    window_from: date
    window_to: date


class JournalDrafts(StrictModel):
    """ManualJournal draft lines (signed: debit positive)."""

    journal_ref: str
    journal_date: date
    narration: str = pa.Field(str_length={"min_value": 1, "max_value": 4000})
    line_no: int = pa.Field(gt=0)
    account_code: str = pa.Field(str_length={"min_value": 1})
    description: str
    line_amount: Money
    currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")


class Profitability(StrictModel):
    """Per project and month: revenue, direct and allocated cost, margin."""

    project_id: int
    project_name: str
    revenue: Money
    direct_time_cost: Money
    direct_expense_cost: Money
    allocated_cost: Money
    margin: Money
