"""The labelled synthetic set: precision at the auto-accept threshold, recall, and the share left to people.

The truth comes from how sandbox/bank_statements.py made each line, never from the matcher.
"""

from __future__ import annotations

import polars as pl
import pytest

from resources.bank_statements_rules import load_reconciliation_rules
from rules.reconciliation.ladder import match_lines
from sandbox.bank_statements import MIX, generate_labelled_set

NOISE_KINDS = {*MIX, "exact", "foreign_currency", "refund", "unrelated", "unknown_payer"}


@pytest.fixture(scope="module")
def outcome() -> pl.DataFrame:
    labelled = generate_labelled_set(seed=15, invoices=3000)
    decisions = match_lines(labelled.lines, labelled.items, load_reconciliation_rules(), "uk")
    return decisions.join(labelled.truth, on="line_id", how="full", coalesce=True).with_columns(
        correct=pl.col("item_ids").list.sort() == pl.col("true_item_ids").list.sort()
    )


def test_the_set_has_thousands_of_lines_and_every_noise_kind(outcome: pl.DataFrame) -> None:
    assert outcome.height >= 3000
    assert set(outcome["kind"].unique()) == NOISE_KINDS
    assert outcome["status"].null_count() == 0  # every line decided


def test_precision_at_auto_accept_is_at_least_99_5_percent(outcome: pl.DataFrame) -> None:
    auto = outcome.filter(pl.col("status") == "auto_accepted")
    precision = auto["correct"].mean()
    payable = outcome.filter(pl.col("true_item_ids").list.len() > 0)
    recall = auto["correct"].sum() / payable.height
    left = outcome.filter(pl.col("status") != "auto_accepted").height / outcome.height
    print(
        f"\nauto-accepted {auto.height}, precision {precision:.4f}, recall {recall:.4f}, left to people {left:.3f}"
    )
    assert precision is not None and precision >= 0.995  # type: ignore[operator]
    assert recall > 0.7  # most payments close without a person


def test_lines_that_must_not_be_matched_never_are(outcome: pl.DataFrame) -> None:
    wrong = outcome.filter(
        pl.col("kind").is_in(["duplicate", "closed", "unrelated", "unknown_payer"])
        & (pl.col("status") == "auto_accepted")
    )
    assert wrong.height == 0
    duplicates = outcome.filter(pl.col("kind") == "duplicate")
    assert duplicates["anomalies"].list.contains("duplicate_payment").all()
