"""The outbound request log: every request the poster sent and its answer, with secrets redacted.

A row is written (outcome "in_flight") before the request goes out and completed when the
answer is stored, so the log shows exactly which sends have an unknown outcome. Because it
keeps each request's documents and idempotency key, it doubles as a replayable event store.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import duckdb

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"authori[sz]ation|token|secret|password|cookie|api[-_]?key", re.IGNORECASE)


def redact(value: Any) -> Any:
    """A copy with every value under a secret-looking key (Authorization, *token*, ...) replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_NAME.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_text(body: str) -> str:
    """Redact a JSON body; a body that is not JSON is kept only when no secret-looking word is in it."""
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
