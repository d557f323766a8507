"""An outbox row: one outbound document's posting state, as a value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from rules.outbox.ledger import LedgerDocument

# Posting order: invoices first, so a credit note can be allocated to the invoice it corrects;
# payments last, after the invoices and credit notes they pay.
KIND_ORDER = ("invoice", "credit_note", "manual_journal", "payment")


class Status(StrEnum):
    """Where a document is on its way to the ledger (the strings are what posting.outbox stores)."""

    PENDING = "pending"  # written, not sent (or sent, and a look-up showed the ledger does not hold it)
    SENT = "sent"  # a send is under way, or its outcome is unknown: only a look-up settles it
    CONFIRMED = "confirmed"  # the ledger holds it; its id and what it booked are kept
    DEAD_LETTER = "dead_letter"  # refused, or out of attempts: waits for `dlq replay` or `dlq discard`
    DISCARDED = "discarded"  # an operator closed it without sending (never sent again)


@dataclass(frozen=True)
class Version:
    """The version of a document the outbox would send: its identity, content and idempotency key."""

    document_number: str
    document_kind: str
    content_hash: str
    idempotency_key: str
    total: Decimal
    currency: str


@dataclass(frozen=True)
class OutboxRow:
    """One row of posting.outbox, plus (when it has just been confirmed) what the ledger booked."""

    document_number: str
    entity: str
    period: str
    document_kind: str
    content_hash: str
    idempotency_key: str
    status: Status
    attempts: int
    draft_total: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    run_id: str
    external_id: str | None = None
    posted_total: Decimal | None = None
    last_error: str | None = None
    allocated_to: str | None = None
    allocation_note: str | None = None
    # While in doubt: the earliest moment a look-up that does not find the document may settle it as
    # absent (any request still in flight has landed by then). None: not in doubt, or not yet known.
    settle_after: datetime | None = None
    # Not a column: the ledger's document when this row was just confirmed (its lines go to posted_lines).
    booked: LedgerDocument | None = field(default=None, compare=False)

    def in_doubt_until(self, now: datetime) -> datetime | None:
        """When a look-up may settle this row as absent, if it is in doubt and that moment is still ahead."""
        if self.status is Status.SENT and self.settle_after is not None and self.settle_after > now:
            return self.settle_after
        return None


def new_row(version: Version, entity: str, period: str, now: datetime, run_id: str) -> OutboxRow:
    """The row a document gets when the outbox first sees it: pending, with its idempotency key."""
    return OutboxRow(
        document_number=version.document_number,
        entity=entity,
        period=period,
        document_kind=version.document_kind,
        content_hash=version.content_hash,
        idempotency_key=version.idempotency_key,
        status=Status.PENDING,
        attempts=0,
        draft_total=version.total,
        currency=version.currency,
        created_at=now,
        updated_at=now,
        run_id=run_id,
    )
