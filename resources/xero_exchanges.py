"""One HTTP exchange with the accounting API as the request log keeps it, and who receives it (a recorder)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx


@dataclass(frozen=True)
class RecordedExchange:
    """One HTTP exchange with the accounting API, as a request log keeps it (secrets not yet redacted)."""

    method: str
    url: str
    headers: dict[str, str]
    body: str
    status_code: int | None
    response_body: str | None
    outcome: str  # answered (2xx) | transient (429, 5xx) | permanent (other 4xx) | unknown (no answer)
    started_at: datetime
    finished_at: datetime

    @property
    def idempotency_key(self) -> str:
        """The request's Idempotency-Key header, or "" for a read."""
        return next((v for k, v in self.headers.items() if k.lower() == "idempotency-key"), "")


ExchangeRecorder = Callable[[RecordedExchange], None]


def recorded_exchange(
    request: httpx.Request, response: httpx.Response | None, error: BaseException | None, started: datetime
) -> RecordedExchange:
    """The exchange as a request log keeps it: the body decompressed, the outcome classified."""
    content = request.content
    if request.headers.get("Content-Encoding") == "gzip":
        content = gzip.decompress(content)
    if response is None:
        status, text, outcome = None, f"{type(error).__name__}: {error}", "unknown"
    else:
        status, text = response.status_code, response.text
        outcome = (
            "answered" if status < 400 else "transient" if status == 429 or status >= 500 else "permanent"
        )
    return RecordedExchange(
        request.method, str(request.url), {k.decode(): v.decode() for k, v in request.headers.raw},
        content.decode("utf-8", "replace"),
        status, text, outcome, started, datetime.now(UTC),
    )  # fmt: skip
