"""The PM connector: Harvest API v2, read-only, paging through every list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx
from pydantic import Field

from resources.http_retry import call_with_retries
from resources.rate_limit import SlidingWindowLimiter, shared_limiter

# The version of the vendored contract the connector follows; stored with every raw record.
HARVEST_CONTRACT = "harvest-v2 (contracts/harvest-openapi.yaml, jolicode 41687d4)"
MAX_PER_PAGE = 2000


@dataclass(frozen=True)
class Page:
    """One page of a Harvest list: its records and the URL that fetched it (the request cursor)."""

    records: list[dict[str, Any]]
    url: str
    page: int
    total_pages: int


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
            headers={
                "Authorization": f"Bearer {self.access_token}",
                "Harvest-Account-Id": self.account_id,
                "User-Agent": self.user_agent,
                "Accept": "application/json",
            },
        )

    def iter_pages(self, resource: str, params: dict[str, str] | None = None) -> Iterator[Page]:
        """Yield each page of `resource` (e.g. "time_entries"), following `links.next` to the end.

        Pages are yielded as they arrive so a caller can write them out without holding the whole list.
        """
        query = {"per_page": str(self.per_page), **(params or {})}
        limiter = self._limiter()

        def get(client: httpx.Client, url: str, params: dict[str, str] | None) -> httpx.Response:
            limiter.acquire()
            try:
                return client.get(url, params=params)
            finally:
                limiter.record()

        with self._client() as client:
            url: str | None = resource
            request_params: dict[str, str] | None = query
            while url:
                response = call_with_retries(
                    lambda u=url, p=request_params: get(client, u, p),  # type: ignore[misc]
                    service="Harvest",
                    url=self.base_url,
                    attempts=self.max_attempts,
                )
                body = json.loads(response.content)
                yield Page(
                    records=body.get(resource) or [],
                    url=str(response.request.url),
                    page=int(body.get("page") or 1),
                    total_pages=int(body.get("total_pages") or 1),
                )
                # links.next already carries every query parameter, including the cursor.
                url = (body.get("links") or {}).get("next")
                if url and not _under_base(url, self.base_url):
                    raise UntrustedNextLinkError(
                        f"Harvest {resource}: links.next {url!r} is not under the configured base URL "
                        f"{self.base_url}; not followed (the request would carry the access token there)"
                    )
                request_params = None
