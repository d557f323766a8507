"""The posting layer reads its documents through one source interface and imports no producer."""

from __future__ import annotations

import dagster as dg

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.partitions import Partitions
from assets.posting.posted_invoices import PRODUCERS, build_posted_invoices
from resources.configuration import load_config
from tests.architecture.test_import_direction import ROOT, _imports

PRODUCER_FOLDERS = ("assets.billing", "assets.allocation", "assets.intercompany", "assets.outbound_sources")


def test_posting_imports_no_producer() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "assets" / "posting").rglob("*.py"))
        for line, module in _imports(path)
        if module.startswith(PRODUCER_FOLDERS)
    ]
    assert offenders == []


def test_posting_runs_after_every_registered_source() -> None:
    registered = {dg.AssetKey(list(source.produced_by)) for source in DOCUMENT_SOURCES.sources}
    assert registered == set(PRODUCERS)
    posted_invoices = build_posted_invoices(Partitions.of(load_config()))
    assert set(posted_invoices.asset_deps[posted_invoices.key]) == registered
