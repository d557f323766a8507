"""The real pipeline for three entities in three currencies (us/USD, uk/GBP, de/EUR), September 2026,
with the UK entity's intercompany charge to the US entity: ledger exports, then the group close, whose
totals are recomputed here by hand from the entities' own tables and the ECB file."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import dagster as dg
import polars as pl
import pytest

from assets.partitions import month_key
from pipelines.definitions import defs
from pipelines.runner import QUIET, sync_month
from resources.configuration import current_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse, WarehouseBusyError, write_parquet_atomically
from rules.consolidation.ledger import LEDGER_SCHEMA
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
SEPTEMBER, SEPTEMBER_END = date(2026, 9, 1), date(2026, 9, 30)
PERIOD = "2026-09"
CENT, Q8 = Decimal("0.01"), Decimal("0.00000001")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _rates_by_hand(currency: str) -> tuple[Decimal, Decimal]:
    """(average, closing) of `currency` -> EUR for September: 1 / units per EUR, 8 dp, per published day."""
    if currency == "EUR":
        return Decimal(1), Decimal(1)
    ecb = EcbRates().snapshot().rates.filter(pl.col("currency") == currency)
    published = {d: v for d, _c, v in ecb.iter_rows() if d <= SEPTEMBER_END}
    daily = [(Decimal(1) / v).quantize(Q8, ROUND_HALF_UP) for d, v in published.items() if d >= SEPTEMBER]
    average = (sum(daily, Decimal(0)) / len(daily)).quantize(Q8, ROUND_HALF_UP)
    closing = (Decimal(1) / published[max(published)]).quantize(Q8, ROUND_HALF_UP)
    return average, closing


def _expected_group(warehouse: Warehouse) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Group totals per line item and each entity's translation difference, computed here by hand."""
    config = current_config()
    homes = {p.pm_user_id: p.home_entity for p in config.mapping.people}
    group: dict[str, Decimal] = defaultdict(Decimal)
    differences: dict[str, Decimal] = {}
    for entity in config.entities:
        base = entity.base_currency
        result, net_assets = Decimal(0), Decimal(0)

        def book(item: str, amount: Decimal, currency: str, kind: str) -> None:
            nonlocal result, net_assets
            average, closing = _rates_by_hand(currency)
            translated = _cents(amount * (average if kind in ("income", "expense") else closing))
            group[item] += translated
            sign = 1 if kind in ("income", "asset") else -1
            if kind in ("income", "expense"):
                result += sign * translated
            else:
                net_assets += sign * translated

        invoices = warehouse.query(
            entity.id,
            "SELECT * FROM billing.invoice_drafts WHERE period = ? ORDER BY invoice_number",
            [PERIOD],
        )
        accounts = warehouse.query(
            entity.id,
            "SELECT count(DISTINCT account_code) AS n FROM billing.invoice_draft_lines WHERE period = ? "
            "GROUP BY invoice_number ORDER BY n DESC LIMIT 1",
            [PERIOD],
        )
        assert accounts.height == 0 or accounts["n"][0] == 1  # one revenue account per invoice: no split here
        for inv in invoices.iter_rows(named=True):
            tax = _cents(inv["total_base"] * inv["total_tax"] / inv["total"]) if inv["total"] else Decimal(0)
            book("revenue", inv["total_base"] - tax, base, "income")
            book("receivables", inv["total_base"], base, "asset")
            book("output_tax", tax, base, "liability")
        lines = warehouse.query(
            entity.id,
            "SELECT source_kind, person_id, contact_name, amount_cost_base FROM normalized.billable_lines "
            "WHERE day BETWEEN ? AND ?",
            [SEPTEMBER, SEPTEMBER_END],
        )
        costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for kind, person, contact, cost in lines.iter_rows():
            if kind == "expense":
                costs[("direct_expense_cost", contact)] += cost
            elif homes.get(person, entity.id) == entity.id:  # others' people are bought in, not direct cost
                costs[("direct_time_cost", contact)] += cost
        accrued: dict[str, Decimal] = defaultdict(Decimal)
        for (item, _contact), cost in sorted(costs.items()):
            if cost:
                book(item, cost, base, "expense")
                accrued[base] += cost
        charges = warehouse.query(
            entity.id, "SELECT * FROM billing.intercompany_charges WHERE period = ?", [PERIOD]
        )
        for c in charges.iter_rows(named=True):
            if c["side"] == "sale":
                book("intercompany_revenue", c["net_amount"], c["currency"], "income")
                book("intercompany_receivables", c["net_amount"], c["currency"], "asset")
                book("intercompany_time_cost", c["cost_amount"], c["currency"], "expense")
                accrued[c["currency"]] += c["cost_amount"]
            else:
                book("intercompany_cost", c["net_amount"], c["currency"], "expense")
                book("intercompany_payables", c["net_amount"], c["currency"], "liability")
        for currency, amount in accrued.items():
            book("accrued_costs", amount, currency, "liability")
        differences[entity.id] = net_assets - result
    group["translation_difference"] = sum(differences.values(), Decimal(0))
    for item in (
        "intercompany_revenue",
        "intercompany_cost",
        "intercompany_receivables",
        "intercompany_payables",
    ):
        group[item] = Decimal(0)  # eliminated: both sides in the charge's currency, at the same rates
    return dict(group), differences


