"""pandera models derived from the schema registry (rules/schemas/): the write gate of every table.

Each registered table gives one model: exactly its columns (strict), of exactly its types (no
coercion: a float where a decimal is registered, or a decimal of another scale, is an error),
never null where a write must fill it, and with the registry's value rules. Integer widths are a
storage detail: an integer column is cast to its registered width first (overflow is an error).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from rules.schemas.catalog import table
from rules.schemas.registry import INTEGER_TYPES, Check, TableSchema

# Rules that span columns, named by the registry's `frame_checks`.
FRAME_CHECKS: dict[str, pa.Check] = {
    # A negative unit amount is a discount, a retainer draw or a rounding line (decision 0009);
    # anything else below zero is wrong money.
    "only_discounts_are_negative": pa.Check(
        lambda data: data.lazyframe.select(
            (pl.col("unit_amount") >= 0)
            | pl.col("source_kind").is_in(["discount", "retainer_applied", "rounding"])
        ),
        name="only_discounts_are_negative",
    ),
    # A retainer's balance moves only by its top-up and its draw.
    "closing_is_opening_plus_top_up_less_drawn": pa.Check(
        lambda data: data.lazyframe.select(
            pl.col("closing") == pl.col("opening") + pl.col("top_up") - pl.col("drawn")
        ),
        name="closing_is_opening_plus_top_up_less_drawn",
    ),
}


def _check(rule: Check) -> pa.Check:
    if rule.name == "str_length":
        low, high = rule.value
        return pa.Check.str_length(min_value=low, max_value=high)
    if rule.name == "isin":
        return pa.Check.isin(list(rule.value))
    return getattr(pa.Check, rule.name)(rule.value)


class RegisteredModel:
    """A registered table's pandera schema, answering `validate` and `to_schema()` as the class models did."""

    def __init__(self, registered: TableSchema, schema: pa.DataFrameSchema, name: str):
        self.registered = registered
        self.schema = schema
        self.__name__ = name  # what check details call it, as they named the class models

    def to_schema(self) -> pa.DataFrameSchema:
        return self.schema

    def validate(self, frame: pl.DataFrame, *, lazy: bool = False) -> pl.DataFrame:
        """Validate after casting integer columns to their registered widths; returns the cast frame."""
        widths = [
            pl.col(c.name).cast(c.dtype(), strict=True)
            for c in self.registered.columns
            if c.type in INTEGER_TYPES and c.name in frame.columns and frame.schema[c.name].is_integer()
        ]
        return self.schema.validate(frame.with_columns(widths) if widths else frame, lazy=lazy)


def model_for(name: str, label: str, *, without: tuple[str, ...] = ()) -> RegisteredModel:
    """The pandera model of registered table `name`, called `label` (`without`: columns the writer adds
    afterwards, such as the run metadata allocation appends)."""
    registered = table(name)
    columns = {
        c.name: pa.Column(
            c.dtype(),
            checks=[_check(rule) for rule in c.checks if rule.name != "unique"],
            nullable=not c.required,
            unique=any(rule.name == "unique" for rule in c.checks),
        )
        for c in registered.columns
        if c.name not in without
    }
    schema = pa.DataFrameSchema(
        columns,
        checks=[FRAME_CHECKS[n] for n in registered.frame_checks],
        strict=True,  # no unexpected columns cross a layer
        coerce=False,  # a wrong type is an error, never silently converted
        name=f"{registered.name} {registered.version}",
        description=registered.description or None,
    )
    return RegisteredModel(registered, schema, label)
