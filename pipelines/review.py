"""The weekly sync-log review: exceptions per entity and week, as one markdown table in the UI, and the
latest month's KPIs (the month report's figures, decision 0034) as a table and as numbers.

An op job rather than an asset: it reads every entity's warehouse and the event inbox and
stores nothing new, so there is no data for downstream assets to depend on; its output is
the run's metadata, visible in the UI, and the same rows are in the run's log.
"""

from datetime import date
from typing import Any

import dagster as dg
import duckdb

from assets.month_report import month_report
from pipelines.report_html import latest_period
from resources.configuration import Settings
from resources.event_inbox import EventInbox
from resources.exception_log import EXCEPTION_QUERIES, entity_exceptions  # noqa: F401  (re-exported)
from resources.warehouse import Warehouse, WarehouseBusyError
from rules.month_report import figures_markdown, metadata_numbers, report_figures
from rules.settings import BillbridgeConfig


def markdown(rows: list[dict[str, Any]]) -> str:
    """The review as a markdown table, newest week first."""
    if not rows:
        return "No exceptions."
    ordered = sorted(rows, key=lambda r: (r["week"], r["entity"], r["kind"], r["reason"]), reverse=True)
    lines = ["| week | entity | kind | reason | count |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {r['week']} | {r['entity']} | {r['kind']} | {r['reason']} | {r['count']} |" for r in ordered
    ]
    return "\n".join(lines)


@dg.op(description="Collect exceptions per entity and week from every warehouse and the event inbox.")
def review_exceptions(context: dg.OpExecutionContext, settings: Settings) -> dg.Output[int]:
    # Read-only and briefly: the review must never take an entity's file from a run writing it.
    warehouse = Warehouse(read_only=True, lock_wait_s=5.0)
    rows: list[dict[str, Any]] = []
    busy: list[str] = []
    for entity in settings.entity_ids:
        try:
            rows += entity_exceptions(warehouse, entity)
        except (duckdb.Error, WarehouseBusyError) as exc:  # a run holds the file: review the others
            busy.append(entity)
            context.log.warning(f"{entity}: warehouse busy, left out of this review: {exc}")
    inbox = EventInbox()
    for event_id, event_type, reason in inbox.rejected(limit=1000):
        rows.append({"entity": "-", "week": "-", "kind": "rejected event", "reason": reason, "count": 1})
        context.log.info(f"rejected event {event_id} ({event_type}): {reason}")
    total = sum(int(r["count"]) for r in rows)
    return dg.Output(
        total,
        metadata={
            "exceptions": total,
            "entities_busy": ", ".join(busy) or "none",
            "review": dg.MetadataValue.md(markdown(rows)),
            **month_kpis(warehouse, settings, [e for e in settings.entity_ids if e not in busy]),
        },
    )


def month_kpis(warehouse: Warehouse, config: BillbridgeConfig, entities: list[str]) -> dict[str, Any]:
    """The latest month's KPIs (the month report's figures): a markdown table, and each as a number
    under `kpi/` so the UI plots them from one weekly review to the next."""
    period = latest_period(warehouse, entities)
    try:
        report = month_report(warehouse, config, date.fromisoformat(f"{period}-01"), entities)
    except duckdb.Error as exc:  # the exceptions above still make the review; the KPIs say why not
        return {"kpi_period": period, "kpis": f"unavailable: {exc}"}
    figures = report_figures(report)
    return {
        "kpi_period": period,
        "kpis": dg.MetadataValue.md(figures_markdown(figures)),
        **{f"kpi/{name}": value for name, value in metadata_numbers(figures).items()},
    }


@dg.job(description="Weekly sync-log review: exceptions per entity and week.")
def weekly_review() -> None:
    review_exceptions()
