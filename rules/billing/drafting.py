"""Billable lines of one entity-month -> invoice drafts (headers, lines, sources), as pure polars.

Rules, each named:
- one invoice per client and currency; a time line per project, task and unit price,
  one expense line per expense;
- every line is priced as the accounting system prices it: line amount = quantity x unit price,
  half-up to the currency's minor units (LINE_AMOUNT_RULE), or the ledger refuses the invoice;
- the money total follows the client's (else the entity's) `money_rounding` rule: per line
  (default: half-up, the same as the ledger) or per invoice (the exact sum rounded once), by mode;
  when it differs from the sum of the ledger-priced lines, one explicit ROUNDING_LINE
  ("Rounding (invoice:half_up)", quantity 1, untaxed, on the entity's rounding account) carries the
  difference, after the discounts and before the retainer, so the invoice totals what the rule gives;
- tax by the entity's `tax_rounding` rule: per line (default: half-up, LINE_TAX_RULE; the
  accounting system computes tax per line and sums it), or per invoice (the unrounded line taxes
  summed and rounded once, then spread over the lines by LARGEST_REMAINDER; the line TaxAmounts are
  sent as overrides, each within one minor unit of the ledger's own per-line figure);
- discounts (discounts.py) and retainers (retainers.py) are lines of their own;
- subtotal, tax and total are sums of the lines, never recomputed another way;
- every line records the rounding rules that produced it (`rounding_rule`, `tax_rounding_rule`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from rules.billing.discounts import INVOICE_LEVEL_PROJECT, discount_lines
from rules.billing.retainers import (
    BALANCE_SCHEMA,
    RETAINER_APPLIED,
    RETAINER_KINDS,
    RETAINER_TOP_UP,
    RetainerAccount,
    applied_description,
    reduce_draw,
    retainer_lines,
)
from rules.documents import content_hash, document_number_prefix
from rules.fx_conversion import rates_for
from rules.fx_rates import FxSnapshot
from rules.money import (
    DEFAULT_LEVEL,
    DEFAULT_MODE,
    FX_CONVERSION_RULE,
    LARGEST_REMAINDER,
    LEDGER_MODE,
    LINE_AMOUNT_RULE,
    LINE_TAX_RULE,
    MONEY,
    QUANTITY,
    ROUNDING_LINE,
    ROUNDING_MODES,
    WIDE,
    RoundingRule,
    exact_product,
    round_by_mode,
    round_decimal,
    round_to_minor_units,
    round_total_and_allocate,
    rounding_label,
    rounding_line_description,
)
from rules.pricing import round_up_to_increment
from rules.rule_sets import Discount, MoneyRounding, TaxOverride, TaxRounding
from rules.settings import EntityConfig, FieldMapping

# Lines of an invoice in this order: work, then discounts, then the rounding line, then the retainer
# (top-up, then its draw). The rounding line closes the pricing of the work, so a bookkeeper reads the
# configured subtotal right above the retainer movements, which are about the balance, not the price;
# and the retainer draws on the invoice as rounded.
KIND_ORDER = {
    "time": 0,
    "expense": 1,
    "discount": 2,
    ROUNDING_LINE: 3,
    RETAINER_TOP_UP: 4,
    RETAINER_APPLIED: 5,
}


@dataclass(frozen=True)
class Drafts:
    """Invoice headers, their lines, and which normalized line each invoice line bills."""

    invoices: pl.DataFrame
    lines: pl.DataFrame
    sources: pl.DataFrame
    rates_used: pl.DataFrame  # the period-end rates applied: pin them so reruns reproduce
    # Each retainer's opening, top-up, draw and closing for the period (retainers.BALANCE_SCHEMA).
    retainer_balances: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=BALANCE_SCHEMA))


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


def exact_tax(amount: Decimal, fraction: Decimal, line_amount_types: str) -> Decimal:
    """The unrounded tax of one line: amount x rate (Exclusive), or the tax inside it, amount x rate / (1 + rate)."""
    return amount * fraction if line_amount_types == "Exclusive" else amount * fraction / (1 + fraction)


def line_tax(
    amount: pl.Expr,
    fraction: pl.Expr,
    currency: pl.Expr,
    line_amount_types: str,
    rule: RoundingRule = LINE_TAX_RULE,
) -> pl.Expr:
    """Tax of each line rounded by `rule` (LINE_TAX_RULE: as the accounting system books it, per line).

    Exclusive: amount x rate. Inclusive: the tax inside the amount, amount x rate / (1 + rate),
    computed with Python's Decimal (a division polars would truncate) on the few invoice lines.
    """
    if line_amount_types == "Exclusive":
        return round_to_minor_units(exact_product(amount, fraction), currency, rule).alias("tax_amount")

    def inclusive(row: dict[str, Decimal | str]) -> Decimal:
        value = exact_tax(Decimal(row["a"]), Decimal(row["f"]), line_amount_types)
        return round_decimal(value, str(row["c"]), rule)

    return (
        pl.struct(a=amount, f=fraction, c=currency)
        .map_elements(inclusive, return_dtype=MONEY)
        .alias("tax_amount")
    )


def money_rounding_for(
    entity_id: str, rules: Sequence[MoneyRounding], day: date
) -> tuple[str, str, pl.DataFrame]:
    """The entity's default money rounding (mode, level) in force on `day`, and each overriding client's."""
    live = [r for r in rules if r.in_force(day)]
    mode, level = next(
        ((r.mode, r.level) for r in live if r.entity == entity_id), (DEFAULT_MODE, DEFAULT_LEVEL)
    )
    clients = pl.DataFrame(
        [{"client_id": r.client, "money_mode": r.mode, "money_level": r.level} for r in live if r.client],
        schema={"client_id": pl.Int64, "money_mode": pl.String, "money_level": pl.String},
    )
    return mode, level, clients


def tax_rounding_for(entity_id: str, rules: Sequence[TaxRounding], day: date) -> tuple[str, str]:
    """The entity's tax rounding (mode, level) in force on `day`; per line, half-up when none is set."""
    return next(
        ((r.mode, r.level) for r in rules if r.entity == entity_id and r.in_force(day)),
        (DEFAULT_MODE, DEFAULT_LEVEL),
    )


