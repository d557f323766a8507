"""Reconciliation's jobs and sensors: statement files picked up from the inbox, then the months matched.

Two jobs because their partitions differ: `load_bank_statements` (entity x day: the inbox and the
receivables snapshot) and `reconcile_bank` (entity x month: the matching ladder). Both run in-process
and carry the entity tag, so they queue behind the entity's other runs (one writer per DuckDB file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.partitions import Partitions, day_key, month_key
from assets.posting.posted_invoices import POSTED_INVOICES
from assets.reconciliation.inputs import BANK_STATEMENT_LINES, RECEIVABLES
from assets.reconciliation.matches import BANK_MATCHES
from assets.reconciliation.settlement_payments import SETTLEMENT_PAYMENTS
from pipelines.concurrency import entity_tags
from resources.bank_statements_inbox import inbox_folder, pending_files
from resources.warehouse import default_home
from rules.calendar import previous_local_day
from rules.settings import BillbridgeConfig

load_bank_statements = dg.define_asset_job(
    "load_bank_statements",
    selection=dg.AssetSelection.assets(BANK_STATEMENT_LINES, RECEIVABLES),
    executor_def=dg.in_process_executor,
    description="Read an entity's bank statement inbox and its receivables from the accounting system.",
)

reconcile_bank = dg.define_asset_job(
    "reconcile_bank",
    # The month's posting pass sends the Payments through the outbox, after the documents they pay.
    selection=dg.AssetSelection.assets(BANK_MATCHES, SETTLEMENT_PAYMENTS, POSTED_INVOICES),
    executor_def=dg.in_process_executor,
    description="Match an entity-month's bank lines to its invoices, log every decision, draft the Payments "
    "and post them through the outbox.",
)


def _inbox_digest(names_and_sizes: list[tuple[str, int, int]]) -> str:
    return hashlib.sha256(repr(sorted(names_and_sizes)).encode()).hexdigest()[:16]


def inbox_requests(
    config: BillbridgeConfig, entity_days: dg.MultiPartitionsDefinition
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """`load_bank_statements` for every configured entity with files waiting in its inbox."""
    home, requested = default_home(), False
    for entity in config.entities:
        files = pending_files(inbox_folder(home, entity.id))
        if not files:
            continue
        key = day_key(entity.id, previous_local_day(datetime.now(UTC), entity.timezone))
        if not entity_days.has_partition_key(str(key)):
            continue
        stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        requested = True
        yield dg.RunRequest(
            run_key=f"bank_inbox|{entity.id}|{_inbox_digest(stats)}",
            partition_key=str(key),
            tags=entity_tags(entity.id, "bank_statement_inbox"),
        )
    if not requested:
        yield dg.SkipReason("no statement files waiting in any inbox")


def months_to_reconcile(
    entity: str, day: date, entity_months: dg.MultiPartitionsDefinition
) -> list[dg.MultiPartitionKey]:
    """The inbox day's month and the one before (statements arrive after the month they cover)."""
    first = day.replace(day=1)
    months = [first, (first - timedelta(days=1)).replace(day=1)]
    keys = [month_key(entity, m) for m in months]
    return [k for k in keys if entity_months.has_partition_key(str(k))]


def loaded_requests(asset_event: dg.EventLogEntry, partitions: Partitions) -> Iterator[dg.RunRequest]:
    """`reconcile_bank` for the months of an entity-day whose statement lines were just loaded."""
    partition = asset_event.dagster_event.partition if asset_event.dagster_event else None
    if partition is None:
        return
    dims = partitions.entity_day.get_partition_key_from_str(partition).keys_by_dimension
    for key in months_to_reconcile(dims["entity"], date.fromisoformat(dims["day"]), partitions.entity_month):
        yield dg.RunRequest(
            run_key=f"bank_lines_loaded|{asset_event.run_id}|{partition}|{key}",
            partition_key=str(key),
            tags=entity_tags(dims["entity"], "bank_lines_loaded"),
        )


RECONCILIATION_JOBS = [load_bank_statements, reconcile_bank]


def build_reconciliation_sensors(
    config: BillbridgeConfig, partitions: Partitions
) -> list[dg.SensorDefinition]:
    """The inbox sensor over the configured entities, and the match request after each load."""

    # Listens for files dropped into $BILLBRIDGE_HOME/inbox/bank/<entity>/: one run per entity and set of
    # files (the run key names the files, so an unchanged inbox is not requested twice). The run reads the
    # inbox as of the entity's yesterday, the latest day partition that exists.
    @dg.sensor(
        job=load_bank_statements, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED
    )
    def bank_statement_inbox(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
        """Request `load_bank_statements` for every entity with files waiting in its inbox."""
        yield from inbox_requests(config, partitions.entity_day)

    # Once statement lines are loaded for an entity-day, its months are matched: the match runs after
    # the load by construction (it is requested by the load's own materialization).
    @dg.asset_sensor(
        asset_key=BANK_STATEMENT_LINES, job=reconcile_bank, default_status=dg.DefaultSensorStatus.STOPPED
    )
    def bank_lines_loaded(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> Iterator[dg.RunRequest]:
        """Request `reconcile_bank` for the months of an entity-day whose statement lines were just loaded."""
        yield from loaded_requests(asset_event, partitions)

    return [bank_statement_inbox, bank_lines_loaded]
