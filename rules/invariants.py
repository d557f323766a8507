"""Money invariants as pure functions over frames: each returns (passed, detail).

Asset definitions turn them into blocking asset checks; the posting step re-checks the
ones that would put wrong money into the ledger before it sends anything.
"""

from __future__ import annotations

import polars as pl


def lines_sum_to_totals(
    invoices: pl.DataFrame, lines: pl.DataFrame, key: str = "invoice_number"
) -> tuple[bool, str]:
    """Every document's subtotal and tax equal the sums of its lines, and total = subtotal + tax.

    `key` names the document-number column (invoice drafts: invoice_number; the outbound shape:
    document_number). The line count is compared where the headers carry one.
    """
    if invoices.height == 0:
        return True, "no invoices"
    sums = lines.group_by(key).agg(
        pl.col("line_amount").sum().alias("line_sum"),
        pl.col("tax_amount").sum().alias("tax_sum"),
        pl.len().alias("n"),
    )
    joined = invoices.join(sums, on=key, how="left")
    # Inclusive lines already contain their tax: the subtotal is lines less tax.
    inclusive = (
        pl.col("line_amount_types") == "Inclusive"
        if "line_amount_types" in invoices.columns
        else pl.lit(False)
    )
    expected_subtotal = (
        pl.when(inclusive).then(pl.col("line_sum") - pl.col("tax_sum")).otherwise(pl.col("line_sum"))
    )
    bad = joined.filter(
        (pl.col("line_sum").is_null())
        | (pl.col("subtotal") != expected_subtotal)
        | (pl.col("total_tax") != pl.col("tax_sum"))
        | (pl.col("total") != pl.col("subtotal") + pl.col("total_tax"))
        | ((pl.col("line_count") != pl.col("n")) if "line_count" in invoices.columns else pl.lit(False))
    )
    if bad.height:
        return (
            False,
            f"{bad.height} invoice(s) disagree with their lines: {', '.join(bad[key].head(5))}",
        )
    return True, f"{invoices.height} invoice(s) equal the sum of their lines"


def journals_balance(journals: pl.DataFrame, lines: pl.DataFrame) -> tuple[bool, str]:
    """Every journal's lines balance (debits = credits, so they sum to zero) and its total is the debits."""
    if journals.height == 0:
        return True, "no journals"
    sums = lines.group_by("document_number").agg(
        pl.col("line_amount").sum().alias("net"),
        pl.col("line_amount").filter(pl.col("line_amount") > 0).sum().alias("debits"),
    )
    joined = journals.join(sums, on="document_number", how="left")
    bad = joined.filter(
        pl.col("net").is_null() | (pl.col("net") != 0) | (pl.col("total") != pl.col("debits"))
    )
    if bad.height:
        return False, f"{bad.height} journal(s) do not balance: {', '.join(bad['document_number'].head(5))}"
    return True, f"{journals.height} journal(s) balance"


def billed_at_most_once(sources: pl.DataFrame, billed_elsewhere: pl.DataFrame) -> tuple[bool, str]:
    """No normalized line is billed twice: within these drafts or by another period's drafts."""
    dupes = sources.group_by("line_id").len().filter(pl.col("len") > 1)
    clash = sources.join(billed_elsewhere.select("line_id"), on="line_id", how="semi")
    if dupes.height or clash.height:
        examples = pl.concat([dupes.select("line_id"), clash.select("line_id")])["line_id"].head(5).to_list()
        return (
            False,
            f"{dupes.height} line(s) billed twice here, {clash.height} already billed elsewhere: {examples}",
        )
    return True, f"{sources.height} source line(s), each billed once"


def posted_have_external_ids(outbox: pl.DataFrame) -> tuple[bool, str]:
    """Every confirmed document has the accounting system's id and the total it booked equals the draft's."""
    confirmed = outbox.filter(pl.col("status") == "confirmed")
    missing = confirmed.filter(pl.col("external_id").is_null() | (pl.col("external_id") == ""))
    drift = confirmed.filter(pl.col("posted_total") != pl.col("draft_total"))
    if missing.height or drift.height:
        return (
            False,
            f"{missing.height} without external id, {drift.height} whose booked total differs from the draft",
        )
    return True, f"{confirmed.height} posted document(s), each with an external id and the draft's total"
