"""`posting/pm_write_back`, entity x month: what the ledger booked, written back to Harvest exactly once.

Downstream of posting: booked invoices become Harvest invoices of the same number that bill and lock
the period's tracked time there, booked payments become their payments; credit notes and refunds are
recorded as not written back, with the reason (docs/decisions/0031). Off unless the entity's
`pm_write_back` switch is on: then the step sends nothing to Harvest at all.
"""

import dagster as dg
import polars as pl

from assets.partitions import Partitions, month_slices
from assets.posting.posted_invoices import POSTED_INVOICES
from assets.posting.write_back_pass import WriteBackOutcome, write_back_period
from assets.reporting import preview
from resources.configuration import Settings
from resources.harvest import HarvestClient
from resources.harvest_invoices import HarvestInvoices
from resources.warehouse import Warehouse

PM_WRITE_BACK = dg.AssetKey(["posting", "pm_write_back"])
COUNTS = (
    "created",
    "found_by_lookup",
    "already_written",
    "not_written_back",
    "refused",
    "in_doubt",
    "waiting",
)


def write_back_months(
    context: dg.AssetExecutionContext, warehouse: Warehouse, harvest: HarvestClient, settings: Settings
) -> dg.MaterializeResult:
    """Write each entity-month's booked invoices and payments back to Harvest; report what did not go."""
    totals = dict.fromkeys((*COUNTS, "requests"), 0)
    statuses: list[str] = []
    frames = []
    for part in month_slices(context):
        entity = settings.entity(part.entity)
        outcome = write_back_period(
            entity, part.period, warehouse, HarvestInvoices(harvest), context.run.run_id
        )
        for key in totals:
            value = getattr(outcome, key)
            totals[key] += value if isinstance(value, int) else len(value)
        statuses += [f"{part.label()}: {s}" for s in _problems(outcome)]
        context.log.info(f"{part.label()}: " + ", ".join(f"{k} {len(getattr(outcome, k))}" for k in COUNTS))
        if warehouse.exists(part.entity):
            frames.append(
                warehouse.query(
                    part.entity,
                    "SELECT * FROM posting.pm_write_back WHERE entity = ? AND period = ?",
                    [part.entity, part.period],
                )
            )
    rows = pl.concat(frames) if frames else pl.DataFrame()
    if statuses:
        context.log.warning("write-back not complete: " + "; ".join(statuses))
    return dg.MaterializeResult(
        metadata={
            **{key: dg.MetadataValue.int(value) for key, value in totals.items()},
            "write_back_status": "; ".join(statuses) or "written back",
            "dagster/row_count": dg.MetadataValue.int(rows.height),
            "write_back": dg.MetadataValue.md(
                preview(rows, ["document_number", "document_kind", "state", "pm_id", "reason"], rows=20)
            ),
        }
    )


def _problems(outcome: WriteBackOutcome) -> list[str]:
    """What an operator should know about a pass: switched off, stopped, refused, in doubt."""
    problems = [outcome.skipped or "", outcome.stopped or ""]
    problems.append(f"refused by Harvest: {', '.join(outcome.refused)}" if outcome.refused else "")
    problems.append(
        f"outcome unknown until the next run: {', '.join(outcome.in_doubt)}" if outcome.in_doubt else ""
    )
    return [p for p in problems if p]


def build_pm_write_back(partitions: Partitions) -> dg.AssetsDefinition:
    """`posting/pm_write_back` over the configuration's entity-months, after posting."""
    return dg.asset(
        key=PM_WRITE_BACK,
        deps=[POSTED_INVOICES],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"harvest", "duckdb"},
        group_name="posting",
        owners=["team:finance-systems"],
    )(write_back_months)
