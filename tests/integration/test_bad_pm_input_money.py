"""Bad PM input through the whole month (extract, bill, post) against both sandboxes: no money is
posted from a list that ended early, and a rejected record is visible while the rest is invoiced."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.report import summary
from pipelines.runner import sync_month
from resources.configuration import current_config
from resources.warehouse import Warehouse
from sandbox.company import Company
from sandbox.harvest.variants import PageFault, RecordFault, SmallPages, set_envelope
from tests.conftest import Sandboxes
from tests.integration.test_end_to_end import expected_invoices

pytestmark = pytest.mark.integration
AUGUST = date(2026, 8, 1)
ENTRY = 1000000001  # a billable, approved us entry of 2026-08-03 at 2.5 h


def _posted_us(sandboxes: Sandboxes) -> dict[str, Decimal]:
    tenant = current_config().entity("us").accounting_tenant_id
    return {d["InvoiceNumber"]: Decimal(str(d["Total"])) for d in sandboxes.xero.documents(tenant, "ACCREC")}


def _expected_us_august(company: Company) -> dict[str, Decimal]:
    totals = expected_invoices(SimpleNamespace(company=company))  # type: ignore[arg-type]
    return {number: total for number, total in totals.items() if number.startswith("BB-US-202608-")}


def test_a_list_ending_before_its_announced_pages_posts_nothing_and_says_why(sandboxes: Sandboxes) -> None:
    # Found on main: links.next null on page 1 of 6 ended the extraction quietly and the month was
    # invoiced from the first 100 entries only.
    sandboxes.harvest.variants = (
        SmallPages(100),
        PageFault("time_entries", set_envelope("links.next", None), page=1),
    )
    with dg.instance_for_test() as instance:
        outcomes = sync_month(instance, defs, "us", AUGUST)
    assert [o.success for o in outcomes] == [False]  # billing never runs on a failed extraction
    assert "announces 6 pages but links.next is null" in outcomes[0].error
    assert "\n" not in outcomes[0].error
    assert _posted_us(sandboxes) == {}


def test_a_record_with_a_bad_spent_date_is_rejected_visibly_and_the_rest_is_invoiced(
    sandboxes: Sandboxes,
) -> None:
    # Found on main: the entry vanished (neither in raw nor in quarantine) and the month was posted
    # short with no warning.
    sandboxes.harvest.variants = (
        SmallPages(100),
        RecordFault("time_entries", ENTRY, "spent_date", "2026-08-32"),
    )
    with dg.instance_for_test() as instance:
        outcomes = sync_month(instance, defs, "us", AUGUST)
    assert all(o.success for o in outcomes), [o.error for o in outcomes]
    without = Company(
        **{
            **vars(sandboxes.company),
            "time_entries": [e for e in sandboxes.company.time_entries if e["id"] != ENTRY],
        }
    )
    assert _posted_us(sandboxes) == _expected_us_august(without)
    rejected = (
        Warehouse().query("us", "SELECT record_ref, field, value, reason FROM raw.rejected_records").rows()
    )
    assert rejected == [(f"id={ENTRY}", "spent_date", '"2026-08-32"', "invalid_date")]
    [row] = [r for r in summary(current_config(), Warehouse()) if r["entity"] == "us"]
    assert row["checks_failed"] == 1  # raw/time_entries records_screened, for `billbridge report`
