"""Invoice drafts -> accounting-API documents and their idempotency keys (pure)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import polars as pl

from resources.configuration import EntityConfig


def idempotency_key(invoice_number: str, content_hash: str) -> str:
    """Derived from the document's identity and content: a retry of the same document reuses it,
    a changed document gets a new one. 64 hex characters, within the provider's 128."""
    return hashlib.sha256(f"{invoice_number}:{content_hash}".encode()).hexdigest()


def batch_key(keys: list[str]) -> str:
    """Idempotency key of a batch: the same documents in the same order give the same key."""
    return hashlib.sha256(",".join(keys).encode()).hexdigest()


def invoice_document(
    header: dict[str, Any], lines: pl.DataFrame, entity: EntityConfig, contact_id: str
) -> dict[str, Any]:
    """The Invoices element for one draft (amounts as Decimal; the connector writes them exactly)."""
    document: dict[str, Any] = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": header["invoice_number"],
        "Reference": header["reference"],
        "Date": header["invoice_date"].isoformat(),
        "DueDate": header["due_date"].isoformat(),
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
            for line in lines.sort("line_no").iter_rows(named=True)
        ],
    }
    if header["currency"] != header["base_currency"]:
        # Units of the invoice currency per one unit of the tenant's base currency.
        document["CurrencyRate"] = _plain(header["currency_rate"])
    return document


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros of the stored scale (150.0000 -> 150) without changing the value."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized
