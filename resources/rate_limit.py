"""A client-side sliding-window limiter, so we stay under a provider's limit instead of collecting 429s.

The window is counted from when each answer arrived: a request the server saw can only
have arrived earlier, so spacing by answer times can never exceed the server's window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `limit` requests in any `window_s` seconds (thread-safe)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._done: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def wait_time(self) -> float:
        """Seconds to wait before the next request may start (0 when a slot is free)."""
        with self._lock:
            now = self._clock()
            while self._done and now - self._done[0] >= self.window_s:
                self._done.popleft()
            if len(self._done) < self.limit:
                return 0.0
            return self.window_s - (now - self._done[0]) + 0.01

    def acquire(self) -> None:
        """Block until a request may start."""
        while (delay := self.wait_time()) > 0:
            self.waited_s += delay
            time.sleep(delay)

    def record(self) -> None:
        """Record that an answer arrived now."""
        with self._lock:
            self._done.append(self._clock())


_LIMITERS: dict[tuple[str, int, float], SlidingWindowLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def shared_limiter(key: str, limit: int, window_s: float) -> SlidingWindowLimiter:
    """One limiter per (key, limit, window) in this process: the provider counts per token, not per client."""
    with _REGISTRY_LOCK:
        return _LIMITERS.setdefault((key, limit, window_s), SlidingWindowLimiter(limit, window_s))
