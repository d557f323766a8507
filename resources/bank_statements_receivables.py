"""The receivables side of reconciliation, read from the accounting API: sales invoices with what is
still due, and sales credit notes, overpayments and prepayments with their remaining credit (the items
a refund meets).

One entity's tenant, paged a thousand at a time; voided and deleted documents are not receivables.
Amounts stay exact Decimals from the JSON (resources/xero.loads_exact). Signs follow
rules/reconciliation/frames.py: invoices positive, credit notes negative.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl

from resources.xero import LOOKUP_PAGE_SIZE, XeroClient, parse_ms_date
from rules.reconciliation.frames import OPEN_ITEM_SCHEMA

NOT_RECEIVABLE = ("VOIDED", "DELETED")
# collection, type filter, id field, number field, item kind, what is still open, sign
COLLECTIONS = (
    ("Invoices", "ACCREC", "InvoiceID", "InvoiceNumber", "invoice", "AmountDue", 1),
    ("CreditNotes", "ACCRECCREDIT", "CreditNoteID", "CreditNoteNumber", "credit_note", "RemainingCredit", -1),
    # Money a customer paid beyond or before an invoice: a refund of it is money out, like a credit note's.
    (
        "Overpayments",
        "RECEIVE-OVERPAYMENT",
        "OverpaymentID",
        "Reference",
        "overpayment",
        "RemainingCredit",
        -1,
    ),
    ("Prepayments", "RECEIVE-PREPAYMENT", "PrepaymentID", "Reference", "prepayment", "RemainingCredit", -1),
)


def _pages(
    xero: XeroClient, tenant_id: str, collection: str, document_type: str | None
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        params = {"page": str(page), "pageSize": str(LOOKUP_PAGE_SIZE)}
        if document_type is not None:
            params["where"] = f'Type=="{document_type}"'
        # XeroClient has no public list call yet; its metered, retried GET is the one to use.
        documents = xero._get(tenant_id, collection, params).get(collection) or []
        found.extend(documents)
        if len(documents) < LOOKUP_PAGE_SIZE:
            return found
        page += 1


def _date(value: Any) -> Any:
    return parse_ms_date(value) if value else None


def read_receivables(xero: XeroClient, tenant_id: str, entity: str) -> pl.DataFrame:
    """Every receivable document of the tenant as OPEN_ITEM_SCHEMA rows (paid and credited ones too:
    a payment quoting them is an anomaly the matcher must see)."""
    rows = []
    for collection, kind_filter, id_field, number_field, kind, open_field, sign in COLLECTIONS:
        for doc in _pages(xero, tenant_id, collection, kind_filter):
            if doc.get("Status") in NOT_RECEIVABLE:
                continue
            total = Decimal(str(doc.get("Total") or 0))
            rows.append({
                "item_id": str(doc[id_field]), "item_kind": kind, "number": doc.get(number_field),
                "entity": entity, "contact_name": (doc.get("Contact") or {}).get("Name"),
                "currency": doc.get("CurrencyCode"), "currency_rate": Decimal(str(doc.get("CurrencyRate") or 1)),
                "issue_date": _date(doc.get("Date")), "due_date": _date(doc.get("DueDate") or doc.get("Date")),
                "total": total * sign, "amount_due": Decimal(str(doc.get(open_field) or 0)) * sign,
                "status": doc.get("Status"), "credited": Decimal(str(doc.get("AmountCredited") or 0)),
            })  # fmt: skip
    return pl.DataFrame(rows, schema=OPEN_ITEM_SCHEMA)


CONTACT_IDENTIFIER_SCHEMA = pl.Schema(
    {
        "entity": pl.String(),
        "contact_id": pl.String(),
        "contact_name": pl.String(),
        "tax_number": pl.String(),
        "email": pl.String(),
    }
)


def read_contact_identifiers(xero: XeroClient, tenant_id: str, entity: str) -> pl.DataFrame:
    """Every active contact of the tenant with its tax number and e-mail address (what duplicate
    suggestions compare besides names: rules/reconciliation/shared_identifiers.py)."""
    rows = [
        {"entity": entity, "contact_id": str(c.get("ContactID")), "contact_name": c.get("Name"),
         "tax_number": c.get("TaxNumber") or None, "email": c.get("EmailAddress") or None}
        for c in _pages(xero, tenant_id, "Contacts", None)
        if c.get("ContactStatus", "ACTIVE") == "ACTIVE"
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=CONTACT_IDENTIFIER_SCHEMA)
