"""Intercompany charges at cost plus markup, as pure polars over the time lines of `work.py`.

When a person whose home entity is A (the seller) logs time on a project entity B (the
buyer) bills, A charges B for it: hours x the entry's cost rate (in A's base currency) plus
the markup the mapping document sets for the pair. The same function prices both sides from
the same lines, so they agree by construction:

- the sale, in A's ledger: an ACCREC invoice to B's legal name;
- the purchase, in B's ledger: an ACCPAY bill from A's legal name, in A's currency;

both numbered `BB-<A>-<YYYYMM>-IC-<B>` and carrying the reference `IC-<A>-<B>-<YYYY-MM>`.

Rules, each named: a cost line per project, person and cost rate, amount = hours x cost rate
by LINE_AMOUNT_RULE; a markup line per markup rule, amount = the cost it marks up x percent by
MARKUP_RULE; tax per line by LINE_TAX_RULE at the side's intercompany tax code (0% unless
configured); totals are sums of lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from rules.billing.tax import line_tax
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA, content_hash
from rules.intercompany.policy import (
    DOCUMENT_TYPE,
    SALE,
    charge_document_number,
    charge_reference,
    intercompany_tax,
    legal_name,
)
from rules.money import LINE_AMOUNT_RULE, MONEY, QUANTITY, WIDE, exact_product, round_to_minor_units
from rules.pricing import MARKUP_RULE
from rules.settings import BillbridgeConfig, EntityConfig

CHARGE_SCHEMA = pl.Schema(
    {
        "reference": pl.String(),
        "entity": pl.String(),  # whose ledger: the seller's for a sale, the buyer's for a purchase
        "period": pl.String(),
        "seller_entity": pl.String(),
        "buyer_entity": pl.String(),
        "side": pl.String(),
        "currency": pl.String(),  # the seller's base currency
        "hours": QUANTITY,
        "cost_amount": MONEY,
        "markup_amount": MONEY,
        "net_amount": MONEY,
        "document_number": pl.String(),
        "rule_set_version": pl.String(),
        "run_id": pl.String(),
    }
)
SOURCE_SCHEMA = pl.Schema(
    {
        "reference": pl.String(),
        "entity": pl.String(),
        "period": pl.String(),
        "side": pl.String(),
        "line_id": pl.String(),
        "source_id": pl.Int64(),
        "hours": QUANTITY,
        "cost_rate": MONEY,
    }
)
_LINE_COLUMNS = ["kind_order", "description", "quantity", "unit_amount", "line_amount", "project_id", "person_id",
                 "cost_rate", "markup_rule_id"]  # fmt: skip


@dataclass(frozen=True)
class Intercompany:
    """One ledger's side of its intercompany charges: the charges, their sources and their documents."""

    charges: pl.DataFrame
    sources: pl.DataFrame
    documents: pl.DataFrame
    document_lines: pl.DataFrame

    @classmethod
    def empty(cls) -> Intercompany:
        return cls(
            pl.DataFrame(schema=CHARGE_SCHEMA),
            pl.DataFrame(schema=SOURCE_SCHEMA),
            pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA),
            pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA),
        )

    @classmethod
    def concat(cls, parts: list[Intercompany]) -> Intercompany:
        if not parts:
            return cls.empty()
        return cls(
            pl.concat([p.charges for p in parts]),
            pl.concat([p.sources for p in parts]),
            pl.concat([p.documents for p in parts]),
            pl.concat([p.document_lines for p in parts]),
        )


@dataclass(frozen=True)
class ChargeMonth:
    """What every charge of one entity-month shares: the configuration, the month and the run."""

    config: BillbridgeConfig
    period_start: date
    period_end: date
    rule_set_version: str
    run_id: str

    @property
    def period(self) -> str:
        """The period label, YYYY-MM."""
        return self.period_start.strftime("%Y-%m")


@dataclass(frozen=True)
class ChargeSide:
    """One seller-buyer pair's charge as one ledger books it: the sale in the seller's, the purchase in
    the buyer's. `currency_rate` is units of the seller's currency per one of the ledger's base (1 on a sale)."""

    side: str
    seller: EntityConfig
    buyer: EntityConfig
    currency_rate: Decimal

    @property
    def owner(self) -> EntityConfig:
        """The entity whose ledger books this side."""
        return self.seller if self.side == SALE else self.buyer

    @property
    def counterpart(self) -> EntityConfig:
        """The entity this side's document is addressed to (or from)."""
        return self.buyer if self.side == SALE else self.seller


