"""Refunds: each booked credit note allocated to the invoice it corrects, once."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from assets.posting.posting_pass import PostingPass
from resources.http_retry import PermanentHTTPError
from resources.outbox.store import Writes
from rules.outbound_payloads import idempotency_key
from rules.outbox.rows import OutboxRow, Status


def allocate_credit_notes(posting: PostingPass, headers: pl.DataFrame) -> None:
    """Allocate each booked credit note to the invoice it corrects, once (a refund settles that invoice).

    The ledger only allocates approved documents: with drafts (`invoice_status: DRAFT`) the outbox
    row says the allocation waits, and a later run does it once the entity posts approved documents.
    """
    credits = headers.filter(
        (pl.col("document_kind") == "credit_note") & pl.col("original_number").is_not_null()
    )
    if credits.height == 0:
        return
    rows = posting.store.rows(
        posting.period, numbers=credits["document_number"].to_list() + credits["original_number"].to_list()
    )
    writes = Writes()
    for header in credits.iter_rows(named=True):
        row = rows.get(header["document_number"])
        if row is None or row.status is not Status.CONFIRMED or row.allocated_to:
            continue
        allocated, note = _allocate(posting, row, rows.get(header["original_number"]), header)
        if note != row.allocation_note:
            writes.change(row, replace(row, allocation_note=note, allocated_to=allocated or row.allocated_to))
    posting.store.commit(writes)


def _allocate(
    posting: PostingPass, row: OutboxRow, original: OutboxRow | None, header: dict[str, object]
) -> tuple[str | None, str]:
    """Allocate one credit note if it can be: (the invoice it went to, or None; the note to keep)."""
    original_number = str(header["original_number"])
    if original is None or original.status is not Status.CONFIRMED:
        return None, f"waits: the original invoice {original_number} is not booked"
    if posting.entity.invoice_status != "AUTHORISED":
        return None, "waits: the ledger allocates approved documents only (invoice_status is not AUTHORISED)"
    allocation = {
        "Invoice": {"InvoiceID": original.external_id},
        "Amount": row.posted_total,
        "Date": header["document_date"].isoformat(),  # type: ignore[attr-defined]
    }
    posting.outcome.requests += 1
    try:
        posting.xero.allocate_credit_note(
            posting.tenant,
            str(row.external_id),
            allocation,
            idempotency_key(f"allocation:{row.document_number}", row.content_hash),
            recorder=posting.record,
        )
    except PermanentHTTPError as exc:
        note = f"allocation refused: {exc}"
        posting.log.warning(f"{posting.entity.id}: credit note {row.document_number}: {note}")
        return None, note
    posting.outcome.allocated.append(row.document_number)
    return original_number, f"allocated {row.posted_total} to {original_number}"
