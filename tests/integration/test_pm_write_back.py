"""The write-back to Harvest (issue 15, decision 0031), on both sandboxes: an invoice the accounting
sandbox booked becomes a Harvest invoice of the same number with its time locked, its payment a
Harvest payment; each exactly once, through reruns, lost answers and refused requests; nothing at all
goes to Harvest's invoice endpoints while the entity's switch is off.

The ledger is made by the real posting path (drafts from a normalized line, posted to the accounting
sandbox). A booked payment and a booked credit note are written as the outbox keeps confirmed
documents (posting.outbox, with posting.posted_lines for a credit note and the sent version's
posting.outbox_lines for a payment, which keeps no posted lines). Amounts are written out by hand.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.billing.invoice_drafts import build_invoice_drafts
from assets.outbound_sources import DOCUMENT_SOURCES
from assets.partitions import Partitions, month_key
from assets.posting.outbox import post_period
from assets.posting.pm_write_back import build_pm_write_back
from assets.posting.posting_pass import CRASH_ENV
from assets.posting.write_back_pass import write_back_period
from resources.configuration import current_config
from resources.fx import EcbRates
from resources.harvest import HarvestClient
from resources.harvest_invoices import HarvestInvoices
from resources.warehouse import Warehouse, append
from resources.xero import XeroClient
from rules.normalizing import normalize_lines
from rules.settings import EntityConfig
from sandbox.company import Company
from sandbox.harvest import HarvestSandbox
from sandbox.harvest.variants import PageFault, truncated
from sandbox.xero import Fault, XeroSandbox
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

pytestmark = pytest.mark.integration

PERIOD = "2026-08"
INVOICE = "BB-UK-202608-5101-GBP"
PAYMENT = "BB-UK-202609-PAY-0a1b2c3d4e5f-1"
CREDIT = f"{INVOICE}-C1"
REPO = Path(__file__).resolve().parents[2]
CHILD = """
import sys
from assets.posting.write_back_pass import write_back_period
from resources.configuration import current_config
from resources.harvest import HarvestClient
from resources.harvest_invoices import HarvestInvoices
from resources.warehouse import Warehouse
url, home = sys.argv[1:3]
entity = current_config().entity("uk").model_copy(update={"pm_write_back": True})
client = HarvestClient(base_url=url, account_id="100001", access_token="demo-harvest-token")
write_back_period(entity, "2026-08", Warehouse(home=home), HarvestInvoices(client), "killed-run")
"""
RATES = fx_snapshot({day: {"USD": "1.25", "GBP": "0.8"} for day in (date(2026, 7, 31), date(2026, 8, 31))})
LOCKED = "Item Invoiced and Locked for this Time Period"


@dataclass
class World:
    """Both sandboxes, the entity's warehouse, and a write-back client."""

    entity: EntityConfig
    warehouse: Warehouse
    harvest: HarvestSandbox
    xero: XeroSandbox

    def write_back(self, period: str = PERIOD, run_id: str = "wb") -> Any:
        client = HarvestClient(base_url=self.harvest.url, account_id="100001",
                               access_token="demo-harvest-token", timeout_s=2, max_attempts=2)  # fmt: skip
        return write_back_period(self.entity, period, self.warehouse, HarvestInvoices(client), run_id)

    def posts(self, prefix: str = "/v2/invoices") -> int:
        return sum(1 for x in self.harvest.exchanges if x.method == "POST" and x.path.startswith(prefix))

    def rows(self) -> list[tuple[Any, ...]]:
        return self.warehouse.query(
            "uk", "SELECT document_number, state, pm_amount, reason IS NULL FROM posting.pm_write_back "
            "ORDER BY document_number",
        ).rows()  # fmt: skip


