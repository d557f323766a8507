"""The accounting sandbox over real HTTP: auth, ledgers, validation, arithmetic, idempotency, limits, faults."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.xero import ZERO_GUID, Fault, XeroSandbox, dumps_exact
from tests.integration.xero_http import (
    T1,
    T2,
    TOKEN,
    UNLIMITED,
    FakeClock,
    body,
    client,
    invoice,
    new_contact,
    put_invoices,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def xero(tmp_path: Path) -> Iterator[XeroSandbox]:
    sandbox = XeroSandbox([T1, T2], db_path=tmp_path / "xero.sqlite", **UNLIMITED)
    with sandbox:
        yield sandbox
    sandbox.close()


# -- auth and tenants -------------------------------------------------------------------------------


def test_missing_or_wrong_token_is_401_with_xero_problem_body(xero: XeroSandbox) -> None:
    for token in (None, "not-the-token"):
        response = client(xero, token=token).get("Invoices")
        assert response.status_code == 401
        assert response.json()["Title"] == "Unauthorized"
        assert response.json()["Detail"] == "AuthenticationUnsuccessful"
        assert response.json()["Status"] == 401


def test_missing_or_unknown_tenant_is_403(xero: XeroSandbox) -> None:
    for tenant in (None, "00000000-0000-0000-0000-00000000dead"):
        response = client(xero, tenant=tenant).get("Invoices")
        assert response.status_code == 403
        assert response.json()["Detail"] == "AuthorizationUnsuccessful"
    assert xero.request_count(T1) == 0


def test_tenant_header_is_case_insensitive_and_each_tenant_is_its_own_ledger(xero: XeroSandbox) -> None:
    http = httpx.Client(
        base_url=xero.url + "/", headers={"Authorization": f"Bearer {TOKEN}", "XERO-TENANT-ID": T1.upper()}
    )
    contact_id = new_contact(http, "Acme Ltd")
    assert [c["Name"] for c in xero.contacts(T1)] == ["Acme Ltd"]
    assert xero.contacts(T2) == []
    other = client(xero, tenant=T2)
    assert body(other.get("Contacts"))["Contacts"] == []
    # T1's contact does not exist in T2's ledger.
    response = put_invoices(other, [invoice({"ContactID": contact_id})])
    assert response.status_code == 400
    assert "could not be found" in response.text
    assert xero.request_count(T1) == 1 and xero.request_count(T2) == 2


# -- contacts ---------------------------------------------------------------------------------------


def test_contacts_create_lookup_by_name_id_and_page(xero: XeroSandbox) -> None:
    http = client(xero)
    tricky = 'Acme "Quotes" \\ Ltd'
    contact_id = new_contact(http, tricky)
    quoted = '"' + tricky.replace("\\", "\\\\").replace('"', '\\"') + '"'
    found = body(http.get("Contacts", params={"where": f"Name=={quoted}"}))["Contacts"]
    assert [c["ContactID"] for c in found] == [contact_id]
    assert body(http.get(f"Contacts/{contact_id}"))["Contacts"][0]["Name"] == tricky
    assert body(http.get("Contacts", params={"IDs": contact_id}))["Contacts"][0]["Name"] == tricky
    assert http.get("Contacts/3f0c7a52-0000-0000-0000-000000000000").status_code == 404

    many = {"Contacts": [{"Name": f"Client {i:03d}"} for i in range(120)]}
    assert http.post("Contacts", content=dumps_exact(many)).status_code == 200
    pages = [body(http.get("Contacts", params={"page": str(p)})) for p in (1, 2, 3)]
    assert [len(p["Contacts"]) for p in pages] == [100, 21, 0]
    assert pages[0]["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 2, "itemCount": 121}


def test_contact_name_is_required_and_unique(xero: XeroSandbox) -> None:
    http = client(xero)
    new_contact(http, "Acme Ltd")
    batch = {"Contacts": [{"Name": "Globex"}, {"Name": "ACME LTD"}, {"FirstName": "No name"}]}
    rejected = http.put("Contacts", content=dumps_exact(batch))
    assert rejected.status_code == 400
    error = rejected.json()
    assert (error["ErrorNumber"], error["Type"]) == (10, "ValidationException")
    messages = [[e["Message"] for e in element["ValidationErrors"]] for element in error["Elements"]]
    assert messages[0] == []
    assert "must be unique" in messages[1][0]
    assert "must be specified" in messages[2][0]
    assert [c["Name"] for c in xero.contacts(T1)] == ["Acme Ltd"]

    mixed = http.put("Contacts", content=dumps_exact(batch), params={"summarizeErrors": "false"})
    assert mixed.status_code == 200
    assert [c["StatusAttributeString"] for c in mixed.json()["Contacts"]] == ["OK", "ERROR", "ERROR"]
    assert [c["Name"] for c in xero.contacts(T1)] == ["Acme Ltd", "Globex"]


# -- invoices: create, list, where ------------------------------------------------------------------


def test_create_then_list_and_look_up_with_where_and_list_parameters(xero: XeroSandbox) -> None:
    http = client(xero)
    acme = new_contact(http, "Acme Ltd")
    globex = new_contact(http, "Globex")
    created = put_invoices(
        http,
        [
            invoice({"ContactID": acme}, "N-1", Reference="R1"),
            invoice({"ContactID": globex}, "N-2", Reference="R2", Status="AUTHORISED"),
            # The same number again: the sandbox, like a lenient tenant, does not refuse it.
            invoice({"ContactID": acme}, "N-1", Reference="R3"),
        ],
    )
    assert created.status_code == 200, created.text
    ids = [i["InvoiceID"] for i in body(created)["Invoices"]]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)

    def numbers(**params: str) -> list[str]:
        response = http.get("Invoices", params=params)
        assert response.status_code == 200, response.text
        return [i["InvoiceNumber"] for i in body(response)["Invoices"]]

    assert numbers(where='InvoiceNumber=="N-1"') == ["N-1", "N-1"]
    assert numbers(where='InvoiceNumber=="n-1"') == ["N-1", "N-1"]  # case-insensitive, as Xero
    assert numbers(where='Reference=="R2"') == ["N-2"]
    assert numbers(where='Status=="AUTHORISED"') == ["N-2"]
    assert numbers(where=f'Type=="ACCREC" AND Contact.ContactID==guid("{acme}")') == ["N-1", "N-1"]
    assert numbers(where=f'Type=="ACCREC" && Contact.ContactID==guid("{globex.upper()}")') == ["N-2"]
    assert numbers(where='Status!="DRAFT"') == ["N-2"]
    assert numbers(InvoiceNumbers="N-2,N-1") == ["N-1", "N-2", "N-1"]
    assert numbers(IDs=ids[1]) == ["N-2"]
    assert numbers(Statuses="DRAFT") == ["N-1", "N-1"]
    assert numbers(ContactIDs=globex) == ["N-2"]

    one = body(http.get(f"Invoices/{ids[1]}"))["Invoices"]
    assert [(i["InvoiceID"], i["Contact"]["Name"], len(i["LineItems"])) for i in one] == [
        (ids[1], "Globex", 1)
    ]
    assert http.get("Invoices/3f0c7a52-0000-4000-8000-000000000000").status_code == 404

    # Xero leaves line items out of unpaged lists; paged lists carry them.
    assert body(http.get("Invoices"))["Invoices"][0]["LineItems"] == []
    paged = body(http.get("Invoices", params={"page": "1"}))
    assert len(paged["Invoices"][0]["LineItems"]) == 1
    assert paged["pagination"]["itemCount"] == 3
    assert body(http.get("Invoices", params={"page": "2"}))["Invoices"] == []


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("Total>100", "unsupported field 'Total'"),
        ('Reference>"R"', "expected == or != after Reference"),
        ('InvoiceNumber=="N-1" OR Reference=="R1"', "OR is not supported"),
        ('Contact.ContactID=="3f0c7a52-5e7a-4a8e-9d0e-000000000001"', 'compare it with guid("...")'),
        ('Reference.Contains("R")', "method calls such as Reference.Contains(...) are not supported"),
        ('AmountDue=="1"', "unsupported field 'AmountDue'"),
        ('InvoiceNumber=="unterminated', "unterminated string"),
    ],
)
def test_unsupported_where_is_a_400_query_parse_exception(xero: XeroSandbox, where: str, needle: str) -> None:
    response = client(xero).get("Invoices", params={"where": where})
    assert response.status_code == 400
    error = response.json()
    assert (error["ErrorNumber"], error["Type"]) == (16, "QueryParseException")
    assert needle in error["Message"] and "The sandbox supports" in error["Message"]


def test_contact_by_name_is_matched_or_created_once(xero: XeroSandbox) -> None:
    http = client(xero)
    existing = new_contact(http, "Acme Ltd")
    response = put_invoices(
        http,
        [
            invoice({"Name": "acme ltd"}, "N-1"),
            invoice({"Name": "Initech"}, "N-2"),
            invoice({"Name": "Initech"}, "N-3"),
        ],
    )
    assert response.status_code == 200, response.text
    contacts = [i["Contact"] for i in body(response)["Invoices"]]
    assert contacts[0] == {"ContactID": existing, "Name": "Acme Ltd"}
    assert contacts[1] == contacts[2] and contacts[1]["Name"] == "Initech"
    assert [c["Name"] for c in xero.contacts(T1)] == ["Acme Ltd", "Initech"]


def test_a_batch_of_51_is_rejected_whole(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    response = put_invoices(http, [invoice(contact, f"N-{i}") for i in range(51)])
    assert response.status_code == 400
    assert response.json()["Type"] == "PostDataInvalidException"
    assert "At most 50 invoices" in response.json()["Message"]
    assert xero.documents(T1) == []
    assert put_invoices(http, [invoice(contact, f"N-{i}") for i in range(50)]).status_code == 200
    assert len(xero.documents(T1)) == 50


def test_malformed_bodies_are_400(xero: XeroSandbox) -> None:
    http = client(xero)
    for content in (
        b"{not json",
        b'{"Invoice": []}',
        b'{"Invoices": []}',
        b'{"Invoices": [{"Quantity": NaN}]}',
    ):
        response = http.put("Invoices", content=content)
        assert response.status_code == 400, content
        assert response.json()["Type"] in ("PostDataInvalidException", "NoDataProcessedException")


# -- summarizeErrors ----------------------------------------------------------------------------------


def _batch_with_one_bad(contact: dict[str, str]) -> list[dict[str, Any]]:
    return [
        invoice(contact, "N-1"),
        invoice(contact, "N-2", LineItems=[], Type="ACCRECX"),
        invoice({"Name": "Created only if saved"}, "N-3"),
    ]


def test_summarize_errors_true_rejects_the_whole_batch(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    response = put_invoices(http, _batch_with_one_bad(contact))  # summarizeErrors defaults to true
    assert response.status_code == 400
    error = response.json()
    assert (error["ErrorNumber"], error["Type"], error["Message"]) == (
        10,
        "ValidationException",
        "A validation exception occurred",
    )
    errors = [[e["Message"] for e in element["ValidationErrors"]] for element in error["Elements"]]
    assert errors[0] == [] and errors[2] == []
    assert any("at least one line item" in m for m in errors[1])
    assert any("Invoice Type 'ACCRECX' is not valid" in m for m in errors[1])
    assert xero.documents(T1) == []
    assert [c["Name"] for c in xero.contacts(T1)] == ["Acme Ltd"]


def test_summarize_errors_false_saves_the_valid_ones(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    response = put_invoices(http, _batch_with_one_bad(contact), summarizeErrors="false")
    assert response.status_code == 200
    elements = body(response)["Invoices"]
    assert [e["StatusAttributeString"] for e in elements] == ["OK", "ERROR", "OK"]
    assert [e["HasErrors"] for e in elements] == [False, True, False]
    assert elements[1]["InvoiceID"] == ZERO_GUID and elements[1]["InvoiceNumber"] == "N-2"
    assert elements[1]["ValidationErrors"] and elements[0]["ValidationErrors"] == []
    assert [d["InvoiceNumber"] for d in xero.documents(T1)] == ["N-1", "N-3"]
    assert [c["Name"] for c in xero.contacts(T1)] == ["Acme Ltd", "Created only if saved"]


# -- arithmetic and dates ----------------------------------------------------------------------------


def test_amounts_are_exact_decimals_rounded_half_up_per_line(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    lines = [
        # 1.5 x 0.15 = 0.225: a half-cent tie (a float gives 0.22499999999999998 and rounds to 0.22).
        {
            "Description": "tie",
            "Quantity": Decimal("1.5"),
            "UnitAmount": Decimal("0.15"),
            "TaxType": "OUTPUT",
        },
        # Tax 10 % of 1.15 = 0.115: a tie in the tax (float: 0.11499999999999999).
        {"Description": "tax tie", "Quantity": 1, "UnitAmount": Decimal("1.15"), "TaxType": "OUTPUT"},
        {
            "Description": "uk",
            "Quantity": Decimal("0.70"),
            "UnitAmount": Decimal("137.50"),
            "TaxType": "OUTPUT2",
        },
        {"Description": "de", "Quantity": Decimal("3"), "UnitAmount": Decimal("33.33"), "TaxType": "OUTPUT3"},
    ]
    response = put_invoices(http, [invoice(contact, LineItems=lines)])
    assert response.status_code == 200, response.text
    saved = body(response)["Invoices"][0]
    assert [(li["LineAmount"], li["TaxAmount"]) for li in saved["LineItems"]] == [
        (Decimal("0.23"), Decimal("0.02")),
        (Decimal("1.15"), Decimal("0.12")),
        (Decimal("96.25"), Decimal("19.25")),
        (Decimal("99.99"), Decimal("19.00")),  # 18.9981 -> 19.00
    ]
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (
        Decimal("197.62"),
        Decimal("38.39"),
        Decimal("236.01"),
    )
    # On the wire they are JSON numbers with exactly these digits, not strings, not floats.
    assert '"SubTotal":197.62,"TotalTax":38.39,"Total":236.01' in response.text
    assert '"LineAmount":0.23' in response.text and '"TaxAmount":19.00' in response.text
    assert xero.documents(T1)[0]["Total"] == Decimal("236.01")


def test_unitdp_4_keeps_four_decimal_unit_amounts(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    line = {"Description": "x", "Quantity": 3, "UnitAmount": Decimal("10.125"), "TaxType": "NONE"}
    two_dp = body(put_invoices(http, [invoice(contact, "A", LineItems=[line])]))["Invoices"][0]
    four_dp = body(put_invoices(http, [invoice(contact, "B", LineItems=[line])], unitdp="4"))["Invoices"][0]
    assert (two_dp["LineItems"][0]["UnitAmount"], two_dp["Total"]) == (Decimal("10.13"), Decimal("30.39"))
    assert (four_dp["LineItems"][0]["UnitAmount"], four_dp["Total"]) == (Decimal("10.1250"), Decimal("30.38"))
    # Reading back without unitdp=4 shows two decimals; with it, the four that were stored.
    page = {"page": "1", "where": 'InvoiceNumber=="B"'}
    assert body(http.get("Invoices", params=page))["Invoices"][0]["LineItems"][0]["UnitAmount"] == Decimal(
        "10.13"
    )
    read4 = body(http.get("Invoices", params={**page, "unitdp": "4"}))["Invoices"][0]
    assert read4["LineItems"][0]["UnitAmount"] == Decimal("10.1250")


def test_inclusive_and_notax_line_amount_types(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    line = {"Description": "x", "Quantity": 1, "UnitAmount": Decimal("110.00"), "TaxType": "OUTPUT"}
    inclusive = body(put_invoices(http, [invoice(contact, LineItems=[line], LineAmountTypes="Inclusive")]))
    saved = inclusive["Invoices"][0]
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (
        Decimal("100.00"),
        Decimal("10.00"),
        Decimal("110.00"),
    )
    notax = body(put_invoices(http, [invoice(contact, LineItems=[line], LineAmountTypes="NoTax")]))[
        "Invoices"
    ][0]
    assert (notax["TotalTax"], notax["Total"], notax["LineItems"][0]["TaxType"]) == (
        Decimal("0.00"),
        Decimal("110.00"),
        "NONE",
    )


def test_line_validation_messages(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    lines = [
        {"Description": "x", "Quantity": 2, "UnitAmount": Decimal("1.25"), "LineAmount": Decimal("2.49")},
        {
            "Description": "x",
            "Quantity": 1,
            "UnitAmount": 10,
            "TaxType": "OUTPUT2",
            "TaxAmount": Decimal("2.02"),  # one cent off would be booked as an override (decision 0009)
        },
        {"Description": "", "Quantity": -1, "UnitAmount": "10", "TaxType": "GST"},
    ]
    response = put_invoices(http, [invoice(contact, LineItems=lines, Date="2026-02-30", CurrencyCode="eur")])
    messages = " | ".join(e["Message"] for e in response.json()["Elements"][0]["ValidationErrors"])
    for needle in (
        "Line 1: The line total 2.49 does not match the expected line total of 2.50",
        "Line 2: The tax amount 2.02 does not match the expected tax amount of 2.00",
        "Line 3: Description needs to be at least 1 char long",
        "Line 3: UnitAmount must be a number",
        "Line 3: The TaxType code 'GST' does not exist",
        "Quantity must not be less than zero",
        "Date '2026-02-30' is not a valid date",
        "CurrencyCode 'eur' is not a three-letter ISO 4217 code",
    ):
        assert needle in messages
    # A matching LineAmount and TaxAmount, as our connector sends them, are accepted.
    ok = {"Description": "x", "Quantity": 2, "UnitAmount": Decimal("1.25"), "LineAmount": Decimal("2.5")}
    assert put_invoices(http, [invoice(contact, LineItems=[{**ok, "TaxAmount": 0}])]).status_code == 200


def test_dates_use_xero_ms_json_form(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    response = put_invoices(http, [invoice(contact, Date="2026-08-01", DueDate="2026-08-31")])
    envelope = body(response)
    saved = envelope["Invoices"][0]
    assert saved["Date"] == "/Date(1785542400000+0000)/"
    assert saved["DateString"] == "2026-08-01T00:00:00"
    assert saved["DueDate"] == "/Date(1788134400000+0000)/"
    assert saved["DueDateString"] == "2026-08-31T00:00:00"
    assert re.fullmatch(r"/Date\(\d{13}\+0000\)/", saved["UpdatedDateUTC"])
    assert re.fullmatch(r"/Date\(\d{13}\)/", envelope["DateTimeUTC"])
    assert envelope["Status"] == "OK" and envelope["ProviderName"] and envelope["Id"]


# -- idempotency ---------------------------------------------------------------------------------------


def test_idempotency_key_replays_and_refuses_another_body(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    first = put_invoices(http, [invoice(contact, "N-1")], key="key-1", summarizeErrors="false")
    # The same document with other key order and spacing is the same request.
    same = dict(reversed(list(invoice(contact, "N-1").items())))
    replay = http.put(
        "Invoices",
        content=dumps_exact({"Invoices": [same]}).replace(",", ", "),
        params={"summarizeErrors": "false"},
        headers={"Idempotency-Key": "key-1"},
    )
    assert replay.status_code == 200
    assert replay.content == first.content
    assert replay.headers["X-Sandbox-Idempotent-Replay"] == "true"
    assert len(xero.documents(T1)) == 1

    conflict = put_invoices(http, [invoice(contact, "N-2")], key="key-1", summarizeErrors="false")
    assert conflict.status_code == 400
    assert "already used" in conflict.json()["Message"] and "different request" in conflict.json()["Message"]
    # Same key, other parameters: also another request.
    assert put_invoices(http, [invoice(contact, "N-1")], key="key-1").status_code == 400
    # Keys are per tenant.
    other_contact = {"ContactID": new_contact(client(xero, tenant=T2), "Acme Ltd")}
    assert (
        put_invoices(client(xero, tenant=T2), [invoice(other_contact, "N-1")], key="key-1").status_code == 200
    )
    assert len(xero.documents(T1)) == 1 and len(xero.documents(T2)) == 1


def test_concurrent_requests_with_one_key_store_once(xero: XeroSandbox) -> None:
    contact = {"ContactID": new_contact(client(xero), "Acme Ltd")}
    answers: list[bytes] = []

    def send() -> None:
        answers.append(put_invoices(client(xero), [invoice(contact)], key="racing").content)

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 5 and len(set(answers)) == 1
    assert len(xero.documents(T1)) == 1


def test_idempotency_key_length_limit(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    too_long = put_invoices(http, [invoice(contact)], key="k" * 129)
    assert too_long.status_code == 400 and "at most 128" in too_long.json()["Message"]
    assert put_invoices(http, [invoice(contact)], key="k" * 128).status_code == 200


def test_validation_failures_replay_too(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    bad = [invoice(contact, LineItems=[])]
    first = put_invoices(http, bad, key="bad-1")
    again = put_invoices(http, bad, key="bad-1")
    assert first.status_code == again.status_code == 400 and first.content == again.content


def test_idempotency_window_expires(tmp_path: Path) -> None:
    clock = FakeClock()
    with XeroSandbox(
        [T1], db_path=tmp_path / "x.sqlite", idempotency_window_s=3600, clock=clock, **UNLIMITED
    ) as xero:
        http = client(xero)
        contact = {"ContactID": new_contact(http, "Acme Ltd")}
        first = body(put_invoices(http, [invoice(contact)], key="k"))["Invoices"][0]["InvoiceID"]
        clock.now += 3599
        assert body(put_invoices(http, [invoice(contact)], key="k"))["Invoices"][0]["InvoiceID"] == first
        clock.now += 2
        assert body(put_invoices(http, [invoice(contact)], key="k"))["Invoices"][0]["InvoiceID"] != first
        assert len(xero.documents(T1)) == 2


def test_ledger_and_keys_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    first = XeroSandbox([T1], db_path=path, **UNLIMITED)
    with first:
        http = client(first)
        contact = {"ContactID": new_contact(http, "Acme Ltd")}
        original = put_invoices(http, [invoice(contact)], key="restart-key")
    first.close()
    second = XeroSandbox([T1], db_path=path, **UNLIMITED)
    with second:
        replay = put_invoices(client(second), [invoice(contact)], key="restart-key")
        assert replay.content == original.content
        assert [d["InvoiceNumber"] for d in second.documents(T1)] == ["BB-UK-202608-1"]
        assert [c["Name"] for c in second.contacts(T1)] == ["Acme Ltd"]
    second.close()


# -- rate limits ---------------------------------------------------------------------------------------


def test_minute_limit_answers_429_with_xero_headers(tmp_path: Path) -> None:
    with XeroSandbox([T1, T2], minute_limit=2, day_limit=100, concurrent_limit=5) as xero:
        http = client(xero)
        remaining = [http.get("Contacts").headers["X-MinLimit-Remaining"] for _ in range(2)]
        assert remaining == ["1", "0"]
        limited = http.get("Contacts")
        assert limited.status_code == 429
        assert limited.headers["X-Rate-Limit-Problem"] == "minute"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-MinLimit-Remaining"] == "0"
        assert limited.headers["X-DayLimit-Remaining"] == "98"
        assert "X-AppMinLimit-Remaining" in limited.headers
        assert xero.rate_limited_count == 1
        # Limits are per tenant.
        assert client(xero, tenant=T2).get("Contacts").status_code == 200
        # Admitted calls per tenant (bench/group_close.py's count); the refused one is not among them.
        assert (xero.admitted_count(T1), xero.admitted_count(T2)) == (2, 1)
        assert xero.request_count(T1) == 3


def test_day_limit_answers_429(tmp_path: Path) -> None:
    with XeroSandbox([T1], minute_limit=None, day_limit=1, concurrent_limit=None) as xero:
        http = client(xero)
        assert http.get("Contacts").headers["X-DayLimit-Remaining"] == "0"
        limited = http.get("Contacts")
        assert (limited.status_code, limited.headers["X-Rate-Limit-Problem"]) == (429, "day")
        assert int(limited.headers["Retry-After"]) > 60


def test_concurrent_limit_answers_429(tmp_path: Path) -> None:
    with XeroSandbox([T1], minute_limit=None, day_limit=None, concurrent_limit=1) as xero:
        xero.inject(Fault("slow", seconds=0.6))
        results: list[int] = []
        slow = threading.Thread(target=lambda: results.append(client(xero).get("Contacts").status_code))
        slow.start()
        time.sleep(0.2)
        limited = client(xero).get("Contacts")
        slow.join()
        assert results == [200]
        assert (limited.status_code, limited.headers["X-Rate-Limit-Problem"]) == (429, "concurrent")
        assert client(xero).get("Contacts").status_code == 200  # the slot was given back


# -- faults ------------------------------------------------------------------------------------------


def test_status_faults_answer_without_processing(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    xero.inject(
        Fault("status", status=503, retry_after=7, method="PUT", path="/Invoices"),
        Fault("status", status=429, retry_after=2),
    )
    assert http.get("Contacts").status_code == 429  # the unfiltered 429 matches the first request
    unavailable = put_invoices(http, [invoice(contact)])
    assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "7")
    assert xero.documents(T1) == []
    assert xero.pending_faults() == []
    assert xero.rate_limited_count == 0  # injected 429s are not the limiter's
    assert put_invoices(http, [invoice(contact)]).status_code == 200


def test_slow_fault_delays_then_processes(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    xero.inject(Fault("slow", seconds=0.4, method="PUT"))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        put_invoices(client(xero, timeout=0.1), [invoice(contact)])
    # The client gave up, but the request still lands: its outcome was unknown, not failed.
    deadline = time.monotonic() + 3
    while not xero.documents(T1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(xero.documents(T1)) == 1 and time.monotonic() - started >= 0.4


def test_drop_before_stores_nothing(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    xero.inject(Fault("drop_before", method="PUT"))
    with pytest.raises(httpx.TransportError):
        put_invoices(http, [invoice(contact)], key="k")
    assert xero.documents(T1) == []
    assert put_invoices(client(xero), [invoice(contact)], key="k").status_code == 200
    assert len(xero.documents(T1)) == 1


def test_drop_after_commit_stores_and_a_keyed_retry_replays(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    xero.inject(Fault("drop_after_commit", method="PUT", path="/Invoices"))
    with pytest.raises(httpx.TransportError):
        put_invoices(http, [invoice(contact)], key="k")
    stored = xero.documents(T1)
    assert len(stored) == 1
    retry = put_invoices(client(xero), [invoice(contact)], key="k")
    assert body(retry)["Invoices"][0]["InvoiceID"] == stored[0]["InvoiceID"]
    assert len(xero.documents(T1)) == 1


def test_duplicate_delivery_is_harmless_only_with_a_key(xero: XeroSandbox) -> None:
    http = client(xero)
    contact = {"ContactID": new_contact(http, "Acme Ltd")}
    xero.inject(Fault("duplicate", method="PUT"))
    unkeyed = put_invoices(http, [invoice(contact, "N-1")])
    stored = xero.documents(T1)
    assert [d["InvoiceNumber"] for d in stored] == ["N-1", "N-1"]
    assert body(unkeyed)["Invoices"][0]["InvoiceID"] == stored[1]["InvoiceID"]  # the second delivery's answer

    xero.inject(Fault("duplicate", method="PUT"))
    keyed = put_invoices(http, [invoice(contact, "N-2")], key="k")
    assert keyed.status_code == 200
    assert [d["InvoiceNumber"] for d in xero.documents(T1)] == ["N-1", "N-1", "N-2"]
    assert [f.kind for f, _method, _path in xero.fired_faults] == ["duplicate", "duplicate"]


def test_clear_faults(xero: XeroSandbox) -> None:
    xero.inject(Fault("status", status=500), Fault("drop_before"))
    xero.clear_faults()
    assert xero.pending_faults() == []
    assert client(xero).get("Invoices").status_code == 200
