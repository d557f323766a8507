"""Small helpers that turn frames into asset metadata (money totals per currency, markdown previews)."""

from __future__ import annotations

import polars as pl


def money_totals(frame: pl.DataFrame, currency_col: str, amount_col: str) -> dict[str, str]:
    """{currency: exact total as text}; text keeps the Decimal exact in the Dagster UI."""
    if frame.height == 0:
        return {}
    grouped = frame.group_by(currency_col).agg(pl.col(amount_col).sum()).sort(currency_col)
    return {str(cur): str(total) for cur, total in grouped.iter_rows()}


def preview(frame: pl.DataFrame, columns: list[str], rows: int = 10) -> str:
    """A markdown table of the first `rows` rows of `columns`."""
    if frame.height == 0:
        return "_no rows_"
    head = frame.select(columns).head(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in head.iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    return "\n".join(lines)
