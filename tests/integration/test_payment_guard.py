"""A payment is sent only for a document the ledger holds as AUTHORISED (a real posting pass on the
accounting sandbox and a real warehouse file): the payment of a draft invoice stays pending, held, pass
after pass; the payment of an authorised one is posted once, naming the invoice by the ledger's id."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from resources.bank_statements_store import reconciliation_transaction
from resources.configuration import current_config
from resources.warehouse import Warehouse, replace_slice
from resources.xero import XeroClient
from rules.reconciliation.payments import PaymentDocument, payment_documents
from sandbox.xero import XeroSandbox

pytestmark = pytest.mark.integration
DRAFT, AUTHORISED = "BB-UK-202609-5201-GBP", "BB-UK-202609-5202-GBP"


def _invoice(number: str, status: str) -> dict[str, object]:
    return {"Type": "ACCREC", "Contact": {"Name": "Initech Ltd"}, "InvoiceNumber": number, "Date": "2026-09-30",
            "DueDate": "2026-10-30", "CurrencyCode": "GBP", "Status": status, "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Work", "Quantity": D("1"), "UnitAmount": D("1000.00"),
                           "AccountCode": "200", "TaxType": "OUTPUT2"}]}  # fmt: skip


def _payment(n: int, invoice_number: str) -> PaymentDocument:
    return PaymentDocument(f"BB-UK-202610-PAY-0123456789ab-{n}", "uk", "2026-10", f"item-{n}", "invoice",
                           invoice_number, "090", date(2026, 10, 12), D("1200.00"), "GBP", None, "cash")  # fmt: skip


def test_no_payment_is_sent_for_an_invoice_that_is_not_authorised(tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity = current_config().entity("uk").model_copy(update={"accounting_tenant_id": tenant})
    warehouse = Warehouse(home=str(tmp_path / "home"))
    headers, lines = payment_documents([_payment(1, DRAFT), _payment(2, AUTHORISED)], "GBP", "v1", "seed")
    with reconciliation_transaction(warehouse, "uk") as con:
        replace_slice(con, "reconciliation.payment_documents", headers, "entity = ?", ["uk"])
        replace_slice(con, "reconciliation.payment_document_lines", lines, "entity = ?", ["uk"])

    with XeroSandbox([tenant]) as sandbox:
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
        xero.send_documents(
            tenant, "Invoices", [_invoice(DRAFT, "DRAFT"), _invoice(AUTHORISED, "AUTHORISED")], "k"
        )
        first = post_period(entity, "2026-10", warehouse, xero, "run-1", sources=DOCUMENT_SOURCES)
        second = post_period(entity, "2026-10", warehouse, xero, "run-2", sources=DOCUMENT_SOURCES)
        payments = sandbox.transactions(tenant, "Payments")
        invoices = {d["InvoiceNumber"]: d for d in sandbox.documents(tenant)}

    assert (first.posted_new, first.held) == (
        ["BB-UK-202610-PAY-0123456789ab-2"],
        ["BB-UK-202610-PAY-0123456789ab-1"],
    )
    assert (second.posted_new, second.held) == ([], ["BB-UK-202610-PAY-0123456789ab-1"])
    assert [(p["Reference"], p["Invoice"]["InvoiceID"]) for p in payments] == [
        ("BB-UK-202610-PAY-0123456789ab-2", invoices[AUTHORISED]["InvoiceID"])
    ]
    assert (invoices[AUTHORISED]["Status"], invoices[DRAFT]["Status"]) == ("PAID", "DRAFT")
    held = warehouse.query("uk", "SELECT status, attempts, last_error FROM posting.outbox WHERE document_kind = 'payment' "
                                 "ORDER BY document_number")  # fmt: skip
    assert held.rows() == [
        ("pending", 0, f"held: payment of {DRAFT} is DRAFT in the ledger, not AUTHORISED"),
        ("confirmed", 1, None),
    ]
