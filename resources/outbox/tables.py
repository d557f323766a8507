"""The outbox's tables as polars schemas, and an outbox row to and from its stored form."""

from __future__ import annotations

from typing import Any

import polars as pl

from rules.money import MONEY
from rules.outbox.rows import OutboxRow, Status

OUTBOX_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(),
        "entity": pl.String(),
        "period": pl.String(),
        "content_hash": pl.String(),
        "idempotency_key": pl.String(),
        "status": pl.String(),
        "attempts": pl.Int32(),
        "external_id": pl.String(),
        "posted_total": MONEY,
        "draft_total": MONEY,
        "currency": pl.String(),
        "last_error": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
        "updated_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String(),
        "document_kind": pl.String(),
        "allocated_to": pl.String(),
        "allocation_note": pl.String(),
        "settle_after": pl.Datetime("us", "UTC"),
    }
)
_POSTED_COLUMNS = {
    "document_number": pl.String(),
    "document_kind": pl.String(),
    "document_type": pl.String(),
    "original_number": pl.String(),
    "entity": pl.String(),
    "period": pl.String(),
    "line_no": pl.Int32(),
    "description": pl.String(),
    "quantity": MONEY,
    "unit_amount": MONEY,
    "line_amount": MONEY,
    "tax_type": pl.String(),
    "tax_amount": MONEY,
    "account_code": pl.String(),
    "project_id": pl.Int64(),
    "task_id": pl.Int64(),
    "source_kind": pl.String(),
    "currency": pl.String(),
    "document_date": pl.Date(),
}
# What the ledger holds, line by line: what corrections compare the next drafts with.
POSTED_LINES_SCHEMA = pl.Schema(
    {**_POSTED_COLUMNS, "posted_at": pl.Datetime("us", "UTC"), "run_id": pl.String()}
)
# The lines of the version an outbox row sends, kept from before the first request.
OUTBOX_LINES_SCHEMA = pl.Schema({**_POSTED_COLUMNS, "content_hash": pl.String()})


_OUTBOX_COLUMNS = tuple(OUTBOX_SCHEMA.names())


def stored(row: OutboxRow) -> dict[str, Any]:
    """The row as posting.outbox stores it (read field by field: `asdict` deep-copies the booked
    document, the largest CPU cost of a confirmed row)."""
    values = {name: getattr(row, name) for name in _OUTBOX_COLUMNS}
    values["status"] = row.status.value
    return values


def loaded(values: dict[str, Any]) -> OutboxRow:
    """A posting.outbox row as an OutboxRow."""
    return OutboxRow(
        document_number=values["document_number"],
        entity=values["entity"],
        period=values["period"],
        document_kind=values["document_kind"] or "invoice",
        content_hash=values["content_hash"],
        idempotency_key=values["idempotency_key"],
        status=Status(values["status"]),
        attempts=int(values["attempts"]),
        draft_total=values["draft_total"],
        currency=values["currency"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        run_id=values["run_id"],
        external_id=values["external_id"],
        posted_total=values["posted_total"],
        last_error=values["last_error"],
        allocated_to=values["allocated_to"],
        allocation_note=values["allocation_note"],
        settle_after=values.get("settle_after"),
    )
