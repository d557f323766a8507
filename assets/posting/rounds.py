"""One kind's documents of a posting pass: rows written first, then rounds of look-up and send.

A round settles the kind's open documents by look-up (settle.py), sends the rest in batches of
50 up to the tenant's calls in flight, and stores each answer as it arrives. Transient failures
wait (Retry-After, else full jitter) and go round again. A document whose outcome is unknown is
never sent again before a look-up after the in-doubt wait (client timeout + processing bound)
has shown the ledger does not hold it: no copy can still be in flight then, so a re-send cannot
duplicate it however long the provider remembers idempotency keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import polars as pl

from assets.posting.contacts import resolve_contacts
from assets.posting.payable import payable
from assets.posting.posting_pass import PostingPass, crash_point
from assets.posting.settle import settle
from resources.http_retry import full_jitter_delay
from resources.outbox.request_log import log_answer, log_request
from resources.outbox.sender import Batch, BatchResult, send_batches
from resources.outbox.store import Writes
from resources.xero import MAX_INVOICES_PER_CALL, dumps_exact, write_params
from rules.documents import KINDS
from rules.outbound_payloads import batch_key, idempotency_key, outbound_document, payment_element
from rules.outbox.events import Held, Refused, Revised, Sending, Transient, Unknown
from rules.outbox.rows import OutboxRow, Status, Version, new_row

DraftLines = dict[str, list[dict[str, Any]]]  # document number -> its lines, in line order
IN_DOUBT_MARGIN_S = 0.05  # look a moment after the in-doubt wait ends, never a moment before


def post_kind(posting: PostingPass, kind: str, headers: pl.DataFrame, lines: pl.DataFrame) -> None:
    """Post the pass's documents of one kind (their headers and every line of the pass)."""
    drafts = {h["document_number"]: h for h in headers.iter_rows(named=True)}
    # Plain rows, read once: a frame per document cost more CPU than everything else a document needs.
    draft_lines: DraftLines = {number: [] for number in drafts}
    of_kind = lines.filter(pl.col("document_number").is_in(list(drafts))).sort("document_number", "line_no")
    for line in of_kind.iter_rows(named=True):
        draft_lines[line["document_number"]].append(line)
    todo = _write_rows(posting, drafts, draft_lines)
    if not todo:
        return
    crash_point("outbox_written")
    if not posting.lock_date:
        posting.lock_date.append(posting.xero.lock_date(posting.tenant, recorder=posting.record))
        posting.outcome.requests += 1
    todo = _hold_locked(posting, todo, drafts)
    Rounds(posting, kind, drafts, draft_lines).run(todo)


def _version(header: dict[str, Any]) -> Version:
    return Version(
        document_number=header["document_number"],
        document_kind=header["document_kind"],
        content_hash=header["content_hash"],
        idempotency_key=idempotency_key(header["document_number"], header["content_hash"]),
        total=header["total"],
        currency=header["currency"],
    )


