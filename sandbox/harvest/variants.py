"""Other payload versions and faults for the PM sandbox's list pages (tests attach them; the demo never does).

A variant sees each list request before the sandbox answers it (to translate a cursor into a page
number) and each page body before it is sent (to rewrite the envelope, corrupt a record, or answer
with bytes that are not JSON at all). Faults target one page of one list and may wear off after a
number of answers, as a flaky proxy does.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from resources.http_server import Request, Response

if TYPE_CHECKING:
    from sandbox.harvest.server import HarvestSandbox

Body = dict[str, Any]


class ListVariant:
    """A no-op variant: subclasses override `request` and/or `answer`."""

    def request(self, kind: str, request: Request) -> Request:
        """The request as the sandbox should read it."""
        return request

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body | Response:
        """The page body to send (or a whole Response, which ends the chain)."""
        return body


def _page_of(request: Request) -> int:
    text = request.param("page") or "1"
    return int(text) if text.isdigit() else 1


def _encode_cursor(page: int) -> str:
    return base64.urlsafe_b64encode(f"page:{page}".encode()).decode().rstrip("=")


def _with_cursor(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    page = next(int(v) for k, v in query if k == "page")
    kept = [(k, v) for k, v in query if k != "page"] + [("cursor", _encode_cursor(page))]
    return urlunsplit(parts._replace(query=urlencode(kept)))


@dataclass
class SmallPages(ListVariant):
    """Pages of at most `per_page` records whatever the client asks for (the demo's lists then span pages)."""

    per_page: int = 100

    def request(self, kind: str, request: Request) -> Request:
        asked = request.param("per_page")
        size = min(int(asked), self.per_page) if asked and asked.isdigit() else self.per_page
        return replace(request, query={**request.query, "per_page": [str(size)]})


class CursorPagination(ListVariant):
    """Cursor pagination: `links.next` carries an opaque cursor; no page numbers or counts are sent."""

    def request(self, kind: str, request: Request) -> Request:
        cursor = request.param("cursor")
        if cursor is None:
            return request
        page = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")[1]
        query = {k: v for k, v in request.query.items() if k not in ("cursor", "page")}
        return replace(request, query={**query, "page": [page]})

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body:
        links = body["links"]
        return {
            kind: body[kind],
            "per_page": body["per_page"],
            "links": {
                "first": _with_cursor(links["first"]),
                "next": _with_cursor(links["next"]),
                "previous": _with_cursor(links["previous"]),
            },
        }


@dataclass
class RenamedFields(ListVariant):
    """Records carry older field names (Harvest v1's `spent_at` for v2's `spent_date`)."""

    renames: dict[str, str] = field(default_factory=lambda: {"spent_date": "spent_at"})
    kinds: tuple[str, ...] = ("time_entries", "expenses")

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body:
        if kind not in self.kinds:
            return body
        records = [{self.renames.get(k, k): v for k, v in r.items()} for r in body[kind]]
        return {**body, kind: records}


@dataclass
class PageFault(ListVariant):
    """Change one page of one list: `change(body)` returns the new body or a whole Response.

    `times` answers are faulty (None: every one), so a transient fault can be told from a lasting one.
    """

    kind: str
    change: Callable[[Body], Body | Response]
    page: int = 1
    times: int | None = None
    served: int = 0

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body | Response:
        if kind != self.kind or _page_of(request) != self.page:
            return body
        if self.times is not None and self.served >= self.times:
            return body
        self.served += 1
        return self.change(copy.deepcopy(body))


@dataclass
class InsertAfterPage(ListVariant):
    """After serving `page` of a list, a record is added that sorts first, shifting every later
    record one place: the last record of `page` is served again at the top of the next page."""

    kind: str
    record: dict[str, Any]
    page: int = 1
    inserted: bool = False

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body:
        if kind == self.kind and _page_of(request) == self.page and not self.inserted:
            self.inserted = True
            sandbox.add_record(kind, dict(self.record))
        return body


DELETE = object()  # RecordFault value: remove the field


@dataclass
class RecordFault(ListVariant):
    """One record of a list, wherever it is served, with a field set to `value` (DELETE removes it),
    replaced whole by `value` (path ""), or with the field written as a raw JSON `literal` (NaN, 1e15)."""

    kind: str
    record_id: int
    path: str
    value: Any = None
    literal: str | None = None

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body | Response:
        records = body.get(kind) if kind == self.kind else None
        index = next((i for i, r in enumerate(records or []) if r.get("id") == self.record_id), None)
        if records is None or index is None:
            return body
        body = copy.deepcopy(body)
        if not self.path:
            body[kind][index] = self.value
            return body
        target = body[kind][index]
        *parents, leaf = self.path.split(".")
        for part in parents:
            target = target[part]
        if self.literal is not None:
            target[leaf] = "__literal__"
            text = json.dumps(body, separators=(",", ":")).replace('"__literal__"', self.literal)
            return Response(200, text.encode(), {"Content-Type": "application/json"})
        if self.value is DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = self.value
        return body


@dataclass
class EveryRecord(ListVariant):
    """Every record of a list with one top-level field changed by `change` (a source changing a type)."""

    kind: str
    path: str
    change: Callable[[Any], Any]

    def answer(self, sandbox: HarvestSandbox, kind: str, request: Request, body: Body) -> Body:
        if kind != self.kind:
            return body
        records = [{**r, self.path: self.change(r.get(self.path))} for r in body[kind]]
        return {**body, kind: records}


# -- page faults, for PageFault(change=...) -------------------------------------------------------------


def set_envelope(path: str, value: Any) -> Callable[[Body], Body]:
    """Set an envelope field (dotted path, e.g. `links.next`)."""

    def change(body: Body) -> Body:
        target = body
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = value
        return body

    return change


def next_link_to_self(body: Body) -> Body:
    """`links.next` pointing back at the page itself."""
    first = body["links"]["first"]
    body["links"]["next"] = first.replace("page=1", f"page={body['page']}")
    return body


def raw_answer(content: bytes, content_type: str = "application/json") -> Callable[[Body], Response]:
    """Answer 200 with exactly these bytes instead of the page."""
    return lambda body: Response(200, content, {"Content-Type": content_type})


def truncated(body: Body) -> Response:
    """The page's JSON cut off halfway, as a proxy that dropped the connection might deliver it."""
    text = json.dumps(body, separators=(",", ":")).encode()
    return Response(200, text[: len(text) // 2], {"Content-Type": "application/json"})