def intercompany_side(
    work: pl.DataFrame, side: str, owner: str, month: ChargeMonth, currency_rates: Mapping[str, Decimal]
) -> Intercompany:
    """Every charge on `side` of the `owner` entity's ledger for the month, from `intercompany_work` lines.

    The sale side prices one charge per buyer, the purchase side one per seller.
    `currency_rates` maps each seller currency to units of it per one of the owner's base currency.
    """
    parts = []
    counterpart = "buyer_entity" if side == SALE else "seller_entity"
    for (other,) in work.select(counterpart).unique().sort(counterpart).iter_rows():
        seller, buyer = (owner, other) if side == SALE else (other, owner)
        seller_config = month.config.entity(seller)
        pair = ChargeSide(
            side, seller_config, month.config.entity(buyer), currency_rates[seller_config.base_currency]
        )
        parts.append(price_charge(work.filter(pl.col(counterpart) == other), pair, month))
    return Intercompany.concat(parts)


def price_charge(work: pl.DataFrame, pair: ChargeSide, month: ChargeMonth) -> Intercompany:
    """One seller-buyer pair's charge for a month on one side, from the time lines of
    `intercompany_work` for that pair. Everything is the same on both sides but the ledger's tax
    code, account and contact."""
    if work.height == 0:
        return Intercompany.empty()
    currency = pair.seller.base_currency
    cost_lines = _cost_lines(_with_markups(work, month.config, pair), currency)
    markup_lines = _markup_lines(cost_lines, currency)
    document_lines = _document_lines(cost_lines, markup_lines, pair, month)
    header = _header(document_lines, pair, month)
    documents = pl.DataFrame(
        [{**header, "rule_set_version": month.rule_set_version, "run_id": month.run_id}],
        schema=DOCUMENT_HEADER_SCHEMA,
    )
    cost = Decimal(cost_lines["line_amount"].sum())
    markup = Decimal(markup_lines["line_amount"].sum()) if markup_lines.height else Decimal(0)
    charges = pl.DataFrame(
        [
            {
                "reference": header["reference"], "entity": pair.owner.id, "period": month.period,
                "seller_entity": pair.seller.id, "buyer_entity": pair.buyer.id, "side": pair.side,
                "currency": currency, "hours": Decimal(work["hours"].sum()), "cost_amount": cost,
                "markup_amount": markup, "net_amount": cost + markup, "document_number": header["document_number"],
                "rule_set_version": month.rule_set_version, "run_id": month.run_id,
            }
        ],
        schema=CHARGE_SCHEMA,
    )  # fmt: skip
    sources = work.sort("line_id").select(
        pl.lit(header["reference"]).alias("reference"), pl.lit(pair.owner.id).alias("entity"),
        pl.lit(month.period).alias("period"), pl.lit(pair.side).alias("side"), "line_id", "source_id",
        pl.col("hours").cast(QUANTITY), pl.col("cost_rate").cast(MONEY),
    )  # fmt: skip
    return Intercompany(charges, sources, documents, document_lines)


def _with_markups(work: pl.DataFrame, config: BillbridgeConfig, pair: ChargeSide) -> pl.DataFrame:
    """`work` with the markup in force on each line's day: markup_rule_id (null: the default) and percent."""
    policy = config.mapping.intercompany
    rules = pl.DataFrame(
        [
            {
                "markup_rule_id": m.id, "markup_percent": m.markup_percent, "effective_from": m.effective_from,
                "effective_to": m.effective_to or date(9999, 12, 31),
            }
            for m in policy.markups
            if (m.seller, m.buyer) == (pair.seller.id, pair.buyer.id)
        ],
        schema={"markup_rule_id": pl.String, "markup_percent": QUANTITY, "effective_from": pl.Date,
                "effective_to": pl.Date},
    )  # fmt: skip
    in_force = (
        work.select("line_id", "day")
        .join(rules, how="cross")
        .filter(pl.col("day").is_between(pl.col("effective_from"), pl.col("effective_to")))
        .select("line_id", "markup_rule_id", "markup_percent")
    )  # overlapping rules for a pair were refused at load: at most one per line
    return work.join(in_force, on="line_id", how="left").with_columns(
        pl.col("markup_percent").fill_null(pl.lit(policy.default_markup_percent, QUANTITY))
    )


