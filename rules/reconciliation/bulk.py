"""The ladder's order-free lines, decided in bulk: column operations instead of one line at a time.

The ladder decides lines in booking order because a line meets what is *still* due after the lines
before it. But only an auto-accepted line consumes anything, and only a line the remittance quotes a
number on can be auto-accepted: without the `reference` component the best confidence is the sum of
the other weights (0.60 with the shipped rules), below `auto_accept`. And a line with reference hits
only ever settles the items it quotes (docs/decisions/0024). So when a line quotes exactly one item
and is the first line in booking order to quote it, nothing before it can have touched that item: it
meets the item's whole amount due, whatever the order. Its only candidate is that item: a line with
reference hits has no party candidate beyond the items it quotes, and no combination or amount-only
candidate (rules/reconciliation/candidates.py). When it also pays exactly that amount in the item's
currency, its decision is a fixed formula of columns (settlement `exact`, amount component 1.0),
computed here for all such lines at once. So is it when, paid in the item's currency with no charges
stated on the line, it falls short of that amount by exactly one of the bank currency's known fee
amounts (settlement "shortfall equals a known bank fee", the fee that shortfall, amount component
`explained_difference_amount_score`: differences.settle_same_currency's second case).

A line no rung found any item for (no reference hit, no party, combination or amount-only
candidate) has no candidate whatever was decided before it, and consumes nothing: it is a
"no candidate" exception (with `unknown_payer` when a named payer paid in and is known to no item),
built here as columns too (decision 0040's amendment).

Every other line goes through the sequential ladder, which still replays the bulk lines'
consumption at their place in the order.

The result is the ladder's decision, line for line (tests/unit/test_reconciliation_bulk.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from rules.money import MONEY
from rules.reconciliation.candidates import CandidatePool
from rules.reconciliation.differences import EXACT, KNOWN_FEE
from rules.reconciliation.frames import AUTO, DECISION_SCHEMA, EXCEPTION, PROPOSED
from rules.reconciliation.rows import among
from rules.reconciliation.rule_file import ReconciliationRules
from rules.reconciliation.scoring import float_weights, weighted_confidence


@dataclass(frozen=True)
class BulkDecisions:
    """Decisions taken in bulk (DECISION_SCHEMA rows) and what the auto-accepted ones consume."""

    rows: pl.DataFrame
    consumed: dict[str, tuple[str, Decimal]]  # line id -> (item id, amount taken), auto-accepted only

    @property
    def line_ids(self) -> set[str]:
        return set(self.rows["line_id"].to_list())


def order_free(rules: ReconciliationRules) -> bool:
    """Whether only lines with reference hits can be auto-accepted under these rules (see the module doc):
    the best confidence without the `reference` component, computed as the ladder computes every
    confidence, stays below `auto_accept`."""
    best_without_reference = weighted_confidence(float_weights(rules.document.weights), 0.0, 1.0, 1.0, 1.0)
    return best_without_reference < float(rules.document.thresholds.auto_accept)


def _first_quoters(line_ids: list[str], pool: CandidatePool) -> list[tuple[str, str, float, float]]:
    """(line, item, reference score, party score) for each line quoting one item no earlier line quotes."""
    first: set[str] = set()
    found = []
    for line_id in line_ids:  # booking order
        hits = pool.reference.get(line_id)
        if not hits:
            continue
        if len(hits) == 1:
            ((item_id, score),) = hits.items()
            if item_id not in first:
                found.append((line_id, item_id, score, pool.party_score(line_id, item_id)))
        first.update(hits)
    return found


def decide_in_bulk(
    lines: pl.DataFrame, items: pl.DataFrame, pool: CandidatePool, rules: ReconciliationRules, entity: str
) -> BulkDecisions:
    """The order-free exact payments among `lines` (sorted in booking order), decided at once."""
    if not order_free(rules):
        return BulkDecisions(pl.DataFrame(schema=DECISION_SCHEMA), {})
    settled = _settled_first_quoters(lines, items, pool, rules, entity)
    return BulkDecisions(
        pl.concat([settled.rows, _without_candidates(lines, pool, entity)]), settled.consumed
    )


def _settled_first_quoters(
    lines: pl.DataFrame, items: pl.DataFrame, pool: CandidatePool, rules: ReconciliationRules, entity: str
) -> BulkDecisions:
    """The first quoters of one item settling it exactly or short by a known fee (see the module doc)."""
    quoters = _first_quoters(lines["line_id"].to_list(), pool)
    if not quoters:
        return BulkDecisions(pl.DataFrame(schema=DECISION_SCHEMA), {})
    settled = _settled(_quoter_pairs(quoters, lines, items, pool, rules), rules, entity)
    weights = float_weights(rules.document.weights)
    scores = zip(settled["reference_score"], settled["amount_score"], settled["party_score"],
                 settled["date_score"], strict=True)  # fmt: skip
    confidence = [weighted_confidence(weights, r, a, p, d) for r, a, p, d in scores]
    decided = settled.with_columns(confidence=pl.Series(confidence, dtype=pl.Float64)).with_columns(
        status=_status(rules)
    )
    auto = decided.filter(pl.col("status") == AUTO)
    consumed = dict(zip(auto["line_id"], zip(auto["item_id"], auto["amount_due"], strict=True), strict=True))
    return BulkDecisions(_rows(decided, entity), consumed)


def _quoter_pairs(
    quoters: list[tuple[str, str, float, float]],
    lines: pl.DataFrame,
    items: pl.DataFrame,
    pool: CandidatePool,
    rules: ReconciliationRules,
) -> pl.DataFrame:
    """Each first quoter beside its item in the same currency, with the date and unknown-payer facts."""
    matching = rules.document.matching
    # An item listed twice counts as its last row, as in the ladder's look-up by id.
    items = items.unique("item_id", keep="last", maintain_order=True)
    pairs = pl.DataFrame(
        quoters,
        schema={"line_id": pl.String, "item_id": pl.String, "reference_score": pl.Float64,
                "party_score": pl.Float64},
        orient="row",
    )  # fmt: skip
    return (
        pairs.join(lines.select("line_id", "amount", "currency", "counterparty_name", "booking_date", "charges"),
                   on="line_id")
        .join(items.select("item_id", "number", "amount_due", "issue_date", "due_date",
                           item_currency="currency"), on="item_id")
        .filter((pl.col("currency") == pl.col("item_currency")) & (pl.col("amount_due") != 0))
        .with_columns(
            date_score=pl.col("booking_date").is_between(
                pl.col("issue_date") - pl.duration(days=matching.days_before_invoice),
                pl.col("due_date") + pl.duration(days=matching.days_after_due),
            ).cast(pl.Float64),
            unknown_payer=(pl.col("amount") > 0) & (pl.col("counterparty_name").fill_null("") != "")
            & ~among("line_id", pool.known_payers),
            shortfall=(pl.col("amount_due") - pl.col("amount")).cast(MONEY),
        )
    )  # fmt: skip


def _settled(pairs: pl.DataFrame, rules: ReconciliationRules, entity: str) -> pl.DataFrame:
    """The pairs settled `exact`, or, paid in, with no charges stated and short by one of the bank
    currency's known fee amounts, settled as a known bank fee (differences.settle_same_currency)."""
    fees = pl.DataFrame(
        [(c, fee) for c in pairs["currency"].drop_nulls().unique().to_list() for fee in rules.currency(entity, c).fee_amounts],
        schema={"currency": pl.String, "shortfall": MONEY}, orient="row",
    ).unique().with_columns(known_fee=pl.lit(True))  # fmt: skip
    known = (
        pl.col("known_fee").fill_null(False) & pl.col("charges").is_null()
        & (pl.col("amount") > 0) & (pl.col("shortfall") > 0)
    )  # fmt: skip
    explained = float(rules.document.matching.explained_difference_amount_score)
    return (
        pairs.join(fees, on=["currency", "shortfall"], how="left", maintain_order="left")
        .filter((pl.col("shortfall") == 0) | known)
        .with_columns(
            fee=pl.when(known).then(pl.col("shortfall")).otherwise(pl.lit(Decimal(0), MONEY)),
            amount_score=pl.when(known).then(pl.lit(explained)).otherwise(pl.lit(1.0)),
            settlement_reason=pl.when(known).then(pl.lit(KNOWN_FEE)).otherwise(pl.lit(EXACT)),
        )
    )


