"""Post one entity-month's outbound documents through the outbox, exactly once.

Documents are invoices (sales and intercompany bills), credit notes and supplementary invoices
from corrections, and manual journals (assets/posting/document_sources.py); each kind goes to
its own collection of the accounting API, invoices first, so a credit note can then be allocated
to the invoice it corrects. A document dated on or before the tenant's lock date is held, with
the reason, never sent into a locked period.

States: pending (written before anything is sent) -> sent (an attempt is under way or its
outcome is unknown) -> confirmed (the accounting system's id is stored); a document the
accounting system rejects, or that runs out of attempts, goes to dead_letter with its
document, errors and request log. The protocol:

1. Claim the entity-period (a row committed before any request; a second run stands back).
2. Write every document's outbox row, with its idempotency key, before the first request.
3. Each round starts by looking the period's documents up in the ledger: whatever the
   accounting system already holds is confirmed, never sent again. So an answer lost to a
   timeout, a dropped connection or a crash is settled by what the ledger holds, and an
   idempotency key older than the provider's window never matters.
4. Send the rest in batches of 50 (summarizeErrors=false, so one bad document does not sink
   its batch); a batch whose outcome is unknown is re-sent unchanged (same key, same body),
   so a request still in flight at the provider is answered from its idempotency record.
5. Transient failures wait (Retry-After, else full jitter) and go round again; a daily
   limit or an open circuit stops the run with a clear status, leaving the rows to settle.

`BILLBRIDGE_CRASH_AT=<point>` kills the process with SIGKILL at a named point; it exists
only for the crash tests (see CRASH_POINTS).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import polars as pl

from assets.posting.claims import claim, holder_id, release
from assets.posting.document_sources import KIND_ORDER, outbound_documents
from assets.posting.request_log import log_answer, log_request
from resources.circuit_breaker import CircuitOpenError
from resources.http_retry import (
    TRANSPORT_ERRORS,
    PermanentHTTPError,
    TransientHTTPError,
    full_jitter_delay,
)
from resources.rate_limit import DailyLimitReached
from resources.warehouse import Warehouse, append
from resources.xero import MAX_INVOICES_PER_CALL, XeroClient, dumps_exact, loads_exact, parse_ms_date
from rules.documents import KINDS, number_prefix_of
from rules.invariants import journals_balance, lines_sum_to_totals
from rules.kill_switch import posting_disabled_reason
from rules.outbound_payloads import batch_key, idempotency_key, number_from_narration, outbound_document
from rules.settings import EntityConfig

CRASH_ENV = "BILLBRIDGE_CRASH_AT"
# outbox_written: rows durable, nothing sent; request_sent: an answer arrived but is not
# stored; answer_stored: the first batch's answer is stored, the rest of the run is not done.
CRASH_POINTS = ("outbox_written", "request_sent", "answer_stored")
CLAIM_RENEW_S = 60.0  # well inside the claim's 10-minute expiry

OUTBOX_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(),
        "entity": pl.String(),
        "period": pl.String(),
        "content_hash": pl.String(),
        "idempotency_key": pl.String(),
        "status": pl.String(),
        "attempts": pl.Int32(),
        "external_id": pl.String(),
        "posted_total": pl.Decimal(18, 4),
        "draft_total": pl.Decimal(18, 4),
        "currency": pl.String(),
        "last_error": pl.String(),
        "created_at": pl.Datetime("us", "UTC"),
        "updated_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String(),
        "document_kind": pl.String(),
        "allocated_to": pl.String(),
        "allocation_note": pl.String(),
    }
)
POSTED_LINES_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(),
        "document_kind": pl.String(),
        "document_type": pl.String(),
        "original_number": pl.String(),
        "entity": pl.String(),
        "period": pl.String(),
        "line_no": pl.Int32(),
        "description": pl.String(),
        "quantity": pl.Decimal(18, 4),
        "unit_amount": pl.Decimal(18, 4),
        "line_amount": pl.Decimal(18, 4),
        "tax_type": pl.String(),
        "tax_amount": pl.Decimal(18, 4),
        "account_code": pl.String(),
        "project_id": pl.Int64(),
        "task_id": pl.Int64(),
        "source_kind": pl.String(),
        "currency": pl.String(),
        "document_date": pl.Date(),
        "posted_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String(),
    }
)


class ClaimLostError(RuntimeError):
    """Another run took over the entity-period's claim (ours expired): stop sending at once."""