def _describe_work() -> pl.Expr:
    code = (
        pl.when(pl.col("project_code").is_not_null())
        .then(pl.format(" ({})", "project_code"))
        .otherwise(pl.lit(""))
    )
    return pl.concat_str(
        pl.lit("Intercompany services at cost: "), pl.col("person_name").fill_null("?"), pl.lit(", "),
        pl.col("project_name"), code,
    )  # fmt: skip


def _cost_lines(marked: pl.DataFrame, currency: str) -> pl.DataFrame:
    """A cost line per project, person, cost rate and markup rule: hours x cost rate (LINE_AMOUNT_RULE)."""
    return (
        marked.group_by("project_id", "person_id", "cost_rate", "markup_rule_id", "markup_percent")
        .agg(
            pl.col("hours").sum().alias("quantity"),
            pl.first("project_name", "project_code", "person_name"),
            pl.col("line_id").sort().first().alias("first_line_id"),
        )
        .with_columns(
            _describe_work().alias("description"),
            pl.col("cost_rate").alias("unit_amount"),
            round_to_minor_units(
                exact_product(pl.col("quantity"), pl.col("cost_rate")), pl.lit(currency), LINE_AMOUNT_RULE
            ).alias("line_amount"),
            pl.lit(0, pl.Int8).alias("kind_order"),
        )
    )


def _markup_lines(cost_lines: pl.DataFrame, currency: str) -> pl.DataFrame:
    """A markup line per markup rule: the cost it marks up x percent (MARKUP_RULE); none at 0%."""
    fraction = pl.col("markup_percent").cast(WIDE) * pl.lit(Decimal("0.01"), WIDE)
    return (
        cost_lines.filter(pl.col("markup_percent") > 0)
        .group_by("markup_rule_id", "markup_percent")
        .agg(pl.col("line_amount").sum().alias("marked_up_cost"))
        .with_columns(
            round_to_minor_units(
                exact_product(pl.col("marked_up_cost"), fraction), pl.lit(currency), MARKUP_RULE
            ).alias("line_amount"),
            pl.format(
                "Intercompany markup {}% on cost ({})",
                # "8.0000" -> "8", "8.5000" -> "8.5" (a Decimal's text always has its point)
                pl.col("markup_percent").cast(pl.String).str.strip_chars_end("0").str.strip_chars_end("."),
                pl.col("markup_rule_id").fill_null("default markup"),
            ).alias("description"),
            pl.lit(1, pl.Int8).alias("kind_order"),
        )
        .with_columns(
            pl.lit(Decimal(1), QUANTITY).alias("quantity"), pl.col("line_amount").alias("unit_amount")
        )
    )


def _document_lines(
    cost_lines: pl.DataFrame, markup_lines: pl.DataFrame, pair: ChargeSide, month: ChargeMonth
) -> pl.DataFrame:
    """The document's lines in the outbound shape: costs, then markups, numbered in a total order (so
    reruns number them identically), taxed per line at the side's code, on the side's account."""
    currency = pair.seller.base_currency
    tax_type, tax_percent = intercompany_tax(month.config, pair.owner.id, pair.side)
    accounts = month.config.mapping.intercompany.accounts(pair.owner.id)
    account = accounts.revenue_account_code if pair.side == SALE else accounts.cost_account_code
    no_cost_columns = (
        pl.lit(None, pl.Int64).alias("project_id"),
        pl.lit(None, pl.Int64).alias("person_id"),
        pl.lit(None, MONEY).alias("cost_rate"),
    )
    numbered = (
        pl.concat(
            [
                cost_lines.select(_LINE_COLUMNS),
                markup_lines.with_columns(*no_cost_columns).select(_LINE_COLUMNS),
            ],
            how="vertical_relaxed",
        )
        .sort(
            "kind_order",
            "project_id",
            "person_id",
            "cost_rate",
            "markup_rule_id",
            "description",
            nulls_last=True,
        )
        .with_columns(
            pl.int_range(1, pl.len() + 1).cast(pl.Int32).alias("line_no"),
            line_tax(pl.col("line_amount"), pl.lit(tax_percent / 100, WIDE), pl.lit(currency), "Exclusive"),
        )
    )
    return numbered.select(
        pl.lit(charge_document_number(pair.seller.id, pair.buyer.id, month.period)).alias("document_number"),
        "line_no", pl.lit(pair.owner.id).alias("entity"), pl.lit(month.period).alias("period"), "description",
        pl.col("quantity").cast(MONEY), pl.col("unit_amount").cast(MONEY), pl.col("line_amount").cast(MONEY),
        pl.lit(tax_type).alias("tax_type"), pl.col("tax_amount").cast(MONEY), pl.lit(account).alias("account_code"),
    )  # fmt: skip


