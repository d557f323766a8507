"""A circuit breaker per accounting tenant, so one tenant's outage fails fast instead of stalling the rest.

Closed: calls go through and consecutive failures (5xx answers, timeouts, dropped
connections) are counted. After `failure_threshold` of them it opens: calls fail at once
with `CircuitOpenError` for `reset_after_s`. Then it half-opens: exactly one probe call
is let through; its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


class CircuitOpenError(RuntimeError):
    """The tenant's circuit is open: the call was not made."""


class CircuitBreaker:
    """Consecutive-failure breaker with a single half-open probe (thread-safe)."""

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if failure_threshold < 1 or reset_after_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_after_s > 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The state a call arriving now would see."""
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self.reset_after_s:
                return "half_open"
            return self._state

    def before_call(self) -> None:
        """Let the call through, or raise CircuitOpenError (only one probe passes while half-open)."""
        with self._lock:
            if self._state == "open":
                if self._clock() - self._opened_at < self.reset_after_s:
                    wait = self.reset_after_s - (self._clock() - self._opened_at)
                    raise CircuitOpenError(
                        f"circuit for {self.name} is open after {self._failures} consecutive failures; "
                        f"next probe in {wait:.0f}s"
                    )
                self._state = "half_open"
                self._probing = False
            if self._state == "half_open":
                if self._probing:
                    raise CircuitOpenError(f"circuit for {self.name} is half-open and its probe is under way")
                self._probing = True

    def record_success(self) -> None:
        """A call got an answer the service was healthy enough to give: close the circuit."""
        with self._lock:
            self._state, self._failures, self._probing = "closed", 0, False

    def record_failure(self) -> None:
        """A call failed in a way that suggests an outage: count it, open the circuit at the threshold."""
        with self._lock:
            self._failures += 1
            if self._state == "half_open" or self._failures >= self.failure_threshold:
                self._state, self._opened_at, self._probing = "open", self._clock(), False


_BREAKERS: dict[tuple[str, int, float], CircuitBreaker] = {}
_REGISTRY_LOCK = threading.Lock()


def tenant_breaker(tenant: str, failure_threshold: int, reset_after_s: float) -> CircuitBreaker:
    """The process-wide breaker of one tenant (every client of that tenant shares it)."""
    with _REGISTRY_LOCK:
        key = (tenant, failure_threshold, reset_after_s)
        if key not in _BREAKERS:
            _BREAKERS[key] = CircuitBreaker(f"tenant {tenant}", failure_threshold, reset_after_s)
        return _BREAKERS[key]
