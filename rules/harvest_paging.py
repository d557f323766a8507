"""Harvest list pages read by source version (pure).

Two pagination versions are read side by side: page numbers (`page`, `total_pages`, `links.next`,
the vendored contract) and cursors (`links.next` carrying an opaque `cursor`, no page counts), the
move Harvest made for large lists. A body matching neither is refused with the difference from the
closest (docs/decisions/0021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE_NUMBERS = "page-number"
CURSOR = "cursor"
HARVEST_CONTRACT = "harvest-v2 (contracts/harvest-openapi.yaml, jolicode 41687d4)"


class EnvelopeError(ValueError):
    """A page body that is not a list envelope of any known version: names the field and the value."""

    def __init__(self, field: str, value: str, expectation: str):
        self.field, self.value = field, value
        super().__init__(f"{field} = {value}: expected {expectation}")


@dataclass(frozen=True)
class Envelope:
    """One page read through its version's translator."""

    records: list[Any]
    next_url: str | None
    pagination: str
    page: int | None = None
    total_pages: int | None = None


def _text(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 80 else text[:79] + "…"


def _count(body: dict[str, Any], name: str, low: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise EnvelopeError(name, _text(value), f"an integer of at least {low}")
    return value


def _next_link(body: dict[str, Any]) -> str | None:
    links = body.get("links")
    if not isinstance(links, dict):
        raise EnvelopeError("links", _text(links), "an object with `next`")
    link = links.get("next")
    if link is not None and not (isinstance(link, str) and link):
        raise EnvelopeError("links.next", _text(link), "a URL or null")
    return link


# The keys each version's envelope must carry (besides the list itself).
VERSION_KEYS = {PAGE_NUMBERS: ("page", "total_pages", "links"), CURSOR: ("links",)}


def read_envelope(resource: str, body: Any) -> Envelope:
    """Read a decoded page body through the translator of its pagination version."""
    if not isinstance(body, dict):
        raise EnvelopeError("body", _text(body), "a JSON object")
    if resource not in body:
        raise EnvelopeError(resource, "absent", f"the `{resource}` list; {_closest(body)}")
    records = body[resource]
    if not isinstance(records, list):
        raise EnvelopeError(resource, _text(records), "a list of records")
    if "page" in body or "total_pages" in body:
        page, total = _count(body, "page", 1), _count(body, "total_pages", 0)
        return Envelope(records, _next_link(body), PAGE_NUMBERS, page, total)
    if "links" in body:
        return Envelope(records, _next_link(body), CURSOR)
    raise EnvelopeError("links", "absent", f"a known pagination; {_closest(body)}")


def _closest(body: dict[str, Any]) -> str:
    """The known version whose keys the body lacks least, and what it lacks."""
    missing = {v: [k for k in keys if k not in body] for v, keys in VERSION_KEYS.items()}
    version = min(missing, key=lambda v: len(missing[v]))
    return f"closest version {version} lacks {', '.join(missing[version]) or 'nothing'}"
