"""The client-side limiter's arithmetic, on a fake clock (no sleeping)."""

import pytest

from resources.rate_limit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_limit_then_waits_for_the_oldest_to_leave_the_window() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, 15.0, clock)
    for step in (0.0, 1.0, 2.0):
        clock.now = 1000.0 + step
        assert limiter.wait_time() == 0.0
        limiter.record()
    clock.now = 1005.0
    # The first answer arrived at 1000.0: the next request may start at 1015.0 (+10 ms margin).
    assert limiter.wait_time() == pytest.approx(10.01)
    clock.now = 1015.0
    assert limiter.wait_time() == 0.0


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, 15.0)
