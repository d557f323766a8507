"""Billable lines of one entity-month -> invoice drafts (headers, lines, sources), as pure polars.

Rules, each named:
- one invoice per client and currency; a time line per project, task and unit price,
  one expense line per expense; a `per_line` time rounding rule rounds a time line's total hours
  once (rules/time_rounding.py);
- every line is priced as the accounting system prices it: line amount = quantity x unit price,
  half-up to the currency's minor units (LINE_AMOUNT_RULE), or the ledger refuses the invoice;
- the money total follows the client's (else the entity's) `money_rounding` rule (money_rounding.py):
  when it differs from the sum of the ledger-priced lines, one explicit ROUNDING_LINE carries the
  difference, after the discounts and before the retainer;
- tax by the entity's `tax_rounding` rule, per line or per invoice (tax.py);
- discounts (discounts.py) and retainers (retainers.py) are lines of their own;
- subtotal, tax and total are sums of the lines, never recomputed another way;
- every line records the rounding rules that produced it (`rounding_rule`, `tax_rounding_rule`).

The unit price and where it came from are the normalized line's (rules/normalizing.py owns rate
resolution); drafting never resolves a rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from rules.billing.discounts import discount_lines
from rules.billing.invoice_lines import in_invoice_order, invoice_lines
from rules.billing.money_rounding import configured_line_amounts, money_rounding_for, rounding_lines
from rules.billing.retainers import (
    BALANCE_SCHEMA,
    RETAINER_KINDS,
    RetainerAccount,
    keep_totals_non_negative,
    retainer_lines,
)
from rules.billing.tax import tax_codes, tax_rounding_for, with_tax
from rules.documents import content_hash, document_number_prefix
from rules.fx_conversion import rates_for
from rules.fx_rates import FxSnapshot
from rules.mapping_document import FieldMapping
from rules.money import (
    DEFAULT_LEVEL,
    FX_CONVERSION_RULE,
    LARGEST_REMAINDER,
    LEDGER_MODE,
    LINE_AMOUNT_RULE,
    MONEY,
    ROUNDING_LINE,
    WIDE,
    exact_product,
    round_to_minor_units,
    rounding_label,
)
from rules.rounding_rules import MoneyRounding, TaxRounding
from rules.rule_sets import Discount, TaxOverride, TimeRounding
from rules.settings import BillbridgeConfig, EntityConfig


@dataclass(frozen=True)
class Drafts:
    """Invoice headers, their lines, and which normalized line each invoice line bills."""

    invoices: pl.DataFrame
    lines: pl.DataFrame
    sources: pl.DataFrame
    rates_used: pl.DataFrame  # the period-end rates applied: pin them so reruns reproduce
    # Each retainer's opening, top-up, draw and closing for the period (retainers.BALANCE_SCHEMA).
    retainer_balances: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=BALANCE_SCHEMA))


@dataclass(frozen=True)
class BillingRules:
    """The mapping document's rules that shape invoices, and the rule-set version the drafts record.

    A section left empty applies none of its rules (the defaults: half-up per line, the entity's
    tax code, no discount, no invoice-line time rounding).
    """

    fields: FieldMapping
    rule_set_version: str
    tax_overrides: Sequence[TaxOverride] = ()
    discounts: Sequence[Discount] = ()
    money_rounding: Sequence[MoneyRounding] = ()
    tax_rounding: Sequence[TaxRounding] = ()
    time_rounding: Sequence[TimeRounding] = ()

    @classmethod
    def of(cls, config: BillbridgeConfig) -> BillingRules:
        """Every billing rule of the configuration's mapping document."""
        mapping = config.mapping
        return cls(
            fields=mapping.field_mapping,
            rule_set_version=config.rule_set_version,
            tax_overrides=mapping.tax_overrides,
            discounts=mapping.discounts,
            money_rounding=mapping.money_rounding,
            tax_rounding=mapping.tax_rounding,
            time_rounding=mapping.time_rounding,
        )


@dataclass(frozen=True)
class DraftingContext:
    """The entity-month being drafted: its dates, the rates it converts at, its retainers, the run.

    `pinned_rates` are period-end rates an earlier run used (reused before `fx`); `retainers` are
    the entity's retainers in force with their opening balances (retainers.opening_balances).
    """

    entity: EntityConfig
    period_start: date
    period_end: date
    fx: FxSnapshot
    run_id: str
    pinned_rates: pl.DataFrame | None = None
    retainers: Sequence[RetainerAccount] = ()

    @property
    def period(self) -> str:
        """The period label, YYYY-MM."""
        return self.period_start.strftime("%Y-%m")


