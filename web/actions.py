"""What a person does in the workbench, each through the match log (resources/bank_statements_decisions.py):
accept a proposal or another candidate, reject, comment, and apply a template to many lines at once.

Every action names the version of the line the person saw: a line someone else settled meanwhile is
refused with a message saying who and when, and nothing is applied twice.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from resources.bank_statements_decisions import StaleItemError, check_fresh, current_items, record
from resources.bank_statements_store import reconciliation_transaction
from resources.warehouse import Warehouse
from rules.reconciliation.frames import BANK_LINE_SCHEMA
from rules.reconciliation.ladder import match_lines
from rules.reconciliation.match_log import Actor, log_row
from rules.reconciliation.rule_file import ReconciliationRules


@dataclass(frozen=True)
class Decision:
    """One person's decision on one line, as posted by a form."""

    entity: str
    line_id: str
    seen_version: int
    action: str  # accept | reject
    item_ids: tuple[str, ...] = ()  # empty: the current proposal
    comment: str = ""
    template_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one decision: done, or refused with the reason."""

    line_id: str
    done: bool
    message: str


def _line(con: Any, line_id: str) -> dict[str, Any]:
    frame = con.sql("SELECT * FROM reconciliation.bank_lines WHERE line_id = ?", params=[line_id]).pl()
    if frame.height == 0:
        raise StaleItemError(f"bank line {line_id} does not exist")
    return frame.drop("line_no", "received_day").row(0, named=True)


def _last_decision(con: Any, decision_id: str) -> dict[str, Any]:
    return (
        con.sql("SELECT * FROM reconciliation.match_log WHERE decision_id = ?", params=[decision_id])
        .pl()
        .row(0, named=True)
    )


def _chosen(
    con: Any, entity: str, line: dict[str, Any], item_ids: tuple[str, ...], rules: ReconciliationRules
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score and settle `line` against exactly `item_ids` (the person's choice), as the ladder would."""
    items = current_items(con, entity).filter(pl.col("item_id").is_in(list(item_ids)))
    if items.height != len(set(item_ids)):
        raise StaleItemError(f"bank line {line['line_id']}: an item chosen is no longer in the ledger")
    decision = match_lines(pl.DataFrame([line], schema=BANK_LINE_SCHEMA), items, rules, entity).row(
        0, named=True
    )
    if sorted(decision["item_ids"]) != sorted(item_ids):
        raise StaleItemError(f"bank line {line['line_id']}: the items chosen cannot settle it together")
    return decision, items.to_dicts()


def _proposal(last: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The matcher's proposal as it was logged (components, settlement, items as they stood)."""
    return {**last, **json.loads(last["settlement"])}, json.loads(last["items"])


def decide(warehouse: Warehouse, rules: ReconciliationRules, person: str, decision: Decision) -> Outcome:
    """Apply one decision in one transaction, or refuse it (stale line, unknown item) without writing."""
    try:
        with reconciliation_transaction(warehouse, decision.entity) as con:
            state = check_fresh(con, decision.line_id, decision.seen_version)
            line = _line(con, decision.line_id)
            last = _last_decision(con, state.decision_id)
            items: list[dict[str, Any]] = []
            if decision.action == "reject":
                numbers = ", ".join(i["number"] for i in json.loads(last["items"])) or "no candidate"
                base = {**last, "item_ids": [], "explanation": f"rejected: {numbers}"}
            elif decision.item_ids and sorted(decision.item_ids) != sorted(state.item_ids):
                base, items = _chosen(con, decision.entity, line, decision.item_ids, rules)
            elif state.item_ids:
                base, items = _proposal(last)
            else:
                raise StaleItemError(f"bank line {decision.line_id} has no candidate to accept: choose one")
            base["status"] = "rejected" if decision.action == "reject" else "accepted"
            row = log_row(base, line, items, rules, Actor(person, datetime.now(UTC)), action=f"{decision.action}ed",
                          period=last["period"], comment=decision.comment or None,
                          template_id=decision.template_id)  # fmt: skip
            record(con, row, line, decision.seen_version)
            if decision.comment:
                add_comment(con, decision.entity, decision.line_id, person, decision.comment)
        return Outcome(decision.line_id, True, f"{decision.line_id}: {decision.action}ed")
    except StaleItemError as exc:
        return Outcome(decision.line_id, False, f"refused: {exc}")


def add_comment(con: Any, entity: str, line_id: str, author: str, body: str) -> None:
    """Append a comment to a line's history."""
    con.execute(
        "INSERT INTO reconciliation.comments VALUES (?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, entity, line_id, author, body, datetime.now(UTC)],
    )


@dataclass(frozen=True)
class Template:
    """A saved decision rule: lines whose payer and remittance match these patterns get `action`."""

    template_id: str
    name: str
    payer_pattern: str
    reference_pattern: str
    action: str  # accept (the proposal) | reject

    def matches(self, payer: str | None, remittance: str | None) -> bool:
        """Case-insensitive regular-expression search on both fields."""
        return bool(re.search(self.payer_pattern, payer or "", re.I)) and bool(
            re.search(self.reference_pattern, remittance or "", re.I)
        )


def apply_template(
    warehouse: Warehouse, rules: ReconciliationRules, person: str, template: Template, entities: list[str]
) -> list[Outcome]:
    """Apply `template` to every open line of `entities` it matches, each as its own logged decision."""
    outcomes: list[Outcome] = []
    for entity in entities:
        with reconciliation_transaction(warehouse, entity) as con:
            rows = con.sql(
                "SELECT b.line_id, b.counterparty_name, b.remittance, s.version FROM reconciliation.bank_lines b "
                "JOIN reconciliation.line_state s USING (line_id) WHERE s.status IN ('proposed', 'exception') "
                "ORDER BY b.booking_date, b.line_id"
            ).fetchall()
        for line_id, payer, remittance, version in rows:
            if template.matches(payer, remittance):
                note = f"template {template.name}"
                outcomes.append(decide(warehouse, rules, person, Decision(entity, line_id, version, template.action,
                                                                          comment=note, template_id=template.template_id)))  # fmt: skip
    return outcomes
