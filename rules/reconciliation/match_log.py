"""The match log's rows: every decision with the rule, its version, each score component, the thresholds
in force, both source records, who or what decided and when (pure: the caller appends them).

A person's decision (accept, reject, a template applied) is logged the same way, naming the person,
with the components of the candidate they chose, so the log alone tells how every line was settled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rules.reconciliation.rule_file import ReconciliationRules

MATCHER = "billbridge:matcher"
SETTLEMENT_FIELDS = ("received", "expected", "fee", "write_off", "fx_difference", "unapplied", "still_due",
                     "settled_in_item_currency", "settlement_reason")  # fmt: skip
SCORE_FIELDS = ("rung", "confidence", "reference_score", "amount_score", "party_score", "date_score")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def record_json(record: dict[str, Any]) -> str:
    """A source record as JSON, amounts as exact decimal strings."""
    return json.dumps({k: _plain(v) for k, v in record.items()}, sort_keys=True)


@dataclass(frozen=True)
class Actor:
    """Who decided, when, and within which run (None for a person in the workbench)."""

    name: str
    at: datetime
    run_id: str | None = None


def decision_id(entity: str, line_id: str, action: str, actor: Actor) -> str:
    """A stable id for one decision: entity, line, action, actor and instant."""
    seed = f"{entity}|{line_id}|{action}|{actor.name}|{actor.at.isoformat()}"
    return hashlib.sha256(seed.encode()).hexdigest()[:24]


def log_row(
    decision: dict[str, Any],
    line: dict[str, Any],
    items: list[dict[str, Any]],
    rules: ReconciliationRules,
    actor: Actor,
    *,
    action: str,
    period: str,
    comment: str | None = None,
    template_id: str | None = None,
) -> dict[str, Any]:
    """One match log row for `decision` (a DECISION_SCHEMA row) on `line`, naming `actor`."""
    thresholds = rules.document.thresholds
    settlement = {k: _plain(decision.get(k)) for k in SETTLEMENT_FIELDS}
    return {
        "decision_id": decision_id(line["entity"], line["line_id"], action, actor),
        "entity": line["entity"],
        "period": period,
        "line_id": line["line_id"],
        "action": action,
        "status": decision["status"],
        "item_ids": list(decision["item_ids"]),
        "rule_version": rules.version,
        **{k: decision.get(k) for k in SCORE_FIELDS},
        "auto_accept_threshold": float(thresholds.auto_accept),
        "propose_threshold": float(thresholds.propose),
        "anomalies": list(decision.get("anomalies") or []),
        "explanation": decision.get("explanation"),
        "bank_line": record_json(line),
        "items": json.dumps([json.loads(record_json(i)) for i in items]),
        "settlement": json.dumps(settlement),
        "alternatives": decision.get("alternatives"),
        "decided_by": actor.name,
        "decided_at": actor.at,
        "comment": comment,
        "template_id": template_id,
        "run_id": actor.run_id,
    }
