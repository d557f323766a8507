"""Writes honouring `Idempotency-Key`: a replay within the window answers the original response, the
same key with another request is a 400, and the answer is stored atomically with what the write made."""

from __future__ import annotations

import hashlib

from resources.http_server import Request, Response
from sandbox.xero.answers import ERR_POST_DATA, api_error
from sandbox.xero.books import Books, Write, WriteHandler
from sandbox.xero.exact import dumps_exact, loads_exact
from sandbox.xero.ledger import IdempotencyRecord

MAX_IDEMPOTENCY_KEY_LENGTH = 128  # from the spec's Idempotency-Key parameter
REPLAYED_STATUSES = (200, 400)  # answers that depend on the request alone


def run_write(
    books: Books, request: Request, tenant: str, handler: WriteHandler, window_s: float
) -> Response:
    """Run one write (documents, contacts, allocations, payments) honouring Idempotency-Key, atomic with
    the key's record; `window_s` is how long a key is remembered."""
    key = request.header("Idempotency-Key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        return api_error(
            400,
            ERR_POST_DATA,
            f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters, got {len(key)}",
        )
    summarize = (request.param("summarizeErrors") or "true").lower() != "false"
    unitdp = request.param("unitdp")
    fingerprint = request_fingerprint(request.method, request.path, summarize, unitdp, request.body)
    ledger = books.ledger
    with ledger.lock:
        now = books.clock()
        if key is not None:
            replay = _replay(ledger.recall(tenant, key), fingerprint, key, now, window_s)
            if replay is not None:
                return replay
        with ledger.transaction():
            response = handler(books, Write(tenant, request, summarize, unitdp == "4", key, now))
            # Only answers that depend on the request alone are replayed; nothing else is written.
            if key is not None and response.status in REPLAYED_STATUSES:
                ledger.remember(
                    tenant, key, IdempotencyRecord(fingerprint, response.status, response.encoded(), now)
                )
    return response


def _replay(
    stored: IdempotencyRecord | None, fingerprint: str, key: str, now: float, window_s: float
) -> Response | None:
    """The remembered answer for a retried key, the 400 for a reused one, or None to proceed."""
    if stored is None or now - stored.created_at >= window_s:
        return None
    if stored.fingerprint != fingerprint:
        return api_error(
            400,
            ERR_POST_DATA,
            f"Idempotency-Key {key!r} was already used within the last {window_s:g} s with a different "
            "request; a key may only be retried with the same method, path, parameters and body",
        )
    return Response(stored.status, stored.response_body, headers={"X-Sandbox-Idempotent-Replay": "true"})


def request_fingerprint(method: str, path: str, summarize: bool, unitdp: str | None, body: bytes) -> str:
    """What makes two requests 'the same' for an idempotency key: method, path, parameters, JSON body.

    The body is compared as parsed JSON (key order and whitespace do not matter); a body that is
    not JSON is compared byte for byte.
    """
    try:
        canonical = dumps_exact(loads_exact(body), sort_keys=True) if body else ""
    except (ValueError, UnicodeDecodeError):
        canonical = body.hex()
    text = f"{method.upper()} {path.lower()} summarize={summarize} unitdp={unitdp}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
