"""A local Harvest API v2 stand-in serving a `Company` over real HTTP, read-only.

What it honours from the vendored contract (`contracts/harvest-openapi.yaml`) and Harvest's docs:

* Bearer token plus `Harvest-Account-Id` on every request (401 otherwise) and a `User-Agent`
  (400 without one, as Harvest rejects such requests).
* The list envelope (`{<resource>: [...], per_page, total_pages, total_entries, next_page,
  previous_page, page, links}`) with absolute `links` that carry every other query parameter, so
  a client can follow `links.next` alone. `per_page` is 1..2000, default 2000.
* The list filters of each resource (`from`/`to` on spent_date, `updated_since`, `client_id`,
  `project_id`, `user_id`, `task_id`, `is_active`, `is_billed`, `is_running`). Unknown
  parameters are ignored, as Harvest does; malformed values answer 422.
* Harvest's order: time entries and expenses newest spent_date first (then id, descending, so
  pages are stable); every other list most recently created first.
* The provider's rate limit: at most `rate_limit` requests per sliding `rate_window_s` per token,
  429 with `Retry-After` beyond it.

Lists are sorted once per change and dated lists are indexed by spent_date, so a page of a
date-filtered list costs O(page) even over a million entries. Any other filter is evaluated once
and the matching list cached until the data changes, so walking its pages is O(page) too.
"""

from __future__ import annotations

import json
import math
import threading
import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from resources.http_server import Exchange, JsonHTTPServer, Request, Response
from sandbox.company import Company, Record
from sandbox.webhooks import WebhookSender

MAX_PER_PAGE = 2000
DATED_KINDS = frozenset({"time_entries", "expenses"})
# The list filters each resource accepts (the contract's query parameters, less paging).
FILTERS: dict[str, frozenset[str]] = {
    "clients": frozenset({"is_active", "updated_since"}),
    "projects": frozenset({"is_active", "client_id", "updated_since"}),
    "tasks": frozenset({"is_active", "updated_since"}),
    "users": frozenset({"is_active", "updated_since"}),
    "user_assignments": frozenset({"user_id", "is_active", "updated_since"}),
    "task_assignments": frozenset({"is_active", "updated_since"}),
    "time_entries": frozenset(
        {
            "user_id",
            "client_id",
            "project_id",
            "task_id",
            "is_billed",
            "is_running",
            "updated_since",
            "from",
            "to",
        }
    ),
    "expenses": frozenset({"user_id", "client_id", "project_id", "is_billed", "updated_since", "from", "to"}),
}
# Filters on a nested object's id: parameter -> the record's field holding {"id": ...}.
NESTED_ID_FILTERS = {"client_id": "client", "project_id": "project", "user_id": "user", "task_id": "task"}
BOOLEAN_FILTERS = ("is_active", "is_billed", "is_running")
INVALID_TOKEN: dict[str, str] = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
}
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FILTER_CACHE_SIZE = 8