def _without_candidates(lines: pl.DataFrame, pool: CandidatePool, entity: str) -> pl.DataFrame:
    """Lines no rung found a single item for: "no candidate" exceptions whatever the order (module doc)."""
    rungs = (pool.reference, pool.party, pool.combination_pool, pool.amount_only)
    found = [line_id for rung in rungs for line_id, candidates in rung.items() if candidates]
    bare = lines.filter(~among("line_id", found))
    unknown_payer = (
        (pl.col("amount") > 0)
        & (pl.col("counterparty_name").fill_null("") != "")
        & ~among("line_id", pool.known_payers)
    )
    none: list[str] = []
    columns: dict[str, Any] = {
        "line_id": pl.col("line_id"),
        "entity": pl.lit(entity),
        "status": pl.lit(EXCEPTION),
        "item_ids": pl.lit(none, dtype=pl.List(pl.String())),
        "item_numbers": pl.lit(none, dtype=pl.List(pl.String())),
        "rung": pl.lit(None, pl.String()),
        **{name: pl.lit(0.0) for name in SCORES},
        "anomalies": pl.when(unknown_payer)
        .then(pl.lit(["unknown_payer"]))
        .otherwise(pl.lit(none, dtype=pl.List(pl.String()))),
        "explanation": pl.lit("no candidate"),
        "alternatives": pl.lit("[]"),
        **{name: pl.lit(None, MONEY) for name in SETTLED},
        "settlement_reason": pl.lit(None, pl.String()),
    }
    return bare.select(**columns).cast(DECISION_SCHEMA)  # type: ignore[arg-type]


