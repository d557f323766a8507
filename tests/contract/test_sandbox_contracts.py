"""Both sandboxes' recorded exchanges, validated against the vendored OpenAPI contracts.

The sandboxes stand in for the providers in every other test, so a sandbox that drifts from
the contract would let the connectors drift with it. Each test drives a sandbox over real HTTP
with the requests our connectors make, then validates every recorded request and response.
The second half checks that the validator itself catches what it must.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from resources.http_server import Exchange
from sandbox.openapi_contract import Contract, load_contract, validate_exchange
from sandbox.xero import Fault, XeroSandbox, dumps_exact
from tests.contract.exchanges import T1, assert_all_valid, invoice, write, xero_client

HARVEST_TOKEN = "demo-harvest-token"
HARVEST_ACCOUNT = "100001"


# -- the Xero sandbox against the Xero contract ---------------------------------------------------


@pytest.fixture
def xero_exchanges() -> Iterator[list[Exchange]]:
    """A representative session against the Xero sandbox: every endpoint, success and error answers."""
    with XeroSandbox([T1], record=True, minute_limit=None, day_limit=None, concurrent_limit=None) as xero:
        http = xero_client(xero)
        assert http.get("Contacts", params={"where": 'Name=="Acme Ltd"'}).json()["Contacts"] == []
        created = write(http, "PUT", "Contacts", {"Contacts": [{"Name": "Acme Ltd"}]}, key="contact-acme")
        contact_id = created.json()["Contacts"][0]["ContactID"]
        write(http, "PUT", "Contacts", {"Contacts": [{"Name": "Acme Ltd"}]})  # 400 duplicate name
        mixed = {"Contacts": [{"Name": "Globex", "EmailAddress": "ap@globex.test"}, {"Name": "acme ltd"}]}
        assert write(http, "POST", "Contacts", mixed, summarizeErrors="false").status_code == 200
        http.get(f"Contacts/{contact_id}")
        http.get("Contacts", params={"IDs": contact_id, "page": "1"})

        batch = {"Invoices": [invoice(contact_id, f"BB-UK-202608-{n}") for n in (1, 2)]}
        assert write(
            http, "PUT", "Invoices", batch, key="batch-1", summarizeErrors="false", unitdp="4"
        ).is_success
        write(http, "PUT", "Invoices", batch, key="batch-1", summarizeErrors="false", unitdp="4")  # replay
        write(http, "PUT", "Invoices", batch, key="batch-1")  # same key, other request: 400
        with_bad = {
            "Invoices": [invoice(contact_id, "BB-UK-202608-3"), invoice(contact_id, "X", LineItems=[])]
        }
        assert write(http, "PUT", "Invoices", with_bad).status_code == 400
        assert write(http, "PUT", "Invoices", with_bad, summarizeErrors="false").status_code == 200
        by_name = {"Invoices": [invoice(contact_id, "BB-UK-202608-4", Contact={"Name": "Initech"})]}
        assert write(http, "POST", "Invoices", by_name).status_code == 200

        listed = http.get("Invoices", params={"InvoiceNumbers": "BB-UK-202608-1,BB-UK-202608-2", "page": "1"})
        invoice_id = listed.json()["Invoices"][0]["InvoiceID"]
        http.get("Invoices", params={"where": 'InvoiceNumber=="BB-UK-202608-1"'})
        http.get("Invoices", params={"where": f'Type=="ACCREC" AND Contact.ContactID==guid("{contact_id}")'})
        http.get("Invoices", params={"Statuses": "DRAFT,AUTHORISED", "IDs": invoice_id, "page": "2"})
        http.get(f"Invoices/{invoice_id}", params={"unitdp": "4"})
        http.get("Invoices/00000000-0000-4000-8000-000000000000")  # 404
        http.get("Invoices", params={"where": 'Total>"1"'})  # 400 QueryParseException
        xero_client(xero, token="expired").get("Invoices")  # 401
        xero_client(xero, tenant="00000000-0000-0000-0000-00000000dead").get("Invoices")  # 403
        # Corrections and journals: an approved invoice, its credit note allocated to it, a journal.
        approved = {"Invoices": [invoice(contact_id, "BB-UK-202608-5", Status="AUTHORISED")]}
        booked = write(http, "PUT", "Invoices", approved, summarizeErrors="false", unitdp="4").json()
        credit = invoice(contact_id, "", Status="AUTHORISED", Type="ACCRECCREDIT")
        del credit["InvoiceNumber"], credit["DueDate"]
        credit["CreditNoteNumber"] = "BB-UK-202608-5-CN1"
        credited = write(http, "PUT", "CreditNotes", {"CreditNotes": [credit]}, summarizeErrors="false")
        credit_id = credited.json()["CreditNotes"][0]["CreditNoteID"]
        allocation = {
            "Invoice": {"InvoiceID": booked["Invoices"][0]["InvoiceID"]},
            "Amount": Decimal("100.00"),
            "Date": "2026-09-01",
        }
        assert write(
            http, "PUT", f"CreditNotes/{credit_id}/Allocations", {"Allocations": [allocation]}
        ).is_success
        http.get("CreditNotes", params={"where": 'CreditNoteNumber.StartsWith("BB-UK-202608-")', "page": "1"})
        journal = {
            "Narration": "BB-UK-202608-MJ-1: rent allocation",
            "Date": "2026-08-31",
            "Status": "POSTED",
            "JournalLines": [
                {"LineAmount": Decimal("250.00"), "AccountCode": "477", "Description": "Rent to projects"},
                {"LineAmount": Decimal("-250.00"), "AccountCode": "800", "Description": "Rent pool"},
            ],
        }
        assert write(
            http, "PUT", "ManualJournals", {"ManualJournals": [journal]}, summarizeErrors="false"
        ).is_success
        http.get("ManualJournals", params={"where": 'Narration.StartsWith("BB-UK-202608-")', "page": "1"})
        xero.set_lock_dates(T1, period_lock=date(2026, 7, 31))
        http.get("Organisation")
        xero.inject(Fault("status", status=503, retry_after=3))
        http.get("Invoices")
        exchanges = list(xero.exchanges)
    with XeroSandbox([T1], record=True, minute_limit=1) as limited:
        http = xero_client(limited)
        http.get("Contacts")
        assert http.get("Contacts").status_code == 429
        exchanges.extend(limited.exchanges)
    yield exchanges


def test_xero_sandbox_answers_match_the_contract(
    xero_contract: Contract, xero_exchanges: list[Exchange]
) -> None:
    statuses = sorted({x.status for x in xero_exchanges})
    assert statuses == [200, 400, 401, 403, 404, 429, 503]
    elapsed = assert_all_valid(xero_contract, xero_exchanges)
    # openapi-core on the 900 KB spec: a few ms per exchange (see sandbox/openapi_contract.py).
    assert elapsed < 0.1 * len(xero_exchanges), f"{elapsed:.2f} s for {len(xero_exchanges)} exchanges"


# -- the Harvest sandbox against the Harvest contract ----------------------------------------------


def test_harvest_sandbox_answers_match_the_contract(harvest_contract: Contract) -> None:
    # Written concurrently with this file: the half runs once sandbox/harvest/ and
    # sandbox/company.py exist.
    harvest_server = pytest.importorskip("sandbox.harvest")
    company_module = pytest.importorskip("sandbox.company")
    company = company_module.generate_company(seed=7)
    headers = {
        "Authorization": f"Bearer {HARVEST_TOKEN}",
        "Harvest-Account-Id": HARVEST_ACCOUNT,
        "User-Agent": "billbridge (ops@billbridge.test)",
    }
    sandbox = harvest_server.HarvestSandbox(
        company, token=HARVEST_TOKEN, account_id=HARVEST_ACCOUNT, rate_limit=None, record=True
    )
    with sandbox as harvest, httpx.Client(base_url=harvest.url + "/", headers=headers, timeout=10) as http:
        for kind in ("clients", "projects", "tasks", "users", "user_assignments", "task_assignments"):
            listed = http.get(kind, params={"per_page": "100"})
            assert listed.status_code == 200, listed.text
            first = listed.json()[kind][0]["id"]
            if kind in ("clients", "projects", "tasks", "users"):
                http.get(f"{kind}/{first}")
        period = {"from": "2026-08-01", "to": "2026-08-31", "per_page": "100"}
        for kind, page in (("time_entries", "2"), ("expenses", "1")):
            listed = http.get(kind, params={**period, "page": page})
            assert listed.status_code == 200, listed.text
            http.get(f"{kind}/{listed.json()[kind][0]['id']}")
        http.get("time_entries", params={"updated_since": "2026-08-15T00:00:00Z", "is_billed": "false"})
        http.get("time_entries/1")  # 404
        http.get("clients", headers={"Authorization": "Bearer wrong"})  # 401
        _write_back_session(harvest, http)
        exchanges = list(harvest.exchanges)
    limited_sandbox = harvest_server.HarvestSandbox(
        company, token=HARVEST_TOKEN, account_id=HARVEST_ACCOUNT, rate_limit=1, record=True
    )
    with limited_sandbox as limited, httpx.Client(base_url=limited.url + "/", headers=headers) as http:
        http.get("clients")
        assert http.get("clients").status_code == 429
        exchanges.extend(limited.exchanges)
    assert {x.status for x in exchanges} >= {200, 201, 401, 404, 422, 429}
    assert_all_valid(harvest_contract, exchanges)


def _write_back_session(harvest: Any, http: httpx.Client) -> None:
    """The write-back's requests: an invoice from tracked time, look-ups, a payment, and refusals."""
    august = {"from": "2026-08-01", "to": "2026-08-31"}
    body = {
        "client_id": 5101,
        "number": "BB-UK-202608-5101-GBP",
        "issue_date": "2026-08-31",
        "due_date": "2026-09-30",
        "payment_term": "custom",
        "currency": "GBP",
        "tax": 20.0,
        "line_items_import": {
            "project_ids": [6101],
            "time": {"summary_type": "task", **august},
            "expenses": {"summary_type": "category", **august},
        },
    }
    created = http.post("invoices", json=body)
    assert created.status_code == 201, created.text
    assert http.post("invoices", json=body).status_code == 422  # the number is taken
    free_form = {"client_id": 5101, "line_items": [{"kind": "Service", "unit_price": 10.5, "quantity": 2}]}
    assert http.post("invoices", json=free_form).status_code == 201
    invoice_id = created.json()["id"]
    http.get("invoices", params={"client_id": "5101", "per_page": "1", "page": "2"})
    http.get("invoices", params={"project_id": "6101", "state": "draft", **august})
    http.get("invoices", params={"updated_since": "2026-08-01T00:00:00Z"})
    http.get(f"invoices/{invoice_id}")
    http.get("invoices/1")  # 404
    payment = {"amount": 100.5, "paid_date": "2026-09-10", "notes": "BB-UK-202608-PAY-1: cash"}
    assert http.post(f"invoices/{invoice_id}/payments", json=payment).status_code == 201
    assert http.post(f"invoices/{invoice_id}/payments", json={"amount": 10**9}).status_code == 422
    http.get(f"invoices/{invoice_id}/payments", params={"per_page": "100"})
    billed = http.get("time_entries", params={"project_id": "6101", "is_billed": "true", **august})
    assert {(e["is_locked"], e["invoice"]["id"]) for e in billed.json()["time_entries"]} == {
        (True, invoice_id)
    }