def _company() -> Company:
    """Initech's August in Harvest: 2 h at 200.00 billable (entry 1), 1 h not billable, and July's hour."""
    entries = [
        time_entry(1, 2, 200, client=5101, project=6101, currency="GBP"),
        time_entry(2, 1, 200, client=5101, project=6101, currency="GBP", billable=False),
        time_entry(3, 1, 200, client=5101, project=6101, currency="GBP", day="2026-07-30"),
    ]
    for entry in entries:
        entry.update(is_billed=False, invoice=None, created_at="2026-08-03T10:00:00Z")
        entry["updated_at"] = "2026-08-03T10:00:00Z"
    clients = [{"id": 5101, "name": "Initech Ltd", "currency": "GBP", "is_active": True,
                "created_at": "2025-06-27T09:36:00Z", "updated_at": "2025-06-27T09:36:00Z"}]  # fmt: skip
    projects = [{"id": 6101, "name": "ERP Rollout", "code": "UK-INI-01", "client": {"id": 5101},
                 "created_at": "2025-06-27T09:36:00Z", "updated_at": "2025-06-27T09:36:00Z"}]  # fmt: skip
    return Company(clients=clients, projects=projects, time_entries=entries)


def _booked_invoice(warehouse: Warehouse, xero: XeroSandbox) -> None:
    """The ledger books INVOICE: 2 h x 200.00 = 400.00 + 20% VAT 80.00 = 480.00 (the real posting path)."""
    config = current_config()
    entry = time_entry(1, 2, 200, client=5101, project=6101, task=7001, currency="GBP")
    result = normalize_lines(
        raw_frame([entry], "uk"), raw_frame([], "uk"), directory({6101: True}, {5101: "GBP"}),
        config.entity("uk"), config, RATES, "normalize-run",
    )  # fmt: skip
    with warehouse.transaction("uk") as con:
        append(con, "normalized.billable_lines", result.lines)
    ledger = XeroClient(base_url=xero.url, access_token="demo-xero-token", timeout_s=2)
    with dg.instance_for_test() as instance:
        drafted = dg.materialize(
            [build_invoice_drafts(Partitions.of(config))],
            partition_key=str(month_key("uk", date(2026, 8, 1))), instance=instance,
            resources={"warehouse": warehouse, "fx": EcbRates(), "xero": ledger, "settings": config},
        )  # fmt: skip
    assert drafted.success
    entity = config.entity("uk").model_copy(update={"accounting_tenant_id": xero_tenant()})
    outcome = post_period(entity, PERIOD, warehouse, ledger, "post", sources=DOCUMENT_SOURCES)
    assert outcome.posted_new == [INVOICE]


def _booked(warehouse: Warehouse, number: str, kind: str, doc_type: str, period: str, amount: str) -> None:
    """A confirmed outbox row and its booked line, as the outbox keeps a document the ledger confirmed."""
    with warehouse.transaction("uk") as con:
        con.execute(
            "INSERT INTO posting.outbox SELECT * REPLACE (? AS document_number, ? AS document_kind, "
            "? AS period, ?::DECIMAL(18,4) AS posted_total, ?::DECIMAL(18,4) AS draft_total) "
            "FROM posting.outbox WHERE document_number = ?",
            [number, kind, period, amount, amount, INVOICE],
        )
        purpose = "cash " if kind == "payment" else ""
        lines = "posting.outbox_lines" if kind == "payment" else "posting.posted_lines"
        con.execute(
            f"INSERT INTO {lines} SELECT * REPLACE (? AS document_number, ? AS document_kind, "
            "? AS document_type, ? AS period, ? || original_number AS description, "
            "?::DECIMAL(18,4) AS line_amount, 0::DECIMAL(18,4) AS tax_amount, DATE '2026-09-10' AS document_date) "
            f"FROM {lines} WHERE document_number = ?",
            [number, kind, doc_type, period, purpose, amount, INVOICE],
        )


