"""What a normalize run reports (counts, hours, money totals, a preview), kept window by window.

The run writes its days in bounded windows (docs/decisions/0043) and lets each window's frames go;
this keeps what the asset's metadata needs from each window, so the report equals the one made from
every line at once without holding every line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from assets.reporting import preview

PREVIEW_ROWS = 10
PREVIEW_COLUMNS = ["line_id", "day", "project_name", "quantity", "unit_price", "amount_txn", "txn_currency"]


def _add_totals(into: dict[str, Decimal], frame: pl.DataFrame, currency: str, amount: str) -> None:
    for cur, total in frame.group_by(currency).agg(pl.col(amount).sum()).iter_rows():
        into[str(cur)] = into.get(str(cur), Decimal(0)) + total


@dataclass
class LinesSummary:
    """Running totals of the lines and quarantine written so far in a run."""

    lines: int = 0
    billable: int = 0
    billable_hours: Decimal = Decimal(0)
    awaiting_approval: int = 0
    totals_txn: dict[str, Decimal] = field(default_factory=dict)
    totals_base: dict[str, Decimal] = field(default_factory=dict)
    head: list[pl.DataFrame] = field(default_factory=list)  # the first PREVIEW_ROWS billable lines
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, lines: pl.DataFrame, quarantine: pl.DataFrame) -> None:
        """Count one written window's lines and quarantined records."""
        self.lines += lines.height
        self.quarantined += quarantine.height
        self.reasons.update(quarantine["reason"].to_list())
        billable = lines.filter(pl.col("billable"))
        if billable.height == 0:
            return
        self.billable += billable.height
        hours = billable.filter(pl.col("source_kind") == "time")["quantity"].sum()
        self.billable_hours += hours if isinstance(hours, Decimal) else Decimal(0)
        self.awaiting_approval += billable.filter(~pl.col("approved")).height
        _add_totals(self.totals_txn, billable, "txn_currency", "amount_txn")
        _add_totals(self.totals_base, billable, "base_currency", "amount_base")
        shown = sum(f.height for f in self.head)
        if shown < PREVIEW_ROWS:
            self.head.append(billable.select(PREVIEW_COLUMNS).head(PREVIEW_ROWS - shown))

    def lines_metadata(self) -> dict[str, Any]:
        """The metadata of normalized/billable_lines (fx source and rule set added by the asset)."""
        return {
            "dagster/row_count": self.lines,
            "billable_lines": self.billable,
            "billable_hours": str(self.billable_hours) if self.billable else "0",
            "awaiting_approval": self.awaiting_approval,
            "totals_txn": {cur: str(total) for cur, total in sorted(self.totals_txn.items())},
            "totals_base": {cur: str(total) for cur, total in sorted(self.totals_base.items())},
            "preview": dg.MetadataValue.md(
                preview(pl.concat(self.head) if self.head else pl.DataFrame(), PREVIEW_COLUMNS)
            ),
        }

    def quarantine_metadata(self) -> dict[str, Any]:
        """The metadata of normalized/quarantine."""
        return {
            "dagster/row_count": self.quarantined,
            "quarantined_by_reason": dict(sorted(self.reasons.items())),
        }
