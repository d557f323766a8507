"""The confidence of a candidate match: named components in [0, 1], weighted by the rules file.

| component | 1.0 | in between | 0.0 |
| --- | --- | --- | --- |
| `reference` | the remittance quotes the item's number | `typo_reference_score` (0.8): one edit off | no number quoted |
| `amount` | received = amount due | `explained_difference_amount_score` (0.9): the difference is a known fee or within the write-off rule; 0.5..0.9 within the matching tolerance or FX tolerance, closer is higher; `partial_payment_amount_score` (0.4): less than due | more than due beyond every rule |
| `party` | the payer's name is the contact's | rapidfuzz token-set ratio / 100 at or above `party_min_similarity` | below it |
| `date` | booked between `days_before_invoice` before issue and `days_after_due` after the due date | | outside that window |

confidence = sum(weight x component), rounded to 4 places. Scores are not money, so they are
floats; every amount behind them is an exact Decimal (rules/reconciliation/differences.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from rules.reconciliation.differences import Settlement, percent_limit
from rules.reconciliation.rule_file import COMPONENTS, CurrencyRule, Matching, ScoreWeights

EXPLAINED_REASONS = ("bank charges", "known bank fee", "write-off rule")


@dataclass(frozen=True)
class Components:
    """One candidate's score components, each in [0, 1]."""

    reference: float
    amount: float
    party: float
    date: float

    def confidence(self, weights: ScoreWeights) -> float:
        """The weighted sum of the components, rounded to 4 places."""
        return weighted_confidence(float_weights(weights), self.reference, self.amount, self.party, self.date)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in COMPONENTS}


FloatWeights = tuple[float, float, float, float]


@cache
def float_weights(weights: ScoreWeights) -> FloatWeights:
    """The weights in COMPONENTS order as floats (the rules are frozen, so this is computed once)."""
    return tuple(float(weights.as_dict()[name]) for name in COMPONENTS)  # type: ignore[return-value]


def weighted_confidence(w: FloatWeights, reference: float, amount: float, party: float, date: float) -> float:
    """sum(weight x component) in COMPONENTS order, rounded to 4 places: the one formula of a confidence."""
    return round(w[0] * reference + w[1] * amount + w[2] * party + w[3] * date, 4)


def _closeness(difference: Decimal, limit: Decimal, ceiling: float) -> float:
    """0.5 at the limit, rising linearly to `ceiling` at no difference."""
    if limit == 0:
        return ceiling
    return round(0.5 + (ceiling - 0.5) * float(1 - abs(difference) / limit), 4)


def amount_score(
    settlement: Settlement, rule: CurrencyRule, matching: Matching, bank_currency: str, cross_currency: bool
) -> float:
    """The `amount` component of a settlement (see the module table)."""
    explained = float(matching.explained_difference_amount_score)
    if settlement.reason == "exact":
        return 1.0
    if cross_currency and settlement.explained:
        limit = percent_limit(settlement.expected, rule.fx_tolerance_percent, bank_currency)
        return _closeness(settlement.fx_difference, limit, explained)
    if settlement.explained:
        return explained
    difference = settlement.expected - settlement.received
    if settlement.still_due != 0:
        tolerance = min(
            rule.amount_tolerance_absolute,
            percent_limit(settlement.expected, rule.amount_tolerance_percent, bank_currency),
        )
        if not cross_currency and abs(difference) <= tolerance:
            return _closeness(difference, tolerance, explained)
        return float(matching.partial_payment_amount_score)
    return 0.0


def payment_window(issued: date, due: date, matching: Matching) -> tuple[date, date]:
    """The first and last day a payment of an item issued on `issued`, due on `due`, is expected."""
    return issued - timedelta(days=matching.days_before_invoice), due + timedelta(
        days=matching.days_after_due
    )


def date_score(booked: date, issued: date, due: date, matching: Matching) -> float:
    """1.0 when `booked` falls inside the item's payment window, else 0.0."""
    return window_score(booked, payment_window(issued, due, matching))


def window_score(booked: date, window: tuple[date, date]) -> float:
    """The `date` component: 1.0 when `booked` falls inside `window` (payment_window), else 0.0."""
    return 1.0 if window[0] <= booked <= window[1] else 0.0