def _version_lines(header: dict[str, Any], lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of the version a row sends, with what the booked snapshot needs beside them."""
    beside = {
        "document_kind": header["document_kind"],
        "document_type": header["document_type"],
        "original_number": header["original_number"] or header["document_number"],
        "currency": header["currency"],
        "document_date": header["document_date"],
        "content_hash": header["content_hash"],
    }
    return [{**line, **beside} for line in lines]


def _write_rows(
    posting: PostingPass, drafts: dict[str, dict[str, Any]], draft_lines: DraftLines
) -> dict[str, OutboxRow]:
    """Every document's row, with its key and its version's lines, durable before the first request.

    Returns the rows still to be posted (pending, or in doubt).
    """
    outcome, store = posting.outcome, posting.store
    existing = store.rows(posting.period, numbers=list(drafts))
    writes, todo = Writes(), {}
    settled_now = set(outcome.found_by_lookup) | set(outcome.already_posted)  # by this pass's first look-up
    for number, header in drafts.items():
        version, row = _version(header), existing.get(number)
        if row is None:
            row = new_row(version, posting.entity.id, posting.period, datetime.now(UTC), store.run_id)
            writes.change(None, row)
        elif row.status is Status.CONFIRMED:
            # Booked documents are never overwritten: the corrections asset issues credit notes
            # and supplementary invoices for the difference instead.
            if number not in settled_now:
                same = row.content_hash == version.content_hash
                (outcome.already_posted if same else outcome.changed_after_posting).append(number)
            continue
        elif row.status in (Status.DEAD_LETTER, Status.DISCARDED):
            continue  # waits for `billbridge dlq replay`, or an operator closed it
        else:
            row = posting.apply(writes, row, Revised(version))
        if row.status is Status.PENDING and row.content_hash == version.content_hash:
            writes.version(number, _version_lines(header, draft_lines[number]))
        todo[number] = row
    store.commit(writes)
    return todo


def _hold_locked(
    posting: PostingPass, todo: dict[str, OutboxRow], drafts: dict[str, dict[str, Any]]
) -> dict[str, OutboxRow]:
    """Never send a document into a locked period: it stays pending and says why.

    Only documents never sent are held; one whose outcome is unknown is settled by look-up as usual.
    """
    locked_until = posting.lock_date[0]
    if locked_until is None:
        return todo
    writes, rest = Writes(), {}
    for number, row in todo.items():
        dated = drafts[number]["document_date"]
        if row.status is Status.PENDING and row.attempts == 0 and dated <= locked_until:
            posting.apply(writes, row, Held(dated, locked_until))
        else:
            rest[number] = row
    posting.store.commit(writes)
    return rest


class Rounds:
    """The rounds of look-up and send for one kind's documents."""

    def __init__(
        self,
        posting: PostingPass,
        kind: str,
        drafts: dict[str, dict[str, Any]],
        draft_lines: DraftLines,
    ):
        self.posting = posting
        self.kind = kind
        self.drafts = drafts
        self.draft_lines = draft_lines
        self.bodies: dict[str, dict[str, Any]] = {}  # the API element of each document, once built
        self.contacts: dict[str, str] = {}  # contact name -> ContactID, for this pass
        self.paid_ids: dict[str, str] = {}  # payment number -> the ledger id of the document it pays
        self.stored_answers = 0

    def run(self, todo: dict[str, OutboxRow]) -> None:
        """Round after round until nothing of the kind is left to post, or a stop.

        Every send moves a document one attempt nearer its limit and every in-doubt wait ends in a
        look-up that settles it, so the rounds end; the bound is a guard, not the mechanism.
        """
        for round_no in range(1, 4 * self.posting.policy.max_attempts + 4):
            todo = settle(self.posting, todo, self.bodies)
            if not todo:
                return
            self._revise(todo)
            ready = {n: row for n, row in todo.items() if row.status is Status.PENDING}
            if self.kind == "payment" and ready:
                ready = self._payable(ready, todo)
            waits = self._send(ready, round_no) if ready else []
            todo.update(ready)
            todo = {n: row for n, row in todo.items() if row.status in (Status.PENDING, Status.SENT)}
            if not todo:
                return
            delay = self._delay(todo, waits)
            if delay > 0:
                self.posting.wait(delay)

    def _payable(self, ready: dict[str, OutboxRow], todo: dict[str, OutboxRow]) -> dict[str, OutboxRow]:
        """The payments that may go this round; the held ones leave the rounds (the next pass looks again)."""
        paid_ids = payable(self.posting, self.drafts, ready)
        self.paid_ids.update(paid_ids)
        for number in set(ready) - set(paid_ids):
            todo.pop(number, None)
        return {n: row for n, row in ready.items() if n in paid_ids}

    def _delay(self, todo: dict[str, OutboxRow], waits: list[float]) -> float:
        """How long to wait before the next round: what transient answers asked for, and, when only
        sends in doubt are left, until the first of them may be settled by a look-up."""
        delay = max(waits, default=0.0)
        if any(row.status is Status.PENDING for row in todo.values()):
            return delay
        now = datetime.now(UTC)
        due = [until for row in todo.values() if (until := row.in_doubt_until(now)) is not None]
        return max(delay, (min(due) - now).total_seconds() + IN_DOUBT_MARGIN_S) if due else delay

    def _revise(self, todo: dict[str, OutboxRow]) -> None:
        """A document settled absent is sent as the producers draft it now (its version kept with it)."""
        writes = Writes()
        for number, row in todo.items():
            header = self.drafts[number]
            if row.status is Status.PENDING and row.content_hash != header["content_hash"]:
                todo[number] = self.posting.apply(writes, row, Revised(_version(header)))
                writes.version(number, _version_lines(header, self.draft_lines[number]))
        self.posting.store.commit(writes)

    def _body(self, number: str) -> dict[str, Any]:
        if number not in self.bodies and self.kind == "payment":
            header = self.drafts[number]
            self.bodies[number] = payment_element(header, self.draft_lines[number], self.paid_ids[number])
        if number not in self.bodies:
            header = self.drafts[number]
            name = header["contact_name"]
            contact = None if name is None else self.contacts[name]
            self.bodies[number] = outbound_document(
                header, self.draft_lines[number], self.posting.entity, contact
            )
        return self.bodies[number]

    def _send(self, ready: dict[str, OutboxRow], round_no: int) -> list[float]:
        """One round's sends: mark every batch sent (with its request-log row), send, store answers."""
        numbers = sorted(ready)
        if self.kind != "payment":
            named = {self.drafts[n]["contact_name"] for n in numbers if n not in self.bodies}
            unknown = {name for name in named if name is not None and name not in self.contacts}
            if unknown:
                self.contacts.update(resolve_contacts(self.posting, unknown))
        bodies = [self._body(number) for number in numbers]
        batches = [
            Batch(
                numbers[i : i + MAX_INVOICES_PER_CALL],
                batch_key([ready[n].idempotency_key for n in numbers[i : i + MAX_INVOICES_PER_CALL]]),
                bodies[i : i + MAX_INVOICES_PER_CALL],
            )
            for i in range(0, len(numbers), MAX_INVOICES_PER_CALL)
        ]
        writes = Writes()
        for number in numbers:
            ready[number] = self.posting.apply(writes, ready[number], Sending())
        writes.then.append(lambda con: self._log_requests(con, batches))
        self.posting.store.commit(writes)
        waits: list[float] = []
        stop: BaseException | None = None
        for results in send_batches(self.posting.xero, self.posting.tenant, self.kind, batches):
            writes = Writes()
            for result in results:
                stop = stop or result.stop
                waits.extend(self._store(writes, ready, result, round_no))
            self.posting.store.commit(writes)  # one transaction for every answer that arrived together
            self.posting.keep_claim()
            self.stored_answers += sum(1 for result in results if result.answered)
            if self.stored_answers:
                crash_point("answer_stored")
        if stop is not None:
            raise stop
        return waits

    def _store(
        self, writes: Writes, ready: dict[str, OutboxRow], result: BatchResult, round_no: int
    ) -> list[float]:
        """Apply one batch's answers to its rows; returns the waits its transient answers ask for."""
        if result.stop is None or result.answered:
            crash_point("request_sent")
            self.posting.outcome.requests += 1
        waits: list[float] = []
        for number, answer in result.answers.items():
            ready[number] = self.posting.apply(writes, ready[number], answer)
            if isinstance(answer, Refused):
                writes.documents[number] = dumps_exact(self.bodies[number])
            elif isinstance(answer, Transient) and result.stop is None:
                waits.append(full_jitter_delay(round_no, base_s=self.posting.backoff_base_s,
                                               retry_after=answer.retry_after or None))  # fmt: skip
        if any(isinstance(a, Unknown) for a in result.answers.values()):
            self.posting.log.warning(
                f"{self.posting.entity.id} {self.posting.period}: batch of {len(result.batch.numbers)} "
                "outcome unknown; will look it up once anything still in flight has landed"
            )
        request_id, status, text, label = (
            result.batch.request_id,
            result.status_code,
            result.text,
            result.log_outcome,
        )
        writes.then.append(lambda con: log_answer(con, request_id, status, text, label))
        return waits

    def _log_requests(self, con: Any, batches: list[Batch]) -> None:
        collection = KINDS[self.kind][0]
        xero, posting = self.posting.xero, self.posting
        for batch in batches:
            batch.request_id = log_request(
                con, entity=posting.entity.id, period=posting.period, numbers=batch.numbers,
                idempotency_key=batch.idempotency_key, method="PUT",
                url=f"{xero.base_url.rstrip('/')}/{collection}?{urlencode(write_params(collection))}",
                headers={"Authorization": "Bearer", "Xero-tenant-id": posting.tenant,
                         "Idempotency-Key": batch.idempotency_key},
                body=dumps_exact({collection: batch.documents}), run_id=posting.store.run_id,
            )  # fmt: skip
