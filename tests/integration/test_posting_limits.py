"""The daily limit stops posting for the day; one tenant's outage opens its circuit and spares the others."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from bench.posting import write_synthetic_drafts
from resources.configuration import current_config
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.settings import EntityConfig
from sandbox.xero import Fault, XeroSandbox

pytestmark = pytest.mark.integration


def _entity(tenant: str) -> EntityConfig:
    return current_config().entity("us").model_copy(update={"accounting_tenant_id": tenant})


def test_daily_limit_is_a_stop_for_the_day_not_a_retry_storm(tmp_path: Path) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    entity, warehouse = _entity(tenant), Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, entity, "2026-08", 5)
    with XeroSandbox([tenant], day_limit=4) as sandbox:
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
        first = post_period(entity, "2026-08", warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        calls_after_first = sandbox.request_count(tenant)
        second = post_period(entity, "2026-08", warehouse, xero, "r2", sources=DOCUMENT_SOURCES)
        assert sandbox.request_count(tenant) == calls_after_first  # nothing sent into a spent day
        # X-DayLimit-Remaining reached 0 on the fourth answer: stopped there, before any 429.
        assert calls_after_first == 4 and sandbox.rate_limited_count == 0
    assert first.stopped is not None and "daily" in first.stopped
    assert second.stopped is not None and first.posted_new == second.posted_new == []
    pending = warehouse.query("us", "SELECT count(*) AS n FROM posting.outbox WHERE status = 'pending'")
    assert pending["n"][0] == 5  # kept for tomorrow, not dead-lettered


def test_one_tenants_outage_opens_its_circuit_without_stalling_another(tmp_path: Path) -> None:
    sick, healthy = f"t-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex[:12]}"
    warehouse = Warehouse(home=str(tmp_path))
    write_synthetic_drafts(warehouse, _entity(sick), "2026-08", 3)
    with XeroSandbox([sick, healthy]) as sandbox:
        sandbox.inject(*[Fault("status", status=503, tenant=sick) for _ in range(20)])
        xero = XeroClient(
            base_url=sandbox.url, access_token="demo-xero-token", breaker_failures=3, breaker_reset_s=60.0
        )
        outage = post_period(_entity(sick), "2026-08", warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        calls_to_sick = sandbox.request_count(sick)
        assert (
            post_period(_entity(sick), "2026-08", warehouse, xero, "r2", sources=DOCUMENT_SOURCES).stopped
            is not None
        )
        assert sandbox.request_count(sick) == calls_to_sick  # open: failing fast, no calls
        assert xero.breaker(sick).state == "open" and xero.breaker(healthy).state == "closed"

        other = Warehouse(home=str(tmp_path / "other"))
        write_synthetic_drafts(other, _entity(healthy), "2026-08", 3)
        fine = post_period(_entity(healthy), "2026-08", other, xero, "r3", sources=DOCUMENT_SOURCES)
        assert len(sandbox.documents(healthy)) == 3 and sandbox.documents(sick) == []
    assert outage.stopped is not None and "circuit" in outage.stopped
    assert calls_to_sick == 3  # three failures opened the circuit
    assert len(fine.posted_new) == 3
