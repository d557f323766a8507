"""`HarvestSandbox`: a local Harvest API v2 stand-in serving a `Company` over real HTTP.

What it honours from the vendored contract (`contracts/harvest-openapi.yaml`) and Harvest's docs:

* Bearer token plus `Harvest-Account-Id` on every request (401 otherwise) and a `User-Agent`
  (400 without one, as Harvest rejects such requests).
* The list envelope (`{<resource>: [...], per_page, total_pages, total_entries, next_page,
  previous_page, page, links}`) with absolute `links` that carry every other query parameter, so
  a client can follow `links.next` alone. `per_page` is 1..2000, default 2000.
* The list filters of each resource (`query.py`) and Harvest's order: time entries and expenses
  newest spent_date first (then id, descending, so pages are stable); every other list most
  recently created first (`index.py`).
* Invoices and their payments (`invoices.py`): the only writes, as the contract describes them,
  with faults a test queues through `inject` (sandbox/xero/faults.py).
* The provider's rate limit: at most `rate_limit` requests per sliding `rate_window_s` per token,
  429 with `Retry-After` beyond it.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from resources.http_server import Exchange, JsonHTTPServer, Request, Response
from sandbox.company import Company, Record
from sandbox.harvest.index import RecordIndex
from sandbox.harvest.invoices import InvoiceBook
from sandbox.harvest.query import DATED_KINDS, FILTERS, InvalidParameter, ListQuery, parse_timestamp, stamp
from sandbox.harvest.variants import ListVariant
from sandbox.webhooks import WebhookSender
from sandbox.xero.faults import Fault

INVALID_TOKEN: dict[str, str] = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
}


class HarvestSandbox:
    """The company behind a Harvest-v2-shaped HTTP API on 127.0.0.1 (port 0: an ephemeral one).

    `url` is the base URL including `/v2`, as a client's `base_url`. Mutation hooks change the
    company in place (for incremental-sync tests); `rate_limited_count` counts 429 answers and
    `admitted_count` the requests that passed the limit.
    `list_requests` the list requests answered, per list (what an extraction cost the account).
    """

    def __init__(
        self,
        company: Company,
        token: str = "demo-harvest-token",
        account_id: str = "100001",
        rate_limit: int | None = 100,
        rate_window_s: float = 15.0,
        port: int = 0,
        record: bool = False,
        webhooks: WebhookSender | None = None,
        variants: tuple[ListVariant, ...] = (),
    ) -> None:
        if rate_limit is not None and rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1 or None, got {rate_limit}")
        self.company = company
        self.token = token
        self.account_id = account_id
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.rate_limited_count = 0
        self.admitted_count = 0  # requests that passed the rate limit (all of them without one)
        self.list_requests: Counter[str] = Counter()
        self._server = JsonHTTPServer(self._route, port=port, record=record)
        self._index = RecordIndex(company)
        self._limit_lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._clock: datetime | None = None
        # Change notifications on every mutation below (None: no webhooks, as Harvest itself).
        self.webhooks = webhooks
        # Another payload version or a fault, applied to every list page (sandbox/harvest/variants.py).
        self.variants = variants
        # The invoice and invoice-payment endpoints, the only ones a client may write (invoices.py).
        self.invoices = InvoiceBook(self)

    def inject(self, *faults: Fault) -> None:
        """Queue faults for the write endpoints (status, drop_before, drop_after_commit, slow)."""
        self.invoices.faults.add(faults)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the API, e.g. http://127.0.0.1:PORT/v2."""
        return f"{self._server.url}/v2"

    @property
    def port(self) -> int:
        """The TCP port the sandbox listens on."""
        return self._server.port

    @property
    def exchanges(self) -> list[Exchange]:
        """The recorded exchanges (empty unless constructed with record=True)."""
        return self._server.exchanges

    def start(self) -> HarvestSandbox:
        """Index the company and start serving in a background thread; return self."""
        self._warm()
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._warm()
        self._server.serve_forever()

    def __enter__(self) -> HarvestSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _warm(self) -> None:
        self._index.warm()

    # -- mutation hooks (Python only; over HTTP only invoices are written) -------------------------

    def update_record(
        self, kind: str, record_id: int, *, updated_at: str | None = None, **fields: Any
    ) -> Record:
        """Change fields of a record in place and bump its `updated_at` (to `updated_at` or the next second).

        Returns the record. Raises KeyError when there is no such record.
        """
        with self._index.lock:
            record = self._index.snapshot_locked(kind).by_id().get(record_id)
            if record is None:
                raise KeyError(f"no {kind} record {record_id}")
            if "spent_date" in fields:
                date.fromisoformat(fields["spent_date"])  # the day index needs a real date
            previous = {key: record.get(key) for key in fields}
            record.update(fields)
            record["updated_at"] = self._advance_clock(updated_at)
            self._index.changed(kind)
        self._notify(kind, "updated", record, previous)
        return record

    def add_record(self, kind: str, record: Record) -> Record:
        """Append a record (its `id` must be new); `updated_at`/`created_at` default to the next second."""
        with self._index.lock:
            snapshot = self._index.snapshot_locked(kind)
            if "id" not in record or record["id"] in snapshot.by_id():
                raise ValueError(f"{kind} record needs a new id, got {record.get('id')!r}")
            if kind in DATED_KINDS:
                date.fromisoformat(record["spent_date"])
            updated_at = self._advance_clock(record.get("updated_at"))
            record["updated_at"] = updated_at
            record.setdefault("created_at", updated_at)
            self.company.records(kind).append(record)
            self._index.changed(kind)
        self._notify(kind, "created", record, {})
        return record

    def delete_record(self, kind: str, record_id: int) -> Record:
        """Remove a record from the company (as a hard delete in Harvest: it simply stops being listed)."""
        with self._index.lock:
            record = self._index.snapshot_locked(kind).by_id().get(record_id)
            if record is None:
                raise KeyError(f"no {kind} record {record_id}")
            records = self.company.records(kind)
            records[:] = [r for r in records if r is not record]
            self._index.changed(kind)
        self._notify(kind, "deleted", record, {})
        return record

    def record(self, kind: str, record_id: Any) -> Record | None:
        """The current record of `kind` with this id, or None."""
        return self._index.snapshot(kind).by_id().get(record_id)

    def records(self, kind: str) -> list[Record]:
        """The current records of `kind`, in served order."""
        return self._index.snapshot(kind).records

    def _notify(self, kind: str, action: str, record: Record, previous: dict[str, Any]) -> None:
        if self.webhooks is not None:
            self.webhooks.notify(kind, action, dict(record), previous)

    def update_time_entry(self, entry_id: int, *, updated_at: str | None = None, **fields: Any) -> Record:
        """Change a time entry in place and bump its updated_at (given, or one second past the latest)."""
        return self.update_record("time_entries", entry_id, updated_at=updated_at, **fields)

    def add_time_entry(self, entry: Record) -> Record:
        """Add a time entry (a Harvest-shaped dict with a new id and a spent_date)."""
        return self.add_record("time_entries", entry)

    def delete_time_entry(self, entry_id: int) -> Record:
        """Delete a time entry; it no longer appears in any list."""
        return self.delete_record("time_entries", entry_id)

    def _advance_clock(self, explicit: str | None) -> str:
        """The sandbox's notion of "now" for edits: strictly after every timestamp it has served."""
        if self._clock is None:
            latest = max(
                (
                    str(r.get("updated_at") or "")
                    for kind in Company.KINDS
                    for r in self.company.records(kind)
                ),
                default="",
            )
            base = parse_timestamp(latest) if latest else datetime(2000, 1, 1, tzinfo=UTC)
            self._clock = base
        if explicit is not None:
            moment = parse_timestamp(explicit)
            self._clock = max(self._clock, moment)
            return stamp(moment)
        self._clock += timedelta(seconds=1)
        return stamp(self._clock)

    # -- HTTP --------------------------------------------------------------------------------------

    def _admit(self, token: str) -> float | None:
        """None if the request may proceed, else seconds until the token's oldest request leaves the window."""
        if self.rate_limit is None:
            with self._limit_lock:
                self.admitted_count += 1
            return None
        now = time.monotonic()
        with self._limit_lock:
            hits = self._hits.setdefault(token, deque())
            while hits and hits[0] <= now - self.rate_window_s:
                hits.popleft()
            if len(hits) >= self.rate_limit:
                self.rate_limited_count += 1
                return hits[0] + self.rate_window_s - now
            # Only admitted requests count, so a client that backs off as told gets through.
            hits.append(now)
            self.admitted_count += 1
            return None

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != "v2":
            return _not_found()
        if not (request.header("User-Agent") or "").strip():
            return _json(
                400,
                {
                    "error": "bad_request",
                    "error_description": "Missing User-Agent header: Harvest requires one identifying the "
                    "application and a contact, e.g. 'MyApp (me@example.com)'.",
                },
            )
        authorization = request.header("Authorization") or ""
        token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else ""
        if token != self.token or request.header("Harvest-Account-Id") != self.account_id:
            return _json(401, INVALID_TOKEN)
        wait = self._admit(token)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            return _json(
                429,
                {
                    "error": "rate_limit_exceeded",
                    "error_description": f"Rate limit of {self.rate_limit} requests per "
                    f"{self.rate_window_s:g} seconds exceeded; retry in {seconds} seconds.",
                },
                {"Retry-After": str(seconds)},
            )
        if len(parts) >= 2 and parts[1] == "invoices":
            return self.invoices.route(request, parts[2:])
        if request.method != "GET":
            return _json(
                405, {"error": "method_not_allowed", "error_description": "Only invoices can be written."}
            )
        if len(parts) == 2 and parts[1] in FILTERS:
            return self._list(parts[1], request)
        if len(parts) == 3 and parts[1] in FILTERS:
            return self._one(parts[1], parts[2])
        return _not_found()

    def _one(self, kind: str, text: str) -> Response:
        try:
            record_id = int(text)
        except ValueError:
            return _not_found()
        record = self._index.snapshot(kind).by_id().get(record_id)
        return _json(200, record) if record is not None else _not_found()

    def _list(self, kind: str, request: Request) -> Response:
        with self._limit_lock:
            self.list_requests[kind] += 1
        for variant in self.variants:
            request = variant.request(kind, request)
        try:
            query = ListQuery.parse(kind, request)
        except InvalidParameter as exc:
            return _json(422, {"message": str(exc)})
        records, lo, hi = self._index.matching(kind, query)
        return self.page_answer(kind, request, records, (lo, hi), (query.page, query.per_page))

    def page_answer(
        self,
        kind: str,
        request: Request,
        records: list[Record],
        window: tuple[int, int],
        paging: tuple[int, int],
    ) -> Response:
        """One page of `records[lo:hi]` in the list envelope, passed through the variants (faults)."""
        (lo, hi), (page, per_page) = window, paging
        total = hi - lo
        total_pages = math.ceil(total / per_page)
        start = lo + (page - 1) * per_page
        page_records = records[start : min(hi, start + per_page)] if start < hi else []
        next_page = page + 1 if page < total_pages else None
        previous_page = page - 1 if page > 1 else None
        base = self._page_link_base(request)
        body = {
            kind: page_records,
            "per_page": per_page,
            "total_pages": total_pages,
            "total_entries": total,
            "next_page": next_page,
            "previous_page": previous_page,
            "page": page,
            "links": {
                "first": base(1, per_page),
                "next": base(next_page, per_page) if next_page else None,
                "previous": base(previous_page, per_page) if previous_page else None,
                "last": base(max(1, total_pages), per_page),
            },
        }
        for variant in self.variants:
            answer = variant.answer(self, kind, request, body)
            if isinstance(answer, Response):
                return answer
            body = answer
        return _json(200, body)

    def _page_link_base(self, request: Request) -> Callable[[int, int], str]:
        """A function building this list's absolute URL for another page, keeping every other parameter."""
        # The Host the client used, so links work however the sandbox was reached.
        origin = f"http://{request.header('Host')}" if request.header("Host") else self._server.url
        kept = [
            (key, value)
            for key, values in request.query.items()
            if key.lower() not in ("page", "per_page")
            for value in values
        ]

        def link(page: int, per_page: int) -> str:
            return f"{origin}{request.path}?{urlencode([*kept, ('page', page), ('per_page', per_page)])}"

        return link


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    # Compact separators like the real API: smaller pages and a faster encoder.
    return Response(status, json.dumps(body, separators=(",", ":")).encode("utf-8"), headers or {})


def _not_found() -> Response:
    return _json(
        404, {"error": "not_found", "error_description": "The requested resource could not be found."}
    )
