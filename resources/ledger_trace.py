"""`billbridge trace`'s reads (docs/decisions/0036): from an invoice (or one of its lines) back to the time
entries and expenses it bills, with their rates, rules, approvals and the runs and people behind them;
from a time entry or expense forward to the invoice line, the posted document and any correction.

Everything is read from the entity's file: the drafts and their line sources, the normalized lines,
every logged version of each PM record, the outbox and the posted lines, and `trace.runs`. Names
come back decrypted (the warehouse's `query`); a payload's personal fields stay sealed, and are not
needed: approval is read from `is_closed`, `is_locked` and `locked_reason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from resources.run_traces import recorded_runs
from resources.warehouse import Warehouse
from rules.tracing import VersionSeen, approval_of, billed_version, first_seen_approved

KIND_OF_SOURCE = {"time": "time_entries", "expense": "expenses"}
_LINE_COLUMNS = (
    "line_no, description, quantity, unit_amount, line_amount, tax_type, tax_amount, account_code, "
    "rate_source, rule_set_version, rounding_rule, tax_rounding_rule"
)
_SOURCE_COLUMNS = (
    "s.line_no, b.line_id, b.source_kind, b.source_id, b.day, b.person_name, b.project_name, b.task_name, "
    "b.quantity, b.hours, b.unit_price, b.txn_currency, b.amount_txn, b.rate_source, b.rate_rule_id, "
    "b.rounding_rule_id, b.markup_rule_id, b.rule_set_version, b.approved, b.approval_source, "
    "b.locked_reason, b.payload_hash, b.run_id"
)


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return list(frame.iter_rows(named=True))


def _versions(
    warehouse: Warehouse, entity: str, kind: str, record_ids: list[int]
) -> dict[int, list[VersionSeen]]:
    """Every logged version of the records, by record id."""
    frame = warehouse.query(
        entity,
        "SELECT record_id, version, change, seen_at, run_id, payload, payload_hash FROM raw.record_versions "
        "WHERE entity = ? AND kind = ? AND record_id IN (SELECT unnest(?::BIGINT[])) ORDER BY record_id, version",
        [entity, kind, record_ids],
    )
    versions: dict[int, list[VersionSeen]] = {}
    for row in frame.iter_rows(named=True):
        record_id = row.pop("record_id")
        versions.setdefault(record_id, []).append(VersionSeen(**row))
    return versions


def _seen(version: VersionSeen | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {"version": version.version, "seen_at": version.seen_at, "run_id": version.run_id}


def approvals(warehouse: Warehouse, entity: str, sources: list[dict[str, Any]]) -> None:
    """Add to each source line its record's approval story: first seen approved (when, by which run),
    the version and approval state it was billed under, and who approved it where the PM system says."""
    for source_kind, kind in KIND_OF_SOURCE.items():
        ids = sorted({s["source_id"] for s in sources if s["source_kind"] == source_kind})
        versions = _versions(warehouse, entity, kind, ids) if ids else {}
        for source in (s for s in sources if s["source_kind"] == source_kind):
            history = versions.get(source["source_id"], [])
            first = first_seen_approved(history)
            billed = billed_version(history, source["payload_hash"])
            reference = billed or first or (history[-1] if history else None)
            stated = approval_of(reference.payload if reference else None)
            source["versions"] = len(history)
            source["first_seen_approved"] = _seen(first)
            source["billed_version"] = _seen(billed)
            source["billed_under"] = stated.state if billed else source["approval_source"]
            source["approved_by"] = stated.approved_by


@dataclass(frozen=True)
class _DocumentReads:
    """Where one kind of document keeps its header, its lines and each line's normalized lines."""

    header: str  # selects the header by number (one parameter)
    lines: str  # `{where}` on alias l
    sources: str  # `{where}` on alias s
    number_column: str


_INVOICES = _DocumentReads(
    header="SELECT invoice_number AS document_number, 'invoice' AS document_kind, NULL AS original_number, entity, "
    "period, contact_name, currency, invoice_date AS document_date, total, rule_set_version, run_id "
    "FROM billing.invoice_drafts WHERE invoice_number = ?",
    lines=f"SELECT {_LINE_COLUMNS} FROM billing.invoice_draft_lines AS l WHERE {{where}} ORDER BY line_no",
    sources=f"SELECT {_SOURCE_COLUMNS} FROM billing.invoice_line_sources AS s "
    "JOIN normalized.billable_lines AS b USING (line_id) WHERE {where} ORDER BY s.line_no, b.line_id",
    number_column="invoice_number",
)
# A correction line draws on the lines its invoice line's group holds now (`current_line_ids`).
_CORRECTIONS = _DocumentReads(
    header="SELECT document_number, document_kind, original_number, entity, period, contact_name, currency, "
    "document_date, total, rule_set_version, run_id FROM billing.correction_documents WHERE document_number = ?",
    lines="SELECT l.line_no, l.description, l.quantity, l.unit_amount, l.line_amount, l.tax_type, l.tax_amount, "
    "l.account_code, c.billed_quantity, c.current_quantity, c.correction_amount "
    "FROM billing.correction_document_lines AS l LEFT JOIN billing.correction_sources AS c "
    "USING (document_number, line_no) WHERE {where} ORDER BY l.line_no",
    sources=f"SELECT {_SOURCE_COLUMNS} FROM (SELECT document_number, line_no, unnest(current_line_ids) AS line_id "
    "FROM billing.correction_sources) AS s JOIN normalized.billable_lines AS b USING (line_id) "
    "WHERE {where} ORDER BY s.line_no, b.line_id",
    number_column="document_number",
)


