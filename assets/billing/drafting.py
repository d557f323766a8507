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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from assets.billing.discounts import discount_lines
from assets.money import (
    FX_CONVERSION_RULE,
    LINE_AMOUNT_RULE,
    LINE_TAX_RULE,
    MONEY,
    WIDE,
    exact_product,
    round_decimal,
    round_to_minor_units,
)
from assets.normalized.fx_conversion import rates_for
from assets.normalized.pricing_rules import round_up_to_increment
from resources.configuration import EntityConfig, FieldMapping
from resources.fx import FxSnapshot
from resources.mapping_rules import Discount, TaxOverride


@dataclass(frozen=True)
class Drafts:
    """Invoice headers, their lines, and which normalized line each invoice line bills."""

    invoices: pl.DataFrame
    lines: pl.DataFrame
    sources: pl.DataFrame
    rates_used: pl.DataFrame  # the period-end rates applied: pin them so reruns reproduce


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


def _tax_codes(entity: EntityConfig, overrides: Sequence[TaxOverride]) -> pl.DataFrame:
    """Per client of this entity: the tax code and rate (as a fraction) its overrides name."""
    rates = entity.tax_rates()
    rows = [
        {"client_id": o.client, "tax_type": o.tax_type, "tax_fraction": rates[o.tax_type] / 100}
        for o in overrides
        if o.tax_type in rates
    ]
    return pl.DataFrame(rows, schema={"client_id": pl.Int64, "tax_type": pl.String, "tax_fraction": WIDE})


