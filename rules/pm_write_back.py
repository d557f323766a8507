"""What the ledger booked, written back to the PM system (Harvest), exactly once (pure; docs/decisions/0031).

Harvest's contract has an invoice and an invoice payment, no credit note and no refund, and no
idempotency key. So: a booked invoice becomes a Harvest invoice of the same number that imports the
client's tracked time of the period (which bills and locks it there); a booked payment of an invoice
becomes a payment on it, its notes starting with our payment's number; a credit note, and a refund of
one, are recorded as not written back, with the reason. Exactly once comes from the write-back ledger
(posting.pm_write_back): every create is preceded by a look-up by number, and a row is `sent` before
its request goes, so a create whose answer was lost is settled by the next look-up, never sent blind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rules.calendar import month_end, period_start

CREDIT_NOTE_REASON = (
    "Harvest's invoice API has no credit note (only invoices and invoice payments), and a negative "
    "invoice would not unbill the time; correct the invoice in Harvest by hand if it must show there"
)
REFUND_REASON = (
    "a refund settles a credit note, which Harvest cannot hold, so there is no Harvest invoice to pay"
)
NO_CLIENT_REASON = (
    "not drafted from a client's tracked time (a supplementary or intercompany invoice): the import "
    "that bills and locks time in Harvest has nothing of its own to bill"
)
WAITING_REASON = "its invoice {invoice} is not written back yet"


class WriteBackState(StrEnum):
    """Where a booked document is on its way to the PM system (what posting.pm_write_back stores)."""

    PENDING = "pending"  # to be written; looked up by number before every create
    SENT = "sent"  # a create went out and its answer was not recorded: only a look-up settles it
    WRITTEN = "written"  # the PM system holds it; its id is kept
    REFUSED = "refused"  # the PM system refused the create (reason kept); looked up and tried next run
    WAITING = "waiting"  # a payment whose invoice is not written back yet
    NOT_WRITTEN_BACK = "not_written_back"  # the PM system cannot express it (reason kept); final


OPEN_STATES = (WriteBackState.PENDING, WriteBackState.SENT, WriteBackState.REFUSED, WriteBackState.WAITING)


@dataclass(frozen=True)
class BookedInvoice:
    """An invoice the ledger holds, with what its Harvest twin needs."""

    number: str
    period: str
    client_id: int | None  # None: not drafted from a PM client's time
    issue_date: date
    due_date: date | None
    currency: str
    total: Decimal
    project_ids: tuple[int, ...]
    tax_percent: Decimal | None  # the one tax rate of its lines; None when they have none or several


@dataclass(frozen=True)
class BookedPayment:
    """A payment the ledger holds: what it settles, when, how much (in the settled document's currency)."""

    number: str
    period: str
    settles: str  # the invoice or credit note number
    settles_kind: str  # invoice | credit_note
    paid_date: date
    amount: Decimal
    currency: str
    purpose: str  # cash | bank_fee | write_off


@dataclass(frozen=True)
class BookedCredit:
    """A credit note the ledger holds."""

    number: str
    period: str
    original_number: str
    total: Decimal
    currency: str


Booked = BookedInvoice | BookedPayment | BookedCredit


@dataclass(frozen=True)
class WriteBackRow:
    """One row of posting.pm_write_back."""

    document_number: str
    entity: str
    period: str
    document_kind: str  # invoice | payment | credit_note
    invoice_number: str  # the PM invoice it is (invoice) or belongs to (payment, credit note)
    state: WriteBackState
    ledger_amount: Decimal
    currency: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    run_id: str
    pm_id: str | None = None
    pm_amount: Decimal | None = None
    reason: str | None = None


def kind_of(document: Booked) -> str:
    """The document kind a booked document is stored as."""
    if isinstance(document, BookedInvoice):
        return "invoice"
    return "payment" if isinstance(document, BookedPayment) else "credit_note"


def new_row(document: Booked, entity: str, now: datetime, run_id: str) -> WriteBackRow:
    """The row a booked document gets when the write-back first sees it (final at once when Harvest
    cannot express it)."""
    state, reason, invoice_number = WriteBackState.PENDING, None, document.number
    amount = document.amount if isinstance(document, BookedPayment) else document.total
    if isinstance(document, BookedCredit):
        state, reason, invoice_number = (
            WriteBackState.NOT_WRITTEN_BACK,
            CREDIT_NOTE_REASON,
            document.original_number,
        )
    elif isinstance(document, BookedPayment):
        invoice_number = document.settles
        if document.settles_kind != "invoice":
            state, reason = WriteBackState.NOT_WRITTEN_BACK, REFUND_REASON
    elif document.client_id is None:
        state, reason = WriteBackState.NOT_WRITTEN_BACK, NO_CLIENT_REASON
    return WriteBackRow(document.number, entity, document.period, kind_of(document), invoice_number, state,
                        amount, document.currency, 0, now, now, run_id, reason=reason)  # fmt: skip


def invoice_request(invoice: BookedInvoice) -> dict[str, Any]:
    """The createInvoice body: same number, client, dates and currency; the period's tracked time and
    expenses of its projects imported (Harvest marks them invoiced and locks them)."""
    if invoice.client_id is None:
        raise ValueError(f"{invoice.number}: {NO_CLIENT_REASON}")
    first, last = period_start(invoice.period), month_end(period_start(invoice.period))
    window = {"from": first.isoformat(), "to": last.isoformat()}
    body: dict[str, Any] = {
        "client_id": invoice.client_id,
        "number": invoice.number,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "subject": f"{invoice.number} (booked in the ledger)",
        "line_items_import": {
            "project_ids": list(invoice.project_ids),
            "time": {"summary_type": "task", **window},
            "expenses": {"summary_type": "category", **window},
        },
    }
    if invoice.due_date is not None:  # a due date of our own needs the custom payment term
        body.update(payment_term="custom", due_date=invoice.due_date.isoformat())
    if invoice.tax_percent:
        body["tax"] = invoice.tax_percent
    return body


def payment_note(payment: BookedPayment) -> str:
    """The payment's notes in Harvest: our number first, which is what it is found by."""
    return f"{payment.number}: {payment.purpose} booked in the ledger for {payment.settles}"


def payment_request(payment: BookedPayment) -> dict[str, Any]:
    """The createInvoicePayment body (no thank-you mail: the client was not just paid by this)."""
    return {
        "amount": payment.amount,
        "paid_date": payment.paid_date.isoformat(),
        "notes": payment_note(payment),
        "send_thank_you": False,
    }


def is_payment(record: dict[str, Any], number: str) -> bool:
    """Whether a Harvest invoice payment is the one written for our payment `number`."""
    return str(record.get("notes") or "").startswith(f"{number}:")


def difference_note(row: WriteBackRow, pm_amount: Decimal) -> str | None:
    """Why the PM system's amount is not the ledger's, or None when they agree."""
    if pm_amount == row.ledger_amount:
        return None
    return (
        f"Harvest's amount {pm_amount} {row.currency} differs from the ledger's {row.ledger_amount} "
        f"by {pm_amount - row.ledger_amount}: its tracked time is not what was invoiced"
    )


def found(row: WriteBackRow, pm_id: str, pm_amount: Decimal) -> WriteBackRow:
    """The PM system holds the document (created now, or found by a look-up): written, with its id."""
    return replace(row, state=WriteBackState.WRITTEN, pm_id=pm_id, pm_amount=pm_amount,
                   reason=difference_note(row, pm_amount))  # fmt: skip


def absent(row: WriteBackRow) -> WriteBackRow:
    """A look-up did not find it: a row that was sent goes back to pending (the create never landed)."""
    if row.state in (WriteBackState.SENT, WriteBackState.WAITING):
        return replace(row, state=WriteBackState.PENDING, reason=None)
    return row


def sending(row: WriteBackRow) -> WriteBackRow:
    """Recorded before the create goes out, so a crash before its answer is recorded cannot resend blind."""
    return replace(row, state=WriteBackState.SENT, attempts=row.attempts + 1)


def refused(row: WriteBackRow, message: str) -> WriteBackRow:
    """The PM system refused the create: it did not happen; the reason is kept."""
    return replace(row, state=WriteBackState.REFUSED, reason=message)


def in_doubt(row: WriteBackRow, message: str) -> WriteBackRow:
    """No answer (timeout, dropped connection, server error): stays sent until a look-up settles it."""
    return replace(row, state=WriteBackState.SENT, reason=f"outcome unknown: {message}")


def blocked_by_invoice(row: WriteBackRow, invoice: WriteBackRow | None) -> WriteBackRow | None:
    """A payment's row when its invoice keeps it from being written (None: the invoice is written):
    not written back with its invoice's reason, or waiting until the invoice is written."""
    if invoice is not None and invoice.pm_id is not None:
        return None
    if invoice is not None and invoice.state is WriteBackState.NOT_WRITTEN_BACK:
        reason = f"its invoice {invoice.document_number} is not written back: {invoice.reason}"
        return replace(row, state=WriteBackState.NOT_WRITTEN_BACK, reason=reason)
    return replace(
        row, state=WriteBackState.WAITING, reason=WAITING_REASON.format(invoice=row.invoice_number)
    )
