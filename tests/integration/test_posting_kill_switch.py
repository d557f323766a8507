"""The kill switch skips posting visibly in Dagster while drafts stay; export-drafts hands them to a human."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.partitions import Partitions, month_key
from assets.posting.posted_invoices import POSTED_INVOICES, build_posted_invoices
from bench.posting import write_synthetic_drafts
from pipelines.cli import main
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from sandbox.xero import XeroSandbox

pytestmark = pytest.mark.integration


def _materialize(instance: dg.DagsterInstance, sandbox: XeroSandbox) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_posted_invoices(Partitions.of(current_config()))],
        partition_key=str(month_key("us", date(2026, 8, 1))),
        resources={
            "warehouse": Warehouse(),
            "xero": XeroClient(base_url=sandbox.url, access_token="demo-xero-token"),
            "settings": current_config(),
            "document_sources": DOCUMENT_SOURCES,
        },
        instance=instance,
    )


def test_kill_switch_skips_posting_visibly_and_keeps_drafts(
    sandboxes: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    entity = current_config().entity("us")
    sandbox: XeroSandbox = sandboxes.xero  # type: ignore[attr-defined]
    write_synthetic_drafts(Warehouse(), entity, "2026-08", 3)
    monkeypatch.setenv("BILLBRIDGE_POSTING_DISABLED", "uk,us")
    with dg.instance_for_test() as instance:
        skipped = _materialize(instance, sandbox)
        assert skipped.success
        metadata = instance.get_latest_materialization_event(POSTED_INVOICES).asset_materialization.metadata  # type: ignore[union-attr]
        assert "skipped: kill switch" in metadata["posting_status"].value
        assert sandbox.documents(entity.accounting_tenant_id) == []
        assert Warehouse().query("us", "SELECT count(*) AS n FROM billing.invoice_drafts")["n"][0] == 3

        monkeypatch.delenv("BILLBRIDGE_POSTING_DISABLED")
        posted = _materialize(instance, sandbox)
        assert posted.success
        metadata = instance.get_latest_materialization_event(POSTED_INVOICES).asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["posting_status"].value == "posted"
    assert len(sandbox.documents(entity.accounting_tenant_id)) == 3


def test_export_drafts_writes_exact_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_synthetic_drafts(Warehouse(), current_config().entity("us"), "2026-08", 2)
    out = tmp_path / "drafts.csv"
    assert main(["export-drafts", "--entity", "us", "--period", "2026-08", "--out", str(out)]) == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    # invoice 0 bills 1 hour, invoice 1 bills 2 hours, at 150.00
    assert [(r["invoice_number"], Decimal(r["line_amount"])) for r in rows] == [
        ("BB-US-202608-5001-USD", Decimal("150.00")),
        ("BB-US-202608-5002-USD", Decimal("300.00")),
    ]
    assert main(["export-drafts", "--entity", "us", "--period", "2026-09", "--out", str(out)]) == 1
    assert "no drafts" in capsys.readouterr().err
