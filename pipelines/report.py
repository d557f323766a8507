"""The summary `billbridge report` and `make demo` print, read from the warehouse without disturbing runs.

Every entity's file is opened read-only for the moment of a query (resources/warehouse.py), so
a report never breaks a sync that is writing; an entity a run holds for longer than the wait
is reported busy, not guessed. The text fits 100 columns: documents by kind (client invoices,
intercompany sales and bills, corrections) with net, tax and gross in each currency's minor
units; time, with unbilled hours and value awaiting approval; quarantine counts with reasons;
then one line per finding that keeps an entity-month from being done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb

from assets.reconciliation.matches import entity_metrics, reconciliation_lines
from resources.warehouse import Warehouse, WarehouseBusyError
from rules.money import minor_units
from rules.settings import BillbridgeConfig

# Every outbound document drafted for the entity: (kind label, document type, number, period, ccy, amounts).
_DOCUMENTS = """
SELECT 'invoices' AS kind, invoice_number AS number, period, currency, subtotal, total_tax, total
  FROM billing.invoice_drafts
UNION ALL
SELECT CASE document_type WHEN 'ACCPAY' THEN 'ic bills' ELSE 'ic sales' END, document_number, period, currency,
       subtotal, total_tax, total
  FROM billing.intercompany_documents
UNION ALL
SELECT CASE document_kind WHEN 'credit_note' THEN 'credit notes' ELSE 'supplementary' END, document_number, period,
       currency, subtotal, total_tax, total
  FROM billing.correction_documents
UNION ALL
-- A manual journal's size is its debit side (its lines sum to zero); it carries no tax.
SELECT 'journals', o.document_number, o.period, o.currency, sum(greatest(l.line_amount, 0)), 0,
       sum(greatest(l.line_amount, 0))
  FROM posting.outbox AS o
  JOIN posting.outbox_lines AS l ON l.document_number = o.document_number AND l.content_hash = o.content_hash
 WHERE o.document_kind = 'manual_journal'
 GROUP BY ALL
UNION ALL
SELECT 'payments', document_number, period, currency, draft_total, 0, draft_total
  FROM posting.outbox WHERE document_kind = 'payment'
"""
KIND_ORDER = ("invoices", "ic sales", "ic bills", "supplementary", "credit notes", "journals", "payments")


@dataclass(frozen=True)
class ReportScope:
    """Which entities, and optionally which month (YYYY-MM), the report covers."""

    entities: list[str]
    period: str | None = None

    def day_filter(self) -> tuple[str, list[Any]]:
        """A WHERE fragment on `day` for the period (always true without one)."""
        if self.period is None:
            return "TRUE", []
        first = date.fromisoformat(f"{self.period}-01")
        return "strftime(day, '%Y-%m') = ?", [first.strftime("%Y-%m")]

    def period_filter(self) -> tuple[str, list[Any]]:
        """A WHERE fragment on `period` (always true without one)."""
        return ("TRUE", []) if self.period is None else ("period = ?", [self.period])


def format_number(value: Any, places: int) -> str:
    """`1,154.15`: thousands separated, `places` decimals, half-up."""
    exact = Decimal(str(value if value is not None else 0))
    return f"{exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"


def format_money(amount: Any, currency: str) -> str:
    """`177,227.58`: thousands separated, in the currency's minor units (JPY 0, KWD 3, most 2)."""
    return format_number(amount, minor_units(currency))


def _documents(con: Any, scope: ReportScope) -> list[dict[str, Any]]:
    """Drafted and posted documents by kind and currency, with net, tax and gross."""
    where, params = scope.period_filter()
    rows = con.execute(
        f"""SELECT d.kind, d.currency, count(*) AS drafted, count(o.document_number) AS posted,
                   sum(d.subtotal) AS net, sum(d.total_tax) AS tax, sum(d.total) AS gross
              FROM (SELECT * FROM ({_DOCUMENTS}) WHERE {where}) AS d
              LEFT JOIN posting.outbox AS o ON o.document_number = d.number AND o.status = 'confirmed'
             GROUP BY ALL""",
        params,
    ).fetchall()
    order = {kind: n for n, kind in enumerate(KIND_ORDER)}
    return [
        {"kind": k, "currency": c, "drafted": d, "posted": p, "net": str(n), "tax": str(t), "gross": str(g)}
        for k, c, d, p, n, t, g in sorted(rows, key=lambda r: (order.get(r[0], 9), r[1]))
    ]


