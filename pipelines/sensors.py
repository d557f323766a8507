"""Sensors: the webhook inbox, the `updated_since` safety-net poll, and run-failure alerts.

The two change sensors share one ledger (`EventInbox.claim`): a change is one version of one
record (kind, id, `updated_at`, content hash) on one entity-day, and whichever sensor sees it
first requests the partition; the other finds it claimed and requests nothing. Many changes
to one entity-day in a tick become one run request.

A change on a day whose month is already posted takes the correction path: the day is
re-extracted (the raw and normalized layers must match the PM system) but the month is not
re-billed automatically; the run is tagged `billbridge/correction` and the event marked
`correction`, so someone reviews the difference and reruns `bill_and_post` (which posts a new
document only for a changed invoice) or raises a credit note. Posted money is never rewritten
silently.

Every sensor is STOPPED by default; `dagster sensor start pm_webhook_inbox -w workspace.yaml`
(or the toggle in the UI) turns one on. A tick never throws on bad input: bad events were
already stored as rejected by the endpoint, and a busy or unreachable store is a SkipReason.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import httpx

from assets.consolidation.group_consolidation import GROUP_CONSOLIDATION
from assets.partitions import Partitions, day_key, month_key
from pipelines.concurrency import CORRECTION_TAG, ENTITY_TAG, entity_tags
from pipelines.failures import alert_text, run_failure_line
from pipelines.jobs import GROUP_TAGS, extract_and_normalize
from resources.alerts import page_oncall
from resources.event_inbox import Change, EventInbox
from resources.harvest import HarvestClient
from resources.http_retry import ServiceUnreachableError
from rules.alert_payloads import Alert
from rules.outcomes import RUNBOOKS, runbook_for
from rules.pm_events import ACCEPTED, CORRECTION
from rules.pm_payloads import canonical_payload
from rules.routing import EntityRoutes, route_record
from rules.settings import BillbridgeConfig, OrchestrationConfig
from rules.tracing import webhook_trace

POSTED_ASSET = dg.AssetKey(["posting", "posted_invoices"])
POLLED_KINDS = ("time_entries", "expenses")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def posted_months(instance: dg.DagsterInstance) -> set[str]:
    """The entity-month partition keys whose posting has materialized (the invoiced months)."""
    return set(instance.get_materialized_partitions(POSTED_ASSET))


def _month_of(day: str) -> date:
    return date.fromisoformat(day).replace(day=1)


def _run_key(source: str, partition: tuple[str, str], changes: list[Change]) -> str:
    """Names the exact set of record versions a request stands for (Dagster launches a run key once)."""
    versions = sorted(f"{c.record_kind}:{c.record_id}:{c.updated_at}:{c.content_hash}" for c in changes)
    digest = hashlib.sha256("\n".join(versions).encode("utf-8")).hexdigest()[:16]
    return f"{source}|{partition[0]}|{partition[1]}|{digest}"


def run_requests(
    changes: Iterable[Change],
    source: str,
    inbox: EventInbox,
    invoiced: set[str],
    entity_days: dg.MultiPartitionsDefinition,
) -> tuple[list[dg.RunRequest], list[Change]]:
    """One run request per entity-day (of `entity_days`) among the changes no sensor has requested yet.

    Returns the requests and the changes that fall in invoiced months (the correction path).
    """
    candidates = [
        c for c in changes if entity_days.has_partition_key(str(day_key(c.entity, date.fromisoformat(c.day))))
    ]
    by_partition: dict[tuple[str, str], list[Change]] = {}
    for change in candidates:
        by_partition.setdefault((change.entity, change.day), []).append(change)
    run_keys = {part: _run_key(source, part, group) for part, group in by_partition.items()}
    fresh = inbox.claim(candidates, source, run_keys)
    requests: list[dg.RunRequest] = []
    corrections: list[Change] = []
    for entity, day in sorted({(c.entity, c.day) for c in fresh}):
        tags = entity_tags(entity, source)
        # A webhook's run carries its events' ids as its trace id; a poll's run is its own trace.
        tags.update(webhook_trace(c.event_id for c in fresh if (c.entity, c.day) == (entity, day)))
        if str(month_key(entity, _month_of(day))) in invoiced:
            tags[CORRECTION_TAG] = "true"
            corrections += [c for c in fresh if (c.entity, c.day) == (entity, day)]
        requests.append(
            dg.RunRequest(
                run_key=run_keys[(entity, day)],
                partition_key=str(day_key(entity, date.fromisoformat(day))),
                tags=tags,
            )
        )
    return requests, corrections


def webhook_tick(
    context: dg.SensorEvaluationContext, entity_days: dg.MultiPartitionsDefinition
) -> dg.SensorResult | dg.SkipReason:
    """One tick of `pm_webhook_inbox`: the inbox's new events after the cursor, as run requests."""
    inbox = EventInbox()
    cursor = context.cursor or ""
    after = int(cursor) if cursor.isdigit() else 0
    try:
        events = inbox.events_after(after)
    except sqlite3.Error as exc:
        return dg.SkipReason(f"event inbox unavailable ({exc}); next tick retries")
    if not events:
        return dg.SkipReason(f"no new events after #{after}")
    changes = [
        Change(
            e.record_kind or "",
            e.record_id or 0,
            e.updated_at or "",
            e.content_hash or "",
            e.entity or "",
            day,
            e.event_id,
        )
        for e in events
        if e.status == ACCEPTED and e.entity
        for day in e.days
    ]
    requests, corrections = run_requests(
        changes, "webhook", inbox, posted_months(context.instance), entity_days
    )
    corrected = {(c.record_kind, c.record_id, c.updated_at) for c in corrections}
    for event in events:
        if (event.record_kind, event.record_id, event.updated_at) in corrected:
            inbox.mark(
                event.event_id,
                CORRECTION,
                "change in an invoiced month: day re-extracted, month not re-billed; review and rerun bill_and_post",
            )
    context.log.info(f"{len(events)} event(s) after #{after}: {len(requests)} run request(s)")
    return dg.SensorResult(run_requests=requests, cursor=str(events[-1].seq))


