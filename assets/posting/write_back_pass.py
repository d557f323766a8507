"""One entity-month's write-back to the PM system: every booked document exactly once (docs/decisions/0031).

The protocol, per document: look it up by number in Harvest; found, it is written (its id kept);
absent, the row is committed as `sent`, the create goes out once, and its answer is committed. A run
killed between the create and its answer leaves `sent`, which the next run's look-up settles. A
payment waits until its invoice is written back. The rules of each step are rules/pm_write_back.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assets.posting.posting_pass import crash_point
from resources.harvest_invoices import HarvestInvoices, LookupFailed, OutcomeUnknown, Refused, amount_of
from resources.pm_write_back_store import WriteBackStore, booked_documents
from resources.warehouse import Warehouse
from rules import pm_write_back as wb
from rules.pm_write_back import BookedInvoice, BookedPayment, WriteBackRow, WriteBackState
from rules.settings import EntityConfig

log = logging.getLogger("billbridge.write_back")


@dataclass
class WriteBackOutcome:
    """What a pass did: numbers by what happened to them, and why it stopped early (if it did)."""

    skipped: str | None = None  # the switch is off
    created: list[str] = field(default_factory=list)
    found_by_lookup: list[str] = field(default_factory=list)
    already_written: list[str] = field(default_factory=list)
    not_written_back: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    stopped: str | None = None  # a look-up failed: the rest waits for the next run
    requests: int = 0


@dataclass
class WriteBackPass:
    """The pass's collaborators and its running outcome."""

    store: WriteBackStore
    harvest: HarvestInvoices
    outcome: WriteBackOutcome

    def settle(self, row: WriteBackRow, lookup: Callable[[], dict[str, Any] | None]) -> WriteBackRow:
        """Look the document up; a row it finds is committed as written, else returned as absent."""
        hit = lookup()
        if hit is not None:
            (written,) = self.store.save(wb.found(row, str(hit["id"]), amount_of(hit)))
            self.outcome.found_by_lookup.append(row.document_number)
            return written
        return wb.absent(row)

    def create(self, row: WriteBackRow, send: Callable[[], dict[str, Any]]) -> WriteBackRow:
        """Commit `sent`, send once, commit what the answer says."""
        (sent,) = self.store.save(wb.sending(row))
        try:
            created = send()
        except Refused as exc:
            self.outcome.refused.append(row.document_number)
            return self.store.save(wb.refused(sent, str(exc)))[0]
        except OutcomeUnknown as exc:
            self.outcome.in_doubt.append(row.document_number)
            return self.store.save(wb.in_doubt(sent, str(exc)))[0]
        crash_point("pm_write_back_created")  # test hook: killed with the answer in hand, not stored
        self.outcome.created.append(row.document_number)
        return self.store.save(wb.found(sent, str(created["id"]), amount_of(created)))[0]


def write_back_period(
    entity: EntityConfig, period: str, warehouse: Warehouse, harvest: HarvestInvoices, run_id: str
) -> WriteBackOutcome:
    """Write the entity-month's booked invoices and payments back to Harvest; record what cannot go."""
    outcome = WriteBackOutcome()
    if not entity.pm_write_back:
        outcome.skipped = f"pm_write_back is off for {entity.id}"
        return outcome
    store = WriteBackStore(warehouse, entity.id, run_id)
    booked = {d.number: d for d in booked_documents(warehouse, entity.id, period, entity.tax_rates())}
    rows = store.rows(numbers=list(booked))
    now = datetime.now(UTC)
    fresh = [wb.new_row(d, entity.id, now, run_id) for n, d in booked.items() if n not in rows]
    rows.update({row.document_number: row for row in store.save(*fresh)})
    step = WriteBackPass(store, harvest, outcome)
    try:
        for number, document in booked.items():
            row = rows[number]
            if row.state is WriteBackState.NOT_WRITTEN_BACK:
                outcome.not_written_back.append(number)
            elif row.state is WriteBackState.WRITTEN:
                outcome.already_written.append(number)
            elif isinstance(document, BookedInvoice):
                rows[number] = _invoice(step, row, document)
            elif isinstance(document, BookedPayment):
                rows[number] = _payment(step, row, document)
    except LookupFailed as exc:  # absence not proven: nothing more is created this run
        outcome.stopped = f"stopped at a look-up: {exc}"
        log.warning("%s %s: write-back %s", entity.id, period, outcome.stopped)
    outcome.requests = harvest.requests
    return outcome


def _invoice(step: WriteBackPass, row: WriteBackRow, invoice: BookedInvoice) -> WriteBackRow:
    client_id = invoice.client_id
    assert client_id is not None  # new_row made an invoice without a client not_written_back

    row = step.settle(row, lambda: step.harvest.find_invoice(client_id, invoice.number))
    if row.state is WriteBackState.WRITTEN:
        return row
    return step.create(row, lambda: step.harvest.create_invoice(wb.invoice_request(invoice)))


def _payment(step: WriteBackPass, row: WriteBackRow, payment: BookedPayment) -> WriteBackRow:
    invoice = step.store.rows(numbers=[payment.settles]).get(payment.settles)
    blocked = wb.blocked_by_invoice(row, invoice)
    if blocked is not None:
        final = blocked.state is WriteBackState.NOT_WRITTEN_BACK
        (step.outcome.not_written_back if final else step.outcome.waiting).append(row.document_number)
        return step.store.save(blocked)[0]
    assert invoice is not None and invoice.pm_id is not None
    pm_invoice = invoice.pm_id

    def lookup() -> dict[str, Any] | None:
        mine = [p for p in step.harvest.payments(pm_invoice) if wb.is_payment(p, payment.number)]
        return mine[0] if mine else None

    row = step.settle(row, lookup)
    if row.state is WriteBackState.WRITTEN:
        return row
    return step.create(row, lambda: step.harvest.create_payment(pm_invoice, wb.payment_request(payment)))
