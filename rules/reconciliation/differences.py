"""What a payment leaves over against what it pays: bank fees, write-offs, FX differences, unapplied cash.

All in exact Decimal, to the currency's minor units, by the named rules of rules/money.py:
a percentage limit is `amount x percent / 100` by PERCENT_LIMIT_RULE; an amount due in another
currency is converted to the bank's currency at the item's booking rate by FX_CONVERSION_RULE.

Same currency, the shortfall (due - received) is taken apart in this order:
1. the charges the statement names for the line, up to the shortfall, go to the fees account;
2. else a shortfall equal to one of the entity's known bank fee amounts goes to the fees account;
3. what is left, when within BOTH write-off limits (absolute and percent of the amount due), is
   written off to the write-off account with its reason;
4. anything larger stays open on the invoice: the payment is partial, and nothing is written off.
An overpayment within both write-off limits is written off too (a small gain); a larger one is
unapplied cash (an overpayment, flagged).

Another currency (the bank account's currency is the entity's base, the invoice's is not): the
invoice is settled in full when the received amount is within the FX tolerance of the amount due
converted at the booking rate, and the difference is a realised FX gain (+) or loss (-).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rules.money import FX_CONVERSION_RULE, PERCENT_LIMIT_RULE, money_text, round_decimal
from rules.reconciliation.rule_file import CurrencyRule

ZERO = Decimal(0)
EXACT, KNOWN_FEE = (
    "exact",
    "shortfall equals a known bank fee",
)  # two reasons rules/reconciliation/bulk.py writes too


@dataclass(frozen=True)
class Settlement:
    """How one payment settles the amount due it was matched to (amounts in the bank's currency
    except `settled_in_item_currency`)."""

    received: Decimal
    expected: Decimal  # the amount due, in the bank's currency
    fee: Decimal = ZERO
    write_off: Decimal = ZERO  # + a shortfall written off (expense), - an overpayment written off (gain)
    fx_difference: Decimal = ZERO  # + realised gain, - realised loss (base currency)
    unapplied: Decimal = ZERO  # overpaid cash left on the line
    still_due: Decimal = ZERO  # what stays open on the item(s), in the bank's currency
    settled_in_item_currency: Decimal = ZERO  # what the item(s) are paid, in their own currency
    reason: str = EXACT

    @property
    def explained(self) -> bool:
        """Whether the whole difference is a fee, a write-off or an FX difference within the rules."""
        return self.unapplied == 0 and self.still_due == 0


def allocate_oldest_first(settled: Decimal, dues: list[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """Spread `settled` over items (`dues`: (item id, amount still due), oldest first): each takes its
    whole amount due while enough is left, the last one takes the rest; signs as the dues'."""
    applied, left = [], settled
    for item_id, due in dues:
        take = due if abs(due) <= abs(left) else left
        applied.append((item_id, take))
        left -= take
    return applied


def percent_limit(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """`percent` of `amount`, to the currency's minor units by PERCENT_LIMIT_RULE."""
    return round_decimal(abs(amount) * percent / 100, currency, PERCENT_LIMIT_RULE)


def within_write_off(difference: Decimal, due: Decimal, rule: CurrencyRule, currency: str) -> bool:
    """Whether |difference| is within both the absolute and the percentage write-off limit."""
    size = abs(difference)
    return size <= rule.write_off_absolute and size <= percent_limit(due, rule.write_off_percent, currency)


def within_tolerance(difference: Decimal, due: Decimal, rule: CurrencyRule, currency: str) -> bool:
    """Whether |difference| is within both matching tolerances (absolute and percent of the amount due)."""
    size = abs(difference)
    return size <= rule.amount_tolerance_absolute and size <= percent_limit(
        due, rule.amount_tolerance_percent, currency
    )


def settle_same_currency(
    received: Decimal, due: Decimal, charges: Decimal | None, rule: CurrencyRule, currency: str
) -> Settlement:
    """Split a same-currency payment of `received` against `due` (both signed alike)."""
    shortfall = due - received
    if shortfall == 0:
        return Settlement(received, due, settled_in_item_currency=due)
    if shortfall < 0:
        if within_write_off(shortfall, due, rule, currency):
            return Settlement(received, due, write_off=shortfall, settled_in_item_currency=due,
                              reason="overpayment within the write-off rule")  # fmt: skip
        return Settlement(received, due, unapplied=-shortfall, settled_in_item_currency=due,
                          reason="overpayment: the rest is unapplied cash")  # fmt: skip
    fee = ZERO
    if charges is not None and ZERO < charges <= shortfall:
        fee, reason = charges, "bank charges stated on the line"
    elif shortfall in rule.fee_amounts:
        fee, reason = shortfall, KNOWN_FEE
    left = shortfall - fee
    if left == 0:
        return Settlement(received, due, fee=fee, settled_in_item_currency=due, reason=reason)
    if within_write_off(left, due, rule, currency):
        return Settlement(received, due, fee=fee, write_off=left, settled_in_item_currency=due,
                          reason=f"difference {money_text(left, currency)} within the write-off rule "
                          f"(<= {rule.write_off_absolute} and <= {rule.write_off_percent}%)")  # fmt: skip
    return Settlement(received, due, fee=fee, still_due=left, settled_in_item_currency=received + fee,
                      reason=f"partial payment: {money_text(left, currency)} stays due")  # fmt: skip


def settle_other_currency(
    received: Decimal,
    due: Decimal,
    item_currency: str,
    rate: Decimal,
    bank_currency: str,
    rule: CurrencyRule,
) -> Settlement:
    """Settle `due` (in `item_currency`, booked at `rate` units per one `bank_currency`) with `received`."""
    expected = round_decimal(due / rate, bank_currency, FX_CONVERSION_RULE)
    difference = received - expected
    if expected != 0 and abs(difference) <= percent_limit(expected, rule.fx_tolerance_percent, bank_currency):
        return Settlement(received, expected, fx_difference=difference, settled_in_item_currency=due,
                          reason=f"{item_currency} settled at the bank's rate: realised FX "
                          f"{'gain' if difference >= 0 else 'loss'} {money_text(abs(difference), bank_currency)} {bank_currency}")  # fmt: skip
    if abs(received) < abs(expected):
        paid = round_decimal(received * rate, item_currency, FX_CONVERSION_RULE)
        return Settlement(received, expected, still_due=expected - received, settled_in_item_currency=paid,
                          reason="partial payment in another currency")  # fmt: skip
    return Settlement(received, expected, unapplied=difference, settled_in_item_currency=due,
                      reason="overpayment in another currency: the rest is unapplied cash")  # fmt: skip
