"""The accounting sandbox's settlement endpoints, validated against the vendored Xero contract.

Payments (PUT, the contract's single-payment POST, GET, delete), BankTransactions (PUT, GET) and the
Overpayments and Prepayments they leave (GET), with success and error answers, each recorded on
the wire and validated both ways like the other collections.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from resources.http_server import Exchange
from sandbox.openapi_contract import Contract, validate_exchange
from sandbox.xero import Fault, XeroSandbox
from tests.contract.exchanges import T1, assert_all_valid, invoice, write, xero_client


def _payment(invoice_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    payment: dict[str, Any] = {
        "Invoice": {"InvoiceID": invoice_id},
        "Account": {"Code": "090"},
        "Date": "2026-09-15",
        "Amount": Decimal(amount),
        "CurrencyRate": Decimal("1.1500"),
        "Reference": "BB-UK-202608-1",
    }
    payment.update(overrides)
    return payment


def _bank_transaction(kind: str, amount: str) -> dict[str, Any]:
    return {
        "Type": kind,
        "Contact": {"Name": "Acme Ltd"},
        "BankAccount": {"Code": "090"},
        "Date": "2026-09-16",
        "Reference": f"{kind} from Acme",
        "LineAmountTypes": "NoTax",
        "LineItems": [
            {"Description": "Received from Acme", "Quantity": Decimal(1), "UnitAmount": Decimal(amount)}
        ],
    }


@pytest.fixture
def settlement_exchanges() -> Iterator[list[Exchange]]:
    """A session settling an invoice: payments, a refused one, a reversal, bank transactions and credits."""
    with XeroSandbox([T1], record=True, minute_limit=None, day_limit=None, concurrent_limit=None) as xero:
        http = xero_client(xero)
        contact = write(http, "PUT", "Contacts", {"Contacts": [{"Name": "Acme Ltd"}]}).json()["Contacts"][0]
        approved = invoice(contact["ContactID"], "BB-UK-202608-1", Status="AUTHORISED")
        booked = write(http, "PUT", "Invoices", {"Invoices": [approved]}, unitdp="4").json()["Invoices"][0]
        invoice_id = booked["InvoiceID"]  # 1,718.75 + 20 % VAT = 2,062.50 EUR
        first = write(http, "PUT", "Payments", {"Payments": [_payment(invoice_id, "1000.00")]}, key="pay-1")
        assert first.status_code == 200, first.text
        too_much = {"Payments": [_payment(invoice_id, "1062.51")]}
        assert write(http, "PUT", "Payments", too_much).status_code == 400
        assert write(http, "PUT", "Payments", too_much, summarizeErrors="false").status_code == 200
        single = _payment(invoice_id, "1062.50", Reference="rest")
        assert write(http, "POST", "Payments", single, key="pay-2").status_code == 200
        payment_id = first.json()["Payments"][0]["PaymentID"]
        http.get("Payments", params={"where": f'Invoice.InvoiceID==guid("{invoice_id}")', "page": "1"})
        http.get(f"Payments/{payment_id}")
        http.get("Payments/00000000-0000-4000-8000-000000000000")  # 404
        assert write(http, "POST", f"Payments/{payment_id}", {"Status": "DELETED"}).status_code == 200
        http.get(f"Invoices/{invoice_id}")
        for kind, amount in (
            ("RECEIVE", "25.00"),
            ("RECEIVE-OVERPAYMENT", "40.00"),
            ("RECEIVE-PREPAYMENT", "60.00"),
        ):
            created = write(
                http, "PUT", "BankTransactions", {"BankTransactions": [_bank_transaction(kind, amount)]}
            )
            assert created.status_code == 200, created.text
        transfer = {"BankTransactions": [_bank_transaction("RECEIVE-TRANSFER", "5.00")]}
        assert write(http, "PUT", "BankTransactions", transfer).status_code == 400
        http.get("BankTransactions", params={"where": 'Type=="RECEIVE"', "page": "1", "unitdp": "4"})
        for collection, id_field in (("Overpayments", "OverpaymentID"), ("Prepayments", "PrepaymentID")):
            listed = http.get(collection, params={"page": "1"}).json()[collection]
            http.get(f"{collection}/{listed[0][id_field]}")
        xero.inject(Fault("status", status=503, retry_after=2))
        http.get("Payments")
        exchanges = list(xero.exchanges)
    yield exchanges


def test_settlement_answers_match_the_contract(
    xero_contract: Contract, settlement_exchanges: list[Exchange]
) -> None:
    assert sorted({x.status for x in settlement_exchanges}) == [200, 400, 404, 503]
    assert {x.path.rsplit("/", 1)[-1] for x in settlement_exchanges} >= {
        "Payments",
        "BankTransactions",
        "Overpayments",
        "Prepayments",
    }
    assert_all_valid(xero_contract, settlement_exchanges)


def test_the_validator_holds_settlement_answers_to_the_contract(
    xero_contract: Contract, settlement_exchanges: list[Exchange]
) -> None:
    # The session's own answers, broken the way a drifting sandbox would break them, must fail.
    payment = next(x for x in settlement_exchanges if x.method == "PUT" and x.path.endswith("/Payments"))
    body = json.loads(payment.response_body)
    body["Payments"][0]["Amount"] = "1000.00"
    body["Payments"][0]["PaymentType"] = "CASHPAYMENT"
    broken = dataclasses.replace(payment, response_body=json.dumps(body).encode())
    with pytest.raises(AssertionError) as caught:
        validate_exchange(xero_contract, broken)
    assert "'1000.00' is not of type 'number'" in str(caught.value)
    assert "'CASHPAYMENT' is not one of" in str(caught.value)