class InvalidParameter(ValueError):
    """A query parameter Harvest would answer 422 for."""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (naive values are taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidParameter(f"not an ISO 8601 date and time: {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidParameter(
            f"{name} must be a date in ISO 8601 format (YYYY-MM-DD), got {text!r}"
        ) from exc


def _parse_int(name: str, text: str, low: int | None = None, high: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise InvalidParameter(f"{name} must be an integer, got {text!r}") from exc
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidParameter(f"{name} must be {bounds}, got {value}")
    return value


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidParameter(f"{name} must be true or false, got {text!r}")
    return lowered == "true"


@dataclass(frozen=True)
class ListQuery:
    """A list request's paging and filters, validated."""

    page: int = 1
    per_page: int = MAX_PER_PAGE
    first_day: date | None = None  # `from`, inclusive
    last_day: date | None = None  # `to`, inclusive
    updated_since: str | None = None  # canonical UTC timestamp, compared with >=
    equals: tuple[tuple[str, Any], ...] = ()  # (parameter, value) for the id and boolean filters

    @classmethod
    def parse(cls, kind: str, request: Request) -> ListQuery:
        """Validate the query string of a list request for `kind`; raise InvalidParameter on bad input."""
        allowed = FILTERS[kind]
        page_text, per_page_text = request.param("page"), request.param("per_page")
        page = _parse_int("page", page_text, low=1) if page_text else 1
        per_page = _parse_int("per_page", per_page_text, 1, MAX_PER_PAGE) if per_page_text else MAX_PER_PAGE
        first_day = last_day = None
        if "from" in allowed and (text := request.param("from")):
            first_day = _parse_date("from", text)
        if "to" in allowed and (text := request.param("to")):
            last_day = _parse_date("to", text)
        since = None
        if "updated_since" in allowed and (text := request.param("updated_since")):
            moment = parse_timestamp(text)
            # Stored timestamps have whole seconds, so `updated_at >= since` is the same test as
            # `updated_at >= since rounded up to the second`, which compares as plain text.
            if moment.microsecond:
                moment = moment.replace(microsecond=0) + timedelta(seconds=1)
            since = _stamp(moment)
        equals: list[tuple[str, Any]] = []
        for name in sorted(allowed & (set(NESTED_ID_FILTERS) | set(BOOLEAN_FILTERS))):
            text = request.param(name)
            if text is None or text == "":
                continue
            value: Any = _parse_bool(name, text) if name in BOOLEAN_FILTERS else _parse_int(name, text)
            equals.append((name, value))
        return cls(page, per_page, first_day, last_day, since, tuple(equals))

    def predicate(self) -> Callable[[Record], bool] | None:
        """The test for the filters other than the date range, or None when there are none."""
        tests: list[Callable[[Record], bool]] = []
        since = self.updated_since
        if since is not None:
            tests.append(lambda r: str(r.get("updated_at") or "") >= since)
        for name, value in self.equals:
            tests.append(
                _nested_id_is(NESTED_ID_FILTERS[name], value)
                if name in NESTED_ID_FILTERS
                else _flag_is(name, value)
            )
        if not tests:
            return None
        if len(tests) == 1:
            return tests[0]
        return lambda r: all(test(r) for test in tests)


def _nested_id_is(field_name: str, value: int) -> Callable[[Record], bool]:
    def test(record: Record) -> bool:
        nested = record.get(field_name)
        return isinstance(nested, dict) and nested.get("id") == value

    return test


def _flag_is(field_name: str, value: bool) -> Callable[[Record], bool]:
    def test(record: Record) -> bool:
        return record.get(field_name) is value

    return test


@dataclass
class _Snapshot:
    """One resource's records in served order, with a day index for the dated ones."""

    version: int
    records: list[Record]
    # For dated kinds: minus the spent_date's ordinal, ascending (records are newest first).
    neg_days: list[int] | None = None
    _by_id: dict[int, Record] | None = field(default=None, repr=False)

    def by_id(self) -> dict[int, Record]:
        if self._by_id is None:
            self._by_id = {record["id"]: record for record in self.records}
        return self._by_id

    def window(self, first_day: date | None, last_day: date | None) -> tuple[int, int]:
        """The slice of `records` whose spent_date lies in [first_day, last_day]."""
        if self.neg_days is None:
            return 0, len(self.records)
        lo = bisect_left(self.neg_days, -last_day.toordinal()) if last_day else 0
        hi = bisect_right(self.neg_days, -first_day.toordinal()) if first_day else len(self.records)
        return lo, max(lo, hi)


def _day_ordinal(record: Record, cache: dict[str, int]) -> int:
    text = record["spent_date"]
    ordinal = cache.get(text)
    if ordinal is None:
        ordinal = cache[text] = date.fromisoformat(text).toordinal()
    return ordinal


class HarvestSandbox:
    """The company behind a Harvest-v2-shaped HTTP API on 127.0.0.1 (port 0: an ephemeral one).

    `url` is the base URL including `/v2`, as a client's `base_url`. Mutation hooks change the
    company in place (for incremental-sync tests); `rate_limited_count` counts 429 answers.
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
    ) -> None:
        if rate_limit is not None and rate_limit < 1:
            raise ValueError(f"rate_limit must be at least 1 or None, got {rate_limit}")
        self.company = company
        self.token = token
        self.account_id = account_id
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.rate_limited_count = 0
        self._server = JsonHTTPServer(self._route, port=port, record=record)
        self._lock = threading.Lock()
        self._versions: dict[str, int] = dict.fromkeys(Company.KINDS, 0)
        self._snapshots: dict[str, _Snapshot] = {}
        self._filtered: OrderedDict[tuple[Any, ...], list[Record]] = OrderedDict()
        self._hits: dict[str, deque[float]] = {}
        self._clock: datetime | None = None
        # Change notifications on every mutation below (None: no webhooks, as Harvest itself).
        self.webhooks = webhooks

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
        # Sort before the first request so its latency is not a million-row sort.
        for kind in Company.KINDS:
            self._snapshot(kind)

    # -- mutation hooks (Python only; the sandbox's HTTP API is read-only) -------------------------

    def update_record(
        self, kind: str, record_id: int, *, updated_at: str | None = None, **fields: Any
    ) -> Record:
        """Change fields of a record in place and bump its `updated_at` (to `updated_at` or the next second).

        Returns the record. Raises KeyError when there is no such record.
        """
        with self._lock:
            record = self._snapshot_locked(kind).by_id().get(record_id)
            if record is None:
                raise KeyError(f"no {kind} record {record_id}")
            if "spent_date" in fields:
                date.fromisoformat(fields["spent_date"])  # the day index needs a real date
            previous = {key: record.get(key) for key in fields}
            record.update(fields)
            record["updated_at"] = self._advance_clock(updated_at)
            self._versions[kind] += 1
        self._notify(kind, "updated", record, previous)
        return record

    def add_record(self, kind: str, record: Record) -> Record:
        """Append a record (its `id` must be new); `updated_at`/`created_at` default to the next second."""
        with self._lock:
            snapshot = self._snapshot_locked(kind)
            if "id" not in record or record["id"] in snapshot.by_id():
                raise ValueError(f"{kind} record needs a new id, got {record.get('id')!r}")
            if kind in DATED_KINDS:
                date.fromisoformat(record["spent_date"])
            stamp = self._advance_clock(record.get("updated_at"))
            record["updated_at"] = stamp
            record.setdefault("created_at", stamp)
            self.company.records(kind).append(record)
            self._versions[kind] += 1
        self._notify(kind, "created", record, {})
        return record

    def delete_record(self, kind: str, record_id: int) -> Record:
        """Remove a record from the company (as a hard delete in Harvest: it simply stops being listed)."""
        with self._lock:
            record = self._snapshot_locked(kind).by_id().get(record_id)
            if record is None:
                raise KeyError(f"no {kind} record {record_id}")
            records = self.company.records(kind)
            records[:] = [r for r in records if r is not record]
            self._versions[kind] += 1
        self._notify(kind, "deleted", record, {})
        return record

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
            return _stamp(moment)
        self._clock += timedelta(seconds=1)
        return _stamp(self._clock)

    # -- indexes -----------------------------------------------------------------------------------

    def _snapshot(self, kind: str) -> _Snapshot:
        with self._lock:
            return self._snapshot_locked(kind)

    def _snapshot_locked(self, kind: str) -> _Snapshot:
        version = self._versions[kind]
        snapshot = self._snapshots.get(kind)
        if snapshot is not None and snapshot.version == version:
            return snapshot
        records = list(self.company.records(kind))
        if kind in DATED_KINDS:
            cache: dict[str, int] = {}
            records.sort(key=lambda r: (_day_ordinal(r, cache), r["id"]), reverse=True)
            snapshot = _Snapshot(version, records, [-cache[r["spent_date"]] for r in records])
        else:
            records.sort(key=lambda r: (str(r.get("created_at") or ""), r["id"]), reverse=True)
            snapshot = _Snapshot(version, records)
        self._snapshots[kind] = snapshot
        return snapshot

    def _matching(self, kind: str, query: ListQuery) -> tuple[list[Record], int, int]:
        """(list, lo, hi): the records answering `query` are list[lo:hi], in served order."""
        snapshot = self._snapshot(kind)
        lo, hi = snapshot.window(query.first_day, query.last_day)
        predicate = query.predicate()
        if predicate is None:
            return snapshot.records, lo, hi
        key = (kind, snapshot.version, lo, hi, query.updated_since, query.equals)
        with self._lock:
            cached = self._filtered.get(key)
            if cached is not None:
                self._filtered.move_to_end(key)
                return cached, 0, len(cached)
        # Evaluated outside the lock: a concurrent duplicate evaluation is harmless.
        matched = [r for r in snapshot.records[lo:hi] if predicate(r)]
        with self._lock:
            self._filtered[key] = matched
            while len(self._filtered) > FILTER_CACHE_SIZE:
                self._filtered.popitem(last=False)
        return matched, 0, len(matched)

    # -- HTTP --------------------------------------------------------------------------------------

    def _admit(self, token: str) -> float | None:
        """None if the request may proceed, else seconds until the token's oldest request leaves the window."""
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(token, deque())
            while hits and hits[0] <= now - self.rate_window_s:
                hits.popleft()
            if len(hits) >= self.rate_limit:
                self.rate_limited_count += 1
                return hits[0] + self.rate_window_s - now
            # Only admitted requests count, so a client that backs off as told gets through.
            hits.append(now)
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
        if request.method != "GET":
            return _json(
                405, {"error": "method_not_allowed", "error_description": "The sandbox is read-only."}
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
        record = self._snapshot(kind).by_id().get(record_id)
        return _json(200, record) if record is not None else _not_found()

    def _list(self, kind: str, request: Request) -> Response:
        try:
            query = ListQuery.parse(kind, request)
        except InvalidParameter as exc:
            return _json(422, {"message": str(exc)})
        records, lo, hi = self._matching(kind, query)
        total = hi - lo
        total_pages = math.ceil(total / query.per_page)
        start = lo + (query.page - 1) * query.per_page
        page_records = records[start : min(hi, start + query.per_page)] if start < hi else []
        next_page = query.page + 1 if query.page < total_pages else None
        previous_page = query.page - 1 if query.page > 1 else None
        base = self._page_link_base(request)
        body = {
            kind: page_records,
            "per_page": query.per_page,
            "total_pages": total_pages,
            "total_entries": total,
            "next_page": next_page,
            "previous_page": previous_page,
            "page": query.page,
            "links": {
                "first": base(1, query.per_page),
                "next": base(next_page, query.per_page) if next_page else None,
                "previous": base(previous_page, query.per_page) if previous_page else None,
                "last": base(max(1, total_pages), query.per_page),
            },
        }
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
