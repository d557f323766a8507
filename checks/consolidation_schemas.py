"""pandera models of the frames consolidation writes: the entity ledger export and the group's tables."""

from __future__ import annotations

from datetime import date

import pandera.polars as pa

from checks.schemas import Money, Rate, StrictModel
from rules.consolidation.ledger import BALANCES, EQUITY, PROFIT_AND_LOSS

STATEMENTS = [*PROFIT_AND_LOSS, *BALANCES]


class LedgerExport(StrictModel):
    """One entity-month's ledger rows as exported to Parquet (LEDGER_SCHEMA)."""

    entity: str
    period: str = pa.Field(str_matches=r"^\d{4}-\d{2}$")
    statement: str = pa.Field(isin=STATEMENTS)
    line_item: str
    account_code: str | None = pa.Field(nullable=True)
    contact_name: str | None = pa.Field(nullable=True)
    document_number: str | None = pa.Field(nullable=True)
    reference: str | None = pa.Field(nullable=True)
    counterparty_entity: str | None = pa.Field(nullable=True)
    currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    amount: Money
    export_run_id: str


class TranslationRates(StrictModel):
    """A month's pinned translation rates, one version."""

    period: str
    snapshot_version: int
    currency: str
    reporting_currency: str
    rate_type: str = pa.Field(isin=["average", "closing"])
    rate: Rate = pa.Field(gt=0)
    rate_date_from: date
    rate_date_to: date
    published_days: int
    source: str
    note: str
    pinned_by_run: str


class GroupTotals(StrictModel):
    """The group's totals per statement and line item in the reporting currency."""

    period: str
    statement: str = pa.Field(isin=[*STATEMENTS, EQUITY])
    line_item: str
    reporting_currency: str
    entities_total: Money
    eliminations: Money
    group_total: Money
    run_id: str