def line_tax(amount: pl.Expr, fraction: pl.Expr, currency: pl.Expr, line_amount_types: str) -> pl.Expr:
    """Tax of each line by LINE_TAX_RULE, as the accounting system books it (per line, then summed).

    Exclusive: amount x rate. Inclusive: the tax inside the amount, amount x rate / (1 + rate),
    computed with Python's Decimal (a division polars would truncate) on the few invoice lines.
    """
    if line_amount_types == "Exclusive":
        return round_to_minor_units(exact_product(amount, fraction), currency, LINE_TAX_RULE).alias(
            "tax_amount"
        )

    def inclusive(row: dict[str, Decimal | str]) -> Decimal:
        value, rate = Decimal(row["a"]), Decimal(row["f"])
        return round_decimal(value * rate / (1 + rate), str(row["c"]), LINE_TAX_RULE)

    return (
        pl.struct(a=amount, f=fraction, c=currency)
        .map_elements(inclusive, return_dtype=MONEY)
        .alias("tax_amount")
    )


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
    tax_overrides: Sequence[TaxOverride] = (),
    discounts: Sequence[Discount] = (),
    pinned_rates: pl.DataFrame | None = None,
) -> Drafts:
    """Draft one entity-month's invoices from its invoiceable lines (see billable_for_period)."""
    period = period_start.strftime("%Y-%m")
    time_lines = (
        lines.filter(pl.col("source_kind") == "time")
        .group_by(
            "client_id",
            "txn_currency",
            "project_id",
            "task_id",
            "unit_price",
            "rate_source",
            "line_increment_minutes",
            "line_minimum_minutes",
        )
        .agg(
            pl.col("quantity").sum(),
            pl.col("line_id").sort().alias("line_ids"),
            pl.first(
                "project_name", "project_code", "task_name", "client_name", "contact_name", "category_name"
            ),
        )
        # Invoiceable units "per invoice line": the line's total hours rounded up once.
        .with_columns(
            pl.when(pl.col("line_increment_minutes").is_not_null())
            .then(
                round_up_to_increment(
                    pl.col("quantity"),
                    pl.col("line_increment_minutes"),
                    pl.col("line_minimum_minutes").fill_null(0),
                )
            )
            .otherwise(pl.col("quantity"))
            .alias("quantity")
        )
        .drop("line_increment_minutes", "line_minimum_minutes")
    )
    expense_lines = lines.filter(pl.col("source_kind") == "expense").select(
        "client_id",
        "txn_currency",
        "project_id",
        "task_id",
        "unit_price",
        "rate_source",
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
    inclusive = entity.line_amount_types == "Inclusive"
    amounts = described.with_columns(
        round_to_minor_units(
            exact_product(pl.col("quantity"), pl.col("unit_price")),
            pl.col("txn_currency"),
            LINE_AMOUNT_RULE,
        ).alias("line_amount")
    )
    priced = (
        pl.concat([amounts, discount_lines(amounts, discounts)])
        .join(_tax_codes(entity, tax_overrides), on="client_id", how="left")
        .with_columns(
            pl.col("tax_type").fill_null(entity.tax_type),
            pl.col("tax_fraction").fill_null(pl.lit(entity.tax_rate_percent / 100, WIDE)),
        )
        .with_columns(
            line_tax(
                pl.col("line_amount"),
                pl.col("tax_fraction"),
                pl.col("txn_currency"),
                entity.line_amount_types,
            )
        )
        .with_columns(
            pl.format(invoice_number_prefix(entity.id, period) + "{}-{}", "client_id", "txn_currency").alias(
                "invoice_number"
            )
        )
        # A total order: each source line belongs to exactly one invoice line, so the first
        # source line id breaks every tie and reruns number the lines identically.
        .sort(
            "invoice_number",
            "source_kind",
            "project_id",
            "task_id",
            "unit_price",
            pl.col("line_ids").list.first(),
            "description",
            descending=[False, True, False, False, False, False, False],
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
        "tax_type",
        pl.col("tax_amount").cast(MONEY),
        pl.lit(entity.revenue_account_code).alias("account_code"),
        "project_id",
        "task_id",
        "source_kind",
        "rate_source",
        pl.lit(rule_set_version).alias("rule_set_version"),
    )
    sources = (
        priced.select(
            "invoice_number",
            "line_no",
            pl.lit(entity.id).alias("entity"),
            pl.lit(period).alias("period"),
            pl.col("line_ids").alias("line_id"),
        )
        .explode("line_id")
        .drop_nulls("line_id")
    )  # discount lines bill no entry of their own

    needs = priced.select(
        pl.lit(period_end).alias("day"),
        pl.col("txn_currency").alias("from_currency"),
        pl.lit(entity.base_currency).alias("to_currency"),
    ).unique()
    reverse = needs.rename({"from_currency": "to_currency", "to_currency": "from_currency"})
    both_ways = pl.concat([needs, reverse.select(needs.columns)])
    rates_used = rates_for(both_ways, fx.rates, fx.label, pinned_rates)
    to_base = rates_used.filter(pl.col("to_currency") == entity.base_currency)
    from_base = rates_used.filter(pl.col("from_currency") == entity.base_currency)
    headers = (
        priced.group_by("invoice_number", "client_id", "txn_currency")
        .agg(
            pl.first("contact_name"),
            pl.col("project_code").drop_nulls().unique().sort().str.join(", ").alias("codes"),
            pl.col("project_code")
            .filter(pl.col("source_kind") != "discount")
            .is_null()
            .any()
            .alias("has_uncoded"),
            pl.len().cast(pl.Int64).alias("line_count"),
            pl.col("line_amount").sum().cast(MONEY).alias("line_sum"),
            pl.col("tax_amount").sum().cast(MONEY).alias("total_tax"),
        )
        # Exclusive lines: tax is added on top. Inclusive lines already contain their tax.
        .with_columns(
            (pl.col("line_sum") - pl.col("total_tax") if inclusive else pl.col("line_sum"))
            .cast(MONEY)
            .alias("subtotal"),
            (pl.col("line_sum") if inclusive else pl.col("line_sum") + pl.col("total_tax"))
            .cast(MONEY)
            .alias("total"),
        )
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
            pl.lit(entity.line_amount_types).alias("line_amount_types"),
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
        # The hash covers what the ledger receives, not our provenance columns.
        doc_lines = (
            draft_lines.filter(pl.col("invoice_number") == header["invoice_number"])
            .drop("rate_source", "rule_set_version")
            .to_dicts()
        )
        hashes.append(content_hash(header, doc_lines))
    headers = headers.with_columns(
        pl.Series("content_hash", hashes, dtype=pl.String),
        pl.lit(rule_set_version).alias("rule_set_version"),
        pl.lit(run_id).alias("run_id"),
    )
    return Drafts(invoices=headers, lines=draft_lines, sources=sources, rates_used=rates_used)
