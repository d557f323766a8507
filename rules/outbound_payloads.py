"""Outbound documents -> accounting-API elements and their idempotency keys (pure)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import polars as pl

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


def outbound_document(
    header: dict[str, Any], lines: pl.DataFrame, entity: EntityConfig, contact_id: str | None
) -> dict[str, Any]:
    """The API element for one outbound document (amounts as Decimal; the connector writes them exactly).

    `header` and `lines` are in the shape of rules/documents.py.
    """
    kind = header["document_kind"]
    ordered = lines.sort("line_no").iter_rows(named=True)
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


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros of the stored scale (150.0000 -> 150) without changing the value."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized
