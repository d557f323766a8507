"""The allocation journals as a document source: what the outbox posts for an entity-month's close.

Computed, not stored: which posted journals to reverse depends on what the ledger already holds
(posting.posted_lines), which changes as the outbox confirms documents, so the source reads it
at the moment the outbox asks (after the outbox has settled whatever was in doubt). The close
of a month posts the journals dated within it, from its own allocation and from every earlier
allocation month still depreciating (rules/allocation/close_month.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.allocation.allocation_assets import JOURNAL_DRAFTS
from resources.outbox.sources import WarehouseReader
from rules.allocation.close_month import AllocatedMonth, journals_of_close

# Every allocation month of the entity up to the close, with its current run (its latest run).
CURRENT_RUNS_SQL = """
SELECT period, run_id FROM allocation.runs WHERE entity = ? AND period <= ?
QUALIFY row_number() OVER (PARTITION BY period ORDER BY created_at DESC, run_id DESC) = 1
ORDER BY period
"""


@dataclass(frozen=True)
class AllocationJournals:
    """The allocation journals dated within the close's month, with reversals of superseded ones."""

    name: str = "allocation journals"
    produced_by: tuple[str, ...] = tuple(JOURNAL_DRAFTS.path)

    def read(self, reader: WarehouseReader, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The journals the entity-month's close posts, in the outbound shape."""
        runs = reader.query(entity, CURRENT_RUNS_SQL, [entity, period])
        drafts = reader.query(
            entity,
            "SELECT * FROM allocation.journal_drafts WHERE entity = ? AND period <= ?",
            [entity, period],
        )
        months = [
            AllocatedMonth(str(month), str(run_id), drafts.filter(pl.col("period") == month))
            for month, run_id in runs.iter_rows()
        ]
        posted = reader.query(
            entity,
            "SELECT * FROM posting.posted_lines WHERE entity = ? AND document_kind = 'manual_journal'",
            [entity],
        )
        return journals_of_close(entity, period, months, posted)
