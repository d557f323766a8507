"""A month's translation rates into the group reporting currency: average and closing, from ECB cross rates.

- AVERAGE: the arithmetic mean of the EUR cross rates of every day of the month on which the
  ECB published both legs, rounded by AVERAGE_RATE_RULE to 8 decimal places; it translates
  income and expense.
- CLOSING: the cross rate of the month's last day, else of the latest day published before it
  (at most `max_age_days` earlier, and the note says so); it translates balances.

Rates are pinned per month in the group file (docs/decisions/0011, mirroring 0008): a rerun of a
month reuses the rates it was first consolidated with unless re-rating is asked for.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, localcontext

import polars as pl

from rules.fx_conversion import CROSS_RATE_DECIMALS, MAX_RATE_AGE_DAYS, cross_rates
from rules.money import AVERAGE_RATE_RULE, FX_RATE

AVERAGE = "average"
CLOSING = "closing"
IDENTITY_SOURCE = "identity (reporting currency)"

TRANSLATION_RATE_SCHEMA = pl.Schema(
    {
        "period": pl.String(),
        "currency": pl.String(),
        "reporting_currency": pl.String(),
        "rate_type": pl.String(),
        "rate": FX_RATE,
        "rate_date_from": pl.Date(),  # the first published day averaged, or the closing rate's date
        "rate_date_to": pl.Date(),
        "published_days": pl.Int64(),
        "source": pl.String(),
        "note": pl.String(),
    }
)


class MissingTranslationRate(ValueError):
    """No ECB rate can translate a currency for a month (unknown currency, or the history ends too early)."""


def _month_days(month_start: date, month_end: date) -> list[date]:
    return [month_start + timedelta(days=i) for i in range((month_end - month_start).days + 1)]


def average_rate(
    rates: pl.DataFrame, currency: str, reporting: str, month_start: date, month_end: date
) -> tuple[Decimal, date, date, int]:
    """(mean of the published daily cross rates, first and last published day, number of days).

    Days on which either leg is unpublished (weekends, holidays) are left out, not filled in.
    """
    needs = pl.DataFrame(
        {"day": _month_days(month_start, month_end), "from_currency": currency, "to_currency": reporting}
    )
    daily = cross_rates(rates, needs, max_age_days=0).filter(pl.col("fx_rate_date") == pl.col("day"))
    if daily.height == 0:
        raise MissingTranslationRate(
            f"no ECB rate for {currency}->{reporting} was published between {month_start} and {month_end}"
        )
    values: list[Decimal] = daily["fx_rate"].to_list()
    with localcontext() as ctx:
        ctx.prec = 34
        mean = (sum(values, Decimal(0)) / len(values)).quantize(
            Decimal(1).scaleb(-CROSS_RATE_DECIMALS), AVERAGE_RATE_RULE.decimal_mode
        )
    return mean, daily["day"].min(), daily["day"].max(), daily.height  # type: ignore[return-value]


def closing_rate(
    rates: pl.DataFrame, currency: str, reporting: str, month_end: date, max_age_days: int = MAX_RATE_AGE_DAYS
) -> tuple[Decimal, date]:
    """(cross rate of `month_end`, the date it was published): the latest on or before the month end."""
    needs = pl.DataFrame({"day": [month_end], "from_currency": currency, "to_currency": reporting})
    found = cross_rates(rates, needs, max_age_days)
    if found.height == 0:
        raise MissingTranslationRate(
            f"no ECB rate for {currency}->{reporting} on {month_end} or in the {max_age_days} days before it"
        )
    return found["fx_rate"][0], found["fx_rate_date"][0]


def rate_month(
    rates: pl.DataFrame,
    source: str,
    currencies: list[str],
    reporting: str,
    month_start: date,
    month_end: date,
    max_age_days: int = MAX_RATE_AGE_DAYS,
) -> pl.DataFrame:
    """The average and closing rate of each of `currencies` into `reporting` for the month (schema above)."""
    period = month_start.strftime("%Y-%m")
    rows: list[dict[str, object]] = []
    for currency in sorted(set(currencies)):
        if currency == reporting:
            for kind in (AVERAGE, CLOSING):
                rows.append(
                    {"period": period, "currency": currency, "reporting_currency": reporting, "rate_type": kind,
                     "rate": Decimal(1), "rate_date_from": month_start if kind == AVERAGE else month_end,
                     "rate_date_to": month_end, "published_days": 0, "source": IDENTITY_SOURCE, "note": ""}
                )  # fmt: skip
            continue
        mean, first, last, days = average_rate(rates, currency, reporting, month_start, month_end)
        close, close_date = closing_rate(rates, currency, reporting, month_end, max_age_days)
        note = (
            "" if close_date == month_end
            else f"{month_end} unpublished: latest published before it, {close_date.isoformat()}"
        )  # fmt: skip
        rows.append(
            {"period": period, "currency": currency, "reporting_currency": reporting, "rate_type": AVERAGE,
             "rate": mean, "rate_date_from": first, "rate_date_to": last, "published_days": days,
             "source": source, "note": f"mean of {days} published days"}
        )  # fmt: skip
        rows.append(
            {"period": period, "currency": currency, "reporting_currency": reporting, "rate_type": CLOSING,
             "rate": close, "rate_date_from": close_date, "rate_date_to": close_date, "published_days": 1,
             "source": source, "note": note}
        )  # fmt: skip
    return pl.DataFrame(rows, schema=TRANSLATION_RATE_SCHEMA)


def translation_rates(
    rates: pl.DataFrame,
    source: str,
    currencies: list[str],
    reporting: str,
    month_start: date,
    month_end: date,
    pinned: pl.DataFrame | None = None,
    max_age_days: int = MAX_RATE_AGE_DAYS,
) -> pl.DataFrame:
    """Rates for `currencies`, reusing the `pinned` ones (same schema) of currencies rated before.

    Pass `pinned=None` to re-rate every currency from `rates`. Only currencies never rated for
    the month are rated now, so a rerun after a new ECB file reproduces the month to the cent.
    """
    wanted = sorted(set(currencies))
    reused = (
        pinned.filter(pl.col("currency").is_in(wanted) & (pl.col("reporting_currency") == reporting))
        .select(TRANSLATION_RATE_SCHEMA.names())
        .cast(dict(TRANSLATION_RATE_SCHEMA))  # type: ignore[arg-type]
        if pinned is not None
        else pl.DataFrame(schema=TRANSLATION_RATE_SCHEMA)
    )
    missing = [c for c in wanted if c not in set(reused["currency"].to_list())]
    fresh = rate_month(rates, source, missing, reporting, month_start, month_end, max_age_days)
    return pl.concat([reused, fresh]).sort("currency", "rate_type")
