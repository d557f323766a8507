"""How both connectors classify HTTP failures and wait before trying again.

429 and 5xx answers, timeouts and dropped connections are transient; other 4xx answers
are permanent. Retries use stamina's exponential backoff with jitter, except that a
`Retry-After` header from the provider always wins over our own guess.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import stamina

TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class ServiceUnreachableError(RuntimeError):
    """The service could not be reached at all: names the URL instead of a traceback wall."""

    def __init__(self, service: str, url: str, cause: BaseException):
        super().__init__(
            f"cannot reach {service} at {url}: {type(cause).__name__}: {cause or 'no answer'}. "
            f"Is the server running and the base URL right? (for the local sandboxes: `billbridge sandbox up`)"
        )
        self.service = service
        self.url = url


class TransientHTTPError(RuntimeError):
    """A 429 or 5xx answer: worth retrying, after `retry_after` seconds when the provider said so."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.status_code = response.status_code
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        self.problem = response.headers.get("X-Rate-Limit-Problem")
        super().__init__(f"{response.request.method} {response.request.url} answered {response.status_code}")


class PermanentHTTPError(RuntimeError):
    """A 4xx answer other than 429: retrying the same request cannot succeed."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.status_code = response.status_code
        body = response.text[:500]
        super().__init__(
            f"{response.request.method} {response.request.url} answered {response.status_code}: {body}"
        )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (both providers use seconds)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for_status(response: httpx.Response) -> httpx.Response:
    """Return a 2xx response; raise TransientHTTPError or PermanentHTTPError otherwise."""
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientHTTPError(response)
    if response.status_code >= 400:
        raise PermanentHTTPError(response)
    return response


def backoff_hook(exc: Exception) -> bool | float:
    """stamina hook: retry transient failures, waiting as long as Retry-After asks when present."""
    if isinstance(exc, TransientHTTPError):
        return exc.retry_after if exc.retry_after is not None else True
    # A refused connection or unknown host means nothing is listening there: say so at once
    # rather than after minutes of backoff (a connect *timeout* is still retried).
    if isinstance(exc, httpx.ConnectError):
        return False
    return isinstance(exc, TRANSPORT_ERRORS)


def call_with_retries(
    send: Callable[[], httpx.Response], *, service: str, url: str, attempts: int, wait_max: float = 30.0
) -> httpx.Response:
    """Send with retries on transient failures; a never-reachable server raises ServiceUnreachableError.

    Only for requests that are safe to repeat (reads, or writes protected by an idempotency key).
    """
    try:
        for attempt in stamina.retry_context(
            on=backoff_hook, attempts=attempts, timeout=None, wait_initial=0.2, wait_max=wait_max
        ):
            with attempt:
                return raise_for_status(send())
    except httpx.ConnectError as exc:
        raise ServiceUnreachableError(service, url, exc) from exc
    raise AssertionError("unreachable: stamina re-raises the last error")


def full_jitter_delay(
    attempt: int,
    *,
    base_s: float = 0.5,
    cap_s: float = 30.0,
    retry_after: float | None = None,
    rng: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): the provider's Retry-After when given,
    else "full jitter" (uniform between 0 and min(cap, base * 2**attempt)), which spreads many
    clients' retries apart instead of synchronising them."""
    if retry_after is not None:
        return retry_after
    return rng(0.0, min(cap_s, base_s * 2.0**attempt))
