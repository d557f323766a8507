"""The ladder's bulk path decides exactly as the sequential ladder does, line by line, on the labelled set.

The set (sandbox/bank_statements.py, seed 15) holds every kind of noise: partial payments meeting
the rest of their invoice, duplicates meeting an invoice already paid, fees, write-offs, foreign
currency, refunds, several invoices in one payment, so lines decided in bulk and lines decided in
order share items, and any order the bulk path got wrong shows up as a different decision.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from resources.bank_statements_rules import load_reconciliation_rules
from rules.reconciliation.bulk import decide_in_bulk, order_free
from rules.reconciliation.ladder import Ladder, match_lines
from rules.reconciliation.rule_file import ReconciliationRules, ScoreWeights
from sandbox.bank_statements import LabelledSet, generate_labelled_set

COMPARED = ["line_id", "status", "item_ids", "item_numbers", "rung", "confidence", "anomalies", "explanation",
            "alternatives", "received", "expected", "fee", "write_off", "fx_difference", "unapplied",
            "still_due", "settled_in_item_currency", "settlement_reason"]  # fmt: skip


@pytest.fixture(scope="module")
def labelled() -> LabelledSet:
    return generate_labelled_set(seed=15, invoices=3000)


@pytest.fixture(scope="module")
def rules() -> ReconciliationRules:
    return load_reconciliation_rules()


def test_bulk_and_sequential_decide_every_line_alike(
    labelled: LabelledSet, rules: ReconciliationRules
) -> None:
    sequential = match_lines(labelled.lines, labelled.items, rules, "uk", in_bulk=False)
    bulk = match_lines(labelled.lines, labelled.items, rules, "uk")

    assert bulk.height == sequential.height == labelled.lines.height >= 3000
    assert bulk["line_id"].to_list() == sequential["line_id"].to_list()  # booking order, both
    different = bulk.select(COMPARED).join(
        sequential.select(COMPARED), on=COMPARED, how="anti", nulls_equal=True
    )
    assert different.is_empty(), different.head(5)
    assert bulk.equals(sequential)  # every column, not only the compared ones


def test_the_bulk_path_takes_a_real_share_and_replays_what_it_consumed(
    labelled: LabelledSet, rules: ReconciliationRules
) -> None:
    ladder = Ladder(labelled.lines, labelled.items, rules, "uk")
    decided = decide_in_bulk(ladder.lines, labelled.items, ladder.pool, rules, "uk")

    assert decided.rows.height > labelled.lines.height // 3  # the bulk path is not vacuous
    statuses = set(decided.rows["status"])
    assert "auto_accepted" in statuses and statuses <= {"auto_accepted", "proposed", "exception"}
    auto = decided.rows.filter(pl.col("status") == "auto_accepted")
    assert set(decided.consumed) == set(auto["line_id"])
    # A duplicate of a payment decided in bulk still meets an invoice already paid: the consumption
    # was replayed before it in the sequential pass.
    decisions = {d.line_id: d for d in ladder.run(decided)}
    paid_twice = [d for d in decisions.values() if "duplicate_payment" in d.anomalies]
    assert any(d.best is not None and d.best.item_ids[0] in {i for i, _ in decided.consumed.values()}
               for d in paid_twice)  # fmt: skip


def test_rules_that_let_a_line_without_a_number_auto_accept_decide_everything_in_order(
    rules: ReconciliationRules, labelled: LabelledSet
) -> None:
    heavy_amount = ScoreWeights.model_validate({"reference": "0.10", "amount": "0.50", "party": "0.30",
                                                "date": "0.10"})  # fmt: skip
    loose = replace(rules, document=rules.document.model_copy(update={"weights": heavy_amount}))

    # 0.84999 without the number rounds to 0.85 (4 places) and reaches auto-accept, as the ladder computes it.
    rounded_up = ScoreWeights.model_validate({"reference": "0.15001", "amount": "0.49999", "party": "0.25",
                                              "date": "0.10"})  # fmt: skip
    borderline = replace(rules, document=rules.document.model_copy(update={"weights": rounded_up}))

    assert order_free(rules)
    assert not order_free(loose)
    assert not order_free(borderline)
    ladder = Ladder(labelled.lines, labelled.items, loose, "uk")
    assert decide_in_bulk(ladder.lines, labelled.items, ladder.pool, loose, "uk").rows.is_empty()
