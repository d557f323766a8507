"""Which PM list pages an entity's extraction may take from the account's shared page store, and how
the directory is read incrementally (pure; docs/decisions/0042).

A list read from the PM account is kept with the moment its reading started. A later extraction reuses
it when that moment is no earlier than the moment the extraction was requested (`Freshness`): the
pages are then at least as new as anything the requester knew, so the entities of one tick, backfill
or sync share one reading, while a rerun or a change-driven run, requested after the change, reads the
provider again.

The directory is read whole once, then with `updated_since` from its newest `updated_at` (less an
overlap) and merged by id; `updated_since` never returns a deleted record, so the whole directory is
read again once the last whole read is older than `full_every`, and what is gone then becomes a
tombstone in each entity's raw layer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.routing import EntityRoutes, judging_entities

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# A stored page: {"url": str, "pagination": str, "records": [...], "problem": None | {...}}.
StoredPage = dict[str, Any]


@dataclass(frozen=True)
class Freshness:
    """What one extraction may reuse: lists whose reading started at or after `not_before`; the
    directory read whole again once its last whole read is older than `full_every` (zero: always)."""

    not_before: datetime
    full_every: timedelta
    overlap: timedelta  # how far before the directory's newest `updated_at` an incremental read starts

    def reusable(self, read_at: datetime) -> bool:
        """Whether a list read starting at `read_at` is new enough for this extraction."""
        return read_at >= self.not_before

    def full_read_due(self, full_at: datetime | None, now: datetime) -> bool:
        """Whether the directory must be read whole (never read whole yet, or too long ago)."""
        return full_at is None or now - full_at >= self.full_every


def list_key(account: str, kind: str, params: dict[str, str] | None) -> str:
    """The store's name for one list request of one account (the request, not its answer)."""
    request = json.dumps([account, kind, sorted((params or {}).items())])
    return f"{kind}-{hashlib.sha256(request.encode()).hexdigest()[:32]}"


def newest_update(pages: list[StoredPage]) -> str | None:
    """The newest `updated_at` among the pages' records (None when no record carries one)."""
    stamps = [
        r["updated_at"]
        for page in pages
        for r in page["records"]
        if isinstance(r, dict) and isinstance(r.get("updated_at"), str)
    ]
    return max(stamps, default=None)


def updated_since(newest: str, overlap: timedelta) -> str:
    """The `updated_since` of an incremental read: the newest `updated_at` held, less the overlap
    (the provider stamps to the second, and an edit may land on a second already read)."""
    moment = datetime.fromisoformat(newest.replace("Z", "+00:00")).astimezone(UTC)
    return (moment - overlap).strftime(TIMESTAMP_FORMAT)


def _record_id(record: Any) -> int | None:
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def merge_changes(held: list[StoredPage], changes: list[StoredPage]) -> list[StoredPage] | None:
    """The directory `held` with the changed records read since in place of their old versions.

    None when the changes cannot be merged safely (an unreadable page, a record without an id): the
    caller reads the whole list instead, which quarantines what needs quarantining.
    """
    if any(page["problem"] is not None for page in changes):
        return None
    changed: set[int] = set()
    for page in changes:
        for record in page["records"]:
            record_id = _record_id(record)
            if record_id is None:
                return None
            changed.add(record_id)
    kept = [
        {**page, "records": [r for r in page["records"] if _record_id(r) not in changed]} for page in held
    ]
    return [page for page in kept if page["records"] or page["problem"] is not None] + [
        page for page in changes if page["records"]
    ]


def route_page(page: StoredPage, routes: EntityRoutes, entities: Iterable[str]) -> dict[str, StoredPage]:
    """The page as each of `entities` sees it: the same page (URL, pagination, problem) holding only the
    records that entity judges (rules/routing.judging_entities), so an entity's extraction of its share
    counts, screens and keeps exactly what it did from the whole page (decision 0050)."""
    shares: dict[str, list[Any]] = {entity: [] for entity in entities}
    for record in page["records"]:
        for entity in judging_entities(record, routes):
            if entity in shares:
                shares[entity].append(record)
    return {entity: {**page, "records": records} for entity, records in shares.items()}
