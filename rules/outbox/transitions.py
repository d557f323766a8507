"""The outbox's state machine: `transition(row, event) -> row`, pure.

Every rule of the exactly-once protocol that is about one document lives here; which documents
are looked up or sent together, and when, is the protocol's business (assets/posting/).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from rules.outbox.events import (
    Absent,
    Booked,
    Discarded,
    Event,
    Held,
    Refused,
    Replayed,
    Revised,
    Sending,
    Transient,
    Unknown,
)
from rules.outbox.rows import OutboxRow, Status


class TransitionError(ValueError):
    """An event that cannot happen to a row in its state (a bug in the protocol, never bad input)."""


@dataclass(frozen=True)
class OutboxPolicy:
    """How long the outbox keeps trying a document."""

    max_attempts: int


def transition(row: OutboxRow, event: Event, *, now: datetime, policy: OutboxPolicy) -> OutboxRow:
    """The row after `event`. Rows that the event does not concern come back unchanged."""
    match event:
        case Booked():
            return _booked(row, event)
        case Absent():
            return _absent(row, policy)
        case Sending():
            _require(row, event, Status.PENDING)
            return replace(row, status=Status.SENT, attempts=row.attempts + 1)
        case Refused():
            _require(row, event, Status.SENT)
            return replace(row, status=Status.DEAD_LETTER, last_error=event.message)
        case Transient():
            _require(row, event, Status.SENT)
            return replace(row, status=Status.PENDING, last_error=event.message)
        case Unknown():
            _require(row, event, Status.SENT)
            return replace(row, last_error=f"outcome unknown: {event.message}")
        case Revised():
            return _revised(row, event)
        case Held():
            _require(row, event, Status.PENDING)
            return replace(
                row,
                last_error=f"held: dated {event.document_date.isoformat()}, on or before the tenant's lock "
                f"date {event.lock_date.isoformat()}",
            )
        case Replayed():
            _require(row, event, Status.DEAD_LETTER)
            return replace(
                row, status=Status.PENDING, attempts=0, idempotency_key=event.idempotency_key, last_error=None
            )
        case Discarded():
            _require(row, event, Status.DEAD_LETTER)
            return replace(row, status=Status.DISCARDED, last_error=f"discarded: {event.reason}")
    raise TransitionError(f"unknown event {event!r}")


def _require(row: OutboxRow, event: Event, *states: Status) -> None:
    if row.status not in states:
        raise TransitionError(
            f"{row.document_number}: {type(event).__name__} cannot happen to a {row.status.value} row"
        )


def _booked(row: OutboxRow, event: Booked) -> OutboxRow:
    """The ledger holds it: confirmed, with what the ledger booked, whatever the row thought before."""
    if row.status is Status.CONFIRMED:
        return row
    document = event.document
    return replace(
        row,
        status=Status.CONFIRMED,
        external_id=document.external_id,
        posted_total=document.total,
        last_error=None,
        booked=document,
    )


def _absent(row: OutboxRow, policy: OutboxPolicy) -> OutboxRow:
    """The ledger does not hold it: send it (again), unless its attempts are spent."""
    if row.status not in (Status.PENDING, Status.SENT):
        return row  # a dead letter stays one until an operator acts; closed rows stay closed
    if row.attempts >= policy.max_attempts:
        error = row.last_error or "rejected without a message"
        return replace(
            row,
            status=Status.DEAD_LETTER,
            last_error=f"gave up after {row.attempts} attempt(s); last error: {error}",
        )
    return replace(row, status=Status.PENDING)


def _revised(row: OutboxRow, event: Revised) -> OutboxRow:
    """Only a row never sent (or settled absent) takes the producers' new version, with a new key."""
    version = event.version
    if row.status is not Status.PENDING or row.content_hash == version.content_hash:
        return row  # booked, in doubt or dead-lettered: what was sent is what the row keeps
    return replace(
        row,
        content_hash=version.content_hash,
        idempotency_key=version.idempotency_key,
        draft_total=version.total,
        currency=version.currency,
    )
