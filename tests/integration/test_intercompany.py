"""The real pipeline against the PM sandbox: the UK entity's charge to the US entity for Harry Walsh's
time on a US project, its sale in uk.duckdb and its purchase in us.duckdb, equal and sharing a reference."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.runner import sync_month
from resources.warehouse import Warehouse
from rules.intercompany.charges import sides_agree
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
SEPTEMBER = date(2026, 9, 1)
CENT = Decimal("0.01")


def _expected_from_the_company(sandboxes: Sandboxes) -> tuple[Decimal, Decimal, list[str]]:
    """Hours and cost of UK people's approved time on US projects in September, from the seeded company."""
    hours, cost, ids = Decimal(0), Decimal(0), []
    for entry in sandboxes.company.time_entries:
        office = entry["user"]["id"] // 100  # 81xx: the UK office
        on_us_project = entry["project"]["id"] in (6001, 6002, 6003)
        if (
            office == 81
            and on_us_project
            and entry["spent_date"].startswith("2026-09")
            and entry["is_closed"]
        ):
            hours += Decimal(str(entry["hours"]))
            cost += (Decimal(str(entry["hours"])) * Decimal(str(entry["cost_rate"]))).quantize(
                CENT, ROUND_HALF_UP
            )
            ids.append(f"time-{entry['id']}")
    return hours, cost, sorted(ids)


def _run(instance: dg.DagsterInstance, entity: str) -> None:
    for outcome in sync_month(instance, defs, entity, SEPTEMBER):
        assert outcome.success, f"{outcome.job} {outcome.partitions} failed: {outcome.error}"


def test_sale_and_purchase_agree_each_in_its_own_ledger(sandboxes: Sandboxes) -> None:
    hours, cost, line_ids = _expected_from_the_company(sandboxes)
    # Harry Walsh's four September entries on the Website Rebuild: 0.25 + 1.25 + 3.75 + 2.25 h at GBP 75.
    assert (hours, cost, len(line_ids)) == (Decimal("7.5"), Decimal("562.50"), 4)
    warehouse = Warehouse()
    with dg.instance_for_test() as instance:
        _run(instance, "us")
        _run(instance, "uk")
        sale = warehouse.query("uk", "SELECT * FROM billing.intercompany_charges")
        purchase = warehouse.query("us", "SELECT * FROM billing.intercompany_charges")
        # Each ledger holds only its own side.
        assert sale["side"].to_list() == ["sale"] and purchase["side"].to_list() == ["purchase"]
        charge = sale.row(0, named=True)
        # cost 562.50 GBP + 8% markup (IC-UK-US-2026) 45.00 = 607.50 GBP
        assert (charge["hours"], charge["cost_amount"], charge["markup_amount"], charge["net_amount"]) == (
            Decimal("7.5"),
            Decimal("562.50"),
            Decimal("45.00"),
            Decimal("607.50"),
        )
        assert (charge["reference"], charge["seller_entity"], charge["buyer_entity"], charge["currency"]) == (
            "IC-UK-US-2026-09",
            "uk",
            "us",
            "GBP",
        )
        assert sides_agree(sale, purchase) == (True, "1 charge(s) agree on both sides")
        for entity in ("uk", "us"):
            sources = warehouse.query(entity, "SELECT line_id FROM billing.intercompany_charge_sources")
            assert sorted(sources["line_id"].to_list()) == line_ids

        invoice = warehouse.query("uk", "SELECT * FROM billing.intercompany_documents").row(0, named=True)
        bill = warehouse.query("us", "SELECT * FROM billing.intercompany_documents").row(0, named=True)
        assert invoice["document_number"] == bill["document_number"] == "BB-UK-202609-IC-US"
        assert invoice["reference"] == bill["reference"] == "IC-UK-US-2026-09"
        assert (invoice["document_type"], invoice["contact_name"], invoice["currency"]) == (
            "ACCREC",
            "Billbridge Demo Inc.",
            "GBP",
        )
        assert (bill["document_type"], bill["contact_name"], bill["currency"], bill["base_currency"]) == (
            "ACCPAY",
            "Billbridge Demo Ltd",
            "GBP",
            "USD",
        )
        assert invoice["total"] == bill["total"] == Decimal("607.50")
        # The bill's rate is the one pinned for the US entity's month end (USD -> GBP).
        pinned = warehouse.query(
            "us",
            "SELECT fx_rate FROM reference.fx_rates WHERE day = DATE '2026-09-30' "
            "AND from_currency = 'USD' AND to_currency = 'GBP'",
        )
        assert pinned["fx_rate"].to_list() == [bill["currency_rate"]]
        # The other rates pinned for that day (its lines' own, by normalization) survive the intercompany pin.
        drafts_pin = warehouse.query(
            "us",
            "SELECT count(*) AS n FROM reference.fx_rates WHERE day = DATE '2026-09-30' AND to_currency = 'USD'",
        )
        assert drafts_pin["n"][0] >= 1
        lines = {
            e: warehouse.query(e, "SELECT * FROM billing.intercompany_document_lines") for e in ("uk", "us")
        }
        same = ["line_no", "description", "quantity", "unit_amount", "line_amount"]
        assert lines["uk"].select(same).equals(lines["us"].select(same))
        assert set(lines["uk"]["account_code"]) == {"260"} and set(lines["us"]["account_code"]) == {"310"}
        # No other ledger was written: the German file, if anything opened it, holds no charge.
        if warehouse.exists("de"):
            assert (
                warehouse.query("de", "SELECT count(*) AS n FROM billing.intercompany_charges")["n"][0] == 0
            )
        checks = warehouse.query(
            "uk",
            "SELECT check_name, passed FROM quality.check_results WHERE asset = 'billing/intercompany_charges'",
        )
        assert checks.height == 2 and checks["passed"].all()

        # A rerun replaces, never adds: the same rows, the same document hash.
        _run(instance, "uk")
        again = warehouse.query("uk", "SELECT * FROM billing.intercompany_documents")
        assert again.height == 1 and again["content_hash"][0] == invoice["content_hash"]
        assert (
            warehouse.query("uk", "SELECT * FROM billing.intercompany_charges")
            .drop("run_id")
            .equals(sale.drop("run_id"))
        )
