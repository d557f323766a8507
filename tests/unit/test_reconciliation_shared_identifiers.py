"""Duplicate-party suggestions by shared tax numbers and company e-mail domains: cases written by hand."""

import polars as pl

from rules.reconciliation.duplicates import IDENTIFIED_PARTY_SCHEMA, duplicate_suggestions
from rules.reconciliation.shared_identifiers import mail_domain, tax_key

PARTIES = pl.DataFrame(
    [
        ("pm", "5001", "Northwind Traders", "uk", None, None),
        ("accounting", "Contoso Ltd", "Contoso Ltd", "uk", "GB 123 4567 89", "ap@contoso.co.uk"),
        ("accounting", "Fabrikam", "Fabrikam", "uk", "gb123456789", None),  # same VAT number, other name
        ("accounting", "Tailspin Toys", "Tailspin Toys", "uk", None, "Billing@Contoso.co.uk"),  # same domain
        ("accounting", "Jane Smith", "Jane Smith", "uk", None, "jane@gmail.com"),  # public mail: says nothing
        ("accounting", "John Brown", "John Brown", "uk", None, "john@gmail.com"),
        ("accounting", "Contoso GmbH", "Contoso GmbH", "de", "GB123456789", None),  # another entity
    ],
    schema=IDENTIFIED_PARTY_SCHEMA,
    orient="row",
)


def test_tax_numbers_compare_without_spaces_punctuation_or_case() -> None:
    assert tax_key("GB 123.456-789") == "GB123456789"
    assert tax_key("de 812 526 315") == "DE812526315"
    assert tax_key(None) == ""
    assert tax_key(" - ") == ""


def test_public_mail_providers_are_no_company_domain() -> None:
    assert mail_domain("AP@Contoso.CO.UK") == "contoso.co.uk"
    assert mail_domain("someone@gmail.com") == ""
    assert mail_domain("someone@Outlook.com") == ""
    assert mail_domain("not an address") == ""
    assert mail_domain(None) == ""


def test_shared_tax_number_and_company_domain_are_suggested_with_the_reason() -> None:
    found = {(s.a_id, s.b_id): (s.reason, s.similarity) for s in duplicate_suggestions(PARTIES, {})}
    assert found == {
        ("Contoso Ltd", "Fabrikam"): ("shared tax number", 0.0),
        ("Contoso Ltd", "Tailspin Toys"): ("shared e-mail domain", 0.0),
    }


def test_a_pair_alike_by_name_and_by_tax_number_is_suggested_once_with_both_reasons() -> None:
    parties = pl.DataFrame(
        [
            ("accounting", "Initech Limited", "Initech Limited", "us", "US-12-3456789", None),
            ("accounting", "INITECH LTD", "INITECH LTD", "us", "us123456789", None),
        ],
        schema=IDENTIFIED_PARTY_SCHEMA,
        orient="row",
    )
    [suggestion] = duplicate_suggestions(parties, {})
    assert (suggestion.a_id, suggestion.b_id) == ("INITECH LTD", "Initech Limited")
    assert suggestion.reason == "similar names; shared tax number"
    assert suggestion.similarity == 1.0


def test_a_pair_the_mapping_already_joins_is_not_suggested_for_a_shared_identifier() -> None:
    parties = pl.DataFrame(
        [
            ("pm", "7001", "Wide World Importers", "us", None, "accounts@wwi.example"),
            ("accounting", "WWI Inc", "WWI Inc", "us", None, "ar@wwi.example"),
        ],
        schema=IDENTIFIED_PARTY_SCHEMA,
        orient="row",
    )
    assert [s.reason for s in duplicate_suggestions(parties, {})] == ["shared e-mail domain"]
    assert duplicate_suggestions(parties, {"7001": "WWI Inc"}) == []
