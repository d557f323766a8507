"""The month report as one self-contained HTML file: Jinja2, inline CSS and SVG, no script and nothing
fetched, so it opens offline, in a mail attachment or an archive, exactly as it was written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2

from resources.atomic_files import write_atomically
from rules.month_report import MonthReport, report_figures
from rules.report_charts import Chart, Row, bar_chart

TEMPLATES = Path(__file__).parent / "templates"
SERIES_COLOURS = ("#2f6fb3", "#e0912f", "#5a9e4b", "#b3413b")


def charts(report: MonthReport) -> list[Chart]:
    """The controller's charts: billed vs unbilled, exceptions by week, posting latency, dead letters,
    reconciliation status."""
    months = report.entities
    by_name = {(f.entity, f.name): f for f in report_figures(report)}

    def row(entity: str, names: tuple[str, ...]) -> Row:
        figures = [by_name[(entity, n)] for n in names]
        return Row(entity, tuple(f.value for f in figures), tuple(f.text for f in figures))

    weeks = sorted({w for m in months for w in m.weekly_exceptions})
    return [
        bar_chart(
            "Billed vs unbilled (net, base currency)",
            ("billed", "unbilled"),
            [row(m.entity, ("billed", "unbilled")) for m in months],
        ),
        bar_chart(
            "Exceptions per week (quarantine, failed checks, dead letters)",
            tuple(m.entity for m in months),
            [
                Row(
                    w,
                    tuple(m.weekly_exceptions.get(w, 0) for m in months),
                    tuple(str(m.weekly_exceptions.get(w, 0)) for m in months),
                )
                for w in weeks
            ],
        ),
        bar_chart(
            "Posting latency: days from period end to invoice booked",
            ("median", "max"),
            [row(m.entity, ("posting_latency_median_days", "posting_latency_max_days")) for m in months],
        ),
        bar_chart(
            "Documents not in the ledger",
            ("dead letters", "not sent", "held"),
            [row(m.entity, ("dead_letters", "not_sent", "held")) for m in months],
        ),
        bar_chart(
            "Reconciliation status (bank lines)",
            ("auto", "by hand", "proposed", "open exceptions"),
            [
                row(m.entity, ("matched_automatically", "matched_by_hand", "proposed", "open_exceptions"))
                for m in months
            ],
        ),
    ]


def render(report: MonthReport, generated_at: datetime | None = None) -> str:
    """The report's HTML text."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    figures = report_figures(report)
    return environment.get_template("month_report.html.j2").render(
        report=report,
        rows={m.entity: [f for f in figures if f.entity == m.entity] for m in report.entities},
        charts=charts(report),
        colours=SERIES_COLOURS,
        generated_at=(generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(report: MonthReport, path: Path) -> Path:
    """Render and write the report to `path` atomically (a reader never sees half a page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, render(report).encode("utf-8"))
    return path
