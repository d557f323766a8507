"""A client-side sliding-window limiter, so we stay under a provider's limit instead of collecting 429s.

The window is counted from when each answer arrived: a request the server saw can only
have arrived earlier, so spacing by answer times can never exceed the server's window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping


class SlidingWindowLimiter:
    """At most `limit` requests in any `window_s` seconds (thread-safe)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._done: deque[float] = deque()
        self._reserved = 0  # slots acquired whose answers have not arrived yet
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def wait_time(self) -> float:
        """Seconds to wait before the next request may start (0 when a slot is free)."""
        with self._lock:
            now = self._clock()
            while self._done and now - self._done[0] >= self.window_s:
                self._done.popleft()
            if len(self._done) + self._reserved < self.limit:
                return 0.0
            return self.window_s - (now - self._done[0]) + 0.01

    def remaining(self) -> int:
        """Requests that may still start in the current window."""
        with self._lock:
            now = self._clock()
            while self._done and now - self._done[0] >= self.window_s:
                self._done.popleft()
            return self.limit - len(self._done) - self._reserved

    def acquire(self) -> None:
        """Block until a request may start, and hold its slot until record().

        The slot is taken under the lock, so concurrent callers can never all see the last
        free slot and overrun the limit together.
        """
        while True:
            with self._lock:
                now = self._clock()
                while self._done and now - self._done[0] >= self.window_s:
                    self._done.popleft()
                if len(self._done) + self._reserved < self.limit:
                    self._reserved += 1
                    return
                delay = self.window_s - (now - self._done[0]) + 0.01 if self._done else 0.01
            self.waited_s += delay
            time.sleep(delay)

    def record(self) -> None:
        """Record that an answer arrived now (turning an acquired slot into a counted call)."""
        with self._lock:
            self._reserved = max(0, self._reserved - 1)
            self._done.append(self._clock())


_LIMITERS: dict[tuple[str, int, float], SlidingWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_limiter(key: str, limit: int, window_s: float) -> SlidingWindowLimiter:
    """One limiter per (key, limit, window) in this process: the provider counts per token, not per client."""
    with _REGISTRY_LOCK:
        return _LIMITERS.setdefault((key, limit, window_s), SlidingWindowLimiter(limit, window_s))


class DailyLimitReached(RuntimeError):
    """The provider's daily allowance for a tenant is spent: stop for the day, do not retry into it."""


class TenantThrottle:
    """Everything a client does to stay inside one tenant's limits before the provider says 429.

    A sliding window for the per-minute limit, a semaphore for calls in flight, a stop for the
    daily allowance, and a slowdown that spreads the calls the server says remain over what is
    left of its window, so a quota shared with other clients shrinks gracefully instead of in a
    burst of 429s.
    """

    def __init__(
        self,
        calls_per_minute: int,
        max_in_flight: int,
        calls_per_day: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.minute = SlidingWindowLimiter(calls_per_minute, 60.0, clock)
        self.day = SlidingWindowLimiter(calls_per_day, 86400.0, clock)
        self.in_flight = threading.BoundedSemaphore(max_in_flight)
        self.calls_per_minute = calls_per_minute
        self.max_in_flight = max_in_flight
        self._sleep = sleep
        self._lock = threading.Lock()
        self._day_exhausted = False
        self._pause_s = 0.0
        self.slowed_s = 0.0

    def before_call(self) -> None:
        """Block until a call may start; raise DailyLimitReached once the day's allowance is gone."""
        with self._lock:
            exhausted, pause = self._day_exhausted, self._pause_s
        if exhausted or self.day.wait_time() > 0:
            raise DailyLimitReached(
                "the daily call allowance for this tenant is used up; posting stops for today"
            )
        if pause > 0:
            self.slowed_s += pause
            self._sleep(pause)
        self.minute.acquire()
        self.in_flight.acquire()

    def after_call(self, headers: Mapping[str, str] | None) -> None:
        """Release the in-flight slot, count the call and adapt to the remaining-quota headers."""
        self.in_flight.release()
        self.minute.record()
        self.day.record()
        if headers is None:
            return
        minute_left = _int_header(headers, "X-MinLimit-Remaining")
        day_left = _int_header(headers, "X-DayLimit-Remaining")
        problem = (headers.get("X-Rate-Limit-Problem") or "").lower()
        with self._lock:
            if day_left == 0 or problem == "day":
                self._day_exhausted = True
            # Our own window already keeps our calls under the limit. When the server reports less
            # left than we think (another client shares the tenant's quota), spread what remains
            # over the window instead of spending it at once and collecting 429s.
            # (Calls still in flight are counted by the server already but not by us yet.)
            if minute_left is not None and minute_left + self.max_in_flight < self.minute.remaining():
                self._pause_s = min(60.0, 60.0 / (minute_left + 1))
            else:
                self._pause_s = 0.0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            try:
                return int(value)
            except ValueError:
                return None
    return None


_THROTTLES: dict[tuple[str, int, int, int], TenantThrottle] = {}


def tenant_throttle(
    tenant: str, calls_per_minute: int, max_in_flight: int, calls_per_day: int
) -> TenantThrottle:
    """One throttle per tenant and limits in this process: the provider counts per tenant, not per client."""
    with _REGISTRY_LOCK:
        key = (tenant, calls_per_minute, max_in_flight, calls_per_day)
        if key not in _THROTTLES:
            _THROTTLES[key] = TenantThrottle(calls_per_minute, max_in_flight, calls_per_day)
        return _THROTTLES[key]
