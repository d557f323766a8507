"""The allocation journals as a document source: what the outbox posts for an entity-month's allocation.

Computed, not stored: which posted journals to reverse depends on what the ledger already holds
(posting.posted_lines), which changes as the outbox confirms documents, so the source reads it
at the moment the outbox asks (after the outbox has settled whatever was in doubt).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.allocation.allocation_assets import JOURNAL_DRAFTS
from assets.allocation.runs import CURRENT_RUN_SQL
from resources.outbox.sources import WarehouseReader
from rules.allocation.journals import journal_documents_for_posting
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA


@dataclass(frozen=True)
class AllocationJournals:
    """The current allocation run's journals, with reversals of posted journals it supersedes."""

    name: str = "allocation journals"
    produced_by: tuple[str, ...] = tuple(JOURNAL_DRAFTS.path)

    def read(self, reader: WarehouseReader, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The entity-month's journals to post, in the outbound shape."""
        run = reader.query(entity, CURRENT_RUN_SQL, [entity, period])
        if run.height == 0:
            return pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA), pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA)
        drafts = reader.query(
            entity,
            "SELECT * FROM allocation.journal_drafts WHERE entity = ? AND period = ?",
            [entity, period],
        )
        posted = reader.query(
            entity,
            "SELECT * FROM posting.posted_lines WHERE entity = ? AND period = ? AND document_kind = 'manual_journal'",
            [entity, period],
        )
        return journal_documents_for_posting(drafts, str(run["run_id"][0]), posted)
