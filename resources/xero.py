"""The accounting connector: Xero Accounting API (Contacts, Invoices), one tenant per entity."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import dagster as dg
import httpx
from pydantic import Field

from resources.http_retry import call_with_retries, raise_for_status

MAX_INVOICES_PER_CALL = 50  # the provider's documented batch limit
_DECIMAL_MARK = "\u0000D:"
_DECIMAL_RE = re.compile(r'"\\u0000D:(-?[0-9.]+)"')


def dumps_exact(document: Any) -> str:
    """JSON with every Decimal written as a JSON number of the same digits (never via float)."""

    def mark(value: object) -> str:
        if isinstance(value, Decimal):
            return f"{_DECIMAL_MARK}{value}"
        raise TypeError(f"cannot serialize {type(value).__name__}")

    return _DECIMAL_RE.sub(r"\1", json.dumps(document, default=mark, separators=(",", ":")))


def loads_exact(content: bytes | str) -> Any:
    """Parse JSON keeping every number with a fraction as a Decimal."""
    return json.loads(content, parse_float=Decimal)


def quote_where(value: str) -> str:
    """A string literal for Xero's `where` filter."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class XeroClient(dg.ConfigurableResource):
    """Xero Accounting API client; the tenant is chosen per call (one per legal entity)."""

    base_url: str = Field(description="e.g. https://api.xero.com/api.xro/2.0")
    access_token: str = Field(description="OAuth 2.0 access token")
    timeout_s: float = 30.0
    max_attempts: int = Field(default=6, description="attempts for reads and idempotent writes")

    def _client(self, tenant_id: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url.rstrip("/") + "/",
            timeout=self.timeout_s,
            headers={
                "Authorization": f"Bearer {self.access_token}",
                "Xero-tenant-id": tenant_id,
                "Accept": "application/json",
                "User-Agent": "billbridge",
            },
        )

    def _get(self, tenant_id: str, path: str, params: dict[str, str]) -> Any:
        with self._client(tenant_id) as client:
            response = call_with_retries(
                lambda: client.get(path, params=params),
                service="Xero",
                url=self.base_url,
                attempts=self.max_attempts,
            )
        return loads_exact(response.content)

    def find_contact_id(self, tenant_id: str, name: str) -> str | None:
        """The ContactID of the contact with exactly this name, if any."""
        body = self._get(tenant_id, "Contacts", {"where": f"Name=={quote_where(name)}"})
        contacts = body.get("Contacts") or []
        return str(contacts[0]["ContactID"]) if contacts else None

    def create_contact(self, tenant_id: str, name: str, idempotency_key: str) -> str:
        """Create a contact and return its ContactID (idempotent under `idempotency_key`)."""
        with self._client(tenant_id) as client:
            response = call_with_retries(
                lambda: client.put(
                    "Contacts",
                    content=dumps_exact({"Contacts": [{"Name": name}]}),
                    headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
                ),
                service="Xero",
                url=self.base_url,
                attempts=self.max_attempts,
            )
        return str(loads_exact(response.content)["Contacts"][0]["ContactID"])

    def find_invoices(self, tenant_id: str, numbers: list[str]) -> dict[str, dict[str, Any]]:
        """Invoices already in the tenant with these numbers, by number (looked up in batches)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(numbers), MAX_INVOICES_PER_CALL):
            chunk = numbers[start : start + MAX_INVOICES_PER_CALL]
            page = 1
            while True:
                params = {"InvoiceNumbers": ",".join(chunk), "page": str(page)}
                body = self._get(tenant_id, "Invoices", params)
                invoices = body.get("Invoices") or []
                for invoice in invoices:
                    if invoice.get("Status") not in ("DELETED", "VOIDED"):
                        found.setdefault(str(invoice.get("InvoiceNumber")), invoice)
                if len(invoices) < 100:
                    break
                page += 1
        return found

    def send_invoices(
        self, tenant_id: str, invoices: list[dict[str, Any]], idempotency_key: str
    ) -> httpx.Response:
        """PUT one batch (at most 50) with summarizeErrors=false; one attempt, the caller owns retries.

        A single attempt because the outcome of a failed write is unknown: the caller must
        look the documents up before trying again, or risk posting them twice.
        """
        if len(invoices) > MAX_INVOICES_PER_CALL:
            raise ValueError(f"at most {MAX_INVOICES_PER_CALL} invoices per call, got {len(invoices)}")
        with self._client(tenant_id) as client:
            response = client.put(
                "Invoices",
                params={"summarizeErrors": "false", "unitdp": "4"},
                content=dumps_exact({"Invoices": invoices}),
                headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            )
        return raise_for_status(response)
