"""The intercompany asset: each entity-month's sales to and purchases from the other entities.

An entity's run writes only its own file: the sale side from its people's time on other
entities' projects (raw.intercompany_time_entries, kept by its own extraction), the purchase
side from its own billable lines logged by other entities' people. Both sides are priced by
the same function from the same entries, so they agree; consolidation eliminates them.
"""

from collections.abc import Iterator
from decimal import Decimal

import dagster as dg
import polars as pl

from assets.gate import CheckGate, blocking_checks
from assets.normalized.billable_lines import BILLABLE_LINES, FxRerun
from assets.partitions import MonthSlice, Partitions, days_to_month, month_slices
from assets.reporting import money_totals, preview
from resources.configuration import Settings
from resources.field_crypto import decrypt_payloads
from resources.fx import EcbRates
from resources.raw_store import priced_directory
from resources.warehouse import Warehouse, pin_rates, pinned_rates, replace_slice
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA
from rules.fx_conversion import rates_for
from rules.fx_rates import FxSnapshot
from rules.intercompany.charges import (
    CHARGE_SCHEMA,
    SOURCE_SCHEMA,
    ChargeMonth,
    Intercompany,
    charges_are_consistent,
    intercompany_side,
)
from rules.intercompany.policy import PURCHASE, SALE
from rules.intercompany.work import intercompany_work, seller_work
from rules.invariants import lines_sum_to_totals
from rules.settings import BillbridgeConfig

INTERCOMPANY_CHARGES = dg.AssetKey(["billing", "intercompany_charges"])
DOCUMENTS_EQUAL_LINES = "intercompany_document_total_equals_sum_of_lines"
NET_IS_COST_PLUS_MARKUP = "intercompany_net_equals_cost_plus_markup"
_TABLES = (
    ("billing.intercompany_charges", CHARGE_SCHEMA, "charges"),
    ("billing.intercompany_charge_sources", SOURCE_SCHEMA, "sources"),
    ("billing.intercompany_documents", DOCUMENT_HEADER_SCHEMA, "documents"),
    ("billing.intercompany_document_lines", DOCUMENT_LINE_SCHEMA, "document_lines"),
)


def _purchase_rates(
    warehouse: Warehouse,
    part: MonthSlice,
    settings: BillbridgeConfig,
    work: pl.DataFrame,
    snapshot: FxSnapshot,
    rerate: bool,
) -> pl.DataFrame:
    """Units of each seller's currency per one of this entity's base currency at month end.

    Reuses the rate pinned for the entity and day unless the run re-rates (docs/decisions/0008).
    """
    base = settings.entity(part.entity).base_currency
    currencies = sorted({settings.entity(s).base_currency for s in work["seller_entity"].unique().to_list()})
    needs = pl.DataFrame(
        {"day": [part.month_end] * len(currencies), "from_currency": [base] * len(currencies),
         "to_currency": currencies},
        schema={"day": pl.Date, "from_currency": pl.String, "to_currency": pl.String},
    )  # fmt: skip
    pinned = None if rerate else pinned_rates(warehouse, part.entity, [part.month_end.isoformat()])
    rates = rates_for(needs, snapshot.rates, snapshot.label, pinned, settings.fx_max_rate_age_days)
    missing = set(currencies) - set(rates["to_currency"].to_list())
    if missing:
        raise dg.Failure(
            description=f"{part.label()}: no ECB rate {base}->{', '.join(sorted(missing))} within "
            f"{settings.fx_max_rate_age_days} days of {part.month_end}: intercompany bills not drafted"
        )
    return rates


def _require_table_schemas(result: Intercompany) -> None:
    """The write gate: every frame has exactly its table's columns and types (money Decimal(18,4))."""
    for table, schema, attribute in _TABLES:
        frame: pl.DataFrame = getattr(result, attribute)
        if frame.schema != schema:
            raise dg.Failure(description=f"{table}: frame schema {frame.schema} is not {schema}")


CHECKS = blocking_checks(
    INTERCOMPANY_CHARGES,
    {
        DOCUMENTS_EQUAL_LINES: "Each intercompany invoice's and bill's subtotal, tax and total equal the sums "
        "of its lines.",
        NET_IS_COST_PLUS_MARKUP: "Each charge's net = cost + markup, equals its document's subtotal, and its "
        "hours are the sum of the time entries it charges.",
    },
)


