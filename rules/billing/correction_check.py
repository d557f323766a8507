"""The blocking check on corrections: billed so far + this round's corrections = the current drafts."""

from __future__ import annotations

import polars as pl

from rules.billing.corrections import BLOCKED, Corrections
from rules.billing.differences import CREDIT_NOTE, KEY_SCHEMA, LINE_KEY, billed_so_far
from rules.billing.lock_dates import HELD
from rules.money import MONEY


def reconciles(
    posted: pl.DataFrame,
    key_map: pl.DataFrame,
    draft_lines: pl.DataFrame,
    corrections: Corrections,
    entity: str,
    period: str,
) -> tuple[bool, str]:
    """The check: billed-so-far + this round's corrections == the current drafts, per line key.

    Amounts only, exactly; corrections count by the amounts their documents show (held ones by
    their traced amounts). Originals blocked from correction are left out and named.
    """
    blocked = corrections.holds.filter(pl.col("status") == BLOCKED)["original_number"].unique().to_list()
    billed = billed_so_far(posted, key_map, entity, period).select(
        "original_number", *LINE_KEY, pl.col("billed_amount").alias("amount")
    )
    kinds = corrections.documents.select("document_number", "document_kind")
    keys = corrections.sources.select("document_number", "line_no", "original_number", *LINE_KEY)
    shown = (
        corrections.lines.select("document_number", "line_no", "line_amount")
        .join(kinds, on="document_number")
        .join(keys, on=["document_number", "line_no"])
        .select(
            "original_number",
            *LINE_KEY,
            pl.when(pl.col("document_kind") == CREDIT_NOTE[0])
            .then(-pl.col("line_amount"))
            .otherwise(pl.col("line_amount"))
            .alias("amount"),
        )
    )
    held = corrections.sources.filter(pl.col("status") == HELD).select(
        "original_number", *LINE_KEY, pl.col("correction_amount").alias("amount")
    )
    current = draft_lines.select(
        pl.col("invoice_number").alias("original_number"), *LINE_KEY, pl.col("line_amount").alias("amount")
    ).join(billed.select("original_number").unique(), on="original_number", how="semi")
    net = pl.concat(
        [
            frame.select("original_number", *LINE_KEY, pl.col("amount").cast(MONEY)).cast(
                dict(KEY_SCHEMA)  # type: ignore[arg-type]
            )
            for frame in (billed, shown, held, current.with_columns(-pl.col("amount")))
        ]
    )
    off = (
        net.filter(~pl.col("original_number").is_in(blocked))
        .group_by("original_number", *LINE_KEY)
        .agg(pl.col("amount").sum())
        .filter(pl.col("amount") != 0)
    )
    note = f"; {len(blocked)} original(s) blocked: {', '.join(sorted(blocked))}" if blocked else ""
    if off.height:
        examples = ", ".join(
            f"{r['original_number']} {r['description']!r}" for r in off.head(5).iter_rows(named=True)
        )
        return (
            False,
            f"{off.height} line key(s) where billed + corrections != current draft: {examples}{note}",
        )
    originals = billed.select("original_number").unique().height
    return (
        True,
        f"{originals} posted invoice(s): billed + corrections equal the current drafts per line key{note}",
    )
