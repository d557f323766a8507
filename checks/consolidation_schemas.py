"""pandera models of the frames consolidation writes: the entity ledger export and the group's tables."""

from __future__ import annotations

import pandera.polars as pa

from checks.registered import model_for
from checks.schemas import Money, StrictModel
from rules.consolidation.ledger import BALANCES, PROFIT_AND_LOSS

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


# The group file's tables, derived from their registered shapes (rules/schemas/tables_group.py).
TranslationRates = model_for("consolidation.translation_rates", "TranslationRates")
GroupTotals = model_for("consolidation.group_totals", "GroupTotals")
