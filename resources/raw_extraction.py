"""One extraction of one PM list into the raw layer: page through it, screen and route every record,
then write versions, tombstones, current records and rejections in one transaction.

Nothing is written until the whole list has been read, so a paging error (rules/harvest_paging.py)
leaves the raw layer exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol, runtime_checkable

import polars as pl

from resources.harvest import Page
from resources.raw_store import latest_profile, write_profile, write_records, write_rejections
from resources.warehouse import Warehouse
from rules.drift import Drift, compare
from rules.raw_slices import ExtractionScope, JudgedList, SliceExtract
from rules.routing import EntityRoutes
from rules.schemas.payloads import HARVEST_PAYLOADS

INTERCOMPANY_KIND = "intercompany_time_entries"


class PageSource(Protocol):
    """Where a list's pages come from: the Harvest client itself, or the account's shared readings
    (resources/account_pages.SharedPages)."""

    def iter_pages(self, resource: str, params: dict[str, str] | None = None) -> Iterator[Page]: ...


Judge = Callable[[Iterable[Page]], JudgedList]


@runtime_checkable
class JudgedListSource(Protocol):
    """A page source that keeps the judgement of a list every entity judges alike (the directory) and
    hands it to the next entity instead of the pages (resources/routed_pages.EntityPages)."""

    def judged(self, scope: ExtractionScope, judge: Judge) -> JudgedList | None: ...


@dataclass(frozen=True)
class ExtractionCounts:
    """What one extraction saw and wrote."""

    pages: int
    records: int  # current records of the entity written
    intercompany: int
    unclaimed: int
    new_versions: int
    tombstones: int
    rejected_records: int
    rejected_pages: int
    rejection_reasons: dict[str, int]
    drift: Drift
    record_versions: dict[str, int]  # how many records arrived in each source version


def judge_pages(pages: Iterable[Page], scope: ExtractionScope, routes: EntityRoutes) -> JudgedList:
    """Screen and route one list's pages for the scope as they arrive (raises PagingError)."""
    extract = SliceExtract(scope, routes)
    for page in pages:
        if page.problem is None:
            extract.add_page(page.url, page.pagination, page.records)
        else:
            problem = page.problem
            extract.add_unreadable_page(
                page.url, problem.reason, problem.field, problem.value, problem.detail, problem.body
            )
    return extract.judged()


def judge_list(harvest: PageSource, scope: ExtractionScope, routes: EntityRoutes) -> JudgedList:
    """Page through one list for the scope and judge it (or take the judgement kept for it)."""
    if isinstance(harvest, JudgedListSource):
        kept = harvest.judged(scope, lambda pages: judge_pages(pages, scope, routes))
        if kept is not None:
            return kept
    return judge_pages(harvest.iter_pages(scope.kind, list_params(scope.days)), scope, routes)


def list_params(days: tuple[date, ...] | None) -> dict[str, str] | None:
    """The request parameters of a list read for `days` (None: a directory list, read whole)."""
    return None if days is None else {"from": days[0].isoformat(), "to": days[-1].isoformat()}


def extract_list(
    harvest: PageSource,
    warehouse: Warehouse,
    scope: ExtractionScope,
    routes: EntityRoutes,
    *,
    intercompany: bool = False,
) -> ExtractionCounts:
    """Read one list and write what it holds for the scope's entity (and, with `intercompany`, the
    entity's people's time on other entities' projects)."""
    judged = judge_list(harvest, scope, routes)
    kept, elsewhere, rejections = judged.kept, judged.elsewhere, judged.rejections
    with warehouse.transaction(scope.entity) as con:
        drift = compare(
            judged.profile, latest_profile(con, scope.entity, scope.kind), HARVEST_PAYLOADS[scope.kind]
        )
        write_profile(con, scope, judged.profile)
        written = write_records(con, scope, kept, judged.held_ids, sealed=judged.sealed)
        rejected = write_rejections(con, scope, rejections)
        extra_versions = extra_tombstones = 0
        if intercompany:
            other = replace(scope, kind=INTERCOMPANY_KIND)
            ic = write_records(con, other, elsewhere, set())
            extra_versions, extra_tombstones = ic.new_versions, ic.tombstones
    pages_rejected = rejections.filter(pl.col("scope") == "page").height if rejected else 0
    return ExtractionCounts(
        pages=judged.pages,
        records=kept.height,
        intercompany=elsewhere.height if intercompany else 0,
        unclaimed=kept.filter(pl.col("routing") != "claimed").height if "routing" in kept.columns else 0,
        new_versions=written.new_versions + extra_versions,
        tombstones=written.tombstones + extra_tombstones,
        rejected_records=rejected - pages_rejected,
        rejected_pages=pages_rejected,
        rejection_reasons=dict(rejections.group_by("reason").len().sort("reason").iter_rows()),
        drift=drift,
        record_versions=judged.record_versions,
    )
