"""The accounting connector: Xero Accounting API (Contacts, Invoices, CreditNotes, ManualJournals,
Organisation), one tenant per entity.

Every call passes the tenant's circuit breaker and throttle (calls per minute, in flight,
per day) first, so the provider's limits are kept on our side rather than discovered as 429s.
A caller that keeps a request log passes a `recorder`: every HTTP exchange of that call (each
attempt of a retried one) is handed to it, answered or not.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import dagster as dg
import httpx
from pydantic import Field

from resources.circuit_breaker import CircuitBreaker, tenant_breaker
from resources.http_retry import TRANSPORT_ERRORS, call_with_retries, raise_for_status
from resources.oauth import bearer_auth
from resources.rate_limit import DailyLimitReached, TenantThrottle, tenant_throttle
from resources.xero_exchanges import ExchangeRecorder, recorded_exchange
from rules.outbox.ledger import parse_ms_date

MAX_INVOICES_PER_CALL = 50  # the provider's documented batch limit
MAX_CONTACTS_PER_CALL = 50  # contacts created in one PUT, as many as invoices
LOOKUP_PAGE_SIZE = 1000  # the provider's largest pageSize
NAMES_LOOKED_UP_ONE_BY_ONE = 2  # up to this many names, a `where` call each beats reading the contact list
# Collections whose writes take no `unitdp` (the contract declares none: a payment has no unit amount).
NO_UNITDP_WRITES = frozenset({"Payments"})


def write_params(collection: str) -> dict[str, str]:
    """The query of a batch write to `collection`: errors per element, and unit amounts to 4 places."""
    params = {"summarizeErrors": "false"}
    if collection not in NO_UNITDP_WRITES:
        params["unitdp"] = "4"
    return params


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


@dataclass
class CreatedContacts:
    """A batch create's answer, name by name: the ContactIDs created, and the refusals with their messages."""

    created: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def quote_where(value: str) -> str:
    """A string literal for Xero's `where` filter."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verified TLS context per process (building one reads the CA bundle, ~25 ms a client)."""
    return ssl.create_default_context()