def crash_point(name: str) -> None:
    """Test hook: SIGKILL this process when BILLBRIDGE_CRASH_AT names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class PostingOutcome:
    """What one posting pass did, for metadata and the report."""

    posted_new: list[str] = field(default_factory=list)
    already_posted: list[str] = field(default_factory=list)
    found_by_lookup: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    changed_after_posting: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # dated inside the tenant's locked period
    allocated: list[str] = field(default_factory=list)  # credit notes allocated to their invoice
    requests: int = 0
    skipped: str | None = None  # the kill switch's reason
    blocked_by: str | None = None  # another run holds the entity-period's claim
    stopped: str | None = None  # daily limit or open circuit: the rest waits for the next run


class Outbox:
    """The outbox rows of one entity, read and written through the warehouse."""

    def __init__(self, warehouse: Warehouse, entity: str, run_id: str):
        self.warehouse = warehouse
        self.entity = entity
        self.run_id = run_id

    def rows(self, numbers: list[str]) -> dict[str, dict[str, Any]]:
        """Outbox rows by document number."""
        frame = self.warehouse.query(
            self.entity,
            "SELECT * FROM posting.outbox WHERE document_number IN (SELECT unnest(?::VARCHAR[]))",
            [numbers],
        )
        return {row["document_number"]: row for row in frame.iter_rows(named=True)}

    def save(self, rows: list[dict[str, Any]], then: Callable[[Any], None] | None = None) -> None:
        """Upsert rows, committed before the caller goes on (the durable part of the protocol).

        `then(con)` runs inside the same transaction (request log, dead letters).
        """
        now = datetime.now(UTC)
        for row in rows:
            row["updated_at"] = now
            row["run_id"] = self.run_id
        frame = pl.DataFrame(rows, schema=OUTBOX_SCHEMA)
        with self.warehouse.transaction(self.entity) as con:
            con.execute(
                "DELETE FROM posting.outbox WHERE document_number IN (SELECT unnest(?::VARCHAR[]))",
                [frame["document_number"].to_list()],
            )
            append(con, "posting.outbox", frame)
            if then is not None:
                then(con)


def _contact_id(warehouse: Warehouse, xero: XeroClient, entity: EntityConfig, name: str) -> str:
    cached = warehouse.query(
        entity.id, "SELECT contact_id FROM posting.contacts WHERE contact_name = ?", [name]
    )
    if cached.height:
        return str(cached["contact_id"][0])
    contact_id = xero.find_contact_id(entity.accounting_tenant_id, name)
    if contact_id is None:
        contact_id = xero.create_contact(
            entity.accounting_tenant_id, name, idempotency_key(f"contact:{entity.id}", name)
        )
    with warehouse.transaction(entity.id) as con:
        con.execute("DELETE FROM posting.contacts WHERE contact_name = ?", [name])
        con.execute("INSERT INTO posting.contacts VALUES (?, ?, ?)", [name, contact_id, datetime.now(UTC)])
    return contact_id


ZERO_GUID = "00000000-0000-0000-0000-000000000000"  # the provider's id for an element it did not save


def _booked_total(kind: str, document: dict[str, Any]) -> Decimal | None:
    """What the ledger booked: a document's Total; a journal's debits (it has no Total)."""
    if kind == "manual_journal":
        return (
            sum(
                (
                    Decimal(str(line["LineAmount"]))
                    for line in document.get("JournalLines") or []
                    if Decimal(str(line["LineAmount"])) > 0
                ),
                Decimal(0),
            )
            if document.get("JournalLines")
            else None
        )
    total = document.get("Total")
    return None if total is None else Decimal(str(total))


def _number_of(kind: str, value: str) -> str:
    """The document number a ledger element is known by (a journal's leads its Narration)."""
    return number_from_narration(value) if kind == "manual_journal" else value


def _snapshot(
    rows: list[dict[str, Any]], headers: dict[str, dict[str, Any]], lines_by_number: dict[str, pl.DataFrame]
) -> Callable[[Any], None]:
    """Work for the confirming transaction: keep the lines as booked (posting.posted_lines), which is
    what corrections compare the next drafts with once the drafts themselves have been rebuilt."""
    numbers = [row["document_number"] for row in rows]
    now = datetime.now(UTC)
    frames = [
        lines_by_number[n].with_columns(
            pl.lit(headers[n]["document_kind"]).alias("document_kind"),
            pl.lit(headers[n]["document_type"], pl.String()).alias("document_type"),
            pl.lit(headers[n]["original_number"] or n).alias("original_number"),
            pl.lit(headers[n]["currency"]).alias("currency"),
            pl.lit(headers[n]["document_date"]).alias("document_date"),
            pl.lit(now, pl.Datetime("us", "UTC")).alias("posted_at"),
            pl.lit(row["run_id"]).alias("run_id"),
        )
        for row, n in zip(rows, numbers, strict=True)
        if n in lines_by_number
    ]

    booked = (
        pl.concat(frames, how="diagonal").select(POSTED_LINES_SCHEMA.names()).cast(POSTED_LINES_SCHEMA)
        if frames
        else pl.DataFrame(schema=POSTED_LINES_SCHEMA)
    )
    return lambda con: _keep_booked_lines(con, numbers, booked)


def _keep_booked_lines(con: Any, numbers: list[str], booked: pl.DataFrame) -> None:
    """Replace the booked lines of these documents (inside the confirming transaction)."""
    if not numbers:
        return
    con.execute(
        "DELETE FROM posting.posted_lines WHERE document_number IN (SELECT unnest(?::VARCHAR[]))", [numbers]
    )
    append(con, "posting.posted_lines", booked)


def _errors(element: dict[str, Any]) -> list[str]:
    return [str(e.get("Message", e)) for e in element.get("ValidationErrors") or []]


def _dead_letter_rows(
    con: Any, entity: str, period: str, rows: list[dict[str, Any]], documents: dict[str, str], run_id: str
) -> None:
    """Insert dead letters (id `<entity>-<n>`) for rows just moved to dead_letter."""
    count = con.execute("SELECT count(*) FROM posting.dead_letters WHERE entity = ?", [entity]).fetchone()
    next_no = int(count[0]) + 1 if count else 1
    now = datetime.now(UTC)
    for offset, row in enumerate(rows):
        con.execute(
            "INSERT INTO posting.dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, 'open', NULL, ?, NULL, ?)",
            [
                f"{entity}-{next_no + offset}",
                row["document_number"],
                entity,
                period,
                documents.get(row["document_number"], "{}"),
                row["last_error"] or "rejected",
                row["attempts"],
                now,
                run_id,
            ],
        )


class _Writes:
    """Outbox saves collected while answers are handled, committed together by flush()."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self.rows: dict[str, dict[str, Any]] = {}
        self.thens: list[Callable[[Any], None]] = []

    def save(self, rows: list[dict[str, Any]], then: Callable[[Any], None] | None = None) -> None:
        """Queue rows (the latest state of each document wins) and work for the same transaction."""
        self.rows.update({row["document_number"]: row for row in rows})
        if then is not None:
            self.thens.append(then)

    def flush(self) -> None:
        """Commit everything queued in one transaction."""
        if not self.rows and not self.thens:
            return

        def run_all(con: Any) -> None:
            for then in self.thens:
                then(con)

        self.outbox.save(list(self.rows.values()), then=run_all)
        self.rows, self.thens = {}, []


@dataclass
class _Sent:
    """One batch's send: what went out, and what came back or went wrong."""

    batch: list[str]
    request_id: str
    response: httpx.Response | None = None
    error: BaseException | None = None


def post_period(
    entity: EntityConfig,
    period: str,
    warehouse: Warehouse,
    xero: XeroClient,
    run_id: str,
    max_rounds: int | None = None,
    log: logging.Logger | None = None,
    *,
    only: list[str] | None = None,
    backoff_base_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> PostingOutcome:
    """Post the entity-month's documents that the accounting system does not hold yet, exactly once.

    `only` restricts the pass to these document numbers (dead-letter replay); `max_rounds`
    defaults to the entity's `posting.max_attempts`.
    """
    log = log or logging.getLogger(__name__)
    outcome = PostingOutcome()
    reason = posting_disabled_reason(entity)
    if reason is not None:
        log.warning(f"{entity.id} {period}: posting {reason}")
        outcome.skipped = reason
        return outcome
    max_rounds = max_rounds or entity.posting.max_attempts
    holder = holder_id(run_id)
    other = claim(warehouse, entity.id, period, holder)
    if other is not None:
        log.warning(f"{entity.id} {period}: another run is posting this period ({other}); standing back")
        outcome.blocked_by = other
        return outcome
    try:
        try:
            _settle_journals_in_doubt(entity, period, warehouse, xero, run_id, outcome)
        except (DailyLimitReached, CircuitOpenError) as exc:
            outcome.stopped = str(exc)
            log.error(f"{entity.id} {period}: posting stopped: {exc}")
            return outcome
        headers, lines = outbound_documents(warehouse, entity.id, period)
        _refuse_inconsistent(entity.id, period, headers, lines)
        if only is not None:
            headers = headers.filter(pl.col("document_number").is_in(only))
        lock_date: list[date | None] = []  # read once, and only when something is to be sent
        for kind in KIND_ORDER:
            of_kind = headers.filter(pl.col("document_kind") == kind)
            if of_kind.height:
                _post_claimed(
                    entity, period, warehouse, xero, run_id, kind, of_kind, lines, max_rounds, log, outcome,
                    backoff_base_s, sleep, holder, lock_date,
                )  # fmt: skip
            if outcome.stopped:
                break
        if not outcome.stopped:
            _allocate_credit_notes(entity, warehouse, xero, run_id, headers, outcome, log)
    finally:
        release(warehouse, entity.id, period, holder)
    return outcome


def _settle_journals_in_doubt(
    entity: EntityConfig,
    period: str,
    warehouse: Warehouse,
    xero: XeroClient,
    run_id: str,
    outcome: PostingOutcome,
) -> None:
    """Settle journals whose posting is in doubt before the allocation journals are computed.

    Which journals to reverse depends on what the ledger holds; a journal sent by an earlier run
    whose answer was lost may be booked, and must count as posted (or a re-allocation would book
    its replacement beside it). Found in the ledger: confirmed, its booked lines kept. Not found:
    left as it is, and posted again only if the current allocation still drafts it.
    """
    outbox = Outbox(warehouse, entity.id, run_id)
    doubtful = warehouse.query(
        entity.id,
        "SELECT * FROM posting.outbox WHERE entity = ? AND period = ? AND document_kind = 'manual_journal' "
        "AND status = 'sent'",
        [entity.id, period],
    )
    if doubtful.height == 0:
        return
    collection, number_field, id_field = KINDS["manual_journal"]
    rows = {row["document_number"]: row for row in doubtful.iter_rows(named=True)}
    found: dict[str, dict[str, Any]] = {}
    for prefix in sorted({number_prefix_of(n) for n in rows}):
        booked = xero.find_by_prefix(entity.accounting_tenant_id, collection, number_field, prefix)
        outcome.requests += 1
        found.update(
            {number_from_narration(k): v for k, v in booked.items() if number_from_narration(k) in rows}
        )
    if not found:
        return
    now = datetime.now(UTC)
    settled, booked_lines = [], []
    for number, document in sorted(found.items()):
        row = rows[number]
        row.update(status="confirmed", external_id=str(document.get(id_field)),
                   posted_total=_booked_total("manual_journal", document), last_error=None)  # fmt: skip
        settled.append(row)
        outcome.found_by_lookup.append(number)
        issued = parse_ms_date(str(document["Date"]))
        for line_no, line in enumerate(document.get("JournalLines") or [], start=1):
            amount = Decimal(str(line["LineAmount"]))
            booked_lines.append(
                {"document_number": number, "document_kind": "manual_journal", "document_type": None,
                 "original_number": number, "entity": entity.id, "period": period, "line_no": line_no,
                 "description": line.get("Description") or "", "quantity": Decimal(1), "unit_amount": amount,
                 "line_amount": amount, "tax_type": line.get("TaxType") or "NONE", "tax_amount": Decimal(0),
                 "account_code": line.get("AccountCode") or "", "project_id": None, "task_id": None,
                 "source_kind": None, "currency": row["currency"], "document_date": issued,
                 "posted_at": now, "run_id": run_id}
            )  # fmt: skip

    lines = pl.DataFrame(booked_lines, schema=POSTED_LINES_SCHEMA)
    outbox.save(settled, then=lambda con: _keep_booked_lines(con, list(found), lines))


def _allocate_credit_notes(
    entity: EntityConfig,
    warehouse: Warehouse,
    xero: XeroClient,
    run_id: str,
    headers: pl.DataFrame,
    outcome: PostingOutcome,
    log: logging.Logger,
) -> None:
    """Allocate each booked credit note to the invoice it corrects, once (a refund settles that invoice).

    The ledger only allocates approved documents: with drafts (`invoice_status: DRAFT`) the outbox
    row says the allocation waits, and a later run does it once the entity posts approved documents.
    """
    credits = headers.filter(
        (pl.col("document_kind") == "credit_note") & pl.col("original_number").is_not_null()
    )
    if credits.height == 0:
        return
    outbox = Outbox(warehouse, entity.id, run_id)
    rows = outbox.rows(credits["document_number"].to_list() + credits["original_number"].to_list())
    changed = []
    for header in credits.iter_rows(named=True):
        number, original_number = header["document_number"], header["original_number"]
        row, original = rows.get(number), rows.get(original_number)
        if row is None or row["status"] != "confirmed" or row["allocated_to"]:
            continue
        if original is None or original["status"] != "confirmed":
            note = f"waits: the original invoice {original_number} is not booked"
        elif entity.invoice_status != "AUTHORISED":
            note = "waits: the ledger allocates approved documents only (invoice_status is not AUTHORISED)"
        else:
            allocation = {
                "Invoice": {"InvoiceID": original["external_id"]},
                "Amount": row["posted_total"],
                "Date": header["document_date"].isoformat(),
            }
            try:
                xero.allocate_credit_note(
                    entity.accounting_tenant_id,
                    row["external_id"],
                    allocation,
                    idempotency_key(f"allocation:{number}", row["content_hash"]),
                )
                row["allocated_to"] = original_number
                note = f"allocated {row['posted_total']} to {original_number}"
                outcome.allocated.append(number)
            except PermanentHTTPError as exc:
                note = f"allocation refused: {exc}"
                log.warning(f"{entity.id}: credit note {number}: {note}")
            outcome.requests += 1
        if note != row["allocation_note"]:
            row["allocation_note"] = note
            changed.append(row)
    if changed:
        outbox.save(changed)


def _hold_locked(
    documents_of_kind: pl.DataFrame,
    todo: dict[str, dict[str, Any]],
    locked_until: date,
    outbox: Outbox,
    outcome: PostingOutcome,
) -> None:
    """Never send a document into a locked period: it stays pending and says why.

    Only documents never sent are held; one whose outcome is unknown is settled by lookup as usual.
    """
    held = []
    for header in documents_of_kind.iter_rows(named=True):
        number = header["document_number"]
        if number in todo and todo[number]["attempts"] == 0 and header["document_date"] <= locked_until:
            todo[number]["last_error"] = (
                f"held: dated {header['document_date'].isoformat()}, on or before the tenant's lock date "
                f"{locked_until.isoformat()}"
            )
            held.append(todo.pop(number))
            outcome.held.append(number)
    if held:
        outbox.save(held)


def _refuse_inconsistent(entity: str, period: str, headers: pl.DataFrame, lines: pl.DataFrame) -> None:
    """The outbox's own last guard: a document whose totals disagree with its lines is never sent."""
    is_journal = pl.col("document_kind") == "manual_journal"
    ok, detail = lines_sum_to_totals(headers.filter(~is_journal), lines, key="document_number")
    if ok:
        ok, detail = journals_balance(headers.filter(is_journal), lines)
    if not ok:
        raise ValueError(f"refusing to post {entity} {period}: {detail}")


def _post_claimed(
    entity: EntityConfig,
    period: str,
    warehouse: Warehouse,
    xero: XeroClient,
    run_id: str,
    kind: str,
    documents_of_kind: pl.DataFrame,
    lines: pl.DataFrame,
    max_rounds: int,
    log: logging.Logger,
    outcome: PostingOutcome,
    backoff_base_s: float,
    sleep: Callable[[float], None],
    holder: str,
    lock_date: list[date | None],
) -> None:
    collection, number_field, id_field = KINDS[kind]
    outbox = Outbox(warehouse, entity.id, run_id)
    renewed_at = time.monotonic()
    existing = outbox.rows(documents_of_kind["document_number"].to_list())
    now = datetime.now(UTC)
    todo: dict[str, dict[str, Any]] = {}
    for header in documents_of_kind.iter_rows(named=True):
        number = header["document_number"]
        row = existing.get(number)
        if row and row["status"] in ("confirmed", "dead_letter", "discarded"):
            if row["status"] == "discarded":
                continue  # an operator closed it (`billbridge dlq discard`): never sent again
            if row["status"] == "dead_letter":
                outcome.unresolved.append(number)  # waits for `billbridge dlq replay`
            elif row["content_hash"] == header["content_hash"]:
                outcome.already_posted.append(number)
            else:
                # Booked documents are never overwritten: the corrections asset issues credit notes
                # and supplementary invoices for the difference instead.
                outcome.changed_after_posting.append(number)
            continue
        todo[number] = {
            "document_number": number,
            "entity": entity.id,
            "period": period,
            "content_hash": header["content_hash"],
            "idempotency_key": idempotency_key(number, header["content_hash"]),
            "status": row["status"] if row else "pending",
            "attempts": int(row["attempts"]) if row else 0,
            "external_id": None,
            "posted_total": None,
            "draft_total": header["total"],
            "currency": header["currency"],
            "last_error": row["last_error"] if row else None,
            "created_at": row["created_at"] if row else now,
            "updated_at": now,
            "run_id": run_id,
            "document_kind": kind,
            "allocated_to": None,
            "allocation_note": None,
        }
    if not todo:
        return
    outbox.save(list(todo.values()))  # durable, with the idempotency keys, before the first request
    crash_point("outbox_written")

    headers = {h["document_number"]: h for h in documents_of_kind.iter_rows(named=True)}
    tenant = entity.accounting_tenant_id
    documents: dict[str, dict[str, Any]] = {}
    contacts: dict[str, str] = {}  # contact name -> ContactID, for this pass
    lines_by_number = {
        str(key[0]): frame
        for key, frame in lines.filter(pl.col("document_number").is_in(list(todo)))
        .partition_by("document_number", as_dict=True)
        .items()
    }
    prefixes = sorted({number_prefix_of(number) for number in todo})
    unknown_batches: list[list[str]] = []
    stored_answers = 0
    try:
        if not lock_date:
            lock_date.append(xero.lock_date(tenant))  # once per pass, and only when something is to go
            outcome.requests += 1
        if lock_date[0] is not None:
            _hold_locked(documents_of_kind, todo, lock_date[0], outbox, outcome)
            if not todo:
                return
        for round_no in range(1, max_rounds + 2):
            # Settle unknown outcomes first: whatever the ledger holds is confirmed, never re-sent.
            found: dict[str, dict[str, Any]] = {}
            for prefix in prefixes:
                booked = xero.find_by_prefix(tenant, collection, number_field, prefix)
                outcome.requests += 1
                found.update({_number_of(kind, key): document for key, document in booked.items()})
            settled = []
            for number in sorted(set(found) & set(todo)):
                row = todo.pop(number)
                document = found[number]
                row.update(
                    status="confirmed",
                    external_id=str(document.get(id_field)),
                    posted_total=_booked_total(kind, document),
                )
                settled.append(row)
                (outcome.found_by_lookup if row["attempts"] else outcome.already_posted).append(number)
            if settled:
                outbox.save(settled, then=_snapshot(settled, headers, lines_by_number))
            if not todo:
                return
            for number in sorted(todo):
                if number not in documents:
                    header = headers[number]
                    contact = None
                    name = header["contact_name"]
                    if name is not None:
                        if name not in contacts:
                            contacts[name] = _contact_id(warehouse, xero, entity, name)
                        contact = contacts[name]
                    documents[number] = outbound_document(header, lines_by_number[number], entity, contact)
            exhausted = [n for n in sorted(todo) if todo[n]["attempts"] >= max_rounds]
            if exhausted:
                _to_dead_letters(
                    outbox, todo, exhausted, documents, entity.id, period, run_id, outcome, None, gave_up=True
                )
            if not todo:
                return
            # An unknown-outcome batch goes again exactly as it was (same key and body), so a copy
            # still being processed by the provider is answered from its idempotency record.
            batches = [b for b in unknown_batches if all(n in todo for n in b)]
            kept = {n for b in batches for n in b}
            rest = [n for n in sorted(todo) if n not in kept]
            batches += [
                rest[i : i + MAX_INVOICES_PER_CALL] for i in range(0, len(rest), MAX_INVOICES_PER_CALL)
            ]
            unknown_batches = []
            waits: list[float] = []
            results: list[_Sent] = []
            for group in _send_batches(
                xero, tenant, entity.id, period, kind, batches, todo, documents, outbox, run_id
            ):
                results.extend(group)
                writes = _Writes(outbox)
                for sent in group:
                    if _stops(sent):
                        continue  # never sent: the row stays 'sent' and the next run's lookup settles it
                    outcome.requests += 1
                    delay = _settle(
                        sent, kind, entity.id, period, todo, documents, writes, run_id, outcome, log,
                        lambda rows: _snapshot(rows, headers, lines_by_number),
                    )  # fmt: skip
                    if delay == "unknown":
                        unknown_batches.append(sent.batch)
                    elif isinstance(delay, float):
                        waits.append(
                            full_jitter_delay(round_no, base_s=backoff_base_s, retry_after=delay or None)
                        )
                writes.flush()  # one transaction for every answer that arrived together
                if time.monotonic() - renewed_at > CLAIM_RENEW_S:
                    # A long run keeps its claim alive; losing it means stopping, never posting alongside.
                    other = claim(warehouse, entity.id, period, holder)
                    if other is not None:
                        raise ClaimLostError(f"the claim on {entity.id} {period} passed to {other}")
                    renewed_at = time.monotonic()
                stored_answers += sum(1 for sent in group if sent.response is not None)
                if stored_answers:
                    crash_point("answer_stored")
            stop = next((sent.error for sent in results if _stops(sent)), None)
            if stop is not None:
                raise stop
            if not todo:
                return
            if waits:
                sleep(max(waits))
    except (DailyLimitReached, CircuitOpenError, ClaimLostError) as exc:
        # Not worth retrying into: the rows stay pending/sent and the next run settles them.
        outcome.stopped = str(exc)
        log.error(f"{entity.id} {period}: posting stopped: {exc}")
    outcome.unresolved.extend(sorted(todo))


def _send_batches(
    xero: XeroClient,
    tenant: str,
    entity: str,
    period: str,
    kind: str,
    batches: list[list[str]],
    todo: dict[str, dict[str, Any]],
    documents: dict[str, dict[str, Any]],
    outbox: Outbox,
    run_id: str,
) -> Iterator[list[_Sent]]:
    """Mark the batches sent (with their request-log rows), then send up to max_in_flight at once,
    yielding the answered sends in groups as they complete."""
    collection = KINDS[kind][0]
    sends: list[_Sent] = []
    pending_logs: list[tuple[list[str], str, str]] = []
    for batch in batches:
        for number in batch:
            todo[number]["status"] = "sent"
            todo[number]["attempts"] += 1
        key = batch_key([todo[n]["idempotency_key"] for n in batch])
        pending_logs.append((batch, key, dumps_exact({collection: [documents[n] for n in batch]})))

    def write_logs(con: Any) -> None:
        for batch, key, body in pending_logs:
            request_id = log_request(
                con, entity=entity, period=period, numbers=batch, idempotency_key=key, method="PUT",
                url=f"{xero.base_url.rstrip('/')}/{collection}?summarizeErrors=false&unitdp=4",
                headers={"Authorization": "Bearer", "Xero-tenant-id": tenant, "Idempotency-Key": key},
                body=body, run_id=run_id,
            )  # fmt: skip
            sends.append(_Sent(batch, request_id))

    outbox.save([todo[n] for b in batches for n in b], then=write_logs)

    def send(sent: _Sent) -> _Sent:
        try:
            sent.response = xero.send_documents(
                tenant,
                collection,
                [documents[n] for n in sent.batch],
                batch_key([todo[n]["idempotency_key"] for n in sent.batch]),
            )
        except TransientHTTPError as exc:
            sent.response, sent.error = exc.response, exc
        except PermanentHTTPError as exc:
            sent.response, sent.error = exc.response, exc
        except (*TRANSPORT_ERRORS, DailyLimitReached, CircuitOpenError) as exc:
            sent.error = exc
        return sent

    with ThreadPoolExecutor(max_workers=xero.max_in_flight) as pool:
        pending: set[Future[_Sent]] = {pool.submit(send, s) for s in sends}
        while pending:
            # Hand answers over as they arrive, so storing them overlaps the sends still in flight.
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield [future.result() for future in done]


def _stops(sent: _Sent) -> bool:
    return isinstance(sent.error, DailyLimitReached | CircuitOpenError)


def _settle(
    sent: _Sent,
    kind: str,
    entity: str,
    period: str,
    todo: dict[str, dict[str, Any]],
    documents: dict[str, dict[str, Any]],
    outbox: Outbox | _Writes,
    run_id: str,
    outcome: PostingOutcome,
    log: logging.Logger,
    snapshot: Callable[[list[dict[str, Any]]], Callable[[Any], None]],
) -> float | str | None:
    """Store one batch's answer. Returns None when settled, "unknown" when the outcome is unknown,
    or the seconds the provider asked us to wait (0 when it did not say) for a transient failure."""
    crash_point("request_sent")
    batch = [n for n in sent.batch if n in todo]
    response, error = sent.response, sent.error
    if error is not None and response is None:
        # Timeout or dropped connection: the provider may have booked the batch. Look it up next round.
        message = f"outcome unknown: {type(error).__name__}: {error}"
        log.warning(f"{entity} {period}: batch of {len(batch)} {message}; will look up before re-sending")
        for n in batch:
            todo[n]["last_error"] = message
        outbox.save(
            [todo[n] for n in batch], then=lambda con: log_answer(con, sent.request_id, None, None, "unknown")
        )
        return "unknown"
    assert response is not None
    text = response.text
    if isinstance(error, TransientHTTPError):
        log.warning(f"{entity} {period}: batch answered {error.status_code}; will retry")
        for n in batch:
            todo[n]["last_error"] = str(error)
        outbox.save(
            [todo[n] for n in batch],
            then=lambda con: log_answer(con, sent.request_id, response.status_code, text, "transient"),
        )
        return error.retry_after or 0.0
    if isinstance(error, PermanentHTTPError):
        if error.status_code in (401, 403):
            # Credentials, not the documents: stop; the rows stay 'sent' and are settled by lookup later.
            outbox.save(
                [], then=lambda con: log_answer(con, sent.request_id, response.status_code, text, "permanent")
            )
            if isinstance(outbox, _Writes):
                outbox.flush()
            raise error
        for n in batch:
            todo[n]["last_error"] = str(error)
        _to_dead_letters(outbox, todo, batch, documents, entity, period, run_id, outcome, sent.request_id,
                         (response.status_code, text))  # fmt: skip
        return None
    collection, number_field, id_field = KINDS[kind]
    elements = loads_exact(response.content).get(collection) or []
    by_number = {_number_of(kind, str(e[number_field])): e for e in elements if e.get(number_field)}
    confirmed, rejected = [], []
    for position, number in enumerate(sent.batch):
        if number not in todo:
            continue
        element = by_number.get(number) or (elements[position] if position < len(elements) else {})
        errors = _errors(element)
        if (
            errors
            or element.get("HasErrors")
            or not element.get(id_field)
            or element.get(id_field) == ZERO_GUID
        ):
            todo[number]["last_error"] = "; ".join(errors) or "rejected without a message"
            rejected.append(number)
        else:
            row = todo.pop(number)
            row.update(
                status="confirmed",
                external_id=str(element.get(id_field)),
                posted_total=_booked_total(kind, element),
                last_error=None,
            )
            confirmed.append(row)
            outcome.posted_new.append(number)
    if rejected:
        _to_dead_letters(outbox, todo, rejected, documents, entity, period, run_id, outcome, None)
    store_lines = snapshot(confirmed)

    def write(con: Any) -> None:
        log_answer(con, sent.request_id, response.status_code, text, "answered")
        store_lines(con)

    outbox.save(confirmed, then=write)
    return None


def _to_dead_letters(
    outbox: Outbox | _Writes,
    todo: dict[str, dict[str, Any]],
    numbers: list[str],
    documents: dict[str, dict[str, Any]],
    entity: str,
    period: str,
    run_id: str,
    outcome: PostingOutcome,
    request_id: str | None,
    answer: tuple[int, str] | None = None,
    *,
    gave_up: bool = False,
) -> None:
    """Move documents to the dead letters with their document and error, in one transaction."""
    rows = []
    for number in numbers:
        row = todo.pop(number)
        error = row["last_error"] or "rejected without a message"
        row["last_error"] = (
            f"gave up after {row['attempts']} attempt(s); last error: {error}" if gave_up else error
        )
        row["status"] = "dead_letter"
        rows.append(row)
        outcome.dead_lettered.append(number)
    bodies = {n: dumps_exact(documents[n]) for n in numbers if n in documents}

    def write(con: Any) -> None:
        _dead_letter_rows(con, entity, period, rows, bodies, run_id)
        if request_id is not None and answer is not None:
            log_answer(con, request_id, answer[0], answer[1], "permanent")

    outbox.save(rows, then=write)
