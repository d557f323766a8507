"""pandera models for every frame that crosses a layer: the write gate before anything is stored.

Money columns are declared as Decimal with an exact precision and scale, so a float
column (or a silently rescaled one) fails validation instead of reaching a ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pandera.polars as pa
import polars as pl

from rules.money import FX_RATE, MONEY, WIDE

# The money dtypes of rules/money.py, as pandera annotations: a float or rescaled column is refused.
Money = Annotated[pl.Decimal, MONEY.precision, MONEY.scale]
Rate = Annotated[pl.Decimal, FX_RATE.precision, FX_RATE.scale]
Wide = Annotated[
    pl.Decimal, WIDE.precision, WIDE.scale
]  # exact intermediate values (shares, unrounded amounts)


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
    unit_amount: Money  # negative on discount, retainer-draw and rounding lines only (see the check below)
    line_amount: Money
    tax_type: str
    tax_amount: Money
    account_code: str
    project_id: int
    task_id: int | None = pa.Field(nullable=True)
    source_kind: str
    rate_source: str
    rule_set_version: str
    rounding_rule: str  # the money rounding that produced line_amount (docs/decisions/0009)
    tax_rounding_rule: str  # the tax rounding that produced tax_amount

    @pa.dataframe_check
    def only_discounts_are_negative(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]
        """A negative unit amount is a discount, a retainer draw or a rounding line (decision 0009);
        anything else below zero is wrong money."""
        return data.lazyframe.select(
            (pl.col("unit_amount") >= 0)
            | pl.col("source_kind").is_in(["discount", "retainer_applied", "rounding"])
        )


def validate(model: type[StrictModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Validate `frame` against `model`, collecting every failure (lazy), and return it unchanged."""
    return model.validate(frame, lazy=True)


class RetainerBalances(StrictModel):
    """A retainer's balance for one period: closing = opening + top-up - drawn, never below zero."""

    entity: str
    period: str
    client_id: int
    currency: str
    retainer_id: str
    opening: Money = pa.Field(ge=0)
    top_up: Money = pa.Field(ge=0)
    drawn: Money = pa.Field(ge=0)
    closing: Money = pa.Field(ge=0)
    rule_set_version: str
    run_id: str

    @pa.dataframe_check
    def closing_is_opening_plus_top_up_less_drawn(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]
        """The balance moves only by its top-up and its draw."""
        return data.lazyframe.select(
            pl.col("closing") == pl.col("opening") + pl.col("top_up") - pl.col("drawn")
        )


class CorrectionDocuments(StrictModel):
    """Credit notes and supplementary invoices correcting posted invoices (the outbound shape)."""

    document_number: str = pa.Field(unique=True, str_matches=r"^BB-[A-Z0-9_]+-\d{6}-.+-(CN|S)\d+$")
    document_kind: str = pa.Field(isin=["credit_note", "invoice"])
    document_type: str = pa.Field(isin=["ACCRECCREDIT", "ACCREC"])
    entity: str
    period: str = pa.Field(str_matches=r"^\d{4}-\d{2}$")
    contact_name: str
    reference: str = pa.Field(str_startswith="Correction of ")
    document_date: date
    due_date: date | None = pa.Field(nullable=True)
    currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    base_currency: str = pa.Field(str_matches=r"^[A-Z]{3}$")
    currency_rate: Rate = pa.Field(gt=0)
    line_amount_types: str = pa.Field(isin=["Exclusive", "Inclusive"])
    subtotal: Money
    total_tax: Money = pa.Field(ge=0)
    total: Money = pa.Field(gt=0)  # as the document shows it: positive for credit notes too
    original_number: str
    content_hash: str = pa.Field(str_length={"min_value": 64, "max_value": 64})
    rule_set_version: str
    run_id: str


class CorrectionDocumentLines(StrictModel):
    """Correction document lines: amounts as shown (positive), priced as the ledger books them."""

    document_number: str
    line_no: pl.Int32 = pa.Field(gt=0)
    entity: str
    period: str
    description: str = pa.Field(str_length={"min_value": 1, "max_value": 4000})
    quantity: Money = pa.Field(gt=0)
    unit_amount: Money = pa.Field(gt=0)
    line_amount: Money = pa.Field(gt=0)
    tax_type: str
    tax_amount: Money = pa.Field(ge=0)
    account_code: str


class CorrectionSources(StrictModel):
    """Each correction line's line key, billed-so-far, current draft and signed difference."""

    document_number: str
    line_no: pl.Int32 = pa.Field(gt=0)
    entity: str
    period: str
    original_number: str
    document_kind: str = pa.Field(isin=["credit_note", "invoice"])
    status: str = pa.Field(isin=["drafted", "held"])
    source_kind: str | None = pa.Field(nullable=True)
    project_id: int | None = pa.Field(nullable=True)
    task_id: int | None = pa.Field(nullable=True)
    description: str
    unit_amount: Money
    tax_type: str
    account_code: str
    billed_quantity: Money
    billed_amount: Money
    billed_tax: Money
    current_quantity: Money
    current_amount: Money
    current_tax: Money
    correction_quantity: Money
    correction_amount: Money = pa.Field(ne=0)
    correction_tax: Money
    tax_residual: Money
    current_line_ids: pl.List(pl.String())  # type: ignore[valid-type]
    run_id: str


class CorrectionHolds(StrictModel):
    """Corrections moved past the tenant's lock date, held by the rule set, or blocked, with the reason."""

    entity: str
    period: str
    original_number: str
    document_number: str | None = pa.Field(nullable=True)
    document_kind: str | None = pa.Field(nullable=True)
    status: str = pa.Field(isin=["moved", "held", "blocked"])
    reason: str = pa.Field(str_length={"min_value": 1})
    intended_date: date | None = pa.Field(nullable=True)
    document_date: date | None = pa.Field(nullable=True)
    lock_date: date | None = pa.Field(nullable=True)
    currency: str | None = pa.Field(nullable=True)
    total: Money | None = pa.Field(nullable=True)
    run_id: str
