"""Decisions into the warehouse: the append-only match log, each line's state, and settlements to post.

Every decision, the matcher's or a person's, goes through `record`: one match log row, the line's
state moved on (its version + 1), and, when it accepts a match, one settlement row for the outbox.
A person's decision names the version of the line they saw; if the line moved on since (someone
else settled it), `StaleItemError` refuses it and nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from resources.warehouse import append
from rules.money import MONEY
from rules.reconciliation.differences import allocate_oldest_first
from rules.reconciliation.frames import BANK_LINE_SCHEMA, OPEN_ITEM_SCHEMA
from rules.reconciliation.match_log import Actor, log_row
from rules.reconciliation.rule_file import ReconciliationRules

OPEN_STATES = ("proposed", "exception")
SETTLEMENT_ITEM_SCHEMA = pl.Schema(
    {"decision_id": pl.String(), "item_id": pl.String(), "item_number": pl.String(), "currency": pl.String(),
     "applied": MONEY}
)  # fmt: skip
ACCEPTING = ("auto_accepted", "accepted")


class StaleItemError(RuntimeError):
    """The line changed since the person looked at it; their decision is refused, not applied twice."""


@dataclass(frozen=True)
class LineState:
    """A line's current state as the workbench shows it."""

    status: str
    item_ids: list[str]
    version: int
    decision_id: str


def line_state(con: duckdb.DuckDBPyConnection, line_id: str) -> LineState | None:
    """The line's current state, or None when never decided."""
    rows = con.execute(
        "SELECT status, item_ids, version, decision_id FROM reconciliation.line_state WHERE line_id = ?",
        [line_id],
    ).fetchall()  # fetchall: DuckDB 2.0 refuses further work on a connection with a half-read result
    return LineState(rows[0][0], list(rows[0][1]), int(rows[0][2]), rows[0][3]) if rows else None


def undecided_lines(con: duckdb.DuckDBPyConnection, entity: str, start: Any, end: Any) -> pl.DataFrame:
    """Bank lines booked in [start, end] that no decision has closed (new, proposed or exceptions)."""
    return con.sql(
        f"SELECT {', '.join(BANK_LINE_SCHEMA.names())} FROM reconciliation.bank_lines b "
        "WHERE entity = ? AND booking_date BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM "
        "reconciliation.line_state s WHERE s.line_id = b.line_id AND s.status NOT IN ('proposed', 'exception')) "
        "ORDER BY booking_date, line_id",
        params=[entity, start, end],
    ).pl()


def current_items(con: duckdb.DuckDBPyConnection, entity: str) -> pl.DataFrame:
    """The latest receivables snapshot, less what accepted settlements will pay and the snapshot does not
    show yet: a share less its payments the outbox had confirmed before the snapshot was read."""
    return (
        con.sql(
            f"""WITH latest AS (SELECT * FROM reconciliation.receivables WHERE entity = ?
                            AND day = (SELECT max(day) FROM reconciliation.receivables WHERE entity = ?)),
                paid AS (SELECT d.document_number, d.original_number, d.total FROM reconciliation.payment_documents d
                         JOIN posting.outbox o USING (document_number)
                         WHERE o.status = 'confirmed' AND o.updated_at <= (SELECT max(read_at) FROM latest)),
                pending AS (SELECT i.item_id, i.applied - sign(i.applied) * coalesce((SELECT sum(p.total) FROM paid p
                                WHERE p.original_number = i.item_number
                                AND contains(p.document_number, '-PAY-' || left(s.decision_id, 12) || '-')), 0)
                                AS share
                            FROM reconciliation.settlement_items i
                            JOIN reconciliation.settlements s USING (decision_id)
                            WHERE s.entity = ? AND s.status = 'pending')
           SELECT {", ".join(n for n in OPEN_ITEM_SCHEMA.names() if n != "amount_due")},
                  (l.amount_due - coalesce((SELECT sum(share) FROM pending p WHERE p.item_id = l.item_id), 0))
                      ::DECIMAL(18,4) AS amount_due
           FROM latest l""",
            params=[entity, entity, entity],
        )
        .pl()
        .select(OPEN_ITEM_SCHEMA.names())
    )


