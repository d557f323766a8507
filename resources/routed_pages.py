"""Each entity's share of the account's dated readings, routed once for every entity (decision 0050).

A dated reading (time entries or expenses of a window) holds the whole account. Every entity used to
parse all of it and pass over what other entities keep: at 1M entries and 20 entities, twenty parses of
1.5 GB. Now the entity run that reads the account routes each page as it arrives from the provider to
the entities that judge its records (rules/routing.judging_entities: the one that keeps a record and its
person's home entity) and writes one share per configured entity beside the reading, in its format: the
same pages, holding only that entity's records. The other entities read their share alone. A reading
kept without shares (other routing tables) is routed once by the first entity that needs them.

A share is valid for the reading it came from (the same `read_at`) under the same routing tables and
entities (both in its name): a new reading, or a changed mapping, is routed again. Directory lists,
which every entity keeps whole, are judged once and the judgement kept (resources/judged_lists.py);
requests with other filters are answered as SharedPages answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from resources.account_pages import (
    DATED_PARAMS,
    AccountPageStore,
    KeepPages,
    KeptReading,
    PageStoreDamaged,
    SharedPages,
    page_of,
)
from resources.harvest import Page
from resources.judged_lists import has_judged, keep_judged, open_judged, sealed
from resources.raw_extraction import Judge, judge_pages
from rules.account_pages import StoredPage, list_key, route_page
from rules.raw_slices import ExtractionScope, JudgedList
from rules.routing import EntityRoutes, fingerprint


@dataclass(frozen=True)
class AccountRouting:
    """How the account's records are routed: the mapping's tables and the configured entities."""

    routes: EntityRoutes
    entities: tuple[str, ...]

    @cached_property
    def tables(self) -> str:
        """The routing tables' and entities' fingerprint (hashing 20,000 clients' routes: once)."""
        return f"{fingerprint(self.routes)}|{','.join(self.entities)}"

    def share_key(self, key: str, entity: str) -> str:
        """The store's name for `entity`'s share of the reading `key` under these tables."""
        digest = hashlib.sha256(f"{self.tables}|{entity}".encode())
        return f"{key}.share-{digest.hexdigest()[:20]}"

    def share_keys(self, key: str) -> dict[str, str]:
        """Every configured entity's share name of the reading `key`."""
        return {entity: self.share_key(key, entity) for entity in self.entities}


class EntityPages:
    """A page source for one entity's extraction: its share of each dated reading, the rest shared."""

    def __init__(self, shared: SharedPages, routing: AccountRouting, entity: str) -> None:
        self.shared, self.routing, self.entity = shared, routing, entity

    def _routed(self, params: dict[str, str] | None) -> bool:
        """Whether this entity reads the list as its share (a dated list it is configured to route)."""
        return bool(params) and set(params or ()) <= DATED_PARAMS and self.entity in self.routing.entities

    def read_ahead(
        self,
        lists: Iterable[tuple[str, dict[str, str] | None]],
        scope_of: Callable[[str], ExtractionScope] | None = None,
    ) -> None:
        """Keep each list's reading new enough for this extraction (and a dated list's shares), reading
        the provider where none is, so the extraction that follows waits on no provider (decision 0051).

        With `scope_of` (a directory kind's scope for this extraction), a directory list that another
        process read is judged now unless its judgement is kept: the entities waiting on the reader
        judge the directory while it reads the dated lists, not after (decision 0055). A list this
        process read itself is left for its extraction, so the provider's pages keep coming.
        """
        for resource, params in lists:
            key = list_key(self.shared.account, resource, params)
            keep = self._read_and_route(key) if self._routed(params) else None
            requests = self.shared.requests
            with self.shared.store.locked(key):
                reading = self.shared.fresh_reading(key, resource, params, keep)
                read_here = self.shared.requests != requests
                if params is None and scope_of is not None and not read_here:
                    self._judge_ahead(key, reading, scope_of(resource))
                else:
                    reading.close()

    def _judge_ahead(self, key: str, reading: KeptReading, scope: ExtractionScope) -> None:
        """Judge the directory `reading` and keep the judgement, unless one is kept (holding its lock)."""
        if has_judged(self.shared.store, key, reading.read_at):
            reading.close()
            return
        self._judge_and_keep(key, reading, lambda pages: judge_pages(pages, scope, self.routing.routes))

    def _judge_and_keep(self, key: str, reading: KeptReading, judge: Judge) -> JudgedList:
        """Judge the directory `reading` and keep the judgement, its personal fields sealed."""
        judged = sealed(judge(page_of(page) for page in reading.pages()))
        keep_judged(self.shared.store, key, reading.read_at, judged)
        return judged

    def iter_pages(self, resource: str, params: dict[str, str] | None = None) -> Iterator[Page]:
        """A dated list's pages holding the records this entity judges; any other list as SharedPages."""
        if not self._routed(params):
            yield from self.shared.iter_pages(resource, params)
            return
        key = list_key(self.shared.account, resource, params)
        store = self.shared.store
        with store.locked(key):
            reading = self.shared.fresh_reading(key, resource, params, self._read_and_route(key))
            share = store.open(self.routing.share_key(key, self.entity))
            if share is not None and share.read_at == reading.read_at:
                reading.close()
            else:
                if share is not None:
                    share.close()
                share = _route(store, reading, key, self.routing, self.entity)
        for stored in share.pages():
            yield page_of(stored)

    def _read_and_route(self, key: str) -> KeepPages:
        """Keep a reading read now and every entity's share of it, routed page by page as the pages
        arrive (while the provider's limit holds the next page back), so the reading is never parsed
        again to route it."""
        store, shares = self.shared.store, self.routing.share_keys(key)

        def keep(started: datetime, pages: Iterable[StoredPage]) -> None:
            with store.keeping([key, *shares.values()], started, started) as write:
                for page in pages:
                    write[key](page)
                    _write_shares(write, shares, page, self.routing)

        return keep

    def judged(self, scope: ExtractionScope, judge: Judge) -> JudgedList | None:
        """The directory list's judgement, kept by the first entity that judged this reading of it and
        taken by the others (resources/judged_lists.py); None for a dated list (judged per entity)."""
        if scope.days is not None:
            return None
        key = list_key(self.shared.account, scope.kind, None)
        store = self.shared.store
        with store.locked(key):
            reading = self.shared.fresh_reading(key, scope.kind, None)
            kept = open_judged(store, key, reading.read_at)
            if kept is not None:
                reading.close()
                return kept.for_scope(scope)
            return self._judge_and_keep(key, reading, judge)


def _route(
    store: AccountPageStore, reading: KeptReading, key: str, routing: AccountRouting, entity: str
) -> KeptReading:
    """Write every entity's share of `reading` in one pass over it; `entity`'s share, opened."""
    shares = routing.share_keys(key)
    with store.keeping(shares.values(), reading.read_at) as write:
        for page in reading.pages():
            _write_shares(write, shares, page, routing)
    opened = store.open(shares[entity])
    if opened is None:
        raise PageStoreDamaged(f"{store.folder / shares[entity]}: the share just written cannot be opened")
    return opened


def _write_shares(
    write: dict[str, Callable[[StoredPage], None]],
    shares: dict[str, str],
    page: StoredPage,
    routing: AccountRouting,
) -> None:
    """Write each entity's share of one page."""
    for owner, share in route_page(page, routing.routes, routing.entities).items():
        write[shares[owner]](share)
