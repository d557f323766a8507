"""Extract time entries, expenses and the PM directory for an entity's days, as sent, keeping every version."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.partitions import DaySlice, Partitions, day_slices
from assets.raw.raw_checks import (
    PAYLOAD_DRIFT,
    drift_markdown,
    raw_check_results,
    raw_check_specs,
    raw_outcomes,
)
from assets.tracing import traced_step
from resources.account_pages import AccountPageStore, SharedPages
from resources.configuration import Settings
from resources.harvest import HarvestClient
from resources.raw_extraction import ExtractionCounts, PageSource, extract_list, list_params
from resources.routed_pages import AccountRouting, EntityPages
from resources.warehouse import Warehouse, record_checks
from rules.account_pages import Freshness
from rules.raw_slices import ExtractionScope
from rules.routing import EntityRoutes

DIRECTORY_KINDS = ("clients", "projects", "tasks", "users", "user_assignments", "task_assignments")
DATED_KINDS = ("time_entries", "expenses")
TIME_ENTRIES = dg.AssetKey(["raw", "time_entries"])
EXPENSES = dg.AssetKey(["raw", "expenses"])
PM_DIRECTORY = dg.AssetKey(["raw", "pm_directory"])
# Which lists each raw asset holds.
LISTS = {TIME_ENTRIES: ("time_entries",), EXPENSES: ("expenses",), PM_DIRECTORY: DIRECTORY_KINDS}
# A requester's own "pages read since this moment are new enough for me" (ISO 8601, UTC): `billbridge
# sync` tags its runs with its start, so the entities of one sync share one reading of the account.
PAGES_SINCE_TAG = "billbridge/pm_pages_since"
BACKFILL_TAG = "dagster/backfill"


def requested_at(context: dg.AssetExecutionContext) -> datetime:
    """When the run's data was asked for: the earliest of its creation, its backfill's creation and
    its requester's `PAGES_SINCE_TAG` (docs/decisions/0042)."""
    instance, run = context.instance, context.run
    record = instance.get_run_record_by_id(run.run_id)
    moments = [_utc(record.create_timestamp) if record else datetime.now(UTC)]
    backfill = instance.get_backfill(run.tags[BACKFILL_TAG]) if BACKFILL_TAG in run.tags else None
    if backfill is not None:
        moments.append(datetime.fromtimestamp(backfill.backfill_timestamp, UTC))
    if PAGES_SINCE_TAG in run.tags:
        moments.append(_utc(datetime.fromisoformat(run.tags[PAGES_SINCE_TAG])))
    return min(moments)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def shared_pages(
    context: dg.AssetExecutionContext, harvest: HarvestClient, warehouse: Warehouse, settings: Settings
) -> SharedPages:
    """The account's lists for this run: read once per freshness, shared by the entities."""
    orchestration = settings.orchestration
    freshness = Freshness(
        not_before=requested_at(context),
        full_every=timedelta(hours=orchestration.directory_full_read_hours),
        overlap=timedelta(seconds=orchestration.poll_overlap_seconds),
    )
    return SharedPages(harvest, AccountPageStore.beside(warehouse), freshness)


def entity_pages(pages: SharedPages, settings: Settings, entity: str) -> EntityPages:
    """`entity`'s view of the account's readings: its share of each dated list (decision 0050)."""
    routing = AccountRouting(EntityRoutes.from_config(settings), tuple(settings.entity_ids))
    return EntityPages(pages, routing, entity)


def extract_slice(
    harvest: PageSource, warehouse: Warehouse, part: DaySlice, run_id: str, routes: EntityRoutes
) -> dict[str, ExtractionCounts]:
    """Extract the directory and the dated lists of one entity's days into its raw layer (`harvest`:
    the client, or the account's shared readings)."""
    now = datetime.now(UTC)
    counts = {
        kind: extract_list(harvest, warehouse, ExtractionScope(part.entity, kind, None, run_id, now), routes)
        for kind in DIRECTORY_KINDS
    }
    for kind in DATED_KINDS:
        scope = ExtractionScope(part.entity, kind, part.days, run_id, now)
        # Time the entity's own people logged on projects another entity bills: the seller's side of an
        # intercompany charge (assets/intercompany), kept apart so it never enters this entity's billing.
        counts[kind] = extract_list(harvest, warehouse, scope, routes, intercompany=kind == "time_entries")
    return counts


def directory_scope(part: DaySlice, run_id: str) -> Callable[[str], ExtractionScope]:
    """A directory kind's scope for judging it ahead of the slice (a kept judgement is taken with the
    slice's own scope: its rows name the entity, run and moment of whoever takes it)."""
    return lambda kind: ExtractionScope(part.entity, kind, None, run_id, datetime.now(UTC))


def slice_lists(part: DaySlice) -> list[tuple[str, dict[str, str] | None]]:
    """The lists one entity's slice extracts, with their request parameters: the directory, then the
    dated lists of its days."""
    return [(kind, None) for kind in DIRECTORY_KINDS] + [
        (kind, list_params(part.days)) for kind in DATED_KINDS
    ]


