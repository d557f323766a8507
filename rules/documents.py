"""The outbound document shape: what every producer hands the outbox (pure definitions).

Invoice drafts, corrections (credit notes and supplementary invoices), intercompany invoices and
bills, and allocation journals are drafted by different assets into their own tables; each table
holds headers and lines in this one shape, so the outbox posts all of them through one path.

Numbers: every document number starts with `BB-<ISSUING ENTITY>-<YYYYMM>-` (see
`document_number_prefix`), which is what the outbox looks each kind up by in the ledger. A
manual journal has no number field in the accounting API, so its number leads its Narration
(`<number>: <narration>`). A payment has no number either: its number is its Reference (which the
accounting API's `where` filter on GET /Payments can search), and `original_number` names the
invoice or credit note it pays.
"""

from __future__ import annotations

import hashlib

import polars as pl

from rules.exact_json import canonical_text
from rules.money import FX_RATE, MONEY

# document_kind -> the accounting API's collection, number field and id field.
KINDS: dict[str, tuple[str, str, str]] = {
    "invoice": ("Invoices", "InvoiceNumber", "InvoiceID"),
    "credit_note": ("CreditNotes", "CreditNoteNumber", "CreditNoteID"),
    "manual_journal": ("ManualJournals", "Narration", "ManualJournalID"),
    "payment": ("Payments", "Reference", "PaymentID"),
}
# document_type per kind: invoices are ACCREC (sales) or ACCPAY (bills); credit notes
# ACCRECCREDIT or ACCPAYCREDIT; journals have none.
DOCUMENT_TYPES: dict[str, tuple[str, ...]] = {
    "invoice": ("ACCREC", "ACCPAY"),
    "credit_note": ("ACCRECCREDIT", "ACCPAYCREDIT"),
    "manual_journal": (),
    "payment": ("ACCRECPAYMENT", "ARCREDITPAYMENT"),
}
# The collection and number field of the document a payment of each type pays (and its id field).
PAID_DOCUMENTS: dict[str, tuple[str, str, str, str]] = {
    "ACCRECPAYMENT": ("Invoice", "Invoices", "InvoiceNumber", "InvoiceID"),
    "ARCREDITPAYMENT": ("CreditNote", "CreditNotes", "CreditNoteNumber", "CreditNoteID"),
}

RATE = FX_RATE

DOCUMENT_HEADER_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(),
        "document_kind": pl.String(),  # invoice | credit_note | manual_journal | payment
        # ACCREC | ACCPAY | ACCRECCREDIT | ACCPAYCREDIT | ACCRECPAYMENT | ARCREDITPAYMENT | null (journal)
        "document_type": pl.String(),
        "entity": pl.String(),
        "period": pl.String(),  # YYYY-MM: the entity-month whose posting pass sends it
        "contact_name": pl.String(),  # null for journals
        "reference": pl.String(),
        "document_date": pl.Date(),
        "due_date": pl.Date(),  # null for credit notes and journals
        "currency": pl.String(),
        "base_currency": pl.String(),
        "currency_rate": RATE,  # units of `currency` per one unit of `base_currency`
        "line_amount_types": pl.String(),  # Exclusive | Inclusive | NoTax
        "subtotal": MONEY,
        "total_tax": MONEY,
        "total": MONEY,  # as the document shows it: positive for credit notes too
        "original_number": pl.String(),  # what a credit note or supplementary corrects, or a payment pays
        "content_hash": pl.String(),
        "rule_set_version": pl.String(),
        "run_id": pl.String(),
    }
)

DOCUMENT_LINE_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(),
        "line_no": pl.Int32(),
        "entity": pl.String(),
        "period": pl.String(),
        "description": pl.String(),
        "quantity": MONEY,
        "unit_amount": MONEY,
        "line_amount": MONEY,  # journals: debit positive, credit negative
        "tax_type": pl.String(),
        "tax_amount": MONEY,
        "account_code": pl.String(),
    }
)


def document_number_prefix(entity: str, period: str) -> str:
    """`BB-US-202608-`: the start of every number the entity issues for the month."""
    return f"BB-{entity.upper()}-{period.replace('-', '')}-"


def number_prefix_of(document_number: str) -> str:
    """The `BB-<ENTITY>-<YYYYMM>-` prefix a document number starts with (what the ledger is searched by)."""
    parts = document_number.split("-")
    if len(parts) < 4 or parts[0] != "BB":
        raise ValueError(f"document number {document_number!r} does not start with BB-<ENTITY>-<YYYYMM>-")
    return "-".join(parts[:3]) + "-"


def content_hash(header: dict[str, object], lines: list[dict[str, object]]) -> str:
    """SHA-256 of the document as it would be sent: the same content always hashes the same."""
    text = canonical_text({"header": header, "lines": lines})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
