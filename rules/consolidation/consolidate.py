"""The month's group consolidation as pure polars: translate, book the translation difference, eliminate.

- Income and expense are translated at the month's AVERAGE rate, balances at its CLOSING rate
  (TRANSLATION_RULE, per ledger row, to the reporting currency's minor units).
- Each entity's translation difference is booked explicitly, in equity: its month's balances at
  the closing rate less the same month's result (income less expense) at the average rate.
- Intercompany revenue and cost, receivables and payables are eliminated reference by reference.
  Both sides are held in the charge's currency and translated at the same rate, so a matched
  pair eliminates to exactly zero; an unmatched or unequal pair is reported by its reference.
- Group totals are the entities' totals less the eliminations, per line item.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from rules.consolidation.ledger import (
    BALANCES,
    EQUITY,
    IC_COST,
    IC_PAYABLES,
    IC_RECEIVABLES,
    IC_REVENUE,
    PROFIT_AND_LOSS,
    SIGN,
    signed,
)
from rules.consolidation.translation_rates import AVERAGE, CLOSING, MissingTranslationRate
from rules.money import MONEY, TRANSLATION_RULE, exact_product, round_to_minor_units

TRANSLATION_DIFFERENCE = "translation_difference"
REVENUE_COST = "revenue_cost"
RECEIVABLE_PAYABLE = "receivable_payable"
# Which pair each eliminated line item belongs to, and on which side of the charge it sits.
ELIMINATED = {
    IC_REVENUE: (REVENUE_COST, "sale"),
    IC_COST: (REVENUE_COST, "purchase"),
    IC_RECEIVABLES: (RECEIVABLE_PAYABLE, "sale"),
    IC_PAYABLES: (RECEIVABLE_PAYABLE, "purchase"),
}


def rate_type_of(statement: pl.Expr) -> pl.Expr:
    """Income and expense translate at the average rate, balances at the closing rate."""
    return pl.when(statement.is_in(PROFIT_AND_LOSS)).then(pl.lit(AVERAGE)).otherwise(pl.lit(CLOSING))


def translate(ledger: pl.DataFrame, rates: pl.DataFrame, reporting: str) -> pl.DataFrame:
    """Each ledger row with its rate (type, value, source, dates) and `amount_reporting`.

    Raises MissingTranslationRate naming the currency when `rates` has none for a row.
    """
    keyed = ledger.with_columns(rate_type_of(pl.col("statement")).alias("rate_type"))
    joined = keyed.join(
        rates.select(
            "currency", "rate_type", "rate", pl.col("source").alias("rate_source"), "rate_date_from",
            "rate_date_to", "reporting_currency",
        ),
        on=["currency", "rate_type"],
        how="left",
    )  # fmt: skip
    unrated = (
        joined.filter(pl.col("rate").is_null()).select("currency", "rate_type").unique().sort("currency")
    )
    if unrated.height:
        missing = ", ".join(f"{c} ({t})" for c, t in unrated.iter_rows())
        raise MissingTranslationRate(f"no translation rate into {reporting} for {missing}")
    return joined.with_columns(
        round_to_minor_units(
            exact_product(pl.col("amount"), pl.col("rate")), pl.lit(reporting), TRANSLATION_RULE
        )
        .cast(MONEY)
        .alias("amount_reporting")
    )


def translation_differences(translated: pl.DataFrame, entities: list[str], reporting: str) -> pl.DataFrame:
    """Per entity: result at average, net assets at closing, and their difference (booked in equity)."""
    per = (
        translated.with_columns(signed(pl.col("amount_reporting")).alias("signed"))
        .group_by("entity")
        .agg(
            pl.col("signed")
            .filter(pl.col("statement").is_in(PROFIT_AND_LOSS))
            .sum()
            .alias("result_at_average"),
            pl.col("signed").filter(pl.col("statement").is_in(BALANCES)).sum().alias("net_assets_at_closing"),
        )
    )
    frame = (
        pl.DataFrame({"entity": entities}, schema={"entity": pl.String})
        .join(per, on="entity", how="left")
        .with_columns(
            pl.col("result_at_average").fill_null(Decimal(0)).cast(MONEY),
            pl.col("net_assets_at_closing").fill_null(Decimal(0)).cast(MONEY),
        )
        .with_columns(
            (pl.col("net_assets_at_closing") - pl.col("result_at_average"))
            .cast(MONEY)
            .alias(TRANSLATION_DIFFERENCE),
            pl.lit(reporting).alias("reporting_currency"),
        )
    )
    return frame.sort("entity")


def eliminations(translated: pl.DataFrame) -> pl.DataFrame:
    """One elimination per intercompany row: the amount taken out of the group, in its natural sign."""
    pairs = {k: v[0] for k, v in ELIMINATED.items()}
    sides = {k: v[1] for k, v in ELIMINATED.items()}
    return (
        translated.filter(pl.col("line_item").is_in(list(ELIMINATED)))
        .select(
            "period",
            "reference",
            pl.col("line_item").replace_strict(pairs, return_dtype=pl.String).alias("pair"),
            pl.col("line_item").replace_strict(sides, return_dtype=pl.String).alias("side"),
            "entity",
            "counterparty_entity",
            "statement",
            "line_item",
            "currency",
            "amount",
            "rate_type",
            "rate",
            "amount_reporting",
        )
        .sort("reference", "pair", "side")
    )


def elimination_balance(elims: pl.DataFrame) -> pl.DataFrame:
    """Per reference and pair: both sides' entities and amounts, the net (0 when matched) and the problem.

    `problem` is null for a matched pair; otherwise it says which side is missing, that the two
    sides name different entities, or that they do not net to zero.
    """
    sale = elims.filter(pl.col("side") == "sale").group_by("reference", "pair").agg(
        pl.first("entity").alias("sale_entity"), pl.first("counterparty_entity").alias("sale_counterparty"),
        pl.first("currency").alias("sale_currency"), pl.col("amount").sum().alias("sale_amount"),
        pl.col("amount_reporting").sum().alias("sale_reporting"),
    )  # fmt: skip
    purchase = elims.filter(pl.col("side") == "purchase").group_by("reference", "pair").agg(
        pl.first("entity").alias("purchase_entity"), pl.first("counterparty_entity").alias("purchase_counterparty"),
        pl.first("currency").alias("purchase_currency"), pl.col("amount").sum().alias("purchase_amount"),
        pl.col("amount_reporting").sum().alias("purchase_reporting"),
    )  # fmt: skip
    both = sale.join(purchase, on=["reference", "pair"], how="full", coalesce=True)
    zero = pl.lit(Decimal(0), MONEY)
    return (
        both.with_columns(
            (pl.col("sale_reporting").fill_null(zero) - pl.col("purchase_reporting").fill_null(zero))
            .cast(MONEY)
            .alias("net_reporting")
        )
        .with_columns(
            pl.when(pl.col("purchase_entity").is_null())
            .then(pl.format("purchase side missing (sale in {}: {} {})", "sale_entity", "sale_amount", "sale_currency"))
            .when(pl.col("sale_entity").is_null())
            .then(
                pl.format(
                    "sale side missing (purchase in {}: {} {})", "purchase_entity", "purchase_amount",
                    "purchase_currency",
                )
            )
            .when(
                (pl.col("sale_entity") != pl.col("purchase_counterparty"))
                | (pl.col("purchase_entity") != pl.col("sale_counterparty"))
            )
            .then(pl.format("sides name different entities (sale in {}, purchase in {})", "sale_entity", "purchase_entity"))
            .when(pl.col("net_reporting") != 0)
            .then(
                pl.format(
                    "does not net to zero: sale {} {} vs purchase {} {} (net {} in reporting currency)",
                    "sale_amount", "sale_currency", "purchase_amount", "purchase_currency", "net_reporting",
                )
            )
            .otherwise(pl.lit(None, pl.String))
            .alias("problem")
        )
        .sort("reference", "pair")
    )  # fmt: skip


def entity_totals(translated: pl.DataFrame, differences: pl.DataFrame) -> pl.DataFrame:
    """Per entity, statement and line item, the reporting-currency total, translation difference included."""
    lines = translated.group_by("entity", "statement", "line_item").agg(
        pl.col("amount_reporting").sum().cast(MONEY).alias("amount_reporting")
    )
    booked = differences.select(
        "entity", pl.lit(EQUITY).alias("statement"), pl.lit(TRANSLATION_DIFFERENCE).alias("line_item"),
        pl.col(TRANSLATION_DIFFERENCE).alias("amount_reporting"),
    )  # fmt: skip
    return pl.concat([lines, booked]).sort("entity", "statement", "line_item")


def group_totals(totals: pl.DataFrame, elims: pl.DataFrame) -> pl.DataFrame:
    """Per statement and line item: the entities' total, the eliminations, and the group total (the difference)."""
    entities = totals.group_by("statement", "line_item").agg(
        pl.col("amount_reporting").sum().cast(MONEY).alias("entities_total")
    )
    eliminated = elims.group_by("statement", "line_item").agg(
        pl.col("amount_reporting").sum().cast(MONEY).alias("eliminations")
    )
    zero = pl.lit(Decimal(0), MONEY)
    return (
        entities.join(eliminated, on=["statement", "line_item"], how="full", coalesce=True)
        .with_columns(pl.col("entities_total").fill_null(zero), pl.col("eliminations").fill_null(zero))
        .with_columns((pl.col("entities_total") - pl.col("eliminations")).cast(MONEY).alias("group_total"))
        .sort("statement", "line_item")
    )