def _raw_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key, description=description, kinds={"duckdb"}, group_name="raw", owners=["team:data"]
    )


def _story(parts: list[dict[str, ExtractionCounts]], kinds: tuple[str, ...]) -> dict[str, int]:
    def total(field: str) -> int:
        return sum(getattr(counts[kind], field) for counts in parts for kind in kinds)

    return {
        "dagster/row_count": total("records"),
        "new_versions": total("new_versions"),
        "tombstones": total("tombstones"),
        "rejected_records": total("rejected_records"),
        "rejected_pages": total("rejected_pages"),
        "pages_fetched": total("pages"),
    }


def _checks(
    warehouse: Warehouse, part: DaySlice, counts: dict[str, ExtractionCounts], run_id: str
) -> dict[dg.AssetKey, dict[str, tuple[bool, str]]]:
    """Each raw asset's check outcomes for one entity's slice; those about money are also kept for
    `billbridge report` (drift alone is for the UI: a null rate moving is no failure)."""
    outcomes = {key: raw_outcomes(part.label(), [counts[k] for k in kinds]) for key, kinds in LISTS.items()}
    with warehouse.transaction(part.entity) as con:
        for key, checks in outcomes.items():
            kept = {name: outcome for name, outcome in checks.items() if name != PAYLOAD_DRIFT}
            record_checks(
                con, entity=part.entity, asset=key.to_user_string(), partition=part.label(), outcomes=kept,
                run_id=run_id,
            )  # fmt: skip
    return outcomes


RAW_SPECS = [
    _raw_spec(TIME_ENTRIES, "Harvest time entries as sent, per entity and spent day, every version kept."),
    _raw_spec(EXPENSES, "Harvest expenses as sent, per entity and spent day, every version kept."),
    _raw_spec(PM_DIRECTORY, "Latest snapshot of PM clients, projects, tasks, users and assignments."),
]
RAW_KEYS = [spec.key for spec in RAW_SPECS]


def extract_days(
    context: dg.AssetExecutionContext, harvest: HarvestClient, warehouse: Warehouse, settings: Settings
) -> Iterator[dg.MaterializeResult]:
    """Extract the run's entity-days from the PM system into the raw layer, replayable without the API."""
    routes = EntityRoutes.from_config(settings)
    pages = shared_pages(context, harvest, warehouse, settings)
    parts: list[dict[str, ExtractionCounts]] = []
    logged: dict[dg.AssetKey, dict[str, list[tuple[bool, str]]]] = {key: {} for key in LISTS}
    for part in day_slices(context):
        source = entity_pages(pages, settings, part.entity)
        # The provider first, the entity's file not held; then the eight lists' transactions, the trace
        # and the checks on one open of the file (decision 0051).
        source.read_ahead(slice_lists(part), directory_scope(part, context.run.run_id))
        with warehouse.held(part.entity):
            with traced_step(context, warehouse, settings, "extraction", part) as step:
                counts = extract_slice(source, warehouse, part, context.run.run_id, routes)
                step.set_attribute("billbridge.records", sum(c.records for c in counts.values()))
                step.set_attribute("billbridge.new_versions", sum(c.new_versions for c in counts.values()))
            outcomes = _checks(warehouse, part, counts, context.run.run_id)
        parts.append(counts)
        for key, checks in outcomes.items():
            for name, outcome in checks.items():
                logged[key].setdefault(name, []).append(outcome)
        context.log.info(f"{part.label()}: extracted")
    scope: dict[str, str | int] = {
        "partitions": ", ".join(p.label() for p in day_slices(context)),
        "pm_pages_read_by_this_run": pages.requests,  # 0: every list came from the account's readings
    }
    intercompany = sum(counts["time_entries"].intercompany for counts in parts)
    unclaimed = sum(counts[k].unclaimed for counts in parts for k in DATED_KINDS)
    extra = {TIME_ENTRIES: {"unclaimed_records": unclaimed, "intercompany_time_entries": intercompany}}
    for key, kinds in LISTS.items():
        drift = drift_markdown([counts[k] for counts in parts for k in kinds])
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                **scope,
                **_story(parts, kinds),
                **extra.get(key, {}),
                "payload_drift": dg.MetadataValue.md(drift),
            },
            check_results=raw_check_results(key, logged[key], drift),
        )


def build_pm_extracts(partitions: Partitions) -> dg.AssetsDefinition:
    """`raw/time_entries`, `raw/expenses` and `raw/pm_directory` over the configuration's entity-days."""
    return dg.multi_asset(
        name="pm_extracts",
        specs=RAW_SPECS,
        check_specs=[spec for key in LISTS for spec in raw_check_specs(key)],
        partitions_def=partitions.entity_day,
        # A month or a year of one entity's days is one run: one paged extraction, not one per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="pm_api",
    )(extract_days)
