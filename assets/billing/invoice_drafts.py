"""The billing layer's asset: invoice drafts per entity-month, with blocking money checks."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.gate import CheckGate, blocking_checks
from assets.normalized.billable_lines import BILLABLE_LINES, FxRerun
from assets.partitions import MonthSlice, Partitions, days_to_month, month_slices
from assets.reporting import money_totals, preview
from assets.tracing import traced_step
from checks.schemas import BillableLines, InvoiceDraftLines, InvoiceDrafts, RetainerBalances, validate
from resources.configuration import Settings
from resources.fx import EcbRates
from resources.warehouse import Warehouse, pin_rates, pinned_rates, replace_slice
from rules.billing.drafting import DraftingContext, draft_invoices
from rules.billing.retainers import RetainerPeriodMissing, in_force, opening_balances
from rules.billing.shadow import rule_versions
from rules.calendar import previous_period
from rules.fx_rates import FxSnapshot
from rules.invariants import billed_at_most_once, lines_sum_to_totals
from rules.settings import BillbridgeConfig

INVOICE_DRAFTS = dg.AssetKey(["billing", "invoice_drafts"])
LINES_SUM_TO_TOTALS = "invoice_total_equals_sum_of_lines"
BILLED_ONCE = "no_time_entry_billed_twice"


CHECKS = blocking_checks(
    INVOICE_DRAFTS,
    {
        LINES_SUM_TO_TOTALS: "Each invoice's subtotal, tax and total equal the sums of its lines.",
        BILLED_ONCE: "No time entry or expense is billed by two invoice lines.",
    },
)


def month_inputs(
    warehouse: Warehouse,
    settings: BillbridgeConfig,
    part: MonthSlice,
    snapshot: FxSnapshot,
    run_id: str,
    *,
    rerate: bool = False,
) -> tuple[pl.DataFrame, DraftingContext]:
    """The entity-month's billable lines (validated) and what drafting them needs: the rates pinned
    by an earlier run (unless `rerate`) and the retainers opened at the previous period's closings."""
    entity = settings.entity(part.entity)
    lines = warehouse.query(
        part.entity,
        "SELECT * FROM normalized.billable_lines WHERE entity = ? AND day BETWEEN ? AND ? ORDER BY line_id",
        [part.entity, part.month, part.month_end],
    )
    lines = validate(BillableLines, lines)
    # Retainers open at the previous period's closing, so periods are drafted in order
    # (month_slices sorts them); a gap is refused with the period to draft first.
    retainers = in_force(settings.mapping.retainers, part.entity, part.month, part.month_end)
    closings = warehouse.query(
        part.entity,
        "SELECT retainer_id, closing FROM billing.retainer_balances WHERE entity = ? AND period = ?",
        [part.entity, previous_period(part.period)],
    )
    try:
        accounts = opening_balances(
            retainers,
            part.period,
            dict(closings.iter_rows()),
            settings.billing_start,
            {c.pm_client_id: c.contact_name for c in settings.mapping.clients},
        )
    except RetainerPeriodMissing as exc:
        raise dg.Failure(description=f"{part.label()}: {exc}") from None
    pinned = None if rerate else pinned_rates(warehouse, part.entity, [part.month_end.isoformat()])
    return lines, DraftingContext(
        entity, part.month, part.month_end, snapshot, run_id, pinned_rates=pinned, retainers=accounts
    )


def draft_months(
    context: dg.AssetExecutionContext, config: FxRerun, warehouse: Warehouse, fx: EcbRates, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """One draft invoice per client and month: a line per project, task and rate, priced as the ledger books it."""
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
    snapshot = fx.snapshot()
    invoices_all: list[pl.DataFrame] = []
    lines_all: list[pl.DataFrame] = []
    balances_all: list[pl.DataFrame] = []
    for part in month_slices(context):
        lines, drafting = month_inputs(
            warehouse, settings, part, snapshot, context.run.run_id, rerate=config.rerate_fx
        )
        with traced_step(context, warehouse, settings, "drafting", part) as step:
            drafts = draft_invoices(lines, drafting, rule_versions(settings, part.entity).serving)
            step.set_attribute("billbridge.invoices", drafts.invoices.height)
        # The write gate: wrong money never reaches the table, whatever the checks below say.
        invoices = validate(InvoiceDrafts, drafts.invoices)
        draft_lines = validate(InvoiceDraftLines, drafts.lines)
        balances = validate(RetainerBalances, drafts.retainer_balances)
        billed_elsewhere = warehouse.query(
            part.entity,
            "SELECT line_id FROM billing.invoice_line_sources WHERE entity = ? AND period <> ?",
            [part.entity, part.period],
        )
        outcomes = {
            LINES_SUM_TO_TOTALS: lines_sum_to_totals(invoices, draft_lines),
            BILLED_ONCE: billed_at_most_once(drafts.sources, billed_elsewhere),
        }
        if not gate.admit(part, outcomes):
            yield from gate.stop()
        where, params = "entity = ? AND period = ?", [part.entity, part.period]
        with gate.transaction(part) as con:
            replace_slice(con, "billing.invoice_drafts", invoices, where, params)
            replace_slice(con, "billing.invoice_draft_lines", draft_lines, where, params)
            replace_slice(con, "billing.invoice_line_sources", drafts.sources, where, params)
            replace_slice(con, "billing.retainer_balances", balances, where, params)
            pin_rates(con, part.entity, drafts.rates_used, context.run.run_id)
        invoices_all.append(invoices)
        lines_all.append(draft_lines)
        balances_all.append(balances)
    invoices = pl.concat(invoices_all)
    yield dg.MaterializeResult(
        check_results=gate.results(),
        metadata={
            "dagster/row_count": invoices.height,
            "invoice_lines": sum(f.height for f in lines_all),
            "retainer_balances": dg.MetadataValue.md(
                preview(
                    pl.concat(balances_all),
                    ["period", "retainer_id", "currency", "opening", "top_up", "drawn", "closing"],
                )
            ),
            "totals_txn": money_totals(invoices, "currency", "total"),
            "totals_base": money_totals(invoices, "base_currency", "total_base"),
            "rule_set_version": ", ".join(
                sorted(
                    {
                        rule_versions(settings, p.entity).serving.rule_set_version
                        for p in month_slices(context)
                    }
                )
            ),
            "preview": dg.MetadataValue.md(
                preview(
                    invoices, ["invoice_number", "contact_name", "currency", "subtotal", "total_tax", "total"]
                )
            ),
        },
    )


def build_invoice_drafts(partitions: Partitions) -> dg.AssetsDefinition:
    """`billing/invoice_drafts` over the configuration's entity-months."""
    return dg.asset(
        key=INVOICE_DRAFTS,
        deps=[dg.AssetDep(BILLABLE_LINES, partition_mapping=days_to_month)],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=CHECKS,
        kinds={"polars", "duckdb"},
        group_name="billing",
        owners=["team:data"],
    )(draft_months)
