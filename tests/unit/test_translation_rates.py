"""Average and closing translation rates, hand-computed: the mean of published days, the weekend
fallback of the closing rate, the reporting currency itself, and pinned rates on a rerun."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from rules.consolidation.translation_rates import (
    AVERAGE,
    CLOSING,
    MissingTranslationRate,
    average_rate,
    closing_rate,
    translation_rates,
)
from tests.factories import fx_snapshot

AUG_1, AUG_31 = date(2026, 8, 1), date(2026, 8, 31)
OCT_1, OCT_31 = date(2026, 10, 1), date(2026, 10, 31)  # 31 October 2026 is a Saturday

# Three published days in August; GBP stays at 0.85 per EUR.
AUGUST = fx_snapshot(
    {
        date(2026, 8, 3): {"USD": "1.10", "GBP": "0.85"},
        date(2026, 8, 4): {"USD": "1.20", "GBP": "0.85"},
        date(2026, 8, 5): {"USD": "1.30", "GBP": "0.85"},
    },
    "august",
)


def test_average_is_the_mean_of_the_published_days_cross_rates() -> None:
    # USD -> EUR per day: 1/1.10 = 0.90909091, 1/1.20 = 0.83333333, 1/1.30 = 0.76923077 (8 dp, half-up);
    # (0.90909091 + 0.83333333 + 0.76923077) / 3 = 2.51165501 / 3 = 0.837218336... -> 0.83721834
    rate, first, last, days = average_rate(AUGUST.rates, "USD", "EUR", AUG_1, AUG_31)
    assert rate == D("0.83721834")
    assert (first, last, days) == (date(2026, 8, 3), date(2026, 8, 5), 3)


def test_average_cross_rate_goes_through_eur() -> None:
    # USD -> GBP per day: 0.85/1.10 = 0.77272727, 0.85/1.20 = 0.70833333, 0.85/1.30 = 0.65384615;
    # sum 2.13490675 / 3 = 0.711635583... -> 0.71163558
    rate, *_ = average_rate(AUGUST.rates, "USD", "GBP", AUG_1, AUG_31)
    assert rate == D("0.71163558")


def test_closing_rate_falls_back_over_the_weekend_and_says_so() -> None:
    fx = fx_snapshot(
        {
            date(2026, 10, 29): {"USD": "1.16"},
            date(2026, 10, 30): {"USD": "1.25"},
            date(2026, 11, 2): {"USD": "2"},
        }
    )
    rate, published = closing_rate(fx.rates, "USD", "EUR", OCT_31)
    assert (rate, published) == (D("0.80000000"), date(2026, 10, 30))  # 1 / 1.25, Friday's rate
    rates = translation_rates(fx.rates, "fx", ["USD"], "EUR", OCT_1, OCT_31)
    closing = rates.filter(rates["rate_type"] == CLOSING).row(0, named=True)
    assert closing["rate"] == D("0.8")
    assert closing["rate_date_from"] == date(2026, 10, 30)
    assert closing["note"] == "2026-10-31 unpublished: latest published before it, 2026-10-30"
    # average of 29 and 30 October: (1/1.16 = 0.86206897 + 0.80000000) / 2 = 0.831034485 -> 0.83103449 (half-up)
    average = rates.filter(rates["rate_type"] == AVERAGE).row(0, named=True)
    assert average["rate"] == D("0.83103449")
    assert average["published_days"] == 2


def test_reporting_currency_translates_at_one() -> None:
    rates = translation_rates(AUGUST.rates, "august", ["EUR"], "EUR", AUG_1, AUG_31, max_age_days=31)
    assert rates["rate"].to_list() == [D(1), D(1)]
    assert rates["source"].to_list() == ["identity (reporting currency)"] * 2


def test_no_rate_in_the_month_is_a_clear_error() -> None:
    with pytest.raises(MissingTranslationRate, match="no ECB rate for JPY->EUR"):
        translation_rates(AUGUST.rates, "august", ["JPY"], "EUR", AUG_1, AUG_31, max_age_days=31)
    with pytest.raises(MissingTranslationRate, match="USD->EUR on 2026-10-31"):
        closing_rate(AUGUST.rates, "USD", "EUR", OCT_31)  # the last rate, 5 August, is too old


def test_a_rerun_keeps_the_pinned_rates_and_a_rerate_takes_the_new_ones() -> None:
    first = translation_rates(AUGUST.rates, "august", ["USD"], "EUR", AUG_1, AUG_31, max_age_days=31)
    revised = fx_snapshot({date(2026, 8, 31): {"USD": "1.00"}}, "revised")  # a new file: 31 August at 1.00
    again = translation_rates(
        revised.rates, "revised", ["USD"], "EUR", AUG_1, AUG_31, pinned=first, max_age_days=31
    )
    assert again.equals(first)
    rerated = translation_rates(
        revised.rates, "revised", ["USD"], "EUR", AUG_1, AUG_31, pinned=None, max_age_days=31
    )
    assert rerated["rate"].to_list() == [D(1), D(1)]  # average of one day, and that day closes
    assert set(rerated["source"].to_list()) == {"revised"}
    # A currency never rated for the month is rated now, beside the pinned ones.
    widened = translation_rates(
        AUGUST.rates, "august", ["USD", "GBP"], "EUR", AUG_1, AUG_31, pinned=first, max_age_days=31
    )
    assert widened.filter(widened["currency"] == "USD").equals(first)
    # GBP -> EUR: 1 / 0.85 = 1.176470588 -> 1.17647059 on each day, so on average and at closing (5 August)
    assert widened.filter(widened["currency"] == "GBP")["rate"].to_list() == [D("1.17647059")] * 2
