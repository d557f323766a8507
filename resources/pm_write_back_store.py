"""The write-back's side of an entity's warehouse file: what the ledger booked, and posting.pm_write_back.

Booked means confirmed by the ledger: an outbox row in `confirmed` with the lines the ledger booked
(posting.posted_lines). Every change of a write-back row commits before the next request goes out,
which is what lets a killed run be settled by a look-up instead of a second create.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from resources.warehouse import Warehouse, append
from rules.pm_write_back import (
    Booked,
    BookedCredit,
    BookedInvoice,
    BookedPayment,
    WriteBackRow,
    WriteBackState,
)
from rules.schemas.catalog import table

WRITE_BACK = "posting.pm_write_back"
_CONFIRMED = "o.entity = ? AND o.period = ? AND o.status = 'confirmed'"
INVOICES_SQL = f"""
SELECT o.document_number, o.period, d.client_id, d.due_date, o.currency, o.posted_total,
       min(l.document_date) AS issue_date,
       list(DISTINCT l.project_id ORDER BY l.project_id) FILTER (WHERE l.project_id IS NOT NULL) AS projects,
       list(DISTINCT l.tax_type) AS tax_types
FROM posting.outbox o JOIN posting.posted_lines l USING (document_number)
LEFT JOIN billing.invoice_drafts d ON d.invoice_number = o.document_number
WHERE {_CONFIRMED} AND o.document_kind = 'invoice' AND coalesce(l.document_type, 'ACCREC') = 'ACCREC'
GROUP BY ALL ORDER BY o.document_number
"""
# A payment keeps no posted lines (rules/outbox/booked.py: they would count as billed on its invoice);
# what it paid is the version the outbox sent (posting.outbox_lines) and the amount the ledger returned.
_BOOKED_LINES = """
SELECT document_number, document_type, original_number, document_date, line_amount, description
FROM posting.posted_lines
UNION ALL
SELECT document_number, document_type, original_number, document_date, line_amount, description
FROM posting.outbox_lines WHERE document_kind = 'payment'
"""
OTHERS_SQL = f"""
SELECT o.document_number, o.period, o.document_kind, o.currency, o.posted_total,
       any_value(l.document_type) AS document_type, any_value(l.original_number) AS original_number,
       min(l.document_date) AS document_date, sum(l.line_amount) AS amount,
       split_part(any_value(l.description), ' ', 1) AS purpose
FROM posting.outbox o JOIN ({_BOOKED_LINES}) l USING (document_number)
WHERE {_CONFIRMED} AND o.document_kind IN ('payment', 'credit_note')
  AND coalesce(l.document_type, '') IN ('', 'ACCRECCREDIT', 'ACCRECPAYMENT', 'ARCREDITPAYMENT')
GROUP BY ALL ORDER BY o.document_number
"""


def booked_documents(
    warehouse: Warehouse, entity: str, period: str, tax_rates: dict[str, Decimal]
) -> list[Booked]:
    """The sales invoices, their payments and credit notes the ledger booked for the entity-month."""
    booked: list[Booked] = []
    for r in warehouse.query(entity, INVOICES_SQL, [entity, period]).iter_rows(named=True):
        taxes = set(r["tax_types"] or [])
        rate = tax_rates.get(next(iter(taxes))) if len(taxes) == 1 else None
        booked.append(BookedInvoice(r["document_number"], r["period"], r["client_id"], r["issue_date"],
                                    r["due_date"], r["currency"], r["posted_total"],
                                    tuple(r["projects"] or ()), rate))  # fmt: skip
    for r in warehouse.query(entity, OTHERS_SQL, [entity, period]).iter_rows(named=True):
        total = r["posted_total"] if r["posted_total"] is not None else r["amount"]
        if r["document_kind"] == "credit_note":
            booked.append(BookedCredit(r["document_number"], r["period"], r["original_number"], total,
                                       r["currency"]))  # fmt: skip
            continue
        settles = "credit_note" if r["document_type"] == "ARCREDITPAYMENT" else "invoice"
        booked.append(BookedPayment(r["document_number"], r["period"], r["original_number"], settles,
                                    r["document_date"], total, r["currency"], r["purpose"]))  # fmt: skip
    return booked


class WriteBackStore:
    """posting.pm_write_back for one entity: read by period, each change committed on its own."""

    def __init__(self, warehouse: Warehouse, entity: str, run_id: str):
        self.warehouse = warehouse
        self.entity = entity
        self.run_id = run_id

    def rows(self, numbers: list[str] | None = None, period: str | None = None) -> dict[str, WriteBackRow]:
        """Rows by document number: of `period`, or these `numbers` (whatever their period)."""
        sql, params = f"SELECT * FROM {WRITE_BACK} WHERE entity = ?", [self.entity]
        if period is not None:
            sql, params = sql + " AND period = ?", [*params, period]
        if numbers is not None:
            sql += " AND document_number IN (SELECT unnest(?::VARCHAR[]))"
            params = [*params, numbers]  # type: ignore[list-item]  # a list parameter binds a VARCHAR[]
        frame = self.warehouse.query(self.entity, sql + " ORDER BY document_number", params)
        return {r["document_number"]: _loaded(r) for r in frame.iter_rows(named=True)}

    def save(self, *rows: WriteBackRow) -> list[WriteBackRow]:
        """Commit these rows' new state (stamped with this run); returns them as stored."""
        if not rows:
            return []
        now = datetime.now(UTC)
        stamped = [replace(row, updated_at=now, run_id=self.run_id) for row in rows]
        frame = pl.DataFrame([_stored(row) for row in stamped], schema=table(WRITE_BACK).polars_schema())
        with self.warehouse.transaction(self.entity) as con:
            con.execute(
                f"DELETE FROM {WRITE_BACK} WHERE document_number IN (SELECT unnest(?::VARCHAR[]))",
                [[row.document_number for row in stamped]],
            )
            append(con, WRITE_BACK, frame)
        return stamped


def _stored(row: WriteBackRow) -> dict[str, Any]:
    return {**asdict(row), "state": row.state.value}


def _loaded(values: dict[str, Any]) -> WriteBackRow:
    return WriteBackRow(**{**values, "state": WriteBackState(values["state"])})
