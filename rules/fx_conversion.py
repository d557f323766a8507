"""Cross rates through EUR from ECB reference rates, with the latest-published-before fallback,
and the contract rates of the mapping document that override them for a client or project."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

import polars as pl

from rules.money import FX_RATE
from rules.rule_sets import ContractRate

# Cross rates are quotients of two ECB rates (4-6 significant digits each); 8 decimal
# places, half-up, keeps every converted cent exact to the published precision.
CROSS_RATE_DECIMALS = 8
MAX_RATE_AGE_DAYS = 7  # weekends and holidays fall back at most this far

CROSS_RATE_SCHEMA = pl.Schema(
    {
        "day": pl.Date(),
        "from_currency": pl.String(),
        "to_currency": pl.String(),
        "fx_rate": FX_RATE,
        "fx_rate_date": pl.Date(),
    }
)


Leg = tuple[Decimal, date]  # units per EUR, and the day it was published


def _latest_before(rates: pl.DataFrame, wanted: pl.DataFrame) -> dict[tuple[str, date], Leg]:
    """{(currency, day): the latest rate published on or before the day} for each `wanted` (currency,
    day), EUR always 1; a currency without such a rate is absent. Of rates published on the same
    day, the last row of `rates` wins. One as-of join: a filter per pair took seconds for a year."""
    indexed = rates.with_row_index("row").filter(
        pl.col("currency").is_in(wanted["currency"].unique().implode())
    )
    # The row to read as of each publication day: the last row published on or before it.
    as_of = (
        indexed.group_by("currency", "rate_date")
        .agg(pl.col("row").max())
        .sort("currency", "rate_date")
        .with_columns(pl.col("row").cum_max().over("currency"))
        .sort("rate_date")
    )
    found = (
        wanted.filter(pl.col("currency") != "EUR")
        .sort("day")
        .join_asof(
            as_of,
            left_on="day",
            right_on="rate_date",
            by="currency",
            strategy="backward",
            check_sortedness=False,
        )
        .drop_nulls("row")
        .join(indexed.select("row", "per_eur", "rate_date"), on="row", how="left", suffix="_read")
    )
    legs: dict[tuple[str, date], Leg] = {
        (currency, day): (per_eur, published)
        for currency, day, per_eur, published in found.select(
            "currency", "day", "per_eur", "rate_date_read"
        ).iter_rows()
    }
    legs.update({("EUR", day): (Decimal(1), day) for day in wanted["day"]})
    return legs


def cross_rates(
    rates: pl.DataFrame, needs: pl.DataFrame, max_age_days: int = MAX_RATE_AGE_DAYS
) -> pl.DataFrame:
    """For each distinct (day, from_currency, to_currency) in `needs`, units of `to` per 1 `from`.

    Uses the latest rate published on or before the day for each leg (rate_date says which);
    pairs with no rate within `max_age_days` are left out, for the caller to quarantine.
    """
    out = []
    pairs = needs.select("day", "from_currency", "to_currency").unique()
    legs = _latest_before(
        rates,
        pl.concat(
            [pairs.select("day", pl.col(side).alias("currency")) for side in ("from_currency", "to_currency")]
        ).unique(),
    )
    for day, source, target in pairs.iter_rows():
        if source == target:
            out.append(
                {
                    "day": day,
                    "from_currency": source,
                    "to_currency": target,
                    "fx_rate": Decimal(1),
                    "fx_rate_date": day,
                }
            )
            continue
        leg_from, leg_to = legs.get((source, day)), legs.get((target, day))
        if leg_from is None or leg_to is None:
            continue
        rate_date = min(leg_from[1], leg_to[1])
        if (day - rate_date).days > max_age_days:
            continue
        with localcontext() as ctx:
            ctx.prec = 34
            rate = (leg_to[0] / leg_from[0]).quantize(Decimal(1).scaleb(-CROSS_RATE_DECIMALS), ROUND_HALF_UP)
        out.append(
            {
                "day": day,
                "from_currency": source,
                "to_currency": target,
                "fx_rate": rate,
                "fx_rate_date": rate_date,
            }
        )
    return pl.DataFrame(out, schema=CROSS_RATE_SCHEMA)


PINNED_RATE_SCHEMA = pl.Schema({**CROSS_RATE_SCHEMA, "fx_source": pl.String()})


def rates_for(
    needs: pl.DataFrame,
    rates: pl.DataFrame,
    source: str,
    pinned: pl.DataFrame | None = None,
    max_age_days: int = MAX_RATE_AGE_DAYS,
) -> pl.DataFrame:
    """Cross rates for `needs`, reusing `pinned` ones (PINNED_RATE_SCHEMA) where a pair was rated before.

    A period re-run after new rates arrive keeps the rates it was first converted with, so
    its amounts reproduce to the cent; pass `pinned=None` to re-rate from `rates`.
    """
    wanted = needs.select("day", "from_currency", "to_currency").unique()
    keys = ["day", "from_currency", "to_currency"]
    if pinned is not None and pinned.height:
        reused = pinned.join(wanted, on=keys, how="semi")
        missing = wanted.join(pinned, on=keys, how="anti")
    else:
        reused, missing = pl.DataFrame(schema=PINNED_RATE_SCHEMA), wanted
    fresh = cross_rates(rates, missing, max_age_days).with_columns(pl.lit(source).alias("fx_source"))
    return pl.concat([reused.select(PINNED_RATE_SCHEMA.names()), fresh]).sort(keys)


# What `fx_type` says of a line's conversion: the ECB market rate of the day, or a contract rate.
SPOT = "spot"
CONTRACT = "contract"

CONTRACT_RATE_SCHEMA = pl.Schema(
    {
        "contract_rule_id": pl.String(),
        "contract_level": pl.Int8(),
        "client_id": pl.Int64(),
        "project_id": pl.Int64(),
        "from_currency": pl.String(),
        "to_currency": pl.String(),
        "contract_rate": FX_RATE,
        "effective_from": pl.Date(),
        "effective_to": pl.Date(),
    }
)


def contract_rates_frame(rules: list[ContractRate], entity: str) -> pl.DataFrame:
    """The contract rates that can apply to `entity`'s lines (its own and entity-less ones), one row each."""
    rows = [
        {
            "contract_rule_id": r.id, "contract_level": r.level, "client_id": r.client, "project_id": r.project,
            "from_currency": r.from_currency, "to_currency": r.to_currency, "contract_rate": r.rate,
            "effective_from": r.effective_from, "effective_to": r.effective_to or date(9999, 12, 31),
        }
        for r in rules
        if r.entity in (None, entity)
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=CONTRACT_RATE_SCHEMA)


