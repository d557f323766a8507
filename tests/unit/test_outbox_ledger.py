"""Reading the ledger's answers (pure): batch answers per document, and the lines kept as booked."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from rules.outbox.batch import batch_answers
from rules.outbox.booked import booked_lines
from rules.outbox.events import Booked, Refused
from rules.outbox.ledger import ZERO_GUID, ledger_document

INVOICE = {
    "InvoiceID": "id-1", "InvoiceNumber": "BB-US-202608-5001-USD", "Type": "ACCREC", "CurrencyCode": "USD",
    "Date": "/Date(1788134400000+0000)/", "Total": D("1500.00"),
    "LineItems": [
        {"Description": "Design", "Quantity": D("8.0000"), "UnitAmount": D("150.0000"), "LineAmount": D("1200.00"),
         "TaxType": "NONE", "TaxAmount": D("0.00"), "AccountCode": "200"},
        {"Description": "Build", "Quantity": D("2.0000"), "UnitAmount": D("150.0000"), "LineAmount": D("300.00"),
         "TaxType": "NONE", "TaxAmount": D("0.00"), "AccountCode": "200"},
    ],
}  # fmt: skip


def test_a_batch_answer_is_read_per_document_by_number_else_position() -> None:
    refused = {"InvoiceID": ZERO_GUID, "HasErrors": True, "ValidationErrors": [{"Message": "TaxType BOGUS"}]}
    answers = batch_answers("invoice", ["BB-US-202608-5002-USD", "BB-US-202608-5001-USD"], [refused, INVOICE])
    assert answers["BB-US-202608-5002-USD"] == Refused(("TaxType BOGUS",))
    booked = answers["BB-US-202608-5001-USD"]
    assert isinstance(booked, Booked) and booked.document.external_id == "id-1"
    assert booked.document.total == D("1500.00") and booked.document.document_date == date(2026, 8, 31)


def test_an_element_without_an_id_is_refused_even_without_errors() -> None:
    assert batch_answers("invoice", ["N-1"], [{"InvoiceNumber": "N-1"}]) == {
        "N-1": Refused(("rejected without a message",))
    }


def test_a_journal_is_known_by_the_number_leading_its_narration_and_books_its_debits() -> None:
    journal = {
        "ManualJournalID": "mj-1", "Narration": "BB-US-202608-MJ-RENT: Rent August", "Date": "2026-08-31",
        "JournalLines": [{"LineAmount": D("1000.00"), "AccountCode": "477", "Description": "Rent"},
                         {"LineAmount": D("-1000.00"), "AccountCode": "800", "Description": "Rent"}],
    }  # fmt: skip
    document = ledger_document("manual_journal", journal)
    assert (document.document_number, document.total) == ("BB-US-202608-MJ-RENT", D("1000.00"))
    assert [(line.quantity, line.unit_amount, line.line_amount) for line in document.lines] == [
        (D(1), D("1000.00"), D("1000.00")),
        (D(1), D("-1000.00"), D("-1000.00")),
    ]


def test_booked_lines_take_the_ledgers_amounts_and_the_sent_versions_trace() -> None:
    sent = [
        {"line_no": 1, "project_id": 6001, "task_id": 7001, "source_kind": "time", "document_type": "ACCREC",
         "original_number": "BB-US-202608-5001-USD", "currency": "USD", "document_date": date(2026, 8, 31),
         "description": "Design", "quantity": D("8"), "unit_amount": D("150"), "line_amount": D("1200"),
         "tax_type": "NONE", "tax_amount": D("0"), "account_code": "200"},
        {"line_no": 2, "project_id": 6001, "task_id": 7002, "source_kind": "time", "document_type": "ACCREC",
         "original_number": "BB-US-202608-5001-USD", "currency": "USD", "document_date": date(2026, 8, 31),
         "description": "Build", "quantity": D("2"), "unit_amount": D("150"), "line_amount": D("300"),
         "tax_type": "NONE", "tax_amount": D("0"), "account_code": "200"},
    ]  # fmt: skip
    row = {"document_number": "BB-US-202608-5001-USD", "document_kind": "invoice", "entity": "us",
           "period": "2026-08", "currency": "USD", "run_id": "r1"}  # fmt: skip
    posted_at = datetime(2026, 9, 1, tzinfo=UTC)
    lines = booked_lines(ledger_document("invoice", INVOICE), sent, row=row, posted_at=posted_at)
    assert [(ln["line_no"], ln["task_id"], ln["description"], ln["line_amount"]) for ln in lines] == [
        (1, 7001, "Design", D("1200.00")),
        (2, 7002, "Build", D("300.00")),
    ]
    assert {(ln["document_type"], ln["original_number"], ln["document_date"]) for ln in lines} == {
        ("ACCREC", "BB-US-202608-5001-USD", date(2026, 8, 31))
    }
