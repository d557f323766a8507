"""Allocation journals as outbound documents: what the outbox posts for an entity-month's allocation.

`allocation.journal_drafts` holds every allocation run's ManualJournal drafts (signed lines,
debit positive); only the entity-month's *current* run (its latest non-dry run) may reach the
ledger. `journal_documents_for_posting` turns that run's drafts into headers and lines in the
outbound shape of `rules/documents.py`, so the outbox posts them like any document,
and keeps the ledger equal to the current run whatever was posted before:

- a journal numbered by an earlier run and already posted is kept, same number and same
  content hash, when the current run drafts it unchanged: re-running never books it twice;
- a posted journal the current run no longer drafts, or drafts differently, is reversed by
  `<number>-REV` (its posted lines negated, on its date) before the current run's journals,
  which get new numbers; a posted journal with a posted reversal is history, left alone.

Numbers: `document_number_prefix(entity, period)` + `MJ-` + 10 hex of sha256(journal_ref|run id
of the run that first drafted it). The journal's ref travels in its narration (`[ref]`).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import polars as pl

from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA, content_hash, document_number_prefix
from rules.invariants import journals_balance

KIND = "manual_journal"
REVERSAL_SUFFIX = "-REV"
# Xero's manual journal lines carry TaxType optionally; NONE (no tax) is accepted by the
# sandbox and by the tenants we target, and says outright that an allocation carries no tax.
NO_TAX = "NONE"
# Columns of `posted` the function reads (posting.posted_lines has them; others are ignored).
POSTED_COLUMNS = (
    "document_number",
    "entity",
    "period",
    "line_no",
    "description",
    "line_amount",
    "account_code",
    "tax_type",
    "currency",
    "document_date",
)
# Columns of allocation.journal_drafts it reads.
DRAFT_COLUMNS = (
    "run_id",
    "entity",
    "period",
    "journal_ref",
    "journal_date",
    "narration",
    "line_no",
    "account_code",
    "description",
    "line_amount",
    "currency",
    "rule_set_version",
)


class JournalPostingError(ValueError):
    """The journals cannot be posted as they are (unbalanced, ambiguous or inconsistent input)."""


def allocation_journal_prefix(entity: str, period: str) -> str:
    """`BB-US-202609-MJ-`: the start of every allocation journal number of the entity-month."""
    return f"{document_number_prefix(entity, period)}MJ-"


def journal_number(entity: str, period: str, journal_ref: str, run_id: str) -> str:
    """The number of a journal first drafted by allocation run `run_id`: short, stable, unique per run."""
    digest = hashlib.sha256(f"{journal_ref}|{run_id}".encode()).hexdigest()[:10].upper()
    return allocation_journal_prefix(entity, period) + digest


def _missing(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise JournalPostingError(f"{what} lacks column(s) {absent}")


def _document(
    rows: list[dict[str, Any]],
    *,
    number: str,
    entity: str,
    period: str,
    reference: str,
    original_number: str | None,
    rule_set_version: str,
    run_id: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One journal's header and lines in the outbound shape; `rows` are its lines, signed, in order."""
    first = rows[0]
    lines = [
        {
            "document_number": number,
            "line_no": row["line_no"],
            "entity": entity,
            "period": period,
            "description": row["description"],
            "quantity": Decimal(1),
            "unit_amount": row["line_amount"],
            "line_amount": row["line_amount"],
            "tax_type": NO_TAX,
            "tax_amount": Decimal(0),
            "account_code": row["account_code"],
        }
        for row in rows
    ]
    debits = sum((row["line_amount"] for row in rows if row["line_amount"] > 0), Decimal(0))
    header = {
        "document_number": number,
        "document_kind": KIND,
        "document_type": None,
        "entity": entity,
        "period": period,
        "contact_name": None,
        "reference": reference,
        "document_date": first["date"],
        "due_date": None,
        "currency": first["currency"],
        "base_currency": first["currency"],  # allocations are in the entity's base currency
        "currency_rate": Decimal(1),
        "line_amount_types": "NoTax",
        "subtotal": debits,  # a journal's total is its debits (= its credits)
        "total_tax": Decimal(0),
        "total": debits,
        "original_number": original_number,
        "content_hash": "",
        "rule_set_version": rule_set_version,
        "run_id": run_id,
    }
    return header, lines


