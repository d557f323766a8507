"""Fault injection for exactly-once tests: queued misbehaviours, each consumed by the first request it matches."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from resources.http_server import Response
from sandbox.xero.answers import API_BASE, api_error, problem

FaultKind = Literal["status", "slow", "drop_before", "drop_after_commit", "duplicate"]


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by the first request it matches.

    - `status`: answer `status` (503, 500, 429, ...) without processing; `retry_after` sets
      `Retry-After` (a 429 also gets `X-Rate-Limit-Problem: minute`).
    - `slow`: sleep `seconds`, then process and answer. The sleep comes first so that a client
      which times out and retries races its own original request, as behind a stalled proxy.
    - `drop_before`: close the connection without processing.
    - `drop_after_commit`: process and store, then close without answering (outcome unknown).
    - `duplicate`: process the request twice, as a duplicate delivery would; the client gets
      the answer to the second delivery.

    `method` (e.g. "PUT") and `path` (a prefix of the path below the API base, e.g. "/Invoices")
    narrow which requests match; `tenant` narrows to one tenant.
    """

    kind: FaultKind
    status: int = 503
    retry_after: int | None = None
    seconds: float = 0.0
    method: str | None = None
    path: str | None = None
    tenant: str | None = None

    def matches(self, method: str, resource: str, tenant: str) -> bool:
        """Whether this fault applies to a request (resource is the path below the API base)."""
        if self.method and self.method.upper() != method.upper():
            return False
        if self.tenant and self.tenant != tenant:
            return False
        if self.path:
            prefix = self.path[len(API_BASE) :] if self.path.startswith(API_BASE) else self.path
            return resource.lower().startswith(prefix.lower())
        return True


class FaultQueue:
    """The queued faults and the record of those that fired, safe across server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []
        self.fired: list[tuple[Fault, str, str]] = []  # (fault, method, path) in firing order

    def add(self, faults: tuple[Fault, ...]) -> None:
        """Queue faults in order."""
        with self._lock:
            self._pending.extend(faults)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[Fault]:
        """Faults queued and not yet consumed."""
        with self._lock:
            return list(self._pending)

    def take(self, method: str, resource: str, tenant: str) -> Fault | None:
        """Consume and return the first queued fault matching this request, if any."""
        with self._lock:
            for index, fault in enumerate(self._pending):
                if fault.matches(method, resource, tenant):
                    del self._pending[index]
                    self.fired.append((fault, method, resource))
                    return fault
        return None


def fault_response(fault: Fault) -> Response:
    """The answer a `status` fault gives, shaped as the provider's own errors are."""
    if fault.status == 429:
        response = problem(429, "Too Many Requests", "Rate limit exceeded: minute (injected)")
        response.headers["X-Rate-Limit-Problem"] = "minute"
        response.headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
        return response
    if fault.status >= 500:
        kind = "NotAvailableException" if fault.status == 503 else "InternalServerErrorException"
        response = api_error(fault.status, (0, kind), f"Injected fault: HTTP {fault.status}")
    else:
        response = problem(fault.status, "Injected fault", f"HTTP {fault.status}")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response
