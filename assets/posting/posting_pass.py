"""One posting pass as a value: what every step of the protocol needs, its claim, and the crash-test hook."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from resources.outbox.claims import claim, holder_id, release
from resources.outbox.request_log import RequestLog
from resources.outbox.store import OutboxStore, Writes
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from resources.xero_exchanges import ExchangeRecorder
from rules.outbox.events import Event
from rules.outbox.outcome import PostingOutcome
from rules.outbox.rows import OutboxRow
from rules.outbox.transitions import OutboxPolicy, transition
from rules.settings import EntityConfig

CRASH_ENV = "BILLBRIDGE_CRASH_AT"
# outbox_written: rows durable, nothing sent; request_sent: an answer arrived but is not
# stored; answer_stored: the first batch's answer is stored, the rest of the run is not done.
CRASH_POINTS = ("outbox_written", "request_sent", "answer_stored")
CLAIM_RENEW_S = 60.0  # well inside the claim's 10-minute expiry


class ClaimHeldError(RuntimeError):
    """Another run holds the entity-period's claim: this one stands back."""

    def __init__(self, holder: str):
        super().__init__(f"another run is posting this period ({holder})")
        self.holder = holder


class ClaimLostError(RuntimeError):
    """Another run took over the entity-period's claim (ours expired): stop sending at once."""


def crash_point(name: str) -> None:
    """Test hook: SIGKILL this process when BILLBRIDGE_CRASH_AT names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class PostingPass:
    """One entity-period's posting pass: what every step of the protocol needs, as one value."""

    entity: EntityConfig
    period: str
    store: OutboxStore
    xero: XeroClient
    policy: OutboxPolicy
    log: logging.Logger
    holder: str
    backoff_base_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    outcome: PostingOutcome = field(default_factory=PostingOutcome)
    lock_date: list[date | None] = field(default_factory=list)  # read once, only when something is to go
    renewed_at: float = field(default_factory=time.monotonic)

    @property
    def tenant(self) -> str:
        """The entity's accounting tenant."""
        return self.entity.accounting_tenant_id

    @property
    def record(self) -> ExchangeRecorder | None:
        """Where every exchange with the ledger is logged (posting.requests)."""
        return self.store.requests.record if self.store.requests is not None else None

    def apply(self, writes: Writes, row: OutboxRow, event: Event) -> OutboxRow:
        """Move a row by an event, queue the change and count it in the outcome."""
        after = transition(row, event, now=datetime.now(UTC), policy=self.policy)
        if after != row or after.booked is not None:
            writes.change(row, after)
            self.outcome.record(row, after, event)
        return after

    def keep_claim(self) -> None:
        """A long pass keeps its claim alive; losing it means stopping, never posting alongside."""
        if time.monotonic() - self.renewed_at > CLAIM_RENEW_S:
            other = claim(self.store, self.entity.id, self.period, self.holder)
            if other is not None:
                raise ClaimLostError(f"the claim on {self.entity.id} {self.period} passed to {other}")
            self.renewed_at = time.monotonic()

    def wait(self, seconds: float) -> None:
        """Sleep without holding the warehouse file (renewing the claim first if it is due)."""
        self.keep_claim()
        with self.store.released():
            self.sleep(seconds)


@contextmanager
def claimed_pass(
    entity: EntityConfig,
    period: str,
    store: OutboxStore,
    xero: XeroClient,
    *,
    log: logging.Logger,
    max_attempts: int | None = None,
    backoff_base_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[PostingPass]:
    """A pass holding the entity-period's claim and the warehouse file; ClaimHeldError if another run has it.

    The in-doubt wait is the client's timeout plus the provider's processing bound (`posting.processing_bound_s`).
    """
    holder = holder_id(store.run_id)
    policy = OutboxPolicy(
        max_attempts=max_attempts or entity.posting.max_attempts,
        in_doubt_wait=timedelta(seconds=xero.timeout_s + entity.posting.processing_bound_s),
    )
    with store.held():
        other = claim(store, entity.id, period, holder)
        if other is not None:
            raise ClaimHeldError(other)
        try:
            yield PostingPass(entity, period, store, xero, policy, log, holder, backoff_base_s, sleep)
        finally:
            try:
                store.commit(Writes())  # whatever the request log still holds
            finally:
                release(store, entity.id, period, holder)


def new_store(warehouse: Warehouse, entity: str, period: str, run_id: str) -> OutboxStore:
    """The outbox store of a pass, with a request log for its period."""
    return OutboxStore(warehouse, entity, run_id, RequestLog(entity, period, run_id))
