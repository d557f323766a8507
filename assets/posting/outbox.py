"""Post one entity-month's invoice drafts through the outbox, exactly once.

States: pending (written before anything is sent) -> sent (an attempt is under way or
its outcome is unknown) -> confirmed (the accounting system's id is stored); a
document the accounting system rejects goes to dead_letter with its errors. Before
every send, documents are looked up by invoice number, so an attempt whose answer was
lost is settled by what the ledger holds, never by sending again blind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from assets.posting.payloads import batch_key, idempotency_key, invoice_document
from checks.invariants import lines_sum_to_totals
from resources.configuration import EntityConfig
from resources.http_retry import TRANSPORT_ERRORS, PermanentHTTPError, TransientHTTPError
from resources.warehouse import Warehouse, append
from resources.xero import MAX_INVOICES_PER_CALL, XeroClient, loads_exact

OUTBOX_SCHEMA = pl.Schema(
    {
        "invoice_number": pl.String(),
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
    }
)


@dataclass
class PostingOutcome:
    """What one posting pass did, for metadata and the report."""

    posted_new: list[str] = field(default_factory=list)
    already_posted: list[str] = field(default_factory=list)
    found_by_lookup: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    changed_after_posting: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    requests: int = 0


class Outbox:
    """The outbox rows of one entity, read and written through the warehouse."""

    def __init__(self, warehouse: Warehouse, entity: str, run_id: str):
        self.warehouse = warehouse
        self.entity = entity
        self.run_id = run_id

    def rows(self, numbers: list[str]) -> dict[str, dict[str, Any]]:
        frame = self.warehouse.query(
            self.entity,
            "SELECT * FROM posting.outbox WHERE invoice_number IN (SELECT unnest(?::VARCHAR[]))",
            [numbers],
        )
        return {row["invoice_number"]: row for row in frame.iter_rows(named=True)}

    def save(self, rows: list[dict[str, Any]]) -> None:
        """Upsert rows, committed before the caller goes on (the durable part of the protocol)."""
        now = datetime.now(UTC)
        for row in rows:
            row["updated_at"] = now
            row["run_id"] = self.run_id
        frame = pl.DataFrame(rows, schema=OUTBOX_SCHEMA)
        with self.warehouse.transaction(self.entity) as con:
            con.execute(
                "DELETE FROM posting.outbox WHERE invoice_number IN (SELECT unnest(?::VARCHAR[]))",
                [frame["invoice_number"].to_list()],
            )
            append(con, "posting.outbox", frame)


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


def _booked_total(document: dict[str, Any]) -> Decimal | None:
    total = document.get("Total")
    return None if total is None else Decimal(str(total))


def _errors(element: dict[str, Any]) -> list[str]:
    return [str(e.get("Message", e)) for e in element.get("ValidationErrors") or []]


def post_period(
    entity: EntityConfig,
    period: str,
    warehouse: Warehouse,
    xero: XeroClient,
    run_id: str,
    max_rounds: int = 5,
    log: logging.Logger | None = None,
) -> PostingOutcome:
    """Post the entity-month's drafts that the accounting system does not hold yet."""
    log = log or logging.getLogger(__name__)
    outcome = PostingOutcome()
    invoices = warehouse.query(
        entity.id,
        "SELECT * FROM billing.invoice_drafts WHERE entity = ? AND period = ? ORDER BY invoice_number",
        [entity.id, period],
    )
    lines = warehouse.query(
        entity.id,
        "SELECT * FROM billing.invoice_draft_lines WHERE entity = ? AND period = ?",
        [entity.id, period],
    )
    ok, detail = lines_sum_to_totals(invoices, lines)
    if not ok:
        raise ValueError(f"refusing to post {entity.id} {period}: {detail}")
    outbox = Outbox(warehouse, entity.id, run_id)
    existing = outbox.rows(invoices["invoice_number"].to_list())
    now = datetime.now(UTC)
    todo: dict[str, dict[str, Any]] = {}
    for header in invoices.iter_rows(named=True):
        number = header["invoice_number"]
        row = existing.get(number)
        if row and row["status"] in ("confirmed", "dead_letter"):
            if row["content_hash"] == header["content_hash"]:
                (outcome.already_posted if row["status"] == "confirmed" else outcome.unresolved).append(
                    number
                )
            else:
                # Corrections to posted periods (credit notes) are their own capability; never overwrite.
                outcome.changed_after_posting.append(number)
            continue
        todo[number] = {
            "invoice_number": number,
            "entity": entity.id,
            "period": period,
            "content_hash": header["content_hash"],
            "idempotency_key": idempotency_key(number, header["content_hash"]),
            "status": "pending",
            "attempts": int(row["attempts"]) if row else 0,
            "external_id": None,
            "posted_total": None,
            "draft_total": header["total"],
            "currency": header["currency"],
            "last_error": row["last_error"] if row else None,
            "created_at": row["created_at"] if row else now,
            "updated_at": now,
            "run_id": run_id,
        }
    if not todo:
        return outcome
    outbox.save(list(todo.values()))  # durable before the first request

    headers = {h["invoice_number"]: h for h in invoices.iter_rows(named=True)}
    for round_no in range(1, max_rounds + 1):
        # Settle unknown outcomes first: whatever the ledger already holds is confirmed, not re-sent.
        found = xero.find_invoices(entity.accounting_tenant_id, sorted(todo))
        outcome.requests += 1
        settled = []
        for number, document in found.items():
            if number in todo:
                row = todo.pop(number)
                row.update(
                    status="confirmed",
                    external_id=str(document.get("InvoiceID")),
                    posted_total=_booked_total(document),
                )
                settled.append(row)
                (outcome.found_by_lookup if row["attempts"] else outcome.already_posted).append(number)
        if settled:
            outbox.save(settled)
        if not todo:
            break
        numbers = sorted(todo)
        for start in range(0, len(numbers), MAX_INVOICES_PER_CALL):
            batch = numbers[start : start + MAX_INVOICES_PER_CALL]
            documents = []
            for number in batch:
                header = headers[number]
                contact = _contact_id(warehouse, xero, entity, header["contact_name"])
                documents.append(
                    invoice_document(
                        header, lines.filter(pl.col("invoice_number") == number), entity, contact
                    )
                )
                todo[number]["status"] = "sent"
                todo[number]["attempts"] += 1
            outbox.save([todo[n] for n in batch])
            try:
                response = xero.send_invoices(
                    entity.accounting_tenant_id,
                    documents,
                    batch_key([todo[n]["idempotency_key"] for n in batch]),
                )
                outcome.requests += 1
            except TransientHTTPError as exc:
                outcome.requests += 1
                wait = exc.retry_after if exc.retry_after is not None else min(2.0**round_no, 30.0)
                log.warning(f"{entity.id} {period}: batch answered {exc.status_code}; retrying after {wait}s")
                for n in batch:
                    todo[n]["last_error"] = str(exc)
                outbox.save([todo[n] for n in batch])
                time.sleep(wait)
                continue
            except TRANSPORT_ERRORS as exc:
                # Outcome unknown: the next round looks the documents up before sending again.
                log.warning(
                    f"{entity.id} {period}: batch outcome unknown ({type(exc).__name__}); will look up"
                )
                for n in batch:
                    todo[n]["last_error"] = f"{type(exc).__name__}: {exc}"
                outbox.save([todo[n] for n in batch])
                continue
            except PermanentHTTPError as exc:
                for n in batch:
                    todo[n].update(status="dead_letter", last_error=str(exc))
                    outcome.dead_lettered.append(n)
                outbox.save([todo.pop(n) for n in batch])
                continue
            elements = loads_exact(response.content).get("Invoices") or []
            done = []
            for number, element in zip(batch, elements, strict=False):
                row = todo.pop(number)
                errors = _errors(element)
                if errors or element.get("HasErrors"):
                    row.update(status="dead_letter", last_error="; ".join(errors) or "rejected")
                    outcome.dead_lettered.append(number)
                else:
                    row.update(
                        status="confirmed",
                        external_id=str(element.get("InvoiceID")),
                        posted_total=_booked_total(element),
                        last_error=None,
                    )
                    outcome.posted_new.append(number)
                done.append(row)
            outbox.save(done)
        if not todo:
            break
    outcome.unresolved.extend(sorted(todo))
    return outcome
