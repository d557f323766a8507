"""Outbound documents: exact JSON numbers, idempotency keys, and the invoice shape."""

import json
from datetime import date
from decimal import Decimal as D

import polars as pl

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.xero import dumps_exact, loads_exact, quote_where
from rules.outbound_payloads import (
    batch_key,
    idempotency_key,
    number_from_narration,
    outbound_document,
)


def test_decimals_are_written_as_exact_json_numbers() -> None:
    text = dumps_exact({"a": D("0.1"), "b": [D("123456789012.3456"), D("-5")], "c": "D:1"})
    assert text == '{"a":0.1,"b":[123456789012.3456,-5],"c":"D:1"}'
    assert loads_exact(text)["b"][0] == D("123456789012.3456")


def test_idempotency_key_follows_identity_and_content() -> None:
    key = idempotency_key("BB-US-202608-5001-USD", "abc")
    assert key == idempotency_key("BB-US-202608-5001-USD", "abc")
    assert key != idempotency_key("BB-US-202608-5001-USD", "abd")
    assert key != idempotency_key("BB-US-202609-5001-USD", "abc")
    assert len(key) <= 128
    assert batch_key([key, "x"]) != batch_key(["x", key])


def test_where_literals_are_escaped() -> None:
    assert quote_where('Acme "A" Corp') == '"Acme \\"A\\" Corp"'


def test_invoice_document_shape() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    header = {
        "document_number": "BB-DE-202608-5202-USD",
        "document_kind": "invoice",
        "document_type": "ACCREC",
        "reference": "DE-WAY-01",
        "document_date": date(2026, 8, 31),
        "due_date": date(2026, 9, 14),
        "currency": "USD",
        "base_currency": "EUR",
        "currency_rate": D("1.17250000"),
    }
    lines = pl.DataFrame(
        [
            {
                "line_no": 1,
                "description": "Security Review: Design",
                "quantity": D("2.5000"),
                "unit_amount": D("150.0000"),
                "line_amount": D("375.0000"),
                "account_code": "8400",
                "tax_type": "OUTPUT3",
                "tax_amount": D("71.2500"),
            }
        ]
    )
    document = outbound_document(header, lines, config.entity("de"), "contact-1")
    body = json.loads(dumps_exact(document))
    assert body["Type"] == "ACCREC" and body["Contact"] == {"ContactID": "contact-1"}
    assert body["CurrencyCode"] == "USD" and body["CurrencyRate"] == 1.1725
    assert body["LineItems"][0] == {
        "Description": "Security Review: Design",
        "Quantity": 2.5,
        "UnitAmount": 150,
        "LineAmount": 375,
        "AccountCode": "8400",
        "TaxType": "OUTPUT3",
        "TaxAmount": 71.25,
    }
    assert body["Status"] == "DRAFT" and body["Date"] == "2026-08-31"


def test_credit_note_and_journal_shapes() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    line = {
        "line_no": 1,
        "description": "Correction",
        "quantity": D("1.0000"),
        "unit_amount": D("150.0000"),
        "line_amount": D("150.0000"),
        "account_code": "200",
        "tax_type": "NONE",
        "tax_amount": D("0.0000"),
    }
    credit_header = {
        "document_number": "BB-US-202608-5001-USD-CN1",
        "document_kind": "credit_note",
        "document_type": "ACCRECCREDIT",
        "reference": "Correction of BB-US-202608-5001-USD",
        "document_date": date(2026, 9, 30),
        "due_date": None,
        "currency": "USD",
        "base_currency": "USD",
        "currency_rate": D("1"),
    }
    credit = json.loads(
        dumps_exact(outbound_document(credit_header, pl.DataFrame([line]), config.entity("us"), "c-1"))
    )
    assert credit["Type"] == "ACCRECCREDIT" and credit["CreditNoteNumber"] == "BB-US-202608-5001-USD-CN1"
    assert "InvoiceNumber" not in credit and "DueDate" not in credit and "CurrencyRate" not in credit
    journal_header = {**credit_header, "document_kind": "manual_journal", "document_type": None,
                      "document_number": "BB-US-202608-MJ-1", "reference": "Allocation"}  # fmt: skip
    debit, credit_line = (
        {**line, "line_amount": D("10.5000")},
        {**line, "line_no": 2, "line_amount": D("-10.5000")},
    )
    journal = json.loads(
        dumps_exact(
            outbound_document(journal_header, pl.DataFrame([debit, credit_line]), config.entity("us"), None)
        )
    )
    assert journal["Narration"] == "BB-US-202608-MJ-1: Allocation"
    assert number_from_narration(journal["Narration"]) == "BB-US-202608-MJ-1"
    assert [j["LineAmount"] for j in journal["JournalLines"]] == [10.5, -10.5]
    assert "Contact" not in journal and journal["Status"] == "DRAFT"
