"""The per-entity summary `billbridge report` and `make demo` print, read from the warehouse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from assets.reconciliation.matches import entity_metrics, reconciliation_lines
from resources.warehouse import Warehouse
from rules.settings import BillbridgeConfig


def _totals(rows: list[tuple[Any, ...]]) -> dict[str, str]:
    return {
        str(currency): str(Decimal(total).quantize(Decimal("0.01")) if total is not None else "0")
        for currency, total in rows
    }


def entity_summary(warehouse: Warehouse, entity: str) -> dict[str, Any]:
    """Counts and exact totals for one entity, from its own DuckDB file."""
    with warehouse.connect(entity) as con:

        def one(sql: str) -> Any:
            return con.execute(sql).fetchone()[0]  # type: ignore[index]

        return {
            "entity": entity,
            "time_entries": one("SELECT count(*) FROM raw.time_entries"),
            "expenses": one("SELECT count(*) FROM raw.expenses"),
            "billable_hours": str(
                one(
                    "SELECT coalesce(sum(quantity), 0) FROM normalized.billable_lines WHERE billable AND source_kind = 'time'"
                )
            ),
            "awaiting_approval": one(
                "SELECT count(*) FROM normalized.billable_lines WHERE billable AND NOT approved"
            ),
            # Unapproved billable work waits, never billed; its age tells who to chase.
            "awaiting_approval_oldest_days": one(
                "SELECT coalesce(max(current_date - day), 0) FROM normalized.billable_lines "
                "WHERE billable AND NOT approved"
            ),
            "invoices_drafted": one("SELECT count(*) FROM billing.invoice_drafts"),
            "invoices_posted": one(
                "SELECT count(*) FROM posting.outbox WHERE status = 'confirmed' AND document_kind = 'invoice'"
            ),
            "documents_posted_by_kind": dict(
                con.execute(
                    "SELECT document_kind, count(*) FROM posting.outbox WHERE status = 'confirmed' GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
            # Documents dated inside the tenant's locked period wait, never sent; the reason says until when.
            "posting_held": [
                f"{number}: {reason}"
                for number, reason in con.execute(
                    "SELECT document_number, last_error FROM posting.outbox "
                    "WHERE status = 'pending' AND last_error LIKE 'held:%' ORDER BY 1"
                ).fetchall()
            ],
            # Corrections after invoicing not issued as computed: moved past the lock date, held, or blocked.
            "corrections_held": [
                f"{number}: {status}: {reason}"
                for number, status, reason in con.execute(
                    "SELECT coalesce(document_number, original_number), status, reason "
                    "FROM billing.correction_holds ORDER BY period, 1"
                ).fetchall()
            ],
            "dead_letters": one("SELECT count(*) FROM posting.outbox WHERE status = 'dead_letter'"),
            "totals_txn": _totals(
                con.execute(
                    "SELECT currency, sum(total) FROM billing.invoice_drafts GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
            "totals_base": _totals(
                con.execute(
                    "SELECT base_currency, sum(total_base) FROM billing.invoice_drafts GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
            "quarantined": one("SELECT count(*) FROM normalized.quarantine"),
            "quarantined_by_reason": dict(
                con.execute(
                    "SELECT reason, count(*) FROM normalized.quarantine GROUP BY 1 ORDER BY 1"
                ).fetchall()
            ),
            "checks_failed": one("SELECT count(*) FROM quality.check_results WHERE NOT passed"),
        }


def summary(config: BillbridgeConfig, warehouse: Warehouse) -> list[dict[str, Any]]:
    """One summary per configured entity that has a warehouse file."""
    return [
        {**entity_summary(warehouse, e), "reconciliation": entity_metrics(warehouse, e)}
        for e in config.entity_ids
        if warehouse.exists(e)
    ]


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table of the summaries."""
    columns = [
        ("entity", "entity"),
        ("time_entries", "time entries"),
        ("billable_hours", "billable h"),
        ("awaiting_approval", "unapproved"),
        ("awaiting_approval_oldest_days", "oldest (days)"),
        ("invoices_drafted", "drafted"),
        ("invoices_posted", "posted"),
        ("documents_posted_by_kind", "posted (all kinds)"),
        ("totals_txn", "total (transaction ccy)"),
        ("totals_base", "total (base ccy)"),
        ("quarantined", "quarantined"),
        ("checks_failed", "checks failed"),
    ]

    def cell(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{v} {k}" for k, v in value.items()) or "-"
        return str(value)

    table = [[title for _, title in columns]] + [[cell(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    held = [f"  {row['entity']} {item}" for row in rows for item in row.get("posting_held", [])]
    corrections = [f"  {row['entity']} {item}" for row in rows for item in row.get("corrections_held", [])]
    return "\n".join(
        lines
        + (["", "Held (dated inside a locked period):", *held] if held else [])
        + (["", "Corrections held, moved or blocked:", *corrections] if corrections else [])
        + reconciliation_lines(rows)
        + events_footer()
    )


def events_footer() -> list[str]:
    """PM webhook events by status, when there are any (rejections are listed by `billbridge events list`)."""
    from resources.event_inbox import EventInbox

    counts = EventInbox().counts()
    if not counts:
        return []
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    return ["", f"PM events: {summary}  (reasons: billbridge events list)"]


def group_table(warehouse: Warehouse, periods: list[str]) -> str:
    """The group close of each period: entities' totals, eliminations and the group, in the reporting currency."""
    if not warehouse.group_path().exists():
        return "group: not consolidated yet"
    frame = warehouse.group_query(
        "SELECT period, statement, line_item, reporting_currency, entities_total, eliminations, group_total "
        "FROM consolidation.group_totals WHERE period IN (SELECT unnest(?::VARCHAR[])) ORDER BY ALL",
        [periods],
    )
    if frame.height == 0:
        return "group: not consolidated yet"
    rows = [["period", "statement", "line item", "ccy", "entities", "eliminations", "group"]]
    rows += [[str(v) for v in row] for row in frame.iter_rows()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
