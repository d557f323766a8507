"""The PM connector: Harvest API v2, read-only, paging through every list.

Each page is read through the translator of its pagination version (rules/harvest_paging.py) under
a guard that stops paging, with an error, when pages repeat, run past the cap or end before the
pages announced. A body that cannot be read (truncated JSON, an HTML page answered 200, an envelope
breaking the contract) is fetched again; if it stays unreadable it is handed on as a page with a
problem, for the raw layer to quarantine, and paging continues by page number.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx
from pydantic import Field

from resources.harvest_paging import PagingGuard
from resources.http_retry import call_with_retries
from resources.rate_limit import SlidingWindowLimiter, shared_limiter
from rules import page_json
from rules.harvest_paging import HARVEST_CONTRACT, Envelope, EnvelopeError, read_envelope

__all__ = ["HARVEST_CONTRACT", "MAX_PER_PAGE", "HarvestClient", "Page", "PageProblem"]
MAX_PER_PAGE = 2000
BODY_EXCERPT = 2000


@dataclass(frozen=True)
class PageProblem:
    """Why a page could not be read: the field and value at fault, and the start of the body."""

    reason: str  # unreadable_body or invalid_envelope
    field: str
    value: str
    detail: str
    body: str


@dataclass(frozen=True)
class Page:
    """One page of a Harvest list: its records (as decoded, not yet judged), the URL that fetched it
    (the request cursor) and its pagination version; or, with `problem`, a page that could not be read."""

    records: list[Any]
    url: str
    pagination: str
    problem: PageProblem | None = None


def _decode(resource: str, response: httpx.Response) -> tuple[Page, Envelope | None]:
    """The page and its envelope, or a page with the problem that stops it being read."""
    url = str(response.request.url)
    body = response.content.decode("utf-8", errors="replace")[:BODY_EXCERPT]
    try:
        decoded = page_json.loads(response.content)  # NaN and Infinity decode; the screen rejects them
    except (ValueError, UnicodeDecodeError) as exc:
        kind = response.headers.get("Content-Type", "no content type")
        detail = (
            f"Harvest {resource} page {url}: body is not JSON ({kind}, {len(response.content)} bytes): {exc}"
        )
        return Page([], url, "", PageProblem("unreadable_body", "body", body[:120], detail, body)), None
    try:
        envelope = read_envelope(resource, decoded)
    except EnvelopeError as exc:
        detail = f"Harvest {resource} page {url}: {exc}"
        return Page([], url, "", PageProblem("invalid_envelope", exc.field, exc.value, detail, body)), None
    return Page(envelope.records, url, envelope.pagination), envelope


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs ~60 ms, once per list otherwise."""
    return ssl.create_default_context()


class UntrustedNextLinkError(RuntimeError):
    """A `links.next` URL pointing outside the configured base URL: never followed, since the
    request would carry the bearer token to whatever host the link names."""


def _under_base(url: str, base_url: str) -> bool:
    """Whether `url` has the base URL's scheme, host and port and lies under its path."""
    link, base = urlsplit(url), urlsplit(base_url.rstrip("/") + "/")
    same_origin = (link.scheme, link.netloc.lower()) == (base.scheme, base.netloc.lower())
    # Dot segments could climb out of the base path once the client normalises the URL.
    climbs = ".." in link.path.split("/")
    return same_origin and not climbs and (link.path + "/").startswith(base.path)


class HarvestClient(dg.ConfigurableResource):
    """Harvest API v2 client. Secrets come from the environment (HARVEST_* variables)."""

    base_url: str = Field(description="e.g. https://api.harvestapp.com/v2")
    account_id: str = Field(description="Harvest-Account-Id header")
    access_token: str = Field(description="personal access token or OAuth token")
    user_agent: str = Field(default="billbridge (https://github.com/billbridge/billbridge)")
    per_page: int = Field(default=MAX_PER_PAGE, ge=1, le=MAX_PER_PAGE)
    timeout_s: float = 30.0
    max_attempts: int = Field(default=8, description="attempts per request on 429/5xx/timeouts")
    max_pages: int = Field(
        default=10_000, ge=1, description="pages one list may have; more stops the extraction with an error"
    )
    unreadable_attempts: int = Field(
        default=3, ge=1, description="fetches of a page whose body cannot be read before it is quarantined"
    )
    unreadable_wait_s: float = Field(
        default=0.2, ge=0, description="first wait before fetching such a page again"
    )
    rate_limit_requests: int = Field(
        default=100, ge=1, description="provider limit: requests per window per token"
    )
    rate_limit_window_s: float = Field(default=15.0, gt=0)

    def _limiter(self) -> SlidingWindowLimiter:
        token_id = hashlib.sha256(self.access_token.encode()).hexdigest()[:16]
        return shared_limiter(f"harvest:{token_id}", self.rate_limit_requests, self.rate_limit_window_s)

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url.rstrip("/") + "/",
            timeout=self.timeout_s,
            verify=_tls(),
            headers={
                "Authorization": f"Bearer {self.access_token}",
                "Harvest-Account-Id": self.account_id,
                "User-Agent": self.user_agent,
                "Accept": "application/json",
            },
        )

    def send(self, method: str, path: str, body: bytes) -> httpx.Response:
        """One write request (JSON `body`) under the rate limit, never retried here: a write has no
        idempotency key, so only its caller knows whether trying again is safe (transport errors raise)."""
        limiter = self._limiter()
        with self._client() as client:
            limiter.acquire()
            try:
                return client.request(
                    method, path, content=body, headers={"Content-Type": "application/json"}
                )
            finally:
                limiter.record()

    def iter_pages(
        self, resource: str, params: dict[str, str] | None = None, *, records_key: str | None = None
    ) -> Iterator[Page]:
        """Yield each page of `resource` (e.g. "time_entries"), following `links.next` to the end.

        Pages are yielded as they arrive so a caller can write them out without holding the whole
        list. Raises PagingError when the pages cannot be trusted to hold every record. `records_key`:
        the envelope's list when it is not named like the path (`invoice_payments` of
        `invoices/{id}/payments`).
        """
        key = records_key or resource
        query = {"per_page": str(self.per_page), **(params or {})}
        limiter = self._limiter()
        guard = PagingGuard(resource, self.max_pages)

        def get(client: httpx.Client, url: str) -> httpx.Response:
            limiter.acquire()
            try:
                return client.get(url)
            finally:
                limiter.record()

        with self._client() as client:
            url: str | None = str(client.build_request("GET", resource, params=query).url)
            while url:
                guard.admit(url)
                page, envelope = self._read(key, lambda u=url: get(client, u))  # type: ignore[misc]
                yield page
                # links.next already carries every query parameter, including the cursor.
                url = guard.next_after(url, envelope) if envelope else guard.next_after_unreadable(url)
                if url and not _under_base(url, self.base_url):
                    raise UntrustedNextLinkError(
                        f"Harvest {resource}: links.next {url!r} is not under the configured base URL "
                        f"{self.base_url}; not followed (the request would carry the access token there)"
                    )

    def _read(self, resource: str, send: Callable[[], httpx.Response]) -> tuple[Page, Envelope | None]:
        """Fetch a page, again while its body cannot be read (proxies truncate, login pages answer 200)."""
        for attempt in range(1, self.unreadable_attempts + 1):
            response = call_with_retries(
                send, service="Harvest", url=self.base_url, attempts=self.max_attempts
            )
            page, envelope = _decode(resource, response)
            if envelope is not None or attempt == self.unreadable_attempts:
                return page, envelope
            time.sleep(self.unreadable_wait_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")
