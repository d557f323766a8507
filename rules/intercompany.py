"""Intercompany charges at cost plus markup, as pure polars over normalized time lines.

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
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA, content_hash, document_number_prefix
from rules.fx_rates import FxSnapshot
from rules.money import LINE_AMOUNT_RULE, MONEY, QUANTITY, WIDE, exact_product, round_to_minor_units
from rules.normalizing import normalize_lines
from rules.pricing import MARKUP_RULE
from rules.settings import BillbridgeConfig, EntityConfig

SALE = "sale"
PURCHASE = "purchase"
DOCUMENT_TYPE = {SALE: "ACCREC", PURCHASE: "ACCPAY"}

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
# What the pricing needs of each normalized time line.
WORK_COLUMNS = [
    "line_id", "entity", "day", "source_id", "project_id", "project_name", "project_code",
    "person_id", "person_name", "hours", "cost_rate",
]  # fmt: skip


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


def charge_reference(seller: str, buyer: str, period: str) -> str:
    """The reference both sides carry: `IC-UK-US-2026-10`."""
    return f"IC-{seller.upper()}-{buyer.upper()}-{period}"


def charge_document_number(seller: str, buyer: str, period: str) -> str:
    """The number of both the seller's invoice and the buyer's bill: `BB-UK-202610-IC-US`."""
    return f"{document_number_prefix(seller, period)}IC-{buyer.upper()}"


def legal_name(config: BillbridgeConfig, entity_id: str) -> str:
    """The name other entities' ledgers use for this entity as a contact (its configured legal name)."""
    accounts = config.mapping.intercompany.accounts(entity_id)
    return accounts.contact_name or config.entity(entity_id).name


def intercompany_tax(config: BillbridgeConfig, entity_id: str, side: str) -> tuple[str, Decimal]:
    """(tax code, rate percent) of the entity's intercompany documents on `side`.

    The code configured for the side (checked at load to be one of the entity's), else the
    entity's default code when it is 0%, else its first 0% code by name; an entity with no 0%
    code and none configured is a configuration error naming the key to set.
    """
    entity = config.entity(entity_id)
    rates = entity.tax_rates()
    accounts = config.mapping.intercompany.accounts(entity_id)
    chosen = accounts.sale_tax_type if side == SALE else accounts.purchase_tax_type
    if chosen is not None:
        return chosen, rates[chosen]
    if rates[entity.tax_type] == 0:
        return entity.tax_type, Decimal(0)
    zero = sorted(code for code, rate in rates.items() if rate == 0)
    if not zero:
        raise ValueError(
            f"{config.source_path}: entity {entity_id!r} has no 0% tax code for intercompany {side}s: set "
            f"mapping intercompany.entities[entity={entity_id}].{side}_tax_type to one of {sorted(rates)}"
        )
    return zero[0], Decimal(0)


def intercompany_work(
    lines: pl.DataFrame, config: BillbridgeConfig, *, seller: str | None = None, buyer: str | None = None
) -> pl.DataFrame:
    """The normalized time lines another entity's people worked, with `seller_entity` (their home entity).

    A line's `entity` is the buyer (it bills the project). Lines awaiting approval are left for
    a later run when the seller bills only approved time, exactly as invoices are.
    """
    homes = pl.DataFrame(
        {
            "person_id": [p.pm_user_id for p in config.mapping.people],
            "seller_entity": [p.home_entity for p in config.mapping.people],
        },
        schema={"person_id": pl.Int64, "seller_entity": pl.String},
    )
    approval = {e.id: e.require_approval for e in config.entities}
    work = (
        lines.filter(pl.col("source_kind") == "time")
        .select([*WORK_COLUMNS, "approved"])
        .join(homes, on="person_id", how="inner")
        .filter(pl.col("seller_entity") != pl.col("entity"))
        .filter(
            pl.col("approved")
            | ~pl.col("seller_entity").replace_strict(approval, default=True, return_dtype=pl.Boolean)
        )
    )
    if seller is not None:
        work = work.filter(pl.col("seller_entity") == seller)
    if buyer is not None:
        work = work.filter(pl.col("entity") == buyer)
    return work.rename({"entity": "buyer_entity"}).drop("approved")


