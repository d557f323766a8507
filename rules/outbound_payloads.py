"""Outbound documents -> accounting-API elements and their idempotency keys (pure)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from rules.documents import PAID_DOCUMENTS
from rules.settings import EntityConfig


def idempotency_key(document_number: str, content_hash: str) -> str:
    """Derived from the document's identity and content: a retry of the same document reuses it,
    a changed document gets a new one. 64 hex characters, within the provider's 128."""
    return hashlib.sha256(f"{document_number}:{content_hash}".encode()).hexdigest()


def batch_key(keys: list[str]) -> str:
    """Idempotency key of a batch: the same documents in the same order give the same key."""
    return hashlib.sha256(",".join(keys).encode()).hexdigest()


def journal_narration(number: str, narration: str) -> str:
    """A manual journal's Narration: its number first, so the ledger can be searched by number."""
    return f"{number}: {narration}"


def number_from_narration(narration: str) -> str:
    """The document number a journal's Narration starts with (see journal_narration)."""
    return narration.split(": ", 1)[0]


# A document's lines: a frame, or its rows as dicts (what the outbox holds, one document at a time).
Lines = pl.DataFrame | Sequence[Mapping[str, Any]]


def _in_order(lines: Lines) -> list[Mapping[str, Any]]:
    """The lines sorted by line_no."""
    if isinstance(lines, pl.DataFrame):
        return list(lines.sort("line_no").iter_rows(named=True))
    return sorted(lines, key=lambda line: line["line_no"])


def outbound_document(
    header: Mapping[str, Any], lines: Lines, entity: EntityConfig, contact_id: str | None
) -> dict[str, Any]:
    """The API element for one outbound document (amounts as Decimal; the connector writes them exactly).

    `header` and `lines` are in the shape of rules/documents.py.
    """
    kind = header["document_kind"]
    ordered = _in_order(lines)
    if kind == "manual_journal":
        return {
            "Narration": journal_narration(header["document_number"], header["reference"]),
            "Date": header["document_date"].isoformat(),
            "Status": "DRAFT" if entity.invoice_status == "DRAFT" else "POSTED",
            "LineAmountTypes": header.get("line_amount_types") or "NoTax",
            "JournalLines": [
                {
                    "Description": line["description"],
                    "LineAmount": _plain(line["line_amount"]),
                    "AccountCode": line["account_code"],
                    "TaxType": line["tax_type"],
                }
                for line in ordered
            ],
        }
    number_field = "CreditNoteNumber" if kind == "credit_note" else "InvoiceNumber"
    document: dict[str, Any] = {
        "Type": header["document_type"],
        "Contact": {"ContactID": contact_id},
        number_field: header["document_number"],
        "Reference": header["reference"],
        "Date": header["document_date"].isoformat(),
        "CurrencyCode": header["currency"],
        "Status": entity.invoice_status,
        "LineAmountTypes": header.get("line_amount_types") or "Exclusive",
        "LineItems": [
            {
                "Description": line["description"],
                "Quantity": _plain(line["quantity"]),
                "UnitAmount": _plain(line["unit_amount"]),
                "LineAmount": _plain(line["line_amount"]),
                "AccountCode": line["account_code"],
                "TaxType": line["tax_type"],
                "TaxAmount": _plain(line["tax_amount"]),
            }
            for line in ordered
        ],
    }
    if header.get("due_date") is not None:
        document["DueDate"] = header["due_date"].isoformat()
    if header["currency"] != header["base_currency"]:
        # Units of the document currency per one unit of the tenant's base currency.
        document["CurrencyRate"] = _plain(header["currency_rate"])
    return document


def payment_element(header: Mapping[str, Any], lines: Lines, paid_id: str) -> dict[str, Any]:
    """The API element of one payment (rules/reconciliation/payments.py): the invoice or credit note it
    pays by the ledger's id (`paid_id`), the account the money comes from (its one line), and its
    number as the Reference the outbox looks it up by.

    A rate goes with a payment in another currency than the tenant's (the bank's rate, item currency
    per unit of the base); a rate of 1 is a payment in the item's own currency, which takes the
    document's own rate, so none is sent.
    """
    element, _, _, id_field = PAID_DOCUMENTS[header["document_type"]]
    line = _in_order(lines)[0]
    payment: dict[str, Any] = {
        element: {id_field: paid_id},
        "Account": {"Code": line["account_code"]},
        "Date": header["document_date"].isoformat(),
        "Amount": _plain(header["total"]),
        "Reference": header["document_number"],
    }
    rate = header.get("currency_rate")
    if header["currency"] != header["base_currency"] and rate is not None and rate != 1:
        payment["CurrencyRate"] = _plain(rate)
    return payment


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros of the stored scale (150.0000 -> 150) without changing the value."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized
