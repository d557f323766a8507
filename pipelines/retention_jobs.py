"""`archive_closed_periods`: archive a closed month of every entity from Dagster (docs/decisions/0032).

An op job: the month (default: the last closed one) and the entities travel in the run config, and
each archived entity-month is reported with its row and table counts. Purging stays a command
(`billbridge purge`): deleting needs a person who has read the dry run.
"""

# No `from __future__ import annotations`: Dagster reads the op's config and resource types at run time.

from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from resources.archive import Archive
from resources.audit_log import AuditLog
from resources.configuration import Settings
from resources.warehouse import Warehouse
from rules.retention.decisions import check_period


class ArchiveConfig(dg.Config):
    """Run config of `archive_closed_periods`."""

    period: str = Field(default="", description="YYYY-MM; empty: the month before this one")
    entities: list[str] = Field(
        default=[], description="entity ids; empty: every entity with a warehouse file"
    )


def last_closed_period(today: date) -> str:
    """The month before `today`'s."""
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


@dg.op(description="Archive one closed month of each entity to Parquet with a checksummed manifest.")
def archive_periods(  # type: ignore[no-untyped-def]
    context: dg.OpExecutionContext, config: ArchiveConfig, warehouse: Warehouse, settings: Settings
):
    period = check_period(config.period or last_closed_period(date.today()))
    unknown = sorted(set(config.entities) - set(settings.entity_ids))
    if unknown:
        raise dg.Failure(f"entities {unknown} are not configured; configured: {settings.entity_ids}")
    archive = Archive(warehouse, AuditLog(), f"dagster run {context.run_id}")
    for entity in config.entities or settings.entity_ids:
        if not warehouse.exists(entity):
            continue
        manifest = archive.write(entity, period, date.today())
        context.log_event(
            dg.AssetObservation(
                asset_key=dg.AssetKey(["retention", "archive"]),
                partition=None,
                metadata={
                    "entity": entity,
                    "period": period,
                    "tables": dg.MetadataValue.int(len(manifest.tables)),
                    "rows": dg.MetadataValue.int(sum(t.rows for t in manifest.tables)),
                },
            )
        )


@dg.job(
    description="Archive a closed month of each entity (retention, decision 0032).",
    executor_def=dg.in_process_executor,
)
def archive_closed_periods() -> None:
    archive_periods()
