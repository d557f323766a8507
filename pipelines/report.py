"""The per-entity summary `billbridge report` and `make demo` print, read from the warehouse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from resources.configuration import BillbridgeConfig
from resources.warehouse import Warehouse


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
            "invoices_posted": one("SELECT count(*) FROM posting.outbox WHERE status = 'confirmed'"),
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
    return [entity_summary(warehouse, e) for e in config.entity_ids if warehouse.exists(e)]


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
    return "\n".join(lines + events_footer())


def events_footer() -> list[str]:
    """PM webhook events by status, when there are any (rejections are listed by `billbridge events list`)."""
    from resources.event_inbox import EventInbox

    counts = EventInbox().counts()
    if not counts:
        return []
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    return ["", f"PM events: {summary}  (reasons: billbridge events list)"]
