"""What the contract tests share: the tenant, a client with our connector's headers, a write, an invoice,
and the check that every recorded exchange honours the contract."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx

from resources.http_server import Exchange
from sandbox.openapi_contract import Contract, validate_exchange
from sandbox.xero import XeroSandbox, dumps_exact

T1 = "3f0c7a52-5e7a-4a8e-9d0e-000000000001"
XERO_TOKEN = "demo-xero-token"


def assert_all_valid(contract: Contract, exchanges: list[Exchange]) -> float:
    """Validate every exchange; fail with all the violations at once. Returns the seconds spent."""
    started = time.perf_counter()
    failures = []
    for exchange in exchanges:
        try:
            validate_exchange(contract, exchange)
        except AssertionError as exc:
            failures.append(str(exc))
    elapsed = time.perf_counter() - started
    assert not failures, "\n".join(failures)
    return elapsed


def xero_client(sandbox: XeroSandbox, tenant: str = T1, token: str = XERO_TOKEN) -> httpx.Client:
    """A client sending the headers our connector sends."""
    # The headers our connector (resources/xero.py) sends.
    return httpx.Client(
        base_url=sandbox.url + "/",
        headers={
            "Authorization": f"Bearer {token}",
            "Xero-tenant-id": tenant,
            "Accept": "application/json",
            "User-Agent": "billbridge",
        },
        timeout=5,
    )


def write(
    http: httpx.Client, method: str, path: str, payload: Any, key: str | None = None, **params: str
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return http.request(method, path, content=dumps_exact(payload), params=params, headers=headers)


def invoice(contact_id: str, number: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": number,
        "Reference": "billbridge uk 2026-08",
        "Date": "2026-08-31",
        "DueDate": "2026-09-30",
        "CurrencyCode": "EUR",
        "CurrencyRate": Decimal("1.1685"),
        "Status": "DRAFT",
        "LineAmountTypes": "Exclusive",
        "LineItems": [
            {
                "Description": "Website redesign / Design",
                "Quantity": Decimal("12.5"),
                "UnitAmount": Decimal("137.5"),
                "LineAmount": Decimal("1718.75"),
                "AccountCode": "200",
                "TaxType": "OUTPUT2",
                "TaxAmount": Decimal("343.75"),
            }
        ],
    }
    document.update(overrides)
    return document