WORK_SCHEMA = pl.Schema(
    {
        "line_id": pl.String(), "buyer_entity": pl.String(), "day": pl.Date(), "source_id": pl.Int64(),
        "project_id": pl.Int64(), "project_name": pl.String(), "project_code": pl.String(),
        "person_id": pl.Int64(), "person_name": pl.String(), "hours": QUANTITY, "cost_rate": MONEY,
        "seller_entity": pl.String(),
    }
)  # fmt: skip


def seller_work(
    worked_elsewhere: pl.DataFrame,
    directory: pl.DataFrame,
    seller: str,
    config: BillbridgeConfig,
    fx: FxSnapshot,
    run_id: str,
) -> pl.DataFrame:
    """The seller's own view of its people's time on other entities' projects.

    `worked_elsewhere` are rows of raw.intercompany_time_entries (raw records plus `billed_by`);
    each buyer's records are normalized exactly as the buyer normalizes them (its entity
    configuration, the same rules and quarantine), so the seller charges precisely the lines
    the buyer's ledger holds. Conversion rates are not pinned here: the charge uses none.
    """
    parts = []
    for (buyer,) in worked_elsewhere.select("billed_by").unique().sort("billed_by").iter_rows():
        raw = worked_elsewhere.filter(pl.col("billed_by") == buyer).drop("billed_by")
        raw = raw.with_columns(pl.lit(buyer).alias("entity"))
        result = normalize_lines(raw, raw.clear(), directory, config.entity(buyer), config, fx, run_id)
        parts.append(
            intercompany_work(result.lines, config, seller=seller, buyer=buyer).select(WORK_SCHEMA.names())
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=WORK_SCHEMA)


