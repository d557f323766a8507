"""The outbox's state machine: `transition(row, event) -> row`, pure.

Every rule of the exactly-once protocol that is about one document lives here; which documents
are looked up or sent together, and when, is the protocol's business (assets/posting/).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

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
    Unpayable,
)
from rules.outbox.rows import OutboxRow, Status


class TransitionError(ValueError):
    """An event that cannot happen to a row in its state (a bug in the protocol, never bad input)."""


@dataclass(frozen=True)
class OutboxPolicy:
    """How long the outbox keeps trying a document, and how long it waits before it believes a miss.

    `in_doubt_wait`: the client timeout plus the provider's processing bound. A send whose outcome
    is unknown may still land until then, so a look-up that does not find it proves nothing sooner.
    """

    max_attempts: int
    in_doubt_wait: timedelta


def transition(row: OutboxRow, event: Event, *, now: datetime, policy: OutboxPolicy) -> OutboxRow:
    """The row after `event`. Rows that the event does not concern come back unchanged."""
    match event:
        case Booked():
            return _booked(row, event)
        case Absent():
            return _absent(row, now, policy)
        case Sending():
            _require(row, event, Status.PENDING)
            return replace(row, status=Status.SENT, attempts=row.attempts + 1, settle_after=None)
        case Refused():
            _require(row, event, Status.SENT)
            return replace(row, status=Status.DEAD_LETTER, last_error=event.message)
        case Transient():
            _require(row, event, Status.SENT)
            return replace(row, status=Status.PENDING, last_error=event.message)
        case Unknown():
            _require(row, event, Status.SENT)
            return replace(
                row, last_error=f"outcome unknown: {event.message}", settle_after=now + policy.in_doubt_wait
            )
        case Revised():
            return _revised(row, event)
        case Held():
            _require(row, event, Status.PENDING)
            return replace(
                row,
                last_error=f"held: dated {event.document_date.isoformat()}, on or before the tenant's lock "
                f"date {event.lock_date.isoformat()}",
            )
        case Unpayable():
            _require(row, event, Status.PENDING)
            return replace(row, last_error=f"held: {event.reason}")
        case Replayed():
            _require(row, event, Status.DEAD_LETTER)
            return replace(
                row, status=Status.PENDING, attempts=0, idempotency_key=event.idempotency_key, last_error=None,
                settle_after=None,
            )  # fmt: skip
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
        settle_after=None,
        booked=document,
    )


def _absent(row: OutboxRow, now: datetime, policy: OutboxPolicy) -> OutboxRow:
    """The ledger does not hold it: send it (again), unless its attempts are spent; but a send whose
    outcome is unknown counts as absent only once nothing still in flight can land."""
    if row.status not in (Status.PENDING, Status.SENT):
        return row  # a dead letter stays one until an operator acts; closed rows stay closed
    if row.status is Status.SENT and row.settle_after is None:
        # In doubt since before this look-up (a run killed mid-send): the wait starts now, when
        # whatever that run sent is certainly on its way.
        return replace(row, settle_after=now + policy.in_doubt_wait)
    if row.status is Status.SENT and row.settle_after is not None and now < row.settle_after:
        return row  # a request may still land: not found yet proves nothing
    row = replace(row, settle_after=None)
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