def charge_months(
    context: dg.AssetExecutionContext, config: FxRerun, warehouse: Warehouse, fx: EcbRates, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """Charge other entities for this entity's people's time on their projects, and book their charges."""
    snapshot = fx.snapshot()
    run_id = context.run.run_id
    gate = CheckGate(CHECKS, warehouse, run_id)
    results: list[Intercompany] = []
    for part in month_slices(context):
        with warehouse.held(part.entity):  # the month's reads and writes share one open of the file
            entity = settings.entity(part.entity)
            window = [part.entity, part.month, part.month_end]
            lines = warehouse.query(
                part.entity,
                "SELECT * FROM normalized.billable_lines WHERE entity = ? AND day BETWEEN ? AND ? ORDER BY line_id",
                window,
            )
            purchases_work = intercompany_work(lines, settings, buyer=part.entity)
            elsewhere = warehouse.query(
                part.entity,
                "SELECT * FROM raw.intercompany_time_entries WHERE entity = ? AND day BETWEEN ? AND ? "
                "ORDER BY day, record_id",
                window,
            )
            directory = priced_directory(warehouse, part.entity)
            # Payload fields stay encrypted at rest; the seller's person names go into the documents in clear.
            sales_work = seller_work(
                decrypt_payloads(elsewhere), decrypt_payloads(directory), part.entity, settings, snapshot
            )
            rates = (
                _purchase_rates(warehouse, part, settings, purchases_work, snapshot, config.rerate_fx)
                if purchases_work.height
                else None
            )
            currency_rates: dict[str, Decimal] = {entity.base_currency: Decimal(1)}
            if rates is not None:
                currency_rates.update(dict(zip(rates["to_currency"], rates["fx_rate"], strict=True)))
            month = ChargeMonth(settings, part.month, part.month_end, settings.rule_set_version, run_id)
            result = Intercompany.concat(
                [
                    intercompany_side(sales_work, SALE, part.entity, month, currency_rates),
                    intercompany_side(purchases_work, PURCHASE, part.entity, month, currency_rates),
                ]
            )
            _require_table_schemas(result)
            outcomes = {
                DOCUMENTS_EQUAL_LINES: lines_sum_to_totals(
                    result.documents, result.document_lines, key="document_number"
                ),
                NET_IS_COST_PLUS_MARKUP: charges_are_consistent(result),
            }
            if not gate.admit(part, outcomes):
                yield from gate.stop()
            where, params = "entity = ? AND period = ?", [part.entity, part.period]
            with gate.transaction(part) as con:
                for table, _schema, attribute in _TABLES:
                    replace_slice(con, table, getattr(result, attribute), where, params)
                if rates is not None:
                    pin_rates(con, part.entity, rates, run_id)
            results.append(result)
    everything = Intercompany.concat(results)
    charges = everything.charges
    yield dg.MaterializeResult(
        check_results=gate.results(),
        metadata={
            "dagster/row_count": charges.height,
            "sales": int(charges.filter(pl.col("side") == SALE).height),
            "purchases": int(charges.filter(pl.col("side") == PURCHASE).height),
            "documents": everything.documents.height,
            "source_entries": everything.sources.height,
            "net_sales": money_totals(charges.filter(pl.col("side") == SALE), "currency", "net_amount"),
            "net_purchases": money_totals(
                charges.filter(pl.col("side") == PURCHASE), "currency", "net_amount"
            ),
            "rule_set_version": settings.rule_set_version,
            "preview": dg.MetadataValue.md(
                preview(
                    charges,
                    ["reference", "side", "currency", "hours", "cost_amount", "markup_amount", "net_amount"],
                )
            ),
        },
    )


def build_intercompany_charges(partitions: Partitions) -> dg.AssetsDefinition:
    """`billing/intercompany_charges` over the configuration's entity-months."""
    return dg.asset(
        key=INTERCOMPANY_CHARGES,
        deps=[
            dg.AssetDep(BILLABLE_LINES, partition_mapping=days_to_month),
            dg.AssetDep(["raw", "time_entries"], partition_mapping=days_to_month),
        ],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=CHECKS,
        description="Intercompany charges at cost plus markup: sales to and purchases from the other entities, "
        "with their ACCREC invoices and ACCPAY bills, each in its own entity's ledger.",
        kinds={"polars", "duckdb"},
        group_name="billing",
        owners=["team:data"],
    )(charge_months)
