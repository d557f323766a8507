"""The periodic consistency check of one entity-month (pure): what the PM system holds, what the
warehouse holds, and what the ledger was billed, side by side.

Harvest sends no webhooks and `updated_since` cannot return a deleted entry, so deletions are only
seen by listing a month again: the listing logs missed or changed records as new versions and
absent ones as tombstones (resources/raw_store.py), and this report says what it found and what
the ledger still bills that the PM system no longer has (a correction is due).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl


@dataclass(frozen=True)
class ListingOutcome:
    """What re-listing the month changed in the raw layer."""

    new_versions: int  # records missed before, or changed since they were extracted
    tombstones: int  # records the PM system no longer lists
    rejected: int


@dataclass(frozen=True)
class ConsistencyReport:
    """One entity-month's three-way comparison."""

    entity: str
    period: str
    listing: ListingOutcome
    pm_records: int  # time entries and expenses the PM system lists for the month (now the warehouse's)
    pm_hours: Decimal
    pm_expense_total: Decimal
    ledger_records: int  # PM records behind the month's confirmed invoices
    ledger_hours: Decimal  # hours on the month's booked documents (credit notes subtracted)
    billed_but_gone: tuple[str, ...]  # line ids the ledger bills that the PM system no longer lists

    @property
    def consistent(self) -> bool:
        """Nothing had to be repaired and the ledger bills nothing the PM system lost."""
        listing = self.listing
        return not (listing.new_versions or listing.tombstones or listing.rejected or self.billed_but_gone)

    def detail(self) -> str:
        """One line for the check and the report."""
        listing = self.listing
        return (
            f"{self.entity} {self.period}: {self.pm_records} PM records ({self.pm_hours} h); "
            f"{listing.new_versions} missed or changed, {listing.tombstones} deleted (tombstoned), "
            f"{listing.rejected} rejected; ledger: {self.ledger_records} records, {self.ledger_hours} h, "
            f"{len(self.billed_but_gone)} billed but gone from the PM system"
        )

    def markdown(self) -> str:
        """The three columns for the UI."""
        gone = ", ".join(self.billed_but_gone[:20]) + (" …" if len(self.billed_but_gone) > 20 else "")
        return "\n".join(
            [
                "| | PM system | warehouse | ledger |",
                "|---|---|---|---|",
                f"| records | {self.pm_records} | {self.pm_records} | {self.ledger_records} |",
                f"| hours | {self.pm_hours} | {self.pm_hours} | {self.ledger_hours} |",
                f"| expenses | {self.pm_expense_total} | {self.pm_expense_total} | |",
                "",
                f"Repaired by re-listing: {self.listing.new_versions} missed or changed, "
                f"{self.listing.tombstones} deleted, {self.listing.rejected} rejected.",
                f"Billed but gone from the PM system: {gone or 'none'}.",
            ]
        )


def compare_month(
    entity: str,
    period: str,
    listing: ListingOutcome,
    current: pl.DataFrame,
    ledger_line_ids: list[str],
    ledger_hours: Decimal,
) -> ConsistencyReport:
    """The report from the month's current raw records (`line_id`, `hours`, `amount` after re-listing)
    and the line ids and hours behind the month's booked documents."""
    current_ids = set(current["line_id"].to_list())
    gone = tuple(sorted(set(ledger_line_ids) - current_ids))
    return ConsistencyReport(
        entity=entity,
        period=period,
        listing=listing,
        pm_records=current.height,
        pm_hours=Decimal(str(current["hours"].sum() or 0)),
        pm_expense_total=Decimal(str(current["amount"].sum() or 0)),
        ledger_records=len(set(ledger_line_ids)),
        ledger_hours=ledger_hours,
        billed_but_gone=gone,
    )