# -- the validator catches contract breaks ---------------------------------------------------------


def _exchange(
    method: str = "PUT",
    path: str = "/api.xro/2.0/Invoices",
    query: dict[str, list[str]] | None = None,
    request_body: Any = None,
    status: int = 200,
    response_body: Any = None,
    request_headers: dict[str, str] | None = None,
    response_headers: dict[str, str] | None = None,
) -> Exchange:
    contact = "5b9f3a52-5e7a-4a8e-9d0e-00000000abcd"
    if request_body is None and method in ("PUT", "POST"):
        request_body = {"Invoices": [invoice(contact, "N-1")]}
    if response_body is None:
        response_body = {"Id": "x", "Status": "OK", "Invoices": [{"InvoiceID": contact, "Total": 10.5}]}
    headers = {
        "Authorization": "Bearer token",
        "Xero-tenant-id": T1,
        "Content-Type": "application/json",
    }
    return Exchange(
        method=method,
        path=path,
        query=query or {},
        request_headers={**headers, **(request_headers or {})},
        request_body=dumps_exact(request_body).encode() if request_body is not None else b"",
        status=status,
        response_headers={"Content-Type": "application/json; charset=utf-8", **(response_headers or {})},
        response_body=json.dumps(response_body).encode(),
    )


def test_a_valid_exchange_passes(xero_contract: Contract) -> None:
    validate_exchange(xero_contract, _exchange(query={"summarizeErrors": ["false"], "unitdp": ["4"]}))
    # The sandbox's path may lack the spec's base path; it is mapped onto the spec's server.
    validate_exchange(xero_contract, _exchange(path="/Invoices"))


