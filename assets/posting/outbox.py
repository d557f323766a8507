"""Post one entity-month's outbound documents through the outbox, exactly once: the protocol.

Documents are invoices (sales and intercompany bills), credit notes and supplementary invoices
from corrections, and manual journals, handed over by their producers through one interface
(resources/outbox/sources.py); each kind goes to its own collection of the accounting API,
invoices first, so a credit note can then be allocated to the invoice it corrects.

The pieces: pure states and transitions (rules/outbox/), the tables (resources/outbox/store.py),
the sender (resources/outbox/sender.py). The protocol strings them together:

1. Claim the entity-period (a row committed before any request; a second run stands back).
2. Settle by look-up (assets/posting/settle.py) every document of the period whose send has no
   answer and every open dead letter, of every kind, before anything is read or sent. A send
   whose outcome is unknown counts as absent only after the client timeout plus the provider's
   processing bound; a dead letter the ledger holds is closed as booked.
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
from collections.abc import Callable, Mapping

import polars as pl

from assets.posting.allocations import allocate_credit_notes
from assets.posting.posting_pass import ClaimHeldError, ClaimLostError, PostingPass, claimed_pass, new_store
from assets.posting.rounds import post_kind
from assets.posting.settle import replay, settle
from resources.circuit_breaker import CircuitOpenError
from resources.outbox.sources import DocumentSources
from resources.rate_limit import DailyLimitReached
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.invariants import journals_balance, lines_sum_to_totals
from rules.kill_switch import posting_disabled_reason
from rules.outbox.outcome import PostingOutcome
from rules.outbox.rows import KIND_ORDER, Status
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
    replaying: Mapping[str, str] | None = None,
    backoff_base_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> PostingOutcome:
    """Post the entity-month's documents that the accounting system does not hold yet, exactly once.

    `sources`: the registered producers; `only` restricts the pass to these document numbers;
    `replaying` (document number -> dead letter id) sends those dead letters again, each under a
    new idempotency key once the look-up has shown it absent; `max_rounds` (sends per document)
    defaults to `posting.max_attempts`.
    """
    log = log or logging.getLogger(__name__)
    reason = posting_disabled_reason(entity)
    if reason is not None:
        log.warning(f"{entity.id} {period}: posting {reason}")
        return PostingOutcome(skipped=reason)
    outcome = PostingOutcome()
    try:
        store = new_store(warehouse, entity.id, period, run_id)
        with claimed_pass(
            entity,
            period,
            store,
            xero,
            log=log,
            max_attempts=max_rounds,
            backoff_base_s=backoff_base_s,
            sleep=sleep,
        ) as posting:
            outcome = posting.outcome
            _post_claimed(posting, sources, only, replaying or {})
    except ClaimHeldError as exc:
        log.warning(f"{entity.id} {period}: {exc}; standing back")
        return PostingOutcome(blocked_by=exc.holder)
    except (DailyLimitReached, CircuitOpenError, ClaimLostError) as exc:
        # Not worth retrying into: the rows stay as they are and the next run settles them.
        outcome.stopped = str(exc)
        log.error(f"{entity.id} {period}: posting stopped: {exc}")
    return outcome


def _post_claimed(
    posting: PostingPass, sources: DocumentSources, only: list[str] | None, replaying: Mapping[str, str]
) -> None:
    store, outcome = posting.store, posting.outcome
    settle(posting, store.rows(posting.period, statuses=(Status.SENT, Status.DEAD_LETTER)))
    replay(posting, replaying)
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
        held = set(outcome.held)
        outcome.unresolved.extend(n for n in open_rows if n not in held)


def _refuse_inconsistent(entity: str, period: str, headers: pl.DataFrame, lines: pl.DataFrame) -> None:
    """The outbox's own last guard: a document whose totals disagree with its lines is never sent."""
    is_journal = pl.col("document_kind") == "manual_journal"
    ok, detail = lines_sum_to_totals(headers.filter(~is_journal), lines, key="document_number")
    if ok:
        ok, detail = journals_balance(headers.filter(is_journal), lines)
    if not ok:
        raise ValueError(f"refusing to post {entity} {period}: {detail}")
