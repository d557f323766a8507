"""What the month report reads from one entity's file, as frames for rules/month_kpis.py.

Read through whatever `Warehouse` the caller holds (the CLI and the asset open files read-only), one
short query each, so a report never holds an entity's file from a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from resources.warehouse import Warehouse


@dataclass(frozen=True)
class MonthFrames:
    """One entity-month's inputs: billable lines, outbox documents, invoices' first booking days, counts."""

    lines: pl.DataFrame
    documents: pl.DataFrame
    booked_on: list[date]
    invoices: int
    corrections: int


LINES = """SELECT billable, approved, amount_base FROM normalized.billable_lines
            WHERE entity = ? AND day BETWEEN ? AND ?"""
# Every outbox document of the month, its booked lines, and whether it ever went to the dead letters.
DOCUMENTS = """SELECT o.document_number, o.status,
                      (SELECT count(*) FROM posting.posted_lines p WHERE p.document_number = o.document_number)
                        AS lines,
                      o.document_number IN (SELECT document_number FROM posting.dead_letters) AS dead_lettered
                 FROM posting.outbox o WHERE o.entity = ? AND o.period = ? ORDER BY 1"""
# The day (UTC) each invoice of the month was first booked.
BOOKED = """SELECT document_number, min(timezone('UTC', posted_at))::DATE AS booked_on
              FROM posting.posted_lines WHERE entity = ? AND period = ? AND document_kind = 'invoice'
             GROUP BY 1 ORDER BY 1"""
INVOICES = "SELECT count(*) AS n FROM billing.invoice_drafts WHERE entity = ? AND period = ?"
CORRECTIONS = "SELECT count(*) AS n FROM billing.correction_documents WHERE entity = ? AND period = ?"


def month_frames(warehouse: Warehouse, entity: str, month: date, month_end: date) -> MonthFrames:
    """The inputs of the entity's month `month`..`month_end` (the period is the month's YYYY-MM)."""
    period = month.strftime("%Y-%m")
    booked = warehouse.query(entity, BOOKED, [entity, period])
    return MonthFrames(
        lines=warehouse.query(entity, LINES, [entity, month, month_end]),
        documents=warehouse.query(entity, DOCUMENTS, [entity, period]),
        booked_on=list(booked["booked_on"]),
        invoices=int(warehouse.query(entity, INVOICES, [entity, period])["n"][0]),
        corrections=int(warehouse.query(entity, CORRECTIONS, [entity, period])["n"][0]),
    )
