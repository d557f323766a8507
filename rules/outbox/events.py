"""What can happen to an outbox row: the ledger's answers, and the outbox's own moves (pure values)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.outbox.ledger import LedgerDocument
from rules.outbox.rows import Version


# -- the ledger's answers: to a send, or to a look-up by number ----------------------------------
@dataclass(frozen=True)
class Booked:
    """The ledger holds the document (it said so in answer to the send, or a look-up found it)."""

    document: LedgerDocument
    by_lookup: bool = False


@dataclass(frozen=True)
class Refused:
    """The ledger refused the document (validation errors, or another 4xx): sending again cannot help."""

    errors: tuple[str, ...]

    @property
    def message(self) -> str:
        """The errors as one line."""
        return "; ".join(self.errors) or "rejected without a message"


@dataclass(frozen=True)
class Transient:
    """The ledger answered without booking anything (429, or the credentials were refused): try later."""

    message: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Unknown:
    """No answer worth believing (timeout, dropped connection, 5xx): the ledger may or may not hold it."""

    message: str


@dataclass(frozen=True)
class Absent:
    """A look-up by number did not find the document in the ledger."""


Answer = Booked | Refused | Transient | Unknown | Absent


# -- the outbox's own moves ---------------------------------------------------------------------
@dataclass(frozen=True)
class Sending:
    """A request carrying the document is about to go out (recorded before it does)."""


@dataclass(frozen=True)
class Revised:
    """The producers now draft this version of the document."""

    version: Version


@dataclass(frozen=True)
class Held:
    """Dated on or before the tenant's lock date: never sent into a locked period."""

    document_date: date
    lock_date: date


@dataclass(frozen=True)
class Unpayable:
    """A payment whose invoice or credit note the ledger does not hold as AUTHORISED: never sent so."""

    reason: str


@dataclass(frozen=True)
class Replayed:
    """An operator replays a dead letter (`dlq replay`), under this idempotency key."""

    idempotency_key: str


@dataclass(frozen=True)
class Discarded:
    """An operator closes a dead letter without sending it (`dlq discard`)."""

    reason: str


Event = Answer | Sending | Revised | Held | Unpayable | Replayed | Discarded
