"""Per invoice and line key: what was booked so far, and what the current drafts say (pure polars).

The line key is what a bookkeeper compares two versions of an invoice by: the line's description,
unit amount, account and tax code, with its project, task and kind (LINE_KEY). Billed-so-far per
key = the original invoice's booked lines, plus supplementary invoices, minus credit notes
(posting.posted_lines; amounts there are as shown, positive); a booked correction line counts under
the key it was drafted for (billing.correction_sources, KEY_MAP_SCHEMA). The difference per key =
current draft - billed-so-far; a vanished invoice has no current lines, so all of it is owed back.
Each difference becomes a correction line (`priced_differences`): over-billed keys go on a credit
note, under-billed ones on a supplementary invoice.
"""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl

from rules.billing.tax import line_tax
from rules.documents import document_number_prefix
from rules.money import LINE_AMOUNT_RULE, MONEY, WIDE, exact_product, round_to_minor_units
from rules.settings import EntityConfig

CREDIT_NOTE = ("credit_note", "ACCRECCREDIT", "CN")  # kind, type, number suffix
SUPPLEMENTARY = ("invoice", "ACCREC", "S")
LINE_KEY = ("source_kind", "project_id", "task_id", "description", "unit_amount", "tax_type", "account_code")
KEY_SCHEMA = pl.Schema(
    {
        "source_kind": pl.String(),
        "project_id": pl.Int64(),
        "task_id": pl.Int64(),
        "description": pl.String(),
        "unit_amount": MONEY,
        "tax_type": pl.String(),
        "account_code": pl.String(),
    }
)
# The key a booked correction line was drafted under (billing.correction_sources of posted documents).
KEY_MAP_SCHEMA = pl.Schema(
    {"document_number": pl.String(), "line_no": pl.Int32(), **dict(KEY_SCHEMA), "correction_quantity": MONEY}
)
_AMOUNTS = ("quantity", "amount", "tax")


def drafted_invoice_numbers(entity: str, period: str) -> str:
    """Regex of the invoice numbers drafting issues for the entity-month (BB-US-202608-5001-USD).

    Only these are corrected here: intercompany invoices, journals and the corrections themselves
    have numbers of their own and producers of their own.
    """
    return "^" + re.escape(document_number_prefix(entity, period)) + r"\d+-[A-Z]{3}$"


def billed_so_far(posted: pl.DataFrame, key_map: pl.DataFrame, entity: str, period: str) -> pl.DataFrame:
    """Net booked quantity, amount and tax per original invoice and line key.

    `posted`: posting.posted_lines of the entity-month. The original's lines count as booked,
    supplementary invoices add and credit notes subtract. A correction line counts under the key
    it was drafted for (`key_map`, from billing.correction_sources) with the key's quantity
    difference; one without (written by hand) under its own columns.
    """
    ours = posted.filter(
        pl.col("original_number").str.contains(drafted_invoice_numbers(entity, period))
        & pl.col("original_number").is_in(
            posted.filter(pl.col("document_number") == pl.col("original_number"))["document_number"].to_list()
        )
    )
    sign = pl.when(pl.col("document_kind") == "credit_note").then(-1).otherwise(1)
    mapped = ours.join(
        key_map.rename({c: f"{c}_key" for c in [*LINE_KEY, "correction_quantity"]}).with_columns(
            pl.lit(True).alias("_mapped")
        ),
        on=["document_number", "line_no"],
        how="left",
    )
    is_mapped = pl.col("_mapped").fill_null(False) & (pl.col("document_number") != pl.col("original_number"))
    keyed = mapped.select(
        "original_number",
        *[pl.when(is_mapped).then(pl.col(f"{c}_key")).otherwise(pl.col(c)).alias(c) for c in LINE_KEY],
        pl.when(is_mapped)
        .then(pl.col("correction_quantity_key"))
        .otherwise(pl.col("quantity") * sign)
        .cast(MONEY)
        .alias("quantity"),
        (pl.col("line_amount") * sign).cast(MONEY).alias("amount"),
        (pl.col("tax_amount") * sign).cast(MONEY).alias("tax"),
    )
    return _per_key(keyed, "billed")


