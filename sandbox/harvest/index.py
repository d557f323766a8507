"""The company's records in served order, re-sorted only when they change, with cached filtered lists.

Dated lists are indexed by spent_date, so a page of a date-filtered list costs O(page) even over a
million entries. Any other filter is evaluated once and the matching list cached until the data
changes, so walking its pages is O(page) too.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sandbox.company import Company, Record
from sandbox.harvest.query import DATED_KINDS, ListQuery

FILTER_CACHE_SIZE = 8


@dataclass
class Snapshot:
    """One resource's records in served order, with a day index for the dated ones."""

    version: int
    records: list[Record]
    # For dated kinds: minus the spent_date's ordinal, ascending (records are newest first).
    neg_days: list[int] | None = None
    _by_id: dict[int, Record] | None = field(default=None, repr=False)

    def by_id(self) -> dict[int, Record]:
        """The records by id (built on first use)."""
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


class RecordIndex:
    """Snapshots of each kind of record, versioned: a change bumps the version and the next read re-sorts.

    `lock` guards the versions, snapshots and cache; edits to the company take it too.
    """

    def __init__(self, company: Company):
        self.company = company
        self.lock = threading.Lock()
        self._versions: dict[str, int] = dict.fromkeys(Company.KINDS, 0)
        self._snapshots: dict[str, Snapshot] = {}
        self._filtered: OrderedDict[tuple[Any, ...], list[Record]] = OrderedDict()

    def warm(self) -> None:
        """Sort every kind now, so the first request's latency is not a million-row sort."""
        for kind in Company.KINDS:
            self.snapshot(kind)

    def changed(self, kind: str) -> None:
        """Record that `kind`'s records changed (the caller holds `lock`)."""
        self._versions[kind] += 1

    def snapshot(self, kind: str) -> Snapshot:
        """The current snapshot of `kind`."""
        with self.lock:
            return self.snapshot_locked(kind)

    def snapshot_locked(self, kind: str) -> Snapshot:
        """The current snapshot of `kind` (the caller holds `lock`)."""
        version = self._versions[kind]
        snapshot = self._snapshots.get(kind)
        if snapshot is not None and snapshot.version == version:
            return snapshot
        records = list(self.company.records(kind))
        if kind in DATED_KINDS:
            cache: dict[str, int] = {}
            records.sort(key=lambda r: (_day_ordinal(r, cache), r["id"]), reverse=True)
            snapshot = Snapshot(version, records, [-cache[r["spent_date"]] for r in records])
        else:
            records.sort(key=lambda r: (str(r.get("created_at") or ""), r["id"]), reverse=True)
            snapshot = Snapshot(version, records)
        self._snapshots[kind] = snapshot
        return snapshot

    def matching(self, kind: str, query: ListQuery) -> tuple[list[Record], int, int]:
        """(list, lo, hi): the records answering `query` are list[lo:hi], in served order."""
        snapshot = self.snapshot(kind)
        lo, hi = snapshot.window(query.first_day, query.last_day)
        predicate = query.predicate()
        if predicate is None:
            return snapshot.records, lo, hi
        key = (kind, snapshot.version, lo, hi, query.updated_since, query.equals)
        with self.lock:
            cached = self._filtered.get(key)
            if cached is not None:
                self._filtered.move_to_end(key)
                return cached, 0, len(cached)
        # Evaluated outside the lock: a concurrent duplicate evaluation is harmless.
        matched = [r for r in snapshot.records[lo:hi] if predicate(r)]
        with self.lock:
            self._filtered[key] = matched
            while len(self._filtered) > FILTER_CACHE_SIZE:
                self._filtered.popitem(last=False)
        return matched, 0, len(matched)