def _markups(work: pl.DataFrame, config: BillbridgeConfig, seller: str, buyer: str) -> pl.DataFrame:
    """`work` with the markup in force on each line's day: markup_rule_id (null: the default) and percent."""
    policy = config.mapping.intercompany
    rules = pl.DataFrame(
        [
            {
                "markup_rule_id": m.id, "markup_percent": m.markup_percent, "effective_from": m.effective_from,
                "effective_to": m.effective_to or date(9999, 12, 31),
            }
            for m in policy.markups
            if (m.seller, m.buyer) == (seller, buyer)
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


def price_charge(
    work: pl.DataFrame,
    side: str,
    seller: EntityConfig,
    buyer: EntityConfig,
    config: BillbridgeConfig,
    period_start: date,
    period_end: date,
    currency_rate: Decimal,
    rule_set_version: str,
    run_id: str,
) -> Intercompany:
    """One seller-buyer pair's charge for a month, on `side` (the sale in the seller's ledger, the
    purchase in the buyer's), from the time lines of `intercompany_work` for that pair.

    `currency_rate` is units of the seller's currency per one unit of the ledger's base currency
    (1 on the sale side). Everything else is the same on both sides but the ledger's tax code,
    account and contact.
    """
    if work.height == 0:
        return Intercompany.empty()
    period = period_start.strftime("%Y-%m")
    owner = seller if side == SALE else buyer
    currency = seller.base_currency
    reference = charge_reference(seller.id, buyer.id, period)
    number = charge_document_number(seller.id, buyer.id, period)
    accounts = config.mapping.intercompany.accounts(owner.id)
    account = accounts.revenue_account_code if side == SALE else accounts.cost_account_code
    tax_type, tax_percent = intercompany_tax(config, owner.id, side)
    priced = _markups(work, config, seller.id, buyer.id)
    cost_lines = (
        priced.group_by("project_id", "person_id", "cost_rate", "markup_rule_id", "markup_percent")
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
    fraction = pl.col("markup_percent").cast(WIDE) * pl.lit(Decimal("0.01"), WIDE)
    markup_lines = (
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
    columns = ["kind_order", "description", "quantity", "unit_amount", "line_amount", "project_id", "person_id",
               "cost_rate", "markup_rule_id"]  # fmt: skip
    all_lines = (
        pl.concat(
            [
                cost_lines.select(columns),
                markup_lines.with_columns(
                    pl.lit(None, pl.Int64).alias("project_id"),
                    pl.lit(None, pl.Int64).alias("person_id"),
                    pl.lit(None, MONEY).alias("cost_rate"),
                ).select(columns),
            ],
            how="vertical_relaxed",
        )
        # A total order, so reruns number the lines identically.
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
    document_lines = all_lines.select(
        pl.lit(number).alias("document_number"), "line_no", pl.lit(owner.id).alias("entity"),
        pl.lit(period).alias("period"), "description", pl.col("quantity").cast(MONEY),
        pl.col("unit_amount").cast(MONEY), pl.col("line_amount").cast(MONEY), pl.lit(tax_type).alias("tax_type"),
        pl.col("tax_amount").cast(MONEY), pl.lit(account).alias("account_code"),
    )  # fmt: skip
    cost = Decimal(cost_lines["line_amount"].sum())
    markup = Decimal(markup_lines["line_amount"].sum()) if markup_lines.height else Decimal(0)
    subtotal = Decimal(document_lines["line_amount"].sum())
    total_tax = Decimal(document_lines["tax_amount"].sum())
    header: dict[str, object] = {
        "document_number": number,
        "document_kind": "invoice",
        "document_type": DOCUMENT_TYPE[side],
        "entity": owner.id,
        "period": period,
        "contact_name": legal_name(config, buyer.id if side == SALE else seller.id),
        "reference": reference,
        "document_date": period_end,
        # Both sides fall due on the seller's terms, so receivable and payable age alike.
        "due_date": period_end + timedelta(days=seller.payment_terms_days),
        "currency": currency,
        "base_currency": owner.base_currency,
        "currency_rate": currency_rate,
        "line_amount_types": "Exclusive",
        "subtotal": subtotal,
        "total_tax": total_tax,
        "total": subtotal + total_tax,
        "original_number": None,
    }
    hashed = content_hash(header, document_lines.to_dicts())  # what the ledger receives, no provenance
    documents = pl.DataFrame(
        [{**header, "content_hash": hashed, "rule_set_version": rule_set_version, "run_id": run_id}],
        schema=DOCUMENT_HEADER_SCHEMA,
    )
    charges = pl.DataFrame(
        [
            {
                "reference": reference, "entity": owner.id, "period": period, "seller_entity": seller.id,
                "buyer_entity": buyer.id, "side": side, "currency": currency, "hours": Decimal(work["hours"].sum()),
                "cost_amount": cost, "markup_amount": markup, "net_amount": cost + markup,
                "document_number": number, "rule_set_version": rule_set_version, "run_id": run_id,
            }
        ],
        schema=CHARGE_SCHEMA,
    )  # fmt: skip
    sources = work.sort("line_id").select(
        pl.lit(reference).alias("reference"), pl.lit(owner.id).alias("entity"), pl.lit(period).alias("period"),
        pl.lit(side).alias("side"), "line_id", "source_id", pl.col("hours").cast(QUANTITY),
        pl.col("cost_rate").cast(MONEY),
    )  # fmt: skip
    return Intercompany(charges, sources, documents, document_lines)


def intercompany_side(
    work: pl.DataFrame,
    side: str,
    owner: str,
    config: BillbridgeConfig,
    period_start: date,
    period_end: date,
    currency_rates: Mapping[str, Decimal],
    rule_set_version: str,
    run_id: str,
) -> Intercompany:
    """Every charge on `side` of the `owner` entity's ledger for the month, from `intercompany_work` lines.

    The sale side prices one charge per buyer, the purchase side one per seller.
    `currency_rates` maps each seller currency to units of it per one of the owner's base currency.
    """
    parts = []
    counterpart = "buyer_entity" if side == SALE else "seller_entity"
    for (other,) in work.select(counterpart).unique().sort(counterpart).iter_rows():
        seller, buyer = (owner, other) if side == SALE else (other, owner)
        seller_config = config.entity(seller)
        parts.append(
            price_charge(
                work.filter(pl.col(counterpart) == other),
                side,
                seller_config,
                config.entity(buyer),
                config,
                period_start,
                period_end,
                currency_rates[seller_config.base_currency],
                rule_set_version,
                run_id,
            )
        )
    return Intercompany.concat(parts)


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
