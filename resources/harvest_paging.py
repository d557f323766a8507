"""The guard that stops paging a Harvest list we cannot trust to hold every record.

It refuses a `links.next` that repeats (a page pointing at itself or back at an earlier one),
pages past the configured cap, a list that ends before the pages it announced, and more unreadable
pages in a row than a flaky proxy explains (docs/decisions/0021).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rules.harvest_paging import PAGE_NUMBERS, Envelope


class PagingError(RuntimeError):
    """Paging cannot be trusted to have seen every record: the extraction stops, nothing is written."""


def _canonical(url: str) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """A URL as a comparable key: query order ignored, and `page=1` the same as no page at all."""
    parts = urlsplit(url)
    query = tuple(sorted(kv for kv in parse_qsl(parts.query) if kv != ("page", "1")))
    return parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), query


def page_after(url: str) -> str | None:
    """The URL of the next page by number (page-number pagination only), or None under a cursor."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    if any(key == "cursor" for key, _ in query):
        return None
    page = next((int(v) for k, v in query if k == "page" and v.isdigit()), 1)
    kept = [(k, v) for k, v in query if k != "page"] + [("page", str(page + 1))]
    return urlunsplit(parts._replace(query=urlencode(kept)))


@dataclass
class PagingGuard:
    """Follows one list's pages and stops it, with an error, as soon as they disagree."""

    resource: str
    max_pages: int
    max_unreadable_in_a_row: int = 3
    followed: dict[tuple[Any, ...], int] = field(default_factory=dict)
    announced_pages: int | None = None
    unreadable_in_a_row: int = 0

    def admit(self, url: str) -> None:
        """Call before fetching `url`: refuses a repeated URL and a page past the cap."""
        key = _canonical(url)
        if key in self.followed:
            raise PagingError(
                f"Harvest {self.resource}: links.next repeats {url} (already followed as request "
                f"{self.followed[key]}); paging stopped after {len(self.followed)} page(s), nothing written"
            )
        if len(self.followed) >= self.max_pages:
            raise PagingError(
                f"Harvest {self.resource}: more than {self.max_pages} pages (the configured max_pages); "
                "paging stopped, nothing written"
            )
        self.followed[key] = len(self.followed) + 1

    def next_after(self, url: str, envelope: Envelope) -> str | None:
        """The URL to follow after a page that was read; refuses a list ending before its announced pages."""
        self.unreadable_in_a_row = 0
        if envelope.pagination == PAGE_NUMBERS:
            self.announced_pages = envelope.total_pages
            page, total = envelope.page or 1, envelope.total_pages or 0
            if envelope.next_url is None and page < total:
                raise PagingError(
                    f"Harvest {self.resource}: page {page} of {url} announces {total} pages but links.next is "
                    f"null; paging stopped after {len(self.followed)} of {total} pages, nothing written"
                )
        return envelope.next_url

    def next_after_unreadable(self, url: str) -> str | None:
        """The URL to follow after a page that could not be read (quarantined): the next page by number
        while pages may remain; a cursor cannot be recovered, so that stops paging."""
        self.unreadable_in_a_row += 1
        if self.unreadable_in_a_row > self.max_unreadable_in_a_row:
            raise PagingError(
                f"Harvest {self.resource}: {self.unreadable_in_a_row} unreadable pages in a row, the last {url}; "
                "paging stopped, nothing written"
            )
        following = page_after(url)
        if following is None:
            raise PagingError(
                f"Harvest {self.resource}: the page at {url} could not be read and its cursor is lost; "
                "paging stopped, nothing written"
            )
        page = int(dict(parse_qsl(urlsplit(url).query)).get("page", "1"))
        if self.announced_pages is not None and page >= self.announced_pages:
            return None
        return following
