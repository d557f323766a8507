"""The ladder's Python view of bank lines and open items: one tuple per row, built column by column.

The sequential ladder (rules/reconciliation/ladder.py) reads a few fields of a line or an item many
times per decision; tuples of just those fields, with money converted to exact Decimal once per row,
cost far less than a dict per row from `iter_rows(named=True)` and a Decimal conversion per use.
Money goes through its text: `Decimal(text)` is the very Decimal polars hands out cell by cell (same
value, same scale), and much faster to build.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import NamedTuple

import polars as pl


class Line(NamedTuple):
    """The fields of a bank line (BANK_LINE_SCHEMA) the ladder decides on."""

    line_id: str
    booking_date: date
    amount: Decimal
    currency: str
    counterparty_name: str | None
    charges: Decimal | None


class Item(NamedTuple):
    """The fields of an open item (OPEN_ITEM_SCHEMA) the ladder settles, scores and shows."""

    number: str
    currency: str
    currency_rate: Decimal | None
    issue_date: date
    due_date: date
    status: str
    total: Decimal | None
    credited: Decimal | None
    amount_due: Decimal


def _texts(series: pl.Series) -> list[str | None]:
    return series.cast(pl.String).to_list()


def decimals(series: pl.Series) -> list[Decimal]:
    """A money (or rate) column as exact Decimals; a null raises, as `Decimal(None)` does."""
    return [Decimal(text) for text in _texts(series)]  # type: ignore[arg-type]


def optional_decimals(series: pl.Series) -> list[Decimal | None]:
    """A money column as exact Decimals, nulls kept."""
    return [None if text is None else Decimal(text) for text in _texts(series)]


def line_rows(lines: pl.DataFrame) -> list[Line]:
    """`lines` as Line tuples, in their order."""
    return list(
        map(
            Line,
            lines["line_id"].to_list(),
            lines["booking_date"].to_list(),
            decimals(lines["amount"]),
            lines["currency"].to_list(),
            lines["counterparty_name"].to_list(),
            optional_decimals(lines["charges"]),
        )
    )


def item_rows(items: pl.DataFrame) -> dict[str, Item]:
    """`items` as Item tuples by item id (an id listed twice keeps its last row)."""
    rows = map(
        Item,
        items["number"].to_list(),
        items["currency"].to_list(),
        optional_decimals(items["currency_rate"]),
        items["issue_date"].to_list(),
        items["due_date"].to_list(),
        items["status"].to_list(),
        optional_decimals(items["total"]),
        optional_decimals(items["credited"]),
        decimals(items["amount_due"]),
    )
    return dict(zip(items["item_id"].to_list(), rows, strict=True))


def among(column: str, ids: Iterable[str]) -> pl.Expr:
    """`column` is one of `ids`: `is_in` over a String series built once (a Python set or list of
    100,000 ids is otherwise converted element by element with type inference, several times slower)."""
    return pl.col(column).is_in(pl.Series(list(ids), dtype=pl.String).implode())