def billable_for_period(lines: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """The lines that may be invoiced: billable, and approved where the entity requires approval."""
    chosen = lines.filter(pl.col("billable"))
    if entity.require_approval:
        chosen = chosen.filter(pl.col("approved"))
    return chosen


def draft_invoices(lines: pl.DataFrame, context: DraftingContext, rules: BillingRules) -> Drafts:
    """Draft one entity-month's invoices from its normalized lines (those `billable_for_period`).

    The retainers' top-ups, draws and closings come back in `Drafts.retainer_balances`.
    """
    entity = context.entity
    work = _priced_work(
        invoice_lines(billable_for_period(lines, entity), rules.fields, rules.time_rounding), context, rules
    )
    retainer_rows, balances = retainer_lines(work, context.retainers, entity.id, context.period)
    priced, balances = _taxed(pl.concat([work, retainer_rows]), balances, context, rules)
    draft_lines = _draft_lines(priced, context, rules.rule_set_version)
    rates_used = _period_rates(priced, context)
    headers = _headers(_invoice_totals(priced, entity), rates_used, context, rules.fields)
    stamp = (pl.lit(rules.rule_set_version).alias("rule_set_version"), pl.lit(context.run_id).alias("run_id"))
    return Drafts(
        invoices=_with_content_hashes(headers, draft_lines).with_columns(*stamp),
        lines=draft_lines,
        sources=_sources(priced, context),
        rates_used=rates_used,
        retainer_balances=balances.with_columns(*stamp),
    )


def _priced_work(described: pl.DataFrame, context: DraftingContext, rules: BillingRules) -> pl.DataFrame:
    """The work lines priced as the ledger books them, then the discounts and the rounding line, both
    taken from the amounts the configured money rounding gives (so totals stay what the rule gives)."""
    entity = context.entity
    default_mode, default_level, client_rounding = money_rounding_for(
        entity.id, rules.money_rounding, context.period_end
    )
    ordered = (
        described.join(client_rounding, on="client_id", how="left")
        .with_columns(
            pl.col("money_mode").fill_null(default_mode),
            pl.col("money_level").fill_null(default_level),
            pl.lit(entity.revenue_account_code).alias("account_code"),
        )
        .pipe(in_invoice_order)
    )
    configured = ordered.with_columns(
        configured_line_amounts(ordered),
        pl.when(pl.col("money_level") == "line")
        .then(pl.format("line:{}", "money_mode"))
        .otherwise(pl.format("invoice:{}+{}", "money_mode", pl.lit(LARGEST_REMAINDER)))
        .alias("rounding_rule"),
    )
    # What the ledger books for each line; the configured rounding only moves the total (ROUNDING_LINE).
    ledger = configured.with_columns(
        round_to_minor_units(
            exact_product(pl.col("quantity"), pl.col("unit_price")), pl.col("txn_currency"), LINE_AMOUNT_RULE
        ).alias("line_amount"),
        pl.lit(rounding_label(DEFAULT_LEVEL, LEDGER_MODE)).alias("rounding_rule"),
    )
    return pl.concat(
        [ledger, discount_lines(configured, rules.discounts), rounding_lines(configured, ledger, entity)]
    ).drop("money_level")


def _taxed(
    rows: pl.DataFrame, balances: pl.DataFrame, context: DraftingContext, rules: BillingRules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every line numbered on its invoice, with its tax code and tax by the entity's tax rounding; a
    retainer draw that would leave an Exclusive invoice below zero is reduced (and its balance with it)."""
    entity = context.entity
    tax_mode, tax_level = tax_rounding_for(entity.id, rules.tax_rounding, context.period_end)
    rounding_line = pl.col("source_kind") == ROUNDING_LINE
    numbered = (
        rows.join(tax_codes(entity, rules.tax_overrides), on="client_id", how="left")
        .with_columns(
            # The rounding line moves money, never tax: the entity's 0% code (checked at load).
            pl.when(rounding_line)
            .then(pl.lit(entity.rounding_tax_code()))
            .otherwise(pl.col("tax_type").fill_null(entity.tax_type))
            .alias("tax_type"),
            pl.when(rounding_line)
            .then(pl.lit(entity.tax_rates()[entity.rounding_tax_code()] / 100, WIDE))
            .otherwise(pl.col("tax_fraction").fill_null(pl.lit(entity.tax_rate_percent / 100, WIDE)))
            .alias("tax_fraction"),
            pl.lit(rounding_label(tax_level, tax_mode)).alias("tax_rounding_rule"),
            pl.format(
                document_number_prefix(entity.id, context.period) + "{}-{}", "client_id", "txn_currency"
            ).alias("invoice_number"),
        )
        .pipe(in_invoice_order)
        .with_columns(pl.int_range(1, pl.len() + 1).over("invoice_number").cast(pl.Int64).alias("line_no"))
    )
    priced = with_tax(numbered, entity.line_amount_types, tax_mode, tax_level)
    if entity.line_amount_types == "Inclusive":
        return priced, balances
    return keep_totals_non_negative(
        priced, balances, context.retainers, entity.line_amount_types, tax_mode, tax_level
    )


def _draft_lines(priced: pl.DataFrame, context: DraftingContext, rule_set_version: str) -> pl.DataFrame:
    """billing.invoice_draft_lines: what each line shows, and the rules that produced it."""
    return priced.select(
        "invoice_number",
        "line_no",
        pl.lit(context.entity.id).alias("entity"),
        pl.lit(context.period).alias("period"),
        "description",
        pl.col("quantity").cast(MONEY),
        pl.col("unit_price").cast(MONEY).alias("unit_amount"),
        pl.col("line_amount").cast(MONEY),
        "tax_type",
        pl.col("tax_amount").cast(MONEY),
        "account_code",
        "project_id",
        "task_id",
        "source_kind",
        "rate_source",
        pl.lit(rule_set_version).alias("rule_set_version"),
        "rounding_rule",
        "tax_rounding_rule",
    )


def _sources(priced: pl.DataFrame, context: DraftingContext) -> pl.DataFrame:
    """billing.invoice_line_sources: the normalized lines each invoice line bills."""
    return (
        priced.select(
            "invoice_number",
            "line_no",
            pl.lit(context.entity.id).alias("entity"),
            pl.lit(context.period).alias("period"),
            pl.col("line_ids").alias("line_id"),
        )
        .explode("line_id")
        .drop_nulls("line_id")
    )  # discount lines bill no entry of their own


def _period_rates(priced: pl.DataFrame, context: DraftingContext) -> pl.DataFrame:
    """Period-end rates between each invoice currency and the base currency, both ways."""
    base = context.entity.base_currency
    needs = priced.select(
        pl.lit(context.period_end).alias("day"),
        pl.col("txn_currency").alias("from_currency"),
        pl.lit(base).alias("to_currency"),
    ).unique()
    reverse = needs.rename({"from_currency": "to_currency", "to_currency": "from_currency"})
    both_ways = pl.concat([needs, reverse.select(needs.columns)])
    return rates_for(both_ways, context.fx.rates, context.fx.label, context.pinned_rates)


def _invoice_totals(priced: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """Per invoice: contact, project codes, line count, and subtotal, tax and total as sums of lines."""
    inclusive = entity.line_amount_types == "Inclusive"
    return (
        priced.group_by("invoice_number", "client_id", "txn_currency")
        .agg(
            pl.first("contact_name"),
            pl.col("project_code").drop_nulls().unique().sort().str.join(", ").alias("codes"),
            pl.col("project_code")
            .filter(~pl.col("source_kind").is_in(["discount", ROUNDING_LINE, *RETAINER_KINDS]))
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
    )


def _headers(
    totals: pl.DataFrame, rates: pl.DataFrame, context: DraftingContext, fields: FieldMapping
) -> pl.DataFrame:
    """billing.invoice_drafts without its hash: dates, reference from the project codes, the
    period-end `currency_rate` and the total in base currency (FX_CONVERSION_RULE)."""
    entity = context.entity
    to_base = rates.filter(pl.col("to_currency") == entity.base_currency)
    from_base = rates.filter(pl.col("from_currency") == entity.base_currency)
    no_code = fields.reference_when_no_code
    return (
        totals.join(
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
            .then(pl.lit(no_code))
            .when(pl.col("has_uncoded"))
            .then(pl.concat_str(pl.col("codes"), pl.lit(", " + no_code)))
            .otherwise(pl.col("codes"))
            .alias("reference"),
        )
        .select(
            "invoice_number",
            pl.lit(entity.id).alias("entity"),
            pl.lit(context.period).alias("period"),
            "client_id",
            "contact_name",
            pl.col("txn_currency").alias("currency"),
            pl.lit(context.period_end).alias("invoice_date"),
            pl.lit(context.period_end + timedelta(days=entity.payment_terms_days)).alias("due_date"),
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


def _with_content_hashes(headers: pl.DataFrame, draft_lines: pl.DataFrame) -> pl.DataFrame:
    """Each header's `content_hash`: of what the ledger receives, not of our provenance columns.

    The lines are grouped by invoice in one pass (in their order), not filtered once per invoice:
    that filter made a month's hashing quadratic, a third of drafting at 400 invoices a month."""
    shown = draft_lines.drop("rate_source", "rule_set_version", "rounding_rule", "tax_rounding_rule")
    by_invoice: dict[object, list[dict[str, object]]] = {}
    for line in shown.iter_rows(named=True):
        by_invoice.setdefault(line["invoice_number"], []).append(line)
    hashes = [
        content_hash(header, by_invoice.get(header["invoice_number"], []))
        for header in headers.iter_rows(named=True)
    ]
    return headers.with_columns(pl.Series("content_hash", hashes, dtype=pl.String))
