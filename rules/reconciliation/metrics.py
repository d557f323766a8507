"""What the team sees per entity: matched automatically, matched by hand, open exceptions, unapplied
cash, written off, and days sales outstanding from the matched payments.

DSO here is the collection period the payments show: for every item a settled payment paid, the days
from the invoice's issue to the payment's booking, weighted by the amount applied (a payment of
1,000 after 40 days counts ten times one of 100 after 10 days), rounded to one decimal place.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

ACCEPTED_BY_HAND = "accepted"


def reconciliation_metrics(
    states: pl.DataFrame, lines: pl.DataFrame, settlements: pl.DataFrame, applied: pl.DataFrame
) -> dict[str, object]:
    """Counts and sums over one entity's (or one month's) lines.

    `states`: line_id, status; `lines`: line_id, amount, currency; `settlements`: decision_id, line_id,
    booking_date, unapplied, write_off, bank_currency; `applied`: decision_id, item_id, applied, issue_date.
    """
    status = states.group_by("status").len()
    count = dict(zip(status["status"].to_list(), status["len"].to_list(), strict=True))
    open_lines = states.filter(pl.col("status").is_in(["proposed", "exception"])).join(lines, on="line_id")
    unapplied_open = open_lines.filter(pl.col("amount") > 0)
    unapplied = _sum_by_currency(unapplied_open, "currency", "amount")
    for currency, amount in _sum_by_currency(settlements, "bank_currency", "unapplied").items():
        unapplied[currency] = unapplied.get(currency, Decimal(0)) + amount
    return {
        "matched_automatically": count.get("auto_accepted", 0),
        "matched_by_hand": count.get(ACCEPTED_BY_HAND, 0),
        "proposed": count.get("proposed", 0),
        "open_exceptions": count.get("exception", 0),
        "rejected": count.get("rejected", 0),
        "unapplied_cash": {c: str(a) for c, a in sorted(unapplied.items()) if a != 0},
        "written_off": {
            c: str(a) for c, a in _sum_by_currency(settlements, "bank_currency", "write_off").items()
        },
        "dso_days": _dso(settlements, applied),
    }


def _sum_by_currency(frame: pl.DataFrame, currency: str, amount: str) -> dict[str, Decimal]:
    if frame.height == 0:
        return {}
    sums = frame.group_by(currency).agg(pl.col(amount).sum()).sort(currency)
    return {c: Decimal(a) for c, a in sums.iter_rows()}


def _dso(settlements: pl.DataFrame, applied: pl.DataFrame) -> float | None:
    if settlements.height == 0 or applied.height == 0:
        return None
    paid = applied.join(settlements.select("decision_id", "booking_date"), on="decision_id").drop_nulls(
        "issue_date"
    )
    weights = [abs(Decimal(a)) for a in paid["applied"]]
    total = sum(weights, Decimal(0))
    if total == 0:
        return None
    days = [(b - i).days for b, i in zip(paid["booking_date"], paid["issue_date"], strict=True)]
    weighted = sum((w * d for w, d in zip(weights, days, strict=True)), Decimal(0)) / total
    return float(weighted.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
