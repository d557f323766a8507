"""What one posting pass did, in the words the metadata, the report and the CLI use (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.outbox.events import Booked, Event, Held, Unpayable
from rules.outbox.rows import OutboxRow, Status


@dataclass
class PostingOutcome:
    """What one posting pass did, for metadata and the report."""

    posted_new: list[str] = field(default_factory=list)
    already_posted: list[str] = field(default_factory=list)
    found_by_lookup: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    changed_after_posting: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    # dated inside the tenant's locked period, or a payment of a document not AUTHORISED in the ledger
    held: list[str] = field(default_factory=list)
    allocated: list[str] = field(default_factory=list)  # credit notes allocated to their invoice
    requests: int = 0
    skipped: str | None = None  # the kill switch's reason
    blocked_by: str | None = None  # another run holds the entity-period's claim
    stopped: str | None = None  # daily limit or open circuit: the rest waits for the next run

    def record(self, before: OutboxRow, after: OutboxRow, event: Event) -> None:
        """Count one transition under the name the report gives it."""
        number = after.document_number
        if after.status is Status.CONFIRMED and before.status is not Status.CONFIRMED:
            if isinstance(event, Booked) and event.by_lookup:
                (self.found_by_lookup if before.attempts else self.already_posted).append(number)
            else:
                self.posted_new.append(number)
        elif after.status is Status.DEAD_LETTER and before.status is not Status.DEAD_LETTER:
            self.dead_lettered.append(number)
        elif isinstance(event, Held | Unpayable):
            self.held.append(number)

    def add(self, other: PostingOutcome) -> None:
        """Fold another pass's outcome into this one (a replay spanning several periods)."""
        for name in ("posted_new", "already_posted", "found_by_lookup", "dead_lettered", "unresolved"):
            getattr(self, name).extend(getattr(other, name))
        self.requests += other.requests
        self.skipped = self.skipped or other.skipped
        self.blocked_by = self.blocked_by or other.blocked_by
        self.stopped = self.stopped or other.stopped
