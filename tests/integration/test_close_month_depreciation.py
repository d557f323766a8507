"""One close per entity-month posts that month's allocation journals only, through the outbox.

September's hardware (7,200.00, config/overheads.csv) is capitalized at September's end and
depreciated straight line over 36 months: 7,200.00 / 36 = 200.00 at each later month's end.
The close of each month posts exactly the journal dated within it; a re-run close posts nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.report import ReportScope, entity_summary
from pipelines.runner import sync_month
from resources.configuration import current_config
from resources.warehouse import Warehouse
from rules.outbox.ledger import parse_ms_date
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration

SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


def _close(instance: dg.DagsterInstance, month: date) -> None:
    for outcome in sync_month(instance, defs, "us", month):
        assert outcome.success, outcome.error


def _journal(document: dict[str, Any]) -> tuple[str, str, list[tuple[str, Decimal]]]:
    """(narration without its number, date, [(account, amount)]) of a posted manual journal."""
    lines = [(line["AccountCode"], Decimal(str(line["LineAmount"]))) for line in document["JournalLines"]]
    return document["Narration"].split(": ", 1)[1], parse_ms_date(document["Date"]).isoformat(), lines


def test_each_close_posts_its_own_months_depreciation_once(sandboxes: Sandboxes) -> None:
    tenant = current_config().entity("us").accounting_tenant_id
    seen: list[dict[str, Any]] = []

    def posted_since() -> list[tuple[str, str, list[tuple[str, Decimal]]]]:
        ledger = sandboxes.xero.documents(tenant, "MANUALJOURNAL")
        new = ledger[len(seen) :]
        seen.extend(new)
        return [_journal(j) for j in new]

    with dg.instance_for_test() as instance:
        _close(instance, SEP)
        assert posted_since() == [
            (
                "Capitalize hardware 2026-09 [CAPEX-us-hardware-2026-09]",
                "2026-09-30",
                [("710", Decimal("7200.00")), ("429", Decimal("-7200.00"))],
            )
        ]
        _close(instance, OCT)
        assert posted_since() == [
            (
                "Depreciation 1/36 of hardware 2026-09 [DEPR-us-hardware-2026-09-001]",
                "2026-10-31",
                [("416", Decimal("200.00")), ("711", Decimal("-200.00"))],
            )
        ]
        _close(instance, OCT)  # a re-run close finds its journal booked
        assert posted_since() == []
        _close(instance, NOV)
        assert posted_since() == [
            (
                "Depreciation 2/36 of hardware 2026-09 [DEPR-us-hardware-2026-09-002]",
                "2026-11-30",
                [("416", Decimal("200.00")), ("711", Decimal("-200.00"))],
            )
        ]
    # The allocation ran inside each close (one allocation run per month, none repeated by the re-run).
    runs = Warehouse().query(
        "us", "SELECT period, count(*) AS n FROM allocation.runs GROUP BY ALL ORDER BY 1"
    )
    assert runs.rows() == [("2026-09", 1), ("2026-10", 1), ("2026-11", 1)]
    # The summary `billbridge report` and the demo print counts the journals beside the invoices.
    october = entity_summary(Warehouse(read_only=True), "us", ReportScope(["us"], "2026-10"))
    journals = [d for d in october["documents"] if d["kind"] == "journals"]
    assert journals == [
        {"kind": "journals", "currency": "USD", "drafted": 1, "posted": 1,
         "net": "200.0000", "tax": "0.0000", "gross": "200.0000"}
    ]  # fmt: skip
