"""Admission: Xero's rate limits per tenant and app-wide, with the provider's 429 headers."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from resources.http_server import Response
from sandbox.xero.answers import problem

MINUTE_S = 60.0
DAY_S = 86400.0


@dataclass(frozen=True)
class LimitSettings:
    """The limits in force; None disables one (defaults are the provider's documented figures)."""

    minute: int | None = 60
    day: int | None = 5000
    concurrent: int | None = 5
    app_minute: int | None = 10_000


@dataclass
class Admission:
    """The limiter's verdict for one call: the headers to send, and the problem when refused."""

    headers: dict[str, str]
    problem: str | None = None
    retry_after: int = 0


class RateLimits:
    """Xero's per-tenant limits (rolling minute, rolling day, in flight) and the app-wide minute limit.

    Only admitted calls count towards the windows: a refused call did not reach the API.
    """

    def __init__(self, settings: LimitSettings, clock: Callable[[], float]):
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {}
        self._day: dict[str, deque[float]] = {}
        self._app_minute: deque[float] = deque()
        self._in_flight: dict[str, int] = {}
        self._admitted: dict[str, int] = {}

    @staticmethod
    def _prune(window: deque[float], now: float, span: float) -> None:
        while window and now - window[0] >= span:
            window.popleft()

    @staticmethod
    def _wait(window: deque[float], now: float, span: float) -> int:
        return max(1, math.ceil(span - (now - window[0])))

    def admit(self, tenant: str) -> Admission:
        """Count a call and take an in-flight slot, or refuse it with the first limit it breaks."""
        with self._lock:
            now = self._clock()
            minute = self._minute.setdefault(tenant, deque())
            day = self._day.setdefault(tenant, deque())
            self._prune(minute, now, MINUTE_S)
            self._prune(day, now, DAY_S)
            self._prune(self._app_minute, now, MINUTE_S)
            in_flight = self._in_flight.get(tenant, 0)
            problem_name, wait = self._first_broken(in_flight, minute, day, now)
            if problem_name is None:
                minute.append(now)
                day.append(now)
                self._app_minute.append(now)
                self._in_flight[tenant] = in_flight + 1
                self._admitted[tenant] = self._admitted.get(tenant, 0) + 1
            return Admission(self._headers(minute, day), problem_name, wait)

    def _first_broken(
        self, in_flight: int, minute: deque[float], day: deque[float], now: float
    ) -> tuple[str | None, int]:
        """The first limit this call would break (Xero's header name) and the seconds to wait."""
        limits = self.settings
        if limits.concurrent is not None and in_flight >= limits.concurrent:
            return "concurrent", 1
        if limits.minute is not None and len(minute) >= limits.minute:
            return "minute", self._wait(minute, now, MINUTE_S)
        if limits.day is not None and len(day) >= limits.day:
            return "day", self._wait(day, now, DAY_S)
        if limits.app_minute is not None and len(self._app_minute) >= limits.app_minute:
            return "appminute", self._wait(self._app_minute, now, MINUTE_S)
        return None, 0

    def admitted(self, tenant: str) -> int:
        """Calls of `tenant` admitted since the start (the ones that count towards its limits)."""
        with self._lock:
            return self._admitted.get(tenant, 0)

    def release(self, tenant: str) -> None:
        """Give back the in-flight slot of an admitted call."""
        with self._lock:
            self._in_flight[tenant] = max(0, self._in_flight.get(tenant, 0) - 1)

    def _headers(self, minute: deque[float], day: deque[float]) -> dict[str, str]:
        limits = self.settings
        headers: dict[str, str] = {}
        if limits.minute is not None:
            headers["X-MinLimit-Remaining"] = str(max(0, limits.minute - len(minute)))
        if limits.day is not None:
            headers["X-DayLimit-Remaining"] = str(max(0, limits.day - len(day)))
        if limits.app_minute is not None:
            headers["X-AppMinLimit-Remaining"] = str(max(0, limits.app_minute - len(self._app_minute)))
        return headers


def rate_limited(admission: Admission) -> Response:
    """The 429 a refused call gets, with Retry-After and X-Rate-Limit-Problem."""
    response = problem(429, "Too Many Requests", f"Rate limit exceeded: {admission.problem}")
    response.headers.update(admission.headers)
    response.headers["Retry-After"] = str(admission.retry_after)
    response.headers["X-Rate-Limit-Problem"] = str(admission.problem)
    return response