SCORES = ("confidence", "reference_score", "amount_score", "party_score", "date_score")
SETTLED = ("received", "expected", "fee", "write_off", "fx_difference", "unapplied", "still_due",
           "settled_in_item_currency")  # fmt: skip


def _status(rules: ReconciliationRules) -> pl.Expr:
    """The ladder's status rule for one exact candidate whose only possible anomaly is an unknown payer."""
    thresholds = rules.document.thresholds
    return (
        pl.when((pl.col("confidence") >= float(thresholds.auto_accept)) & ~pl.col("unknown_payer"))
        .then(pl.lit(AUTO))
        .when(pl.col("confidence") >= float(thresholds.propose))
        .then(pl.lit(PROPOSED))
        .otherwise(pl.lit(EXCEPTION))
    )


def _rows(decided: pl.DataFrame, entity: str) -> pl.DataFrame:
    """The decisions in DECISION_SCHEMA: the one `reference` candidate, settled `exact`."""
    zero = pl.lit(Decimal(0), MONEY)
    columns: dict[str, Any] = {
        "line_id": pl.col("line_id"),
        "entity": pl.lit(entity),
        "status": pl.col("status"),
        "item_ids": pl.concat_list("item_id"),
        "item_numbers": pl.concat_list("number"),
        "rung": pl.lit("reference"),
        "confidence": pl.col("confidence"),
        "reference_score": pl.col("reference_score"),
        "amount_score": pl.col("amount_score"),
        "party_score": pl.col("party_score"),
        "date_score": pl.col("date_score"),
        "anomalies": pl.when(pl.col("unknown_payer"))
        .then(pl.lit(["unknown_payer"]))
        .otherwise(pl.lit([], dtype=pl.List(pl.String()))),
        "explanation": pl.lit("reference: ") + pl.col("settlement_reason"),
        "alternatives": pl.lit("[]"),
        "received": pl.col("amount"),
        "expected": pl.col("amount_due"),
        "fee": pl.col("fee"),
        "write_off": zero,
        "fx_difference": zero,
        "unapplied": zero,
        "still_due": zero,
        "settled_in_item_currency": pl.col("amount_due"),
        "settlement_reason": pl.col("settlement_reason"),
    }
    return decided.select(**columns).cast(DECISION_SCHEMA)  # type: ignore[arg-type]
