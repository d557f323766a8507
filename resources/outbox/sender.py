"""Sending batches of documents to the ledger, and reading what came back as one answer per document.

Batches go out up to the tenant's calls-in-flight at once; answers are handed back as they
arrive, so storing them overlaps the sends still in flight. Nothing here decides what an answer
means for a row: that is rules/outbox/transitions.py. Sends are not handed to a recorder: the
protocol writes each one's request-log row before it goes out.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from resources.circuit_breaker import CircuitOpenError
from resources.http_retry import TRANSPORT_ERRORS, PermanentHTTPError, TransientHTTPError
from resources.rate_limit import DailyLimitReached
from resources.xero import XeroClient, loads_exact
from rules.documents import KINDS
from rules.outbox.batch import batch_answers
from rules.outbox.events import Answer, Refused, Transient, Unknown


@dataclass
class Batch:
    """Up to 50 documents of one kind sent in one request under one idempotency key."""

    numbers: list[str]
    idempotency_key: str
    documents: list[dict[str, Any]]
    request_id: str = ""  # the request log's row, written before the request goes out


@dataclass
class BatchResult:
    """What one batch's request came back with, per document and for the request log."""

    batch: Batch
    answers: dict[str, Answer] = field(default_factory=dict)
    status_code: int | None = None
    text: str | None = None
    log_outcome: str = "unknown"  # answered | transient | permanent | unknown
    stop: BaseException | None = None  # daily limit, open circuit or refused credentials: the pass stops

    @property
    def answered(self) -> bool:
        """Whether an HTTP answer arrived (anything the request log can store)."""
        return self.status_code is not None


def _everyone(batch: Batch, answer: Answer) -> dict[str, Answer]:
    return dict.fromkeys(batch.numbers, answer)


def send_batch(xero: XeroClient, tenant: str, kind: str, batch: Batch) -> BatchResult:
    """Send one batch and read the answer; never raises for what the ledger or the network did."""
    collection = KINDS[kind][0]
    result = BatchResult(batch)
    try:
        response = xero.send_documents(tenant, collection, batch.documents, batch.idempotency_key)
    except (DailyLimitReached, CircuitOpenError) as exc:
        # Refused on our side before anything was booked: the documents wait for the next pass.
        result.answers, result.stop = _everyone(batch, Transient(f"not sent: {exc}")), exc
        return result
    except TransientHTTPError as exc:
        result.status_code, result.text, result.log_outcome = exc.status_code, exc.response.text, "transient"
        # A 429 is refused before anything is processed; a 5xx may come from a server that failed
        # after it booked the batch, so its outcome is unknown until a look-up can settle it.
        answer = Transient(str(exc), exc.retry_after) if exc.status_code == 429 else Unknown(str(exc))
        result.answers = _everyone(batch, answer)
        return result
    except PermanentHTTPError as exc:
        result.status_code, result.text, result.log_outcome = exc.status_code, exc.response.text, "permanent"
        if exc.status_code in (401, 403):
            # Credentials, not the documents: stop; the documents are sent once the token is fixed.
            result.answers, result.stop = _everyone(batch, Transient(str(exc))), exc
        else:
            result.answers = _everyone(batch, Refused((str(exc),)))
        return result
    except TRANSPORT_ERRORS as exc:
        result.answers = _everyone(batch, Unknown(f"{type(exc).__name__}: {exc}"))
        return result
    result.status_code, result.text, result.log_outcome = response.status_code, response.text, "answered"
    elements = loads_exact(response.content).get(collection) or []
    result.answers = dict(batch_answers(kind, batch.numbers, elements))
    return result


def send_batches(
    xero: XeroClient, tenant: str, kind: str, batches: list[Batch]
) -> Iterator[list[BatchResult]]:
    """Send the batches up to max_in_flight at once, yielding results in groups as they complete."""
    with ThreadPoolExecutor(max_workers=xero.max_in_flight) as pool:
        pending: set[Future[BatchResult]] = {pool.submit(send_batch, xero, tenant, kind, b) for b in batches}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield [future.result() for future in done]
