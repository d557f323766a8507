"""Which allocation journals an entity-month's close posts: those dated within the month, no others.

An allocation of month P drafts its Capex capitalization (dated at P's end) and the whole
straight-line depreciation schedule (one journal at the end of each of the following
`life_months` months) at once. Posting them all with P would book depreciation years ahead,
so the close of month M posts only the journals dated within M: M's own capitalizations and,
from every earlier allocation month still depreciating, its month-M charge
(docs/decisions/0038-one-close-per-entity-month.md).

Each allocation month keeps the guarantees of `journal_documents_for_posting` (0013): posted
journals the current run drafts unchanged keep their number, superseded ones are reversed on
their own date. A journal, or a reversal, therefore belongs to exactly one close, the month of
its date, and a re-run of that close finds it booked. Documents carry the period of that close
(the outbox files its row, and the ledger its lines, under the close's period).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rules.allocation.journals import allocation_journal_prefix, in_period, journal_documents_for_posting
from rules.calendar import month_end, period_start
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA


@dataclass(frozen=True)
class AllocatedMonth:
    """One allocation month of an entity: its journal drafts (of every run) and its current run."""

    period: str
    current_run_id: str
    drafts: pl.DataFrame


def dated_within(headers: pl.DataFrame, period: str) -> pl.Series:
    """Per header: is its document date within the month `period` (first to last day, inclusive)?"""
    first = period_start(period)
    return headers["document_date"].is_between(first, month_end(first), closed="both")


def journals_of_close(
    entity: str, close_period: str, months: list[AllocatedMonth], posted: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(headers, lines) in the outbound shape: the allocation journals the close of `close_period` posts.

    `months`: the entity's allocation months (any order; later ones than the close are ignored, none
    of their journals can be dated in it). `posted`: the entity's booked manual-journal lines
    (posting.posted_lines, whatever close booked them); each allocation month's are told by their
    number series. Raises JournalPostingError as `journal_documents_for_posting` does.
    """
    headers: list[pl.DataFrame] = [pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA)]
    lines: list[pl.DataFrame] = [pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA)]
    for month in sorted(months, key=lambda m: m.period):
        if month.period > close_period:
            continue
        prefix = allocation_journal_prefix(entity, month.period)
        # Booked under the close that posted them; the allocation month's rule reads them as its own.
        ours = posted.filter(pl.col("document_number").str.starts_with(prefix)).with_columns(
            pl.lit(month.period).alias("period")
        )
        month_headers, month_lines = journal_documents_for_posting(month.drafts, month.current_run_id, ours)
        due = month_headers.filter(dated_within(month_headers, close_period))
        due_lines = month_lines.filter(pl.col("document_number").is_in(due["document_number"].implode()))
        due, due_lines = in_period(due, due_lines, close_period)
        headers.append(due)
        lines.append(due_lines)
    return pl.concat(headers), pl.concat(lines)
