"""Largest-remainder splits, hand-computed, and its invariants as property tests."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.allocation.largest_remainder import split

D = Decimal


def _amounts(parts: list) -> list[Decimal]:  # type: ignore[type-arg]
    return [p.amount for p in parts]


def test_equal_thirds_give_the_odd_cent_to_the_first_target() -> None:
    parts = split(D("100.00"), [D(1), D(1), D(1)], "USD")
    assert _amounts(parts) == [D("33.34"), D("33.33"), D("33.33")]
    assert [p.remainder_units for p in parts] == [1, 0, 0]
    assert parts[0].exact == D("33.33333333")


def test_cents_go_to_the_largest_remainders_not_the_first() -> None:
    # 500.00 x 2/3 = 333.3333 (rem .0033), x 1/3 = 166.6666 (rem .0066): the cent goes to the second.
    parts = split(D("500.00"), [D(2), D(1)], "USD")
    assert _amounts(parts) == [D("333.33"), D("166.67")]
    assert [p.remainder_units for p in parts] == [0, 1]


def test_zero_driver_target_gets_nothing() -> None:
    assert _amounts(split(D("10.00"), [D(1), D(0), D(1)], "USD")) == [D("5.00"), D("0.00"), D("5.00")]


def test_tiny_amount_over_many_targets() -> None:
    assert _amounts(split(D("0.05"), [D(1)] * 6, "USD")) == [D("0.01")] * 5 + [D("0.00")]


def test_zero_decimal_currency_rounds_to_whole_yen() -> None:
    # 100 x 1/3 = 33.33 -> 33, 100 x 2/3 = 66.67 -> 66 + the remaining yen.
    assert _amounts(split(D("100"), [D(1), D(2)], "JPY")) == [D("33"), D("67")]


def test_three_decimal_currency() -> None:
    assert _amounts(split(D("1.000"), [D(1)] * 3, "KWD")) == [D("0.334"), D("0.333"), D("0.333")]


def test_negative_pool_splits_to_the_cent() -> None:
    # -10 x 1/3 = -3.3333 -> floor -3.34 (rem .0067), -10 x 2/3 = -6.6667 -> -6.67 (rem .0033).
    assert _amounts(split(D("-10.00"), [D(1), D(2)], "USD")) == [D("-3.33"), D("-6.67")]


def test_weights_summing_to_zero_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to zero"):
        split(D("10.00"), [D(0), D(0)], "USD")


def test_amount_with_sub_cent_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="minor units"):
        split(D("10.005"), [D(1)], "USD")


cents = st.integers(min_value=-(10**11), max_value=10**11).map(lambda n: Decimal(n).scaleb(-2))
weights = st.lists(
    st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n).scaleb(-4)), min_size=1, max_size=40
).filter(lambda ws: sum(ws) > 0)


@settings(max_examples=300, deadline=None)
@given(cents, weights)
def test_parts_always_sum_to_the_amount_to_the_cent(amount: Decimal, ws: list[Decimal]) -> None:
    parts = split(amount, ws, "USD")
    assert sum(p.amount for p in parts) == amount
    for part, w in zip(parts, ws, strict=True):
        exact = amount * w / sum(ws)
        assert abs(part.amount - exact) < D("0.01")  # never more than one cent from the exact share
        assert part.amount == part.amount.quantize(D("0.01"))
        if amount >= 0:
            assert part.amount >= 0
        if w == 0:
            assert part.amount == 0
    left_over = amount - sum(p.amount - D("0.01") * p.remainder_units for p in parts)
    assert left_over == D("0.01") * sum(p.remainder_units for p in parts)
    assert split(amount, ws, "USD") == parts  # deterministic