def _one(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    return con.execute(sql, params or []).fetchone()[0]


def entity_summary(warehouse: Warehouse, entity: str, scope: ReportScope | None = None) -> dict[str, Any]:
    """Counts and exact totals for one entity (and period, when the scope names one), from its own file."""
    scope = scope or ReportScope([entity])
    days, day_params = scope.day_filter()
    period, period_params = scope.period_filter()
    lines = f"normalized.billable_lines WHERE {days}"
    with warehouse.connect(entity) as con:
        unbilled = con.execute(
            f"SELECT txn_currency, sum(amount_txn) FROM {lines} AND billable AND NOT approved GROUP BY 1 ORDER BY 1",
            day_params,
        ).fetchall()
        by_kind = dict(
            con.execute(
                f"SELECT document_kind, count(*) FROM posting.outbox WHERE status = 'confirmed' AND {period} "
                "GROUP BY 1 ORDER BY 1",
                period_params,
            ).fetchall()
        )
        return {
            "entity": entity,
            "period": scope.period,
            "time_entries": _one(con, f"SELECT count(*) FROM raw.time_entries WHERE {days}", day_params),
            "expenses": _one(con, f"SELECT count(*) FROM raw.expenses WHERE {days}", day_params),
            "billable_hours": str(
                _one(
                    con,
                    f"SELECT coalesce(sum(quantity), 0) FROM {lines} AND billable AND source_kind = 'time'",
                    day_params,
                )
            ),
            "awaiting_approval": _one(
                con, f"SELECT count(*) FROM {lines} AND billable AND NOT approved", day_params
            ),
            "awaiting_approval_hours": str(
                _one(
                    con,
                    f"SELECT coalesce(sum(quantity), 0) FROM {lines} AND billable AND NOT approved "
                    "AND source_kind = 'time'",
                    day_params,
                )
            ),
            "awaiting_approval_value": {str(c): str(v) for c, v in unbilled},
            # Unapproved billable work waits, never billed; its age tells who to chase.
            "awaiting_approval_oldest_days": _one(
                con,
                f"SELECT coalesce(max(current_date - day), 0) FROM {lines} AND billable AND NOT approved",
                day_params,
            ),
            "documents": _documents(con, scope),
            "invoices_drafted": _one(
                con, f"SELECT count(*) FROM billing.invoice_drafts WHERE {period}", period_params
            ),
            "invoices_posted": by_kind.get("invoice", 0),
            "documents_posted_by_kind": by_kind,
            # Documents dated inside the tenant's locked period wait, never sent; the reason says until when.
            "posting_held": [
                f"{number}: {reason}"
                for number, reason in con.execute(
                    f"SELECT document_number, last_error FROM posting.outbox WHERE {period} AND status = 'pending' "
                    "AND last_error LIKE 'held:%' ORDER BY 1",
                    period_params,
                ).fetchall()
            ],
            # Corrections after invoicing not issued as computed: moved past the lock date, held, or blocked.
            "corrections_held": [
                f"{number}: {status}: {reason}"
                for number, status, reason in con.execute(
                    "SELECT coalesce(document_number, original_number), status, reason "
                    f"FROM billing.correction_holds WHERE {period} ORDER BY period, 1",
                    period_params,
                ).fetchall()
            ],
            "dead_letters": _one(
                con,
                f"SELECT count(*) FROM posting.outbox WHERE {period} AND status = 'dead_letter'",
                period_params,
            ),
            "totals_txn": _totals(
                con,
                f"SELECT currency, sum(total) FROM billing.invoice_drafts WHERE {period} "
                "GROUP BY 1 ORDER BY 1",
                period_params,
            ),
            "totals_base": _totals(
                con,
                "SELECT base_currency, sum(total_base) FROM billing.invoice_drafts "
                f"WHERE {period} GROUP BY 1 ORDER BY 1",
                period_params,
            ),
            "quarantined": _one(con, f"SELECT count(*) FROM normalized.quarantine WHERE {days}", day_params),
            "quarantined_by_reason": dict(
                con.execute(
                    f"SELECT reason, count(*) FROM normalized.quarantine WHERE {days} GROUP BY 1 ORDER BY 2 DESC, 1",
                    day_params,
                ).fetchall()
            ),
            "checks_failed": _one(con, "SELECT count(*) FROM quality.check_results WHERE NOT passed"),
            "periods": [
                p
                for (p,) in con.execute(
                    f"SELECT DISTINCT period FROM ({_DOCUMENTS}) WHERE {period} UNION "
                    f"SELECT DISTINCT period FROM posting.outbox WHERE {period} ORDER BY 1",
                    period_params * 2,
                ).fetchall()
            ],
        }


def _totals(con: Any, sql: str, params: list[Any]) -> dict[str, str]:
    return {
        str(currency): str(Decimal(total).quantize(Decimal("0.01")) if total is not None else "0")
        for currency, total in con.execute(sql, params).fetchall()
    }


def _findings(
    warehouse: Warehouse, config: BillbridgeConfig, entity: str, periods: list[str]
) -> list[dict[str, Any]]:
    """What keeps each of the entity's months from being done (assets/health/states.py)."""
    from assets.health.states import month_outcome

    base = config.orchestration.runbook_base_url
    return [
        {"line": f.line(base), "failed": f.failed}
        for p in periods
        for f in month_outcome(warehouse, config, entity, date.fromisoformat(f"{p}-01")).findings
    ]


def _reconciliation(warehouse: Warehouse, config: BillbridgeConfig, entity: str) -> dict[str, Any]:
    """The entity's reconciliation figures; none for a file that was never reconciled (read-only, the
    report cannot create the reconciliation tables)."""
    try:
        return entity_metrics(warehouse, config, entity)
    except duckdb.CatalogException:
        return {}


def summary(
    config: BillbridgeConfig, warehouse: Warehouse, scope: ReportScope | None = None
) -> list[dict[str, Any]]:
    """One summary per entity in scope that has a warehouse file; a busy entity says so instead."""
    scope = scope or ReportScope(config.entity_ids)
    rows = []
    for entity in [e for e in scope.entities if warehouse.exists(e)]:
        try:
            row = entity_summary(warehouse, entity, scope)
            row["findings"] = _findings(warehouse, config, entity, row["periods"])
            row["reconciliation"] = _reconciliation(warehouse, config, entity)
        except WarehouseBusyError as exc:
            row = {"entity": entity, "busy": str(exc)}
        rows.append(row)
    return rows


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Fixed-width columns, numbers right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def format_table(rows: list[dict[str, Any]]) -> str:
    """The summary as text, every line within 100 columns."""
    ready = [r for r in rows if not r.get("busy")]
    scope = next((r["period"] for r in ready if r.get("period")), None)
    out = [f"Documents{f' of {scope}' if scope else ''} (net + tax = gross, in each document's currency)"]
    out += _table(
        ["entity", "kind", "drafted", "posted", "ccy", "net", "tax", "gross"],
        [
            [
                r["entity"],
                d["kind"],
                str(d["drafted"]),
                str(d["posted"]),
                d["currency"],
                *(format_money(d[k], d["currency"]) for k in ("net", "tax", "gross")),
            ]
            for r in ready
            for d in r["documents"]
        ],
        right={2, 3, 5, 6, 7},
    )
    out += ["", "Time (unbilled: billable work awaiting approval, never billed until approved)"]
    out += _table(
        ["entity", "entries", "billable h", "unbilled h", "unbilled value", "oldest"],
        [
            [
                r["entity"],
                str(r["time_entries"]),
                format_number(r["billable_hours"], 2),
                format_number(r["awaiting_approval_hours"], 2),
                ", ".join(f"{format_money(v, c)} {c}" for c, v in r["awaiting_approval_value"].items())
                or "-",
                f"{r['awaiting_approval_oldest_days']} d" if r["awaiting_approval"] else "-",
            ]
            for r in ready
        ],
        right={1, 2, 3, 4, 5},
    )
    out += ["", "Quarantined records (normalized.quarantine: entry, hours and project in `detail`)"]
    out += [
        _clip(f"  {r['entity']}: {r['quarantined']}"
              + (": " + ", ".join(f"{k} {v}" for k, v in r["quarantined_by_reason"].items()) if r["quarantined"] else ""))
        for r in ready
    ]  # fmt: skip
    out += [_clip(line) for line in reconciliation_lines(ready)]
    out += _attention(rows)
    return "\n".join(out + events_footer())


def _attention(rows: list[dict[str, Any]]) -> list[str]:
    """Findings, held documents and corrections, failed checks and busy entities: one line each."""
    lines = [f"! {r['entity']}: {r['busy']}" for r in rows if r.get("busy")]
    for r in (r for r in rows if not r.get("busy")):
        lines += [("! " if f["failed"] else "~ ") + f["line"] for f in r.get("findings", [])]
        lines += [f"~ {r['entity']} held: {item}" for item in r["posting_held"]]
        lines += [f"~ {r['entity']} correction {item}" for item in r["corrections_held"]]
        if r["checks_failed"]:
            lines.append(f"! {r['entity']}: {r['checks_failed']} failed check(s) in quality.check_results")
    if not lines:
        return ["", "Nothing needs attention."]
    return ["", "Needs attention (! not done, ~ waiting on purpose):", *(_clip(line) for line in lines)]


def _clip(line: str, width: int = 100) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


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
    rows = [
        [p, s, item, ccy, *(format_money(v, ccy) for v in (e, x, g))]
        for p, s, item, ccy, e, x, g in frame.iter_rows()
    ]
    return "\n".join(
        _table(
            ["period", "statement", "line item", "ccy", "entities", "eliminations", "group"], rows, {4, 5, 6}
        )
    )
