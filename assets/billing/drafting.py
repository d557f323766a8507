"""Billable lines of one entity-month -> invoice drafts (headers, lines, sources), as pure polars.

Rules, each named:
- one invoice per client and currency; a time line per project, task and unit price,
  one expense line per expense;
- line amount = quantity x unit price, rounded once by LINE_AMOUNT_RULE to the
  currency's minor units (what the accounting system books);
- tax per line = line amount x entity tax rate, rounded by LINE_TAX_RULE (the
  accounting system computes tax per line and sums it);
- subtotal, tax and total are sums of the lines, never recomputed another way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from assets.money import (
    FX_CONVERSION_RULE,
    LINE_AMOUNT_RULE,
    LINE_TAX_RULE,
    MONEY,
    exact_product,
    round_to_minor_units,
)
from assets.normalized.fx_conversion import cross_rates
from resources.configuration import EntityConfig, FieldMapping
from resources.fx import FxSnapshot


@dataclass(frozen=True)
class Drafts:
    """Invoice headers, their lines, and which normalized line each invoice line bills."""

    invoices: pl.DataFrame
    lines: pl.DataFrame
    sources: pl.DataFrame


def invoice_number_prefix(entity: str, period: str) -> str:
    """Deterministic invoice numbers are this prefix, then client id and currency (BB-US-202608-5001-USD)."""
    return f"BB-{entity.upper()}-{period.replace('-', '')}-"


def billable_for_period(lines: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """The lines that may be invoiced: billable, and approved where the entity requires approval."""
    chosen = lines.filter(pl.col("billable"))
    if entity.require_approval:
        chosen = chosen.filter(pl.col("approved"))
    return chosen


def _describe(template: str) -> pl.Expr:
    # Template placeholders were validated at load; fill them from columns.
    fields = {
        "project_name": pl.col("project_name"),
        "project_code": pl.col("project_code").fill_null(""),
        "task_name": pl.col("task_name").fill_null(""),
        "client_name": pl.col("client_name"),
        "unit_price": pl.col("unit_price").cast(pl.String),
        "category_name": pl.col("category_name").fill_null(""),
    }
    parts: list[pl.Expr] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        parts += [pl.lit(before), fields[name]]
    parts.append(pl.lit(rest))
    return pl.concat_str(parts)


def content_hash(header: dict[str, object], lines: list[dict[str, object]]) -> str:
    """SHA-256 of the document as it would be sent: the same content always hashes the same."""
    text = json.dumps({"header": header, "lines": lines}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draft_invoices(
    lines: pl.DataFrame,
    entity: EntityConfig,
    fields: FieldMapping,
    fx: FxSnapshot,
    period_start: date,
    period_end: date,
    rule_set_version: str,
    run_id: str,
) -> Drafts:
    """Draft one entity-month's invoices from its invoiceable lines (see billable_for_period)."""
    period = period_start.strftime("%Y-%m")
    time_lines = (
        lines.filter(pl.col("source_kind") == "time")
        .group_by("client_id", "txn_currency", "project_id", "task_id", "unit_price")
        .agg(
            pl.col("quantity").sum(),
            pl.col("line_id").sort().alias("line_ids"),
            pl.first(
                "project_name", "project_code", "task_name", "client_name", "contact_name", "category_name"
            ),
        )
    )
    expense_lines = lines.filter(pl.col("source_kind") == "expense").select(
        "client_id",
        "txn_currency",
        "project_id",
        "task_id",
        "unit_price",
        "quantity",
        pl.concat_list("line_id").alias("line_ids"),
        "project_name",
        "project_code",
        "task_name",
        "client_name",
        "contact_name",
        "category_name",
    )
    described = pl.concat(
        [
            time_lines.with_columns(
                _describe(fields.time_line_description).alias("description"),
                pl.lit("time").alias("source_kind"),
            ),
            expense_lines.with_columns(
                _describe(fields.expense_line_description).alias("description"),
                pl.lit("expense").alias("source_kind"),
            ),
        ],
        how="vertical_relaxed",
    )
    tax_rate = Decimal(entity.tax_rate_percent) / 100
    priced = (
        described.with_columns(
            round_to_minor_units(
                exact_product(pl.col("quantity"), pl.col("unit_price")),
                pl.col("txn_currency"),
                LINE_AMOUNT_RULE,
            ).alias("line_amount")
        )
        .with_columns(
            round_to_minor_units(
                exact_product(pl.col("line_amount"), pl.lit(tax_rate, pl.Decimal(18, 8))),
                pl.col("txn_currency"),
                LINE_TAX_RULE,
            ).alias("tax_amount")
        )
        .with_columns(
            pl.format(invoice_number_prefix(entity.id, period) + "{}-{}", "client_id", "txn_currency").alias(
                "invoice_number"
            )
        )
        .sort(
            "invoice_number",
            "source_kind",
            "project_id",
            "task_id",
            "unit_price",
            "line_ids",
            descending=[False, True, False, False, False, False],
        )
        .with_columns(pl.int_range(1, pl.len() + 1).over("invoice_number").cast(pl.Int64).alias("line_no"))
    )
    draft_lines = priced.select(
        "invoice_number",
        "line_no",
        pl.lit(entity.id).alias("entity"),
        pl.lit(period).alias("period"),
        "description",
        pl.col("quantity").cast(MONEY),
        pl.col("unit_price").cast(MONEY).alias("unit_amount"),
        pl.col("line_amount").cast(MONEY),
        pl.lit(entity.tax_type).alias("tax_type"),
        pl.col("tax_amount").cast(MONEY),
        pl.lit(entity.revenue_account_code).alias("account_code"),
        "project_id",
        "task_id",
        "source_kind",
    )
    sources = priced.select(
        "invoice_number",
        "line_no",
        pl.lit(entity.id).alias("entity"),
        pl.lit(period).alias("period"),
        pl.col("line_ids").alias("line_id"),
    ).explode("line_id")

    needs = priced.select(
        pl.lit(period_end).alias("day"),
        pl.col("txn_currency").alias("from_currency"),
        pl.lit(entity.base_currency).alias("to_currency"),
    ).unique()
    to_base = cross_rates(fx.rates, needs)
    from_base = cross_rates(
        fx.rates, needs.rename({"from_currency": "to_currency", "to_currency": "from_currency"})
    )
    headers = (
        priced.group_by("invoice_number", "client_id", "txn_currency")
        .agg(
            pl.first("contact_name"),
            pl.col("project_code").drop_nulls().unique().sort().str.join(", ").alias("codes"),
            pl.col("project_code").is_null().any().alias("has_uncoded"),
            pl.len().cast(pl.Int64).alias("line_count"),
            pl.col("line_amount").sum().cast(MONEY).alias("subtotal"),
            pl.col("tax_amount").sum().cast(MONEY).alias("total_tax"),
        )
        .with_columns((pl.col("subtotal") + pl.col("total_tax")).cast(MONEY).alias("total"))
        .join(
            to_base.select("from_currency", "fx_rate"),
            left_on="txn_currency",
            right_on="from_currency",
            how="left",
        )
        .join(
            from_base.select(pl.col("to_currency"), pl.col("fx_rate").alias("currency_rate")),
            left_on="txn_currency",
            right_on="to_currency",
            how="left",
        )
        .with_columns(
            round_to_minor_units(
                exact_product(pl.col("total"), pl.col("fx_rate")),
                pl.lit(entity.base_currency),
                FX_CONVERSION_RULE,
            ).alias("total_base"),
            pl.when(pl.col("codes") == "")
            .then(pl.lit(fields.reference_when_no_code))
            .when(pl.col("has_uncoded"))
            .then(pl.concat_str(pl.col("codes"), pl.lit(", " + fields.reference_when_no_code)))
            .otherwise(pl.col("codes"))
            .alias("reference"),
        )
        .select(
            "invoice_number",
            pl.lit(entity.id).alias("entity"),
            pl.lit(period).alias("period"),
            "client_id",
            "contact_name",
            pl.col("txn_currency").alias("currency"),
            pl.lit(period_end).alias("invoice_date"),
            pl.lit(period_end + timedelta(days=entity.payment_terms_days)).alias("due_date"),
            "reference",
            "line_count",
            "subtotal",
            "total_tax",
            "total",
            pl.lit(entity.base_currency).alias("base_currency"),
            "currency_rate",
            "total_base",
        )
        .sort("invoice_number")
    )
    hashes = []
    for header in headers.iter_rows(named=True):
        doc_lines = draft_lines.filter(pl.col("invoice_number") == header["invoice_number"]).to_dicts()
        hashes.append(content_hash(header, doc_lines))
    headers = headers.with_columns(
        pl.Series("content_hash", hashes, dtype=pl.String),
        pl.lit(rule_set_version).alias("rule_set_version"),
        pl.lit(run_id).alias("run_id"),
    )
    return Drafts(invoices=headers, lines=draft_lines, sources=sources)