@pytest.mark.parametrize(
    ("broken", "needle"),
    [
        (
            {"request_body": {"Invoices": [{"Type": "ACCRECX"}]}},
            "at $.Invoices[0].Type: 'ACCRECX' is not one of",
        ),
        (
            {"request_body": {"Invoices": [{"LineItems": [{"Quantity": "2"}]}]}},
            "at $.Invoices[0].LineItems[0].Quantity: '2' is not of type 'number'",
        ),
        ({"request_body": {"Invoices": [{"InvoiceNumber": "N" * 256}]}}, "is too long"),
        ({"request_headers": {"Xero-tenant-id": ""}}, ""),
        ({"request_headers": {"Authorization": "token-without-scheme"}}, "Authorization: Bearer <token>"),
        ({"query": {"summarizeerrors": ["false"]}}, "query parameter 'summarizeerrors' is not declared"),
        ({"query": {"unitdp": ["four"]}}, "unitdp"),
        ({"path": "/api.xro/2.0/Invoice"}, "no operation PUT /api.xro/2.0/Invoice"),
        ({"method": "DELETE"}, "no operation DELETE"),
        ({"response_body": {"Invoices": "none"}}, "at $.Invoices: 'none' is not of type 'array'"),
        (
            {"response_body": {"Invoices": [{"Total": "10.50"}]}},
            "at $.Invoices[0].Total: '10.50' is not of type 'number'",
        ),
        ({"response_body": {"Invoices": [{"Status": "SENT"}]}}, "'SENT' is not one of"),
        ({"status": 418}, "status 418 is not declared for PUT /Invoices"),
        (
            {"status": 400, "response_body": {"ErrorNumber": "ten"}},
            "at $.ErrorNumber: 'ten' is not of type 'integer'",
        ),
        ({"status": 429, "response_body": {}}, "a 429 must carry Retry-After"),
        (
            {"status": 429, "response_body": {}, "response_headers": {"Retry-After": "3"}},
            "X-Rate-Limit-Problem",
        ),
    ],
)
def test_the_validator_catches(xero_contract: Contract, broken: dict[str, Any], needle: str) -> None:
    exchange = _exchange(**broken)
    if "request_headers" in broken and not broken["request_headers"].get("Xero-tenant-id", "x"):
        exchange = dataclasses.replace(
            exchange,
            request_headers={k: v for k, v in exchange.request_headers.items() if k != "Xero-tenant-id"},
        )
        needle = "xero-tenant-id"
    with pytest.raises(AssertionError) as caught:
        validate_exchange(xero_contract, exchange)
    assert needle in str(caught.value)
    assert str(caught.value).startswith(f"{exchange.method} ")


