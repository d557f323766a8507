"""The outbox's payment traffic as our connector sends it, validated against the vendored Xero contract:
the batch PUT of Payments (no `unitdp`: the contract declares none there), the look-up of payments by the
Reference prefix, the look-up of the invoices they pay, and the contacts read for duplicate suggestions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from resources.bank_statements_receivables import read_contact_identifiers
from resources.xero import XeroClient
from rules.outbound_payloads import payment_element
from rules.reconciliation.payments import PaymentDocument, payment_documents
from sandbox.openapi_contract import Contract
from sandbox.xero import XeroSandbox
from tests.contract.exchanges import T1, XERO_TOKEN, assert_all_valid, invoice, write, xero_client


def test_payment_posting_traffic_matches_the_contract(xero_contract: Contract) -> None:
    with XeroSandbox([T1], record=True, minute_limit=None, day_limit=None, concurrent_limit=None) as xero:
        http = xero_client(xero)
        contact = write(http, "PUT", "Contacts", {"Contacts": [{"Name": "Acme Ltd", "TaxNumber": "GB123456789",
                                                                "EmailAddress": "ap@acme.example"}]})  # fmt: skip
        contact_id = contact.json()["Contacts"][0]["ContactID"]
        approved = invoice(contact_id, "BB-UK-202608-1", Status="AUTHORISED")
        write(http, "PUT", "Invoices", {"Invoices": [approved]}, unitdp="4")  # 2,062.50 EUR due
        client = XeroClient(base_url=xero.url, access_token=XERO_TOKEN)
        paid = client.find_by_prefix(T1, "Invoices", "InvoiceNumber", "BB-UK-202608-")["BB-UK-202608-1"]
        payment = PaymentDocument("BB-UK-202609-PAY-abcdef123456-1", "uk", "2026-09", "i", "invoice",
                                  "BB-UK-202608-1", "090", date(2026, 9, 15), Decimal("2062.50"), "EUR",
                                  Decimal("1.15000000"), "cash")  # fmt: skip
        headers, lines = payment_documents([payment], "GBP", "v1", "run-1")
        element = payment_element(headers.row(0, named=True), lines, str(paid["InvoiceID"]))
        sent = client.send_documents(T1, "Payments", [element], "pay-key-1")
        assert sent.json()["Payments"][0]["Reference"] == "BB-UK-202609-PAY-abcdef123456-1"
        found = client.find_by_prefix(T1, "Payments", "Reference", "BB-UK-202609-")
        assert list(found) == ["BB-UK-202609-PAY-abcdef123456-1"]
        assert Decimal(str(found["BB-UK-202609-PAY-abcdef123456-1"]["Amount"])) == Decimal("2062.50")
        identifiers = read_contact_identifiers(client, T1, "uk")
        assert identifiers.select("contact_name", "tax_number", "email").rows() == [
            ("Acme Ltd", "GB123456789", "ap@acme.example")
        ]
        exchanges = list(xero.exchanges)
    assert_all_valid(xero_contract, exchanges)
