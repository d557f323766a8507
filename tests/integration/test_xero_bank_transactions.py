"""Bank transactions in the accounting sandbox over real HTTP, and the overpayments and prepayments they leave."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.xero import ZERO_GUID, XeroSandbox, dumps_exact
from tests.integration.xero_http import T1, body

pytestmark = pytest.mark.integration


def transaction(kind: str, *lines: tuple[str, str, str], **overrides: Any) -> dict[str, Any]:
    """A bank transaction for Acme Ltd into account 090; lines as (quantity, unit amount, tax type)."""
    return {
        "Type": kind,
        "Contact": {"Name": "Acme Ltd"},
        "BankAccount": {"Code": "090"},
        "Date": "2026-09-16",
        "Reference": f"{kind} Acme",
        "LineItems": [
            {"Description": "Received", "Quantity": Decimal(q), "UnitAmount": Decimal(u), "TaxType": tax}
            for q, u, tax in lines
        ],
        **overrides,
    }


def put(
    http: httpx.Client, elements: list[dict[str, Any]], key: str | None = None, **params: str
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    payload = dumps_exact({"BankTransactions": elements})
    return http.put("BankTransactions", content=payload, params=params, headers=headers)


def test_a_receipt_is_priced_like_an_invoice(http: httpx.Client) -> None:
    # 3 x 40.00 = 120.00 at 20 % VAT: 24.00 tax; 1 x 15.50 untaxed. Total 159.50.
    receipt = transaction("RECEIVE", ("3", "40.00", "OUTPUT2"), ("1", "15.50", "NONE"))
    answered = body(put(http, [receipt]))["BankTransactions"][0]
    assert (answered["SubTotal"], answered["TotalTax"], answered["Total"]) == (
        Decimal("135.50"),
        Decimal("24.00"),
        Decimal("159.50"),
    )
    assert answered["BankAccount"]["Code"] == "090" and answered["Status"] == "AUTHORISED"
    assert "OverpaymentID" not in answered and "PrepaymentID" not in answered
    fetched = body(http.get(f"BankTransactions/{answered['BankTransactionID']}"))["BankTransactions"][0]
    assert fetched["Total"] == Decimal("159.50")


def test_an_overpayment_and_a_prepayment_are_left_to_allocate(books: XeroSandbox, http: httpx.Client) -> None:
    over = transaction("RECEIVE-OVERPAYMENT", ("1", "40.00", "NONE"), LineAmountTypes="NoTax")
    ahead = transaction("RECEIVE-PREPAYMENT", ("1", "600.00", "NONE"), LineAmountTypes="NoTax")
    answered = body(put(http, [over, ahead]))["BankTransactions"]
    overpayments = body(http.get("Overpayments"))["Overpayments"]
    assert [(o["OverpaymentID"], o["RemainingCredit"], o["Status"]) for o in overpayments] == [
        (answered[0]["OverpaymentID"], Decimal("40.00"), "AUTHORISED")
    ]
    prepayment = body(http.get(f"Prepayments/{answered[1]['PrepaymentID']}"))["Prepayments"][0]
    assert (prepayment["Type"], prepayment["RemainingCredit"]) == ("RECEIVE-PREPAYMENT", Decimal("600.00"))
    assert prepayment["Contact"]["Name"] == "Acme Ltd"
    # One contact, created by name with the first transaction and matched by the second.
    assert [c["Name"] for c in books.contacts(T1)] == ["Acme Ltd"]
    assert len(books.transactions(T1, "BankTransactions")) == 2


def test_lists_filter_by_type_and_contact(http: httpx.Client) -> None:
    put(http, [transaction("RECEIVE", ("1", "10.00", "NONE")), transaction("SPEND", ("1", "4.00", "NONE"))])
    spent = body(http.get("BankTransactions", params={"where": 'Type=="SPEND"'}))["BankTransactions"]
    assert [t["Total"] for t in spent] == [Decimal("4.00")]
    contact_id = spent[0]["Contact"]["ContactID"]
    both = http.get(
        "BankTransactions", params={"where": f'Contact.ContactID==guid("{contact_id}")', "page": "1"}
    )
    assert body(both)["pagination"]["itemCount"] == 2
    assert http.get("Overpayments/00000000-0000-4000-8000-000000000000").status_code == 404


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"Type": "RECEIVE-TRANSFER"}, "A RECEIVE-TRANSFER is made through BankTransfers"),
        ({"Type": "REFUND"}, "Type 'REFUND' is not valid"),
        ({"BankAccount": None}, "BankAccount must be specified by AccountID or Code."),
        (
            {"BankAccount": {"AccountID": "not-a-guid"}},
            "BankAccount.AccountID 'not-a-guid' is not a valid GUID.",
        ),
        ({"Contact": None}, "Contact cannot be empty."),
        ({"LineItems": []}, "BankTransactions must have at least one line item."),
        ({"Status": "VOIDED"}, "Status 'VOIDED' is not valid for a new bank transaction; use AUTHORISED."),
    ],
)
def test_bank_transaction_fields_are_validated(
    http: httpx.Client, change: dict[str, Any], needle: str
) -> None:
    element = {
        k: v for k, v in {**transaction("RECEIVE", ("1", "1.00", "NONE")), **change}.items() if v is not None
    }
    refused = put(http, [element])
    assert refused.status_code == 400, refused.text
    errors = [m["Message"] for e in body(refused)["Elements"] for m in e["ValidationErrors"]]
    assert any(needle in message for message in errors), errors
    assert body(refused)["Elements"][0]["BankTransactionID"] == ZERO_GUID


def test_a_keyed_bank_transaction_is_stored_once(books: XeroSandbox, http: httpx.Client) -> None:
    over = transaction("RECEIVE-OVERPAYMENT", ("1", "40.00", "NONE"), LineAmountTypes="NoTax")
    first = put(http, [over], key="bank-line-17")
    again = put(http, [over], key="bank-line-17")
    assert again.headers["X-Sandbox-Idempotent-Replay"] == "true"
    assert again.content == first.content
    assert len(books.transactions(T1, "BankTransactions")) == 1
    assert len(books.transactions(T1, "Overpayments")) == 1