def _in_invoice_order(frame: pl.DataFrame) -> pl.DataFrame:
    # A total order: each source line belongs to exactly one invoice line, so the first source
    # line id breaks every tie and reruns number (and allocate to) the lines identically.
    return frame.sort(
        pl.col("client_id"),
        pl.col("txn_currency"),
        pl.col("source_kind").replace_strict(KIND_ORDER, return_dtype=pl.Int8),
        "project_id",
        "task_id",
        "unit_price",
        pl.col("line_ids").list.first(),
        "description",
        nulls_last=False,
    )


def _spread_per_invoice(
    keys: Sequence[tuple[object, ...]], exact: Sequence[Decimal], modes: Sequence[str]
) -> list[Decimal]:
    """Invoice-level rounding of rows grouped by (client, currency, ...): each group's exact sum is
    rounded once by its mode and spread back by LARGEST_REMAINDER (rules/money.py), in row order."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    result = [Decimal(0)] * len(exact)
    for rows in groups.values():
        currency = str(keys[rows[0]][1])
        for index, amount in zip(
            rows, round_total_and_allocate([exact[i] for i in rows], currency, modes[rows[0]]), strict=True
        ):
            result[index] = amount
    return result


def _line_amounts(ordered: pl.DataFrame) -> pl.Expr:
    """Line amounts by each row's configured money rounding: per line by its mode, or per invoice
    (spread). They sum to the configured total, and are what the discounts are a percentage of."""
    per_line = round_by_mode(
        exact_product(pl.col("quantity"), pl.col("unit_price")), pl.col("txn_currency"), pl.col("money_mode")
    )
    invoice_rows = ordered.with_row_index("row").filter(pl.col("money_level") == "invoice")
    if invoice_rows.height == 0:
        return per_line.alias("line_amount")
    exact = invoice_rows.select(exact_product(pl.col("quantity"), pl.col("unit_price")).alias("x"))[
        "x"
    ].to_list()
    spread = _spread_per_invoice(
        list(zip(invoice_rows["client_id"], invoice_rows["txn_currency"], strict=True)),
        exact,
        invoice_rows["money_mode"].to_list(),
    )
    by_row = dict(zip(invoice_rows["row"].to_list(), spread, strict=True))
    full = pl.Series([by_row.get(i) for i in range(ordered.height)], dtype=MONEY)
    return (
        pl.when(pl.col("money_level") == "invoice")
        .then(pl.lit(full))
        .otherwise(per_line)
        .cast(MONEY)
        .alias("line_amount")
    )


def _rounding_lines(configured: pl.DataFrame, ledger: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """One ROUNDING_LINE per invoice whose configured total differs from the sum of its ledger-priced
    lines, for the difference (same columns as `ledger`; none when they agree, as with the defaults)."""
    keys = ["client_id", "txn_currency"]
    totals = (
        configured.group_by(keys)
        .agg(
            pl.col("line_amount").sum().alias("configured"),
            pl.first("money_mode", "money_level", "contact_name", "client_name"),
        )
        .join(ledger.group_by(keys).agg(pl.col("line_amount").sum().alias("ledger")), on=keys)
        .with_columns((pl.col("configured") - pl.col("ledger")).cast(MONEY).alias("difference"))
        .filter(pl.col("difference") != 0)
        .sort(keys)
    )
    levels, modes = totals["money_level"].to_list(), totals["money_mode"].to_list()
    rows = totals.with_columns(
        pl.Series("description", [rounding_line_description(lv, m) for lv, m in zip(levels, modes, strict=True)],
                  dtype=pl.String),
        pl.Series("rounding_rule", [rounding_label(lv, m) for lv, m in zip(levels, modes, strict=True)],
                  dtype=pl.String),
    )  # fmt: skip
    values = {
        "quantity": pl.lit(Decimal(1), QUANTITY),
        "unit_price": pl.col("difference"),  # may be negative: the ledger refuses only a negative quantity
        "line_amount": pl.col("difference"),
        "source_kind": pl.lit(ROUNDING_LINE),
        "rate_source": pl.format("rounding {}", "rounding_rule"),
        "line_ids": pl.lit([], pl.List(pl.String)),
        "project_id": pl.lit(INVOICE_LEVEL_PROJECT, pl.Int64),  # it belongs to no one project
        "account_code": pl.lit(entity.rounding_account_code),
    }
    return rows.select(
        values.get(name, pl.col(name) if name in rows.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in ledger.schema.items()
    )


def _with_tax(priced: pl.DataFrame, line_amount_types: str, mode: str, level: str) -> pl.DataFrame:
    """`tax_amount` of each line: per line by `mode`, or per invoice (round the sum of the unrounded
    line taxes once, spread it over the lines by LARGEST_REMAINDER)."""
    if level == "line":
        return priced.with_columns(
            line_tax(pl.col("line_amount"), pl.col("tax_fraction"), pl.col("txn_currency"), line_amount_types,
                     ROUNDING_MODES[mode])
        )  # fmt: skip
    exact = [
        exact_tax(Decimal(a), Decimal(f), line_amount_types)
        for a, f in zip(priced["line_amount"], priced["tax_fraction"], strict=True)
    ]
    keys = list(zip(priced["client_id"], priced["txn_currency"], strict=True))
    taxes = _spread_per_invoice(keys, exact, [mode] * priced.height)
    return priced.with_columns(pl.Series("tax_amount", taxes, dtype=MONEY))


def _keep_totals_non_negative(
    priced: pl.DataFrame,
    balances: pl.DataFrame,
    accounts: Sequence[RetainerAccount],
    line_amount_types: str,
    mode: str,
    level: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Exclusive prices with tax per line: a retainer that covers the whole invoice can leave the
    per-line taxes of the work a cent or two below the tax of the draw, so a total below zero.
    Draw that much less: the subtotal rises by it and the draw's tax can only fall, so one step
    brings the total to zero or above."""
    totals = priced.group_by("invoice_number").agg(
        (pl.col("line_amount").sum() + pl.col("tax_amount").sum()).alias("t")
    )
    short = dict(totals.filter(pl.col("t") < 0).iter_rows())
    applied = priced.filter(
        (pl.col("source_kind") == RETAINER_APPLIED) & pl.col("invoice_number").is_in(list(short))
    )
    if applied.height == 0:
        return priced, balances
    by_id = {f"retainer {a.retainer.id}": a for a in accounts}
    # One draw per short invoice is enough (see above): the last one, should two retainers share it.
    for row in applied.unique("invoice_number", keep="last", maintain_order=True).iter_rows(named=True):
        account, deficit = by_id[row["rate_source"]], Decimal(short[row["invoice_number"]]) * -1
        drawn = -Decimal(row["line_amount"]) - deficit
        hit = (pl.col("invoice_number") == row["invoice_number"]) & (pl.col("line_no") == row["line_no"])
        priced = priced.with_columns(
            pl.when(hit).then(pl.lit(-drawn, MONEY)).otherwise(pl.col("line_amount")).alias("line_amount"),
            pl.when(hit)
            .then(pl.lit(-drawn, MONEY))
            .otherwise(pl.col("unit_price"))
            .cast(priced.schema["unit_price"])
            .alias("unit_price"),
            pl.when(hit)
            .then(
                pl.lit(
                    applied_description(account.retainer, drawn, account.opening + account.retainer.top_up)
                )
            )
            .otherwise(pl.col("description"))
            .alias("description"),
        )
        balances = reduce_draw(balances, account.retainer.id, deficit)
    return _with_tax(priced, line_amount_types, mode, level), balances


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
    money_rounding: Sequence[MoneyRounding] = (),
    tax_rounding: Sequence[TaxRounding] = (),
    retainers: Sequence[RetainerAccount] = (),
) -> Drafts:
    """Draft one entity-month's invoices from its invoiceable lines (see billable_for_period).

    `retainers` are the entity's retainers in force with their opening balances
    (retainers.opening_balances); their top-ups, draws and closings come back in
    `Drafts.retainer_balances`.
    """
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
    default_mode, default_level, client_rounding = money_rounding_for(entity.id, money_rounding, period_end)
    ordered = (
        described.join(client_rounding, on="client_id", how="left")
        .with_columns(
            pl.col("money_mode").fill_null(default_mode),
            pl.col("money_level").fill_null(default_level),
            pl.lit(entity.revenue_account_code).alias("account_code"),
        )
        .pipe(_in_invoice_order)
    )
    configured = ordered.with_columns(
        _line_amounts(ordered),
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
    # Discounts are a percentage of the configured amounts, so totals stay what the rule gives.
    work = pl.concat(
        [ledger, discount_lines(configured, discounts), _rounding_lines(configured, ledger, entity)]
    ).drop("money_level")
    retainer_rows, balances = retainer_lines(work, retainers, entity.id, period)
    tax_mode, tax_level = tax_rounding_for(entity.id, tax_rounding, period_end)
    priced = (
        pl.concat([work, retainer_rows])
        .join(_tax_codes(entity, tax_overrides), on="client_id", how="left")
        .with_columns(
            # The rounding line moves money, never tax: the entity's 0% code (checked at load).
            pl.when(pl.col("source_kind") == ROUNDING_LINE)
            .then(pl.lit(entity.rounding_tax_code()))
            .otherwise(pl.col("tax_type").fill_null(entity.tax_type))
            .alias("tax_type"),
            pl.when(pl.col("source_kind") == ROUNDING_LINE)
            .then(pl.lit(entity.tax_rates()[entity.rounding_tax_code()] / 100, WIDE))
            .otherwise(pl.col("tax_fraction").fill_null(pl.lit(entity.tax_rate_percent / 100, WIDE)))
            .alias("tax_fraction"),
            pl.lit(rounding_label(tax_level, tax_mode)).alias("tax_rounding_rule"),
            pl.format(document_number_prefix(entity.id, period) + "{}-{}", "client_id", "txn_currency").alias(
                "invoice_number"
            ),
        )
        .pipe(_in_invoice_order)
        .with_columns(pl.int_range(1, pl.len() + 1).over("invoice_number").cast(pl.Int64).alias("line_no"))
    )
    priced = _with_tax(priced, entity.line_amount_types, tax_mode, tax_level)
    if not inclusive:
        priced, balances = _keep_totals_non_negative(priced, balances, retainers, entity.line_amount_types,
                                                     tax_mode, tax_level)  # fmt: skip
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
        "account_code",
        "project_id",
        "task_id",
        "source_kind",
        "rate_source",
        pl.lit(rule_set_version).alias("rule_set_version"),
        "rounding_rule",
        "tax_rounding_rule",
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
            .drop("rate_source", "rule_set_version", "rounding_rule", "tax_rounding_rule")
            .to_dicts()
        )
        hashes.append(content_hash(header, doc_lines))
    headers = headers.with_columns(
        pl.Series("content_hash", hashes, dtype=pl.String),
        pl.lit(rule_set_version).alias("rule_set_version"),
        pl.lit(run_id).alias("run_id"),
    )
    return Drafts(
        invoices=headers,
        lines=draft_lines,
        sources=sources,
        rates_used=rates_used,
        retainer_balances=balances.with_columns(
            pl.lit(rule_set_version).alias("rule_set_version"), pl.lit(run_id).alias("run_id")
        ),
    )
