"""The whole graph against both sandboxes: posted totals equal an independent computation; reruns post nothing."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.definitions import defs
from pipelines.report import summary
from pipelines.runner import sync_month
from resources.configuration import current_config
from resources.warehouse import Warehouse
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
MONTHS = [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
CENT = Decimal("0.01")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_invoices(sandboxes: Sandboxes) -> dict[str, Decimal]:
    """Invoice totals computed here from the seeded company, independently of the pipeline's code.

    Billable = entry and project billable, approved (is_closed), 0 < hours <= 24, project known,
    rate present; a line per (client, project, task, rate) = round_half_up(sum of hours x rate);
    expenses at cost; tax per line at the entity's rate, half-up; total = lines + tax.
    """
    config = current_config()
    company = sandboxes.company
    entity_of = {c.pm_client_id: c.entity for c in config.mapping.clients}
    projects = {p["id"]: p for p in company.projects}
    clients = {c["id"]: c for c in company.clients}
    lines: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    expense_lines: list[tuple[str, Decimal]] = []

    def number(entity: str, day: str, client_id: int) -> str:
        return f"BB-{entity.upper()}-{day[:4]}{day[5:7]}-{client_id}-{clients[client_id]['currency']}"

    for entry in company.time_entries:
        project = projects.get(entry["project"]["id"])
        entity = entity_of.get(entry["client"]["id"])
        hours = Decimal(str(entry["hours"]))
        if not (project and entity and entry["billable"] and project["is_billable"] and entry["is_closed"]):
            continue
        if not (0 < hours <= 24) or entry["billable_rate"] is None or entry["spent_date"] >= "2026-11-01":
            continue
        key = (
            number(entity, entry["spent_date"], entry["client"]["id"]),
            entity,
            project["id"],
            entry["task"]["id"],
            Decimal(str(entry["billable_rate"])),
        )
        lines[key] += hours
    for item in company.expenses:
        project = projects.get(item["project"]["id"])
        entity = entity_of.get(item["client"]["id"])
        if project and entity and item["billable"] and project["is_billable"] and item["is_closed"]:
            expense_lines.append(
                (
                    number(entity, item["spent_date"], item["client"]["id"]) + "|" + entity,
                    _money(Decimal(str(item["total_cost"]))),
                )
            )
    tax_rate = {e.id: e.tax_rate_percent / 100 for e in config.entities}
    client_tax = {  # per-client tax treatments from the mapping document
        o.client: config.entity(entity_of[o.client]).tax_rates()[o.tax_type] / 100
        for o in config.mapping.tax_overrides
    }
    totals: dict[str, Decimal] = defaultdict(Decimal)

    def tax(invoice: str, entity: str) -> Decimal:
        return client_tax.get(int(invoice.split("-")[3]), tax_rate[entity])

    for (invoice, entity, _project, _task, rate), hours in lines.items():
        amount = _money(hours * rate)
        totals[invoice] += amount + _money(amount * tax(invoice, entity))
    for key, amount in expense_lines:
        invoice, entity = key.split("|")
        totals[invoice] += amount + _money(amount * tax(invoice, entity))
    return dict(totals)


def expected_intercompany(sandboxes: Sandboxes) -> dict[str, Decimal]:
    """Intercompany invoice totals computed here (decision 0010): a person's approved time on another
    entity's project, charged by their home entity at round_half_up(hours x cost rate) per project,
    person and rate, plus the pair's markup (uk -> us: 8%) rounded half-up; 0% tax."""
    config = current_config()
    home = {p.pm_user_id: p.home_entity for p in config.mapping.people}
    # Internal work (the firm itself) is the person's own entity's cost, never a charge.
    entity_of = {c.pm_client_id: c.entity for c in config.mapping.clients if not c.internal}
    hours: dict[tuple[str, int, int, Decimal], Decimal] = defaultdict(Decimal)
    for entry in sandboxes.company.time_entries:
        seller, buyer = home.get(entry["user"]["id"]), entity_of.get(entry["client"]["id"])
        if seller and buyer and seller != buyer and entry["is_closed"] and entry["spent_date"] < "2026-11-01":
            number = (
                f"BB-{seller.upper()}-{entry['spent_date'][:4]}{entry['spent_date'][5:7]}-IC-{buyer.upper()}"
            )
            rate = Decimal(str(entry["cost_rate"]))
            hours[(number, entry["project"]["id"], entry["user"]["id"], rate)] += Decimal(str(entry["hours"]))
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for (number, _project, _person, rate), total in hours.items():
        cost[number] += _money(total * rate)
    markup = {"BB-UK": Decimal("0.08")}
    return {number: amount + _money(amount * markup[number[:5]]) for number, amount in cost.items()}


def _run_everything(instance: dg.DagsterInstance) -> None:
    for entity in current_config().entity_ids:
        for month in MONTHS:
            for outcome in sync_month(instance, defs, entity, month):
                assert outcome.success, f"{outcome.job} {outcome.partitions} failed"


def _posted(sandboxes: Sandboxes, document_type: str = "ACCREC") -> dict[str, Decimal]:
    posted: dict[str, Decimal] = {}
    for entity in current_config().entities:
        for document in sandboxes.xero.documents(entity.accounting_tenant_id, document_type):
            assert document["InvoiceNumber"] not in posted, f"posted twice: {document['InvoiceNumber']}"
            posted[document["InvoiceNumber"]] = Decimal(str(document["Total"]))
    return posted


def test_whole_graph_posts_exactly_the_expected_invoices(
    sandboxes: Sandboxes, capsys: pytest.CaptureFixture[str]
) -> None:
    intercompany = expected_intercompany(sandboxes)
    expected = {**expected_invoices(sandboxes), **intercompany}
    assert len(expected) >= 15  # 3 entities x 3 months x their billable clients
    assert len(intercompany) == 3  # uk charges us each month
    with dg.instance_for_test() as instance:
        _run_everything(instance)
        posted = _posted(sandboxes)
        assert posted == expected
        # The buyer's side: the same number and total, as a bill (ACCPAY) in its own tenant.
        assert _posted(sandboxes, "ACCPAY") == intercompany

        rows = {row["entity"]: row for row in summary(current_config(), Warehouse())}
        # Every document the outbox confirmed: the invoices, and each intercompany charge's bill too.
        assert sum(row["invoices_posted"] for row in rows.values()) == len(expected) + len(intercompany)
        assert rows["us"]["quarantined_by_reason"].get("hours_out_of_range") == 2
        assert rows["us"]["quarantined_by_reason"].get("unknown_project", 0) >= 1
        assert all(row["checks_failed"] == 0 for row in rows.values())
        capsys.readouterr()
        assert main(["report", "--json"]) == 0
        reported = json.loads(capsys.readouterr().out)
        assert [r["entity"] for r in reported] == ["us", "uk", "de"]
        assert sum(r["quarantined"] for r in reported) == sum(row["quarantined"] for row in rows.values())

        # A second materialization posts nothing new.
        sends_before = sum(
            1
            for x in sandboxes.xero.exchanges
            if x.method in ("PUT", "POST") and x.path.endswith("/Invoices")
        )
        _run_everything(instance)
        sends_after = sum(
            1
            for x in sandboxes.xero.exchanges
            if x.method in ("PUT", "POST") and x.path.endswith("/Invoices")
        )
        assert sends_after == sends_before
        assert _posted(sandboxes) == expected
        runs = instance.get_runs()
        assert len(runs) == 2 * 2 * 3 * len(MONTHS)