def _outbox(warehouse: Warehouse, entity: str, numbers: list[str]) -> list[dict[str, Any]]:
    return _rows(
        warehouse.query(
            entity,
            "SELECT document_number, document_kind, status, external_id, posted_total, currency, updated_at, "
            "run_id FROM posting.outbox WHERE document_number IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY document_number",
            [numbers],
        )
    )


def _posted_lines(warehouse: Warehouse, entity: str, number: str) -> dict[int, dict[str, Any]]:
    frame = warehouse.query(
        entity,
        "SELECT line_no, posted_at, run_id FROM posting.posted_lines WHERE document_number = ?",
        [number],
    )
    return {row["line_no"]: row for row in frame.iter_rows(named=True)}


def _with_runs(warehouse: Warehouse, entity: str, trace: dict[str, Any], run_ids: set[str]) -> dict[str, Any]:
    runs = recorded_runs(warehouse, entity, sorted(r for r in run_ids if r))
    trace["runs"] = {run_id: vars(run) for run_id, run in runs.items()}
    trace["unrecorded_runs"] = sorted(r for r in run_ids if r and r not in runs)
    return trace


def _where(reads: _DocumentReads, alias: str, number: str, line_no: int | None) -> tuple[str, list[Any]]:
    if line_no is None:
        return f"{alias}.{reads.number_column} = ?", [number]
    return f"{alias}.{reads.number_column} = ? AND {alias}.line_no = ?", [number, line_no]


def trace_invoice(
    warehouse: Warehouse, entity: str, number: str, line_no: int | None = None
) -> dict[str, Any] | None:
    """The invoice or correction (or its line `line_no`) back to its sources, approvals, runs and people;
    None when the entity has no such document."""
    for reads in (_INVOICES, _CORRECTIONS):
        headers = _rows(warehouse.query(entity, reads.header, [number]))
        if headers:
            return _trace_document(warehouse, entity, reads, headers[0], line_no)
    return None


def _trace_document(
    warehouse: Warehouse, entity: str, reads: _DocumentReads, document: dict[str, Any], line_no: int | None
) -> dict[str, Any]:
    number = document["document_number"]
    where, params = _where(reads, "l", number, line_no)
    lines = _rows(warehouse.query(entity, reads.lines.format(where=where), params))
    where, params = _where(reads, "s", number, line_no)
    sources = _rows(warehouse.query(entity, reads.sources.format(where=where), params))
    approvals(warehouse, entity, sources)
    posted = _posted_lines(warehouse, entity, number)
    for line in lines:
        line["sources"] = [s for s in sources if s["line_no"] == line["line_no"]]
        line["posted"] = posted.get(line["line_no"])
    outbox = _outbox(warehouse, entity, [number])
    run_ids = {document["run_id"], *(o["run_id"] for o in outbox), *(p["run_id"] for p in posted.values())}
    for source in sources:
        run_ids.add(source["run_id"])
        for seen in (source["first_seen_approved"], source["billed_version"]):
            if seen:
                run_ids.add(seen["run_id"])
    trace = {"entity": entity, "document": document, "outbox": outbox, "lines": lines}
    return _with_runs(warehouse, entity, trace, run_ids)


def trace_entry(warehouse: Warehouse, entity: str, entry_id: int) -> dict[str, Any] | None:
    """A time entry or expense forward: its lines, the invoice lines billing them, the posted documents
    and the corrections that changed them; None when the entity has no line from it."""
    lines = _rows(
        warehouse.query(
            entity,
            f"SELECT {_SOURCE_COLUMNS.replace('s.line_no, ', '')}, s.invoice_number, s.line_no "
            "FROM normalized.billable_lines AS b LEFT JOIN billing.invoice_line_sources AS s USING (line_id) "
            "WHERE b.source_id = ? ORDER BY b.line_id",
            [entry_id],
        )
    )
    if not lines:
        return None
    approvals(warehouse, entity, lines)
    line_ids = [line["line_id"] for line in lines]
    invoices = sorted({line["invoice_number"] for line in lines if line["invoice_number"]})
    # Corrections of the invoices that billed the entry: those whose lines draw on the entry say so.
    corrections = _rows(
        warehouse.query(
            entity,
            "SELECT document_number, line_no, document_kind, status, original_number, correction_amount, "
            "list_has_any(current_line_ids, ?::VARCHAR[]) AS touches_entry, run_id FROM billing.correction_sources "
            "WHERE list_has_any(current_line_ids, ?::VARCHAR[]) OR original_number IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY document_number, line_no",
            [line_ids, line_ids, invoices],
        )
    )
    outbox = _outbox(warehouse, entity, sorted({*invoices, *(c["document_number"] for c in corrections)}))
    run_ids = (
        {line["run_id"] for line in lines}
        | {o["run_id"] for o in outbox}
        | {c["run_id"] for c in corrections}
    )
    for line in lines:
        for seen in (line["first_seen_approved"], line["billed_version"]):
            if seen:
                run_ids.add(seen["run_id"])
    trace = {
        "entity": entity,
        "entry_id": entry_id,
        "lines": lines,
        "outbox": outbox,
        "corrections": corrections,
    }
    return _with_runs(warehouse, entity, trace, run_ids)
