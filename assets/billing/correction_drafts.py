"""The corrections asset: credit notes and supplementary invoices for posted invoices whose drafts changed.

Per entity-month, after the invoice drafts are rebuilt: what the ledger booked for each drafted
invoice (posting.posted_lines: the original, and corrections already issued) is compared with the
current draft, per line key (rules/billing/corrections.py). The differences are drafted into
billing.correction_documents / _document_lines in the outbound shape, which the outbox posts in
the same month's posting pass; the reasons anything was moved, held or blocked go to
billing.correction_holds (`billbridge report` lists them). Nothing is ever posted from here.
"""

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from assets.billing.invoice_drafts import INVOICE_DRAFTS
from assets.gate import CheckGate, blocking_checks
from assets.partitions import MonthSlice, Partitions, month_slices
from assets.reporting import money_totals, preview
from checks.schemas import (
    CorrectionDocumentLines,
    CorrectionDocuments,
    CorrectionHolds,
    CorrectionSources,
    validate,
)
from resources.circuit_breaker import CircuitOpenError
from resources.configuration import Settings
from resources.http_retry import TRANSPORT_ERRORS, PermanentHTTPError, TransientHTTPError
from resources.rate_limit import DailyLimitReached
from resources.warehouse import Warehouse, append, replace_slice
from resources.xero import XeroClient
from rules.billing.correction_check import reconciles
from rules.billing.corrections import (
    BLOCKED,
    ORIGINAL_SCHEMA,
    BookedInvoices,
    CorrectionRound,
    Corrections,
    blocked_originals,
    client_of,
    correct_invoices,
)
from rules.billing.differences import KEY_MAP_SCHEMA, drafted_invoice_numbers
from rules.billing.lock_dates import binding_lock_date
from rules.invariants import lines_sum_to_totals
from rules.settings import BillbridgeConfig, EntityConfig

CORRECTION_DRAFTS = dg.AssetKey(["billing", "correction_drafts"])
TOTALS_CHECK = "correction_total_equals_sum_of_lines"
RECONCILES_CHECK = "billed_plus_corrections_equals_current_draft"


class CorrectionRun(dg.Config):
    """Run config: the tenant's lock date for this run (until the accounting connector reads it)."""

    lock_date: str = Field(
        default="",
        description="YYYY-MM-DD, overriding corrections.entities[].lock_date of the mapping document; empty: use it",
    )