def contract_source(rule_id: pl.Expr) -> pl.Expr:
    """The `fx_source` of a contract-rated conversion: "contract:<rule id>"."""
    return pl.concat_str(pl.lit(f"{CONTRACT}:"), rule_id)


def resolve_contract_rates(keys: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """For each `row` of `keys` (row, day, client_id, project_id, from_currency, to_currency), the most
    specific contract rate in force on its day for its pair: row, contract_rule_id, contract_rate,
    contract_rate_date (the rule's effective_from). Rows no contract covers are absent.

    Project rules beat client rules, and a rule naming the entity beats one that does not;
    contradictions of equal specificity were refused at load.
    """
    pair = ["from_currency", "to_currency"]
    matches = []
    for column in ("project_id", "client_id"):
        candidates = rules.filter(pl.col(column).is_not_null()).drop(
            "client_id" if column == "project_id" else "project_id"
        )
        if candidates.height == 0:
            continue
        joined = keys.join(candidates, on=[column, *pair], how="inner").filter(
            pl.col("day").is_between(pl.col("effective_from"), pl.col("effective_to"))
        )
        matches.append(
            joined.select("row", "contract_level", "contract_rule_id", "contract_rate", "effective_from")
        )
    if not matches:
        return pl.DataFrame(
            schema={
                "row": pl.UInt32,
                "contract_rule_id": pl.String,
                "contract_rate": FX_RATE,
                "contract_rate_date": pl.Date,
            }
        )
    return (
        pl.concat(matches)
        .sort("contract_level", descending=True)
        .unique("row", keep="first")
        .select(
            "row", "contract_rule_id", "contract_rate", pl.col("effective_from").alias("contract_rate_date")
        )
    )


def with_contract_rates(records: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """`records` converted at their contract rate where one covers them, each with its `fx_type`.

    The transaction-to-base conversion (fx_rate, fx_rate_date, fx_source) takes the contract rate
    of the record's project or client for (txn_currency -> base_currency) on its day; the
    reporting conversion takes it too when the reporting currency is the base currency (the same
    conversion), and otherwise stays at the ECB rate: the group reports at market rates.
    `fx_type` is "contract" or "spot".
    """
    if rules.height == 0:
        return records.with_columns(pl.lit(SPOT).alias("fx_type"))
    indexed = records.with_row_index("row")
    keys = indexed.select(
        "row", "day", "client_id", "project_id",
        pl.col("txn_currency").alias("from_currency"), pl.col("base_currency").alias("to_currency"),
    )  # fmt: skip
    found = resolve_contract_rates(keys, rules)
    contract = pl.col("contract_rule_id").is_not_null()
    same_reporting = contract & (pl.col("reporting_currency") == pl.col("base_currency"))
    return (
        indexed.join(found, on="row", how="left")
        .with_columns(
            pl.when(contract).then(pl.col("contract_rate")).otherwise(pl.col("fx_rate")).alias("fx_rate"),
            pl.when(contract)
            .then(pl.col("contract_rate_date"))
            .otherwise(pl.col("fx_rate_date"))
            .alias("fx_rate_date"),
            pl.when(contract)
            .then(contract_source(pl.col("contract_rule_id")))
            .otherwise(pl.col("fx_source"))
            .alias("fx_source"),
            pl.when(contract).then(pl.lit(CONTRACT)).otherwise(pl.lit(SPOT)).alias("fx_type"),
            pl.when(same_reporting)
            .then(pl.col("contract_rate"))
            .otherwise(pl.col("fx_rate_reporting"))
            .alias("fx_rate_reporting"),
            pl.when(same_reporting)
            .then(pl.col("contract_rate_date"))
            .otherwise(pl.col("fx_rate_date_reporting"))
            .alias("fx_rate_date_reporting"),
        )
        .drop("row", "contract_rule_id", "contract_rate", "contract_rate_date")
    )
