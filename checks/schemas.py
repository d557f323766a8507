"""pandera models for every frame that crosses a layer: the write gate before anything is stored.

Money columns are declared as Decimal with an exact precision and scale, so a float
column (or a silently rescaled one) fails validation instead of reaching a ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pandera.polars as pa
import polars as pl

Money = Annotated[pl.Decimal, 18, 4]
Rate = Annotated[pl.Decimal, 18, 8]
Wide = Annotated[pl.Decimal, 38, 8]  # exact intermediate values (shares, unrounded amounts)


class StrictModel(pa.DataFrameModel):
    """A frame crossing a layer: exactly these columns, of exactly these types."""

    class Config:
        strict = True  # no unexpected columns cross a layer
        coerce = False  # a wrong type is an error, never silently converted


class RawRecords(StrictModel):
    """Raw PM records (time entries and expenses) as extracted."""

    entity: str
    day: date
    record_id: int
    payload: str
    payload_hash: str = pa.Field(str_length={"min_value": 64, "max_value": 64})
    routing: str
    extracted_at: Annotated[pl.Datetime, "us", "UTC"]
    request_url: str
    run_id: str
    contract_version: str


class BillableLines(StrictModel):
    """Normalized, priced time and expense lines."""

    line_id: str = pa.Field(unique=True)
    entity: str
    day: date
    source_kind: str = pa.Field(isin=["time", "expense"])
    source_id: int
    payload_hash: str
    client_id: int
    client_name: str
    contact_name: str
    project_id: int
    project_name: str
    project_code: str | None = pa.Field(nullable=True)
    task_id: int | None = pa.Field(nullable=True)
    task_name: str | None = pa.Field(nullable=True)
    category_name: str | None = pa.Field(nullable=True)
    person_id: int | None = pa.Field(nullable=True)
    person_name: str | None = pa.Field(nullable=True)
    started_time: str | None = pa.Field(nullable=True)
    quantity: Money
    unit_price: Money = pa.Field(ge=0)
    rate_source: str
    billable: bool
    billable_reason: str
    approved: bool
    approval_source: str
    locked_reason: str | None = pa.Field(nullable=True)
    txn_currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    amount_txn: Money = pa.Field(ge=0)
    base_currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    fx_rate: Rate = pa.Field(gt=0)
    fx_rate_date: date
    fx_source: str
    fx_type: str
    amount_base: Money = pa.Field(ge=0)
    reporting_currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    fx_rate_reporting: Rate = pa.Field(gt=0)
    fx_rate_date_reporting: date
    amount_reporting: Money = pa.Field(ge=0)
    cost_rate: Money = pa.Field(ge=0)
    amount_cost_base: Money = pa.Field(ge=0)
    hours: Money | None = pa.Field(nullable=True)
    rate_rule_id: str | None = pa.Field(nullable=True)
    rounding_rule_id: str | None = pa.Field(nullable=True)
    line_increment_minutes: int | None = pa.Field(nullable=True, isin=[0, 6, 15, 30])
    line_minimum_minutes: int | None = pa.Field(nullable=True, ge=0)
    markup_rule_id: str | None = pa.Field(nullable=True)
    rule_set_version: str
    run_id: str


class Quarantine(StrictModel):
    """Records held back from billing, each with the rule that rejected it."""

    entity: str
    day: date
    source_kind: str
    source_id: int | None = pa.Field(nullable=True)
    reason: str
    detail: str
    payload: str
    rule_set_version: str
    run_id: str


class InvoiceDrafts(StrictModel):
    """Invoice headers, one per client, currency and month."""

    invoice_number: str = pa.Field(unique=True)
    entity: str
    period: str = pa.Field(str_matches=r"^\d{4}-\d{2}$")
    client_id: int
    contact_name: str
    currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    invoice_date: date
    due_date: date
    reference: str
    line_amount_types: str = pa.Field(isin=["Exclusive", "Inclusive"])
    line_count: int = pa.Field(gt=0)
    subtotal: Money
    total_tax: Money
    total: Money
    base_currency: str
    currency_rate: Rate = pa.Field(gt=0)
    total_base: Money
    content_hash: str
    rule_set_version: str
    run_id: str


class InvoiceDraftLines(StrictModel):
    """Invoice lines, priced as the accounting system will book them."""

    invoice_number: str
    line_no: int = pa.Field(gt=0)
    entity: str
    period: str
    description: str = pa.Field(str_length={"min_value": 1, "max_value": 4000})
    quantity: Money = pa.Field(gt=0)
    unit_amount: Money  # negative on discount lines only (see the check below)
    line_amount: Money
    tax_type: str
    tax_amount: Money
    account_code: str
    project_id: int
    task_id: int | None = pa.Field(nullable=True)
    source_kind: str
    rate_source: str
    rule_set_version: str

    @pa.dataframe_check
    def only_discounts_are_negative(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]
        """A negative unit amount is a discount line; anything else below zero is wrong money."""
        return data.lazyframe.select((pl.col("unit_amount") >= 0) | (pl.col("source_kind") == "discount"))


def validate(model: type[StrictModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Validate `frame` against `model`, collecting every failure (lazy), and return it unchanged."""
    return model.validate(frame, lazy=True)
