"""The write-back's pure rules (rules/pm_write_back.py): the Harvest requests, what Harvest cannot hold,
and each step of the exactly-once protocol. Expected values are written out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D

from rules import pm_write_back as wb
from rules.pm_write_back import BookedCredit, BookedInvoice, BookedPayment, WriteBackState

NOW = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
INVOICE = BookedInvoice(
    number="BB-UK-202608-5101-GBP",
    period="2026-08",
    client_id=5101,
    issue_date=date(2026, 8, 31),
    due_date=date(2026, 9, 30),
    currency="GBP",
    total=D("480.00"),
    project_ids=(6101, 6102),
    tax_percent=D("20"),
)
PAYMENT = BookedPayment(
    number="BB-UK-202609-PAY-0a1b2c3d4e5f-1",
    period="2026-09",
    settles="BB-UK-202608-5101-GBP",
    settles_kind="invoice",
    paid_date=date(2026, 9, 10),
    amount=D("250.50"),
    currency="GBP",
    purpose="cash",
)


def test_an_invoice_request_imports_the_periods_time_under_the_ledgers_number() -> None:
    assert wb.invoice_request(INVOICE) == {
        "client_id": 5101,
        "number": "BB-UK-202608-5101-GBP",
        "currency": "GBP",
        "issue_date": "2026-08-31",
        "subject": "BB-UK-202608-5101-GBP (booked in the ledger)",
        "line_items_import": {
            "project_ids": [6101, 6102],
            "time": {"summary_type": "task", "from": "2026-08-01", "to": "2026-08-31"},
            "expenses": {"summary_type": "category", "from": "2026-08-01", "to": "2026-08-31"},
        },
        "payment_term": "custom",
        "due_date": "2026-09-30",
        "tax": D("20"),
    }


def test_an_invoice_without_tax_or_due_date_leaves_them_to_harvest() -> None:
    body = wb.invoice_request(replace(INVOICE, period="2026-02", due_date=None, tax_percent=None))
    assert "tax" not in body and "due_date" not in body and "payment_term" not in body
    assert body["line_items_import"]["time"] == {
        "summary_type": "task",
        "from": "2026-02-01",
        "to": "2026-02-28",
    }


def test_a_payment_request_is_found_again_by_the_number_its_notes_start_with() -> None:
    assert wb.payment_request(PAYMENT) == {
        "amount": D("250.50"),
        "paid_date": "2026-09-10",
        "notes": "BB-UK-202609-PAY-0a1b2c3d4e5f-1: cash booked in the ledger for BB-UK-202608-5101-GBP",
        "send_thank_you": False,
    }
    assert wb.is_payment({"notes": wb.payment_note(PAYMENT)}, PAYMENT.number)
    assert not wb.is_payment({"notes": "BB-UK-202609-PAY-0a1b2c3d4e5f-10: cash"}, PAYMENT.number)
    assert not wb.is_payment({"notes": None}, PAYMENT.number)


def test_what_harvest_cannot_hold_is_recorded_with_the_reason_at_once() -> None:
    credit = BookedCredit("BB-UK-202608-5101-GBP-C1", "2026-08", "BB-UK-202608-5101-GBP", D("120.00"), "GBP")
    row = wb.new_row(credit, "uk", NOW, "r1")
    assert (row.state, row.invoice_number, row.ledger_amount) == (
        WriteBackState.NOT_WRITTEN_BACK,
        "BB-UK-202608-5101-GBP",
        D("120.00"),
    )
    assert row.reason == wb.CREDIT_NOTE_REASON
    refund = wb.new_row(replace(PAYMENT, settles_kind="credit_note"), "uk", NOW, "r1")
    assert (refund.state, refund.reason) == (WriteBackState.NOT_WRITTEN_BACK, wb.REFUND_REASON)
    no_client = wb.new_row(replace(INVOICE, client_id=None), "uk", NOW, "r1")
    assert (no_client.state, no_client.reason) == (WriteBackState.NOT_WRITTEN_BACK, wb.NO_CLIENT_REASON)
    invoice = wb.new_row(INVOICE, "uk", NOW, "r1")
    assert (invoice.state, invoice.document_kind, invoice.reason) == (WriteBackState.PENDING, "invoice", None)


def test_the_protocol_sent_before_the_request_settled_only_by_a_look_up() -> None:
    row = wb.new_row(INVOICE, "uk", NOW, "r1")
    sent = wb.sending(row)
    assert (sent.state, sent.attempts) == (WriteBackState.SENT, 1)
    doubt = wb.in_doubt(sent, "ReadTimeout")
    assert (doubt.state, doubt.reason) == (WriteBackState.SENT, "outcome unknown: ReadTimeout")
    assert wb.absent(doubt).state is WriteBackState.PENDING  # the create never landed: send again
    written = wb.found(doubt, "13150001", D("480"))
    assert (written.state, written.pm_id, written.pm_amount, written.reason) == (
        WriteBackState.WRITTEN,
        "13150001",
        D("480"),
        None,
    )
    refused = wb.refused(sent, "422 Number has already been taken")
    assert wb.absent(refused) == refused  # refused stays refused until the next create


def test_a_harvest_amount_other_than_the_ledgers_is_written_with_the_difference() -> None:
    row = wb.found(wb.new_row(INVOICE, "uk", NOW, "r1"), "13150001", D("470.40"))
    assert row.state is WriteBackState.WRITTEN
    assert row.reason == (
        "Harvest's amount 470.40 GBP differs from the ledger's 480.00 by -9.60: "
        "its tracked time is not what was invoiced"
    )


def test_a_payment_follows_its_invoice() -> None:
    payment = wb.new_row(PAYMENT, "uk", NOW, "r1")
    assert wb.blocked_by_invoice(payment, None) == replace(
        payment,
        state=WriteBackState.WAITING,
        reason="its invoice BB-UK-202608-5101-GBP is not written back yet",
    )
    written = wb.found(wb.new_row(INVOICE, "uk", NOW, "r1"), "13150001", D("480"))
    assert wb.blocked_by_invoice(payment, written) is None
    intercompany = wb.new_row(replace(INVOICE, client_id=None), "uk", NOW, "r1")
    blocked = wb.blocked_by_invoice(payment, intercompany)
    assert blocked is not None and blocked.state is WriteBackState.NOT_WRITTEN_BACK
    assert blocked.reason == f"its invoice BB-UK-202608-5101-GBP is not written back: {wb.NO_CLIENT_REASON}"
