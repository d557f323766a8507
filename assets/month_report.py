"""`reporting/month_report`: the controller's month report, one HTML file per month under
BILLBRIDGE_HOME/reports/<period>.html, its figures as numbers in the asset's metadata (plotted by the UI).

The report reads; it never recomputes what a health asset already judged: document and quarantine
counts are `month_outcome`'s (assets/health/states.py), reconciliation figures `entity_metrics`', and
exceptions the weekly review's rows. The KPIs are rules (rules/month_kpis.py) over frames read here.
"""

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from assets.health.outcome_assets import MONTH_OUTCOME
from assets.health.states import month_outcome
from assets.partitions import Partitions, entity_months_to_month
from assets.reconciliation.matches import entity_metrics
from resources.configuration import Settings
from resources.exception_log import entity_exceptions
from resources.month_report_html import write_report
from resources.month_report_store import month_frames
from resources.warehouse import Warehouse, WarehouseBusyError, default_home
from rules.calendar import month_end
from rules.month_kpis import (
    billed_unbilled,
    corrections_per_invoice,
    hands_off,
    posting_latency,
    weekly_exceptions,
)
from rules.month_report import EntityMonth, MonthReport, metadata_numbers, report_figures
from rules.settings import BillbridgeConfig

MONTH_REPORT = dg.AssetKey(["reporting", "month_report"])


def report_path(period: str, home: str | None = None) -> Path:
    """Where the month's report is written: BILLBRIDGE_HOME/reports/<period>.html."""
    return Path(home or default_home()) / "reports" / f"{period}.html"


def _reconciliation(
    warehouse: Warehouse, config: BillbridgeConfig, entity: str, period: str
) -> dict[str, object]:
    # A file never reconciled has no reconciliation tables, and a read-only reader cannot create them.
    try:
        return entity_metrics(warehouse, config, entity, period)
    except duckdb.CatalogException:
        return {}


def entity_month(warehouse: Warehouse, config: BillbridgeConfig, entity: str, month: date) -> EntityMonth:
    """Read one entity's month and compute its KPIs (its dozens of reads on one open of its file)."""
    with warehouse.held(entity):
        return _entity_month(warehouse, config, entity, month)


def _entity_month(warehouse: Warehouse, config: BillbridgeConfig, entity: str, month: date) -> EntityMonth:
    last = month_end(month)
    period = month.strftime("%Y-%m")
    frames = month_frames(warehouse, entity, month, last)
    first_week = month - timedelta(days=month.weekday())  # DuckDB's weeks start on Monday
    return EntityMonth(
        entity=entity,
        base_currency=config.entity(entity).base_currency,
        outcome=month_outcome(warehouse, config, entity, month).numbers(),
        billing=billed_unbilled(frames.lines),
        hands_off=hands_off(frames.documents),
        invoices=frames.invoices,
        corrections=frames.corrections,
        corrections_per_invoice=corrections_per_invoice(frames.corrections, frames.invoices),
        latency=posting_latency(last, frames.booked_on),
        reconciliation=_reconciliation(warehouse, config, entity, period),
        weekly_exceptions=weekly_exceptions(entity_exceptions(warehouse, entity), first_week, last),
    )


def month_report(
    warehouse: Warehouse, config: BillbridgeConfig, month: date, entities: list[str] | None = None
) -> MonthReport:
    """The month's report over `entities` (default: all configured) that have a warehouse file."""
    months, busy = [], []
    for entity in [e for e in (entities or config.entity_ids) if warehouse.exists(e)]:
        try:
            months.append(entity_month(warehouse, config, entity, month.replace(day=1)))
        except WarehouseBusyError:
            busy.append(entity)
    return MonthReport(month.strftime("%Y-%m"), months, busy)


def month_report_asset(
    context: dg.AssetExecutionContext, settings: Settings
) -> Iterator[dg.MaterializeResult]:
    """The controller's month report: billed vs unbilled, exceptions by week, posting latency, dead
    letters, reconciliation status and the KPIs, as one offline HTML file per month."""
    month = date.fromisoformat(context.partition_key)
    # Read-only and briefly, like `billbridge report`: the report never takes a file from a run.
    report = month_report(Warehouse(read_only=True, lock_wait_s=5.0), settings, month)
    path = write_report(report, report_path(report.period))
    figures = report_figures(report)
    yield dg.MaterializeResult(
        metadata={
            **{
                k: dg.MetadataValue.int(v) if isinstance(v, int) else dg.MetadataValue.float(v)
                for k, v in metadata_numbers(figures).items()
            },
            "entities": dg.MetadataValue.int(len(report.entities)),
            "entities_busy": dg.MetadataValue.int(len(report.busy)),
            "path": dg.MetadataValue.path(str(path)),
        }
    )
    if report.busy:  # the page says who is missing; the failed step says it is not done
        raise dg.Failure(
            description=f"month report {report.period}: a run held {', '.join(report.busy)}; rerun it",
            allow_retries=True,
        )


def build_month_report(partitions: Partitions) -> dg.AssetsDefinition:
    """`reporting/month_report` over the group's months, after every entity's month outcome."""
    return dg.asset(
        key=MONTH_REPORT,
        deps=[dg.AssetDep(MONTH_OUTCOME, partition_mapping=entity_months_to_month)],
        partitions_def=partitions.month,
        kinds={"html"},
        group_name="reporting",
        owners=["team:finance-systems"],
    )(month_report_asset)