def xero_tenant() -> str:
    return current_config().entity("uk").accounting_tenant_id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The UK entity's August invoice booked in the accounting sandbox; Harvest holds its time; switch on."""
    warehouse = Warehouse(home=str(tmp_path / "home"))
    entity = current_config().entity("uk").model_copy(update={"pm_write_back": True})
    with (
        XeroSandbox([xero_tenant()], db_path=tmp_path / "xero.sqlite") as xero,
        HarvestSandbox(_company(), rate_limit=None, record=True) as harvest,
    ):
        _booked_invoice(warehouse, xero)
        yield World(entity, warehouse, harvest, xero)


def test_with_the_switch_off_nothing_goes_to_harvests_invoice_endpoints(world: World) -> None:
    world.entity = world.entity.model_copy(update={"pm_write_back": False})
    outcome = world.write_back()
    assert outcome.skipped == "pm_write_back is off for uk" and outcome.requests == 0
    assert [x for x in world.harvest.exchanges if "/invoices" in x.path] == []
    assert world.rows() == []


def test_the_booked_invoice_is_created_once_with_its_time_locked_and_its_payment_once(world: World) -> None:
    first = world.write_back()
    assert first.created == [INVOICE] and world.posts() == 1
    [invoice] = world.harvest.invoices.invoices
    assert (invoice["number"], invoice["client"]["id"], D(str(invoice["amount"]))) == (
        INVOICE,
        5101,
        D("480"),
    )
    assert (invoice["period_start"], invoice["period_end"], invoice["issue_date"]) == (
        "2026-08-01",
        "2026-08-31",
        "2026-08-31",
    )
    entries = {e["id"]: e for e in world.harvest.company.time_entries}
    assert (entries[1]["is_billed"], entries[1]["is_locked"], entries[1]["locked_reason"]) == (
        True,
        True,
        LOCKED,
    )
    assert entries[1]["invoice"] == {"id": invoice["id"], "number": INVOICE}
    assert not entries[2]["is_billed"] and not entries[3]["is_billed"]  # not billable; July
    assert world.rows() == [(INVOICE, "written", D("480"), True)]

    # September: the payment the ledger booked for it, and a credit note Harvest cannot hold.
    _booked(world.warehouse, PAYMENT, "payment", "ACCRECPAYMENT", "2026-09", "480.00")
    _booked(world.warehouse, CREDIT, "credit_note", "ACCRECCREDIT", "2026-09", "120.00")
    september = world.write_back("2026-09")
    assert september.created == [PAYMENT] and september.not_written_back == [CREDIT]
    [payment] = world.harvest.invoices.payments[invoice["id"]]
    assert (D(str(payment["amount"])), payment["paid_date"]) == (D("480"), "2026-09-10")
    assert payment["notes"].startswith(f"{PAYMENT}: cash")
    assert invoice["state"] == "paid" and invoice["due_amount"] == 0
    credit = world.warehouse.query(
        "uk", "SELECT state, reason FROM posting.pm_write_back WHERE document_number = ?", [CREDIT]
    ).row(0)
    assert credit[0] == "not_written_back" and "no credit note" in credit[1]

    posts = world.posts()
    again = [world.write_back(), world.write_back("2026-09")]
    assert world.posts() == posts == 2  # a rerun creates nothing
    assert again[0].already_written == [INVOICE] and again[1].already_written == [PAYMENT]
    assert again[1].not_written_back == [CREDIT]


def test_the_asset_writes_back_in_a_dagster_run_and_reports_its_counts(world: World) -> None:
    config = current_config()
    entities = [world.entity if e.id == "uk" else e for e in config.entities]
    harvest = HarvestClient(
        base_url=world.harvest.url, account_id="100001", access_token="demo-harvest-token"
    )
    resources = {"warehouse": world.warehouse, "harvest": harvest}
    with dg.instance_for_test() as instance:
        for attempt in ("first", "rerun"):
            result = dg.materialize(
                [build_pm_write_back(Partitions.of(config))],
                partition_key=str(month_key("uk", date(2026, 8, 1))), instance=instance,
                resources={**resources, "settings": config.model_copy(update={"entities": entities})},
                tags={"attempt": attempt},
            )  # fmt: skip
            assert result.success
            [materialization] = result.asset_materializations_for_node("posting__pm_write_back")
            counts = {
                k: materialization.metadata[k].value for k in ("created", "already_written", "requests")
            }
            assert counts == ({"created": 1, "already_written": 0, "requests": 2} if attempt == "first"
                              else {"created": 0, "already_written": 1, "requests": 0})  # fmt: skip
            assert materialization.metadata["write_back_status"].value == "written back"
    assert world.posts() == 1


