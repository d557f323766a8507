"""The outbound request log: every request the poster sent and its answer, with secrets redacted.

A document send's row is written (outcome "in_flight") before the request goes out and completed
when the answer is stored, so the log shows exactly which sends have an unknown outcome; every
other request of a pass (look-ups, contact reads and writes, organisation reads, allocations) is
recorded as it is answered (`RequestLog`). Because it
keeps each request's documents and idempotency key, it doubles as a replayable event store.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import duckdb

from resources.xero_exchanges import RecordedExchange

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"authori[sz]ation|token|secret|password|cookie|api[-_]?key", re.IGNORECASE)
# The same words in lower case, searched in a lowered body: many times faster than IGNORECASE on 100 KB.
_SECRET_WORD = re.compile(r"authori[sz]ation|token|secret|password|cookie|api[-_]?key")


def redact(value: Any) -> Any:
    """A copy with every value under a secret-looking key (Authorization, *token*, ...) replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_NAME.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_text(body: str) -> str:
    """Redact a JSON body; a body that is not JSON is kept only when no secret-looking word is in it.

    A body without a secret-looking word (and no `\\u` escape that could spell one) has nothing to
    redact and is kept as it is: parsing and re-writing every 50-document batch and its answer was a
    large share of a posting pass's CPU.
    """
    if "\\u" not in body and not _SECRET_WORD.search(body.lower()):
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return REDACTED if _SECRET_NAME.search(body) else body
    return json.dumps(redact(parsed), separators=(",", ":"))


def log_request(
    con: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    period: str,
    numbers: list[str],
    idempotency_key: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: str,
    run_id: str,
) -> str:
    """Record a request about to be sent; returns its id (inside the caller's transaction)."""
    request_id = uuid.uuid4().hex
    con.execute(
        "INSERT INTO posting.requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 'in_flight', ?, NULL, ?)",
        [
            request_id,
            entity,
            period,
            ",".join(numbers),
            idempotency_key,
            method,
            url,
            json.dumps(redact(headers), sort_keys=True),
            redact_text(body),
            datetime.now(UTC),
            run_id,
        ],
    )
    return request_id


def log_answer(
    con: duckdb.DuckDBPyConnection, request_id: str, status_code: int | None, body: str | None, outcome: str
) -> None:
    """Complete a request's row with what came back (or why nothing did)."""
    con.execute(
        "UPDATE posting.requests SET status_code = ?, response_body = ?, outcome = ?, finished_at = ? "
        "WHERE request_id = ?",
        [status_code, None if body is None else redact_text(body), outcome, datetime.now(UTC), request_id],
    )


# A look-up can answer a thousand documents; the log keeps its beginning and says how long it was.
MAX_LOGGED_RESPONSE = 64 * 1024


def _clipped(body: str | None) -> str | None:
    if body is None or len(body) <= MAX_LOGGED_RESPONSE:
        return body
    return body[:MAX_LOGGED_RESPONSE] + f"... [{len(body)} characters in all]"


class RequestLog:
    """Exchanges recorded while a pass talks to the ledger, written with the pass's next commit.

    The connector hands every exchange of a call to `record` (reads, contact writes, allocations);
    document sends are written ahead by the protocol itself (`log_request`, then `log_answer`).
    """

    def __init__(self, entity: str, period: str, run_id: str):
        self.entity = entity
        self.period = period
        self.run_id = run_id
        self._lock = threading.Lock()
        self._pending: list[RecordedExchange] = []

    def record(self, exchange: RecordedExchange) -> None:
        """Keep one exchange until the next flush (safe from any thread)."""
        with self._lock:
            self._pending.append(exchange)

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write the recorded exchanges into posting.requests (inside the caller's transaction)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for exchange in pending:
            con.execute(
                "INSERT INTO posting.requests VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    uuid.uuid4().hex, self.entity, self.period, exchange.idempotency_key, exchange.method,
                    exchange.url, json.dumps(redact(exchange.headers), sort_keys=True), redact_text(exchange.body),
                    exchange.status_code, _clipped(None if exchange.response_body is None else redact_text(exchange.response_body)),
                    exchange.outcome, exchange.started_at, exchange.finished_at, self.run_id,
                ],
            )  # fmt: skip

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._pending)