def _header(document_lines: pl.DataFrame, pair: ChargeSide, month: ChargeMonth) -> dict[str, object]:
    """The document's header with its totals (sums of its lines) and content hash."""
    subtotal = Decimal(document_lines["line_amount"].sum())
    total_tax = Decimal(document_lines["tax_amount"].sum())
    header: dict[str, object] = {
        "document_number": charge_document_number(pair.seller.id, pair.buyer.id, month.period),
        "document_kind": "invoice",
        "document_type": DOCUMENT_TYPE[pair.side],
        "entity": pair.owner.id,
        "period": month.period,
        "contact_name": legal_name(month.config, pair.counterpart.id),
        "reference": charge_reference(pair.seller.id, pair.buyer.id, month.period),
        "document_date": month.period_end,
        # Both sides fall due on the seller's terms, so receivable and payable age alike.
        "due_date": month.period_end + timedelta(days=pair.seller.payment_terms_days),
        "currency": pair.seller.base_currency,
        "base_currency": pair.owner.base_currency,
        "currency_rate": pair.currency_rate,
        "line_amount_types": "Exclusive",
        "subtotal": subtotal,
        "total_tax": total_tax,
        "total": subtotal + total_tax,
        "original_number": None,
    }
    # What the ledger receives, no provenance.
    return {**header, "content_hash": content_hash(header, document_lines.to_dicts())}


def charges_are_consistent(result: Intercompany) -> tuple[bool, str]:
    """Each charge: net = cost + markup, hours = the sum of its sources' hours, and its document's
    subtotal equals its net amount."""
    if result.charges.height == 0:
        return True, "no intercompany charges"
    hours = result.sources.group_by("reference").agg(pl.col("hours").sum().alias("source_hours"))
    joined = result.charges.join(hours, on="reference", how="left").join(
        result.documents.select("document_number", "subtotal"), on="document_number", how="left"
    )
    bad = joined.filter(
        (pl.col("net_amount") != pl.col("cost_amount") + pl.col("markup_amount"))
        | pl.col("source_hours").is_null()
        | (pl.col("hours") != pl.col("source_hours"))
        | pl.col("subtotal").is_null()
        | (pl.col("subtotal") != pl.col("net_amount"))
    )
    if bad.height:
        return False, f"{bad.height} charge(s) inconsistent: {', '.join(bad['reference'].head(5))}"
    return True, f"{result.charges.height} charge(s): net = cost + markup, hours traced, document = net"


def sides_agree(sales: pl.DataFrame, purchases: pl.DataFrame) -> tuple[bool, str]:
    """The seller's and the buyer's charges match reference for reference: same pair, currency, hours,
    cost, markup, net and document number (what consolidation eliminates)."""
    keys = ["reference", "period", "seller_entity", "buyer_entity", "currency", "hours", "cost_amount",
            "markup_amount", "net_amount", "document_number"]  # fmt: skip
    only_sale = sales.select(keys).join(purchases.select(keys), on=keys, how="anti", nulls_equal=True)
    only_purchase = purchases.select(keys).join(sales.select(keys), on=keys, how="anti", nulls_equal=True)
    if only_sale.height or only_purchase.height:
        refs = sorted(set(only_sale["reference"].to_list() + only_purchase["reference"].to_list()))
        return False, f"sides disagree for {', '.join(refs)}"
    return True, f"{sales.height} charge(s) agree on both sides"
