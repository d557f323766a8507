"""The billing layer's asset: invoice drafts per entity-month, with blocking money checks."""

from collections.abc import Iterator
from dataclasses import replace

import dagster as dg
import polars as pl

from assets.billing.summary import DraftsSummary
from assets.gate import CheckGate, blocking_checks
from assets.normalized.billable_lines import BILLABLE_LINES, FxRerun
from assets.partitions import MonthSlice, Partitions, days_to_month, month_slices
from assets.tracing import traced_step
from checks.schemas import BillableLines, InvoiceDraftLines, InvoiceDrafts, RetainerBalances, validate
from resources.configuration import Settings
from resources.fx import EcbRates
from resources.warehouse import Warehouse, pin_rates, pinned_rates, replace_slice
from rules.billing.client_groups import ClientRange, client_groups, merged_drafts
from rules.billing.drafting import BillingRules, DraftingContext, Drafts, draft_invoices
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


DRAFT_GROUP_LINES = 200_000  # about 0.5 GiB of normalized lines read at once (decision 0048)


class DraftRun(FxRerun):
    """Run config of the drafting step: `group_lines` bounds the normalized lines held at once (whole
    clients of one month, decision 0048), so a year's run needs the memory of a group, not of the year."""

    group_lines: int = DRAFT_GROUP_LINES


def month_lines(warehouse: Warehouse, part: MonthSlice, clients: ClientRange | None = None) -> pl.DataFrame:
    """The entity-month's billable lines (of the clients in `clients`, else all), validated, by line id."""
    within = clients or ClientRange(-(2**63), 2**63 - 1)
    lines = warehouse.query(
        part.entity,
        "SELECT * FROM normalized.billable_lines WHERE entity = ? AND day BETWEEN ? AND ? "
        "AND client_id BETWEEN ? AND ? ORDER BY line_id",
        [part.entity, part.month, part.month_end, within.first, within.last],
    )
    return validate(BillableLines, lines)


def month_context(
    warehouse: Warehouse,
    settings: BillbridgeConfig,
    part: MonthSlice,
    snapshot: FxSnapshot,
    run_id: str,
    *,
    rerate: bool = False,
) -> DraftingContext:
    """What drafting the entity-month needs besides its lines: the rates pinned by an earlier run
    (unless `rerate`) and the retainers opened at the previous period's closings."""
    entity = settings.entity(part.entity)
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
    return DraftingContext(
        entity, part.month, part.month_end, snapshot, run_id, pinned_rates=pinned, retainers=accounts
    )


def draft_month(
    warehouse: Warehouse, part: MonthSlice, drafting: DraftingContext, rules: BillingRules, group_lines: int
) -> Drafts:
    """The entity-month's drafts, read and drafted in groups of whole clients of at most `group_lines`
    lines (rules/billing/client_groups.py): the drafts of the whole month, in its memory of one group."""
    counts = warehouse.query(
        part.entity,
        "SELECT client_id, count(*) FROM normalized.billable_lines WHERE entity = ? AND day BETWEEN ? AND ? "
        "GROUP BY client_id",
        [part.entity, part.month, part.month_end],
    )
    parts = []
    for clients in client_groups(dict(counts.iter_rows()), group_lines):
        accounts = [a for a in drafting.retainers if clients.holds(a.retainer.client)]
        lines = month_lines(warehouse, part, clients)
        parts.append(draft_invoices(lines, replace(drafting, retainers=accounts), rules))
        del lines  # the next group's read should not sit on top of this one's lines
    return merged_drafts(parts, [a.retainer.id for a in drafting.retainers])


def billed_elsewhere(warehouse: Warehouse, part: MonthSlice, sources: pl.DataFrame) -> pl.DataFrame:
    """Which of `sources`' lines another period's drafts of the entity already bill (normally none),
    found in DuckDB: the billed-once check needs those, not every other period's millions of ids."""
    with warehouse.connect(part.entity) as con:
        con.register("_billed_here", sources.select("line_id"))
        try:
            return con.sql(
                "SELECT DISTINCT line_id FROM billing.invoice_line_sources WHERE entity = ? AND period <> ? "
                "AND line_id IN (SELECT line_id FROM _billed_here)",
                params=[part.entity, part.period],
            ).pl()
        finally:
            con.unregister("_billed_here")


def draft_months(
    context: dg.AssetExecutionContext,
    config: DraftRun,
    warehouse: Warehouse,
    fx: EcbRates,
    settings: Settings,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """One draft invoice per client and month: a line per project, task and rate, priced as the ledger books it."""
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
    snapshot = fx.snapshot()
    summary = DraftsSummary()  # only counts, totals and preview rows outlive a month (decision 0048)
    for part in month_slices(context):
        with warehouse.held(part.entity):  # the month's dozen connections share one open of the file
            drafting = month_context(
                warehouse, settings, part, snapshot, context.run.run_id, rerate=config.rerate_fx
            )
            with traced_step(context, warehouse, settings, "drafting", part) as step:
                rules = rule_versions(settings, part.entity).serving
                drafts = draft_month(warehouse, part, drafting, rules, config.group_lines)
                step.set_attribute("billbridge.invoices", drafts.invoices.height)
            # The write gate: wrong money never reaches the table, whatever the checks below say.
            invoices = validate(InvoiceDrafts, drafts.invoices)
            draft_lines = validate(InvoiceDraftLines, drafts.lines)
            balances = validate(RetainerBalances, drafts.retainer_balances)
            outcomes = {
                LINES_SUM_TO_TOTALS: lines_sum_to_totals(invoices, draft_lines),
                BILLED_ONCE: billed_at_most_once(
                    drafts.sources, billed_elsewhere(warehouse, part, drafts.sources)
                ),
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
            summary.add(invoices, draft_lines.height, balances)
            del drafts, invoices, draft_lines, balances  # released before the next month is read
    versions = {rule_versions(settings, p.entity).serving.rule_set_version for p in month_slices(context)}
    yield dg.MaterializeResult(
        check_results=gate.results(),
        metadata={**summary.metadata(), "rule_set_version": ", ".join(sorted(versions))},
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