class XeroClient(dg.ConfigurableResource):
    """Xero Accounting API client; the tenant is chosen per call (one per legal entity)."""

    base_url: str = Field(description="e.g. https://api.xero.com/api.xro/2.0")
    access_token: str = Field(
        default="",
        description="a fixed access token; empty: XERO_CONNECTION, else XERO_ACCESS_TOKEN, at call time",
    )
    connection: str = Field(
        default="",
        description="token-store connection (`billbridge auth xero`): its tokens, refreshed by themselves",
    )
    timeout_s: float = 30.0
    max_attempts: int = Field(default=6, description="attempts for reads and idempotent writes")
    calls_per_minute: int = Field(default=60, ge=1, description="per tenant; Xero allows 60")
    max_in_flight: int = Field(default=5, ge=1, description="concurrent calls per tenant; Xero allows 5")
    calls_per_day: int = Field(default=5000, ge=1, description="per tenant; Xero allows 5,000")
    compress_requests: bool = Field(
        default=False,
        description="gzip request bodies (only where the server accepts Content-Encoding: gzip)",
    )
    breaker_failures: int = Field(
        default=5, ge=1, description="consecutive failures that open a tenant's circuit"
    )
    breaker_reset_s: float = Field(
        default=30.0, gt=0, description="seconds an open circuit waits before one probe"
    )

    def throttle(self, tenant_id: str) -> TenantThrottle:
        """The process-wide throttle of this tenant."""
        # Keyed by API base and tenant: the provider counts per tenant (and one test's sandbox is not another's).
        return tenant_throttle(
            f"{self.base_url}#{tenant_id}", self.calls_per_minute, self.max_in_flight, self.calls_per_day
        )

    def breaker(self, tenant_id: str) -> CircuitBreaker:
        """The process-wide circuit breaker of this tenant."""
        return tenant_breaker(f"{self.base_url}#{tenant_id}", self.breaker_failures, self.breaker_reset_s)

    def _metered(
        self, tenant_id: str, send: Callable[[], httpx.Response], recorder: ExchangeRecorder | None = None
    ) -> httpx.Response:
        """One call through the tenant's breaker and throttle; the answer is returned unclassified."""
        breaker, throttle = self.breaker(tenant_id), self.throttle(tenant_id)
        breaker.before_call()
        throttle.before_call()
        response: httpx.Response | None = None
        started = datetime.now(UTC)
        try:
            response = send()
        except TRANSPORT_ERRORS as exc:
            breaker.record_failure()
            if recorder is not None:
                recorder(recorded_exchange(exc.request, None, exc, started))
            raise
        finally:
            throttle.after_call(response.headers if response is not None else None)
        if recorder is not None:
            recorder(recorded_exchange(response.request, response, None, started))
        if response.status_code >= 500:
            breaker.record_failure()
        else:  # 2xx, 4xx and 429 all come from a service that is up
            breaker.record_success()
        if (
            response.status_code == 429
            and (response.headers.get("X-Rate-Limit-Problem") or "").lower() == "day"
        ):
            raise DailyLimitReached(
                f"Xero tenant {tenant_id}: daily call limit reached (retry after "
                f"{response.headers.get('Retry-After', '?')}s); posting stops for today"
            )
        return response

    def _body(self, document: Any) -> tuple[bytes, dict[str, str]]:
        content = dumps_exact(document).encode()
        headers = {"Content-Type": "application/json"}
        if self.compress_requests:
            content = gzip.compress(content, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        return content, headers

    def _client(self, tenant_id: str) -> httpx.Client:
        return httpx.Client(
            verify=_tls_context(),
            base_url=self.base_url.rstrip("/") + "/",
            timeout=self.timeout_s,
            auth=bearer_auth(self.access_token, self.connection),
            headers={
                "Xero-tenant-id": tenant_id,
                "Accept": "application/json",
                "User-Agent": "billbridge",
            },
        )

    def _get(
        self, tenant_id: str, path: str, params: dict[str, str], recorder: ExchangeRecorder | None = None
    ) -> Any:
        with self._client(tenant_id) as client:
            response = call_with_retries(
                lambda: self._metered(tenant_id, lambda: client.get(path, params=params), recorder),
                service="Xero",
                url=self.base_url,
                attempts=self.max_attempts,
            )
        return loads_exact(response.content)

    def _put(
        self,
        tenant_id: str,
        path: str,
        document: Any,
        idempotency_key: str,
        *,
        params: dict[str, str] | None = None,
        recorder: ExchangeRecorder | None = None,
    ) -> Any:
        """PUT a write retried under its idempotency key (contacts, allocations); the answer's JSON."""
        content, headers = self._body(document)
        with self._client(tenant_id) as client:
            response = call_with_retries(
                lambda: self._metered(
                    tenant_id,
                    lambda: client.put(
                        path,
                        params=params,
                        content=content,
                        headers={**headers, "Idempotency-Key": idempotency_key},
                    ),
                    recorder,
                ),
                service="Xero",
                url=self.base_url,
                attempts=self.max_attempts,
            )
        return loads_exact(response.content)

    def find_contact_id(
        self, tenant_id: str, name: str, *, recorder: ExchangeRecorder | None = None
    ) -> str | None:
        """The ContactID of the contact with exactly this name, if any."""
        body = self._get(tenant_id, "Contacts", {"where": f"Name=={quote_where(name)}"}, recorder)
        contacts = body.get("Contacts") or []
        return str(contacts[0]["ContactID"]) if contacts else None

    def find_contact_ids(
        self, tenant_id: str, names: list[str], *, recorder: ExchangeRecorder | None = None
    ) -> dict[str, str]:
        """The ContactIDs of the contacts with these names (compared ignoring case, as Xero does), by name.

        A few names: one `where=Name=="..."` call each. More: the contact list a page of 1,000 at a
        time (`page`, `pageSize`), stopping once every name is found, and one by one for the rest as
        soon as that takes fewer calls than the pages still unread (`pagination.pageCount`).
        """
        missing = {name.lower(): name for name in names}
        found: dict[str, str] = {}
        page, pages = 1, None
        while len(missing) > NAMES_LOOKED_UP_ONE_BY_ONE and (pages is None or pages - page < len(missing)):
            params = {"page": str(page), "pageSize": str(LOOKUP_PAGE_SIZE)}
            body = self._get(tenant_id, "Contacts", params, recorder)
            contacts = body.get("Contacts") or []
            for contact in contacts:
                name = missing.pop(str(contact.get("Name") or "").lower(), None)
                if name is not None:
                    found[name] = str(contact["ContactID"])
            if len(contacts) < LOOKUP_PAGE_SIZE:
                return found
            page_count = (body.get("pagination") or {}).get("pageCount")
            pages = int(page_count) if isinstance(page_count, int) else None
            page += 1
        for name in missing.values():
            contact_id = self.find_contact_id(tenant_id, name, recorder=recorder)
            if contact_id is not None:
                found[name] = contact_id
        return found

    def create_contacts(
        self,
        tenant_id: str,
        names: list[str],
        idempotency_key: str,
        *,
        recorder: ExchangeRecorder | None = None,
    ) -> CreatedContacts:
        """Create contacts in one call (at most 50, summarizeErrors=false), retried under `idempotency_key`.

        Each name is answered on its own: created with its ContactID, or refused with the provider's
        messages (a name already in use among active contacts is refused, never created twice).
        """
        if len(names) > MAX_CONTACTS_PER_CALL:
            raise ValueError(f"at most {MAX_CONTACTS_PER_CALL} contacts per call, got {len(names)}")
        body = self._put(tenant_id, "Contacts", {"Contacts": [{"Name": name} for name in names]},
                         idempotency_key, params={"summarizeErrors": "false"}, recorder=recorder)  # fmt: skip
        answer = CreatedContacts()
        for name, element in zip(names, body.get("Contacts") or [], strict=False):
            errors = [str(e.get("Message", e)) for e in element.get("ValidationErrors") or []]
            if errors or not element.get("ContactID"):
                answer.refused[name] = "; ".join(errors) or "no ContactID in the answer"
            else:
                answer.created[name] = str(element["ContactID"])
        for name in names[len(body.get("Contacts") or []) :]:
            answer.refused[name] = "not answered"
        return answer

    def create_contact(
        self, tenant_id: str, name: str, idempotency_key: str, *, recorder: ExchangeRecorder | None = None
    ) -> str:
        """Create a contact and return its ContactID (idempotent under `idempotency_key`)."""
        body = self._put(
            tenant_id, "Contacts", {"Contacts": [{"Name": name}]}, idempotency_key, recorder=recorder
        )
        return str(body["Contacts"][0]["ContactID"])

    def send_documents(
        self, tenant_id: str, collection: str, documents: list[dict[str, Any]], idempotency_key: str
    ) -> httpx.Response:
        """PUT one batch (at most 50) of Invoices, CreditNotes or ManualJournals with summarizeErrors=false.

        One attempt, the caller owns retries: the outcome of a failed write is unknown, so the
        caller must look the documents up before trying again, or risk posting them twice.
        """
        if len(documents) > MAX_INVOICES_PER_CALL:
            raise ValueError(f"at most {MAX_INVOICES_PER_CALL} documents per call, got {len(documents)}")
        content, headers = self._body({collection: documents})
        with self._client(tenant_id) as client:
            response = self._metered(
                tenant_id,
                lambda: client.put(
                    collection,
                    params=write_params(collection),
                    content=content,
                    headers={**headers, "Idempotency-Key": idempotency_key},
                ),
            )
        return raise_for_status(response)

    def find_by_prefix(
        self,
        tenant_id: str,
        collection: str,
        number_field: str,
        prefix: str,
        *,
        recorder: ExchangeRecorder | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Documents of a collection whose `number_field` starts with `prefix`, by that field's value.

        One entity-period's family in a call or two (a thousand per page), rather than one call
        per batch. Deleted and voided documents do not count as booked.
        """
        found: dict[str, dict[str, Any]] = {}
        page = 1
        while True:
            params = {
                "where": f"{number_field}.StartsWith({quote_where(prefix)})",
                "page": str(page),
                "pageSize": str(LOOKUP_PAGE_SIZE),
            }
            if collection not in ("ManualJournals", "Payments"):  # no unit amounts there (nor the parameter)
                params["unitdp"] = "4"  # unit amounts as booked, not rounded to 2 dp for display
            documents = self._get(tenant_id, collection, params, recorder).get(collection) or []
            for document in documents:
                if document.get("Status") not in ("DELETED", "VOIDED"):
                    found.setdefault(str(document.get(number_field)), document)
            if len(documents) < LOOKUP_PAGE_SIZE:
                return found
            page += 1

    def allocate_credit_note(
        self,
        tenant_id: str,
        credit_note_id: str,
        allocation: dict[str, Any],
        idempotency_key: str,
        *,
        recorder: ExchangeRecorder | None = None,
    ) -> dict[str, Any]:
        """Allocate a credit note to an invoice (`{"Invoice": {"InvoiceID": ..}, "Amount": .., "Date": ..}`).

        Retried safely under the idempotency key; returns the stored allocation.
        """
        body = self._put(
            tenant_id, f"CreditNotes/{credit_note_id}/Allocations", {"Allocations": [allocation]},
            idempotency_key, recorder=recorder,
        )  # fmt: skip
        return dict(body["Allocations"][0])

    def lock_date(self, tenant_id: str, *, recorder: ExchangeRecorder | None = None) -> date | None:
        """The later of the organisation's PeriodLockDate and EndOfYearLockDate, if either is set."""
        organisations = self._get(tenant_id, "Organisation", {}, recorder).get("Organisations") or [{}]
        dates = [
            parse_ms_date(organisations[0][name])
            for name in ("PeriodLockDate", "EndOfYearLockDate")
            if organisations[0].get(name)
        ]
        return max(dates) if dates else None