def test_a_lost_answer_is_settled_by_the_look_up_never_by_a_second_create(world: World) -> None:
    world.harvest.inject(Fault("drop_after_commit", method="POST", path="/invoices"))
    lost = world.write_back()
    assert lost.in_doubt == [INVOICE] and lost.created == []
    assert world.rows()[0][:2] == (INVOICE, "sent")
    rerun = world.write_back(run_id="wb-2")
    assert rerun.found_by_lookup == [INVOICE] and rerun.created == []
    # The lost create is never recorded as an exchange (dropped unanswered); the rerun sent none.
    assert world.posts() == 0 and [i["number"] for i in world.harvest.invoices.invoices] == [INVOICE]
    assert world.rows() == [(INVOICE, "written", D("480"), True)]
    # The payment's answer is lost too: one payment in Harvest after the rerun.
    _booked(world.warehouse, PAYMENT, "payment", "ACCRECPAYMENT", "2026-09", "480.00")
    world.harvest.inject(Fault("drop_after_commit", method="POST", path="/invoices/"))
    assert world.write_back("2026-09").in_doubt == [PAYMENT]
    assert world.write_back("2026-09", run_id="wb-3").found_by_lookup == [PAYMENT]
    [invoice] = world.harvest.invoices.invoices
    assert len(world.harvest.invoices.payments[invoice["id"]]) == 1 and world.posts() == 0


def test_a_run_killed_with_the_answer_in_hand_leaves_one_invoice_after_the_rerun(world: World) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, world.harvest.url, world.warehouse.home],
        env={**os.environ, CRASH_ENV: "pm_write_back_created", "PYTHONPATH": str(REPO)},
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert world.rows()[0][:2] == (INVOICE, "sent") and world.posts() == 1
    rerun = world.write_back(run_id="after-the-kill")
    assert rerun.found_by_lookup == [INVOICE] and rerun.created == [] and world.posts() == 1
    assert [i["number"] for i in world.harvest.invoices.invoices] == [INVOICE]
    assert world.rows() == [(INVOICE, "written", D("480"), True)]


def test_a_create_that_never_arrived_is_sent_again_after_the_look_up(world: World) -> None:
    world.harvest.inject(Fault("drop_before", method="POST", path="/invoices"))
    assert world.write_back().in_doubt == [INVOICE] and world.harvest.invoices.invoices == []
    assert world.write_back(run_id="wb-2").created == [INVOICE]
    assert [i["number"] for i in world.harvest.invoices.invoices] == [INVOICE] and world.posts() == 1


def test_a_refusal_and_an_unreadable_look_up_are_recorded_and_nothing_is_sent_blind(world: World) -> None:
    world.harvest.inject(Fault("status", status=422, method="POST", path="/invoices"))
    assert world.write_back().refused == [INVOICE]
    assert world.rows()[0][:2] == (INVOICE, "refused")
    # A look-up page that cannot be read proves nothing: the pass stops before any create.
    world.harvest.variants = (PageFault("invoices", truncated),)
    stopped = world.write_back(run_id="wb-2")
    assert stopped.stopped and "not JSON" in stopped.stopped and stopped.created == []
    assert world.posts() == 1 and world.rows()[0][:2] == (INVOICE, "refused")
    world.harvest.variants = ()
    assert world.write_back(run_id="wb-3").created == [INVOICE] and world.posts() == 2