def _settlement_row(log: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    s = json.loads(log["settlement"])
    return {
        "decision_id": log["decision_id"], "entity": log["entity"], "period": log["period"],
        "line_id": log["line_id"], "item_ids": log["item_ids"], "booking_date": line["booking_date"],
        "bank_currency": line["currency"], "received": s["received"], "fee": s["fee"], "write_off": s["write_off"],
        "fx_difference": s["fx_difference"], "unapplied": s["unapplied"],
        "settled_in_item_currency": s["settled_in_item_currency"], "reason": s["settlement_reason"],
        "status": "pending", "created_at": log["decided_at"],
    }  # fmt: skip


def _settlement_items(log: dict[str, Any]) -> pl.DataFrame:
    """Each item's share of the settlement, oldest due first (as the ladder consumed it)."""
    items = sorted(json.loads(log["items"]), key=lambda i: (i["due_date"] or "", i["item_id"]))
    settled = Decimal(json.loads(log["settlement"])["settled_in_item_currency"])
    dues = [(i["item_id"], Decimal(i["amount_due"])) for i in items]
    by_id = {i["item_id"]: i for i in items}
    rows = [
        {"decision_id": log["decision_id"], "item_id": item_id, "item_number": by_id[item_id]["number"],
         "currency": by_id[item_id]["currency"], "applied": applied}
        for item_id, applied in allocate_oldest_first(settled, dues)
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=SETTLEMENT_ITEM_SCHEMA)


def check_fresh(con: duckdb.DuckDBPyConnection, line_id: str, seen_version: int) -> LineState:
    """The line's state if it is still open at the version the person saw; else StaleItemError naming
    who moved it on and when."""
    state = line_state(con, line_id)
    if state is not None and state.version == seen_version and state.status in OPEN_STATES:
        return state
    who = con.execute(
        "SELECT decided_by, decided_at FROM reconciliation.match_log WHERE decision_id = ?",
        [state.decision_id if state else ""],
    ).fetchall()
    by = f" by {who[0][0]} at {who[0][1]:%Y-%m-%d %H:%M}" if who else ""
    what = f"already {state.status}{by}" if state else "not in the ledger"
    raise StaleItemError(f"bank line {line_id} was {what}; nothing was changed: reload to see it")


def record(
    con: duckdb.DuckDBPyConnection, log: dict[str, Any], line: dict[str, Any], seen_version: int | None = None
) -> None:
    """Append `log` (a match_log row), move the line's state on, and queue its settlement when it accepts.

    `seen_version`: the version the person saw (None for the matcher, which re-decides open lines only).
    """
    state = (
        check_fresh(con, log["line_id"], seen_version)
        if seen_version is not None
        else line_state(con, log["line_id"])
    )
    append(con, "reconciliation.match_log", pl.DataFrame([log]))
    version = 1 if state is None else state.version + 1
    con.execute("DELETE FROM reconciliation.line_state WHERE line_id = ?", [log["line_id"]])
    con.execute(
        "INSERT INTO reconciliation.line_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [log["line_id"], log["entity"], log["period"], log["status"], log["item_ids"], log["decision_id"], version,
         log["decided_at"]],
    )  # fmt: skip
    if log["status"] in ACCEPTING and log["item_ids"]:
        append(con, "reconciliation.settlements", pl.DataFrame([_settlement_row(log, line)]))
        append(con, "reconciliation.settlement_items", _settlement_items(log))


def record_matcher_decisions(
    con: duckdb.DuckDBPyConnection,
    decisions: pl.DataFrame,
    lines: pl.DataFrame,
    items: pl.DataFrame,
    rules: ReconciliationRules,
    actor: Actor,
    period: str,
) -> int:
    """Log the matcher's decisions that differ from each line's state; returns how many were logged."""
    by_line = {row["line_id"]: row for row in lines.iter_rows(named=True)}
    by_item = {row["item_id"]: row for row in items.iter_rows(named=True)}
    logged = 0
    for decision in decisions.iter_rows(named=True):
        state = line_state(con, decision["line_id"])
        if state is not None and (state.status, state.item_ids) == (
            decision["status"],
            list(decision["item_ids"]),
        ):
            continue  # the same verdict again: nothing new to log
        line = by_line[decision["line_id"]]
        chosen = [by_item[i] for i in decision["item_ids"]]
        record(con, log_row(decision, line, chosen, rules, actor, action="matched", period=period), line)
        logged += 1
    return logged


def metrics_inputs(
    con: duckdb.DuckDBPyConnection, entity: str, period: str | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(states, lines, settlements, applied) for rules/reconciliation/metrics.py, one month when `period` is given."""
    where, params = (
        ("AND strftime(b.booking_date, '%Y-%m') = ?", [entity, period]) if period else ("", [entity])
    )
    lines = con.sql(
        f"SELECT line_id, amount, currency FROM reconciliation.bank_lines b WHERE entity = ? {where}",
        params=params,
    ).pl()
    states = (
        con.sql("SELECT line_id, status FROM reconciliation.line_state")
        .pl()
        .join(lines.select("line_id"), on="line_id")
    )
    settlements = con.sql(
        "SELECT s.* FROM reconciliation.settlements s JOIN reconciliation.bank_lines b USING (line_id) "
        f"WHERE s.entity = ? {where}",
        params=params,
    ).pl()
    applied = con.sql(
        "SELECT i.decision_id, i.item_id, i.applied, (SELECT max(r.issue_date) FROM reconciliation.receivables r "
        "WHERE r.item_id = i.item_id) AS issue_date FROM reconciliation.settlement_items i"
    ).pl()
    return states, lines, settlements, applied


def settlements_to_pay(
    con: duckdb.DuckDBPyConnection, entity: str, period: str
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The entity-month's accepted settlements, each with its item shares (oldest due first, with the
    item's kind from the receivables)."""
    settlements = con.sql(
        "SELECT * FROM reconciliation.settlements WHERE entity = ? AND period = ? ORDER BY booking_date, decision_id",
        params=[entity, period],
    ).pl()
    shares = con.sql(
        "SELECT i.*, coalesce((SELECT any_value(r.item_kind) FROM reconciliation.receivables r "
        "WHERE r.item_id = i.item_id), 'invoice') AS item_kind, "
        "(SELECT min(r.due_date) FROM reconciliation.receivables r WHERE r.item_id = i.item_id) AS due_date "
        "FROM reconciliation.settlement_items i JOIN reconciliation.settlements s USING (decision_id) "
        "WHERE s.entity = ? AND s.period = ? ORDER BY due_date, i.item_id",
        params=[entity, period],
    ).pl()
    by_decision: dict[str, list[dict[str, Any]]] = {}
    for share in shares.iter_rows(named=True):
        by_decision.setdefault(share["decision_id"], []).append(share)
    return [(s, by_decision.get(s["decision_id"], [])) for s in settlements.iter_rows(named=True)]
