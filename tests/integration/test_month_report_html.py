"""The month report on a real month: one entity-month synced against both sandboxes, a bank statement
reconciled on top, the report written by `billbridge report --html` and by the `reporting/month_report`
asset, opened in Debian's headless Chromium, and every figure on the page compared with what this test
asks the warehouse itself, in its own SQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Browser

from assets.month_report import MONTH_REPORT, report_path
from pipelines.cli import main
from pipelines.definitions import current_definitions
from resources.configuration import current_config
from resources.warehouse import Warehouse
from sandbox.harvest.variants import RecordFault
from tests.conftest import Sandboxes
from tests.integration.reconciliation_seed import seed

pytestmark = pytest.mark.integration
ENTITY, PERIOD, FIRST, LAST = "uk", "2026-10", "2026-10-01", "2026-10-31"
# The weeks the month touches: from the Monday of 1 October's week to the Sunday of 31 October's.
FIRST_WEEK, WEEKS_END = "2026-09-28", "2026-11-01"


def _one(warehouse: Warehouse, sql: str) -> object:
    return warehouse.query(ENTITY, sql.replace("{E}", f"'{ENTITY}'")).row(0)[0]


def _expected(warehouse: Warehouse) -> dict[str, str]:
    """Every figure of the entity-month, asked of the warehouse here (not through the report's code)."""
    month = f"day BETWEEN DATE '{FIRST}' AND DATE '{LAST}'"
    outbox = f"FROM posting.outbox WHERE entity = {{E}} AND period = '{PERIOD}'"
    untouched = (
        f"FROM posting.outbox o WHERE o.entity = {{E}} AND o.period = '{PERIOD}' AND o.status = 'confirmed' "
        "AND o.document_number NOT IN (SELECT document_number FROM posting.dead_letters)"
    )
    latency = (
        f"FROM (SELECT min(timezone('UTC', posted_at))::DATE - DATE '{LAST}' AS days FROM posting.posted_lines "
        f"WHERE period = '{PERIOD}' AND document_kind = 'invoice' GROUP BY document_number)"
    )
    weeks = f"DATE '{FIRST_WEEK}' AND DATE '{WEEKS_END}'"
    state = (
        "FROM reconciliation.line_state s JOIN reconciliation.bank_lines b USING (line_id) "
        f"WHERE strftime(b.booking_date, '%Y-%m') = '{PERIOD}' AND s.status = "
    )
    sql = {
        "billed": f"SELECT sum(amount_base) FROM normalized.billable_lines WHERE {month} AND billable AND approved",
        "unbilled": f"SELECT coalesce(sum(amount_base), 0) FROM normalized.billable_lines WHERE {month} "
        "AND billable AND NOT approved",
        "documents": f"SELECT count(*) {outbox}",
        "in_ledger": f"SELECT count(*) {outbox} AND status = 'confirmed'",
        "not_sent": f"SELECT count(*) {outbox} AND status = 'pending' AND coalesce(last_error, '') NOT LIKE 'held:%'",
        "dead_letters": f"SELECT count(*) {outbox} AND status = 'dead_letter'",
        "held": f"SELECT count(*) {outbox} AND status = 'pending' AND last_error LIKE 'held:%'",
        "quarantined": f"SELECT count(*) FROM normalized.quarantine WHERE {month}",
        "accepted_lines": f"SELECT count(*) FROM normalized.billable_lines WHERE {month}",
        "documents_without_hand_edit": f"SELECT count(*) {untouched}",
        "lines_without_hand_edit": "SELECT count(*) FROM posting.posted_lines WHERE document_number IN "
        f"(SELECT o.document_number {untouched})",
        "invoices": f"SELECT count(*) FROM billing.invoice_drafts WHERE period = '{PERIOD}'",
        "corrections": f"SELECT count(*) FROM billing.correction_documents WHERE period = '{PERIOD}'",
        "corrections_per_invoice": "SELECT round((SELECT count(*) FROM billing.correction_documents WHERE "
        f"period = '{PERIOD}') / (SELECT count(*) FROM billing.invoice_drafts WHERE period = '{PERIOD}'), 2)",
        "posting_latency_median_days": f"SELECT round(quantile_cont(days, 0.5), 1) {latency}",
        "posting_latency_max_days": f"SELECT max(days) {latency}",
        "matched_automatically": f"SELECT count(*) {state} 'auto_accepted'",
        "matched_by_hand": f"SELECT count(*) {state} 'accepted'",
        "proposed": f"SELECT count(*) {state} 'proposed'",
        "open_exceptions": f"SELECT count(*) {state} 'exception'",
        # Days from issue to payment, weighted by the amount each payment applied to the item.
        "dso_days": "SELECT round(sum(abs(i.applied) * (s.booking_date - r.issue_date)) / sum(abs(i.applied)), 1) "
        "FROM reconciliation.settlement_items i JOIN reconciliation.settlements s USING (decision_id) "
        "JOIN reconciliation.bank_lines b ON b.line_id = s.line_id "
        "JOIN (SELECT item_id, max(issue_date) AS issue_date FROM reconciliation.receivables GROUP BY 1) r "
        f"USING (item_id) WHERE strftime(b.booking_date, '%Y-%m') = '{PERIOD}'",
        "exceptions": f"SELECT (SELECT count(*) FROM normalized.quarantine WHERE day BETWEEN {weeks}) "
        f"+ (SELECT count(*) FROM quality.check_results WHERE NOT passed AND checked_at::DATE BETWEEN {weeks}) "
        "+ (SELECT count(*) FROM posting.outbox WHERE status = 'dead_letter' AND updated_at::DATE BETWEEN "
        f"{weeks})",
    }
    return {name: _text(_one(warehouse, query)) for name, query in sql.items()}


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _an_october_entry(sandboxes: Sandboxes) -> int:
    """A billable October entry of one of the entity's clients."""
    clients = {c.pm_client_id for c in current_config().mapping.clients if c.entity == ENTITY}
    return next(
        int(e["id"])
        for e in sandboxes.company.time_entries
        if e["client"]["id"] in clients
        and e["spent_date"].startswith(PERIOD)
        and e["billable"]
        and e["is_closed"]
    )


def _on_page(browser: Browser, path: Path) -> dict[str, tuple[str, str]]:
    page = browser.new_page()
    page.goto(path.as_uri())
    cells = page.locator("[data-figure]")
    found = {}
    for n in range(cells.count()):
        cell = cells.nth(n)
        assert cell.get_attribute("data-entity") == ENTITY
        found[str(cell.get_attribute("data-figure"))] = (
            str(cell.get_attribute("data-value")),
            cell.inner_text(),
        )
    assert page.locator("svg").count() == 5  # the charts are drawn inline, nothing fetched
    assert page.locator("script").count() == 0
    page.close()
    return found


def _same(figure: str, shown: str, expected: str) -> bool:
    if expected == "" or shown == "":
        return expected == shown
    return Decimal(shown) == Decimal(expected)


def test_the_html_report_shows_the_warehouses_figures(
    sandboxes: Sandboxes, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = _an_october_entry(sandboxes)
    sandboxes.harvest.variants = (RecordFault("time_entries", entry, "hours", 25.0),)  # one to quarantine
    assert main(["sync", "--entity", ENTITY, "--period", PERIOD]) == 0
    warehouse = Warehouse()
    seed(warehouse)  # an October bank statement, matched: one automatically, three proposed, one exception
    out = tmp_path / "october.html"
    assert main(["report", "--html", "--entity", ENTITY, "--period", PERIOD, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out

    shown = _on_page(browser, out)
    expected = _expected(warehouse)
    assert set(shown) == set(expected)
    wrong = {f: (shown[f][0], v) for f, v in expected.items() if not _same(f, shown[f][0], v)}
    assert not wrong, f"page vs warehouse: {wrong}"
    assert shown["billed"][1] == f"{Decimal(expected['billed']):,.2f} GBP"  # minor units, thousands separated
    assert int(expected["invoices"]) > 0 and int(expected["documents_without_hand_edit"]) > 0
    assert (shown["quarantined"][0], shown["exceptions"][0]) == ("1", "1")
    assert (shown["matched_automatically"][0], shown["proposed"][0], shown["open_exceptions"][0]) == (
        "1",
        "3",
        "1",
    )

    # The asset writes the same page under BILLBRIDGE_HOME/reports and carries its figures as numbers.
    definitions = current_definitions()
    result = dg.materialize(
        [definitions.get_assets_def(MONTH_REPORT)],
        partition_key=f"{PERIOD}-01",
        resources={"settings": current_config()},
    )
    metadata = result.asset_materializations_for_node("reporting__month_report")[0].metadata
    assert metadata[f"{ENTITY}/billed_minor"] == dg.MetadataValue.int(int(Decimal(expected["billed"]) * 100))
    assert metadata[f"{ENTITY}/invoices"] == dg.MetadataValue.int(int(expected["invoices"]))
    assert report_path(PERIOD).exists()
    assert _on_page(browser, report_path(PERIOD)) == shown