def _hashed(
    header: dict[str, Any], lines: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The document with its content hash: of what the ledger receives, through the frame types
    (so Decimal scales are canonical), without provenance (run id, rule-set version)."""
    typed_header = pl.DataFrame([header], schema=DOCUMENT_HEADER_SCHEMA).row(0, named=True)
    typed_lines = pl.DataFrame(lines, schema=DOCUMENT_LINE_SCHEMA).to_dicts()
    content = {
        k: v for k, v in typed_header.items() if k not in ("content_hash", "rule_set_version", "run_id")
    }
    return {**typed_header, "content_hash": content_hash(content, typed_lines)}, typed_lines


def in_period(headers: pl.DataFrame, lines: pl.DataFrame, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The documents filed under `period` (the close that posts them), their content hashes redone."""
    documents = []
    for header in headers.iter_rows(named=True):
        own = lines.filter(pl.col("document_number") == header["document_number"]).sort("line_no")
        documents.append(
            _hashed({**header, "period": period}, [{**line, "period": period} for line in own.to_dicts()])
        )
    return (
        pl.DataFrame([h for h, _ in documents], schema=DOCUMENT_HEADER_SCHEMA),
        pl.DataFrame([line for _, ls in documents for line in ls], schema=DOCUMENT_LINE_SCHEMA),
    )


def _drafted(
    drafts: pl.DataFrame, entity: str, period: str
) -> dict[tuple[str, str], tuple[str, list[dict[str, Any]], str]]:
    """{(run id, journal ref): (narration, lines in order, rule-set version)} of every run's drafts."""
    journals: dict[tuple[str, str], tuple[str, list[dict[str, Any]], str]] = {}
    ordered = drafts.sort("run_id", "journal_ref", "line_no")
    for (run_id, ref), rows in ordered.group_by(["run_id", "journal_ref"], maintain_order=True):
        records = rows.rename({"journal_date": "date"}).to_dicts()
        if len({(r["date"], r["narration"], r["currency"]) for r in records}) != 1:
            raise JournalPostingError(
                f"allocation run {run_id}: journal {ref} ({entity} {period}) has lines with different "
                "dates, narrations or currencies"
            )
        journals[(str(run_id), str(ref))] = (
            str(records[0]["narration"]),
            records,
            str(records[0]["rule_set_version"]),
        )
    return journals


def journal_documents_for_posting(
    journal_drafts: pl.DataFrame, current_run_id: str, posted: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(headers, lines) in the outbound shape for one entity-month's allocation journals.

    `journal_drafts`: allocation.journal_drafts rows of ONE entity-month, of every run (earlier
    runs' rows say which journal a posted number stands for; without them a posted journal is
    reversed and re-posted rather than kept). `current_run_id`: the entity-month's current
    allocation run (`assets.allocation.runs.current_run_id`). `posted`: the lines of the journals
    of the entity-month already in the ledger (posting.posted_lines of kind manual_journal; numbers
    outside the allocation's `MJ-` series are ignored); include any whose posting is in doubt.

    Reversals come first (by number), then the current run's journals (by date, then ref).
    Raises JournalPostingError (nothing is produced) when a current journal does not balance,
    or the input spans several entity-months or repeats a number.
    """
    _missing(journal_drafts, DRAFT_COLUMNS, "journal_drafts")
    _missing(posted, POSTED_COLUMNS, "posted")
    places = set(journal_drafts.select("entity", "period").unique().iter_rows())
    places |= set(posted.select("entity", "period").unique().iter_rows())
    if len(places) > 1:
        raise JournalPostingError(f"journals of one entity-month at a time, got {sorted(places)}")
    if not places:
        return pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA), pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA)
    entity, period = places.pop()
    drafted = _drafted(journal_drafts, entity, period)
    current = {ref: journal for (run, ref), journal in drafted.items() if run == current_run_id}
    for ref, (_, rows, _) in current.items():
        balance = sum((r["line_amount"] for r in rows), Decimal(0))
        if balance != 0:
            raise JournalPostingError(
                f"allocation run {current_run_id}: journal {ref} ({entity} {period}) does not balance: "
                f"its lines sum to {balance}, not 0; refusing to post its journals"
            )
    version = next((v for _, _, v in current.values()), "")
    issued_by = {journal_number(entity, period, ref, run): (run, ref) for run, ref in drafted}

    prefix = allocation_journal_prefix(entity, period)
    ours = posted.filter(pl.col("document_number").str.starts_with(prefix)).sort("document_number", "line_no")
    posted_lines = {
        str(number): rows.to_dicts()
        for (number,), rows in ours.group_by(["document_number"], maintain_order=True)
    }
    reversed_numbers = {n.removesuffix(REVERSAL_SUFFIX) for n in posted_lines if n.endswith(REVERSAL_SUFFIX)}
    live = [n for n in posted_lines if not n.endswith(REVERSAL_SUFFIX) and n not in reversed_numbers]

    def build(ref: str, number: str, run: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        narration, rows, rule_set_version = drafted[(run, ref)]
        return _hashed(
            *_document(
                rows,
                number=number,
                entity=entity,
                period=period,
                reference=f"{narration} [{ref}]",
                original_number=None,
                rule_set_version=rule_set_version,
                run_id=current_run_id,
            )
        )

    documents: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    kept: set[str] = set()
    for ref in sorted(current, key=lambda r: (current[r][1][0]["date"], r)):
        number = journal_number(entity, period, ref, current_run_id)
        for candidate in live:
            issuer = issued_by.get(candidate)
            if issuer is None or issuer[1] != ref or candidate in kept:
                continue
            # Unchanged when the current draft, under the posted number, is the posted document.
            if (
                build(ref, candidate, current_run_id)[0]["content_hash"]
                == build(ref, candidate, issuer[0])[0]["content_hash"]
            ):
                number = candidate
                kept.add(candidate)
                break
        if number not in kept and number in posted_lines:
            raise JournalPostingError(
                f"{number} ({ref}, run {current_run_id}) is already in the ledger and superseded; "
                "re-allocate to get a new run"
            )
        documents.append(build(ref, number, current_run_id))

    reversals = []
    for number in sorted(set(live) - kept):
        rows = [
            {**line, "date": line["document_date"], "line_amount": -line["line_amount"]}
            for line in posted_lines[number]
        ]
        reversals.append(
            _hashed(
                *_document(
                    rows,
                    number=number + REVERSAL_SUFFIX,
                    entity=entity,
                    period=period,
                    reference=f"Reversal of {number}: superseded by allocation run {current_run_id}",
                    original_number=number,
                    rule_set_version=version,
                    run_id=current_run_id,
                )
            )
        )
    everything = reversals + documents
    headers = pl.DataFrame([h for h, _ in everything], schema=DOCUMENT_HEADER_SCHEMA)
    lines = pl.DataFrame([line for _, ls in everything for line in ls], schema=DOCUMENT_LINE_SCHEMA)
    if headers["document_number"].n_unique() != headers.height:
        raise JournalPostingError(f"{entity} {period}: two journals share a number; nothing produced")
    ok, detail = journals_balance(headers, lines)
    if not ok:
        raise JournalPostingError(f"{entity} {period}: {detail}; nothing produced")
    return headers, lines