def test_every_violation_is_reported_at_once(xero_contract: Contract) -> None:
    exchange = _exchange(
        request_body={"Invoices": [{"Type": "X", "Status": "Y"}]},
        query={"summarizeerrors": ["false"]},
        response_body={"Invoices": [{"Total": "1"}]},
    )
    with pytest.raises(AssertionError) as caught:
        validate_exchange(xero_contract, exchange)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + 4, str(caught.value)


def test_contracts_load_once_and_fast(xero_contract: Contract, harvest_contract: Contract) -> None:
    assert load_contract("xero") is xero_contract  # cached: the 900 KB file is parsed once per process
    assert xero_contract.base_path == "/api.xro/2.0" and xero_contract.origin == "https://api.xero.com"
    assert harvest_contract.base_path == "/v2" and harvest_contract.origin == "https://api.harvestapp.com"
    assert xero_contract.load_seconds < 5 and harvest_contract.load_seconds < 5
    with pytest.raises(ValueError, match="unknown contract"):
        load_contract("quickbooks")  # type: ignore[arg-type]


def test_the_validator_checks_harvest_security_and_bodies(harvest_contract: Contract) -> None:
    good = Exchange(
        method="GET",
        path="/v2/clients",
        query={"per_page": ["100"]},
        request_headers={"Authorization": "Bearer t", "Harvest-Account-Id": "1", "User-Agent": "billbridge"},
        request_body=b"",
        status=200,
        response_headers={"Content-Type": "application/json"},
        response_body=json.dumps(
            {
                "clients": [],
                "per_page": 100,
                "total_pages": 0,
                "total_entries": 0,
                "next_page": None,
                "previous_page": None,
                "page": 1,
                "links": {
                    "first": "https://x/v2/clients?page=1",
                    "next": None,
                    "previous": None,
                    "last": "https://x/v2/clients?page=1",
                },
            }
        ).encode(),
    )
    validate_exchange(harvest_contract, good)
    no_account = dataclasses.replace(good, request_headers={"Authorization": "Bearer t", "User-Agent": "x"})
    with pytest.raises(AssertionError, match="Security"):
        validate_exchange(harvest_contract, no_account)
    broken = {**json.loads(good.response_body), "clients": "none"}
    bad_body = dataclasses.replace(good, response_body=json.dumps(broken).encode())
    with pytest.raises(AssertionError, match=r"at \$\.clients: 'none' is not of type 'array'"):
        validate_exchange(harvest_contract, bad_body)
