"""Outbound documents: exact JSON numbers, idempotency keys, and the invoice shape."""

import json
from datetime import date
from decimal import Decimal as D

import polars as pl

from assets.posting.payloads import batch_key, idempotency_key, invoice_document
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.xero import dumps_exact, loads_exact, quote_where


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
        "invoice_number": "BB-DE-202608-5202-USD",
        "reference": "DE-WAY-01",
        "invoice_date": date(2026, 8, 31),
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
    document = invoice_document(header, lines, config.entity("de"), "contact-1")
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