def _per_key(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
    return (
        frame.cast(dict(KEY_SCHEMA))  # type: ignore[arg-type]
        .group_by("original_number", *LINE_KEY)
        .agg(*[pl.col(a).sum().cast(MONEY).alias(f"{prefix}_{a}") for a in _AMOUNTS])
    )


def current_per_key(draft_lines: pl.DataFrame, draft_sources: pl.DataFrame) -> pl.DataFrame:
    """The current drafts per invoice and line key, with the normalized lines billed under each key."""
    ids = draft_sources.group_by("invoice_number", "line_no").agg(pl.col("line_id"))
    lines = draft_lines.join(ids, on=["invoice_number", "line_no"], how="left").select(
        pl.col("invoice_number").alias("original_number"),
        *LINE_KEY,
        pl.col("quantity").alias("quantity"),
        pl.col("line_amount").alias("amount"),
        pl.col("tax_amount").alias("tax"),
        pl.col("line_id").fill_null(pl.lit([], pl.List(pl.String))),
    )
    sums = _per_key(lines.drop("line_id"), "current")
    line_ids = (
        lines.cast(dict(KEY_SCHEMA))  # type: ignore[arg-type]
        .explode("line_id")
        .group_by("original_number", *LINE_KEY)
        .agg(pl.col("line_id").drop_nulls().unique().sort().alias("current_line_ids"))
    )
    return sums.join(line_ids, on=["original_number", *LINE_KEY], how="left", nulls_equal=True)


def differences(billed: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Per original and key: billed, current and current - billed (only the keys whose amount differs)."""
    keys = ["original_number", *LINE_KEY]
    current = current.join(billed.select("original_number").unique(), on="original_number", how="semi")
    both = billed.join(current, on=keys, how="full", coalesce=True, nulls_equal=True)
    zero = pl.lit(Decimal(0), MONEY)
    filled = both.with_columns(
        *[pl.col(f"{side}_{a}").fill_null(zero) for side in ("billed", "current") for a in _AMOUNTS],
        pl.col("current_line_ids").fill_null(pl.lit([], pl.List(pl.String))),
    )
    return filled.with_columns(
        *[(pl.col(f"current_{a}") - pl.col(f"billed_{a}")).cast(MONEY).alias(f"delta_{a}") for a in _AMOUNTS]
    ).filter(pl.col("delta_amount") != 0)


def priced_differences(delta: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """Each difference as a document line: kind, quantity, unit amount, amount as shown, tax."""
    doc_amount = pl.col("delta_amount").abs()
    qty, unit = pl.col("delta_quantity").abs(), pl.col("unit_amount").abs()
    as_hours = round_to_minor_units(exact_product(qty, unit), pl.col("currency"), LINE_AMOUNT_RULE)
    # Quantity x unit reads best; it is used only where the ledger's rounding of it gives the
    # difference exactly (and points the right way), else the line is 1 x the difference.
    readable = (
        (pl.col("delta_quantity") != 0)
        & (((pl.col("delta_quantity") > 0) == (pl.col("unit_amount") > 0)) == (pl.col("delta_amount") > 0))
        & (as_hours == doc_amount)
    )
    fractions = pl.DataFrame(
        {
            "tax_type": list(entity.tax_rates()),
            "tax_fraction": [rate / 100 for rate in entity.tax_rates().values()],
        },
        schema={"tax_type": pl.String, "tax_fraction": WIDE},
    )
    lines = delta.with_columns(
        pl.when(pl.col("delta_amount") > 0)
        .then(pl.lit(SUPPLEMENTARY[0]))
        .otherwise(pl.lit(CREDIT_NOTE[0]))
        .alias("document_kind"),
        pl.when(readable).then(qty).otherwise(pl.lit(Decimal(1), MONEY)).cast(MONEY).alias("quantity"),
        pl.when(readable).then(unit).otherwise(doc_amount).cast(MONEY).alias("unit_shown"),
        doc_amount.cast(MONEY).alias("line_amount"),
    ).join(fractions, on="tax_type", how="left")
    taxed = [
        part.with_columns(
            line_tax(pl.col("line_amount"), pl.col("tax_fraction"), pl.col("currency"), kind).cast(MONEY)
        )
        for kind, part in (
            (kind, lines.filter(pl.col("line_amount_types") == kind)) for kind in ("Exclusive", "Inclusive")
        )
        if part.height
    ]
    if sum(part.height for part in taxed) != lines.height:  # the caller resolves every original's basis
        raise ValueError("every corrected invoice needs line_amount_types Exclusive or Inclusive")
    return pl.concat(taxed) if taxed else lines.with_columns(pl.lit(None, MONEY).alias("tax_amount"))