def poll_window(cursor: str | None, overlap_s: int, now: datetime) -> dict[str, str]:
    """Each kind's `updated_since` for this tick: its watermark minus the overlap.

    Harvest keeps `updated_at` to the second and an edit can land at (or be stamped with) a
    second already seen, so windows overlap and the ledger drops what was already requested.
    Without a cursor the first window starts `overlap_s` before now.
    """
    try:
        marks = json.loads(cursor) if cursor else {}
    except json.JSONDecodeError:
        marks = {}
    start = now - timedelta(seconds=overlap_s)
    window: dict[str, str] = {}
    for kind in POLLED_KINDS:
        mark = marks.get(kind) if isinstance(marks, dict) else None
        try:
            since = datetime.strptime(str(mark), TIMESTAMP_FORMAT).replace(tzinfo=UTC) - timedelta(
                seconds=overlap_s
            )
        except ValueError:
            since = start
        window[kind] = since.strftime(TIMESTAMP_FORMAT)
    return window


def latest_versions(records: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Upsert by id: of several versions of one record in a window, the latest `updated_at` wins."""
    latest: dict[int, dict[str, Any]] = {}
    for record in records:
        record_id = record.get("id")
        if not isinstance(record_id, int):
            continue
        if record_id not in latest or str(record.get("updated_at") or "") >= str(
            latest[record_id].get("updated_at") or ""
        ):
            latest[record_id] = record
    return latest


def poll_changes(kind: str, records: dict[int, dict[str, Any]], routes: EntityRoutes) -> list[Change]:
    """The changes the polled records stand for (records with no usable spent_date are left to extraction)."""
    changes = []
    for record_id, record in records.items():
        entity, _ = route_record(record, routes)
        try:
            day = date.fromisoformat(str(record.get("spent_date"))).isoformat()
        except ValueError:
            continue  # extraction keeps it and normalization quarantines it with the reason
        _, digest = canonical_payload(record)
        changes.append(Change(kind, record_id, str(record.get("updated_at") or ""), digest, entity, day))
    return changes


def poll_tick(
    context: dg.SensorEvaluationContext,
    harvest: HarvestClient,
    config: BillbridgeConfig,
    entity_days: dg.MultiPartitionsDefinition,
) -> dg.SensorResult | dg.SkipReason:
    """One tick of `pm_updated_since_poll`: the records updated since the watermark, as run requests."""
    routes = EntityRoutes.from_config(config)
    window = poll_window(context.cursor, config.orchestration.poll_overlap_seconds, datetime.now(UTC))
    try:
        marks = json.loads(context.cursor) if context.cursor else {}
    except json.JSONDecodeError:
        marks = {}
    marks = marks if isinstance(marks, dict) else {}
    changes: list[Change] = []
    try:
        for kind in POLLED_KINDS:
            records = latest_versions(
                r for page in harvest.iter_pages(kind, {"updated_since": window[kind]}) for r in page.records
            )
            changes += poll_changes(kind, records, routes)
            seen = max((str(r.get("updated_at") or "") for r in records.values()), default="")
            marks[kind] = max(seen, str(marks.get(kind) or ""), window[kind])
    except (ServiceUnreachableError, httpx.HTTPError, RuntimeError, ValueError) as exc:
        return dg.SkipReason(f"PM API poll failed ({exc}); the next tick retries the same window")
    try:
        requests, corrections = run_requests(
            changes, "poll", EventInbox(), posted_months(context.instance), entity_days
        )
    except sqlite3.Error as exc:
        return dg.SkipReason(f"event inbox unavailable ({exc}); next tick retries")
    for change in corrections:
        context.log.warning(
            f"{change.record_kind} {change.record_id} changed in invoiced month of {change.entity} {change.day}: correction path"
        )
    context.log.info(f"polled since {window}: {len(changes)} change(s), {len(requests)} run request(s)")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(marks, sort_keys=True))


def failure_message(run: dg.DagsterRun, error: str) -> dict[str, str]:
    """The alert for a failed run: entity, partition (or range) and run id."""
    tags = run.tags
    partition = tags.get("dagster/partition") or (
        f"{tags.get('dagster/asset_partition_range_start', '?')}..{tags.get('dagster/asset_partition_range_end', '?')}"
        if "dagster/asset_partition_range_start" in tags
        else "-"
    )
    entity = tags.get(ENTITY_TAG) or tags.get("dagster/partition/entity") or "-"
    return {
        "text": f"billbridge run failed: job {run.job_name}, entity {entity}, partition {partition}, run {run.run_id}: {error}",
        "job": run.job_name,
        "entity": entity,
        "partition": partition,
        "run_id": run.run_id,
        "error": error,
    }


def alert(context: dg.RunFailureSensorContext, orchestration: OrchestrationConfig) -> None:
    """Log the failed run's alert, and POST it to the configured webhook when there is one."""
    # The failed step in one line (not Dagster's "Steps failed: [...]"), its runbook and who to escalate to.
    error = run_failure_line(
        context.instance, context.dagster_run.run_id, os.environ, orchestration.runbook_base_url
    )
    error = alert_text(error or context.failure_event.message or "run failed", orchestration.runbook_base_url,
                       orchestration.escalation)  # fmt: skip
    webhook_url = orchestration.alert_webhook_url
    message = failure_message(context.dagster_run, error)
    context.log.error(message["text"])
    # A failed run pages on-call too (PagerDuty/Opsgenie, when configured), one incident per job and partition.
    paged = page_oncall(run_failure_alert(message, orchestration.runbook_base_url), orchestration)
    if paged:
        context.log.error(paged)
    if not webhook_url:
        return
    try:
        httpx.post(webhook_url, json=message, timeout=10.0).raise_for_status()
    except httpx.HTTPError as exc:  # the alert channel being down must not hide the alert
        context.log.error(f"alert webhook {webhook_url} failed: {exc}; the alert is in this log")


def run_failure_alert(message: dict[str, str], runbook_base: str) -> Alert:
    """The failed run's alert for the on-call route: an ERROR, deduplicated per job, entity and partition."""
    runbook = runbook_for(message["error"])
    return Alert(
        summary=message["text"],
        severity="ERROR",
        dedup_key=f"billbridge/run-failed/{message['job']}/{message['entity']}/{message['partition']}",
        runbook_url=f"{runbook_base}{RUNBOOKS[runbook]}" if runbook else runbook_base,
        details={k: message[k] for k in ("job", "entity", "partition", "run_id")},
    )


# The group close: a month is consolidated when every entity's ledger export for it exists and one
# of them changed (the asset's eager automation condition); runs carry the group's concurrency tag.
group_close = dg.AutomationConditionSensorDefinition(
    "group_close",
    target=dg.AssetSelection.assets(GROUP_CONSOLIDATION),
    run_tags=GROUP_TAGS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Consolidate a month once every entity has exported its ledger for it.",
)


def build_sensors(config: BillbridgeConfig, partitions: Partitions) -> list[dg.SensorDefinition]:
    """Every sensor of a configuration: its entity-days, its poll interval, its alert channel."""
    orchestration = config.orchestration

    # Listens to the durable webhook inbox (`billbridge events serve` fills it) and re-syncs
    # exactly the entity-days the PM system says changed, within a minute of the change.
    @dg.sensor(
        name="pm_webhook_inbox",
        job=extract_and_normalize,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Request the entity-days named by PM webhooks stored in the inbox.",
    )
    def pm_webhook_inbox(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        return webhook_tick(context, partitions.entity_day)

    # The safety net: polls the PM API for records updated since the last watermark (minus an
    # overlap), so a lost or never-sent webhook is caught within one poll interval.
    @dg.sensor(
        name="pm_updated_since_poll",
        job=extract_and_normalize,
        minimum_interval_seconds=orchestration.poll_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Poll the PM API with updated_since (overlapping windows) and request changed entity-days.",
    )
    def pm_updated_since_poll(
        context: dg.SensorEvaluationContext, harvest: HarvestClient
    ) -> dg.SensorResult | dg.SkipReason:
        return poll_tick(context, harvest, config, partitions.entity_day)

    # Listens for failed runs of this code location and raises an alert: the Dagster log always,
    # and a POST to `orchestration.alert_webhook_url` (Slack-compatible `text`) when configured.
    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Alert (log and webhook) naming the entity, partition and run of every failed run.",
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
        alert(context, orchestration)

    return [pm_webhook_inbox, pm_updated_since_poll, alert_on_run_failure, group_close]
