"""Cross rates through EUR from ECB reference rates, with the latest-published-before fallback."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

import polars as pl

from assets.money import FX_RATE

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


def _latest_before(rates: pl.DataFrame, currency: str, day: date) -> tuple[Decimal, date] | None:
    if currency == "EUR":
        return Decimal(1), day
    rows = rates.filter((pl.col("currency") == currency) & (pl.col("rate_date") <= day))
    if rows.height == 0:
        return None
    last = rows.row(rows.height - 1, named=True)
    return last["per_eur"], last["rate_date"]


def cross_rates(
    rates: pl.DataFrame, needs: pl.DataFrame, max_age_days: int = MAX_RATE_AGE_DAYS
) -> pl.DataFrame:
    """For each distinct (day, from_currency, to_currency) in `needs`, units of `to` per 1 `from`.

    Uses the latest rate published on or before the day for each leg (rate_date says which);
    pairs with no rate within `max_age_days` are left out, for the caller to quarantine.
    """
    out = []
    for day, source, target in needs.select("day", "from_currency", "to_currency").unique().iter_rows():
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
        leg_from = _latest_before(rates, source, day)
        leg_to = _latest_before(rates, target, day)
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
