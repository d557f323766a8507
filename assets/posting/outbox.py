"""Post one entity-month's outbound documents through the outbox, exactly once: the protocol.

Documents are invoices (sales and intercompany bills), credit notes and supplementary invoices
from corrections, and manual journals, handed over by their producers through one interface
(resources/outbox/sources.py); each kind goes to its own collection of the accounting API,
invoices first, so a credit note can then be allocated to the invoice it corrects.

The pieces: pure states and transitions (rules/outbox/), the tables (resources/outbox/store.py),
the sender (resources/outbox/sender.py). The protocol strings them together:

1. Claim the entity-period (a row committed before any request; a second run stands back).
2. Settle what is in doubt by looking it up in the ledger (assets/posting/settle.py): every
   document whose last send has no answer, of every kind, before anything is read or sent.
3. Read the documents from every registered source; write each one's outbox row, with its
   idempotency key and the lines of the version it sends, before the first request.
4. Per kind, in rounds: settle by look-up, send the rest in batches of 50 (summarizeErrors=false,
   so one bad document does not sink its batch), store every answer (assets/posting/rounds.py).
5. Allocate booked credit notes to the invoices they correct.

A daily limit, an open circuit or a lost claim stops the pass with a clear status, leaving the
rows for the next pass to settle. `BILLBRIDGE_CRASH_AT=<point>` kills the process with SIGKILL
at a named point; it exists only for the crash tests (see CRASH_POINTS).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import polars as pl

from assets.posting.allocations import allocate_credit_notes
from assets.posting.posting_pass import ClaimLostError, PostingPass
from assets.posting.rounds import post_kind
from assets.posting.settle import settle
from resources.circuit_breaker import CircuitOpenError
from resources.outbox.claims import claim, holder_id, release
from resources.outbox.sources import DocumentSources
from resources.outbox.store import OutboxStore
from resources.rate_limit import DailyLimitReached
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.invariants import journals_balance, lines_sum_to_totals
from rules.kill_switch import posting_disabled_reason
from rules.outbox.outcome import PostingOutcome
from rules.outbox.rows import KIND_ORDER, Status
from rules.outbox.transitions import OutboxPolicy
from rules.settings import EntityConfig


def post_period(
    entity: EntityConfig,
    period: str,
    warehouse: Warehouse,
    xero: XeroClient,
    run_id: str,
    *,
    sources: DocumentSources,
    max_rounds: int | None = None,
    log: logging.Logger | None = None,
    only: list[str] | None = None,
    backoff_base_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> PostingOutcome:
    """Post the entity-month's documents that the accounting system does not hold yet, exactly once.

    `sources`: the registered producers; `only` restricts the pass to these document numbers
    (dead-letter replay); `max_rounds` (sends per document) defaults to `posting.max_attempts`.
    """
    log = log or logging.getLogger(__name__)
    reason = posting_disabled_reason(entity)
    if reason is not None:
        log.warning(f"{entity.id} {period}: posting {reason}")
        return PostingOutcome(skipped=reason)
    holder = holder_id(run_id)
    other = claim(warehouse, entity.id, period, holder)
    if other is not None:
        log.warning(f"{entity.id} {period}: another run is posting this period ({other}); standing back")
        return PostingOutcome(blocked_by=other)
    posting = PostingPass(
        entity, period, OutboxStore(warehouse, entity.id, run_id), xero,
        OutboxPolicy(max_attempts=max_rounds or entity.posting.max_attempts), log, holder,
        backoff_base_s=backoff_base_s, sleep=sleep,
    )  # fmt: skip
    try:
        with posting.store.held():
            _post_claimed(posting, sources, only)
    except (DailyLimitReached, CircuitOpenError, ClaimLostError) as exc:
        # Not worth retrying into: the rows stay as they are and the next run settles them.
        posting.outcome.stopped = str(exc)
        log.error(f"{entity.id} {period}: posting stopped: {exc}")
    finally:
        release(warehouse, entity.id, period, holder)
    return posting.outcome


def _post_claimed(posting: PostingPass, sources: DocumentSources, only: list[str] | None) -> None:
    store, outcome = posting.store, posting.outcome
    settle(posting, store.rows(posting.period, statuses=(Status.SENT,)))
    headers, lines = sources.read(store, posting.entity.id, posting.period)
    _refuse_inconsistent(posting.entity.id, posting.period, headers, lines)
    if only is not None:
        headers = headers.filter(pl.col("document_number").is_in(only))
    try:
        for kind in KIND_ORDER:
            of_kind = headers.filter(pl.col("document_kind") == kind)
            if of_kind.height:
                post_kind(posting, kind, of_kind, lines)
        allocate_credit_notes(posting, headers)
    finally:
        numbers = headers["document_number"].to_list()
        open_rows = store.rows(
            posting.period, numbers=numbers, statuses=(Status.PENDING, Status.SENT, Status.DEAD_LETTER)
        )
        outcome.unresolved.extend(n for n in open_rows if n not in outcome.held)


def _refuse_inconsistent(entity: str, period: str, headers: pl.DataFrame, lines: pl.DataFrame) -> None:
    """The outbox's own last guard: a document whose totals disagree with its lines is never sent."""
    is_journal = pl.col("document_kind") == "manual_journal"
    ok, detail = lines_sum_to_totals(headers.filter(~is_journal), lines, key="document_number")
    if ok:
        ok, detail = journals_balance(headers.filter(is_journal), lines)
    if not ok:
        raise ValueError(f"refusing to post {entity} {period}: {detail}")
