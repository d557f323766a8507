"""The posting layer's asset: the month's outbound documents posted to the entity's tenant, exactly once.

Invoices, intercompany bills, corrections (credit notes, supplementary invoices) and journals all
go through the one outbox (assets/posting/outbox.py); the asset keeps its first name, posted_invoices.
It reads the documents through the `document_sources` resource (assets/outbound_sources.py), so
the posting layer imports no producer; its deps name the producers' assets by key for the same reason.
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.gate import CheckGate, blocking_checks
from assets.partitions import Partitions, month_slices
from assets.posting.outbox import post_period
from assets.reporting import money_totals, preview
from assets.tracing import traced_step
from resources.configuration import Settings
from resources.outbox.sources import DocumentSources
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.invariants import posted_have_external_ids

POSTED_INVOICES = dg.AssetKey(["posting", "posted_invoices"])
POSTED_CHECK = "posted_invoices_have_external_id_and_draft_total"
# The producers of outbound documents (each registered as a source in assets/outbound_sources.py).
PRODUCERS = [
    dg.AssetKey(["billing", "invoice_drafts"]),
    dg.AssetKey(["billing", "correction_drafts"]),
    dg.AssetKey(["billing", "intercompany_charges"]),
    dg.AssetKey(["allocation", "capex_journal_drafts"]),
    dg.AssetKey(["reconciliation", "settlement_payments"]),
]


CHECKS = blocking_checks(
    POSTED_INVOICES,
    {
        POSTED_CHECK: "Every posted invoice has the accounting system's id, and the total it booked equals "
        "the draft's."
    },
)


def post_months(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    xero: XeroClient,
    settings: Settings,
    document_sources: dg.ResourceParam[DocumentSources],
) -> Iterator[dg.MaterializeResult]:
    """Send the month's documents through the outbox; already-posted documents are recognised, not sent again."""
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
    totals = {
        "posted_new": 0,
        "already_posted": 0,
        "found_by_lookup": 0,
        "dead_lettered": 0,
        "changed_after_posting": 0,
        "unresolved": 0,
        "held": 0,
        "allocated": 0,
        "requests": 0,
    }
    frames = []
    statuses: list[str] = []  # kill switch, another run's claim, daily limit or open circuit
    for part in month_slices(context):
        entity = settings.entity(part.entity)
        with traced_step(context, warehouse, settings, "posting", part) as step:
            outcome = post_period(
                entity,
                part.period,
                warehouse,
                xero,
                context.run.run_id,
                sources=document_sources,
                log=context.log,  # type: ignore[arg-type]
            )
            step.set_attribute("billbridge.posted_new", len(outcome.posted_new))
            step.set_attribute("billbridge.already_posted", len(outcome.already_posted))
        for status in (
            outcome.skipped,
            outcome.blocked_by and f"another run holds the claim: {outcome.blocked_by}",
            outcome.stopped,
        ):
            if status:
                statuses.append(f"{part.label()}: {status}")
        for key in totals:
            value = getattr(outcome, key)
            totals[key] += value if isinstance(value, int) else len(value)
        outbox = warehouse.query(
            part.entity,
            "SELECT * FROM posting.outbox WHERE entity = ? AND period = ?",
            [part.entity, part.period],
        )
        # The check judges what was posted: it is recorded, reported and fails the run, but undoes nothing.
        gate.record(part, {POSTED_CHECK: posted_have_external_ids(outbox)})
        frames.append(outbox)
        if outcome.posted_new:
            context.log.info(f"{part.label()}: posted {len(outcome.posted_new)} new document(s)")
        else:
            context.log.info(
                f"{part.label()}: nothing new to post ({len(outcome.already_posted)} already posted)"
            )
    outbox = pl.concat(frames) if frames else pl.DataFrame()
    confirmed = outbox.filter(pl.col("status") == "confirmed") if outbox.height else outbox
    if statuses:
        # Visible in the UI: the step ran, posted what it could and says why the rest did not go.
        context.log.warning("posting not complete: " + "; ".join(statuses))
    yield dg.MaterializeResult(
        check_results=gate.results(),
        metadata={
            "posting_status": "; ".join(statuses) or "posted",
            **totals,
            "dagster/row_count": confirmed.height,
            "posted_totals": money_totals(confirmed, "currency", "posted_total"),
            "outbox": dg.MetadataValue.md(
                preview(
                    outbox,
                    [
                        "document_number",
                        "document_kind",
                        "status",
                        "attempts",
                        "external_id",
                        "posted_total",
                        "last_error",
                    ],
                    rows=20,
                )
            ),
        },
    )
    if not gate.passed:
        raise gate.failure()


def build_posted_invoices(partitions: Partitions) -> dg.AssetsDefinition:
    """`posting/posted_invoices` over the configuration's entity-months."""
    return dg.asset(
        key=POSTED_INVOICES,
        # Every producer of outbound documents: in a run with them, posting waits until they are drafted.
        deps=PRODUCERS,
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=CHECKS,
        kinds={"xero", "duckdb"},
        group_name="posting",
        owners=["team:finance-systems"],
        pool="accounting_api",
    )(post_months)
