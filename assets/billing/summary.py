"""What a drafting run reports (counts, money totals, previews), kept month by month.

A run drafts its months one by one (docs/decisions/0048) and lets each month's frames go. A frame
derived from a month's lines can share their string buffers (polars' string views), so even a
ten-row preview kept as a frame would keep the month's lines alive: this keeps plain values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from assets.reporting import preview

PREVIEW_ROWS = 10
INVOICE_COLUMNS = ["invoice_number", "contact_name", "currency", "subtotal", "total_tax", "total"]
BALANCE_COLUMNS = ["period", "retainer_id", "currency", "opening", "top_up", "drawn", "closing"]


def _add_totals(into: dict[str, Decimal], frame: pl.DataFrame, currency: str, amount: str) -> None:
    for cur, total in frame.group_by(currency).agg(pl.col(amount).sum()).iter_rows():
        into[str(cur)] = into.get(str(cur), Decimal(0)) + total


def _add_head(into: list[tuple[Any, ...]], frame: pl.DataFrame, columns: list[str]) -> None:
    if len(into) < PREVIEW_ROWS:
        into.extend(frame.select(columns).head(PREVIEW_ROWS - len(into)).iter_rows())


def _preview(rows: list[tuple[Any, ...]], columns: list[str]) -> str:
    return preview(pl.DataFrame(rows, schema=columns, orient="row") if rows else pl.DataFrame(), columns)


@dataclass
class DraftsSummary:
    """Running totals of the invoices, lines and retainer balances written so far in a run."""

    invoices: int = 0
    lines: int = 0
    totals_txn: dict[str, Decimal] = field(default_factory=dict)
    totals_base: dict[str, Decimal] = field(default_factory=dict)
    invoice_head: list[tuple[Any, ...]] = field(default_factory=list)
    balance_head: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, invoices: pl.DataFrame, lines: int, balances: pl.DataFrame) -> None:
        """Count one written month's invoices, lines and balances."""
        self.invoices += invoices.height
        self.lines += lines
        _add_totals(self.totals_txn, invoices, "currency", "total")
        _add_totals(self.totals_base, invoices, "base_currency", "total_base")
        _add_head(self.invoice_head, invoices, INVOICE_COLUMNS)
        _add_head(self.balance_head, balances, BALANCE_COLUMNS)

    def metadata(self) -> dict[str, Any]:
        """The metadata of billing/invoice_drafts (the rule set versions added by the asset)."""
        return {
            "dagster/row_count": self.invoices,
            "invoice_lines": self.lines,
            "retainer_balances": dg.MetadataValue.md(_preview(self.balance_head, BALANCE_COLUMNS)),
            "totals_txn": {cur: str(total) for cur, total in sorted(self.totals_txn.items())},
            "totals_base": {cur: str(total) for cur, total in sorted(self.totals_base.items())},
            "preview": dg.MetadataValue.md(_preview(self.invoice_head, INVOICE_COLUMNS)),
        }
