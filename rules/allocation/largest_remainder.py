"""Split an amount over weights so the parts sum to the amount exactly, to the minor unit.

Each target's exact share is computed at scale 8, floored to the currency's minor unit,
and the cents left over are handed out one each to the targets with the largest
remainders (ties: the earlier target in the caller's order, which callers sort by
target id). Which targets received a cent is recorded with the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from rules.money import minor_units

SHARE_SCALE = Decimal("0.00000001")  # scale 8, as `rules.money.WIDE`


@dataclass(frozen=True)
class Part:
    """One target's part of a split."""

    share: Decimal  # weight / total weight, at scale 8 (informational; amounts use the exact ratio)
    exact: Decimal  # amount x weight / total, at scale 8
    amount: Decimal  # floored to the minor unit, plus any remainder units received
    remainder_units: int  # minor units received from the remainder (0 or 1)


def split(amount: Decimal, weights: list[Decimal], currency: str) -> list[Part]:
    """Split `amount` over `weights` by largest remainder; the parts sum to `amount` exactly.

    Raises ValueError when the weights sum to zero (nothing to split by) or when `amount`
    is not a whole number of the currency's minor units.
    """
    unit = Decimal(1).scaleb(-minor_units(currency))
    if amount != amount.quantize(unit):
        raise ValueError(f"{amount} is not a whole number of {currency} minor units")
    total = sum(weights, Decimal(0))
    if total == 0:
        raise ValueError("the weights sum to zero: nothing to split by")
    exact = [(amount * w / total).quantize(SHARE_SCALE) for w in weights]
    floors = [e.quantize(unit, rounding=ROUND_FLOOR) for e in exact]
    left_over = int((amount - sum(floors, Decimal(0))) / unit)
    # Remainders from the unrounded ratio, so scale-8 truncation never decides an order.
    remainders = [(amount * w / total) - f for w, f in zip(weights, floors, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    # left_over < len(weights) whenever the exact parts sum to the amount; modulo keeps
    # the hand-out total even for pathological weights (mixed signs cancelling out).
    extra = [0] * len(weights)
    for n in range(left_over):
        extra[order[n % len(order)]] += 1
    return [
        Part(
            share=(w / total).quantize(SHARE_SCALE),
            exact=e,
            amount=f + unit * extra[i],
            remainder_units=extra[i],
        )
        for i, (w, e, f) in enumerate(zip(weights, exact, floors, strict=True))
    ]
