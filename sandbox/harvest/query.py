"""A list request's query string as Harvest reads it: paging, the date range and the resource's filters.

Unknown parameters are ignored, as Harvest does; malformed values raise `InvalidParameter` (a 422).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from resources.http_server import Request
from sandbox.company import Record

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
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class InvalidParameter(ValueError):
    """A query parameter Harvest would answer 422 for."""


def stamp(moment: datetime) -> str:
    """A timestamp as Harvest writes it: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (naive values are taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidParameter(f"not an ISO 8601 date and time: {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidParameter(
            f"{name} must be a date in ISO 8601 format (YYYY-MM-DD), got {text!r}"
        ) from exc


def parse_int(name: str, text: str, low: int | None = None, high: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise InvalidParameter(f"{name} must be an integer, got {text!r}") from exc
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidParameter(f"{name} must be {bounds}, got {value}")
    return value


def parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidParameter(f"{name} must be true or false, got {text!r}")
    return lowered == "true"


def parse_updated_since(text: str) -> str:
    moment = parse_timestamp(text)
    # Stored timestamps have whole seconds, so `updated_at >= since` is the same test as
    # `updated_at >= since rounded up to the second`, which compares as plain text.
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return stamp(moment)


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
        page = parse_int("page", page_text, low=1) if page_text else 1
        per_page = parse_int("per_page", per_page_text, 1, MAX_PER_PAGE) if per_page_text else MAX_PER_PAGE
        first_day = last_day = None
        if "from" in allowed and (text := request.param("from")):
            first_day = parse_date("from", text)
        if "to" in allowed and (text := request.param("to")):
            last_day = parse_date("to", text)
        since = None
        if "updated_since" in allowed and (text := request.param("updated_since")):
            since = parse_updated_since(text)
        equals: list[tuple[str, Any]] = []
        for name in sorted(allowed & (set(NESTED_ID_FILTERS) | set(BOOLEAN_FILTERS))):
            text = request.param(name)
            if text is None or text == "":
                continue
            value: Any = parse_bool(name, text) if name in BOOLEAN_FILTERS else parse_int(name, text)
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
