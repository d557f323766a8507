"""Settlement in the accounting sandbox over real HTTP: payments, reversals, credit notes, bank transactions.

Every invoice here is 2 x 150.00 at 20 % VAT: 300.00 + 60.00 = 360.00 GBP unless it says otherwise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.xero import ZERO_GUID, Fault, XeroSandbox, dumps_exact
from tests.integration.xero_http import T1, T2, body, client, invoice, put_invoices

pytestmark = pytest.mark.integration

NOT_AUTHORISED = "Payments can only be made against Authorised documents."
EXCEEDS = "Payment amount exceeds the amount outstanding on this document."


def booked(http: httpx.Client, number: str = "BB-UK-202608-1", **overrides: Any) -> dict[str, Any]:
    """An invoice created AUTHORISED (unless overridden) for Acme Ltd, as the sandbox answered it."""
    fields = {"Status": "AUTHORISED", **overrides}
    response = put_invoices(http, [invoice({"Name": "Acme Ltd"}, number, **fields)])
    assert response.status_code == 200, response.text
    return dict(body(response)["Invoices"][0])


def payment(invoice_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    return {
        "Invoice": {"InvoiceID": invoice_id},
        "Account": {"Code": "090"},
        "Date": "2026-09-01",
        "Amount": Decimal(amount),
        **overrides,
    }


def put(
    http: httpx.Client, collection: str, elements: list[Any], key: str | None = None, **params: str
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return http.put(collection, content=dumps_exact({collection: elements}), params=params, headers=headers)


def current(http: httpx.Client, collection: str, ident: str) -> dict[str, Any]:
    response = http.get(f"{collection}/{ident}")
    assert response.status_code == 200, response.text
    return dict(body(response)[collection][0])


def messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [m["Message"] for element in body(response)["Elements"] for m in element["ValidationErrors"]]


def ms_midnight(day: date) -> str:
    millis = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
    return f"/Date({millis}+0000)/"


# -- payments against invoices ----------------------------------------------------------------------


def test_partial_payments_bring_an_invoice_to_paid(http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    first = put(http, "Payments", [payment(invoice_id, "100.00", Reference="first")])
    assert first.status_code == 200, first.text
    assert body(first)["Payments"][0]["PaymentType"] == "ACCRECPAYMENT"
    after_first = current(http, "Invoices", invoice_id)
    assert (after_first["AmountPaid"], after_first["AmountDue"], after_first["Status"]) == (
        Decimal("100.00"),
        Decimal("260.00"),
        "AUTHORISED",
    )
    assert "FullyPaidOnDate" not in after_first
    assert put(http, "Payments", [payment(invoice_id, "260.00", Date="2026-09-10")]).status_code == 200
    paid = current(http, "Invoices", invoice_id)
    assert (paid["AmountPaid"], paid["AmountDue"], paid["Status"]) == (
        Decimal("360.00"),
        Decimal("0.00"),
        "PAID",
    )
    assert paid["FullyPaidOnDate"] == ms_midnight(date(2026, 9, 10))
    assert [p["Amount"] for p in paid["Payments"]] == [Decimal("100.00"), Decimal("260.00")]
    listed = body(http.get("Payments", params={"where": f'Invoice.InvoiceID==guid("{invoice_id}")'}))
    assert [(p["Amount"], p["Reference"]) for p in listed["Payments"]] == [
        (Decimal("100.00"), "first"),
        (Decimal("260.00"), ""),
    ]


def test_a_payment_may_not_exceed_what_is_due(books: XeroSandbox, http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    assert messages(put(http, "Payments", [payment(invoice_id, "360.01")])) == [EXCEEDS]
    # Two payments in one request count together: 200.00 + 160.01 is a cent too much.
    pair = [payment(invoice_id, "200.00"), payment(invoice_id, "160.01")]
    assert messages(put(http, "Payments", pair)) == [EXCEEDS]
    assert books.transactions(T1, "Payments") == []
    assert current(http, "Invoices", invoice_id)["AmountDue"] == Decimal("360.00")
    mixed = body(put(http, "Payments", pair, summarizeErrors="false"))["Payments"]
    assert [p["StatusAttributeString"] for p in mixed] == ["OK", "ERROR"]
    assert mixed[1]["PaymentID"] == ZERO_GUID
    assert current(http, "Invoices", invoice_id)["AmountDue"] == Decimal("160.00")


def test_only_authorised_documents_take_payments(http: httpx.Client) -> None:
    draft_id = booked(http, "BB-UK-202608-2", Status="DRAFT")["InvoiceID"]
    assert messages(put(http, "Payments", [payment(draft_id, "10.00")])) == [NOT_AUTHORISED]
    paid_id = booked(http)["InvoiceID"]
    assert put(http, "Payments", [payment(paid_id, "360.00")]).status_code == 200
    assert messages(put(http, "Payments", [payment(paid_id, "0.01")])) == [NOT_AUTHORISED]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"Account": None}, "Account must be specified by AccountID or Code."),
        ({"Account": {"Code": "X" * 11}}, "Account.Code must be a string of 1 to 10 characters."),
        ({"Date": None}, "Date must be specified."),
        ({"Date": "2026-02-30"}, "Date '2026-02-30' is not a valid date."),
        ({"Amount": None}, "Amount must be specified."),
        ({"Amount": Decimal("0")}, "Payment Amount must be greater than zero."),
        ({"Amount": Decimal("10.001")}, "Payment Amount 10.001 has more than two decimal places."),
        ({"Invoice": None}, "A payment must name one Invoice or one CreditNote."),
        ({"CreditNote": {"CreditNoteNumber": "CN-1"}}, "A payment must name one Invoice or one CreditNote."),
        (
            {"Invoice": {"InvoiceID": "00000000-0000-4000-8000-000000000000"}},
            "Invoice 00000000-0000-4000-8000-000000000000 could not be found.",
        ),
        ({"Status": "DELETED"}, "Status 'DELETED' is not valid for a new payment; use AUTHORISED."),
        ({"IsReconciled": "yes"}, "IsReconciled must be true or false."),
        ({"PaymentID": "5b9f3a52-5e7a-4a8e-9d0e-00000000abcd"}, "The sandbox does not update payments"),
    ],
)
def test_payment_fields_are_validated(http: httpx.Client, change: dict[str, Any], needle: str) -> None:
    element = {
        k: v for k, v in {**payment(booked(http)["InvoiceID"], "10.00"), **change}.items() if v is not None
    }
    assert any(needle in message for message in messages(put(http, "Payments", [element])))


def test_an_invoice_is_named_by_number_unless_two_share_it(http: httpx.Client) -> None:
    booked(http, "BB-UK-202608-7")
    by_number = payment("", "60.00", Invoice={"InvoiceNumber": "bb-uk-202608-7"})
    answered = body(put(http, "Payments", [by_number]))["Payments"][0]
    assert answered["Invoice"]["InvoiceNumber"] == "BB-UK-202608-7"
    booked(http, "BB-UK-202608-7")  # the sandbox allows a second invoice with the number
    assert messages(put(http, "Payments", [by_number])) == [
        "InvoiceNumber bb-uk-202608-7 names 2 documents: name it by InvoiceID."
    ]


def test_the_contract_single_payment_post_is_accepted(http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    response = http.post("Payments", content=dumps_exact(payment(invoice_id, "360.00")))
    assert response.status_code == 200, response.text
    assert current(http, "Invoices", invoice_id)["Status"] == "PAID"


def test_foreign_currency_payments_keep_their_rate(http: httpx.Client) -> None:
    euro_id = booked(http, CurrencyCode="EUR", CurrencyRate=Decimal("1.1685"))["InvoiceID"]
    at_invoice_rate = body(put(http, "Payments", [payment(euro_id, "100.00")]))["Payments"][0]
    assert at_invoice_rate["CurrencyRate"] == Decimal("1.168500")
    at_day_rate = payment(euro_id, "200.00", CurrencyRate=Decimal("1.15"), BankAmount=Decimal("173.91"))
    answered = body(put(http, "Payments", [at_day_rate]))["Payments"][0]
    assert (answered["CurrencyRate"], answered["BankAmount"], answered["Amount"]) == (
        Decimal("1.150000"),
        Decimal("173.91"),
        Decimal("200.00"),
    )
    assert current(http, "Invoices", euro_id)["AmountDue"] == Decimal("60.00")
    pound_id = booked(http, "BB-UK-202608-3")["InvoiceID"]
    assert messages(put(http, "Payments", [payment(pound_id, "10.00", CurrencyRate=Decimal("1.2"))])) == [
        "CurrencyRate must be 1 for the organisation's base currency GBP."
    ]


def test_a_payment_in_a_locked_period_is_refused(books: XeroSandbox, http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    books.set_lock_dates(T1, period_lock=date(2026, 9, 30))
    assert messages(put(http, "Payments", [payment(invoice_id, "10.00", Date="2026-09-30")])) == [
        "The document date cannot be on or before the period lock date (2026-09-30)."
    ]
    assert put(http, "Payments", [payment(invoice_id, "10.00", Date="2026-10-01")]).status_code == 200


def test_payments_belong_to_their_tenant(books: XeroSandbox, http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    assert put(http, "Payments", [payment(invoice_id, "10.00")]).status_code == 200
    with client(books, tenant=T2) as other:
        assert body(other.get("Payments"))["Payments"] == []
        assert messages(put(other, "Payments", [payment(invoice_id, "10.00")])) == [
            f"Invoice {invoice_id} could not be found."
        ]


# -- exactly once ------------------------------------------------------------------------------------


def test_a_keyed_payment_lands_once_through_a_lost_answer(books: XeroSandbox, http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    books.inject(Fault("drop_after_commit", method="PUT", path="/Payments"))
    with pytest.raises(httpx.TransportError):
        put(http, "Payments", [payment(invoice_id, "100.00")], key="settle-1")
    retried = put(http, "Payments", [payment(invoice_id, "100.00")], key="settle-1")
    assert retried.status_code == 200 and retried.headers["X-Sandbox-Idempotent-Replay"] == "true"
    books.inject(Fault("duplicate", method="PUT", path="/Payments"))
    assert put(http, "Payments", [payment(invoice_id, "50.00")], key="settle-2").status_code == 200
    assert [p["Amount"] for p in books.transactions(T1, "Payments")] == [Decimal("100.00"), Decimal("50.00")]
    assert current(http, "Invoices", invoice_id)["AmountDue"] == Decimal("210.00")


# -- reversal ----------------------------------------------------------------------------------------


def test_deleting_a_payment_reopens_the_invoice(http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    payment_id = body(put(http, "Payments", [payment(invoice_id, "360.00")]))["Payments"][0]["PaymentID"]
    deleted = http.post(f"Payments/{payment_id}", content=dumps_exact({"Status": "DELETED"}))
    assert deleted.status_code == 200, deleted.text
    assert body(deleted)["Payments"][0]["Status"] == "DELETED"
    reopened = current(http, "Invoices", invoice_id)
    assert (reopened["Status"], reopened["AmountDue"], reopened["AmountPaid"]) == (
        "AUTHORISED",
        Decimal("360.00"),
        Decimal("0.00"),
    )
    assert "FullyPaidOnDate" not in reopened and reopened["Payments"] == []
    again = http.post(f"Payments/{payment_id}", content=dumps_exact({"Status": "DELETED"}))
    assert messages(again) == ["This payment has already been deleted."]
    assert http.post(f"Payments/{payment_id}", content=dumps_exact({"Amount": 5})).status_code == 400
    listed = body(http.get("Payments", params={"where": 'Status=="DELETED"'}))["Payments"]
    assert [p["PaymentID"] for p in listed] == [payment_id]


def test_a_reconciled_payment_cannot_be_deleted(http: httpx.Client) -> None:
    invoice_id = booked(http)["InvoiceID"]
    reconciled = payment(invoice_id, "10.00", IsReconciled=True)
    payment_id = body(put(http, "Payments", [reconciled]))["Payments"][0]["PaymentID"]
    refused = http.post(f"Payments/{payment_id}", content=dumps_exact({"Status": "DELETED"}))
    assert messages(refused) == ["A reconciled payment cannot be deleted."]


# -- credit notes ------------------------------------------------------------------------------------


def _credit_note(http: httpx.Client) -> dict[str, Any]:
    """An authorised credit note for Acme Ltd: 1 x 100.00 at 20 % VAT = 120.00 GBP."""
    credit = invoice({"Name": "Acme Ltd"}, "", Type="ACCRECCREDIT", Status="AUTHORISED")
    del credit["InvoiceNumber"], credit["DueDate"]
    credit["LineItems"][0].update(Quantity=Decimal("1"), UnitAmount=Decimal("100.00"))
    response = put(http, "CreditNotes", [credit])
    assert response.status_code == 200, response.text
    return dict(body(response)["CreditNotes"][0])


def test_a_credit_note_is_refunded_then_allocated(http: httpx.Client) -> None:
    credit_id = _credit_note(http)["CreditNoteID"]
    invoice_id = booked(http)["InvoiceID"]
    refund = payment("", "50.00", Invoice=None, CreditNote={"CreditNoteID": credit_id})
    refund = {k: v for k, v in refund.items() if v is not None}
    assert body(put(http, "Payments", [refund]))["Payments"][0]["PaymentType"] == "ARCREDITPAYMENT"
    assert current(http, "CreditNotes", credit_id)["RemainingCredit"] == Decimal("70.00")
    assert messages(put(http, "Payments", [{**refund, "Amount": Decimal("70.01")}])) == [EXCEEDS]
    allocation = {"Invoice": {"InvoiceID": invoice_id}, "Amount": Decimal("70.00"), "Date": "2026-09-02"}
    assert http.put(
        f"CreditNotes/{credit_id}/Allocations", content=dumps_exact({"Allocations": [allocation]})
    ).is_success
    assert current(http, "CreditNotes", credit_id)["Status"] == "PAID"
    credited = current(http, "Invoices", invoice_id)
    assert (credited["AmountCredited"], credited["AmountDue"]) == (Decimal("70.00"), Decimal("290.00"))
    assert put(http, "Payments", [payment(invoice_id, "290.00")]).status_code == 200
    settled = current(http, "Invoices", invoice_id)
    assert (settled["Status"], settled["AmountPaid"], settled["AmountCredited"]) == (
        "PAID",
        Decimal("290.00"),
        Decimal("70.00"),
    )


def test_a_credit_allocation_can_settle_an_invoice(http: httpx.Client) -> None:
    credit_id = _credit_note(http)["CreditNoteID"]
    invoice_id = booked(http)["InvoiceID"]
    assert put(http, "Payments", [payment(invoice_id, "240.00")]).status_code == 200
    allocation = {"Invoice": {"InvoiceID": invoice_id}, "Amount": Decimal("120.00"), "Date": "2026-09-20"}
    assert http.put(
        f"CreditNotes/{credit_id}/Allocations", content=dumps_exact({"Allocations": [allocation]})
    ).is_success
    settled = current(http, "Invoices", invoice_id)
    assert (settled["Status"], settled["AmountDue"]) == ("PAID", Decimal("0.00"))
    assert settled["FullyPaidOnDate"] == ms_midnight(date(2026, 9, 20))
