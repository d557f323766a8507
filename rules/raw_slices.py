"""What one extraction of one PM list hands the raw layer (pure): the screened records routed to the
entity, the intercompany ones, and every rejection, for one entity and window of days.

Records are keyed by id: a record seen twice in one extraction (shifted across a page boundary
while paging) is kept once, the later sighting winning. Nothing is dropped without a trace:
a record is kept, left to the entity that owns it, or rejected with its reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import polars as pl

from rules.drift import PayloadProfile
from rules.harvest_paging import HARVEST_CONTRACT
from rules.pm_payloads import RAW_COLUMNS, canonical_payload
from rules.pm_screening import RECORD_V2, Rejection, screen_record, spent_day, translate_record
from rules.routing import CLAIMED, EntityRoutes, home_entity_of, judging_entities, route_record
from rules.schemas.payloads import HARVEST_PAYLOADS

VERSION_COLUMNS = pl.Schema({**RAW_COLUMNS, "source_payload": pl.String()})
INTERCOMPANY_COLUMNS = pl.Schema({**VERSION_COLUMNS, "billed_by": pl.String()})
DIRECTORY_COLUMNS = pl.Schema(
    {**{k: v for k, v in VERSION_COLUMNS.items() if k not in ("day", "routing")}, "kind": pl.String()}
)
REJECTION_COLUMNS = pl.Schema(
    {
        "entity": pl.String(),
        "kind": pl.String(),
        "day": pl.Date(),
        "window_from": pl.Date(),
        "window_to": pl.Date(),
        "scope": pl.String(),
        "record_ref": pl.String(),
        "field": pl.String(),
        "value": pl.String(),
        "reason": pl.String(),
        "detail": pl.String(),
        "payload": pl.String(),
        "request_url": pl.String(),
        "seen_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String(),
    }
)


def contract_version(pagination: str, record_version: str) -> str:
    """What a raw row was read as: the vendored contract, and the page and record versions it arrived in."""
    return f"{HARVEST_CONTRACT}; {pagination} pages; {record_version} records"


@dataclass(frozen=True)
class ExtractionScope:
    """One extraction: the entity, the list, the days asked for (None: a full listing), the run."""

    entity: str
    kind: str
    days: tuple[date, ...] | None
    run_id: str
    extracted_at: datetime

    @property
    def window(self) -> tuple[date | None, date | None]:
        """The first and last day asked for (None, None for a full listing)."""
        return (self.days[0], self.days[-1]) if self.days else (None, None)


@dataclass(frozen=True)
class JudgedList:
    """One list's extraction, judged: what the raw store writes for the scope, and what was seen."""

    kept: pl.DataFrame  # one row per record id kept (VERSION_COLUMNS, or DIRECTORY_COLUMNS)
    elsewhere: pl.DataFrame  # intercompany records (INTERCOMPANY_COLUMNS)
    rejections: pl.DataFrame  # REJECTION_COLUMNS
    held_ids: frozenset[int]  # rejected but identifiable: their last good version stays current
    profile: PayloadProfile
    pages: int
    record_versions: dict[str, int]  # how many records arrived in each source version
    sealed: bool = False  # whether `kept`'s personal fields are already sealed (resources/field_crypto)

    def for_scope(self, scope: ExtractionScope) -> JudgedList:
        """The same judgement as another entity's run sees it: its entity, run and moment in every row
        (a directory list is judged alike for every entity, decision 0050)."""
        stamp = pl.lit(scope.extracted_at, dtype=VERSION_COLUMNS["extracted_at"])
        kept = self.kept.with_columns(
            entity=pl.lit(scope.entity), run_id=pl.lit(scope.run_id), extracted_at=stamp
        )
        rejections = self.rejections.with_columns(
            entity=pl.lit(scope.entity), run_id=pl.lit(scope.run_id), seen_at=stamp
        )
        return replace(self, kept=kept, rejections=rejections)


