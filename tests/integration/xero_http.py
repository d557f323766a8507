"""Talking to the accounting sandbox over HTTP in integration tests: tenants, a client, exact bodies, an invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from sandbox.xero import XeroSandbox, dumps_exact, loads_exact

T1 = "3f0c7a52-5e7a-4a8e-9d0e-000000000001"
T2 = "3f0c7a52-5e7a-4a8e-9d0e-000000000002"
TOKEN = "demo-xero-token"
UNLIMITED: dict[str, Any] = {"minute_limit": None, "day_limit": None, "concurrent_limit": None}


class FakeClock:
    """A settable clock for the idempotency window (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def client(
    sandbox: XeroSandbox, tenant: str | None = T1, token: str | None = TOKEN, timeout: float = 5.0
) -> httpx.Client:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if tenant is not None:
        headers["Xero-tenant-id"] = tenant
    return httpx.Client(base_url=sandbox.url + "/", headers=headers, timeout=timeout)


def body(response: httpx.Response) -> Any:
    return loads_exact(response.content)


def new_contact(http: httpx.Client, name: str) -> str:
    response = http.put("Contacts", content=dumps_exact({"Contacts": [{"Name": name}]}))
    assert response.status_code == 200, response.text
    return str(body(response)["Contacts"][0]["ContactID"])


def invoice(contact: dict[str, str], number: str = "BB-UK-202608-1", **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Type": "ACCREC",
        "Contact": contact,
        "InvoiceNumber": number,
        "Reference": "Aug 2026",
        "Date": "2026-08-01",
        "DueDate": "2026-08-31",
        "CurrencyCode": "GBP",
        "Status": "DRAFT",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "Description": "Consulting",
                "Quantity": Decimal("2"),
                "UnitAmount": Decimal("150.00"),
                "AccountCode": "200",
                "TaxType": "OUTPUT2",
            }
        ],
    }
    document.update(overrides)
    return document


def put_invoices(
    http: httpx.Client, invoices: list[dict[str, Any]], key: str | None = None, **params: str
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return http.put("Invoices", content=dumps_exact({"Invoices": invoices}), params=params, headers=headers)
