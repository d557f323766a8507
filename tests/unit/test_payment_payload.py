"""A settlement payment as the outbox sends it and reads it back, with every expected value written by hand."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from rules.outbound_payloads import payment_element
from rules.outbox.booked import booked_lines
from rules.outbox.events import Unpayable
from rules.outbox.ledger import ledger_document, unpayable_reason
from rules.outbox.outcome import PostingOutcome
from rules.outbox.rows import Status, Version, new_row
from rules.outbox.transitions import OutboxPolicy, transition
from rules.reconciliation.payments import PaymentDocument, payment_documents


def _payment(
    amount: str, currency: str = "GBP", rate: str | None = None, kind: str = "invoice"
) -> PaymentDocument:
    return PaymentDocument("BB-UK-202610-PAY-abcdef123456-1", "uk", "2026-10", "inv-1", kind,
                           f"BB-UK-202609-5101-{currency}", "090", date(2026, 10, 12), D(amount), currency,
                           D(rate) if rate else None, "cash")  # fmt: skip


def _element(
    payment: PaymentDocument, paid_id: str = "7d5e0a5c-1111-4222-8333-444455556666"
) -> dict[str, object]:
    headers, lines = payment_documents([payment], "GBP", "2026.12.1", "run-1")
    return payment_element(headers.row(0, named=True), lines, paid_id)


def test_a_payment_in_the_base_currency_names_the_invoice_by_id_and_carries_its_number_as_reference() -> None:
    assert _element(_payment("1236.3000")) == {
        "Invoice": {"InvoiceID": "7d5e0a5c-1111-4222-8333-444455556666"},
        "Account": {"Code": "090"},
        "Date": "2026-10-12",
        "Amount": D("1236.3"),
        "Reference": "BB-UK-202610-PAY-abcdef123456-1",
    }


def test_a_payment_of_a_euro_invoice_from_the_pound_account_carries_the_banks_rate() -> None:
    # 1,150.00 EUR paid with 1,000.00 GBP received: 1.15 EUR per GBP.
    element = _element(_payment("1150.0000", "EUR", "1.15000000"))
    assert element["Amount"] == D("1150") and element["CurrencyRate"] == D("1.15")


def test_a_refund_of_a_credit_note_names_the_credit_note() -> None:
    element = _element(_payment("200.00", kind="credit_note"))
    assert element["CreditNote"] == {"CreditNoteID": "7d5e0a5c-1111-4222-8333-444455556666"}
    assert "Invoice" not in element


def test_the_ledger_payment_is_read_back_by_its_reference_with_its_amount() -> None:
    booked = ledger_document("payment", {
        "PaymentID": "0b8c4b4e-aaaa-4bbb-8ccc-ddddeeeeffff", "Reference": "BB-UK-202610-PAY-abcdef123456-1",
        "Amount": D("1236.30"), "PaymentType": "ACCRECPAYMENT", "Date": "/Date(1791763200000+0000)/",
        "Invoice": {"InvoiceID": "7d5e0a5c-1111-4222-8333-444455556666", "CurrencyCode": "GBP"},
    })  # fmt: skip
    assert (booked.document_number, booked.external_id, booked.total, booked.document_type, booked.currency) == (
        "BB-UK-202610-PAY-abcdef123456-1", "0b8c4b4e-aaaa-4bbb-8ccc-ddddeeeeffff", D("1236.30"), "ACCRECPAYMENT",
        "GBP",
    )  # fmt: skip
    assert booked.document_date == date(2026, 10, 12)
    row = {"document_number": booked.document_number, "document_kind": "payment", "entity": "uk",
           "period": "2026-10", "currency": "GBP", "run_id": "run-1"}  # fmt: skip
    sent = [{"line_no": 1, "description": "cash BB-UK-202609-5101-GBP", "line_amount": D("1236.30")}]
    assert booked_lines(booked, sent, row=row, posted_at=datetime(2026, 10, 12, tzinfo=UTC)) == []


def test_a_payment_goes_only_to_a_document_the_ledger_holds_as_authorised() -> None:
    number = "BB-UK-202609-5101-GBP"
    assert unpayable_reason(number, {"Status": "AUTHORISED"}) is None
    assert unpayable_reason(number, {"Status": "DRAFT"}) == f"{number} is DRAFT in the ledger, not AUTHORISED"
    assert unpayable_reason(number, {"Status": "PAID"}) == f"{number} is PAID in the ledger, not AUTHORISED"
    assert unpayable_reason(number, None) == f"{number} is not in the ledger"


def test_an_unpayable_payment_stays_pending_saying_why_and_is_counted_as_held() -> None:
    version = Version("BB-UK-202610-PAY-abcdef123456-1", "payment", "hash-1", "key-1", D("1236.30"), "GBP")
    row = new_row(version, "uk", "2026-10", datetime(2026, 10, 31, tzinfo=UTC), "run-1")
    event = Unpayable("payment of BB-UK-202609-5101-GBP is DRAFT in the ledger, not AUTHORISED")
    policy = OutboxPolicy(max_attempts=3, in_doubt_wait=timedelta(seconds=90))
    held = transition(row, event, now=datetime(2026, 10, 31, tzinfo=UTC), policy=policy)
    assert (held.status, held.attempts) == (Status.PENDING, 0)
    assert held.last_error == "held: payment of BB-UK-202609-5101-GBP is DRAFT in the ledger, not AUTHORISED"
    outcome = PostingOutcome()
    outcome.record(row, held, event)
    assert outcome.held == ["BB-UK-202610-PAY-abcdef123456-1"]