def _lock_date_override(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise dg.Failure(
            description=f"run config lock_date: expected a date YYYY-MM-DD, got {text!r}"
        ) from None


def _read(warehouse: Warehouse, part: MonthSlice, sql: str) -> pl.DataFrame:
    return warehouse.query(part.entity, sql, [part.entity, part.period])


def _originals(
    warehouse: Warehouse,
    part: MonthSlice,
    settings: BillbridgeConfig,
    entity: EntityConfig,
    posted: pl.DataFrame,
    headers: pl.DataFrame,
) -> pl.DataFrame:
    """What each posted drafted invoice needs beyond its booked lines: contact, rate, price basis.

    From its current draft where there is one; a vanished invoice takes its contact from the
    mapping (the number names the client) and its rate from the rate pinned for its date.
    """
    booked = posted.filter(
        (pl.col("document_number") == pl.col("original_number"))
        & pl.col("document_number").str.contains(drafted_invoice_numbers(part.entity, part.period))
    ).unique("document_number")
    drafted = {row["invoice_number"]: row for row in headers.iter_rows(named=True)}
    contacts = {c.pm_client_id: c.contact_name for c in settings.mapping.clients if c.entity == part.entity}
    rows = []
    for row in booked.iter_rows(named=True):
        number, currency = row["document_number"], row["currency"]
        if number in drafted:
            head = drafted[number]
            resolved = {
                k: head[k] for k in ("contact_name", "base_currency", "currency_rate", "line_amount_types")
            }
            rows.append({"original_number": number, **resolved, "blocked_reason": None})
            continue
        why = []
        contact = contacts.get(client_of(number))
        if contact is None:
            why.append(f"client {client_of(number)} has no contact in the mapping for entity {part.entity!r}")
        rate = None
        if currency == entity.base_currency:
            rate = Decimal(1)
        else:
            pinned = warehouse.query(
                part.entity,
                "SELECT fx_rate FROM reference.fx_rates WHERE entity = ? AND day = ? AND from_currency = ? "
                "AND to_currency = ?",
                [part.entity, row["document_date"], entity.base_currency, currency],
            )
            rate = pinned["fx_rate"][0] if pinned.height else None
            if rate is None:
                why.append(f"no {entity.base_currency}->{currency} rate is pinned for {row['document_date']}")
        rows.append(
            {
                "original_number": number, "contact_name": contact, "base_currency": entity.base_currency,
                "currency_rate": rate, "line_amount_types": entity.line_amount_types,
                "blocked_reason": "; ".join(why) or None,
            }
        )  # fmt: skip
    return pl.DataFrame(rows, schema=ORIGINAL_SCHEMA)


def _unsnapshotted(
    part: MonthSlice, outbox: pl.DataFrame, posted: pl.DataFrame, headers: pl.DataFrame
) -> dict[str, str]:
    """Invoices confirmed before booked lines were kept whose draft has changed since: blocked, with why."""
    confirmed = outbox.filter(
        (pl.col("status") == "confirmed")
        & pl.col("document_number").str.contains(drafted_invoice_numbers(part.entity, part.period))
        & ~pl.col("document_number").is_in(posted["document_number"].unique().to_list())
    )
    hashes = dict(zip(headers["invoice_number"], headers["content_hash"], strict=True))
    return {
        row["document_number"]: (
            "cannot correct: posted before booked lines were kept (posting.posted_lines), so what the ledger "
            "holds is unknown here; compare the ledger with the draft and correct by hand"
        )
        for row in confirmed.iter_rows(named=True)
        if hashes.get(row["document_number"]) != row["content_hash"]
    }


def _in_flight(outbox: pl.DataFrame, documents: pl.DataFrame) -> dict[str, str]:
    """Documents whose earlier version was sent with its outcome unknown: redrafting them could book both."""
    sent = {
        row["document_number"]: row["content_hash"]
        for row in outbox.filter(pl.col("status") == "sent").iter_rows(named=True)
    }
    return {
        row["document_number"]: (
            "an earlier version was sent and its outcome is unknown (outbox status sent): waits until the "
            "outbox settles it"
        )
        for row in documents.iter_rows(named=True)
        if row["document_number"] in sent and sent[row["document_number"]] != row["content_hash"]
    }


def correct_month(
    settings: BillbridgeConfig,
    warehouse: Warehouse,
    part: MonthSlice,
    lock_date_override: date | None,
    run_id: str,
    ledger_lock_date: Callable[[], date | None] = lambda: None,
) -> tuple[Corrections, dict[str, tuple[bool, str]], list[str]]:
    """One entity-month's corrections and check outcomes (nothing written), and the posted numbers.

    The lock date is the run config's override, else the later of the mapping document's and the
    tenant's own (`ledger_lock_date`, read only when something of the month is booked).
    """
    entity = settings.entity(part.entity)
    policy = settings.mapping.corrections.settings(part.entity)
    posted = _read(warehouse, part, "SELECT * FROM posting.posted_lines WHERE entity = ? AND period = ?")
    lock_date = lock_date_override or binding_lock_date(
        policy.lock_date, ledger_lock_date() if posted.height else None
    )
    posted_numbers = posted["document_number"].unique().sort().to_list()
    key_map = warehouse.query(
        part.entity,
        f"SELECT {', '.join(KEY_MAP_SCHEMA.names())} FROM billing.correction_sources "
        "WHERE entity = ? AND period = ? AND document_number IN (SELECT unnest(?::VARCHAR[]))",
        [part.entity, part.period, posted_numbers],
    ).cast(dict(KEY_MAP_SCHEMA))  # type: ignore[arg-type]
    draft_lines = _read(
        warehouse, part, "SELECT * FROM billing.invoice_draft_lines WHERE entity = ? AND period = ?"
    )
    draft_sources = _read(
        warehouse, part, "SELECT * FROM billing.invoice_line_sources WHERE entity = ? AND period = ?"
    )
    headers = _read(warehouse, part, "SELECT * FROM billing.invoice_drafts WHERE entity = ? AND period = ?")
    outbox = _read(
        warehouse,
        part,
        "SELECT document_number, status, content_hash FROM posting.outbox WHERE entity = ? AND period = ?",
    )
    # Numbers taken for good: booked, or closed in the outbox (an operator's discard is never reused).
    closed = outbox.filter(pl.col("status").is_in(["confirmed", "discarded"]))["document_number"].to_list()
    corrections = correct_invoices(
        BookedInvoices(
            posted.cast({"line_no": pl.Int32}),
            key_map,
            _originals(warehouse, part, settings, entity, posted, headers),
            used_numbers=[*posted_numbers, *closed],
        ),
        draft_lines,
        draft_sources,
        CorrectionRound(
            entity,
            part.period,
            lock_date=lock_date,
            locked_period=policy.locked_period or "move_to_open_period",
            rule_set_version=settings.rule_set_version,
            run_id=run_id,
        ),
    )
    corrections = corrections.withhold(
        _in_flight(outbox, corrections.documents), part.entity, part.period, run_id
    )
    unsnapshotted = blocked_originals(
        part.entity, part.period, _unsnapshotted(part, outbox, posted, headers), run_id
    )
    corrections = Corrections(
        corrections.documents,
        corrections.lines,
        corrections.sources,
        pl.concat([corrections.holds, unsnapshotted]),
    )
    outcomes = {
        TOTALS_CHECK: lines_sum_to_totals(corrections.documents, corrections.lines, key="document_number"),
        RECONCILES_CHECK: reconciles(posted, key_map, draft_lines, corrections, part.entity, part.period),
    }
    return corrections, outcomes, posted_numbers


def _signed_totals(documents: pl.DataFrame, kind: str) -> dict[str, str]:
    return money_totals(documents.filter(pl.col("document_kind") == kind), "currency", "total")


CHECKS = blocking_checks(
    CORRECTION_DRAFTS,
    {
        TOTALS_CHECK: "Each credit note's and supplementary invoice's subtotal, tax and total equal the sums of its lines.",
        RECONCILES_CHECK: "Per line key, what was booked plus the corrections equals the current invoice draft.",
    },
)


def _tenant_lock_date(
    context: dg.AssetExecutionContext, xero: XeroClient, entity: EntityConfig
) -> Callable[[], date | None]:
    """Reads the tenant's lock date when called; None (and a warning) when the ledger cannot say."""

    def read() -> date | None:
        try:
            return xero.lock_date(entity.accounting_tenant_id)
        except (
            *TRANSPORT_ERRORS,
            TransientHTTPError,
            PermanentHTTPError,
            DailyLimitReached,
            CircuitOpenError,
        ) as exc:
            # The outbox still refuses to send into a locked period; drafting goes on with the configured date.
            context.log.warning(
                f"{entity.id}: the tenant's lock date could not be read ({exc}); using the configured one"
            )
            return None

    return read


def correct_months(
    context: dg.AssetExecutionContext,
    config: CorrectionRun,
    warehouse: Warehouse,
    xero: XeroClient,
    settings: Settings,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """Credit notes and supplementary invoices for posted invoices whose drafts changed since posting."""
    override = _lock_date_override(config.lock_date)
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
    documents_all: list[pl.DataFrame] = []
    holds_all: list[pl.DataFrame] = []
    for part in month_slices(context):
        # The tenant is asked first: nothing waits on the provider while the file is held.
        lock_date = _tenant_lock_date(context, xero, settings.entity(part.entity))
        with warehouse.held(part.entity):  # the month's file, not the tenant's answer
            corrections, outcomes, posted_numbers = correct_month(
                settings,
                warehouse,
                part,
                override,
                context.run.run_id,
                lock_date,
            )
            # The write gate: wrong money never reaches the tables, whatever the checks say.
            documents = validate(CorrectionDocuments, corrections.documents)
            lines = validate(CorrectionDocumentLines, corrections.lines)
            sources = validate(CorrectionSources, corrections.sources)
            holds = validate(CorrectionHolds, corrections.holds)
            if not gate.admit(part, outcomes):
                yield from gate.stop()
            where, params = "entity = ? AND period = ?", [part.entity, part.period]
            with gate.transaction(part) as con:
                replace_slice(con, "billing.correction_documents", documents, where, params)
                replace_slice(con, "billing.correction_document_lines", lines, where, params)
                # A booked document's trace stays: it maps its lines back to their keys in later rounds.
                con.execute(
                    f"DELETE FROM billing.correction_sources WHERE {where} "
                    "AND document_number NOT IN (SELECT unnest(?::VARCHAR[]))",
                    [*params, posted_numbers],
                )
                append(con, "billing.correction_sources", sources)
                replace_slice(con, "billing.correction_holds", holds, where, params)
            documents_all.append(documents)
            holds_all.append(holds)
    documents = pl.concat(documents_all)
    holds = pl.concat(holds_all)
    by_status: dict[str, Any] = dict(holds.group_by("status").len().sort("status").iter_rows())
    yield dg.MaterializeResult(
        check_results=gate.results(),
        metadata={
            "dagster/row_count": documents.height,
            "credit_notes": documents.filter(pl.col("document_kind") == "credit_note").height,
            "supplementary_invoices": documents.filter(pl.col("document_kind") == "invoice").height,
            "credited_total": _signed_totals(documents, "credit_note"),
            "supplementary_total": _signed_totals(documents, "invoice"),
            "holds": {status: int(n) for status, n in by_status.items()},
            "blocked": holds.filter(pl.col("status") == BLOCKED)["original_number"].to_list(),
            "preview": dg.MetadataValue.md(
                preview(
                    documents,
                    ["document_number", "document_type", "original_number", "document_date", "total"],
                )
            ),
            "holds_preview": dg.MetadataValue.md(
                preview(holds, ["original_number", "document_number", "status", "reason"])
            ),
        },
    )


def build_correction_drafts(partitions: Partitions) -> dg.AssetsDefinition:
    """`billing/correction_drafts` over the configuration's entity-months."""
    return dg.asset(
        key=CORRECTION_DRAFTS,
        deps=[INVOICE_DRAFTS],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=CHECKS,
        kinds={"polars", "duckdb"},
        group_name="billing",
        owners=["team:data"],
    )(correct_months)