def eliminations_net_to_zero(balance: pl.DataFrame) -> tuple[bool, str]:
    """Every reference's revenue/cost and receivable/payable pair is matched and nets to zero."""
    if balance.height == 0:
        return True, "no intercompany charges to eliminate"
    bad = balance.filter(pl.col("problem").is_not_null())
    if bad.height:
        listed = "; ".join(
            f"{r} {p}: {why}" for r, p, why in bad.select("reference", "pair", "problem").iter_rows()
        )
        return False, f"{bad.height} unmatched intercompany pair(s): {listed}"
    refs = balance["reference"].n_unique()
    return True, f"{refs} reference(s), {balance.height} pair(s) eliminated, each nets to 0"


def group_equals_entities_less_eliminations(
    translated: pl.DataFrame, differences: pl.DataFrame, elims: pl.DataFrame, group: pl.DataFrame
) -> tuple[bool, str]:
    """The group totals equal the entities' rows summed less the eliminations, line item by line item,
    and the group's result plus its translation difference equals its net assets."""
    recomputed: dict[tuple[str, str], Decimal] = {}
    for statement, item, amount in translated.select(
        "statement", "line_item", "amount_reporting"
    ).iter_rows():
        recomputed[(statement, item)] = recomputed.get((statement, item), Decimal(0)) + amount
    for amount in differences[TRANSLATION_DIFFERENCE].to_list():
        key = (EQUITY, TRANSLATION_DIFFERENCE)
        recomputed[key] = recomputed.get(key, Decimal(0)) + amount
    for statement, item, amount in elims.select("statement", "line_item", "amount_reporting").iter_rows():
        recomputed[(statement, item)] = recomputed.get((statement, item), Decimal(0)) - amount
    stated = {(s, i): t for s, i, t in group.select("statement", "line_item", "group_total").iter_rows()}
    keys = set(recomputed) | set(stated)
    wrong = sorted(k for k in keys if recomputed.get(k, Decimal(0)) != stated.get(k, Decimal(0)))
    if wrong:
        listed = ", ".join(f"{s}/{i}: {stated.get((s, i))} vs {recomputed.get((s, i))}" for s, i in wrong)
        return False, f"group totals differ from entities less eliminations: {listed}"
    result = sum((SIGN[s] * t for (s, _i), t in stated.items() if s in PROFIT_AND_LOSS), Decimal(0))
    net_assets = sum((SIGN[s] * t for (s, _i), t in stated.items() if s in BALANCES), Decimal(0))
    difference = stated.get((EQUITY, TRANSLATION_DIFFERENCE), Decimal(0))
    if result + difference != net_assets:
        return (
            False,
            f"group result {result} + translation difference {difference} != net assets {net_assets}",
        )
    return True, (
        f"{len(stated)} line items: group = entities - eliminations; result {result} + translation "
        f"difference {difference} = net assets {net_assets}"
    )
