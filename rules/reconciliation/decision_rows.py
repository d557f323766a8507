"""The ladder's decisions (one per bank line) and their rows in DECISION_SCHEMA, built column by column."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import polars as pl

from rules.money import MONEY
from rules.reconciliation.differences import Settlement
from rules.reconciliation.frames import DECISION_SCHEMA
from rules.reconciliation.rows import Item
from rules.reconciliation.scoring import Components


class Candidate(NamedTuple):
    """Items a line may pay, how it would settle them, and the score (a tuple: built for every
    candidate of every line, and far cheaper to build than a frozen dataclass)."""

    item_ids: tuple[str, ...]
    rung: str
    components: Components
    confidence: float
    settlement: Settlement


class Decision(NamedTuple):
    """The ladder's verdict on one bank line."""

    line_id: str
    status: str
    best: Candidate | None
    alternatives: tuple[Candidate, ...]
    anomalies: tuple[str, ...]


def decision_frame(decisions: list[Decision], items: dict[str, Item], entity: str) -> pl.DataFrame:
    """The decisions as DECISION_SCHEMA rows, in their order."""
    return _frame([_row(d, items, entity) for d in decisions])


def _frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(DECISION_SCHEMA)
    # Money and lists travel as text and are converted once, column by column: exact, and far faster
    # than building Decimal and list cells row by row.
    data: dict[str, list[Any]] = {}
    as_text: dict[str, pl.DataType] = {}
    for (name, dtype), values in zip(DECISION_SCHEMA.items(), columns, strict=True):
        if dtype == MONEY:
            data[name], as_text[name] = [None if v is None else str(v) for v in values], pl.String()
        elif isinstance(dtype, pl.List):
            data[name], as_text[name] = [_SEPARATOR.join(v) if v else None for v in values], pl.String()
        else:
            data[name], as_text[name] = list(values), dtype
    lists = [n for n, d in DECISION_SCHEMA.items() if isinstance(d, pl.List)]
    return (
        pl.DataFrame(data, schema=as_text)
        .with_columns(
            pl.col(n).str.split(_SEPARATOR).fill_null(pl.lit([], dtype=pl.List(pl.String()))) for n in lists
        )
        .cast(DECISION_SCHEMA)
    )


_SEPARATOR = "\x1f"  # the ASCII unit separator: in no number, id or anomaly name
_NO_ALTERNATIVES = json.dumps([])


def _summary(candidate: Candidate, items: dict[str, Item]) -> dict[str, Any]:
    return {
        "item_ids": list(candidate.item_ids),
        "numbers": [items[i].number for i in candidate.item_ids],
        "rung": candidate.rung,
        "confidence": candidate.confidence,
        "components": candidate.components.as_dict(),
        "settlement": candidate.settlement.reason,
    }


def _row(decision: Decision, items: dict[str, Item], entity: str) -> tuple[Any, ...]:
    best = decision.best
    alternatives = (
        json.dumps([_summary(c, items) for c in decision.alternatives])
        if decision.alternatives
        else _NO_ALTERNATIVES
    )
    if best is None:
        return (decision.line_id, entity, decision.status, (), (), None, 0.0, 0.0, 0.0, 0.0, 0.0,
                decision.anomalies, "no candidate", alternatives,
                *([None] * 8), None)  # fmt: skip
    s, c = best.settlement, best.components
    return (
        decision.line_id, entity, decision.status, best.item_ids,
        [items[i].number for i in best.item_ids], best.rung, best.confidence,
        c.reference, c.amount, c.party, c.date, decision.anomalies,
        f"{best.rung}: {s.reason}", alternatives,
        s.received, s.expected, s.fee, s.write_off, s.fx_difference, s.unapplied, s.still_due,
        s.settled_in_item_currency, s.reason,
    )  # fmt: skip