def _consolidate(instance: dg.DagsterInstance, rerate: bool = False) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("consolidate_group").execute_in_process(
        instance=instance,
        partition_key="2026-09-01",
        run_config={
            **QUIET,
            "ops": {"consolidation__group_consolidation": {"config": {"rerate_fx": rerate}}},
        },
        raise_on_error=False,
    )


def _group_totals(warehouse: Warehouse) -> dict[str, Decimal]:
    totals = warehouse.group_query(
        "SELECT line_item, group_total FROM consolidation.group_totals WHERE period = ?", [PERIOD]
    )
    return dict(totals.iter_rows())


def _hold_write_lock(path: str) -> subprocess.Popen[Any]:
    """Another process holding the entity file open for writing, as the entity's own run would."""
    script = (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({path!r}); con.begin(); con.execute('CREATE TEMP TABLE held(x INT)')\n"
        "print('held', flush=True); time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_three_entities_consolidate_to_the_hand_computed_group(sandboxes: Sandboxes) -> None:
    warehouse = Warehouse()
    config = current_config()
    with dg.instance_for_test() as instance:
        for entity in config.entity_ids:
            for month in (date(2026, 8, 1), SEPTEMBER):  # each period opens at the previous one's close
                for outcome in sync_month(instance, defs, entity, month):
                    assert outcome.success, f"{outcome.job} {outcome.partitions} failed: {outcome.error}"
        # The pipeline's own intercompany charge: the UK entity's sale, the US entity's purchase.
        sale = warehouse.query("uk", "SELECT * FROM billing.intercompany_charges WHERE period = ?", [PERIOD])
        purchase = warehouse.query(
            "us", "SELECT * FROM billing.intercompany_charges WHERE period = ?", [PERIOD]
        )
        assert sale["side"].to_list() == ["sale"] and purchase["side"].to_list() == ["purchase"]
        assert sale["reference"].to_list() == purchase["reference"].to_list() == ["IC-UK-US-2026-09"]

        for entity in config.entity_ids:
            exported = defs.resolve_job_def("export_ledger").execute_in_process(
                instance=instance, partition_key=str(month_key(entity, SEPTEMBER)), run_config=QUIET,
                raise_on_error=False,
            )  # fmt: skip
            assert exported.success, entity
            assert warehouse.export_path(entity, PERIOD).exists()

        # The group close never opens an entity's file: it runs while another process holds de's for writing.
        holder = _hold_write_lock(str(warehouse.path("de")))
        try:
            with pytest.raises(WarehouseBusyError, match="in use by process"):
                # the lock is real: opening de's file fails now (no waiting for this probe)
                Warehouse(lock_wait_s=0).query("de", "SELECT 1")
            started = time.monotonic()
            result = _consolidate(instance)
            assert result.success
            assert time.monotonic() - started < 60
        finally:
            holder.kill()
            holder.wait()

        expected, differences = _expected_group(warehouse)
        stated = _group_totals(warehouse)
        assert stated == expected
        assert expected["revenue"] > 0 and expected["intercompany_time_cost"] > 0
        booked = warehouse.group_query(
            "SELECT entity, translation_difference FROM consolidation.translation_differences WHERE period = ?",
            [PERIOD],
        )
        assert dict(booked.iter_rows()) == differences

        eliminated = warehouse.group_query(
            "SELECT line_item, entity, amount_reporting FROM consolidation.eliminations ORDER BY line_item",
            [],
        )
        sale_net = sale["net_amount"][0]
        gbp_average, gbp_closing = _rates_by_hand("GBP")
        assert eliminated.rows() == [
            ("intercompany_cost", "us", _cents(sale_net * gbp_average)),
            ("intercompany_payables", "us", _cents(sale_net * gbp_closing)),
            ("intercompany_receivables", "uk", _cents(sale_net * gbp_closing)),
            ("intercompany_revenue", "uk", _cents(sale_net * gbp_average)),
        ]
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {
            "eliminations_net_to_zero": True,
            "group_totals_equal_entities_less_eliminations": True,
        }

        # Every translated row says how: rate type, rate, source and dates.
        rates = warehouse.group_query(
            "SELECT currency, rate_type, rate, snapshot_version FROM consolidation.translation_rates ORDER BY 1, 2",
            [],
        )
        assert rates.rows() == [
            (cur, kind, rate, 1)
            for cur in ("EUR", "GBP", "USD")
            for kind, rate in zip(("average", "closing"), _rates_by_hand(cur), strict=True)
        ]

        # A rerun reproduces the month; it keeps its pinned rates even when they are not today's.
        assert _consolidate(instance).success
        assert _group_totals(warehouse) == expected
        warehouse_rates = "consolidation.translation_rates"
        with warehouse.group_transaction() as con:
            con.execute(
                f"UPDATE {warehouse_rates} SET rate = rate + 0.01 WHERE currency = 'USD' AND rate_type = 'average'"
            )
        assert _consolidate(instance).success
        pinned_revenue = _group_totals(warehouse)["revenue"]
        assert pinned_revenue > expected["revenue"]  # US revenue translated at the (tampered) pinned rate
        # ... and a re-rate takes the ECB file's rates again, as a new version of the month's rates.
        assert _consolidate(instance, rerate=True).success
        assert _group_totals(warehouse) == expected
        versions = warehouse.group_query(
            f"SELECT DISTINCT snapshot_version FROM {warehouse_rates} ORDER BY 1", []
        )
        assert versions["snapshot_version"].to_list() == [1, 2]


def test_a_missing_export_stops_the_close_naming_the_entity() -> None:
    with dg.instance_for_test() as instance:
        result = _consolidate(instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "no ledger export for de, uk, us" in str(failure.step_failure_data.error)


def _export(warehouse: Warehouse, entity: str, rows: list[tuple[str, str, str, str, str | None]]) -> None:
    """A hand-written ledger export: (statement, line_item, currency, amount, intercompany reference)."""
    counterparty = {"uk": "us", "us": "uk"}.get(entity)
    frame = pl.DataFrame(
        [
            {**dict.fromkeys(LEDGER_SCHEMA), "entity": entity, "period": PERIOD, "statement": s, "line_item": i,
             "currency": c, "amount": Decimal(a), "reference": ref,
             "counterparty_entity": counterparty if ref else None, "export_run_id": "by-hand"}
            for s, i, c, a, ref in rows
        ],
        schema=LEDGER_SCHEMA,
    )  # fmt: skip
    write_parquet_atomically(frame, warehouse.export_path(entity, PERIOD))


def test_an_unmatched_intercompany_side_blocks_the_close_and_names_its_reference() -> None:
    warehouse = Warehouse()
    ref = "IC-UK-US-2026-09"
    _export(warehouse, "uk", [
        ("income", "intercompany_revenue", "GBP", "300.00", ref),
        ("asset", "intercompany_receivables", "GBP", "300.00", ref),
    ])  # fmt: skip
    _export(
        warehouse,
        "us",
        [("income", "revenue", "USD", "10.00", None), ("asset", "receivables", "USD", "10.00", None)],
    )
    _export(warehouse, "de", [])
    with dg.instance_for_test() as instance:
        result = _consolidate(instance)
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["eliminations_net_to_zero"].passed
    detail = str(checks["eliminations_net_to_zero"].metadata["detail"].value)
    assert f"{ref} revenue_cost: purchase side missing (sale in uk: 300.0000 GBP)" in detail
    assert (
        warehouse.group_query("SELECT * FROM consolidation.group_totals", []).height == 0
    )  # nothing written
    stored = warehouse.group_query(
        "SELECT check_name, passed FROM consolidation.check_results ORDER BY 1", []
    )
    # A one-sided elimination also leaves the group unbalanced: the revenue went out at the average
    # rate, the receivable at the closing rate, with no cost and payable to offset them.
    assert stored.rows() == [
        ("eliminations_net_to_zero", False),
        ("group_totals_equal_entities_less_eliminations", False),
    ]
    totals = str(checks["group_totals_equal_entities_less_eliminations"].metadata["detail"].value)
    assert "translation difference" in totals and "!= net assets" in totals