@dataclass
class SliceExtract:
    """Accumulates an extraction page by page; `frames()` gives what the raw store writes."""

    scope: ExtractionScope
    routes: EntityRoutes
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    elsewhere: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    held_ids: set[int] = field(default_factory=set)  # rejected but identifiable: keep their last good version
    pages: int = 0
    profile: PayloadProfile = field(default_factory=PayloadProfile)  # of every record judged (translated)
    record_versions: Counter[str] = field(default_factory=Counter)  # source versions of the records kept

    def add_page(self, url: str, pagination: str, records: list[Any]) -> None:
        """Route, screen and keep one page's records (another entity's records are that entity's to judge)."""
        self.pages += 1
        schema = HARVEST_PAYLOADS[self.scope.kind]
        for position, record in enumerate(records):
            owner = self._owner(record)
            if not self._concerns(record, owner):
                continue
            self.profile.observe(translate_record(record)[0] if isinstance(record, dict) else record)
            outcome = screen_record(self.scope.kind, schema, record, position)
            if isinstance(outcome, Rejection):
                if owner == self.scope.entity:
                    self._reject(outcome, url)
                continue
            translated, version = outcome
            self.record_versions[version] += 1
            self._keep(translated, version, record, url, contract_version(pagination, version))

    def add_unreadable_page(
        self, url: str, reason: str, field_name: str, value: str, detail: str, body: str
    ) -> None:
        """Quarantine a page that could not be read, whole, with its body's start."""
        self.pages += 1
        rejection = Rejection(f"page {url}", field_name, value, reason, detail, body, None)
        self._reject(rejection, url, scope="page")

    def _owner(self, record: Any) -> str:
        if self.scope.days is None:
            return self.scope.entity  # the directory: every entity keeps the whole of it
        if not isinstance(record, dict):
            return self.routes.unclaimed_entity
        return route_record(record, self.routes)[0]

    def _concerns(self, record: Any, owner: str) -> bool:
        """Whether this entity judges the record: its own (the whole directory is), or time its people
        logged for another entity (intercompany). The account's other records are judged once, by the
        entity that keeps them, so N entities screen the account once between them (decision 0042)."""
        if owner == self.scope.entity:
            return True
        return self.scope.entity in judging_entities(record, self.routes, owner)

    def _reject(self, rejection: Rejection, url: str, scope: str = "record") -> None:
        first, last = self.scope.window
        if rejection.record_id is not None:  # its latest sighting is bad: keep the last good version
            self.held_ids.add(rejection.record_id)
            self.rows.pop(rejection.record_id, None)
        self.rejections.append(
            {
                "entity": self.scope.entity, "kind": self.scope.kind, "day": rejection.day,
                "window_from": first, "window_to": last, "scope": scope,
                "record_ref": rejection.record_ref, "field": rejection.field, "value": rejection.value,
                "reason": rejection.reason, "detail": rejection.detail, "payload": rejection.payload,
                "request_url": url, "seen_at": self.scope.extracted_at, "run_id": self.scope.run_id,
            }
        )  # fmt: skip

    def _row(
        self, record: dict[str, Any], sent: Any, version: str, url: str, contract: str
    ) -> dict[str, Any]:
        text, digest = canonical_payload(record)
        source = None if version == RECORD_V2 else canonical_payload(sent)[0]
        return {
            "entity": self.scope.entity, "record_id": record["id"], "payload": text, "payload_hash": digest,
            "extracted_at": self.scope.extracted_at, "request_url": url, "run_id": self.scope.run_id,
            "contract_version": contract, "source_payload": source,
        }  # fmt: skip

    def _keep(self, record: dict[str, Any], version: str, sent: Any, url: str, contract: str) -> None:
        scope = self.scope
        self.held_ids.discard(record["id"])
        row = self._row(record, sent, version, url, contract)
        if scope.days is None:
            self.rows[record["id"]] = {**row, "kind": scope.kind}
            return
        day = spent_day(record)
        first, last = scope.window
        if not (first <= day <= last):  # type: ignore[operator]
            self._reject(self._outside_window(record["id"], day, row["payload"]), url)
            return
        if day not in scope.days:
            return  # another run's day (a backfill of separate days lists the days between too)
        entity, note = route_record(record, self.routes)
        if entity == scope.entity:
            self.rows[record["id"]] = {**row, "day": day, "routing": note}
        elif note == CLAIMED and home_entity_of(record, self.routes) == scope.entity:
            self.elsewhere[record["id"]] = {**row, "day": day, "routing": CLAIMED, "billed_by": entity}

    def _outside_window(self, record_id: int, day: date, payload: str) -> Rejection:
        first, last = self.scope.window
        value = f'"{day.isoformat()}"'
        detail = (
            f"{self.scope.kind} record id={record_id}: field spent_date = {value}: outside_requested_window, "
            f"expected a day in the requested {first}..{last}"
        )
        return Rejection(
            f"id={record_id}",
            "spent_date",
            value,
            "outside_requested_window",
            detail,
            payload,
            day,
            record_id,
        )

    def judged(self) -> JudgedList:
        """Everything this extraction found, as the raw store writes it."""
        kept, elsewhere, rejections = self.frames()
        return JudgedList(
            kept,
            elsewhere,
            rejections,
            frozenset(self.held_ids),
            self.profile,
            self.pages,
            dict(self.record_versions),
        )

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """(records kept, intercompany records, rejections), one row per record id."""
        if self.scope.days is None:
            kept = pl.DataFrame(list(self.rows.values()), schema=DIRECTORY_COLUMNS)
        else:
            kept = pl.DataFrame(list(self.rows.values()), schema=VERSION_COLUMNS)
        elsewhere = pl.DataFrame(list(self.elsewhere.values()), schema=INTERCOMPANY_COLUMNS)
        return kept, elsewhere, pl.DataFrame(self.rejections, schema=REJECTION_COLUMNS)
