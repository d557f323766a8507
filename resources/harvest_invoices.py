"""Harvest's invoice and invoice-payment endpoints, for the write-back (docs/decisions/0031).

Reads (look-ups by number) page like every Harvest list and retry as reads do. A create is sent
once: Harvest takes no idempotency key, so a create whose answer is lost (timeout, dropped
connection, 5xx) raises `OutcomeUnknown` and is settled by the next look-up, never re-sent here.
A 429 was not processed, so it alone is waited out and sent again.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx

from resources.harvest import HarvestClient, UntrustedNextLinkError
from resources.harvest_paging import PagingError
from resources.http_retry import (
    TRANSPORT_ERRORS,
    PermanentHTTPError,
    ServiceUnreachableError,
    TransientHTTPError,
    parse_retry_after,
)
from resources.xero import dumps_exact

RATE_LIMIT_WAITS = 5
# What a look-up may fail with once its own retries are spent.
LOOKUP_ERRORS = (
    httpx.HTTPError,
    TransientHTTPError,
    PermanentHTTPError,
    ServiceUnreachableError,
    PagingError,
    UntrustedNextLinkError,
)


class Refused(RuntimeError):
    """Harvest answered the create with a 4xx: it did not happen."""


class OutcomeUnknown(RuntimeError):
    """The create may or may not have happened: only a look-up can tell."""


class LookupFailed(RuntimeError):
    """A look-up could not read every page: absence is not proven, so nothing may be created."""


def amount_of(record: dict[str, Any], field: str = "amount") -> Decimal:
    """A Harvest amount (a JSON float on the wire) as the Decimal of its shortest text."""
    return Decimal(str(record.get(field) or 0))


class HarvestInvoices:
    """Look up and create invoices and invoice payments through a configured `HarvestClient`."""

    def __init__(self, client: HarvestClient):
        self.client = client
        self.requests = 0

    def find_invoice(self, client_id: int, number: str) -> dict[str, Any] | None:
        """The client's Harvest invoice numbered `number` (the list has no number filter: the client's
        invoices are read and matched here), or None."""
        for record in self._records("invoices", {"client_id": str(client_id)}, "invoices"):
            if record.get("number") == number:
                return record
        return None

    def payments(self, invoice_id: str) -> list[dict[str, Any]]:
        """Every payment recorded on a Harvest invoice."""
        return list(self._records(f"invoices/{invoice_id}/payments", {}, "invoice_payments"))

    def create_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /invoices once; the created invoice. Raises Refused or OutcomeUnknown."""
        return self._create("invoices", body)

    def create_payment(self, invoice_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /invoices/{id}/payments once; the created payment. Raises Refused or OutcomeUnknown."""
        return self._create(f"invoices/{invoice_id}/payments", body)

    def _records(self, path: str, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        try:
            for page in self.client.iter_pages(path, params, records_key=key):
                self.requests += 1
                if page.problem is not None:  # a look-up that cannot read a page cannot prove absence
                    raise LookupFailed(page.problem.detail)
                records.extend(r for r in page.records if isinstance(r, dict))
        except LOOKUP_ERRORS as exc:
            raise LookupFailed(f"GET {path}: {exc}") from exc
        return records

    def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        content = dumps_exact(body).encode()
        for _ in range(RATE_LIMIT_WAITS):
            self.requests += 1
            try:
                response = self.client.send("POST", path, content)
            except TRANSPORT_ERRORS as exc:
                raise OutcomeUnknown(f"POST {path}: {type(exc).__name__}: {exc or 'no answer'}") from exc
            if response.status_code == 429:
                time.sleep(parse_retry_after(response.headers.get("Retry-After")) or 1.0)
                continue
            return _created(path, response)
        raise OutcomeUnknown(f"POST {path}: still rate limited after {RATE_LIMIT_WAITS} waits (not sent)")


def _created(path: str, response: httpx.Response) -> dict[str, Any]:
    text = response.text[:300]
    if response.status_code >= 500:
        raise OutcomeUnknown(f"POST {path} answered {response.status_code}: {text}")
    if response.status_code >= 400:
        raise Refused(f"POST {path} refused with {response.status_code}: {text}")
    try:
        created = json.loads(response.content)
    except ValueError as exc:
        raise OutcomeUnknown(
            f"POST {path} answered {response.status_code} with a body that is not JSON"
        ) from exc
    if not isinstance(created, dict) or "id" not in created:
        raise OutcomeUnknown(f"POST {path} answered {response.status_code} without an id: {text}")
    return created
